"""The codec-matrix peers on their own, without the gateway: when these pass and a test_codec_* test fails,
the fault is not in the toolchain. sipp (uac_speex.xml) calls the far-end scenarios uas_g722.xml,
uas_opus.xml and uas_pcma.xml, which must answer with their codec and play their tone pcap; tshark,
rtp2wav.py and tonecheck.py judge the audio. ffmpeg encodes and decodes every RTMP codec the matrix
publishes, in FLV: the SNRs are the clean-chain references for the thresholds."""
import re

import pytest

from helpers import codecs, media
from helpers.capture import Capture
from helpers.sipp import Sipp

MIN_SNR_SIPP_DB = 30          # sipp -> sipp measures ~38 dB for all three (the pcap's tone, decoded by ffmpeg)
MIN_SNR_FLV_DB = {"nelly8k": 38, "nelly16k": 45, "nelly44k": 30, "pcma": 40, "pcmu": 45}   # ~42/51/34/46/50
FAR_ENDS = (codecs.G722, codecs.OPUS, codecs.PCMA)


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


@pytest.mark.parametrize("sip", FAR_ENDS, ids=[s.name for s in FAR_ENDS])
def test_sipp_far_end_scenario(procs, out_dir, ports, cassets, measure, sip):
    pcap = cassets.far_end_pcap(sip)
    uas = Sipp(procs, out_dir, ports, sip.scenario, pcap=pcap, name="uas")
    cap = Capture(procs, out_dir, uas.media_port, name="at_uas").start()
    uas.start()
    # the UAC offers PCMU first, so the UAS must pick its own codec; 111 is opus in uac_speex.xml
    uac = Sipp(procs, out_dir, ports, "uac_speex.xml", pcap=pcap, name="uac",
               keys={"fromuser": "alice", "pts": f"0 {sip.pt}"}, extra=["-s", "bob", "-d", "4200"])
    uac.start(remote=f"127.0.0.1:{uas.sip_port}")
    assert uac.wait_exit(30) == 0, uac.report()
    assert uas.wait_exit(10) == 0, uas.report()
    answer = uac.messages().split("SIP/2.0 200 OK", 1)[-1]
    assert re.search(rf"^\s*m=audio \d+ RTP/AVP {sip.pt}\s*$", answer, re.M), f"answer is not {sip.name} only: {answer}"
    if sip is codecs.OPUS:
        assert re.search(r"opus PT in offer: 111\b", uas.logs()), uas.logs()
    rep = media.rtp_to_wav(cap.stop(), out_dir / "rx.wav", sip.tool_codec, dport=uas.media_port, pt=sip.pt)
    assert "lost=0" in rep and f"pts=[{sip.pt}]" in rep, rep
    t = media.assert_tone(out_dir / "rx.wav", MIN_SNR_SIPP_DB, f"sipp -> sipp {sip.name}")
    measure(f"SNR sipp->sipp {sip.name} (dB)", t["snr"])


@pytest.mark.parametrize("rtmp", codecs.RTMP_CODECS, ids=[r.name for r in codecs.RTMP_CODECS])
def test_ffmpeg_flv_codec(out_dir, cassets, measure, rtmp):
    flv = codecs.make_flv(cassets.tone_wav, out_dir / f"{rtmp.name}.flv", rtmp)
    tags = media.flv_audio_tags(flv)
    hdr = {(b[0] >> 4, (b[0] >> 2) & 3, b[0] & 1) for _, b in tags}
    assert hdr == {(rtmp.flv_format, rtmp.rate_bits, 0)}, f"{flv}: (format, rate bits, stereo) {hdr}"
    wav = codecs.decode_flv(tags, out_dir / "copy.flv", out_dir / "dec.wav")
    t = media.assert_tone(wav, MIN_SNR_FLV_DB[rtmp.name], f"ffmpeg {rtmp.name} FLV")
    assert f"sr={rtmp.rate} " in t["text"], t["text"]
    measure(f"SNR ffmpeg {rtmp.name} FLV encode/decode (dB)", t["snr"])
