"""A minimal WebSocket client (RFC 6455) on a plain or TLS socket, written for the tests so every byte is
under the test's control: the opening handshake with any Origin and subprotocols, masked frames out,
frames in (close codes read), and `WsRtmp`, the raw RTMP client of rtmp_raw.py over `GET /rtmp`."""
import base64
import hashlib
import os
import socket
import ssl
import struct
import time

from .rtmp_raw import RawRtmp

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10


class HttpRefused(Exception):
    """The upgrade was answered with something other than 101: .status and .head (the response head)."""

    def __init__(self, status: int, head: str):
        super().__init__(f"HTTP {status}: {head!r}")
        self.status, self.head = status, head


def open_socket(port: int, tls: bool, timeout: float):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def http_get(port: int, path: str, method: str = "GET", tls: bool = False, headers: dict = None,
             timeout: float = 5.0):
    """One HTTP/1.1 request (Connection: close): (status, {lowercase header: value}, body bytes)."""
    s = open_socket(port, tls, timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    hl = head.decode(errors="replace").split("\r\n")
    status = int(hl[0].split()[1]) if hl and len(hl[0].split()) > 1 else 0
    hdrs = {}
    for ln in hl[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


class WsClient:
    """An open WebSocket to 127.0.0.1:port`path`. `protocols` are offered in Sec-WebSocket-Protocol;
    `origin` (None: no Origin header) and `host` are sent as given. Raises HttpRefused for a non-101 answer,
    ConnectionError when the server closes without answering."""

    def __init__(self, port: int, path: str = "/rtmp", origin: str = None, protocols=("binary",),
                 tls: bool = False, host: str = None, timeout: float = 5.0):
        self.s = open_socket(port, tls, timeout)
        self.buf = b""
        self.close_code = None
        self.closed = False
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except OSError as e:
                raise ConnectionError(f"no answer to the upgrade: {e}") from e
            if not d:
                raise ConnectionError("closed without answering the upgrade")
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        head = head.decode(errors="replace")
        status = int(head.split()[1])
        if status != 101:
            raise HttpRefused(status, head)
        self.headers = {}
        for ln in head.split("\r\n")[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert self.headers.get("sec-websocket-accept") == want, f"bad Sec-WebSocket-Accept: {head}"
        self.protocol = self.headers.get("sec-websocket-protocol")

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True):
        """One masked frame (clients always mask, RFC 6455 section 5.3)."""
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(head + mask + masked)

    def _fill(self, n: int, deadline: float) -> bool:
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.s.settimeout(max(0.01, left))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                d = b""
            if not d:
                raise EOFError
            self.buf += d
        return True

    def recv_frame(self, timeout: float):
        """(opcode, payload) of the next frame, None on timeout; EOFError when the socket ends."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, i = b1 & 0x7F, 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, i = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, i = struct.unpack(">Q", self.buf[2:10])[0], 10
        if not self._fill(i + n, deadline):
            return None
        payload, self.buf = self.buf[i:i + n], self.buf[i + n:]
        return b0 & 0x0F, payload

    def recv_bytes(self, timeout: float) -> bytes:
        """Payload of the next binary frame (b"" on timeout); records a close frame's code and ends."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except EOFError:
                self.closed = True
                break
            if f is None:
                return b""
            op, payload = f
            if op == OP_BINARY:
                return payload
            if op == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = True
            elif op == OP_PING:
                self.send_frame(OP_PONG, payload)
        raise EOFError

    def wait_close(self, timeout: float):
        """Reads until the server closes; returns the close code (None if the socket just ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.recv_bytes(deadline - time.monotonic())
            except EOFError:
                return self.close_code
        raise TimeoutError(f"not closed within {timeout} s")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class _WsSocket:
    """The socket-like face RawRtmp uses (sendall, recv, settimeout, close) over a WsClient: every
    sendall is one binary message, recv returns the next binary message's payload (b"" once closed)."""

    def __init__(self, ws: WsClient):
        self.ws, self.timeout = ws, 5.0

    def settimeout(self, t):
        self.timeout = t

    def sendall(self, data: bytes):
        if self.ws.closed:
            raise BrokenPipeError("WebSocket closed")
        self.ws.send_frame(OP_BINARY, data)

    def recv(self, _n: int) -> bytes:
        deadline = time.monotonic() + (self.timeout or 5.0)
        while True:
            try:
                d = self.ws.recv_bytes(max(0.0, deadline - time.monotonic()))
            except EOFError:
                return b""
            if d:
                return d
            if time.monotonic() >= deadline:
                raise socket.timeout("timed out")

    def close(self):
        self.ws.close()


class WsRtmp(RawRtmp):
    """RawRtmp over `ws[s]://127.0.0.1:port/rtmp`: the same plain handshake and chunk stream, carried in
    binary WebSocket messages. `split` cuts what is sent into messages of that many bytes (message
    boundaries must mean nothing to the gateway)."""

    def __init__(self, port: int, tls: bool = False, origin: str = None, timeout: float = 5.0,
                 split: int = 0):
        self.ws = WsClient(port, tls=tls, origin=origin, timeout=timeout)
        self.split = split
        self.s = _WsSocket(self.ws)
        self.buf = b""
        self.closed = False
        self.peer_chunk_size = 128
        self.streams = {}
        self.c2 = b""
        self._send_split(b"\x03" + bytes(8) + os.urandom(1528))
        hs = b""
        deadline = time.monotonic() + timeout
        while len(hs) < 1 + 1536 + 1536:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed during the handshake")
            hs += d
        self.buf = hs[1 + 1536 + 1536:]
        self._send_split(hs[1:1 + 1536])

    def _send_split(self, data: bytes):
        step = self.split or len(data) or 1
        for k in range(0, len(data), step):
            self.s.sendall(data[k:k + step])

    def send(self, data: bytes):
        try:
            self._send_split(data)
            return True
        except OSError:
            self.closed = True
            return False
