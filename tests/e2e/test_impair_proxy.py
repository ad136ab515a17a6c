"""The UDP impairment proxy (tests/peers/tools/impair.py, issue 10 item 4) on its own: no gateway.

The decision core (`Direction`) is checked on many packets without sockets (seeded, so exact and fast);
the relay is checked with numbered datagrams through real loopback sockets."""
import json
import random
import socket
import struct
import subprocess
import sys
import time

import pytest

from helpers import paths

sys.path.insert(0, str(paths.TOOLS_DIR))
import impair  # noqa: E402
from impair import Direction, Impairment, ImpairProxy  # noqa: E402

N = 20000


def _decide_all(imp, seed=7, n=N):
    d = Direction(imp, random.Random(seed))
    return d, [d.decide(0.0) for _ in range(n)]


def test_random_loss_rate_is_within_bounds():
    d, out = _decide_all(Impairment(loss=0.05))
    lost = sum(1 for x in out if not x)
    assert 0.045 * N <= lost <= 0.055 * N
    assert d.stats.lost_random == lost and d.stats.lost_burst == 0


def test_same_seed_same_decisions_other_seed_differs():
    imp = Impairment(loss=0.1, jitter_ms=30, reorder=0.05, duplicate=0.05)
    _, a = _decide_all(imp, seed=3, n=2000)
    _, b = _decide_all(imp, seed=3, n=2000)
    _, c = _decide_all(imp, seed=4, n=2000)
    assert a == b
    assert a != c


def test_gilbert_elliott_gives_bursts_of_the_expected_length():
    # p = P(good->bad), r = P(bad->good): stationary loss p/(p+r), mean burst 1/r.
    p, r = 0.02, 0.25
    d, out = _decide_all(Impairment(ge_p=p, ge_r=r), n=50000)
    lost = sum(1 for x in out if not x)
    assert abs(lost / 50000 - p / (p + r)) < 0.015
    mean_burst = lost / d.stats.bursts
    assert 3.0 <= mean_burst <= 5.0, mean_burst
    assert d.stats.max_burst >= 10
    # random loss of the same rate gives much shorter runs
    d2, _ = _decide_all(Impairment(loss=p / (p + r)), n=50000)
    assert d2.stats.lost_random / d2.stats.bursts < 1.2


def test_delays_stay_within_the_jitter_bound():
    for dist in ("uniform", "normal"):
        _, out = _decide_all(Impairment(delay_ms=10, jitter_ms=40, jitter_dist=dist), n=5000)
        delays = [ms for x in out for _, ms in x]
        assert min(delays) >= 10 and max(delays) <= 50
        assert max(delays) - min(delays) > 25, dist


def test_max_delay_clamps_every_delay():
    _, out = _decide_all(Impairment(delay_ms=100, jitter_ms=200, reorder=0.5, reorder_ms=500, max_delay_ms=150),
                         n=2000)
    assert max(ms for x in out for _, ms in x) <= 150


def test_keep_order_never_schedules_a_packet_before_its_predecessor():
    d = Direction(Impairment(jitter_ms=60, keep_order=True), random.Random(1))
    dues = [d.decide(i * 0.02)[0][0] for i in range(2000)]
    assert dues == sorted(dues)


def test_reorder_and_duplicate_rates():
    d, out = _decide_all(Impairment(reorder=0.1, duplicate=0.05))
    assert 0.09 * N <= d.stats.reordered <= 0.11 * N
    assert 0.045 * N <= d.stats.duplicated <= 0.055 * N
    assert sum(len(x) for x in out) == N + d.stats.duplicated


def test_bad_parameters_are_refused():
    for bad in (dict(loss=1.5), dict(ge_p=-0.1), dict(jitter_ms=20000), dict(jitter_dist="pareto")):
        with pytest.raises(ValueError):
            Impairment(**bad).validate()
    with pytest.raises(ValueError):
        ImpairProxy(("127.0.0.1", 0), ("127.0.0.1", 9), max_queue=0)


def test_non_loopback_is_refused_by_default():
    with pytest.raises(ValueError, match="loopback"):
        ImpairProxy(("0.0.0.0", 0), ("127.0.0.1", 9))
    with pytest.raises(ValueError, match="loopback"):
        ImpairProxy(("127.0.0.1", 0), ("192.0.2.1", 9))
    with pytest.raises(ValueError, match="loopback"):
        ImpairProxy(("127.0.0.1", 0), ("127.0.0.1", 9), client=("198.51.100.1", 9))
    ImpairProxy(("0.0.0.0", 0), ("127.0.0.1", 9), allow_nonloopback=True).stop()


# --- through real sockets -------------------------------------------------------------------------

def _sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s


def _send_numbered(proxy_addr, n, gap_s, src=None):
    src = src or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    for i in range(n):
        src.sendto(struct.pack("!Id", i, time.monotonic()), proxy_addr)
        while time.monotonic() < t0 + (i + 1) * gap_s:
            time.sleep(0.0005)
    return src


class _Reader:
    """Reads the sink while datagrams are sent (so its buffer never overflows), timestamping arrivals."""

    def __init__(self, sink):
        import threading
        self.sink, self.got = sink, []
        self.t = threading.Thread(target=lambda: self.got.extend(_drain(sink, 0.5)), daemon=True)
        self.t.start()

    def join(self):
        self.t.join(10)
        return self.got


def _drain(sink, quiet_s=0.5):
    got = []
    sink.settimeout(quiet_s)
    while True:
        try:
            data, _ = sink.recvfrom(2048)
        except socket.timeout:
            return got
        i, sent = struct.unpack("!Id", data)
        got.append((i, (time.monotonic() - sent) * 1000.0))


def test_relay_delays_loss_reorder_and_duplicates_are_seen_on_the_wire():
    sink = _sink()
    imp = Impairment(loss=0.05, jitter_ms=30, reorder=0.05, reorder_ms=40, duplicate=0.05)
    with ImpairProxy(("127.0.0.1", 0), sink.getsockname(), a2b=imp, seed=11) as p:
        reader = _Reader(sink)
        _send_numbered(p.listen_addr, 400, 0.002)
        got = reader.join()
    st = p.stats()["a2b"]
    assert st["received"] == 400
    assert len(got) == st["sent"] == 400 - st["lost"] + st["duplicated"]
    assert 8 <= st["lost_random"] <= 40
    seqs = [i for i, _ in got]
    assert len(seqs) - len(set(seqs)) == st["duplicated"] > 0
    assert any(b < a for a, b in zip(seqs, seqs[1:])), "no reordering seen"
    delays = [ms for _, ms in got]
    # scheduled bound 30 + 40 ms; allow 25 ms for thread wake-ups on a loaded machine
    assert max(delays) <= 70 + 25, max(delays)
    assert st["delay_max_ms"] <= 70


def test_both_directions_and_a_fixed_upstream_port():
    echo = _sink()
    with ImpairProxy(("127.0.0.1", 0), echo.getsockname(), b2a=Impairment(delay_ms=20)) as p:
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(2)
        client.sendto(b"ping", p.listen_addr)
        data, src = echo.recvfrom(100)
        assert data == b"ping" and src == p.upstream_local_addr
        t = time.monotonic()
        echo.sendto(b"pong", src)
        assert client.recvfrom(100) == (b"pong", p.listen_addr)
        assert time.monotonic() - t >= 0.019
    st = p.stats()
    assert st["a2b"]["sent"] == 1 and st["b2a"]["sent"] == 1 and st["b2a"]["delay_max_ms"] == 20


def test_the_queue_bound_drops_what_does_not_fit():
    sink = _sink()
    with ImpairProxy(("127.0.0.1", 0), sink.getsockname(), a2b=Impairment(delay_ms=300), max_queue=10) as p:
        src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(50):
            src.sendto(struct.pack("!Id", i, time.monotonic()), p.listen_addr)
        time.sleep(0.1)
        got = _drain(sink, 0.6)
    st = p.stats()["a2b"]
    assert st["received"] == 50 and st["queue_drops"] == 40 and st["max_queued"] == 10
    assert sorted(i for i, _ in got) == list(range(10))


def test_cli_prints_json_stats_and_refuses_non_loopback():
    sink = _sink()
    tool = str(paths.TOOLS_DIR / "impair.py")
    proc = subprocess.Popen([sys.executable, tool, "--listen", "127.0.0.1:0", "--upstream",
                             "%s:%d" % sink.getsockname(), "--loss", "50", "--seed", "2", "--duration", "1.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stderr.readline())
    _send_numbered(tuple(first["listen"]), 100, 0.001)
    out, _ = proc.communicate(timeout=10)
    st = json.loads(out)
    assert proc.returncode == 0
    assert st["a2b"]["received"] == 100 and 30 <= st["a2b"]["lost_random"] <= 70
    assert len(_drain(sink, 0.2)) == st["a2b"]["sent"]
    r = subprocess.run([sys.executable, tool, "--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:9"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "loopback" in r.stderr
    assert impair.is_loopback("::1") and not impair.is_loopback("10.0.0.1")


def test_upstream_is_learned_from_the_first_datagram_when_not_given():
    client = _sink()
    with ImpairProxy(("127.0.0.1", 0), None, client=client.getsockname()) as p:
        client.sendto(b"early", p.listen_addr)  # no upstream yet: dropped and counted
        peer = _sink()
        time.sleep(0.05)
        peer.sendto(b"hello", p.upstream_local_addr)
        assert client.recvfrom(100) == (b"hello", p.listen_addr)
        client.sendto(b"reply", p.listen_addr)
        assert peer.recvfrom(100) == (b"reply", p.upstream_local_addr)
    st = p.stats()
    assert st["a2b"]["no_upstream"] == 1 and st["a2b"]["sent"] == 1 and st["b2a"]["sent"] == 1
