"""The built-in echo destination: dialling sip:echo@... connects inside the gateway and plays the
caller's audio back through the media bridge (Speex decoded and encoded again on the way).

RTMP control: python3-librtmp. Media: python3-librtmp plays, ffmpeg publishes a 1 kHz Speex tone."""
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended

TONE_S = 5
# Speex WB decode + encode (q8) of a 1 kHz tone: a clean chain measures ~36 dB (~35 dB through
# PCMU). 20 dB still fails on gaps, wrong rate, or noise, and leaves room for jitter buffer timing.
MIN_SNR_DB = 28  # two transcodes; the gateway measures ~36 dB


def test_echo(gateway, rtmp_client, procs, out_dir, measure):
    ctl = rtmp_client()
    s4 = dial_connected(ctl, "sip:echo@127.0.0.1")

    played = out_dir / "echo_played.flv"
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, TONE_S + 2.5)
    time.sleep(0.5)    # the player joins before any audio flows: the Speex decoder starts in step
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    media.wait_ok(player, 20, "librtmp playing the echo")

    s0 = hangup_ended(ctl)
    print("ended:", s0)

    media.flv_speex_payloads(played, expect_header=0xB2)
    wav = media.flv_to_wav(played, out_dir / "echo_played.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "echoed tone at the RTMP player")
    measure("SNR echo Speex->Speex (dB)", t["snr"])
    # the echo must carry most of the 5 s tone, not a fragment
    active = t["windows"] - t["dropouts"]
    assert active * 0.02 >= TONE_S * 0.8, f"echo carried only {active * 0.02:.1f} s of audio: {t['text']}"
