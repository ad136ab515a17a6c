"""A Speex tone published over some RTMP transport (rtmps://, rtmpt://) into a call to a PCMU-only sipp UAS:
the control connection is plain RTMP (python3-librtmp), ffmpeg publishes over the transport under test, and
tshark records what reaches sipp (the issue 8 check that these transports carry a call, not just an echo)."""
from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.rtmp_control import RtmpControl
from helpers.sipp import Sipp


def tone_reaches_sipp(gw, publish_url, procs, out_dir, ports, assets, name: str, tone_s: int = 4,
                      min_snr_db: float = 25.0) -> dict:
    """Dials sipp (uas_pcmu.xml) from a plain RTMP control connection to `gw`, publishes a `tone_s` s Speex
    tone to `publish_url(publish name)` with ffmpeg, hangs up; asserts sipp got its BYE and that the PCMU
    it received carries the tone with SNR >= `min_snr_db`. Returns media.assert_tone's report."""
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name=f"sipp_{name}")
    cap = Capture(procs, out_dir, sipp.media_port, name=f"{name}_at_sipp").start()
    sipp.start()
    ctl = RtmpControl(gw.url())
    try:
        s4 = dial_connected(ctl, sipp.uri("bob"))
        pub = media.ffmpeg_publish_tone(procs, publish_url(s4["publish"]), tone_s)
        media.wait_ok(pub, tone_s + 20, f"ffmpeg publishing Speex over {name}")
        hangup_ended(ctl)
    finally:
        ctl.close()
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp's call did not complete (it must receive BYE and answer 200):\n" + sipp.report()
    pcap = cap.stop()
    rx = out_dir / f"{name}_at_sipp.wav"
    media.rtp_to_wav(pcap, rx, "pcmu", dport=sipp.media_port, pt=0)
    return media.assert_tone(rx, min_snr_db, f"tone at sipp (PCMU), published over {name}")
