"""The command line: check-config accepts the shipped config and rejects bad ones naming the file, the
key and the reason; --version prints the package version; --config with the RTMP port already taken exits
non-zero saying so."""
import os
import re
import socket
import tomllib

from helpers import paths
from helpers.gateway import Gateway
from helpers.procs import run

SHIPPED = paths.REPO / "config" / "gateway.toml"


def binary():
    b = paths.gateway_binary()
    assert b.exists(), f"rtmp2sip binary not found at {b}"
    return b


def cli(*args, timeout=20):
    return run([binary(), *args], timeout=timeout, check=False, env=dict(os.environ, NO_COLOR="1"))


def test_check_config_accepts_shipped_config():
    r = cli("check-config", SHIPPED)
    assert r.returncode == 0, f"check-config {SHIPPED} exit {r.returncode}:\n{r.stderr}{r.stdout}"


def assert_rejected(r, path, *needles):
    assert r.returncode != 0, f"check-config accepted {path}:\n{r.stdout}{r.stderr}"
    err = r.stderr
    for n in (str(path), *needles):
        assert n in err, f"stderr should mention {n!r}:\n{err}"


def test_check_config_unknown_key(tmp_path):
    p = tmp_path / "unknown_key.toml"
    p.write_text('[rtmp]\nlisten = ["127.0.0.1:1935"]\nchunk_sise = 4096\n')
    r = cli("check-config", p)
    assert_rejected(r, p, "chunk_sise", "unknown")


def test_check_config_bad_value_range(tmp_path):
    p = tmp_path / "bad_range.toml"
    p.write_text('[rtmp]\nchunk_size = 5\n')
    r = cli("check-config", p)
    assert_rejected(r, p, "chunk_size", "128")


def test_check_config_bad_value_type(tmp_path):
    p = tmp_path / "bad_type.toml"
    p.write_text('[media]\nrtp_timeout_s = "soon"\n')
    r = cli("check-config", p)
    assert_rejected(r, p, "rtp_timeout_s", "invalid type")


def test_version():
    want = tomllib.loads((paths.REPO / "Cargo.toml").read_text())["package"]["version"]
    r = cli("--version")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"rtmp2sip {re.escape(want)}\s*", r.stdout), f"--version printed {r.stdout!r}"


def test_busy_rtmp_port_exits_with_message(tmp_path, ports):
    gw = Gateway(tmp_path / "gw_busy", ports)   # writes a loopback config; not started
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", gw.rtmp_port))
        holder.listen()
        r = cli("--config", gw.config_path, timeout=20)
    out = r.stderr + r.stdout
    assert r.returncode != 0, f"rtmp2sip started although 127.0.0.1:{gw.rtmp_port} was taken:\n{out}"
    assert f"127.0.0.1:{gw.rtmp_port}" in out and "in use" in out.lower(), \
        f"the message should name the address and say it is in use:\n{out}"
