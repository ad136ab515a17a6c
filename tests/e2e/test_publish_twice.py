"""Two RTMP publishers into one call's `publish` name (found while writing test_far_end_hold_local.py).

Each publisher's connection resolves the name in the stream registry and feeds the call's media task, so
both streams are packetised into the one RTP stream to the far end: about 100 packets/s with one SSRC,
one sequence counter and two interleaved timestamp timelines, which the far end hears as noise (SNR about
-4 dB where one publisher gives 37 dB). Now one NetStream publishes into a call at a time (`src/runtime/publisher.rs`): the second `publish`
is refused with `NetStream.Publish.BadName`, so the far end keeps getting 50 packets/s. Fails on the
binary before that change (about 100 packets/s)."""
import time

import pytest

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.dialog_uas import DialogPeer


def test_second_publisher_does_not_double_the_rtp(gateway, rtmp_client, procs, ports, measure):
    peer = DialogPeer(ports.port(), ports.range(2)[0])
    ctl = rtmp_client()
    p1 = p2 = None
    try:
        s4 = dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        p1 = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 8, name="publisher1")
        time.sleep(2.0)
        t = time.monotonic()
        time.sleep(2.0)
        one = peer.rtp_count(peer.rtp_port, t)
        p2 = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 5, name="publisher2")
        time.sleep(1.5)
        t = time.monotonic()
        time.sleep(2.0)
        two = peer.rtp_count(peer.rtp_port, t)
        measure("RTP packets in 2 s with one / two publishers", (one, two))
        assert 80 <= one <= 120, f"one publisher: {one} packets in 2 s"
        assert two <= 120, f"two publishers of one call: {two} packets in 2 s reach the far end (expected ~100)"
        # The first publisher goes: the call's slot is free for the next one.
        p1.stop()
        p1 = None
        p2.stop()
        p3 = p2 = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 5, name="publisher3")
        time.sleep(2.0)
        t = time.monotonic()
        time.sleep(2.0)
        again = peer.rtp_count(peer.rtp_port, t)
        measure("RTP packets in 2 s from a publisher after the first left", again)
        assert 80 <= again <= 120, f"a publisher after the first left: {again} packets in 2 s"
        assert p3.popen.poll() is None, "the new publisher was refused"
    finally:
        for p in (p1, p2):
            if p is not None:
                p.stop()
        hangup_ended(ctl)
        peer.close()
