"""A player of a call's `play` name is told when the call ends: the gateway sends
`NetStream.Play.UnpublishNotify`, `NetStream.Play.Stop` and a User Control StreamEOF on the
player's stream, so ffmpeg playing the name exits by itself instead of waiting forever.

RTMP control: python3-librtmp. Player: ffmpeg (`-i rtmp://.../phone/<play> -c copy` to an FLV).
Publisher: ffmpeg (a Speex tone into the call's `publish` name, so the echo sends audio and the
player's stream probe completes)."""
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended

# ffmpeg must be gone this long after the hang-up (the old gateway never tells it: it waits until
# `[limits] idle_timeout_s` closes the connection, far later).
EXIT_WITHIN_S = 6.0
TONE_S = 30  # longer than the test: the call ends while audio still flows


def _player_of_echo_call(gateway, rtmp_client, procs, out_dir, tag: str):
    """An echo call with ffmpeg publishing into it and ffmpeg playing it, audio flowing.
    Returns (control client, player process, player FLV path)."""
    ctl = rtmp_client()
    s4 = dial_connected(ctl, "sip:echo@127.0.0.1")
    flv = out_dir / f"player_{tag}.flv"
    media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S, name=f"publish_{tag}")
    time.sleep(0.5)
    player = media.ffmpeg_play(procs, gateway.url(s4["play"]), flv, 600, name=f"play_{tag}")
    # Audio reaches the player: ffmpeg has opened the stream and writes tags.
    deadline = time.time() + 15
    while time.time() < deadline and (not flv.exists() or flv.stat().st_size < 2000):
        assert player.alive(), f"ffmpeg player exited early:\n{player.tail(30)}"
        time.sleep(0.2)
    assert flv.exists() and flv.stat().st_size >= 2000, \
        f"ffmpeg player received no audio within 15 s:\n{player.tail(30)}"
    return ctl, player, flv


def _assert_exits(player, since: float, what: str):
    rc = player.wait(max(0.1, since + EXIT_WITHIN_S - time.time()))
    took = time.time() - since
    if rc is None:
        player.stop()
        raise AssertionError(f"ffmpeg playing the call did not exit within {EXIT_WITHIN_S} s of {what} "
                             f"(no Play.Stop / StreamEOF?); its log:\n{player.tail(30)}")
    print(f"ffmpeg player exited with {rc} {took:.2f} s after {what}")
    assert rc == 0, f"ffmpeg player exited with {rc} after {what}:\n{player.tail(30)}"


def _echo_still_works(rtmp_client):
    ctl = rtmp_client()
    dial_connected(ctl, "sip:echo@127.0.0.1")
    hangup_ended(ctl)


def test_ffmpeg_player_exits_after_hangup(gateway, rtmp_client, procs, out_dir):
    ctl, player, flv = _player_of_echo_call(gateway, rtmp_client, procs, out_dir, "hangup")
    t0 = time.time()
    hangup_ended(ctl)
    _assert_exits(player, t0, "the hang-up")
    # What ffmpeg wrote before the end is a usable FLV with Speex audio.
    payloads = media.flv_speex_payloads(flv)  # ffmpeg -c copy rewrites the header byte
    assert payloads, "the player's FLV holds no Speex audio"
    _echo_still_works(rtmp_client)


def test_ffmpeg_player_exits_when_the_caller_disconnects(gateway, rtmp_client, procs, out_dir):
    ctl, player, _ = _player_of_echo_call(gateway, rtmp_client, procs, out_dir, "drop")
    t0 = time.time()
    ctl.close()  # the owning connection goes away: its call ends with it
    _assert_exits(player, t0, "the caller's disconnect")
    _echo_still_works(rtmp_client)
