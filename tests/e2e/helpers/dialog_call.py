"""A confirmed call from the RTMP client to a plain-Python far end (helpers/dialog_uas.py) with the
client publishing a tone: the setup and teardown test_hold.py, test_reinvite.py and test_metrics.py
share. The far end's RTP ports are `ports.range(rtp_ports)`; the call starts once at least 20 of the
gateway's RTP packets reached the far end."""
import time
from contextlib import contextmanager

from . import media
from .calls import dial_connected, hangup_ended
from .dialog_uas import DialogPeer


def start(rtmp_client, procs, gateway, ports, seconds: float = 16, rtp_ports: int = 2, **peer_kw):
    """(peer, ctl, publisher): `rtmp_client()` makes the RTMP control connection, `gateway.url(name)`
    the publish URL; `seconds` of tone are published; `peer_kw` go to DialogPeer."""
    peer = DialogPeer(ports.port(), ports.range(rtp_ports)[0], **peer_kw)
    ctl = rtmp_client()
    s4 = dial_connected(ctl, peer.uri("bob"))
    peer.wait_answered()
    pub = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), seconds)
    end = time.monotonic() + 8
    while peer.rtp_count(peer.rtp_port, 0) < 20 and time.monotonic() < end:
        time.sleep(0.1)
    assert peer.rtp_count(peer.rtp_port, 0) >= 20, f"no audio from the gateway before the test:\n{peer.dump()}"
    return peer, ctl, pub


@contextmanager
def publishing_call(rtmp_client, procs, gateway, ports, seconds: float = 16, rtp_ports: int = 2, **peer_kw):
    """`start`, then at the end (pass or fail) the client hangs up and waits for the end, the far end
    closes and the publisher stops."""
    peer, ctl, pub = start(rtmp_client, procs, gateway, ports, seconds, rtp_ports, **peer_kw)
    try:
        yield peer, ctl, pub
    finally:
        hangup_ended(ctl)
        peer.close()
        pub.stop()
