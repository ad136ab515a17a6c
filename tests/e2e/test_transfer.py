"""Blind transfer (RFC 3515 REFER, RFC 5589 section 6.1), both ways, against the real binary.

Far ends are Python UASs on raw UDP (helpers/far_end.py): they answer the gateway's INVITE with PCMU,
answer REFER and NOTIFY as each test scripts, and send REFER themselves.

- **Our REFER** (`transfer(uri)`): the far end answers 202 and NOTIFYs `100 Trying` then `200 OK`
  (terminated). The client sees `Sono.Call.Transfer` accepted, trying, succeeded; the gateway then BYEs
  the far end and the client sees status 0 ("Transferred"). In a blind transfer the *transferee* (the far
  end) calls the target, so the target never gets an INVITE from the gateway. A 486 NOTIFY fails the
  transfer and the call stays up; a target outside `[policy] dial_allow` gets `_error`
  `Sono.Call.Forbidden` and no REFER is sent.
- **A far end's REFER**: inside the policy the gateway answers 202, NOTIFYs `100 Trying`, INVITEs the
  target (a second far end), the client gets `Sono.Call.Transfer` (accepted, naming the target) on the
  old call, status 0 for it, and statuses 1, 2, 4 of a new call whose audio it hears; the far end gets the
  final NOTIFY `SIP/2.0 200 OK` with `Subscription-State: terminated` and then a BYE. Outside the policy
  (another loopback address): 403 and no INVITE anywhere; no Refer-To or a `tel:` target: 400; the call
  stays up.

RTMP control: python3-librtmp. RTMP media: ffmpeg plays the new call's stream."""
import threading
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.far_end import FarEnd, body, header

TONE_HZ = 1000


def transfers(ctl) -> list:
    with ctl._cond:
        return [i.info for i in ctl.invokes
                if i.method == "onStatus" and i.info.get("code") == "Sono.Call.Transfer"]


def wait_transfer(ctl, status: str, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t in transfers(ctl):
            if t.get("status") == status:
                return t
        time.sleep(0.05)
    raise AssertionError(f"no Sono.Call.Transfer {status!r} within {timeout} s:\n{ctl.dump()}")


def accept_and_notify(final: str):
    """on_refer: 202, then (from a thread) NOTIFY 100 Trying and NOTIFY `final`, terminated."""
    def on_refer(fe, msg):
        def later():
            time.sleep(0.3)
            fe.notify("SIP/2.0 100 Trying", "active;expires=60")
            time.sleep(0.5)
            fe.notify(final, "terminated;reason=noresource")
        threading.Thread(target=later, daemon=True).start()
        return "202 Accepted"
    return on_refer


def test_our_refer_succeeds_and_the_gateway_hangs_up(gateway, rtmp_client, ports):
    target = FarEnd(ports.port(), ports.range(2)[0], user="carol")
    fe = FarEnd(ports.port(), ports.range(2)[0], on_refer=accept_and_notify("SIP/2.0 200 OK"))
    try:
        ctl = rtmp_client()
        s4 = dial_connected(ctl, fe.uri())
        before = len(ctl.statuses())
        txn = ctl.call("transfer", target.uri())
        r = ctl.reply(txn)
        assert r.method == "_result", f"transfer() answered {r!r}"
        refer = fe.wait(lambda m: m.startswith("REFER "), 5, "REFER")
        assert header(refer, "Refer-To") == f"<{target.uri()}>", refer
        assert header(refer, "Call-ID") == header(fe.invite, "Call-ID"), "REFER outside the dialog"
        assert wait_transfer(ctl, "accepted")["sip_code"] == 202
        assert wait_transfer(ctl, "trying")["sip_code"] == 100
        ok = wait_transfer(ctl, "succeeded")
        assert ok["sip_code"] == 200 and ok["call_id"] == s4["call_id"], ok
        # Both NOTIFYs were answered 200.
        for cseq in ("1 NOTIFY", "2 NOTIFY"):
            assert fe.response_to(cseq).startswith("SIP/2.0 200"), cseq
        fe.wait(lambda m: m.startswith("BYE "), 5, "BYE after a successful transfer")
        s0 = ctl.wait_status(0, 10, after=before)
        assert s0.get("reason") == "Transferred", s0
        order = [t["status"] for t in transfers(ctl)]
        assert order == ["accepted", "trying", "succeeded"], order
        # Blind transfer: the transferee calls the target, not the gateway.
        time.sleep(0.5)
        assert not target.requests("INVITE"), "the gateway INVITEd the transfer target itself"
    finally:
        fe.close()
        target.close()


def test_our_refer_fails_and_the_call_stays(gateway, rtmp_client, ports):
    fe = FarEnd(ports.port(), ports.range(2)[0], on_refer=accept_and_notify("SIP/2.0 486 Busy Here"))
    try:
        ctl = rtmp_client()
        dial_connected(ctl, fe.uri())
        before = len(ctl.statuses())
        txn = ctl.call("transfer", "sip:carol@127.0.0.1:5999")
        assert ctl.reply(txn).method == "_result"
        failed = wait_transfer(ctl, "failed")
        assert failed["sip_code"] == 486, failed
        time.sleep(0.5)
        assert ctl.status_codes()[before:] == [], f"the call did not stay up: {ctl.dump()}"
        assert not fe.requests("BYE")
        hangup_ended(ctl)
        fe.wait(lambda m: m.startswith("BYE "), 5, "BYE after hangup")
    finally:
        fe.close()


def test_our_refer_outside_the_policy_is_refused(gateway, rtmp_client, ports):
    fe = FarEnd(ports.port(), ports.range(2)[0], on_refer=accept_and_notify("SIP/2.0 200 OK"))
    try:
        ctl = rtmp_client()
        dial_connected(ctl, fe.uri())
        for uri, code in [("sip:carol@10.0.0.1", "Sono.Call.Forbidden"), ("", "Sono.Call.NoUri"),
                          ("tel:+15551234", "Sono.Call.NoUri")]:
            txn = ctl.call("transfer", uri)
            r = ctl.reply(txn)
            assert r.method == "_error" and r.info.get("code") == code, f"{uri!r}: {r!r}"
        time.sleep(0.5)
        assert not fe.requests("REFER"), "a REFER was sent for a refused target"
        hangup_ended(ctl)
    finally:
        fe.close()


def test_far_end_refer_inside_the_policy_is_honoured(gateway, rtmp_client, procs, out_dir, ports, measure):
    carol = FarEnd(ports.port(), ports.range(2)[0], user="carol")
    bob = FarEnd(ports.port(), ports.range(2)[0])
    try:
        ctl = rtmp_client()
        old = dial_connected(ctl, bob.uri())
        before = len(ctl.statuses())
        cseq = bob.refer(f"\"Carol\" <{carol.uri()}>")
        assert bob.response_to(cseq).startswith("SIP/2.0 202"), bob.response_to(cseq)
        # The gateway calls the target for the same client.
        carol.wait(lambda m: m.startswith("INVITE "), 10, "INVITE from the gateway")
        ev = wait_transfer(ctl, "accepted")
        assert ev["call_id"] == old["call_id"] and ev.get("target") == carol.uri(), ev
        new4 = ctl.wait_status(4, 15, after=before)
        assert new4["call_id"] != old["call_id"], new4
        sts = [(int(s["status_code"]), s["call_id"] == old["call_id"]) for s in ctl.statuses()[before:]]
        assert sts[0] == (0, True), f"the old call should end first: {sts}"
        assert (1, False) in sts and (2, False) in sts, sts
        # NOTIFYs to bob: 100 Trying (active), then 200 OK (terminated); then bob gets a BYE.
        bob.wait(lambda m: m.startswith("NOTIFY ") and "200 OK" in body(m), 10, "final NOTIFY")
        notifies = bob.requests("NOTIFY")
        assert body(notifies[0]).startswith("SIP/2.0 100"), notifies[0]
        assert header(notifies[0], "Subscription-State").startswith("active"), notifies[0]
        assert header(notifies[-1], "Subscription-State").startswith("terminated"), notifies[-1]
        assert header(notifies[-1], "Event") == "refer", notifies[-1]
        assert header(notifies[-1], "Content-Type") == "message/sipfrag", notifies[-1]
        bob.wait(lambda m: m.startswith("BYE "), 5, "BYE after the final NOTIFY")
        # The client hears the new far end.
        played = out_dir / "played.flv"
        player = media.librtmp_play(procs, gateway.url(new4["play"]), played, 4.5)
        time.sleep(0.5)
        carol.send_tone(TONE_HZ, 3).join(8)
        media.wait_ok(player, 10, "librtmp playing the new call")
        wav = media.flv_to_wav(played, out_dir / "played.wav")
        heard = media.tonecheck(wav, TONE_HZ, 20)
        measure("SNR after a far end's REFER (dB)", heard["snr"])
        assert heard["ok"], heard["text"]
        hangup_ended(ctl)
        carol.wait(lambda m: m.startswith("BYE "), 5, "BYE to the transfer target")
    finally:
        bob.close()
        carol.close()


def test_far_end_refer_outside_the_policy_is_refused(gateway, rtmp_client, ports):
    # 127.0.0.2 is outside dial_allow (sip:*@127.0.0.1).
    evil = FarEnd(ports.port(), ports.range(2)[0], host="127.0.0.2", user="carol")
    local = FarEnd(ports.port(), ports.range(2)[0], user="dave")
    bob = FarEnd(ports.port(), ports.range(2)[0])
    try:
        ctl = rtmp_client()
        dial_connected(ctl, bob.uri())
        before = len(ctl.statuses())
        cases = [
            (f"<{evil.uri()}>", "403"),
            ("<sip:carol@example.com>", "403"),
            (None, "400"),
            ("<tel:+15551234>", "400"),
            # Embedded headers other than Replaces (attended transfer: test_dialog_updates.py).
            (f"<{local.uri()}?Subject=hi>", "400"),
        ]
        for refer_to, want in cases:
            cseq = bob.refer(refer_to)
            got = bob.response_to(cseq)
            assert got.split()[1] == want, f"Refer-To {refer_to!r}: {got.splitlines()[0]}"
        time.sleep(1.0)
        assert not evil.requests("INVITE") and not local.requests("INVITE"), "a refused REFER was dialled"
        assert not bob.requests("NOTIFY"), "a refused REFER got NOTIFYs"
        assert ctl.status_codes()[before:] == [], f"the call did not stay up: {ctl.dump()}"
        assert not transfers(ctl)
        log = gateway.log.read_text(errors="replace")
        assert "127.0.0.2" not in "".join(l for l in log.splitlines() if "INVITE sent" in l)
        hangup_ended(ctl)
    finally:
        bob.close()
        evil.close()
        local.close()
