#!/usr/bin/python3
"""A UDP impairment proxy for tests: relays datagrams between a client side and an upstream address,
both directions, with random loss, burst loss (Gilbert-Elliott), jitter, reordering and duplication,
from a seeded RNG so a run is reproducible.

Shape:

    client --> [listen socket] --impair(a2b)--> [upstream socket] --> upstream (target)
    client <-- [listen socket] <--impair(b2a)-- [upstream socket] <-- upstream

The client is the last source seen on the listen socket, or `client` when given (so the b2a direction
works before the client has sent anything). The upstream socket's local port can be fixed
(`upstream_bind`), e.g. to the port a SIP far end advertises in its SDP so the gateway sends there.
With `upstream=None` the upstream is learned from the first datagram that reaches the upstream socket
(symmetric RTP); until then client datagrams are dropped and counted (`no_upstream`).

Impairments, per direction, in this order for each datagram:
  1. burst loss: a two-state Gilbert-Elliott chain (p: P(good -> bad), r: P(bad -> good), a packet in
     the bad state is lost with probability `ge_bad_loss`, 1.0 by default);
  2. random loss: lost with probability `loss` (independent, in either state);
  3. delay: `delay_ms` + a jitter drawn from U(0, jitter_ms) ("uniform") or a normal N(jitter/2, jitter/4)
     clamped to [0, jitter_ms] ("normal"); with `keep_order` a packet never leaves before the one before it;
  4. reorder: with probability `reorder` the packet is held `reorder_ms` longer, so later ones overtake it;
  5. duplicate: with probability `duplicate` a copy is scheduled too (with its own jitter draw).
Every delay is clamped to `max_delay_ms` (<= 10 s). At most `max_queue` datagrams wait at once; a packet
that would exceed it is dropped and counted (`queue_drops`). Datagrams are at most 65535 bytes.
Probabilities are fractions in [0, 1] in the class and percentages on the command line.

Binding: loopback addresses only (127.0.0.0/8, ::1) unless `allow_nonloopback`; the upstream target must
be loopback too under the same rule, so the proxy cannot be pointed at the network by accident.

CLI (prints JSON stats on SIGINT/SIGTERM or after --duration seconds):

    impair.py --listen 127.0.0.1:40000 --upstream 127.0.0.1:5004 --loss 5 --jitter 40 --seed 1
    impair.py --listen 127.0.0.1:40000 --upstream 127.0.0.1:5004 --ge-p 2 --ge-r 30 --duration 20

Importable:

    with ImpairProxy(("127.0.0.1", 0), ("127.0.0.1", 5004), a2b=Impairment(loss=0.05, jitter_ms=40)) as p:
        ...  # p.listen_addr, p.upstream_local_addr
    p.stats()  # {"a2b": {...}, "b2a": {...}}
"""

import argparse
import heapq
import ipaddress
import json
import random
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

MAX_DELAY_CAP_MS = 10_000.0
MAX_QUEUE_CAP = 100_000
MAX_DATAGRAM = 65535


@dataclass
class Impairment:
    """What one direction does to its datagrams. Probabilities are fractions in [0, 1]; times in ms."""
    loss: float = 0.0
    ge_p: float = 0.0
    ge_r: float = 1.0
    ge_bad_loss: float = 1.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter_dist: str = "uniform"
    keep_order: bool = False
    reorder: float = 0.0
    reorder_ms: float = 40.0
    duplicate: float = 0.0
    max_delay_ms: float = 1000.0

    def validate(self):
        for name in ("loss", "ge_p", "ge_r", "ge_bad_loss", "reorder", "duplicate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}={v}: a probability in [0, 1]")
        for name in ("delay_ms", "jitter_ms", "reorder_ms", "max_delay_ms"):
            v = getattr(self, name)
            if not 0.0 <= v <= MAX_DELAY_CAP_MS:
                raise ValueError(f"{name}={v}: in [0, {MAX_DELAY_CAP_MS}] ms")
        if self.jitter_dist not in ("uniform", "normal"):
            raise ValueError(f"jitter_dist={self.jitter_dist!r}: uniform or normal")
        return self


@dataclass
class DirStats:
    """Counters of one direction. Delays in ms (scheduled, not measured on the wire)."""
    received: int = 0
    sent: int = 0
    lost_random: int = 0
    lost_burst: int = 0
    queue_drops: int = 0
    send_errors: int = 0
    no_upstream: int = 0
    reordered: int = 0
    duplicated: int = 0
    bursts: int = 0
    max_burst: int = 0
    delay_sum_ms: float = 0.0
    delay_max_ms: float = 0.0
    max_queued: int = 0
    _run: int = field(default=0, repr=False)

    def as_dict(self):
        scheduled = self.sent + self.send_errors
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        d["delay_sum_ms"] = round(self.delay_sum_ms, 3)
        d["delay_max_ms"] = round(self.delay_max_ms, 3)
        d["delay_mean_ms"] = round(self.delay_sum_ms / scheduled, 3) if scheduled else 0.0
        d["lost"] = self.lost_random + self.lost_burst + self.queue_drops
        return d


class Direction:
    """The impairment state machine of one direction: decides, from its own RNG, what to do with each
    datagram. Pure: no sockets, no clock (fed `now` in seconds), so it is testable on its own."""

    def __init__(self, imp: Impairment, rng: random.Random):
        self.imp = imp.validate()
        self.rng = rng
        self.bad = False
        self.last_due = 0.0
        self.stats = DirStats()

    def _lost(self) -> bool:
        imp, st = self.imp, self.stats
        if imp.ge_p > 0.0:
            self.bad = (self.rng.random() >= imp.ge_r) if self.bad else (self.rng.random() < imp.ge_p)
            if self.bad and self.rng.random() < imp.ge_bad_loss:
                st.lost_burst += 1
                return True
        if imp.loss > 0.0 and self.rng.random() < imp.loss:
            st.lost_random += 1
            return True
        return False

    def _jitter(self) -> float:
        j = self.imp.jitter_ms
        if j <= 0.0:
            return 0.0
        if self.imp.jitter_dist == "uniform":
            return self.rng.uniform(0.0, j)
        return min(j, max(0.0, self.rng.gauss(j / 2.0, j / 4.0)))

    def _delay(self, extra_ms: float = 0.0) -> float:
        return min(self.imp.max_delay_ms, self.imp.delay_ms + self._jitter() + extra_ms)

    def decide(self, now: float) -> list:
        """Due times (s, absolute) at which to send this datagram: [] when lost, two when duplicated."""
        st = self.stats
        st.received += 1
        if self._lost():
            st._run += 1
            if st._run == 1:
                st.bursts += 1
            st.max_burst = max(st.max_burst, st._run)
            return []
        st._run = 0
        extra = 0.0
        if self.imp.reorder > 0.0 and self.rng.random() < self.imp.reorder:
            st.reordered += 1
            extra = self.imp.reorder_ms
        d = self._delay(extra)
        due = now + d / 1000.0
        if self.imp.keep_order and extra == 0.0:
            due = max(due, self.last_due)
            d = (due - now) * 1000.0
            self.last_due = due
        dues = [(due, d)]
        if self.imp.duplicate > 0.0 and self.rng.random() < self.imp.duplicate:
            st.duplicated += 1
            d2 = self._delay()
            dues.append((now + d2 / 1000.0, d2))
        return dues


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_addr(s: str) -> tuple:
    host, _, port = s.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class ImpairProxy:
    """The relay: one thread, two UDP sockets, a heap of delayed datagrams. `start()`/`stop()` or a
    `with` block. `a2b` impairs client -> upstream, `b2a` upstream -> client; `seed` seeds both
    (a2b with seed, b2a with seed + 1)."""

    def __init__(self, listen: tuple, upstream: tuple, a2b: Impairment = None, b2a: Impairment = None,
                 seed: int = 0, max_queue: int = 1000, upstream_bind: tuple = None, client: tuple = None,
                 allow_nonloopback: bool = False):
        if not 1 <= max_queue <= MAX_QUEUE_CAP:
            raise ValueError(f"max_queue={max_queue}: in [1, {MAX_QUEUE_CAP}]")
        ub = upstream_bind or (listen[0], 0)
        addrs = [listen, ub] + [a for a in (upstream, client) if a]
        if not allow_nonloopback:
            for a in addrs:
                if not is_loopback(a[0]):
                    raise ValueError(f"{a[0]}: not a loopback address (allow_nonloopback to permit)")
        self.dirs = {"a2b": Direction(a2b or Impairment(), random.Random(seed)),
                     "b2a": Direction(b2a or Impairment(), random.Random(seed + 1))}
        self.max_queue = max_queue
        self.upstream = upstream
        self.client = client
        fam = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self.a = socket.socket(fam, socket.SOCK_DGRAM)
        self.b = socket.socket(fam, socket.SOCK_DGRAM)
        self.a.bind(listen)
        self.b.bind(ub)
        self.listen_addr = self.a.getsockname()[:2]
        self.upstream_local_addr = self.b.getsockname()[:2]
        self.heap = []
        self.n = 0
        self._stop = threading.Event()
        self._thread = None
        self.started = None

    def start(self):
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="impair", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.a.close()
        self.b.close()
        return self.stats()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stats(self) -> dict:
        return {k: d.stats.as_dict() for k, d in self.dirs.items()}

    def _schedule(self, name, data, sock, dest, now):
        d = self.dirs[name]
        for due, delay_ms in d.decide(now):
            if len(self.heap) >= self.max_queue:
                d.stats.queue_drops += 1
                continue
            self.n += 1
            heapq.heappush(self.heap, (due, self.n, name, sock, dest, data, delay_ms))
            d.stats.max_queued = max(d.stats.max_queued, len(self.heap))

    def _flush(self, now):
        while self.heap and self.heap[0][0] <= now:
            _, _, name, sock, dest, data, delay_ms = heapq.heappop(self.heap)
            st = self.dirs[name].stats
            st.delay_sum_ms += delay_ms
            st.delay_max_ms = max(st.delay_max_ms, delay_ms)
            try:
                sock.sendto(data, dest)
                st.sent += 1
            except OSError:
                st.send_errors += 1

    def _run(self):
        while not self._stop.is_set():
            now = time.monotonic()
            self._flush(now)
            timeout = 0.05
            if self.heap:
                timeout = max(0.0, min(timeout, self.heap[0][0] - now))
            try:
                ready, _, _ = select.select([self.a, self.b], [], [], timeout)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, src = s.recvfrom(MAX_DATAGRAM)
                except OSError:
                    continue
                now = time.monotonic()
                if s is self.a:
                    self.client = src[:2]
                    if self.upstream is None:
                        self.dirs["a2b"].stats.no_upstream += 1
                        continue
                    self._schedule("a2b", data, self.b, self.upstream, now)
                    continue
                if self.upstream is None:
                    self.upstream = src[:2]
                if self.client is not None:
                    self._schedule("b2a", data, self.a, self.client, now)


def impairment_args(p: argparse.ArgumentParser):
    p.add_argument("--loss", type=float, default=0.0, help="random loss, %%")
    p.add_argument("--ge-p", type=float, default=0.0, help="Gilbert-Elliott P(good->bad), %%")
    p.add_argument("--ge-r", type=float, default=100.0, help="Gilbert-Elliott P(bad->good), %%")
    p.add_argument("--ge-bad-loss", type=float, default=100.0, help="loss in the bad state, %%")
    p.add_argument("--delay", type=float, default=0.0, help="fixed delay, ms")
    p.add_argument("--jitter", type=float, default=0.0, help="jitter bound, ms")
    p.add_argument("--jitter-dist", choices=["uniform", "normal"], default="uniform")
    p.add_argument("--keep-order", action="store_true", help="jitter never reorders")
    p.add_argument("--reorder", type=float, default=0.0, help="packets held back --reorder-ms, %%")
    p.add_argument("--reorder-ms", type=float, default=40.0)
    p.add_argument("--duplicate", type=float, default=0.0, help="duplicated packets, %%")
    p.add_argument("--max-delay", type=float, default=1000.0, help="bound on any delay, ms")


def impairment_from(a) -> Impairment:
    return Impairment(loss=a.loss / 100, ge_p=a.ge_p / 100, ge_r=a.ge_r / 100, ge_bad_loss=a.ge_bad_loss / 100,
                      delay_ms=a.delay, jitter_ms=a.jitter, jitter_dist=a.jitter_dist, keep_order=a.keep_order,
                      reorder=a.reorder / 100, reorder_ms=a.reorder_ms, duplicate=a.duplicate / 100,
                      max_delay_ms=a.max_delay).validate()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", required=True, help="host:port the client sends to")
    p.add_argument("--upstream", required=True, help="host:port datagrams are relayed to")
    p.add_argument("--upstream-bind", help="host:port of the upstream-side socket (default: any port)")
    p.add_argument("--client", help="host:port to relay upstream's datagrams to before the client speaks")
    p.add_argument("--direction", choices=["both", "a2b", "b2a"], default="both",
                   help="which direction is impaired (the other is relayed as is)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-queue", type=int, default=1000, help="datagrams waiting at once")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--allow-nonloopback", action="store_true")
    impairment_args(p)
    a = p.parse_args(argv)
    try:
        imp = impairment_from(a)
        proxy = ImpairProxy(parse_addr(a.listen), parse_addr(a.upstream),
                            a2b=imp if a.direction in ("both", "a2b") else None,
                            b2a=imp if a.direction in ("both", "b2a") else None,
                            seed=a.seed, max_queue=a.max_queue,
                            upstream_bind=parse_addr(a.upstream_bind) if a.upstream_bind else None,
                            client=parse_addr(a.client) if a.client else None,
                            allow_nonloopback=a.allow_nonloopback)
    except (ValueError, OSError) as e:
        print(f"impair: {e}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    proxy.start()
    print(json.dumps({"listen": proxy.listen_addr, "upstream_local": proxy.upstream_local_addr}),
          file=sys.stderr, flush=True)
    done.wait(a.duration)
    print(json.dumps(proxy.stop(), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
