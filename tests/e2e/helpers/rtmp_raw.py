"""A raw TCP client that sends bytes no RTMP server should accept, for robustness tests."""
import os
import socket


def garbage_before_handshake(port: int, n: int = 4096):
    """Connect, send a bad version byte and random bytes, read what comes back until close/timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"\xff" + os.urandom(n))
            s.settimeout(2)
            while s.recv(65536):
                pass
        except OSError:
            pass


def garbage_after_handshake(port: int, n: int = 8192):
    """Plain handshake (C0 = 3, C1 = time 0, zero 0, random; C2 = S1 echoed, RTMP spec 5.2), then
    chunk-stream garbage: a type-0 chunk header claiming a 16 MiB command message, then random bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"\x03" + bytes(8) + os.urandom(1528))
            buf = b""
            while len(buf) < 1 + 1536 + 1536:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            s.sendall(buf[1:1 + 1536])
            s.sendall(b"\x03" + b"\x00\x00\x00" + b"\xff\xff\xff" + b"\x14" + b"\x00\x00\x00\x00")
            s.sendall(os.urandom(n))
            s.settimeout(2)
            while s.recv(65536):
                pass
        except OSError:
            pass


# ---- A raw RTMP client (appended for test_security_limits.py) -----------------------------------------
# Plain handshake (RTMP spec 5.2), chunk stream writing and reading (5.3), AMF0 (AMF0 spec 2.x): enough to
# send exactly the bytes an attack needs and to read the gateway's command messages.
import struct
import time

AMF_NUMBER, AMF_BOOL, AMF_STRING, AMF_OBJECT, AMF_NULL, AMF_UNDEFINED = 0, 1, 2, 3, 5, 6
AMF_ECMA_ARRAY, AMF_OBJECT_END, AMF_STRICT_ARRAY, AMF_LONG_STRING = 8, 9, 10, 12
TYPE_SET_CHUNK_SIZE, TYPE_AUDIO, TYPE_COMMAND_AMF0 = 1, 8, 20


def amf0(v) -> bytes:
    """One AMF0 value: None -> null, bool, int/float -> number, str, dict -> anonymous object."""
    if v is None:
        return bytes([AMF_NULL])
    if isinstance(v, bool):
        return bytes([AMF_BOOL, int(v)])
    if isinstance(v, (int, float)):
        return bytes([AMF_NUMBER]) + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        if len(b) > 0xFFFF:
            return bytes([AMF_LONG_STRING]) + struct.pack(">I", len(b)) + b
        return bytes([AMF_STRING]) + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = bytes([AMF_OBJECT])
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf0(x)
        return out + b"\x00\x00" + bytes([AMF_OBJECT_END])
    raise TypeError(f"no AMF0 for {v!r}")


def _amf0_decode(b: bytes, i: int):
    m = b[i]
    i += 1
    if m == AMF_NUMBER:
        return struct.unpack(">d", b[i:i + 8])[0], i + 8
    if m == AMF_BOOL:
        return bool(b[i]), i + 1
    if m == AMF_STRING:
        n = struct.unpack(">H", b[i:i + 2])[0]
        return b[i + 2:i + 2 + n].decode(errors="replace"), i + 2 + n
    if m == AMF_LONG_STRING:
        n = struct.unpack(">I", b[i:i + 4])[0]
        return b[i + 4:i + 4 + n].decode(errors="replace"), i + 4 + n
    if m in (AMF_NULL, AMF_UNDEFINED):
        return None, i
    if m in (AMF_OBJECT, AMF_ECMA_ARRAY):
        if m == AMF_ECMA_ARRAY:
            i += 4
        obj = {}
        while True:
            n = struct.unpack(">H", b[i:i + 2])[0]
            i += 2
            if n == 0 and b[i] == AMF_OBJECT_END:
                return obj, i + 1
            k = b[i:i + n].decode(errors="replace")
            obj[k], i = _amf0_decode(b, i + n)
    if m == AMF_STRICT_ARRAY:
        n = struct.unpack(">I", b[i:i + 4])[0]
        i += 4
        arr = []
        for _ in range(n):
            x, i = _amf0_decode(b, i)
            arr.append(x)
        return arr, i
    raise ValueError(f"AMF0 marker {m}")


def amf0_decode_all(b: bytes) -> list:
    out, i = [], 0
    while i < len(b):
        v, i = _amf0_decode(b, i)
        out.append(v)
    return out


def chunk(csid: int, type_id: int, stream_id: int, payload: bytes, ts: int = 0, chunk_size: int = 128,
          length: int = None) -> bytes:
    """One message as chunks (csid 2..63): a type 0 header, then type 3 continuations. `length` may claim
    more than `payload` holds (a message left incomplete)."""
    n = len(payload) if length is None else length
    out = bytes([csid]) + ts.to_bytes(3, "big") + n.to_bytes(3, "big") + bytes([type_id]) + \
        struct.pack("<I", stream_id)
    for k in range(0, max(len(payload), 1), chunk_size):
        if k:
            out += bytes([0xC0 | csid])
        out += payload[k:k + chunk_size]
    return out


def command(name: str, txn: float, *args, stream_id: int = 0, csid: int = 3) -> bytes:
    """Chunks of an AMF0 command message name(txn, null, *args)."""
    body = amf0(name) + amf0(txn) + amf0(None) + b"".join(amf0(a) for a in args)
    return chunk(csid, TYPE_COMMAND_AMF0, stream_id, body)


def connect_command(app: str = "phone") -> bytes:
    body = amf0("connect") + amf0(1) + amf0({"app": app, "objectEncoding": 0})
    return chunk(3, TYPE_COMMAND_AMF0, 0, body)


class RawRtmp:
    """A raw RTMP connection: `RawRtmp(port)` does the plain handshake (C2 included unless hold_c2), then
    `send` bytes and `wait_command` for the gateway's command messages (name, txn, values)."""

    def __init__(self, port: int, hold_c2: bool = False, timeout: float = 5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False
        self.peer_chunk_size = 128
        self.streams = {}   # csid -> [ts, length, type, stream id, partial]
        self.s.sendall(b"\x03" + bytes(8) + os.urandom(1528))
        hs = b""
        deadline = time.monotonic() + timeout
        while len(hs) < 1 + 1536 + 1536:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed during the handshake")
            hs += d
        self.buf = hs[1 + 1536 + 1536:]
        self.c2 = hs[1:1 + 1536]
        if not hold_c2:
            self.s.sendall(self.c2)
            self.c2 = b""

    def send(self, data: bytes):
        """Sends (C2 first if still held) in one write; False when the gateway has closed."""
        try:
            self.s.sendall(self.c2 + data)
            self.c2 = b""
            return True
        except OSError:
            self.closed = True
            return False

    def _recv(self, timeout: float) -> bool:
        if self.closed:
            return False
        self.s.settimeout(max(0.01, timeout))
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def _messages(self):
        """Complete messages parsed from the buffer: (type id, stream id, payload)."""
        out = []
        while self.buf:
            b = self.buf
            fmt, csid, i = b[0] >> 6, b[0] & 0x3F, 1
            if csid == 0:
                if len(b) < 2:
                    break
                csid, i = 64 + b[1], 2
            elif csid == 1:
                if len(b) < 3:
                    break
                csid, i = 64 + b[1] + 256 * b[2], 3
            hlen = (11, 7, 3, 0)[fmt]
            if len(b) < i + hlen:
                break
            st = self.streams.setdefault(csid, [0, 0, 0, 0, b""])
            h = b[i:i + hlen]
            i += hlen
            if fmt <= 2:
                ts = int.from_bytes(h[0:3], "big")
                if ts == 0xFFFFFF:
                    if len(b) < i + 4:
                        break
                    i += 4
            if fmt <= 1:
                st[1], st[2] = int.from_bytes(h[3:6], "big"), h[6]
            if fmt == 0:
                st[3] = struct.unpack("<I", h[7:11])[0]
            need = min(self.peer_chunk_size, st[1] - len(st[4]))
            if len(b) < i + need:
                break
            st[4] += b[i:i + need]
            self.buf = b[i + need:]
            if len(st[4]) >= st[1]:
                payload, st[4] = st[4], b""
                if st[2] == TYPE_SET_CHUNK_SIZE and len(payload) >= 4:
                    self.peer_chunk_size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                out.append((st[2], st[3], payload))
        return out

    def wait_command(self, pred, timeout: float = 5.0):
        """The first command message (name, txn, values, stream id) satisfying pred(name, values), or
        None when `timeout` passes or the gateway closes first."""
        deadline = time.monotonic() + timeout
        while True:
            self.inbox = getattr(self, "inbox", []) + self._messages()
            while self.inbox:
                type_id, sid, payload = self.inbox.pop(0)
                if type_id != TYPE_COMMAND_AMF0:
                    continue
                try:
                    vals = amf0_decode_all(payload)
                except (ValueError, IndexError, struct.error):
                    continue
                if len(vals) >= 2 and pred(vals[0], vals[2:]):
                    return vals[0], vals[1], vals[2:], sid
            left = deadline - time.monotonic()
            if left <= 0 or not self._recv(min(left, 0.2)):
                return None

    def connect(self, app: str = "phone"):
        """connect and wait for NetConnection.Connect.Success."""
        self.send(connect_command(app))
        r = self.wait_command(lambda n, v: n in ("_result", "_error"))
        assert r and r[0] == "_result", f"connect failed: {r}"

    def create_stream(self, txn: float = 2) -> int:
        self.send(command("createStream", txn))
        r = self.wait_command(lambda n, v: n in ("_result", "_error"))
        assert r and r[0] == "_result", f"createStream failed: {r}"
        return int(r[2][1])

    def stream_status(self, stream_id: int, timeout: float = 5.0):
        """The `code` of the next onStatus on message stream `stream_id` (None if none came)."""
        r = self.wait_command(lambda n, v: n == "onStatus", timeout)
        while r is not None and r[3] != stream_id:
            r = self.wait_command(lambda n, v: n == "onStatus", timeout)
        return r[2][1].get("code") if r else None

    def closed_within(self, seconds: float) -> bool:
        """True when the gateway closes the connection within `seconds` (everything it sends is read)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._recv(deadline - time.monotonic()):
                return True
            self.buf = b""
        return self.closed

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---- An Enhanced RTMP v2 client (appended for test_opus_ertmp.py) --------------------------------------
# connect with fourCcList / audioFourCcInfoMap (veovera enhanced-rtmp v2), the product API's dial, and
# audio both ways: E-RTMP audio bodies published, every audio message of the played stream kept.


def amf0_ex(v) -> bytes:
    """amf0() plus lists as AMF0 strict arrays (marker 10, u32 count, values)."""
    if isinstance(v, (list, tuple)):
        return bytes([AMF_STRICT_ARRAY]) + struct.pack(">I", len(v)) + b"".join(amf0_ex(x) for x in v)
    if isinstance(v, dict):
        out = bytes([AMF_OBJECT])
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf0_ex(x)
        return out + b"\x00\x00" + bytes([AMF_OBJECT_END])
    return amf0(v)


class ErtmpClient(RawRtmp):
    """RawRtmp that keeps the audio messages it receives (`audio`: [(stream id, body)]) while it waits
    for commands, and speaks the product API."""

    def __init__(self, port: int, timeout: float = 5.0):
        super().__init__(port, timeout=timeout)
        self.audio = []
        self.cmd_inbox = []
        self.txn = 1

    def _pump(self, timeout: float) -> bool:
        ok = self._recv(timeout)
        for type_id, sid, payload in self._messages():
            if type_id == TYPE_AUDIO:
                self.audio.append((sid, payload))
            elif type_id == TYPE_COMMAND_AMF0:
                try:
                    vals = amf0_decode_all(payload)
                except (ValueError, IndexError, struct.error):
                    continue
                if len(vals) >= 2:
                    self.cmd_inbox.append((vals[0], vals[1], vals[2:], sid))
        return ok

    def next_command(self, pred, timeout: float = 5.0):
        """The first command (name, txn, values, stream id) with pred(name, values), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for i, c in enumerate(self.cmd_inbox):
                if pred(c[0], c[2]):
                    return self.cmd_inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(min(left, 0.1)):
                return None

    def drain(self, seconds: float):
        """Reads (keeping audio and commands) for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._pump(min(0.05, deadline - time.monotonic())):
            pass

    def call(self, name: str, *args, stream_id: int = 0) -> float:
        self.txn += 1
        body = amf0(name) + amf0(float(self.txn)) + amf0(None) + b"".join(amf0_ex(a) for a in args)
        self.send(chunk(3, TYPE_COMMAND_AMF0, stream_id, body))
        return float(self.txn)

    def connect_ertmp(self, app: str = "phone", **props) -> list:
        """connect whose command object carries `props` (e.g. fourCcList=["Opus"]); returns the _result
        values [null-or-properties, info]. Asserts success."""
        obj = {"app": app, "tcUrl": f"rtmp://127.0.0.1/{app}", "objectEncoding": 0, **props}
        body = amf0("connect") + amf0(1) + amf0_ex(obj)
        self.send(chunk(3, TYPE_COMMAND_AMF0, 0, body))
        r = self.next_command(lambda n, v: n in ("_result", "_error"))
        assert r and r[0] == "_result", f"connect failed: {r}"
        return r[2]

    def wait_call_status(self, code: int, timeout: float = 15.0) -> dict:
        """The info object of the next Sono.Call.Status with status_code `code` (asserts it comes)."""
        def pred(n, v):
            return (n == "onStatus" and len(v) >= 2 and isinstance(v[1], dict)
                    and v[1].get("code") == "Sono.Call.Status" and v[1].get("status_code") == code)
        r = self.next_command(pred, timeout)
        assert r, f"no Sono.Call.Status {code} within {timeout} s"
        return r[2][1]

    def stream(self, verb: str, name: str) -> int:
        """createStream, then publish/play `name` on it; returns the stream id."""
        t = self.call("createStream")
        r = self.next_command(lambda n, v: n in ("_result", "_error"))
        assert r and r[0] == "_result" and r[1] == t, f"createStream failed: {r}"
        sid = int(r[2][1])
        self.call(verb, name, stream_id=sid)
        return sid

    def send_audio(self, stream_id: int, ts_ms: int, body: bytes):
        self.send(chunk(4, TYPE_AUDIO, stream_id, body, ts=ts_ms))
