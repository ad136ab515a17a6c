"""The far end re-negotiates a confirmed call (RFC 3261 §14, RFC 3311, RFC 3264 §8): a plain-Python far end
(`helpers/dialog_uas.py`) answers the gateway's INVITE, the RTMP client publishes a tone, and the far end
sends re-INVITEs / UPDATEs / OPTIONS in the dialog. The gateway answers 200 with its SDP (same address and
port, `o=` version incremented, codec from `[media] codecs`), audio follows a new RTP port and a new codec,
an unacceptable offer gets 488 and the call goes on, an offerless re-INVITE gets the gateway's offer and
the answer comes in the ACK. On the old binary every one of these is answered 501 (or not at all)."""
import re
import time

from helpers.dialog_call import publishing_call
from helpers.dialog_uas import body_of, direction_of

G729_ONLY = ("v=0\r\no=far 1 {v} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio {port} RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\na=sendrecv\r\n")


def origin_version(sdp: str) -> int:
    return int(re.search(r"^o=\S+ \d+ (\d+) ", sdp, re.M)[1])


def test_reinvite_new_port_and_codec_keeps_audio_flowing(gateway, rtmp_client, procs, ports, measure):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=14, rtp_ports=4) as (peer, ctl, pub):
        first_port = peer.rtp_port
        gw_before = peer.gateway_rtp
        new_port = first_port + 2
        resp = peer.reinvite("sendrecv", port=new_port)
        assert resp.startswith("SIP/2.0 200"), f"re-INVITE to a new port: {resp}\n{peer.dump()}"
        answer = body_of(resp)
        assert peer.gateway_rtp == gw_before, f"the answer moved the gateway's address: {answer}"
        assert direction_of(answer) == "sendrecv", answer
        assert header_present(resp, "Contact"), resp
        t = time.monotonic()
        time.sleep(1.5)
        moved = peer.rtp_count(new_port, t + 0.3)
        stale = peer.rtp_count(first_port, t + 0.5)
        measure("re-INVITE new port: packets at the new port in 1.2 s", moved)
        assert moved >= 40, f"audio did not follow the new port ({moved} packets):\n{peer.dump()}"
        assert stale == 0, f"audio still goes to the old port ({stale} packets)"
        v1 = origin_version(answer)

        resp = peer.reinvite("sendrecv", codec="PCMA")
        assert resp.startswith("SIP/2.0 200"), resp
        answer = body_of(resp)
        assert re.search(r"^m=audio \d+ RTP/AVP 8\b", answer, re.M), f"PCMA not chosen: {answer}"
        assert origin_version(answer) == v1 + 1, f"o= version not incremented: {answer}"
        t = time.monotonic()
        time.sleep(1.2)
        pts = peer.rtp_pts(new_port, t + 0.4)
        measure("re-INVITE PCMA: payload types after", sorted(pts))
        assert pts == {8}, f"audio after the codec change has payload types {pts}, expected PCMA (8)"


def header_present(msg: str, name: str) -> bool:
    return re.search(rf"^{name}:", msg.split("\r\n\r\n")[0], re.M | re.I) is not None


def test_unacceptable_reoffer_488_and_the_call_continues(gateway, rtmp_client, procs, ports):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=8, rtp_ports=4) as (peer, ctl, pub):
        resp = peer.request("INVITE", G729_ONLY.format(v=9, port=peer.rtp_port))
        assert resp.startswith("SIP/2.0 488"), f"G.729-only re-offer: {resp}"
        t = time.monotonic()
        time.sleep(1.0)
        assert peer.rtp_count(peer.rtp_port, t) >= 30, "audio stopped after the refused re-offer"
        # The dialog still works: OPTIONS, UPDATE with an offer.
        resp = peer.request("OPTIONS")
        assert resp.startswith("SIP/2.0 200"), f"in-dialog OPTIONS: {resp}"
        resp = peer.request("UPDATE", peer.sdp("sendrecv"))
        assert resp.startswith("SIP/2.0 200"), f"UPDATE with an offer: {resp}"
        assert body_of(resp).startswith("v=0"), f"UPDATE's 200 carries no answer: {resp}"
    assert any(d == "in" and m.startswith("BYE ") for _, d, m in peer.log), \
        f"no BYE after the refused re-offer (dialog broken?):\n{peer.dump()}"


def test_offerless_reinvite_gets_our_offer_answer_in_ack(gateway, rtmp_client, procs, ports):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=8, rtp_ports=4) as (peer, ctl, pub):
        peer._ack_body = lambda offer: peer.sdp("sendrecv")
        resp = peer.request("INVITE", "")
        assert resp.startswith("SIP/2.0 200"), resp
        offer = body_of(resp)
        assert offer.startswith("v=0") and "a=sendrecv" in offer, f"no offer in the 200: {resp}"
        t = time.monotonic()
        time.sleep(1.0)
        assert peer.rtp_count(peer.rtp_port, t) >= 30, "audio stopped after the offerless re-INVITE"
