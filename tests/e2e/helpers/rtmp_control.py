"""An RTMP control connection on python3-librtmp (a real third-party RTMP client).

librtmp closes the connection when a read times out, so a reader thread blocks on the socket with a
long timeout and records every command message the gateway sends; the test thread waits on that
record with its own deadlines. Command messages are decoded with librtmp's AMF0 decoder; everything
else (Set Chunk Size, Window Ack Size, User Control ping, ...) is handed to librtmp to act on."""
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import librtmp
from librtmp import librtmp as _c
from librtmp.amf import AMFError, decode_amf

READ_TIMEOUT_S = 600
PACKET_TYPE_INVOKE = 0x14
PACKET_TYPE_FLEX_MESSAGE = 0x11  # AMF3 command: 0x00 then AMF0

# Sono.Call.Status status_code values (the design's RTMP surface)
NOT_CONNECTED, IN_PROGRESS, CONNECTED, DISCONNECTING, CONNECT_STREAMS = 0, 1, 2, 3, 4


@dataclass
class Invoke:
    """One command message from the gateway: method name, transaction id, command object, arguments,
    and the monotonic time it arrived."""
    method: str
    txn: float
    obj: object
    args: list
    t: float = field(default_factory=time.monotonic)

    @property
    def info(self) -> dict:
        """The first argument when it is an object (the info object of onStatus / _error), else {}."""
        return self.args[0] if self.args and isinstance(self.args[0], dict) else {}

    def __repr__(self):
        return f"{self.method}(txn={self.txn}, obj={self.obj!r}, args={self.args!r})"


class RtmpControl:
    """Connects to `url` (rtmp://127.0.0.1:P/phone), checks NetConnection.Connect.Success, and lets the
    test invoke methods (`call`) and wait for replies and Sono.Call.* events."""

    def __init__(self, url: str, connect_timeout: float = 10.0):
        self.url = url
        self.invokes = []
        self.closed_reason = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self.conn = librtmp.RTMP(url, live=True, timeout=READ_TIMEOUT_S)
        try:
            self.conn.connect()
        except librtmp.RTMPError as e:
            raise AssertionError(f"RTMP handshake/connect to {url} failed (librtmp: {e}); is the gateway up?")
        self.fd = _c.RTMP_Socket(self.conn.rtmp)
        self._thread = threading.Thread(target=self._reader, name="rtmp-control-reader", daemon=True)
        self._thread.start()
        res = self.wait_for(lambda i: i.txn == 1 and i.method in ("_result", "_error"), connect_timeout,
                            what="reply to connect")
        code = res.info.get("code")
        if res.method != "_result" or code != "NetConnection.Connect.Success":
            raise AssertionError(f"connect to {url} was not accepted: {res!r}")

    # ---- reader thread ----
    def _reader(self):
        while True:
            try:
                pkt = self.conn.read_packet()
            except (librtmp.RTMPError, librtmp.RTMPTimeoutError) as e:
                with self._cond:
                    self.closed_reason = str(e) or "closed"
                    self._cond.notify_all()
                return
            body = pkt.body
            if pkt.type in (PACKET_TYPE_INVOKE, PACKET_TYPE_FLEX_MESSAGE):
                if pkt.type == PACKET_TYPE_FLEX_MESSAGE:
                    body = body[1:]
                try:
                    vals = decode_amf(body)
                except AMFError:
                    vals = None
                if not vals or len(vals) < 3:
                    inv = Invoke("<undecodable>", -1, None, [bytes(body)])
                else:
                    inv = Invoke(vals[0], vals[1], vals[2], list(vals[3:]))
                with self._cond:
                    self.invokes.append(inv)
                    self._cond.notify_all()
            else:
                with self._send_lock:
                    self.conn.handle_packet(pkt)

    # ---- test side ----
    def call(self, method: str, *args) -> int:
        """Invoke `method(*args)` with a null command object; returns the transaction id."""
        with self._send_lock:
            return self.conn.call(method, *args).transaction_id

    def wait_for(self, pred, timeout: float, what: str = "message", start: int = 0) -> Invoke:
        """First recorded Invoke (from index `start`) satisfying pred, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for inv in self.invokes[start:]:
                    if pred(inv):
                        return inv
                left = deadline - time.monotonic()
                if left <= 0 or self.closed_reason is not None:
                    break
                self._cond.wait(min(left, 0.5))
        state = f"connection closed ({self.closed_reason})" if self.closed_reason else f"{timeout} s passed"
        raise AssertionError(f"no {what} from the gateway ({state}); received so far:\n" + self.dump())

    def reply(self, txn: int, timeout: float = 5.0) -> Invoke:
        """The _result or _error for transaction `txn`."""
        return self.wait_for(lambda i: i.txn == txn and i.method in ("_result", "_error"), timeout,
                             what=f"_result/_error for transaction {txn}")

    def replies_to(self, txn: int) -> list:
        with self._cond:
            return [i for i in self.invokes if i.txn == txn and i.method in ("_result", "_error")]

    def statuses(self) -> list:
        """All Sono.Call.Status info objects so far, in order."""
        with self._cond:
            return [i.info for i in self.invokes
                    if i.method == "onStatus" and i.info.get("code") == "Sono.Call.Status"]

    def status_codes(self) -> list:
        return [int(s.get("status_code", -1)) for s in self.statuses()]

    def wait_status(self, code: int, timeout: float, after: int = 0) -> dict:
        """Info object of the first Sono.Call.Status with status_code == code whose index among the
        statuses is >= after."""
        deadline = time.monotonic() + timeout
        while True:
            sts = self.statuses()
            for k, s in enumerate(sts):
                if k >= after and int(s.get("status_code", -1)) == code:
                    return s
            left = deadline - time.monotonic()
            if left <= 0 or self.closed_reason is not None:
                raise AssertionError(f"no Sono.Call.Status {code} within {timeout} s "
                                     f"(closed: {self.closed_reason}); received:\n" + self.dump())
            with self._cond:
                self._cond.wait(min(left, 0.3))

    def dump(self) -> str:
        with self._cond:
            return "\n".join(f"  +{i.t:.3f} {i!r}" for i in self.invokes) or "  (nothing)"

    def close(self):
        """Shut the socket down (wakes the reader thread), then let librtmp free its state."""
        if self.fd is not None and self.fd >= 0:
            try:
                s = socket.socket(fileno=os.dup(self.fd))
                try:
                    s.shutdown(socket.SHUT_RDWR)
                finally:
                    s.close()
            except OSError:
                pass
        self._thread.join(3)
        try:
            self.conn.close()
        except Exception:
            pass
        self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
