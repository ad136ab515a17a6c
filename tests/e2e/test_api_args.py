"""The RTMP API's arguments are checked before the call state sees them (call::connection::ApiCommand):
each bad argument gets its own `_error` code, and the call it concerns is left as it was.

Covers: reject() with a code that is not an integer 4xx-6xx Number (a string, a fraction, 70000) is
refused and the call keeps ringing, then reject(486) reaches the caller; hold(), unhold() and
transfer(uri) are known methods (Sono.Call.NoCall / Sono.Call.Failed without a connected call, Sono.Call.NoUri for a
transfer target that is not a SIP URI, Sono.Call.Forbidden outside [policy] dial_allow), no longer
`NetConnection.Call.Failed`. No SIP traffic leaves 127.0.0.1."""
from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.incoming import answer, event, register_local, user_of
from helpers.sipp import Sipp

GATEWAY_OVERRIDES = {"policy": {"dial_allow": ["sip:echo@*", "sip:*@127.0.0.1"]}}


def error_code(ctl, method, *args) -> str:
    txn = ctl.call(method, *args)
    r = ctl.reply(txn)
    assert r.method == "_error", f"{method}{args!r} should get _error, got {r!r}\n{ctl.dump()}"
    assert r.info.get("level") == "error", r
    return r.info.get("code")


def test_reject_with_a_bad_code_keeps_the_call_ringing(gateway, rtmp_client, procs, out_dir, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name="sipp_uac", subst={"@CODE@": 486})
    sipp.keys.update({"fromuser": "alice"})
    sipp.extra += ["-s", user_of(uri)]
    mark = len(ctl.invokes)
    sipp.start(f"127.0.0.1:{gateway.sip_port}")
    event(ctl, "Sono.Call.Incoming", 10, after=mark)
    # The old gateway took a non-Number as "no code" (603) and cut fractions.
    for bad in ("486", 486.5, 70000.0, 200.0):
        assert error_code(ctl, "reject", bad) == "Sono.Call.Failed", bad
    before = len(ctl.statuses())
    answer(ctl, "reject", 486)
    assert sipp.wait_exit(15) == 0, "the caller should get 486:\n" + sipp.report()
    s0 = ended_info(ctl, before, require=("sip_code",))
    assert s0["sip_code"] == 486, s0


def test_hold_unhold_transfer_are_api_commands(gateway, rtmp_client):
    ctl = rtmp_client()
    for method in ("hold", "unhold"):
        assert error_code(ctl, method) == "Sono.Call.NoCall", method
    assert error_code(ctl, "transfer", "sip:carol@127.0.0.1") == "Sono.Call.Failed"
    assert error_code(ctl, "transfer") == "Sono.Call.NoUri"
    assert error_code(ctl, "transfer", "tel:+15551234") == "Sono.Call.NoUri"
    # On the echo call (no SIP leg) there is nothing to hold; a target outside the policy is forbidden.
    dial_connected(ctl, "sip:echo@127.0.0.1")
    assert error_code(ctl, "hold") == "Sono.Call.NoCall"
    assert error_code(ctl, "transfer", "sip:carol@10.0.0.1") == "Sono.Call.Forbidden"
    assert error_code(ctl, "frobnicate") == "NetConnection.Call.Failed"
    hangup_ended(ctl)
