"""Smoke test of the load generator (issue 10): `rtmp2sip-load` places 20 calls for 10 s through the
gateway to a sipp UAS that echoes RTP (`-rtp_echo`, tests/peers/sipp/uas_echo_pcmu.xml), publishing
G.711 µ-law (cheap on both sides, so a busy CI machine does not starve it) and playing the return. Asserts the generator and the gateway work together: exit 0, every call
connected, audio came back (a loose bound: debug binaries), tone bursts were found, and the JSON report
has every field. No figure is asserted against a speed: the figures live in BENCHMARKS.md
(scripts/bench-load.sh)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import paths
from helpers.ports import udp_bound, wait_until

CALLS = 20
DURATION_S = 10

#: Every key of the JSON report (load/README.md).
FIELDS = {
    "codec", "dial", "calls_attempted", "calls_connected", "calls_failed", "calls_dropped", "failures",
    "window_s", "setup_ms", "dial_ms", "frames_expected", "frames_received", "frames_received_ratio",
    "messages_received", "messages_undecodable", "gaps_over_60ms", "delay_variation_ms", "round_trip_ms",
    "gateway", "generator_cpu_percent",
}
GATEWAY_FIELDS = {"cpu_percent", "us_per_call_per_20ms", "calls_per_core", "rss_kib", "rss_idle_kib",
                  "rss_per_connection_kib", "rss_per_call_kib"}


def load_binary() -> Path:
    """$RTMP2SIP_LOAD_BIN, else <cargo target>/debug/rtmp2sip-load (built by `cargo build --workspace`)."""
    env = os.environ.get("RTMP2SIP_LOAD_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or paths.REPO / "target")
    if not target.is_absolute():
        target = paths.REPO / target
    return target / "debug" / "rtmp2sip-load"


def start_echo_uas(procs, ports, out_dir: Path, scenario: str):
    """sipp UAS answering any number of calls with `scenario`, echoing RTP; returns (proc, sip port)."""
    sip_port = ports.port()
    media_port = ports.range(4)[0]
    argv = ["sipp", "-sf", paths.SIPP_DIR / scenario, "-i", "127.0.0.1", "-p", sip_port,
            "-mi", "127.0.0.1", "-mp", media_port, "-rtp_echo", "-nostdin",
            "-trace_err", "-error_file", out_dir / "sipp_errors.log"]
    proc = procs.start("sipp-echo", argv)
    ok = wait_until(lambda: udp_bound(sip_port) or not proc.alive(), 10)
    assert ok and proc.alive(), f"sipp did not start: {proc.tail(30)}"
    return proc, sip_port


def test_load_smoke_pcmu_echo(gateway_factory, procs, ports, out_dir):
    binary = load_binary()
    assert binary.exists(), f"{binary} missing: run `cargo build --workspace`"
    sipp, sip_port = start_echo_uas(procs, ports, out_dir, "uas_echo_pcmu.xml")
    gw = gateway_factory({
        "media": {"rtp_ports": list(ports.range(4 * CALLS + 8)), "rtmp_out_codec": "match"},
        "limits": {"max_connections_per_ip": 4 * CALLS},
        "log": {"level": "info,rsipstack=warn"},
    }, name="gw-load")
    argv = [binary, "--rtmp", f"127.0.0.1:{gw.rtmp_port}", "--calls", str(CALLS), "--ramp", "20",
            "--duration", str(DURATION_S), "--codec", "pcmu", "--dial", f"sip:bob@127.0.0.1:{sip_port}",
            "--gateway-pid", str(gw.proc.popen.pid), "--json"]
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=DURATION_S + 90)
    (out_dir / "load.json").write_text(r.stdout)
    (out_dir / "load.stderr").write_text(r.stderr)
    assert r.returncode == 0, f"rtmp2sip-load exit {r.returncode}\n{r.stderr}\n{r.stdout}"
    rep = json.loads(r.stdout)
    assert FIELDS <= rep.keys(), f"missing fields {FIELDS - rep.keys()}: {rep}"
    assert rep["gateway"] is not None and GATEWAY_FIELDS <= rep["gateway"].keys(), rep
    assert rep["calls_attempted"] == CALLS
    assert rep["calls_connected"] == CALLS and rep["calls_failed"] == 0, rep
    assert rep["setup_ms"]["n"] == CALLS, rep
    expected = rep["frames_expected"]
    assert expected >= CALLS * DURATION_S * 50 * 0.9, rep
    assert rep["frames_received"] > 0.5 * expected, rep
    assert rep["messages_undecodable"] == 0, rep
    # About one burst a second per call comes back and is found.
    assert rep["round_trip_ms"]["n"] >= CALLS * DURATION_S * 0.5, rep
    assert rep["gateway"]["cpu_percent"] > 0, rep
    assert sipp.alive(), "the sipp echo UAS died"


def test_load_cli_usage_and_bad_options():
    binary = load_binary()
    assert binary.exists(), f"{binary} missing: run `cargo build --workspace`"
    r = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--gateway-pid" in r.stdout
    r = subprocess.run([str(binary), "--codec", "g729"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--codec" in r.stderr
