"""A raw RTMPT client (RTMP tunnelled over HTTP POSTs: /open/1, /send/<id>/<seq>, /idle/<id>/<seq>,
/close/<id>/<seq>, Content-Type application/x-fcs), for tests that need exact control of sequence numbers,
bodies and ordering; and an ffmpeg player that starts writing at once (rtmpt:// reads block while no media
comes, so the default 5 s probe would wait for audio that never arrives)."""
import http.client
import os
import re
from pathlib import Path

from .procs import Procs

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
