"""Bad input and failing far ends: each gets the documented error or end status, and afterwards the
gateway still serves another client (a fresh connection's dial to echo connects).

No test sends traffic anywhere but 127.0.0.1: the forbidden URI is refused by policy before any SIP."""
import threading

import pytest

from helpers import rtmp_raw
from helpers.calls import dial_connected, dial_error, ended_info, hangup_ended
from helpers.ports import udp_bound
from helpers.rtmp_control import CONNECTED, NOT_CONNECTED
from helpers.sipp import Sipp

INVITE_TIMEOUT_S = 8
# Policy for this module: only loopback far ends (and echo) may be dialled; unanswered INVITEs give up
# after INVITE_TIMEOUT_S.
GATEWAY_OVERRIDES = {
    "policy": {"dial_allow": ["sip:echo@*", "sip:*@127.0.0.1"]},
    "sip": {"invite_timeout_s": INVITE_TIMEOUT_S},
}


def assert_still_serves(gateway, rtmp_client):
    """A fresh connection dials echo and reaches status 2, then hangs up cleanly."""
    c = rtmp_client()
    dial_connected(c, "sip:echo@127.0.0.1")
    hangup_ended(c)
    c.close()


def test_dial_without_uri(gateway, rtmp_client):
    ctl = rtmp_client()
    info = dial_error(ctl)
    assert info.get("code") == "Sono.Call.NoUri", f"dial() with no URI: {info}"
    assert not ctl.statuses(), f"no call should start: {ctl.dump()}"
    assert_still_serves(gateway, rtmp_client)


def test_dial_forbidden_uri(gateway, rtmp_client):
    ctl = rtmp_client()
    info = dial_error(ctl, "sip:x@10.0.0.1")
    assert info.get("code") == "Sono.Call.Forbidden", f"dial to a URI outside dial_allow: {info}"
    assert not ctl.statuses(), f"no call should start: {ctl.dump()}"
    assert_still_serves(gateway, rtmp_client)


def test_second_dial_while_call_up(gateway, rtmp_client):
    ctl = rtmp_client()
    dial_connected(ctl, "sip:echo@127.0.0.1")
    info = dial_error(ctl, "sip:echo@127.0.0.1")
    assert info.get("code") == "Sono.Call.Existing", f"second dial while a call is up: {info}"
    assert NOT_CONNECTED not in ctl.status_codes(), f"the first call must go on: {ctl.dump()}"
    hangup_ended(ctl)
    assert_still_serves(gateway, rtmp_client)


def test_unreachable_far_end(gateway, rtmp_client, ports):
    port = ports.port()
    assert not udp_bound(port)
    ctl = rtmp_client()
    txn = ctl.call("dial", f"sip:bob@127.0.0.1:{port}")
    s0 = ended_info(ctl, timeout=INVITE_TIMEOUT_S + 40)
    assert not [r for r in ctl.replies_to(txn) if r.method == "_result"], ctl.dump()
    assert int(s0["sip_code"]) in (408, 503), f"unreachable far end should end with 408 or 503: {s0}"
    assert CONNECTED not in ctl.status_codes(), ctl.dump()
    assert_still_serves(gateway, rtmp_client)


@pytest.mark.parametrize("code,reason", [(486, "Busy Here"), (404, "Not Found")])
def test_far_end_rejects(gateway, rtmp_client, procs, out_dir, ports, code, reason):
    sipp = Sipp(procs, out_dir, ports, "uas_reject.xml", subst={"@CODE@": code, "@REASON@": reason},
                name=f"sipp_{code}").start()
    ctl = rtmp_client()
    ctl.call("dial", sipp.uri("bob"))
    s0 = ended_info(ctl, timeout=15)
    assert int(s0["sip_code"]) == code, f"far end answered {code}: {s0}\n{ctl.dump()}"
    assert CONNECTED not in ctl.status_codes(), ctl.dump()
    rc = sipp.wait_exit(15)
    assert rc == 0, f"sipp should see the ACK for its {code}:\n" + sipp.report()
    assert_still_serves(gateway, rtmp_client)


def test_garbage_client_does_not_disturb_others(gateway, rtmp_client):
    errors = []

    def spam():
        try:
            for _ in range(3):
                rtmp_raw.garbage_before_handshake(gateway.rtmp_port)
                rtmp_raw.garbage_after_handshake(gateway.rtmp_port)
        except Exception as e:  # a refused connection is fine; record anything else
            errors.append(repr(e))

    threads = [threading.Thread(target=spam) for _ in range(2)]
    for t in threads:
        t.start()
    ctl = rtmp_client()
    dial_connected(ctl, "sip:echo@127.0.0.1")
    for t in threads:
        t.join(30)
    assert NOT_CONNECTED not in ctl.status_codes(), f"the good client's call was disturbed: {ctl.dump()}"
    hangup_ended(ctl)
    assert gateway.alive()
    assert_still_serves(gateway, rtmp_client)
