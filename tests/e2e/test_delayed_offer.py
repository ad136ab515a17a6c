"""Delayed offer (RFC 3261 §13.2.1, RFC 3264 §4): an INVITE without SDP to a registered RTMP client rings
it, `accept()` answers 200 OK carrying the gateway's offer, the caller's ACK carries the answer, and the
call connects with audio both ways. The old binary refuses such an INVITE with 488 and never rings."""
import time

from helpers import media
from helpers.calls import hangup_ended
from helpers.dialog_uas import DialogPeer, body_of
from helpers.incoming import answer, event, register_local, user_of
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED


def test_invite_without_sdp_is_answered_with_an_offer(gateway, rtmp_client, procs, ports, measure):
    ctl = rtmp_client()
    uri = register_local(ctl)
    peer = DialogPeer(ports.port(), ports.range(2)[0])
    try:
        before = len(ctl.invokes)
        peer.invite_gateway(gateway.sip_uri(user_of(uri)), ("127.0.0.1", gateway.sip_port), with_sdp=False)
        inc = event(ctl, "Sono.Call.Incoming", 10, after=before)
        assert inc["uri"].startswith("sip:alice@"), inc
        answer(ctl, "accept")
        resp = peer.wait_final(10)
        assert resp.startswith("SIP/2.0 200"), f"INVITE without SDP: {resp}\n{peer.dump()}"
        offer = body_of(resp)
        assert offer.startswith("v=0") and "m=audio" in offer and "a=sendrecv" in offer, offer
        ctl.wait_status(CONNECTED, 8)
        s4 = ctl.wait_status(CONNECT_STREAMS, 8)
        acks = [m for _, d, m in peer.log if d == "out" and m.startswith("ACK ")]
        assert acks and body_of(acks[0]).startswith("v=0"), f"our ACK carried no answer:\n{peer.dump()}"
        pub = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 4)
        tone = peer.send_tone(1000, 3)
        end = time.monotonic() + 8
        while peer.rtp_count(peer.rtp_port, 0) < 50 and time.monotonic() < end:
            time.sleep(0.1)
        got = peer.rtp_count(peer.rtp_port, 0)
        measure("delayed offer: gateway RTP packets at the caller", got)
        assert got >= 50, f"no audio from the gateway after a delayed-offer call ({got} packets)"
        tone.join(5)
        pub.stop()
    finally:
        hangup_ended(ctl)
        peer.close()
