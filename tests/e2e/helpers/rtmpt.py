"""A raw RTMPT client (RTMP tunnelled over HTTP POSTs: /open/1, /send/<id>/<seq>, /idle/<id>/<seq>,
/close/<id>/<seq>, Content-Type application/x-fcs), for tests that need exact control of sequence numbers,
bodies and ordering; and an ffmpeg player that starts writing at once (rtmpt:// reads block while no media
comes, so the default 5 s probe would wait for audio that never arrives)."""
import http.client
import os
import re
import time
from pathlib import Path

from .procs import Procs
from .rtmp_raw import RawRtmp, command

FCS = "application/x-fcs"


def post(port: int, path: str, body: bytes = b"\x00", headers: dict = None, timeout: float = 10.0):
    """One POST on a fresh connection: (status, {lowercase header: value}, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": FCS}
        h.update(headers or {})
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def open_session(port: int) -> str:
    """POST /open/1; returns the session id (asserts 200, x-fcs, 32 hex digits + newline)."""
    status, h, body = post(port, "/open/1")
    assert status == 200, f"/open/1 answered {status}: {body!r}"
    assert h.get("content-type") == FCS, h
    assert re.fullmatch(rb"[0-9a-f]{32}\n", body), body
    return body.decode().strip()


class Session:
    """An open RTMPT session with its own sequence counter (from 0, as ffmpeg counts)."""

    def __init__(self, port: int):
        self.port = port
        self.id = open_session(port)
        self.seq = 0

    def next_seq(self) -> int:
        s = self.seq
        self.seq += 1
        return s

    def send(self, data: bytes, seq: int = None):
        return post(self.port, f"/send/{self.id}/{self.next_seq() if seq is None else seq}", data)

    def idle(self, seq: int = None):
        return post(self.port, f"/idle/{self.id}/{self.next_seq() if seq is None else seq}")

    def close(self, seq: int = None):
        return post(self.port, f"/close/{self.id}/{self.next_seq() if seq is None else seq}")

    def read(self, n: int, polls: int = 100) -> bytes:
        """Polls (idle) until `n` server bytes came; each answer's first byte is the interval, skipped."""
        got = b""
        for _ in range(polls):
            status, _, body = self.idle()
            assert status == 200, f"idle answered {status}: {body!r}"
            got += body[1:]
            if len(got) >= n:
                return got
        raise AssertionError(f"only {len(got)} of {n} bytes after {polls} polls")


def random_id() -> str:
    return os.urandom(16).hex()


def ffmpeg_play_now(procs: Procs, url: str, out: Path, seconds: float, name: str = "ffmpeg_play"):
    """ffmpeg plays `url` into an FLV (-c copy) for `seconds` of media time, with a short probe."""
    return procs.start(name, ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-analyzeduration", "0",
                              "-probesize", "32", "-i", url, "-c", "copy", "-t", str(seconds),
                              "-flush_packets", "1", out])


class RtmptRtmp(RawRtmp):
    """helpers.rtmp_raw.RawRtmp over an RTMPT session, single-threaded (librtmp's RTMPT is not safe
    with RtmpControl's reader thread: two threads interleave their POSTs on one socket). `send` is one
    /send; each `_recv` is one /idle (sleeping `poll_s` after an empty one). Poll at least every
    [http] rtmpt_idle_timeout_s or the session is reaped."""

    def __init__(self, port: int, timeout: float = 5.0, poll_s: float = 0.05):
        self.rtmpt = Session(port)
        self.poll_s = poll_s
        self.buf = b""
        self.closed = False
        self.peer_chunk_size = 128
        self.streams = {}
        self.c2 = b""
        status, _, _ = self.rtmpt.send(b"\x03" + bytes(8) + os.urandom(1528))
        assert status == 200, f"send C0C1: {status}"
        hs = self.rtmpt.read(3073)
        self.buf = hs[3073:]
        self.rtmpt.send(hs[1:1537])

    def send(self, data: bytes):
        status, _, _ = self.rtmpt.send(data)
        if status != 200:
            self.closed = True
        return status == 200

    def _recv(self, timeout: float) -> bool:
        if self.closed:
            return False
        status, _, body = self.rtmpt.idle()
        if status != 200:
            self.closed = True
            return False
        self.buf += body[1:]
        if len(body) <= 1:
            if body[:1] == b"\x00":
                self.closed = True
                return False
            time.sleep(min(self.poll_s, max(0.0, timeout)))
        return True

    def close(self):
        if not self.closed:
            self.rtmpt.close()
            self.closed = True


def call_status(code: int):
    """A wait_command predicate for onStatus Sono.Call.Status with this status_code."""
    return lambda n, v: (n == "onStatus" and len(v) > 1 and isinstance(v[1], dict)
                         and v[1].get("code") == "Sono.Call.Status" and v[1].get("status_code") == code)


def dial_echo(ctl: RtmptRtmp, uri: str, timeout: float = 15.0) -> dict:
    """connect, dial `uri`, wait for status 4: the status info (publish, play names)."""
    ctl.connect()
    ctl.send(command("dial", 2, uri))
    r = ctl.wait_command(call_status(4), timeout)
    assert r, f"no Sono.Call.Status 4 within {timeout} s over RTMPT"
    return r[2][1]


def hangup(ctl: RtmptRtmp, timeout: float = 10.0):
    ctl.send(command("hangup", 3))
    assert ctl.wait_command(call_status(0), timeout), "no Sono.Call.Status 0 after hangup over RTMPT"


def keep_polling(ctl: RtmptRtmp, proc, timeout: float):
    """Polls the control session while `proc` runs (at most `timeout` s)."""
    deadline = time.monotonic() + timeout
    while proc.alive() and time.monotonic() < deadline:
        ctl._recv(0.2)
