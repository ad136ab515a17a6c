"""The HTTP listener ([http] listen): the web phone's files, and RTMP over WebSocket at GET /rtmp (the
byte-stream tunnel: binary messages carry the RTMP bytes, boundaries mean nothing) into the same
connection code as TCP, under the same [limits]. Also: the Origin check (403), text frames (close 1003),
oversized frames, wss:// and https:// with a test certificate made by openssl, per-IP admission.

The WebSocket client is tests/e2e/helpers/ws_raw.py (raw RFC 6455, so the tests control every byte);
the RTMP on top is the raw client of rtmp_raw.py. After every attack the gateway must still complete a
normal echo call (status 4) over a WebSocket."""
import os
import socket
import ssl
import time

import pytest

from helpers.gateway import Gateway
from helpers.rtmp_raw import TYPE_COMMAND_AMF0, RawRtmp, amf0, chunk, command
from helpers.tls_cert import make_cert
from helpers.ws_raw import OP_BINARY, OP_TEXT, HttpRefused, WsClient, WsRtmp, http_get

ECHO = "sip:echo@127.0.0.1"


def start_web_gateway(out, ports, http_port: int, extra: dict = None) -> Gateway:
    overrides = {"http": {"listen": [f"127.0.0.1:{http_port}"]}}
    for sec, keys in (extra or {}).items():
        overrides.setdefault(sec, {}).update(keys)
    gw = Gateway(out, ports, overrides)
    gw.http_port = http_port
    return gw.start()   # waits for the HTTP listener too


@pytest.fixture(scope="module")
def web(ports, tmp_path_factory):
    """A gateway with [http] listen on loopback (plain HTTP)."""
    gw = start_web_gateway(tmp_path_factory.mktemp("gw-http"), ports, ports.port())
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _web_alive(request):
    yield
    if "web" in request.fixturenames:
        gw = request.getfixturevalue("web")
        assert gw.alive(), f"rtmp2sip died during the test; log {gw.log}"


def is_status(code: int):
    return lambda n, v: (n == "onStatus" and len(v) > 1 and isinstance(v[1], dict)
                         and v[1].get("code") == "Sono.Call.Status" and v[1].get("status_code") == code)


def echo_call(raw: RawRtmp, what: str):
    """connect, dial the echo destination to status 4, hang up to status 0."""
    raw.connect()
    raw.send(command("dial", 2, ECHO))
    s4 = raw.wait_command(is_status(4), 15)
    assert s4, f"{what}: no Sono.Call.Status 4 for dial({ECHO!r})"
    info = s4[2][1]
    assert info.get("publish") and info.get("play"), f"{what}: status 4 without stream names: {info}"
    raw.send(command("hangup", 3))
    assert raw.wait_command(is_status(0), 10), f"{what}: no status 0 after hangup"
    return info


def normal_call_still_works(gw, tls=False):
    raw = WsRtmp(gw.http_port, tls=tls)
    try:
        echo_call(raw, "after the attack, a normal call over WebSocket")
    finally:
        raw.close()


# ---------- the files ----------

def test_page_sdk_and_example_are_served(web):
    p = web.http_port
    for path, ctype, needle in [("/", "text/html", b"<html"),
                                ("/rtmp2sip-phone.js", "text/javascript", b"export"),
                                ("/examples/invisible.html", "text/html", b"rtmp2sip-phone.js")]:
        status, h, body = http_get(p, path)
        assert status == 200, f"GET {path}: {status}"
        assert h.get("content-type", "").startswith(ctype), f"GET {path}: content-type {h}"
        assert h.get("cache-control") == "no-cache", f"GET {path}: {h}"
        assert needle in body, f"GET {path}: body lacks {needle!r}"
        assert int(h.get("content-length", -1)) == len(body)
    status, h, body = http_get(p, "/rtmp2sip-phone.js", method="HEAD")
    assert status == 200 and body == b"" and int(h["content-length"]) > 1000, (status, h, body[:50])
    for path in ["/nope", "/rtmp2sip-phone.js/x", "/../Cargo.toml", "/flash_phone/web/index.html"]:
        assert http_get(p, path)[0] == 404, path
    assert http_get(p, "/", method="POST", headers={"Content-Length": "0"})[0] == 405
    assert http_get(p, "/", method="DELETE")[0] == 405
    # /rtmp without an upgrade is not a file either
    assert http_get(p, "/rtmp")[0] in (400, 426)


# ---------- RTMP over WebSocket ----------

def test_rtmp_over_websocket_echo_call(web):
    raw = WsRtmp(web.http_port, split=7)   # the handshake in 7-byte messages: boundaries mean nothing
    try:
        assert raw.ws.protocol == "binary", f"subprotocol: {raw.ws.headers}"
        echo_call(raw, "RTMP over WebSocket")
    finally:
        raw.close()
    # and the same with one message per write
    raw = WsRtmp(web.http_port)
    try:
        echo_call(raw, "RTMP over WebSocket, unsplit")
    finally:
        raw.close()


def test_no_subprotocol_offered_none_selected(web):
    ws = WsClient(web.http_port, protocols=())
    try:
        assert ws.protocol is None, ws.headers
        ws.send_frame(OP_BINARY, b"\x03" + bytes(1535))
        ws.send_frame(OP_BINARY, bytes(1))
        got = b""
        deadline = time.monotonic() + 5
        while len(got) < 3073 and time.monotonic() < deadline:
            got += ws.recv_bytes(deadline - time.monotonic())
        assert got[:1] == b"\x03" and len(got) >= 3073, f"S0+S1+S2 over the WebSocket: {len(got)} bytes"
    finally:
        ws.close()


def test_same_origin_and_no_origin_pass(web):
    for origin in [None, f"http://127.0.0.1:{web.http_port}"]:
        ws = WsClient(web.http_port, origin=origin)
        ws.close()


def test_refused_origin_gets_403(web):
    for origin in ["http://evil.example", f"http://127.0.0.1:{web.http_port + 1}", "null",
                   f"https://127.0.0.1:{web.http_port}.evil.example"]:
        with pytest.raises(HttpRefused) as e:
            WsClient(web.http_port, origin=origin)
        assert e.value.status == 403, f"Origin {origin}: {e.value}"
    normal_call_still_works(web)


def test_allowed_origins_list(ports, tmp_path_factory):
    """[http] allowed_origins = ["https://app.example.com"]: that page may connect, no other (not even
    the gateway's own origin)."""
    gw = start_web_gateway(tmp_path_factory.mktemp("gw-http-origins"), ports, ports.port(),
                           {"http": {"allowed_origins": ["https://app.example.com"]}})
    try:
        raw = WsRtmp(gw.http_port, origin="https://App.Example.com")
        try:
            echo_call(raw, "from an allowed origin")
        finally:
            raw.close()
        for origin in [f"http://127.0.0.1:{gw.http_port}", "https://app.example.com.evil.example",
                       "http://app.example.com"]:
            with pytest.raises(HttpRefused) as e:
                WsClient(gw.http_port, origin=origin)
            assert e.value.status == 403, f"Origin {origin}: {e.value}"
    finally:
        gw.stop()


def test_text_frame_closes_with_1003(web):
    ws = WsClient(web.http_port)
    try:
        ws.send_frame(OP_TEXT, b"hello")
        assert ws.wait_close(5) == 1003
    finally:
        ws.close()
    # also after the RTMP connect
    raw = WsRtmp(web.http_port)
    try:
        raw.connect()
        raw.ws.send_frame(OP_TEXT, b"{}")
        assert raw.ws.wait_close(5) == 1003
    finally:
        raw.close()
    normal_call_still_works(web)


def test_oversized_frame_is_refused_without_reading_it(web):
    """A frame header claiming 1 GiB: the gateway closes (1009) instead of buffering it."""
    ws = WsClient(web.http_port)
    try:
        ws.s.sendall(bytes([0x82, 0xFF]) + (1 << 30).to_bytes(8, "big") + bytes(4) + bytes(4096))
        code = ws.wait_close(5)
        assert code in (1009, None), f"close code {code}"
    finally:
        ws.close()
    # a message made of many small fragments, 64 KiB + more, is refused the same way
    ws = WsClient(web.http_port)
    try:
        for i in range(20):
            ws.send_frame(OP_BINARY if i == 0 else 0, bytes(4096), fin=False)
        code = ws.wait_close(5)
        assert code in (1009, None), f"close code {code}"
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        ws.close()
    normal_call_still_works(web)


def test_slow_request_head_is_dropped(ports, tmp_path_factory):
    """An HTTP connection that never finishes its request head is closed after
    [limits] handshake_timeout_s and gives its per-IP slot back."""
    gw = start_web_gateway(tmp_path_factory.mktemp("gw-http-slow"), ports, ports.port(),
                           {"limits": {"handshake_timeout_s": 2, "max_connections_per_ip": 2}})
    try:
        socks = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")   # never ends
            socks.append(s)
        t0 = time.monotonic()
        for s in socks:
            s.settimeout(6)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        assert time.monotonic() - t0 < 5, "slow request heads were not dropped in time"
        for s in socks:
            s.close()
        time.sleep(0.2)
        normal_call_still_works(gw)
    finally:
        gw.stop()


def test_per_ip_admission_applies_to_websockets(ports, tmp_path_factory):
    gw = start_web_gateway(tmp_path_factory.mktemp("gw-http-perip"), ports, ports.port(),
                           {"limits": {"max_connections_per_ip": 3}})
    try:
        held = [WsRtmp(gw.http_port) for _ in range(2)] + [RawRtmp(gw.rtmp_port)]
        # the 4th connection from this address is refused, over WebSocket and over TCP alike
        with pytest.raises((ConnectionError, OSError)):
            WsClient(gw.http_port)
        with pytest.raises((ConnectionError, OSError)):
            RawRtmp(gw.rtmp_port, timeout=3)
        assert http_get(gw.http_port, "/")[0] == 0, "a plain HTTP request got an answer over the limit"
        held.pop(0).close()
        time.sleep(0.3)
        normal_call_still_works(gw)
        for h in held:
            h.close()
    finally:
        gw.stop()


def test_jwt_gate_applies_over_websocket(ports, tmp_path_factory):
    """[auth] mode = "jwt": a WebSocket client without a token is rejected at connect, with one it calls."""
    import jwt
    d = tmp_path_factory.mktemp("gw-http-jwt")
    secret = os.urandom(32).hex()
    (d / "jwt.secret").write_text(secret + "\n")
    gw = start_web_gateway(d, ports, ports.port(),
                           {"auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(d / "jwt.secret")}})
    try:
        raw = WsRtmp(gw.http_port)
        try:
            raw.send(chunk(3, TYPE_COMMAND_AMF0, 0, amf0("connect") + amf0(1) + amf0({"app": "phone"})))
            r = raw.wait_command(lambda n, v: n in ("_result", "_error"))
            assert r and r[0] == "_error", f"connect without a token over WebSocket: {r}"
        finally:
            raw.close()
        now = int(time.time())
        tok = jwt.encode({"sub": "alice", "iat": now, "exp": now + 300}, secret, algorithm="HS256")
        raw = WsRtmp(gw.http_port)
        try:
            raw.send(chunk(3, TYPE_COMMAND_AMF0, 0,
                           amf0("connect") + amf0(1) + amf0({"app": "phone"}) + amf0(tok)))
            r = raw.wait_command(lambda n, v: n in ("_result", "_error"))
            assert r and r[0] == "_result", f"connect with a token over WebSocket: {r}"
            raw.send(command("dial", 2, ECHO))
            assert raw.wait_command(is_status(4), 15), "no status 4 with a token"
        finally:
            raw.close()
    finally:
        gw.stop()


# ---------- TLS: https:// and wss:// ----------

def test_wss_and_https_with_a_test_certificate(ports, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-https")
    cert, key = make_cert(d / "tls")
    gw = start_web_gateway(d, ports, ports.port(),
                           {"http": {"tls_cert": str(cert), "tls_key": str(key)}})
    try:
        status, h, body = http_get(gw.http_port, "/", tls=True)
        assert status == 200 and b"<html" in body, (status, h)
        raw = WsRtmp(gw.http_port, tls=True, origin=f"https://127.0.0.1:{gw.http_port}")
        try:
            echo_call(raw, "RTMP over wss://")
        finally:
            raw.close()
        with pytest.raises(HttpRefused) as e:
            WsClient(gw.http_port, tls=True, origin="https://evil.example")
        assert e.value.status == 403
        # plain HTTP to the TLS port gets no HTTP answer
        status, _, _ = http_get(gw.http_port, "/")
        assert status != 200
        # the certificate served is the test one
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", gw.http_port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                assert t.version() in ("TLSv1.2", "TLSv1.3")
                assert t.selected_alpn_protocol() in (None, "http/1.1")
        normal_call_still_works(gw, tls=True)
    finally:
        gw.stop()
