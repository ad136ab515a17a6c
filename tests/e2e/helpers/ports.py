"""Unique loopback ports for one test session.

Ports are handed out upwards from a random base below the Linux ephemeral range (32768+), and each
one is checked free for TCP and UDP on 127.0.0.1 before it is handed out. Under pytest-xdist each
worker (PYTEST_XDIST_WORKER gwN of PYTEST_XDIST_WORKER_COUNT) gets its own band of that range, so two
workers never hand out the same port between one's check and its gateway's bind."""
import errno
import os
import random
import socket
import time

_LOW, _HIGH = 20000, 32000


def _band() -> tuple:
    """(low, high) for this process: the whole range, or its worker's share under pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return _LOW, _HIGH
    i = int(worker[2:])
    width = ((_HIGH - _LOW) // count) & ~1
    return _LOW + i * width, _LOW + (i + 1) * width


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


class PortAllocator:
    """Hands out ports (or even-aligned contiguous ranges) never handed out before in this session."""

    def __init__(self):
        self._low, self._high = _band()
        self._next = random.randrange(self._low, self._high - (self._high - self._low) // 3) & ~1

    def _advance(self, n: int) -> int:
        if self._next + n >= self._high:
            self._next = self._low
        p = self._next
        self._next += n
        return p

    def port(self) -> int:
        """One free port (TCP and UDP)."""
        for _ in range(2000):
            p = self._advance(1)
            if _free(p):
                return p
        raise RuntimeError("no free loopback port")

    def range(self, n: int) -> tuple:
        """An inclusive (first, last) range of n free ports, first even (RTP on even, RTCP on odd)."""
        for _ in range(500):
            if self._next & 1:
                self._advance(1)
            first = self._advance(n)
            if all(_free(p) for p in range(first, first + n)):
                return first, first + n - 1
        raise RuntimeError("no free loopback port range")


def udp_bound(port: int, host: str = "127.0.0.1") -> bool:
    """True if some process has bound UDP host:port (our own bind attempt fails with EADDRINUSE)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return False
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    finally:
        s.close()


def tcp_accepting(port: int, host: str = "127.0.0.1") -> bool:
    """True if a TCP connect to host:port succeeds (the connection is closed at once)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout: float, interval: float = 0.05) -> bool:
    """Poll pred() until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
