"""The test peers on their own, without the gateway: when these pass and a gateway test fails, the
fault is not in the toolchain. sipp calls sipp; tshark, rtp2wav and tonecheck judge the audio;
ffmpeg makes and decodes Speex FLV; python3-librtmp talks to ffmpeg's RTMP server."""
import re
import signal

from helpers import media
from helpers.capture import Capture
from helpers.ports import tcp_accepting, wait_until
from helpers.rtmp_control import RtmpControl
from helpers.sipp import Sipp


def call_sipp_to_sipp(procs, out_dir, ports, uas_scenario, uas_pcap, pts, uac_pcap):
    uas = Sipp(procs, out_dir, ports, uas_scenario, pcap=uas_pcap, name="uas")
    cap = Capture(procs, out_dir, uas.media_port, name="at_uas").start()
    uas.start()
    uac = Sipp(procs, out_dir, ports, "uac_speex.xml", pcap=uac_pcap, name="uac",
               keys={"fromuser": "alice", "pts": pts}, extra=["-s", "bob", "-d", "7000"])
    uac.start(remote=f"127.0.0.1:{uas.sip_port}")
    assert uac.wait_exit(30) == 0, uac.report()
    assert uas.wait_exit(10) == 0, uas.report()
    return uas, cap.stop()


def test_sipp_pcmu_tone_roundtrip(procs, out_dir, ports, assets, measure):
    uas, pcap = call_sipp_to_sipp(procs, out_dir, ports, "uas_pcmu.xml", assets.pcmu_pcap, "0", assets.pcmu_pcap)
    rep = media.rtp_to_wav(pcap, out_dir / "rx.wav", "pcmu", dport=uas.media_port, pt=0)
    assert "lost=0" in rep, rep
    t = media.assert_tone(out_dir / "rx.wav", 30, "sipp -> sipp PCMU")
    measure("SNR sipp->sipp PCMU (dB)", t["snr"])


def test_sipp_speex_payloads_identical(procs, out_dir, ports, assets):
    uas, pcap = call_sipp_to_sipp(procs, out_dir, ports, "uas_speex.xml", assets.pcmu_pcap, "97 0 101",
                                  assets.speex_pcap)
    assert re.search(r"speex PT in offer: 97\b", uas.logs()), uas.logs()
    sent = [r["payload"] for r in media.pcap_file_rtp(assets.speex_pcap)]
    got = [r["payload"] for r in media.rtp_to(pcap, uas.media_port) if r["pt"] == 97]
    assert got == sent, f"{len(got)} received vs {len(sent)} sent"
    media.rtp_to_wav(pcap, out_dir / "rx.wav", "speex16", dport=uas.media_port, pt=97)
    media.assert_tone(out_dir / "rx.wav", 30, "sipp -> sipp speex16")


def test_sipp_reject_scenario(procs, out_dir, ports):
    codes = {"@CODE@": 486, "@REASON@": "Busy Here"}
    uas = Sipp(procs, out_dir, ports, "uas_reject.xml", subst=codes, name="uas").start()
    uac = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", subst=codes, name="uac", extra=["-s", "bob"])
    uac.start(remote=f"127.0.0.1:{uas.sip_port}")
    assert uac.wait_exit(15) == 0, uac.report()
    assert uas.wait_exit(10) == 0, uas.report()
    assert "SIP/2.0 486 Busy Here" in uac.messages()


def test_speex_flv_encode_decode(out_dir, assets, measure):
    tags = media.flv_audio_tags(assets.publish_flv)
    assert len(tags) == 250 and {b[0] for _, b in tags} == {0xB6}, (len(tags), {b[0] for _, b in tags})
    wav = media.flv_to_wav(assets.publish_flv, out_dir / "dec.wav")
    t = media.assert_tone(wav, 30, "ffmpeg Speex FLV")
    measure("SNR ffmpeg speex encode/decode (dB)", t["snr"])


def test_librtmp_against_ffmpeg_rtmp_server(procs, out_dir, ports, assets):
    port = ports.port()
    rec = out_dir / "server_rec.flv"
    url = f"rtmp://127.0.0.1:{port}/phone/selfcheck"
    srv = procs.start("ffmpeg_server", ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-listen", "1", "-i", url,
                                        "-c", "copy", rec])
    assert wait_until(lambda: tcp_port_listening(port), 10), srv.tail(20)
    pub = media.librtmp_publish(procs, url, assets.publish_flv)
    media.wait_ok(pub, 20, "librtmp publish to ffmpeg")
    if srv.wait(10) is None:          # ffmpeg's server ends when the publisher leaves
        srv.stop(signal.SIGINT)
    got = media.flv_speex_payloads(rec)
    sent = media.flv_speex_payloads(assets.publish_flv)
    assert got == sent, f"ffmpeg recorded {len(got)} frames, {len(sent)} sent"

    # The control client completes a real handshake and connect with a third-party server.
    port2 = ports.port()
    srv2 = procs.start("ffmpeg_server2", ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-listen", "1", "-i",
                                          f"rtmp://127.0.0.1:{port2}/phone/x", "-f", "null", "-"])
    assert wait_until(lambda: tcp_port_listening(port2), 10), srv2.tail(20)
    ctl = RtmpControl(f"rtmp://127.0.0.1:{port2}/phone")
    ctl.close()
    srv2.stop()


def tcp_port_listening(port: int) -> bool:
    with open("/proc/net/tcp") as f:
        return any(line.split()[1].upper().endswith(f":{port:04X}") and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


def test_players_against_ffmpeg_rtmp_server(procs, out_dir, ports, assets):
    sent = media.flv_speex_payloads(assets.publish_flv)
    for name, play in (("librtmp", media.librtmp_play), ("ffmpeg", media.ffmpeg_play)):
        port = ports.port()
        url = f"rtmp://127.0.0.1:{port}/phone/x"
        srv = procs.start(f"ffmpeg_server_{name}", ["ffmpeg", "-nostdin", "-hide_banner", "-re", "-i",
                                                    assets.publish_flv, "-c", "copy", "-f", "flv", "-listen", "1", url])
        assert wait_until(lambda: tcp_port_listening(port), 10), srv.tail(20)
        out = out_dir / f"{name}.flv"
        media.wait_ok(play(procs, url, out, 7, name=f"{name}_play"), 20, f"{name} playing from ffmpeg")
        srv.stop()
        got = media.flv_speex_payloads(out)
        assert got == sent, f"{name} saved {len(got)} frames, {len(sent)} sent"
