"""A far end's REFER (RFC 3515) on an incoming call: the SIP caller is the transferor, the gateway the
transferee. An RTMP client `register()`s on the embedded registrar; a caller in plain Python
(`helpers/dialog_uas.py`, as a UAC) INVITEs the registered address, the client `accept()`s, and then the
caller sends REFER in that dialog (the gateway is its UAS here: the REFER goes to the gateway's Contact
from the 200, with the tags the other way round than on an outgoing call).

- Inside `[policy] dial_allow` (a second far end on 127.0.0.1, `helpers/far_end.py`): 202, the gateway
  INVITEs the target for the same client, the client gets `Sono.Call.Transfer` accepted (naming the target)
  on the old call, status 0 for it and 1, 2, 4 of the new call, whose audio it hears (SNR); the caller gets
  NOTIFY `SIP/2.0 100` (active) then `SIP/2.0 200 OK` (terminated, `Event: refer`, `message/sipfrag`),
  answers them 200, and then gets a BYE.
- Outside it (127.0.0.2, a domain): 403, no INVITE anywhere, no NOTIFY, no Transfer event, the call stays
  up and is hung up normally. No Refer-To or a `tel:` target: 400.

`test_transfer.py` covers the same on outgoing (UAC) calls; its Transfer-event helpers are reused."""
import os
import re
import time

from helpers import media
from helpers.calls import hangup_ended
from helpers.dialog_uas import DialogPeer, body_of, header
from helpers.far_end import FarEnd
from helpers.incoming import answer, event, register_local, user_of
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED, RtmpControl
from helpers.sipp import Sipp
from test_transfer import transfers, wait_transfer

TONE_HZ = 1000


class Caller(DialogPeer):
    """DialogPeer that also answers the gateway's NOTIFYs 200 (and keeps them)."""

    def __init__(self, *a, **kw):
        self.notifies = []
        super().__init__(*a, **kw)

    def _handle(self, msg: str, src: tuple):
        if msg.startswith("NOTIFY "):
            self.notifies.append(msg)
            return self._reply(msg, src, "200 OK")
        return super()._handle(msg, src)

    def requests_in(self, method: str) -> list:
        return [m for _, d, m in self.log if d == "in" and m.startswith(method + " ")]

    def refer(self, refer_to: str = None) -> str:
        """REFER in the dialog; returns the final response's status line."""
        extra = [f"Refer-To: {refer_to}"] if refer_to is not None else []
        resp = self.request("REFER", extra=extra + ["Referred-By: <sip:alice@127.0.0.1>"])
        return resp.split("\r\n", 1)[0]

    def wait_in(self, pred, timeout: float, what: str) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = [m for _, d, m in list(self.log) if d == "in" and pred(m)]
            if got:
                return got[0]
            time.sleep(0.02)
        raise AssertionError(f"caller: no {what} within {timeout} s:\n{self.dump()}")


def incoming_call(gateway, ctl, ports) -> tuple:
    """The caller INVITEs the client's registered address and the client accepts; returns (caller, s4)."""
    uri = register_local(ctl)
    caller = Caller(ports.port(), ports.range(2)[0])
    mark, before = len(ctl.invokes), len(ctl.statuses())
    caller.invite_gateway(gateway.sip_uri(user_of(uri)), ("127.0.0.1", gateway.sip_port))
    event(ctl, "Sono.Call.Incoming", 10, after=mark)
    answer(ctl, "accept")
    resp = caller.wait_final(10)
    assert resp.startswith("SIP/2.0 200"), f"the incoming call was not answered: {resp}\n{caller.dump()}"
    s4 = ctl.wait_status(CONNECT_STREAMS, 8, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)
    return caller, s4


def test_caller_refer_inside_the_policy_is_honoured(gateway, rtmp_client, procs, out_dir, ports, measure):
    carol = FarEnd(ports.port(), ports.range(2)[0], user="carol")
    ctl = rtmp_client()
    caller, old = incoming_call(gateway, ctl, ports)
    try:
        before = len(ctl.statuses())
        got = caller.refer(f"\"Carol\" <{carol.uri()}>")
        assert got.startswith("SIP/2.0 202"), f"REFER inside the policy answered {got}\n{caller.dump()}"
        carol.wait(lambda m: m.startswith("INVITE "), 10, "INVITE from the gateway")
        ev = wait_transfer(ctl, "accepted")
        assert ev["call_id"] == old["call_id"] and ev.get("target") == carol.uri(), ev
        new4 = ctl.wait_status(CONNECT_STREAMS, 15, after=before)
        assert new4["call_id"] != old["call_id"], new4
        sts = [(int(s["status_code"]), s["call_id"] == old["call_id"]) for s in ctl.statuses()[before:]]
        assert sts[0] == (0, True), f"the old call should end first: {sts}"
        assert (1, False) in sts and (2, False) in sts, sts
        # NOTIFYs to the caller: 100 Trying (active), then 200 OK (terminated); then a BYE.
        caller.wait_in(lambda m: m.startswith("NOTIFY ") and "200 OK" in body_of(m), 10, "final NOTIFY")
        notes = caller.notifies
        assert body_of(notes[0]).startswith("SIP/2.0 100"), notes[0]
        assert header(notes[0], "Subscription-State").startswith("active"), notes[0]
        assert header(notes[-1], "Subscription-State").startswith("terminated"), notes[-1]
        assert header(notes[-1], "Event") == "refer", notes[-1]
        assert header(notes[-1], "Content-Type") == "message/sipfrag", notes[-1]
        for n in notes:   # in the caller's dialog: its Call-ID, its tag as To-tag
            assert header(n, "Call-ID") == caller.call_id, n
            assert caller.local_tag in header(n, "To"), n
        bye = caller.wait_in(lambda m: m.startswith("BYE "), 5, "BYE after the final NOTIFY")
        assert caller.local_tag in header(bye, "To"), bye
        # The client hears the new far end.
        played = out_dir / "played.flv"
        player = media.librtmp_play(procs, gateway.url(new4["play"]), played, 4.5)
        time.sleep(0.5)
        carol.send_tone(TONE_HZ, 3).join(8)
        media.wait_ok(player, 10, "librtmp playing the new call")
        heard = media.tonecheck(media.flv_to_wav(played, out_dir / "played.wav"), TONE_HZ, 20)
        measure("SNR after the caller's REFER (dB)", heard["snr"])
        assert heard["ok"], heard["text"]
        hangup_ended(ctl)
        carol.wait(lambda m: m.startswith("BYE "), 5, "BYE to the transfer target")
    finally:
        caller.close()
        carol.close()


def test_caller_refer_outside_the_policy_is_refused(gateway, rtmp_client, ports):
    # 127.0.0.2 is outside dial_allow (sip:*@127.0.0.1).
    evil = FarEnd(ports.port(), ports.range(2)[0], host="127.0.0.2", user="carol")
    ctl = rtmp_client()
    caller, _ = incoming_call(gateway, ctl, ports)
    try:
        before = len(ctl.statuses())
        for refer_to, want in [(f"<{evil.uri()}>", "403"), ("<sip:carol@example.com>", "403"),
                               (None, "400"), ("<tel:+15551234>", "400")]:
            got = caller.refer(refer_to)
            assert got.split()[1] == want, f"Refer-To {refer_to!r}: {got}"
        time.sleep(1.0)
        assert not evil.requests("INVITE"), "a refused REFER was dialled"
        assert not caller.notifies, "a refused REFER got NOTIFYs"
        assert ctl.status_codes()[before:] == [], f"the call did not stay up: {ctl.dump()}"
        assert not transfers(ctl)
        log = gateway.log.read_text(errors="replace")
        assert not re.search(r"INVITE sent.*127\.0\.0\.2", log), "the gateway INVITEd 127.0.0.2"
        hangup_ended(ctl)
        caller.wait_in(lambda m: m.startswith("BYE "), 5, "BYE after hangup")
    finally:
        caller.close()
        evil.close()


def test_caller_refer_to_a_busy_target_reports_486(gateway, rtmp_client, procs, out_dir, ports):
    """The target (sipp `uas_reject.xml`) answers 486: the final NOTIFY's sipfrag is `SIP/2.0 486` with
    `Subscription-State: terminated` (RFC 3515 §2.4.5), sipp gets its ACK, and the client gets status 0
    for the new call with sip_code 486."""
    busy = Sipp(procs, out_dir, ports, "uas_reject.xml", subst={"@CODE@": 486, "@REASON@": "Busy Here"},
                name="sipp_busy").start()
    ctl = rtmp_client()
    caller, old = incoming_call(gateway, ctl, ports)
    try:
        before = len(ctl.statuses())
        got = caller.refer(f"<{busy.uri('carol')}>")
        assert got.startswith("SIP/2.0 202"), f"REFER answered {got}\n{caller.dump()}"
        assert busy.wait_exit(10) == 0, "the target got no INVITE or no ACK for its 486:\n" + busy.report()
        final = caller.wait_in(lambda m: m.startswith("NOTIFY ") and
                               (header(m, "Subscription-State") or "").startswith("terminated"), 10, "final NOTIFY")
        assert body_of(final).startswith("SIP/2.0 486"), f"final NOTIFY: {final}"
        assert header(final, "Event") == "refer", final
        print("statuses:", ctl.statuses()[before:])
        print("transfer events:", transfers(ctl))
        print("caller got:", [m.split("\r\n", 1)[0] for _, d, m in caller.log if d == "in"])
        ended = [s for s in ctl.statuses()[before:] if int(s["status_code"]) == 0 and s["call_id"] != old["call_id"]]
        deadline = time.monotonic() + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.1)
            ended = [s for s in ctl.statuses()[before:]
                     if int(s["status_code"]) == 0 and s["call_id"] != old["call_id"]]
        assert ended and int(ended[0].get("sip_code", 0)) == 486, f"the new call's end: {ctl.dump()}"
    finally:
        caller.close()


def test_caller_refer_outside_the_token_dial_claim_is_refused(gateway_factory, procs, out_dir, ports):
    """`[auth] mode = "jwt"`: the client's token allows `register` and dials only to `sip:echo@*`. A REFER
    to a target that `[policy] dial_allow` allows but the token's `dial` claim does not gets 403, nothing
    is dialled, and the call stays up: a far end cannot reach more than the client itself could."""
    import jwt
    secret = "kam-" + os.urandom(16).hex()
    (out_dir / "jwt.secret").write_text(secret + "\n")
    gw = gateway_factory({"auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(out_dir / "jwt.secret"),
                                   "issuer": "test-site", "audience": "rtmp2sip"}}, name="gw_jwt")
    now = int(time.time())
    tok = jwt.encode({"sub": "alice", "iat": now, "exp": now + 300, "iss": "test-site", "aud": "rtmp2sip",
                      "register": True, "dial": ["sip:echo@*"]}, secret, algorithm="HS256")
    carol = FarEnd(ports.port(), ports.range(2)[0], user="carol")
    ctl = RtmpControl(f"{gw.url()} conn=S:{tok}")
    caller = None
    try:
        caller, _ = incoming_call(gw, ctl, ports)
        before = len(ctl.statuses())
        got = caller.refer(f"<{carol.uri()}>")
        assert got.split()[1] == "403", f"REFER outside the token's dial claim: {got}"
        time.sleep(1.0)
        assert not carol.requests("INVITE"), "the gateway dialled a target the token does not allow"
        assert not caller.notifies and not transfers(ctl)
        assert ctl.status_codes()[before:] == [], f"the call did not stay up: {ctl.dump()}"
        hangup_ended(ctl)
    finally:
        ctl.close()
        carol.close()
        if caller is not None:
            caller.close()
