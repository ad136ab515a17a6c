"""Dial and register attacks against the shipped policy (issue 9, items 1 and 2).

The gateway here runs with NO [policy] section, so it uses the binary's built-in defaults, which are the
shipped config/gateway.toml values (dial_allow = ["sip:echo@*", "sip:*@127.0.0.1"], registrar_allow =
["sip:*@127.0.0.1"]; before the fix: dial_allow = ["sip:echo@*", "sip:*@127.0.0.1*"] and no registrar
check). Python UDP sockets stand in for far ends and registrars; nothing leaves loopback (a name under
.invalid never resolves). After each attack a fresh client still completes an echo call."""
import socket
import time

import pytest

from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.gateway import Gateway


@pytest.fixture(scope="module")
def gateway(ports, tmp_path_factory):
    """The gateway with the built-in (shipped) [policy]: the generated config's policy section is removed."""
    gw = Gateway(tmp_path_factory.mktemp("gw-security-dial"), ports)
    gw.config.pop("policy", None)
    from helpers.gateway import to_toml
    gw.config_path.write_text(to_toml(gw.config))
    try:
        gw.start()
    except AssertionError as e:
        gw.stop()
        pytest.fail(str(e), pytrace=False)
    yield gw
    gw.stop()


def still_serves(rtmp_client):
    c = rtmp_client()
    dial_connected(c, "sip:echo@x")
    hangup_ended(c)
    c.close()


class FarEnd:
    """A UDP socket that records the SIP requests it receives (and never answers)."""

    def __init__(self, host: str, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = port

    def first(self, timeout: float):
        """The first datagram as text, or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
            return data.decode("utf-8", "replace")
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()


@pytest.fixture
def far_end(ports):
    made = []

    def make(host="127.0.0.1"):
        f = FarEnd(host, ports.port())
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


def header_lines(msg: str) -> list:
    head = msg.split("\r\n\r\n", 1)[0]
    return head.split("\r\n")


def dial_outcome(ctl, far, uri: str, wait: float = 5.0):
    """dial(uri): returns ("error", info) if refused at once, else ("invite", text) or ("nothing", None)."""
    txn = ctl.call("dial", uri)
    deadline = time.time() + wait
    while time.time() < deadline:
        replies = [r for r in ctl.replies_to(txn) if r.method == "_error"]
        if replies:
            return "error", replies[0].info
        msg = far.first(0.2)
        if msg is not None:
            return "invite", msg
    return "nothing", None


def end_call(ctl):
    """Hang up whatever the attack started (the far end never answers)."""
    txn = ctl.call("hangup")
    ctl.reply(txn, 5)


def test_host_suffix_is_not_the_allowed_host(gateway, rtmp_client):
    """(a) `sip:*@127.0.0.1` must not allow a name that merely begins with 127.0.0.1."""
    ctl = rtmp_client()
    info = dial_error(ctl, "sip:x@127.0.0.1.evil.invalid")
    assert info.get("code") == "Sono.Call.Forbidden", info
    assert not ctl.statuses(), ctl.dump()
    still_serves(rtmp_client)


def test_crlf_in_dial_never_reaches_the_wire(gateway, rtmp_client, far_end):
    """(b) A CRLF in the dial string must not become a header line of the INVITE."""
    far = far_end()
    ctl = rtmp_client()
    uri = f"sip:bob@127.0.0.1:{far.port};x=1\r\nX-Injected: yes"
    kind, got = dial_outcome(ctl, far, uri)
    if kind == "error":
        assert got.get("code") == "Sono.Call.NoUri", got
        assert "control character" in got.get("description", ""), got
        assert far.first(1.0) is None, "refused, yet something was sent"
    else:
        assert kind == "invite", f"neither refused nor sent: {ctl.dump()}"
        lines = header_lines(got)
        assert not any(l.lower().startswith("x-injected") for l in lines), got
        canonical = f"sip:bob@127.0.0.1:{far.port}"
        assert lines[0] == f"INVITE {canonical} SIP/2.0", got
        to = [l for l in lines if l.lower().startswith(("to:", "t:"))]
        assert to and f"<{canonical}>" in to[0], got
        end_call(ctl)
    still_serves(rtmp_client)


def test_register_at_outside_registrar_refused(gateway, rtmp_client, far_end):
    """(c) register(u, 127.0.0.2:P, pw) with the shipped registrar_allow: _error, and no REGISTER sent."""
    reg = far_end("127.0.0.2")
    ctl = rtmp_client()
    txn = ctl.call("register", "u", f"127.0.0.2:{reg.port}", "pw")
    res = ctl.reply(txn, 5)
    msg = reg.first(3.0)
    assert res.method == "_error", f"register at 127.0.0.2 was accepted: {res!r}"
    assert res.info.get("code") == "Sono.Registration.Failed", res
    assert "registrar policy" in res.info.get("description", ""), res
    assert msg is None, f"a REGISTER reached 127.0.0.2:\n{msg}"
    still_serves(rtmp_client)


def test_register_on_loopback_still_allowed(gateway, rtmp_client, far_end):
    """The shipped registrar_allow still lets a client register at 127.0.0.1 (the Kamailio tests)."""
    reg = far_end()
    ctl = rtmp_client()
    txn = ctl.call("register", "u", f"127.0.0.1:{reg.port}", "pw")
    res = ctl.reply(txn, 5)
    assert res.method == "_result", res
    msg = reg.first(5.0)
    assert msg is not None and msg.startswith(f"REGISTER sip:127.0.0.1:{reg.port} SIP/2.0"), msg
    ctl.call("unregister")


def test_uri_parameters_are_not_forwarded(gateway, rtmp_client, far_end):
    """(d) Parameters outside the allow list (maddr would redirect the request, RFC 3261 §19.1.1) are
    dropped: the INVITE's Request-URI is the canonical URI plus transport only."""
    far = far_end()
    ctl = rtmp_client()
    kind, got = dial_outcome(ctl, far, f"sip:bob@127.0.0.1:{far.port};maddr=10.0.0.1;lr;transport=udp")
    assert kind == "invite", f"dial was not placed: {got} {ctl.dump()}"
    lines = header_lines(got)
    assert lines[0] == f"INVITE sip:bob@127.0.0.1:{far.port};transport=UDP SIP/2.0", got
    assert "maddr" not in got, got
    end_call(ctl)
    still_serves(rtmp_client)


def test_port_trick_on_suffix_host(gateway, rtmp_client):
    """(d) A port after a look-alike host is still that host, and escapes do not build a host."""
    ctl = rtmp_client()
    info = dial_error(ctl, "sip:x@127.0.0.1.evil.invalid:5060")
    assert info.get("code") == "Sono.Call.Forbidden", info
    info = dial_error(ctl, "sip:x@127.0.0.1%2eevil.invalid")
    assert info.get("code") in ("Sono.Call.NoUri", "Sono.Call.Forbidden"), info
    assert not ctl.statuses(), ctl.dump()
    still_serves(rtmp_client)
