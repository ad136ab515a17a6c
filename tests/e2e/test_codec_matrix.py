"""The codec matrix through the gateway (default config): every RTMP codec a client may publish besides
Speex (Nellymoser at 8, 16 and 44.1 kHz, G.711 A-law and µ-law) toward a far end that answers only PCMU,
only G.722 or only Opus (5 x 3 calls), and the far end's audio back to the RTMP client, which gets
Speex wideband by default whatever the far end speaks.

RTMP control: python3-librtmp. RTMP media: ffmpeg publishes a 1 kHz tone (-c:a nellymoser / pcm_alaw /
pcm_mulaw), python3-librtmp plays. SIP far end: sipp (uas_pcmu.xml, uas_g722.xml, uas_opus.xml) playing a
1 kHz tone in its codec; tshark records what sipp receives and rtp2wav.py decodes it with ffmpeg."""
import re
import time

import pytest

from helpers import codecs, media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.sipp import Sipp

TONE_S = 3
# Minimum SNR (dB) of the tone at sipp, per (RTMP codec, SIP codec). The same chains without the gateway
# (ffmpeg encodes, ffmpeg decodes, ffmpeg re-encodes for the far end) measure, toward PCMU / G722 / opus:
# nelly8k 35 / 40 / 40, nelly16k 37 / 45 / 43, nelly44k 32 / 33 / 33, A-law 50 / 43 / 45, µ-law 50 / 45 / 48.
# Through the gateway (debug build) they measured 35.2 / 40.5 / 39.0, 37.0 / 44.9 / 40.5, 32.7 / 33.3 / 32.9,
# 49.6 / 42.9 / 39.3 and 50.4 / 45.3 / 39.6 (µ-law to PCMU is passthrough). Thresholds: about 8-10 dB below.
MIN_SNR_TO_SIP_DB = {
    ("nelly8k", "PCMU"): 27, ("nelly8k", "G722"): 30, ("nelly8k", "opus"): 30,
    ("nelly16k", "PCMU"): 28, ("nelly16k", "G722"): 35, ("nelly16k", "opus"): 30,
    ("nelly44k", "PCMU"): 25, ("nelly44k", "G722"): 25, ("nelly44k", "opus"): 25,
    ("pcma", "PCMU"): 40, ("pcma", "G722"): 33, ("pcma", "opus"): 30,
    ("pcmu", "PCMU"): 40, ("pcmu", "G722"): 35, ("pcmu", "opus"): 30,
}
# Far end -> RTMP Speex WB (libspeex decodes the FLV): the clean chain PCMU -> Speex measures ~38 dB; through
# the gateway PCMU / G722 / opus measured 35.8-36.8 / 35.5-36.0 / 37.1-38.0.
MIN_SNR_TO_RTMP_DB = {"PCMU": 28, "G722": 28, "opus": 28}
MIN_TONE_FRACTION = 0.8   # of the tone's length that must arrive as audio (20 ms windows), not gaps

PAIRS = [(r, s) for s in codecs.SIP_CODECS for r in codecs.RTMP_CODECS]


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


def start_far_end(procs, out_dir, ports, cassets, sip: codecs.SipCodec):
    """sipp answering only `sip` and playing 1 s silence + 3 s tone in it, with tshark on its RTP port."""
    sipp = Sipp(procs, out_dir, ports, sip.scenario, pcap=cassets.far_end_pcap(sip), name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    return sipp, cap


def check_answer(sipp: Sipp, sip: codecs.SipCodec):
    """Opus has a dynamic PT: the far-end pcap carries 111, so the gateway's offer must use 111 for it."""
    if sip is codecs.OPUS:
        m = re.search(r"opus PT in offer: (\d+)", sipp.logs())
        assert m and int(m[1]) == sip.pt, (f"the gateway's offer should carry opus/48000/2 as PT {sip.pt} (the "
                                           f"far-end pcap uses it); sipp logged: {sipp.logs()[-500:]}")


def sipp_done(sipp: Sipp):
    """After the hangup (checked last: sipp's 500 ms timewait overlaps the analysis)."""
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp's call did not complete (it must receive BYE and answer 200):\n" + sipp.report()


def assert_long_tone(t: dict, seconds: float, what: str):
    active = (t["windows"] - t["dropouts"]) * 0.02
    assert active >= seconds * MIN_TONE_FRACTION, f"{what}: only {active:.1f} s of audio, not gaps: {t['text']}"


def received_tone(pcap, sipp: Sipp, sip: codecs.SipCodec, wav, min_snr: float, what: str) -> dict:
    """Decode what sipp received with rtp2wav.py (which also lists the payload types that arrived: only
    `sip`'s may) and check the tone."""
    rep = media.rtp_to_wav(pcap, wav, sip.tool_codec, dport=sipp.media_port)
    print(f"RTP at sipp: {rep}")
    m = re.search(r"lost=(-?\d+) pts=\[([0-9, ]*)\]", rep)
    assert m, f"{what}: unexpected rtp2wav.py report: {rep}"
    pts = [int(x) for x in m[2].split(",") if x.strip()]
    assert pts == [sip.pt], f"{what}: RTP payload types at sipp {pts}, expected only {sip.pt} ({sip.name})"
    assert m[1] == "0", f"{what}: RTP lost on loopback: {rep}"
    return media.assert_tone(wav, min_snr, what)


@pytest.mark.parametrize("rtmp,sip", PAIRS, ids=[f"{r.name}-{s.name}" for r, s in PAIRS])
def test_rtmp_to_sip(gateway, rtmp_client, procs, out_dir, ports, cassets, measure, rtmp, sip):
    """ffmpeg publishes a 3 s tone in `rtmp`; it must reach sipp in `sip` as a clean 1 kHz tone."""
    sipp, cap = start_far_end(procs, out_dir, ports, cassets, sip)
    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))
    check_answer(sipp, sip)

    cpu0 = codecs.cpu_seconds(gateway.proc.pid)
    pub = codecs.ffmpeg_publish(procs, gateway.url(s4["publish"]), rtmp, TONE_S)
    media.wait_ok(pub, TONE_S + 15, f"ffmpeg publishing {rtmp.name} to the gateway")
    time.sleep(0.3)      # the last packets leave the gateway's pipeline
    cpu = codecs.cpu_seconds(gateway.proc.pid) - cpu0
    measure(f"gateway CPU during the {rtmp.name} -> {sip.name} call (s)", round(cpu, 2))
    hangup_ended(ctl)

    what = f"tone at sipp ({rtmp.name} -> {sip.name})"
    t = received_tone(cap.stop(), sipp, sip, out_dir / "at_sipp.wav", MIN_SNR_TO_SIP_DB[(rtmp.name, sip.name)], what)
    assert_long_tone(t, TONE_S, what)
    measure(f"SNR RTMP {rtmp.name} -> SIP {sip.name} (dB)", t["snr"])
    sipp_done(sipp)


@pytest.mark.parametrize("sip", codecs.SIP_CODECS, ids=[s.name for s in codecs.SIP_CODECS])
def test_sip_to_rtmp_speex(gateway, rtmp_client, procs, out_dir, ports, cassets, measure, sip):
    """sipp plays 1 s silence + 3 s tone in `sip`; the RTMP player (default rtmp_out_codec = "speex") gets
    Speex wideband (header byte 0xB2) carrying a clean tone."""
    sipp = Sipp(procs, out_dir, ports, sip.scenario, pcap=cassets.far_end_pcap(sip), name="sipp_uas").start()
    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))
    check_answer(sipp, sip)

    played = out_dir / "played.flv"
    # sipp sends 4 s from the ACK on; the player joins during the silence and stops before the stream ends
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, 3.8)
    media.wait_ok(player, 15, "librtmp playing the far end")
    hangup_ended(ctl)

    media.flv_speex_payloads(played, expect_header=0xB2)
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    what = f"tone at the RTMP player ({sip.name} -> Speex)"
    t = media.assert_tone(wav, MIN_SNR_TO_RTMP_DB[sip.name], what)
    assert_long_tone(t, TONE_S - 0.6, what)
    measure(f"SNR SIP {sip.name} -> RTMP Speex (dB)", t["snr"])
    sipp_done(sipp)
