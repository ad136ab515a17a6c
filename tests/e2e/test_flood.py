"""The per-call work budget: a client that floods its call with audio (4 KiB Nellymoser 44.1 kHz
messages, ~371 ms of audio each, at line rate) gets its media work held to about twice real time (the
excess is dropped before decoding and counted), and another call's audio is not affected.

A: an echo call with a real-time Speex tone (ffmpeg), played back by librtmp and checked for SNR and
continuity. B: an echo call whose publish stream is flooded by `rtmp_flood.py` meanwhile. B's media
must report `budget_dropped` > 0 when it ends."""
import re
import time

from helpers import media, paths
from helpers.calls import dial_connected, hangup_ended
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl

ECHO = "sip:echo@127.0.0.1"
TONE_S = 6
MIN_SNR_DB = 25


def test_flood_is_budgeted_and_other_calls_keep_their_audio(gateway_factory, procs, out_dir):
    gw = gateway_factory({}, name="gw_flood")
    log_at = gw.log_size()
    with RtmpControl(gw.url()) as a, RtmpControl(gw.url()) as b:
        sa = dial_connected(a, ECHO)
        sb = dial_connected(b, ECHO)
        played = out_dir / "flood_a_played.flv"
        player = media.librtmp_play(procs, gw.url(sa["play"]), played, TONE_S + 2.5)
        time.sleep(0.5)
        flood = procs.start("rtmp_flood", [paths.PYTHON, paths.tool("rtmp_flood.py"),
                                           gw.url(sb["publish"]), str(TONE_S + 1)])
        publisher = media.ffmpeg_publish_tone(procs, gw.url(sa["publish"]), TONE_S)
        media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex (call A)")
        media.wait_ok(player, 20, "librtmp playing A's echo")
        media.wait_ok(flood, 20, "the Nellymoser flood (call B)")
        print(flood.tail(3))
        assert NOT_CONNECTED not in a.status_codes(), f"A's call must go on: {a.dump()}"
        hangup_ended(a)
        hangup_ended(b)

    wav = media.flv_to_wav(played, out_dir / "flood_a_played.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "call A's echo while call B floods")
    active = t["windows"] - t["dropouts"]
    assert active * 0.02 >= TONE_S * 0.8, f"call A carried only {active * 0.02:.1f} s: {t['text']}"

    deadline = time.monotonic() + 5
    while True:
        dropped = [int(n) for n in re.findall(r"budget_dropped=(\d+)", gw.log_since(log_at, 100000))]
        if len(dropped) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(dropped) == 2, f"expected both calls' media to end with budget_dropped: {dropped}"
    assert max(dropped) > 0, f"the flooded call dropped nothing over its budget: {dropped}"
    assert min(dropped) == 0, f"the real-time call lost audio to the budget: {dropped}"
    assert gw.alive()
