"""A call to a PCMU-only SIP phone (sipp), audio both ways through the transcoder, hangup with BYE.

RTMP control: python3-librtmp. RTMP media: ffmpeg publishes Speex wideband, ffmpeg plays.
SIP far end: sipp answering PCMU only and playing a 1 kHz tone; tshark records what sipp receives."""
import signal
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.sipp import Sipp

TONE_S = 5
MIN_SNR_TO_SIP_DB = 25    # Speex WB -> PCMU through the gateway; clean chain measures ~38 dB
MIN_SNR_TO_RTMP_DB = 30   # PCMU -> Speex WB (issue asks >= 20); the gateway measures ~39 dB


def test_call_pcmu(gateway, rtmp_client, procs, out_dir, assets, ports, measure):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()

    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))

    played = out_dir / "played.flv"
    # sipp sends 6 s (1 s silence + 5 s tone) from the ACK on; the player joins a little later
    player = media.ffmpeg_play(procs, gateway.url(s4["play"]), played, TONE_S)
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    time.sleep(1.0)
    if player.wait(8) is None:          # -t ends it by media time; stop it if media time stalled
        player.stop(signal.SIGINT, grace=6)
    assert played.exists(), f"ffmpeg player wrote nothing: {player.tail(30)}"

    s0 = hangup_ended(ctl)
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp's call did not complete (it must receive BYE and answer 200):\n" + sipp.report()
    assert "BYE sip:" in sipp.messages(), "sipp never received a BYE:\n" + sipp.report()
    print("ended:", s0)

    pcap = cap.stop()
    rx = out_dir / "at_sipp.wav"
    rep = media.rtp_to_wav(pcap, rx, "pcmu", dport=sipp.media_port, pt=0)
    print("RTP at sipp:", rep)
    t = media.assert_tone(rx, MIN_SNR_TO_SIP_DB, "tone at sipp (PCMU)")
    measure("SNR RTMP->SIP PCMU (dB)", t["snr"])

    tags = media.flv_audio_tags(played)
    assert tags, f"no audio reached the RTMP player: {player.tail(30)}"
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_TO_RTMP_DB, "tone at the RTMP player (Speex)")
    measure("SNR SIP PCMU->RTMP Speex (dB)", t["snr"])

