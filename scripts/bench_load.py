#!/usr/bin/env python3
"""The body of scripts/bench-load.sh: runs the load matrix with release binaries and writes the table.

For each path and each N: a fresh rtmp2sip (generated config in a temp dir: the policy allows the
sipp far end, [limits] raised) and a sipp UAS with -rtp_echo answering with the path's codec; then
`rtmp2sip-load --calls N --json --gateway-pid PID`. Processes are stopped by their own pid.

After each run, once the calls have ended, the gateway's `GET /metrics` (`[metrics] listen` on a free
loopback port) gives `rtmp2sip_jitter_delay_seconds`, the jitter buffer's delay per played packet
(arrival to playout) over every call of the run: its p50/p99 (bucket upper bounds, 5 ms steps up to
50 ms) go in the table next to the generator's figures (issue 10 item 4)."""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
if not TARGET.is_absolute():
    TARGET = REPO / TARGET
SIPP_DIR = REPO / "tests" / "peers" / "sipp"
BEGIN, END = "<!-- bench-load:begin -->", "<!-- bench-load:end -->"

#: name -> (label, --codec, sipp scenario, [media] rtmp_out_codec, ceiling components)
PATHS = {
    "transcoded": ("Speex WB ↔ PCMU, transcoded", "speex", "uas_echo_pcmu.xml", "speex",
                   ["speex_wb_decode", "resample_16_8", "resample_8_16", "speex_wb_encode"]),
    "passthrough": ("Speex passthrough (far end speex/16000)", "speex", "uas_echo_speex.xml", "speex", []),
    "nellymoser": ("Nellymoser 8k ↔ PCMU (Nellymoser back)", "nellymoser", "uas_echo_pcmu.xml", "match",
                   ["nellymoser_decode", "nellymoser_encode"]),
    "pcmu": ("G.711 µ-law passthrough", "pcmu", "uas_echo_pcmu.xml", "match", []),
    "opus": ("Opus (E-RTMP) ↔ PCMU", "opus", "uas_echo_pcmu.xml", "speex",
             ["opus_decode", "resample_48_8", "resample_8_48", "opus_encode"]),
}

#: Ceiling component -> token sets, any of which names it in the ceiling program's JSON (dotted key
#: paths, lower case). The first numeric leaf whose path holds every token of a set, in that order, is
#: taken (µs per 20 ms).
CEILING_KEYS = {
    "speex_wb_encode": [("speex", "wb", "enc"), ("speex", "wide", "enc"), ("speex", "enc")],
    "speex_wb_decode": [("speex", "wb", "dec"), ("speex", "wide", "dec"), ("speex", "dec")],
    "resample_16_8": [("resamp", "16", "8"), ("resamp", "down")],
    "resample_8_16": [("resamp", "8", "16"), ("resamp", "up")],
    "opus_encode": [("opus", "enc")],
    "opus_decode": [("opus", "dec")],
    "resample_48_8": [("resamp", "48", "8")],
    "resample_8_48": [("resamp", "8", "48")],
    "nellymoser_decode": [("nelly", "dec")],
    "nellymoser_encode": [("nelly", "enc")],
    "syscalls": [("udp",), ("syscall",)],
    "io_pair": [("io", "pair")],
}


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pin_sets(pin: bool):
    """(gateway CPUs, peers' CPUs) for --pin: the gateway alone on the first CPU it may use, the load
    generator and sipp on the others; (None, None) without --pin or with a single CPU."""
    if not pin:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("==> --pin needs 2 CPUs: running unpinned", file=sys.stderr)
        return None, None
    return {cpus[0]}, set(cpus[1:])


def on_cpus(cpus):
    """A preexec_fn pinning the child to `cpus` (None: inherit)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def gateway_config(rtmp_port: int, sip_port: int, sipp_port: int, out_codec: str, calls: int,
                   metrics_port: int, tick_ms: int = None, workers: int = None) -> str:
    conns = max(100, 2 * calls)
    return f"""[rtmp]
listen = ["127.0.0.1:{rtmp_port}"]
[sip]
listen = "127.0.0.1:{sip_port}"
public_address = "127.0.0.1"
[media]
bind_address = "127.0.0.1"
rtp_ports = [40000, 59999]
rtmp_out_codec = "{out_codec}"
{f"tick_ms = {tick_ms}" if tick_ms else ""}
{f"workers = {workers}" if workers else ""}
[policy]
dial_allow = ["sip:echo@*", "sip:*@127.0.0.1:{sipp_port}"]
[limits]
max_connections = {conns}
max_calls = {conns}
max_connections_per_ip = {conns}
[metrics]
listen = ["127.0.0.1:{metrics_port}"]
[log]
level = "warn"
"""


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def run_one(path: str, calls: int, args, tmp: Path, ramp: float = None, duration: float = None) -> dict:
    label, codec, scenario, out_codec, _ = PATHS[path]
    ramp = ramp or args.ramp
    duration = duration or args.duration
    sipp_port, media_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    rtmp_port, sip_port, metrics_port = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    cfg = tmp / f"gw-{path}-{calls}.toml"
    gw_cpus, peer_cpus = pin_sets(args.pin)
    cfg.write_text(gateway_config(rtmp_port, sip_port, sipp_port, out_codec, calls, metrics_port, args.tick_ms,
                                  workers=len(gw_cpus) if gw_cpus else None))
    logs = tmp / f"{path}-{calls}"
    sipp = subprocess.Popen(["sipp", "-sf", str(SIPP_DIR / scenario), "-i", "127.0.0.1", "-p", str(sipp_port),
                             "-mi", "127.0.0.1", "-mp", str(media_port), "-rtp_echo", "-nostdin"],
                            stdout=open(f"{logs}-sipp.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=on_cpus(peer_cpus))
    gw = subprocess.Popen([str(Path(args.bin_dir) / "rtmp2sip"), "--config", str(cfg)],
                          stdout=open(f"{logs}-gateway.log", "wb"), stderr=subprocess.STDOUT,
                          start_new_session=True, preexec_fn=on_cpus(gw_cpus))
    try:
        if not wait_tcp(rtmp_port, 15):
            raise RuntimeError(f"gateway did not listen; log {logs}-gateway.log")
        time.sleep(0.5)
        cmd = [str(Path(args.bin_dir) / "rtmp2sip-load"), "--rtmp", f"127.0.0.1:{rtmp_port}",
               "--calls", str(calls), "--ramp", str(ramp), "--duration", str(duration),
               "--codec", codec, "--dial", f"sip:load@127.0.0.1:{sipp_port}",
               "--gateway-pid", str(gw.pid), "--json"]
        print(f"==> {label}: {calls} calls at {ramp}/s for {duration} s", file=sys.stderr)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + calls / ramp * 2 + 120,
                           preexec_fn=on_cpus(peer_cpus))
        if not r.stdout.strip():
            raise RuntimeError(f"rtmp2sip-load exit {r.returncode}: {r.stderr}")
        rep = json.loads(r.stdout)
        rep["path"] = path
        text = final_metrics(metrics_port, rep.get("calls_connected") or 0)
        rep["jitter_delay_ms"] = jitter_delay(text)
        rep["tick_lateness"] = tick_lateness(text)
        rep["loadavg_1min_after"] = loadavg()
        return rep
    finally:
        stop(gw)
        stop(sipp)


def parse_histogram(text: str, name: str) -> list:
    """[(upper bound s, cumulative count)] of histogram `name` (no labels) in Prometheus/OpenMetrics text."""
    out = []
    for m in re.finditer(rf'^{re.escape(name)}_bucket\{{le="([^"]+)"\}} (\d+)', text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        out.append((le, int(m.group(2))))
    return sorted(out)


def histogram_quantile(buckets: list, q: float):
    """The upper bound (s) of the bucket holding quantile q of a cumulative histogram; None when empty."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = max(1, -(-q * buckets[-1][1] // 1))
    return next(le for le, c in buckets if c >= rank)


def final_metrics(metrics_port: int, calls: int, timeout: float = 10.0) -> str:
    """The gateway's /metrics text once every call's media has ended (the per-call series are added as
    each call's media ends), or the last text read ("" when the endpoint never answered)."""
    end, last = time.monotonic() + timeout, ""
    while time.monotonic() < end:
        try:
            last = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        active = sum(int(v) for v in re.findall(r"^rtmp2sip_calls_active\{[^}]*\} (\d+)", last, re.M))
        if active == 0 or calls == 0:
            break
        time.sleep(0.5)
    return last


def jitter_delay(text: str) -> dict:
    """p50/p99 (ms) and count of rtmp2sip_jitter_delay_seconds in `text`, or {} when the series is missing."""
    b = parse_histogram(text, "rtmp2sip_jitter_delay_seconds")
    if not b:
        return {}
    ms = lambda s: None if s is None else (s * 1000 if s != float("inf") else float("inf"))  # noqa: E731
    return {"n": b[-1][1], "p50": ms(histogram_quantile(b, 0.5)), "p99": ms(histogram_quantile(b, 0.99))}


def tick_lateness(text: str) -> dict:
    """rtmp2sip_media_tick_lateness_seconds in `text`: the media workers' ticks that carried calls over the
    whole run (`n`) and those that started more than 40 ms late (`over_40ms`: every call's audio on that
    worker was held that long), or {} when the series is missing."""
    b = parse_histogram(text, "rtmp2sip_media_tick_lateness_seconds")
    if not b:
        return {}
    upto_40 = max((c for le, c in b if le <= 0.040 + 1e-9), default=0)
    return {"n": b[-1][1], "over_40ms": b[-1][1] - upto_40}


def leaves(v, prefix=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, f"{prefix}.{k}".lower() if prefix else str(k).lower())
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        yield prefix, float(v)


def has_in_order(key: str, tokens) -> bool:
    at = 0
    for t in tokens:
        i = key.find(t, at)
        if i < 0:
            return False
        at = i + len(t)
    return True


def ceiling() -> dict:
    """Component -> µs per 20 ms from the C ceiling program, or {} when it does not exist."""
    if not (REPO / "codecs" / "examples" / "ceiling.rs").exists():
        print("==> no codecs/examples/ceiling.rs: the ceiling columns stay empty", file=sys.stderr)
        return {}
    r = subprocess.run(["nice", "-n", "10", "cargo", "run", "-q", "--release", "-p", "rtmp2sip-codecs",
                        "--example", "ceiling", "--", "--json"], capture_output=True, text=True, cwd=REPO)
    try:
        data = json.loads(r.stdout)
    except json.JSONDecodeError:
        print(f"==> ceiling program gave no JSON (exit {r.returncode}): {r.stderr[-500:]}", file=sys.stderr)
        return {}
    found = {}
    flat = list(leaves(data))
    for comp, token_sets in CEILING_KEYS.items():
        for tokens in token_sets:
            hit = next((v for k, v in flat if has_in_order(k, tokens)), None)
            if hit is not None:
                found[comp] = hit
                break
    found["_raw"] = data
    return found


def relay_floor(calls: int = 300, seconds: float = 8.0) -> dict:
    """The socket floor with real peers (load/examples/relay_floor.rs: one pinned thread relaying every
    call's frame pairs between TCP and UDP on loopback, the clients and far ends on the other CPUs), or
    {} when it cannot run. `us_per_pair` is the relay's CPU per frame pair, µs."""
    if not (REPO / "load" / "examples" / "relay_floor.rs").exists():
        return {}
    r = subprocess.run(["cargo", "run", "-q", "--release", "-p", "rtmp2sip-load", "--example", "relay_floor", "--",
                        "--calls", str(calls), "--seconds", str(seconds)], capture_output=True, text=True, cwd=REPO)
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        print(f"==> relay_floor gave no JSON (exit {r.returncode}): {r.stderr[-500:]}", file=sys.stderr)
        return {}


def socket_floor(ceil: dict) -> float:
    """µs of socket work per frame pair at the least: the relay floor with real peers when measured
    (`relay_pair`), else the ceiling program's in-thread `io_pair_us` (no peer to wake; older ceiling
    programs: two UDP pairs)."""
    if "relay_pair" in ceil:
        return ceil["relay_pair"]
    return ceil["io_pair"] if "io_pair" in ceil else 2.0 * ceil.get("syscalls", 0.0)


def ceiling_calls_per_core(path: str, ceil: dict):
    """What one core could do on `path`: 20 ms over the cost of one frame pair: the C codec work plus
    the socket floor (`socket_floor`: one TCP read, one UDP send, one UDP receive, one TCP write, with
    the peers' delivery and wake-ups that loopback charges to the sender). The transcoded path takes the
    ceiling program's `transcoded_codec_us` (it also counts G.711)."""
    if not ceil:
        return None
    raw = ceil.get("_raw", {})
    if path == "transcoded" and isinstance(raw.get("transcoded_codec_us"), (int, float)):
        us = raw["transcoded_codec_us"] + socket_floor(ceil)
        return 20000.0 / us if us > 0 else None
    comps = PATHS[path][4]
    if any(c not in ceil for c in comps):
        return None
    us = sum(ceil[c] for c in comps) + socket_floor(ceil)
    return 20000.0 / us if us > 0 else None


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:.{nd}f}"


def overloaded(r: dict) -> str:
    """Returns " *" when the run was past capacity (under 99 % of the frames back, or delay variation p99 over
    100 ms): its CPU per call is then not a capacity figure."""
    ratio = r.get("frames_received_ratio") or 0
    p99 = r["delay_variation_ms"]["p99"] or 0
    return " *" if ratio < 0.99 or p99 > 100 else ""


def jb_cell(d: dict) -> str:
    if not d or d.get("p50") is None:
        return "-"
    f = lambda v: "> 1000" if v == float("inf") else f"{v:.0f}"  # noqa: E731
    return f"{f(d['p50'])} / {f(d['p99'])}"


def late_cell(d: dict) -> str:
    return f"{d['over_40ms']} of {d['n']}" if d else "-"


def table(rows: list, ceil: dict, args) -> str:
    head = ("| path | calls | up | setup p50/p99 ms | frames back | gaps > 60 ms | worker ticks > 40 ms late | delay var. p50/p99 ms "
            "| round trip p50/p99 ms | jitter buffer delay p50/p99 ms | gateway CPU % | µs per call per 20 ms | calls per core "
            "| C ceiling calls per core | ratio | RSS KiB per conn / per call | generator CPU % |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        g = r.get("gateway") or {}
        cpc = g.get("calls_per_core")
        cc = ceiling_calls_per_core(r["path"], ceil)
        ratio = (cpc / cc) if (cpc and cc) else None
        over = overloaded(r)
        out.append("| " + " | ".join([
            PATHS[r["path"]][0], str(r["calls_attempted"]), str(r["calls_connected"]),
            f"{fmt(r['setup_ms']['p50'], 1)} / {fmt(r['setup_ms']['p99'], 1)}",
            f"{fmt((r['frames_received_ratio'] or 0) * 100, 1)} %",
            str(r["gaps_over_60ms"]),
            late_cell(r.get("tick_lateness") or {}),
            f"{fmt(r['delay_variation_ms']['p50'])} / {fmt(r['delay_variation_ms']['p99'])}",
            f"{fmt(r['round_trip_ms']['p50'])} / {fmt(r['round_trip_ms']['p99'])}",
            jb_cell(r.get("jitter_delay_ms") or {}),
            fmt(g.get("cpu_percent"), 1), fmt(g.get("us_per_call_per_20ms")) + over,
            fmt(cpc) + over, fmt(cc), fmt(ratio, 2) + (over if ratio else ""),
            f"{fmt(g.get('rss_per_connection_kib'))} / {fmt(g.get('rss_per_call_kib'))}",
            fmt(r.get("generator_cpu_percent"), 1),
        ]) + " |")
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--json-out" and sys.argv[i:i + 1] != ["--json-out"]]
    loads = [r.get("loadavg_1min_after", -1) for r in rows]
    load_txt = f"1-minute load average after each run {min(loads):.1f}-{max(loads):.1f}, " if loads else ""
    note = (f"\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPUs ({cpu}), "
            f"{load_txt}by `scripts/bench-load.sh {' '.join(shown)}`: binaries from {os.path.relpath(args.bin_dir, REPO)}, {args.duration} s steady "
            f"window per row, ramp {args.ramp}/s, a fresh gateway per row, sipp -rtp_echo as the far end. "
            "Gateway CPU from /proc/PID/stat over the window; calls per core = calls / (CPU s / window s). "
            + ("Pinned (--pin): the gateway alone on one CPU with `[media] workers = 1`, the load generator and "
               "sipp on the other CPU, so each row is what one core does. " if pin_sets(args.pin)[0] else "") +
            "Frames are 20 ms of media; delay variation and round trip as load/README.md defines them. "
            "Jitter buffer delay: the gateway's rtmp2sip_jitter_delay_seconds after the run (arrival to playout of "
            "every RTP packet played toward the clients, all calls; bucket upper bounds). "
            "Worker ticks late: from the gateway's rtmp2sip_media_tick_lateness_seconds after the run (ramps "
            "included), the media worker's ticks that started over 40 ms late (holding every call's audio that "
            "long: the gateway's own stalls), of all its ticks that carried calls. "
            "\\* past capacity (under 99 % of the frames back, or delay variation p99 over 100 ms): the "
            "gateway fell behind, so CPU per call there is not a capacity figure.")
    if ceil:
        comps = {k: v for k, v in ceil.items() if not k.startswith("_")}
        note += (f" C ceiling (µs per 20 ms) from codecs/examples/ceiling.rs: {json.dumps(comps)}. The ceiling column "
                 "is 20 ms over the path's C codec cost plus the socket floor: "
                 + (f"`relay_pair` {ceil['relay_pair']:.1f} µs from load/examples/relay_floor.rs (one pinned thread "
                    "relaying every call's frame pairs between TCP and UDP on loopback with the clients and far ends on "
                    f"the other CPU, {ceil['_relay'].get('calls')} calls), which pays the peers' delivery and wake-ups "
                    "as the gateway does; the in-thread `io_pair` above does not." if "relay_pair" in ceil else
                    "`io_pair` (in one thread, no peer to wake)."))
    else:
        note += " The C ceiling program (codecs/examples/ceiling.rs) was not run (--no-ceiling) or absent: no ratio column values."
    return "\n".join(out) + "\n" + note + "\n"


def setup_table(r: dict, args) -> str:
    """The call-setup row: setups per core-second from the gateway's CPU over the dial phase, less the
    media of calls already up (load/src/setup_rate.rs)."""
    s = r.get("setups") or {}
    head = ("| call setups | calls up | dials offered per s | achieved per s | setup p50/p99 ms "
            "| gateway CPU per setup ms | setups per core-second |")
    row = "| " + " | ".join([
        PATHS[r["path"]][0], f"{r['calls_connected']} of {r['calls_attempted']}", fmt(args.setup_ramp),
        fmt(s.get("achieved_per_s")), f"{fmt(r['setup_ms']['p50'], 1)} / {fmt(r['setup_ms']['p99'], 1)}",
        fmt(s.get("cpu_ms_per_setup"), 2), fmt(s.get("setups_per_core_s")),
    ]) + " |"
    return (f"\n{head}\n|" + "---|" * (head.count("|") - 1) + f"\n{row}\n\n"
            f"Call setups: {args.setup_calls} connections, then dials at {fmt(args.setup_ramp)}/s (each: RTMP `dial`, "
            "INVITE/200/ACK with sipp, media started, both NetStreams); the CPU figure is /proc CPU time "
            "(10 ms resolution) over that dial phase.\n")


def write_benchmarks(text: str):
    p = REPO / "BENCHMARKS.md"
    cur = p.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in cur and END in cur:
        cur = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, cur, flags=re.S)
    else:
        cur = cur.rstrip("\n") + "\n\n## Load (scripts/bench-load.sh)\n\n" + block + "\n"
    p.write_text(cur)
    print(f"==> wrote {p}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", default="20 50 100", help="ladder of call counts, e.g. \"20 50 100\"")
    ap.add_argument("--duration", type=float, default=30.0, help="steady window per run, s")
    ap.add_argument("--ramp", type=float, default=50.0, help="connections (then dials) per second")
    ap.add_argument("--paths", default=",".join(PATHS), help="comma list of " + ", ".join(PATHS))
    ap.add_argument("--write", action="store_true", help="replace the bench-load section of BENCHMARKS.md")
    ap.add_argument("--bin-dir", default=str(TARGET / "release"),
                    help="where rtmp2sip and rtmp2sip-load are (default target/release)")
    ap.add_argument("--json-out", help="also write every run's JSON report to this file")
    ap.add_argument("--tick-ms", type=int, help="[media] tick_ms of the gateways (default: the gateway's own)")
    ap.add_argument("--setup-calls", type=int, default=300,
                    help="calls for the call-setup row (G.711 passthrough, 3 s window); 0 skips it")
    ap.add_argument("--setup-ramp", type=float, default=400.0, help="dials per second offered in the setup row")
    ap.add_argument("--pin", action="store_true",
                    help="the gateway alone on the first CPU with [media] workers = 1, rtmp2sip-load and sipp on "
                         "the others (what one core does, without the peers preempting it)")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip the C ceiling program (it builds in release): no ratio column values")
    args = ap.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    bad = [p for p in paths if p not in PATHS]
    if bad:
        sys.exit(f"unknown path(s) {bad}: choose from {list(PATHS)}")
    ladder = [int(n) for n in args.calls.replace(",", " ").split()]
    ceil = {} if args.no_ceiling else ceiling()
    if ceil:
        relay = relay_floor()
        if relay.get("us_per_pair"):
            ceil["relay_pair"] = relay["us_per_pair"]
            ceil["_relay"] = relay
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as d:
        for path in paths:
            for n in ladder:
                try:
                    rows.append(run_one(path, n, args, Path(d)))
                except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                    print(f"==> {path} {n}: {e}", file=sys.stderr)
        setup = None
        if args.setup_calls > 0:
            try:
                setup = run_one("pcmu", args.setup_calls, args, Path(d), ramp=args.setup_ramp, duration=3.0)
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                print(f"==> setup row: {e}", file=sys.stderr)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows + ([setup] if setup else []), indent=1))
    text = table(rows, ceil, args) + (setup_table(setup, args) if setup else "")
    print(text)
    if args.write:
        write_benchmarks(text)


if __name__ == "__main__":
    main()
