"""Dialog updates the far end makes (RFC 3261 §12.2, §13.3.1.4, §14.2; RFC 3311 §5; RFC 5589 §7, RFC 3891),
against the real binary.

- **Remote target refresh**: sipp (`uas_target_refresh.xml`) re-INVITEs with `Contact: <sip:moved@...>`;
  the hangup's BYE must go to `sip:moved@...`. A plain-Python far end re-INVITEs with a `tel:` Contact
  (400, the call goes on), then with `sip:moved2@...`: the client's `hold()` re-INVITE goes there; its 200
  names `sip:moved3@...`, and the hangup's BYE goes there.
- **No ACK for the gateway's 2xx to a re-INVITE**: the far end never ACKs; the gateway retransmits the
  200 (T1 doubling to T2) and after 64*T1 (32 s) sends BYE; the client gets status 0 with 408 "No ACK".
  The same for the 200 to an incoming INVITE, with exactly one BYE transaction.
- **UPDATE in the early dialog**: sipp (`uas_early_update.xml`) answers 183 with PCMU SDP, then UPDATEs
  with a PCMA offer before its 200; the gateway answers 200 with PCMA and the media follows.
- **Attended transfer as transferee**: a far end's REFER whose Refer-To embeds `?Replaces=...` is honoured
  inside `[policy] dial_allow`: 202, and the target gets an INVITE with the decoded `Replaces` header and
  a Request-URI without headers. Any other embedded header gets 400, a target outside the policy 403.

On the old binary (583d414) every test here fails: the BYE goes to the first Contact, an unacknowledged
re-INVITE 2xx leaves the call up, an unacknowledged initial 200 gets two BYE transactions, the early
UPDATE gets 405, and a Refer-To with Replaces gets 400."""
import random
import re
import time

from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.dialog_uas import DialogPeer, body_of
from helpers.far_end import FarEnd, header

REPLACES_WIRE = "abc%40h.example%3Bto-tag%3Dt1%3Bfrom-tag%3Df2"
REPLACES = "abc@h.example;to-tag=t1;from-tag=f2"


class MovingPeer(DialogPeer):
    """A DialogPeer whose in-dialog requests can name another Contact, and that can leave a 2xx
    to its re-INVITE unacknowledged."""

    no_ack = set()
    contact_user = "bob"

    def _reply(self, msg: str, src: tuple, status: str, body: str = "", extra: list = ()):
        # DialogPeer's replies name `sip:bob@...`; ours name `contact_user`.
        if self.contact_user != "bob":
            extra = [f"Contact: <sip:{self.contact_user}@{self.host}:{self.sip.addr[1]}>"] + list(extra)
            orig = self.sip.send

            def send(data, dest):
                text = data.decode()
                head, _, rest = text.partition("\r\n\r\n")
                lines = [l for l in head.split("\r\n") if not l.startswith(f"Contact: <sip:bob@")]
                orig(("\r\n".join(lines) + "\r\n\r\n" + rest).encode(), dest)
            self.sip.send = send
            try:
                return super()._reply(msg, src, status, body, extra)
            finally:
                self.sip.send = orig
        return super()._reply(msg, src, status, body, extra)

    def request_from(self, method: str, contact: str, body: str = "", timeout: float = 5.0) -> str:
        self.cseq += 1
        cseq = self.cseq
        branch = "z9hG4bK" + str(random.randrange(10 ** 12))
        self._last_branch, self._last_ruri = branch, self.remote_target
        lines = [f"{method} {self.remote_target} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch={branch};rport",
                 f"From: {self.local}", f"To: {self.remote}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq} {method}", "Max-Forwards: 70", f"Contact: {contact}"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body, self.gateway_sip)
        end = time.monotonic() + timeout
        while cseq not in self.responses and time.monotonic() < end:
            time.sleep(0.01)
        assert cseq in self.responses, f"no final response to our {method} (CSeq {cseq}):\n{self.dump()}"
        return self.responses[cseq]

    def _ack(self, cseq: int, resp: str):
        if cseq in self.no_ack:
            return
        super()._ack(cseq, resp)

    def requests_in(self, method: str) -> list:
        return [m for _, d, m in self.log if d == "in" and m.startswith(method + " ")]


def test_sipp_reinvite_contact_moves_the_bye(gateway, rtmp_client, procs, out_dir, ports):
    from helpers.sipp import Sipp
    sipp = Sipp(procs, out_dir, ports, "uas_target_refresh.xml", name="sipp_target").start()
    ctl = rtmp_client()
    dial_connected(ctl, sipp.uri("bob"))
    time.sleep(2.5)  # sipp re-INVITEs 1 s after its ACK
    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    assert rc == 0, "the BYE did not follow the re-INVITE's Contact:\n" + sipp.report()
    assert "BYE sent to BYE sip:moved@" in sipp.logs(), sipp.logs()


def test_non_sip_contact_is_refused_and_a_sip_one_moves_later_requests(gateway, rtmp_client, ports):
    peer = MovingPeer(ports.port(), ports.range(4)[0])
    try:
        ctl = rtmp_client()
        dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        here = f"127.0.0.1:{peer.sip.addr[1]}"
        resp = peer.request_from("INVITE", "<tel:+15551234>", peer.sdp("sendrecv"))
        assert resp.startswith("SIP/2.0 400"), f"a tel: Contact in a re-INVITE: {resp}"
        resp = peer.request_from("UPDATE", "<http://example.com/>")
        assert resp.startswith("SIP/2.0 400"), f"an http: Contact in an UPDATE: {resp}"
        resp = peer.request_from("INVITE", f"<sip:moved2@{here}>", peer.sdp("sendrecv"))
        assert resp.startswith("SIP/2.0 200") and body_of(resp).startswith("v=0"), resp
        time.sleep(0.3)
        # The 200 to the gateway's re-INVITE names yet another target (RFC 3261 §12.2.1.2).
        peer.contact_user = "moved3"
        txn = ctl.call("hold")
        assert ctl.reply(txn, 5).method == "_result"
        end = time.monotonic() + 5
        while len(peer.reinvites_in) < 1 and time.monotonic() < end:
            time.sleep(0.05)
        assert peer.reinvites_in, f"no re-INVITE for hold():\n{peer.dump()}"
        assert peer.reinvites_in[0].startswith(f"INVITE sip:moved2@{here}"), peer.reinvites_in[0]
        time.sleep(0.5)
        hangup_ended(ctl)
        end = time.monotonic() + 5
        while not peer.requests_in("BYE") and time.monotonic() < end:
            time.sleep(0.05)
        byes = peer.requests_in("BYE")
        assert byes and byes[0].startswith(f"BYE sip:moved3@{here}"), \
            f"BYE not to the target of the 2xx to our re-INVITE:\n{peer.dump()}"
    finally:
        peer.close()


def test_no_ack_for_the_2xx_to_a_reinvite_ends_the_call(gateway, rtmp_client, ports, measure):
    peer = MovingPeer(ports.port(), ports.range(4)[0])
    try:
        ctl = rtmp_client()
        dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        before = len(ctl.statuses())
        peer.no_ack = {peer.cseq + 1}
        resp = peer.request("INVITE", peer.sdp("sendrecv"))
        assert resp.startswith("SIP/2.0 200"), resp
        t0 = time.monotonic()
        end = t0 + 45
        while not peer.requests_in("BYE") and time.monotonic() < end:
            time.sleep(0.1)
        waited = time.monotonic() - t0
        byes = peer.requests_in("BYE")
        assert byes, f"no BYE within 45 s of an unacknowledged 2xx:\n{peer.dump()}"
        measure("BYE after an unacknowledged re-INVITE 2xx (s)", round(waited, 1))
        assert 28 <= waited <= 40, f"BYE after {waited:.1f} s, expected 64*T1 = 32 s"
        cseq = str(max(peer.no_ack))
        retrans = [m for _, d, m in peer.log
                   if d == "in" and m.startswith("SIP/2.0 200") and (header(m, "CSeq") or "").startswith(cseq)]
        measure("2xx retransmissions without an ACK", len(retrans))
        assert len(retrans) >= 5, f"the 2xx was not retransmitted ({len(retrans)} copies)"
        s0 = ended_info(ctl, before)
        assert int(s0["sip_code"]) == 408 and "ACK" in s0["reason"], s0
    finally:
        peer.close()


def test_no_ack_for_the_200_to_an_incoming_invite_ends_the_call(gateway, rtmp_client, ports, measure):
    from helpers.incoming import answer, event, register_local, user_of
    ctl = rtmp_client()
    uri = register_local(ctl)
    peer = MovingPeer(ports.port(), ports.range(2)[0])
    try:
        before = len(ctl.invokes)
        statuses = len(ctl.statuses())
        peer.no_ack = {peer.cseq + 1}
        peer.invite_gateway(gateway.sip_uri(user_of(uri)), ("127.0.0.1", gateway.sip_port))
        event(ctl, "Sono.Call.Incoming", 10, after=before)
        answer(ctl, "accept")
        assert peer.wait_final(10).startswith("SIP/2.0 200"), peer.dump()
        t0 = time.monotonic()
        while not peer.requests_in("BYE") and time.monotonic() < t0 + 45:
            time.sleep(0.1)
        waited = time.monotonic() - t0
        assert peer.requests_in("BYE"), f"no BYE within 45 s of an unacknowledged 200:\n{peer.dump()}"
        measure("BYE after an unacknowledged 200 to the INVITE (s)", round(waited, 1))
        assert 28 <= waited <= 40, f"BYE after {waited:.1f} s, expected 64*T1 = 32 s"
        assert len(peer.requests_in("BYE")) == 1 or all(
            header(b, "CSeq") == header(peer.requests_in("BYE")[0], "CSeq") for b in peer.requests_in("BYE")), \
            f"more than one BYE transaction:\n{peer.dump()}"
        s0 = ended_info(ctl, statuses)
        assert int(s0["sip_code"]) == 408 and "ACK" in s0["reason"], s0
    finally:
        peer.close()


def test_sipp_early_update_is_answered(gateway, rtmp_client, procs, out_dir, ports):
    from helpers.sipp import Sipp
    sipp = Sipp(procs, out_dir, ports, "uas_early_update.xml", name="sipp_early_update").start()
    ctl = rtmp_client()
    mark = len(gateway.log.read_text(errors="replace"))
    dial_connected(ctl, sipp.uri("bob"))
    time.sleep(0.5)
    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    assert rc == 0, "the early UPDATE was not answered with PCMA:\n" + sipp.report()
    assert "UPDATE answered: m=audio" in sipp.logs(), sipp.logs()
    log = gateway.log.read_text(errors="replace")[mark:]
    assert re.search(r"media changed.*Pcma", log), "the media did not follow the early UPDATE"


def test_attended_transfer_refer_with_replaces(gateway, rtmp_client, ports):
    carol = FarEnd(ports.port(), ports.range(2)[0], user="carol")
    evil = FarEnd(ports.port(), ports.range(2)[0], host="127.0.0.2", user="carol")
    bob = FarEnd(ports.port(), ports.range(2)[0])
    try:
        ctl = rtmp_client()
        dial_connected(ctl, bob.uri())
        refused = [
            (f"<{evil.uri()}?Replaces={REPLACES_WIRE}>", "403"),
            (f"<{carol.uri()}?Subject=hi>", "400"),
            (f"<{carol.uri()}?Replaces={REPLACES_WIRE}&Priority=urgent>", "400"),
            (f"<{carol.uri()}?Replaces=abc%3Bto-tag%3Dt1>", "400"),
            (f"<{carol.uri()}?Replaces={REPLACES_WIRE}%0D%0AX-Evil%3A%201>", "400"),
        ]
        for refer_to, want in refused:
            got = bob.response_to(bob.refer(refer_to))
            assert got.split()[1] == want, f"Refer-To {refer_to!r}: {got.splitlines()[0]}"
        time.sleep(0.5)
        assert not carol.requests("INVITE") and not evil.requests("INVITE"), "a refused REFER was dialled"
        cseq = bob.refer(f"<{carol.uri()}?Replaces={REPLACES_WIRE}>")
        got = bob.response_to(cseq)
        assert got.startswith("SIP/2.0 202"), f"REFER with Replaces: {got}"
        invite = carol.wait(lambda m: m.startswith("INVITE "), 10, "INVITE to the transfer target")
        ruri = invite.split(" ", 2)[1]
        assert ruri == carol.uri(), f"Request-URI {ruri!r} should be the target without headers"
        assert header(invite, "Replaces") == REPLACES, invite
        assert "X-Evil" not in invite and "Priority" not in invite, invite
        carol.wait(lambda m: m.startswith("ACK "), 10, "ACK from the gateway")
        bob.wait(lambda m: m.startswith("BYE "), 10, "BYE after the final NOTIFY")
        hangup_ended(ctl)
    finally:
        bob.close()
        carol.close()
        evil.close()

