"""Registration at a real registrar on behalf of an RTMP client: `register(user, registrar, password)` makes the
gateway REGISTER at Kamailio 5.6 (tests/peers/kamailio: digest auth with qop=auth, MD5 or SHA-256 per RFC 8760,
one contact per AoR) with a Contact `sip:<token>@<gateway SIP address>`, where the token is `r` + 20 base32
characters; the client gets `_result {uri}` and then `Sono.Registration.Status` events (status registered /
failed / expired / unregistered, uri, sip_code, reason, expires).

Kamailio's own view is the judge: `kamcmd ul.dump` for the bindings, and its log line per accepted REGISTER
(Call-ID, CSeq, Expires, the Authorization header) for refreshes and the digest algorithm."""
import re
import signal
import time

import pytest

from helpers.kamailio import Kamailio
from helpers.rtmp_control import RtmpControl

REG = "Sono.Registration.Status"
USER, PASSWORD = "rtmpuser", "secret"
CONTACT = re.compile(r"sip:(r[a-z2-7]{20})@127\.0\.0\.1:(\d+)")
#: A password that must never show up in the gateway's log (which runs at debug level).
SECRET_WRONG = "Wr0ng-pw-must-not-be-logged-7f3a"


@pytest.fixture
def kamailio(procs, out_dir, ports):
    """Factory: kamailio(algorithm="MD5", min_expires=5, max_expires=3600) -> a started Kamailio."""
    def make(**kw) -> Kamailio:
        return Kamailio(procs, out_dir, ports, **kw).start()
    return make


def reg_events(c: RtmpControl) -> list:
    """Info objects of all Sono.Registration.Status events so far."""
    with c._cond:
        return [i.info for i in c.invokes if i.method == "onStatus" and i.info.get("code") == REG]


def wait_reg(c: RtmpControl, status: str, timeout: float) -> dict:
    inv = c.wait_for(lambda i: i.method == "onStatus" and i.info.get("code") == REG
                     and i.info.get("status") == status, timeout, what=f"{REG} {status}")
    return inv.info


def result_uri(res) -> str:
    """The `uri` of register's _result (in its info object, or its command object)."""
    for o in (res.info, res.obj if isinstance(res.obj, dict) else {}):
        if "uri" in o:
            return o["uri"]
    raise AssertionError(f"register's _result carries no uri: {res!r}")


def register(c: RtmpControl, registrar: str, user: str = USER, password: str = PASSWORD) -> str:
    """Invoke register(user, registrar, password); expect _result {uri}; return the uri."""
    txn = c.call("register", user, registrar, password)
    res = c.reply(txn, 5)
    assert res.method == "_result", f"register was refused: {res!r}"
    uri = result_uri(res)
    assert uri.startswith(f"sip:{user}@127.0.0.1"), uri
    return uri


def registered(c: RtmpControl, k: Kamailio, user: str = USER, timeout: float = 10) -> tuple:
    """Wait for status registered and for Kamailio's binding; return (event info, binding)."""
    st = wait_reg(c, "registered", timeout)
    b = k.wait_bindings(user, lambda b: len(b) == 1, 5, what="one binding")
    return st, b[0]


@pytest.mark.parametrize("algorithm,form", [("MD5", "host:port"), ("SHA-256", "sip-uri")])
def test_register_creates_binding_at_gateway_contact(gateway, rtmp_client, kamailio, algorithm, form):
    k = kamailio(algorithm=algorithm, max_expires=600)
    c = rtmp_client()
    registrar = k.registrar if form == "host:port" else f"sip:{k.registrar}"
    uri = register(c, registrar)
    st, b = registered(c, k)
    assert st.get("uri") == uri, st
    assert int(st.get("expires", -1)) == 600, f"the granted lifetime (max_expires 600) must be reported: {st}"
    m = CONTACT.fullmatch(b["address"])
    assert m, f"Contact must be sip:<r + 20 base32>@127.0.0.1:<gateway SIP port>: {b}"
    assert int(m.group(2)) == gateway.sip_port, f"Contact port {m.group(2)} != gateway {gateway.sip_port}"
    assert 590 <= b["expires"] <= 600, b
    accepted = k.registered(USER)
    assert accepted, k.register_log()
    auth = accepted[-1]["auth"]
    assert f"algorithm={algorithm}" in auth and "qop=auth" in auth.replace('"', ""), \
        f"credentials must answer the {algorithm} qop=auth challenge: {auth}"
    assert [e["status"] for e in reg_events(c)] == ["registered"], reg_events(c)


def test_interval_too_brief_uses_min_expires(gateway_factory, kamailio):
    """The gateway asks 60 s ([sip] register_expires_s = 60); Kamailio's min_expires is 120 with
    min_expires_mode 1, so it answers 423 with Min-Expires: 120 (RFC 3261 10.2.8): the gateway retries at once
    asking 120 s and is registered for 120 s."""
    k = kamailio(min_expires=120)
    gw = gateway_factory({"sip": {"register_expires_s": 60}}, name="gw_reg_423")
    c = RtmpControl(gw.url())
    try:
        register(c, k.registrar)
        st, b = registered(c, k)
        assert int(st.get("expires", -1)) == 120, st
        assert 110 <= b["expires"] <= 120, b
        acc = k.registered(USER)
        assert [a["expires"] for a in acc] == ["120"], f"one accepted REGISTER, asking 120: {acc}"
        reqs = [ln for ln in k.register_log() if "REQ REGISTER" in ln]
        assert len(reqs) == 4, "expected 60 s -> 401, 60 s + credentials -> 423, 120 s -> 401, " \
            "120 s + credentials -> 200:\n" + "\n".join(k.register_log())
        assert not [e for e in reg_events(c) if e.get("status") == "failed"], reg_events(c)
    finally:
        c.close()


def test_wrong_password_fails_once(gateway, rtmp_client, kamailio):
    k = kamailio()
    c = rtmp_client()
    t0 = time.monotonic()
    offset = gateway.log_size()
    register(c, k.registrar, password=SECRET_WRONG)
    st = wait_reg(c, "failed", 10)
    took = time.monotonic() - t0
    assert int(st.get("sip_code", 0)) in (401, 403), st
    assert took < 5, f"failed must come promptly, came after {took:.1f} s"
    assert k.bindings(USER) == []
    time.sleep(3)
    assert k.auth_failures(USER) == 2, \
        "exactly one plain REGISTER and one with credentials, no retries:\n" + "\n".join(k.register_log())
    assert not [e for e in reg_events(c) if e.get("status") == "registered"], reg_events(c)
    assert SECRET_WRONG not in gateway.log_since(offset, max_lines=100000), "the password is in the gateway log"


def test_refresh_before_expiry(gateway, rtmp_client, kamailio):
    """Kamailio grants at most 10 s (max_expires), whatever the gateway asks: the refresh comes about 5 s
    later (half-way), with the same Call-ID and a higher CSeq, and renews the binding."""
    k = kamailio(max_expires=10)
    c = rtmp_client()
    register(c, k.registrar)
    st, b = registered(c, k)
    assert int(st.get("expires", -1)) == 10, st
    first = k.registered(USER)
    assert len(first) == 1, first
    t0 = time.monotonic()
    deadline = t0 + 8
    while len(k.registered(USER)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    took = time.monotonic() - t0
    acc = k.registered(USER)
    assert len(acc) >= 2, "no refresh within 8 s of a 10 s grant:\n" + "\n".join(k.register_log())
    assert 3.5 <= took <= 7, f"the refresh of a 10 s grant should come after about 5 s, came after {took:.1f} s"
    assert len({a["callid"] for a in acc}) == 1, f"refreshes must keep the Call-ID: {acc}"
    cseqs = [a["cseq"] for a in acc]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs), f"CSeq must grow: {cseqs}"
    assert all(a["expires"] != "0" for a in acc), acc
    b2 = k.wait_bindings(USER, lambda b: len(b) == 1, 2)[0]
    assert b2["address"] == b["address"], (b, b2)
    assert b2["cseq"] > b["cseq"] and b2["expires"] >= 8, f"binding must be renewed: {b} -> {b2}"
    time.sleep(6)
    assert len(k.registered(USER)) >= 3, "refreshes go on:\n" + "\n".join(k.register_log())
    statuses = [e.get("status") for e in reg_events(c)]
    assert "expired" not in statuses and "failed" not in statuses, reg_events(c)
    assert len(k.bindings(USER)) == 1


def test_unregister_removes_binding(gateway, rtmp_client, kamailio):
    k = kamailio(algorithm="SHA-256")
    c = rtmp_client()
    register(c, k.registrar)
    registered(c, k)
    t0 = time.monotonic()
    txn = c.call("unregister")
    res = c.reply(txn, 6)
    assert res.method == "_result", res
    wait_reg(c, "unregistered", 6)
    k.wait_bindings(USER, lambda b: not b, 5, what="binding removal")
    assert time.monotonic() - t0 < 6
    last = k.registered(USER)[-1]
    assert last["expires"] == "0", f"unregister must send Expires: 0: {last}"


def test_disconnect_removes_binding(gateway, kamailio):
    k = kamailio()
    c = RtmpControl(gateway.url())
    try:
        register(c, k.registrar)
        registered(c, k)
    finally:
        c.close()
    k.wait_bindings(USER, lambda b: not b, 8, what="binding removal after the RTMP connection closed")
    assert k.registered(USER)[-1]["expires"] == "0"


def test_two_clients_get_separate_contacts(gateway, rtmp_client, kamailio):
    k = kamailio()
    a, b = rtmp_client(), rtmp_client()
    register(a, k.registrar, "alice", "alicepw")
    register(b, k.registrar, "bob", "bobpw")
    _, ba = registered(a, k, "alice")
    _, bb = registered(b, k, "bob")
    ta, tb = CONTACT.fullmatch(ba["address"]), CONTACT.fullmatch(bb["address"])
    assert ta and tb and ta.group(1) != tb.group(1), (ba, bb)
    b.close()
    k.wait_bindings("bob", lambda x: not x, 8, what="bob's binding removal")
    assert len(k.bindings("alice")) == 1, "alice's registration must not be touched by bob's disconnect"


def test_hostile_strings_do_not_reach_sip_headers(gateway, rtmp_client, kamailio):
    """A display name with CRLF and a quote is cleaned (the REGISTER stays well-formed and succeeds); an
    auth_user that would break out of its quoted-string is refused at once (_error
    Sono.Registration.Failed), and nothing is sent for it."""
    k = kamailio()
    a = rtmp_client()
    txn = a.call("register", "alice", k.registrar, "alicepw", "", 'Evil" <sip:x@y>\r\nX-Injected: yes')
    assert a.reply(txn, 5).method == "_result"
    registered(a, k, "alice")
    b = rtmp_client()
    txn = b.call("register", "bob", k.registrar, "bobpw", 'bob"\r\nX-Injected: yes')
    r = b.reply(txn, 5)
    assert r.method == "_error" and r.info.get("code") == "Sono.Registration.Failed", r
    time.sleep(0.5)
    assert not [ln for ln in k.register_log() if "sip:bob@" in ln], "a REGISTER for bob was sent"
    assert "INJECTED HEADER" not in k.output(), k.output()


def test_expired_when_registrar_goes_away(gateway, rtmp_client, kamailio):
    k = kamailio(max_expires=10)
    c = rtmp_client()
    register(c, k.registrar)
    registered(c, k)
    t0 = time.monotonic()
    k.stop()
    st = wait_reg(c, "expired", 16)
    took = time.monotonic() - t0
    assert took <= 12, f"the 10 s binding should be reported expired about 10 s after it was granted ({took:.1f} s)"
    assert st.get("uri"), st


def test_gateway_shutdown_unregisters(gateway_factory, kamailio):
    k = kamailio()
    gw = gateway_factory(name="gw_reg_shutdown")
    c = RtmpControl(gw.url())
    try:
        register(c, k.registrar)
        registered(c, k)
        gw.proc.send_signal(signal.SIGTERM)
        rc = gw.proc.wait(8)
        assert rc == 0, f"gateway exit code after SIGTERM: {rc}\n" + gw.log_since(0)
        assert k.bindings(USER) == [], "the gateway must unregister before it exits:\n" + \
            "\n".join(k.register_log())
        assert k.registered(USER)[-1]["expires"] == "0"
    finally:
        c.close()
