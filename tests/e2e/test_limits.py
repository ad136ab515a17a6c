"""[limits]: max_calls (a dial beyond it gets Sono.Call.Failed; a slot frees when a call ends),
max_connections (one more TCP connection is closed at accept; the others keep working), and
handshake_timeout_s (a client that connects and sends nothing is disconnected)."""
import socket
import time

import librtmp
import pytest

from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.ports import wait_until
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl

ECHO = "sip:echo@127.0.0.1"


def test_max_calls(gateway_factory):
    gw = gateway_factory({"limits": {"max_calls": 1}}, name="gw_max_calls")
    with RtmpControl(gw.url()) as a, RtmpControl(gw.url()) as b:
        dial_connected(a, ECHO)
        info = dial_error(b, ECHO)
        assert info.get("code") == "Sono.Call.Failed", f"dial beyond max_calls = 1: {info}\n{b.dump()}"
        assert NOT_CONNECTED not in a.status_codes(), f"A's call must go on: {a.dump()}"
        hangup_ended(a)
        dial_connected(b, ECHO)
        hangup_ended(b)
    assert gw.alive()


def closed_by_peer(s: socket.socket, within: float) -> tuple:
    """(seconds until the peer closed `s`: recv gives EOF or a reset, bytes received before that);
    fails after `within` s."""
    t0 = time.monotonic()
    got = b""
    s.settimeout(0.2)
    while time.monotonic() - t0 < within:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0, got
        if d == b"":
            return time.monotonic() - t0, got
        got += d
    raise AssertionError(f"the gateway did not close the connection within {within} s (got {len(got)} bytes)")


def test_max_connections(gateway_factory):
    gw = gateway_factory({"limits": {"max_connections": 2}}, name="gw_max_conn")
    with RtmpControl(gw.url()) as a, RtmpControl(gw.url()) as b:
        third = librtmp.RTMP(gw.url(), live=True, timeout=5)
        try:
            with pytest.raises(librtmp.RTMPError):
                third.connect()
        finally:
            third.close()
        # A raw TCP connection beyond the limit is closed at accept: no S0/S1 comes back.
        with socket.create_connection(("127.0.0.1", gw.rtmp_port), timeout=3) as raw:
            raw.sendall(b"\x03" + bytes(8) + bytes(1528))
            _, got = closed_by_peer(raw, 3)
            assert got == b"", f"a connection beyond max_connections got {len(got)} bytes of handshake"
        for c in (a, b):
            assert c.closed_reason is None, f"an accepted connection was closed: {c.dump()}"
        dial_connected(a, ECHO)
        hangup_ended(a)
        dial_connected(b, ECHO)
        hangup_ended(b)
    # Both closed: the slots are free again.
    assert wait_until(lambda: _connects(gw.url()), 5, 0.2), "no connection accepted after the others closed"
    assert gw.alive()


def _connects(url: str) -> bool:
    try:
        with RtmpControl(url, connect_timeout=3):
            return True
    except AssertionError:
        return False


def test_handshake_timeout(gateway_factory, measure):
    gw = gateway_factory({"limits": {"handshake_timeout_s": 1}}, name="gw_hs_timeout")
    with socket.create_connection(("127.0.0.1", gw.rtmp_port), timeout=3) as s:
        took, got = closed_by_peer(s, 3)
        assert got == b"", f"the gateway sent {len(got)} bytes to a client that sent nothing"
    measure("silent client disconnected after (s)", round(took, 2))
    assert took >= 0.8, f"disconnected after {took:.2f} s, before handshake_timeout_s = 1"
    # A client that completes the handshake in time is not affected.
    with RtmpControl(gw.url()) as c:
        time.sleep(1.5)
        dial_connected(c, ECHO)
        hangup_ended(c)
    assert gw.alive()
