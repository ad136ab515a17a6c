"""Session timers (RFC 4028). The gateway's INVITE says `Supported: timer` and `Session-Expires: 1800`
(`[sip] session_expires_s`); a far end that answers `Session-Expires: 90;refresher=uac` makes the gateway
the refresher, and it re-INVITEs about 45 s after the answer (§7.2: half the interval) with
`Session-Expires: 90;refresher=uac` and its unchanged SDP. An incoming INVITE with `Session-Expires: 30`
is refused 422 with `Min-SE: 90` (§8.1, before it rings). The refresh timing when the far end refreshes
(BYE at expiry minus min(32 s, interval/3)) is unit-tested in `src/sip/call/tests.rs`. The gateway's
own refresh at half the interval is tested through Kamailio's sst module in
`test_session_timer_kamailio.py` (it was also tested here against a scripted far end; that 46 s test
was folded into the Kamailio one, which checks the same headers and timing).
The old binary sends no session-timer headers, never refreshes and rings the 30 s INVITE."""
import time

from helpers.calls import dial_connected, hangup_ended
from helpers.dialog_uas import DialogPeer, header
from helpers.incoming import register_local, user_of


def test_incoming_interval_below_min_se_gets_422(gateway, rtmp_client, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    peer = DialogPeer(ports.port(), ports.range(2)[0])
    try:
        peer.cseq += 1
        ruri = gateway.sip_uri(user_of(uri))
        peer.gateway_sip = ("127.0.0.1", gateway.sip_port)
        peer.call_id = f"se30-{peer.cseq}@127.0.0.1"
        peer.local = "<sip:alice@127.0.0.1>;tag=se30"
        peer._last_ruri, peer._last_branch = ruri, "z9hG4bKse30"
        body = peer.sdp()
        msg = (f"INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{peer.sip.addr[1]};branch=z9hG4bKse30;rport\r\n"
               f"From: <sip:alice@127.0.0.1>;tag=se30\r\nTo: <{ruri}>\r\nCall-ID: {peer.call_id}\r\n"
               f"CSeq: {peer.cseq} INVITE\r\nMax-Forwards: 70\r\nContact: <sip:alice@127.0.0.1:{peer.sip.addr[1]}>\r\n"
               f"Supported: timer\r\nSession-Expires: 30\r\nContent-Type: application/sdp\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}")
        peer._send(msg, ("127.0.0.1", gateway.sip_port))
        resp = peer.wait_final(10)
        assert resp.startswith("SIP/2.0 422"), f"Session-Expires: 30 answered {resp}"
        assert header(resp, "Min-SE") == "90", resp
        time.sleep(0.3)
        assert not [i for i in ctl.invokes if i.method == "onStatus"
                    and i.info.get("code") == "Sono.Call.Incoming"], "the 422 call rang the client"
    finally:
        peer.close()


def test_422_is_retried_once_with_the_larger_min_se(gateway, rtmp_client, ports):
    peer = DialogPeer(ports.port(), ports.range(2)[0], invite_min_se=3600)
    ctl = rtmp_client()
    try:
        dial_connected(ctl, peer.uri("bob"))
        invites = [m for _, d, m in peer.log if d == "in" and m.startswith("INVITE ")]
        assert len(invites) == 2, f"expected the INVITE and one retry:\n{peer.dump()}"
        assert header(invites[0], "Session-Expires") == "1800", invites[0]
        assert header(invites[1], "Session-Expires") == "3600", invites[1]
        assert header(invites[1], "Min-SE") == "3600", invites[1]
        assert header(invites[0], "Call-ID") == header(invites[1], "Call-ID"), "the retry changed Call-ID"
    finally:
        hangup_ended(ctl)
        peer.close()
