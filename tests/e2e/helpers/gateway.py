"""The rtmp2sip gateway under test: its generated config, start-up, readiness and logs."""
import copy
import os
import re
from pathlib import Path

from . import paths
from .ports import PortAllocator, tcp_accepting, udp_bound, wait_until
from .procs import Procs, run

#: RTMP application the tests connect to (rtmp://127.0.0.1:P/phone).
APP = "phone"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
START_TIMEOUT_S = 15


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def to_toml(sections: dict) -> str:
    """{"sip": {"listen": "..."}, "sip.auth": {...}} -> TOML text (one level of tables)."""
    out = []
    for name, keys in sections.items():
        out.append(f"[{name}]")
        out += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        out.append("")
    return "\n".join(out)


def merge(base: dict, overrides: dict) -> dict:
    """Copy of `base` with overrides[section][key] replacing or adding keys; a value of None
    removes the key (the gateway's own default applies)."""
    m = copy.deepcopy(base)
    for sec, keys in overrides.items():
        m.setdefault(sec, {}).update(keys)
        m[sec] = {k: v for k, v in m[sec].items() if v is not None}
    return m


#: `[media] speex_complexity_narrowband` of the test gateways (the shipped default is 1). The
#: tone checks of the e2e tests (a 1 kHz tone at the RTMP player, SNR floors of 20-30 dB) measure
#: the bridge (gaps, rate, levels) and were calibrated at complexity 3; libspeex below 3 skips its
#: open-loop pitch search and a pure 1 kHz tone through PCMU -> Speex WB comes out at ~15 dB SNR
#: (34 dB at 3), while speech scores the same by PESQ (BENCHMARKS.md "Speex and Opus settings by
#: PESQ"). A test of the shipped default passes {"media": {"speex_complexity_narrowband": None}}.
TONE_TEST_NARROWBAND_COMPLEXITY = 3
_KNOWS_NARROWBAND_KEY = {}


def knows_narrowband_key(binary: Path) -> bool:
    """Whether `binary` accepts `[media] speex_complexity_narrowband` (binaries built before it
    refuse unknown keys, and the e2e tests also run against old binaries via RTMP2SIP_BIN)."""
    key = str(binary)
    if key not in _KNOWS_NARROWBAND_KEY:
        try:
            import mmap
            with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                _KNOWS_NARROWBAND_KEY[key] = m.find(b"speex_complexity_narrowband") >= 0
        except (OSError, ValueError):
            _KNOWS_NARROWBAND_KEY[key] = False
    return _KNOWS_NARROWBAND_KEY[key]


class Gateway:
    """A running rtmp2sip on loopback. Attributes: rtmp_port, sip_port, rtp_ports (first, last),
    config_path, log (stderr+stdout file), proc."""

    def __init__(self, out_dir: Path, ports: PortAllocator, overrides: dict = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.binary = paths.gateway_binary()
        self.rtmp_port = ports.port()
        self.sip_port = ports.port()
        self.rtp_ports = ports.range(20)
        self.config = merge({
            "rtmp": {"listen": [f"127.0.0.1:{self.rtmp_port}"]},
            "sip": {"listen": f"127.0.0.1:{self.sip_port}", "public_address": "127.0.0.1"},
            "media": {"bind_address": "127.0.0.1", "rtp_ports": list(self.rtp_ports),
                      **self._tone_test_media()},
            "policy": {"dial_allow": ["sip:echo@*", "sip:*@127.0.0.1"]},
            "log": {"level": "debug"},
        }, overrides or {})
        self.config_path = self.out_dir / "gateway.toml"
        self.config_path.write_text(to_toml(self.config))
        self.log = self.out_dir / "gateway.log"
        self.procs = Procs(self.out_dir)
        self.proc = None

    def _tone_test_media(self) -> dict:
        """[media] keys every test gateway gets: see TONE_TEST_NARROWBAND_COMPLEXITY."""
        if knows_narrowband_key(self.binary):
            return {"speex_complexity_narrowband": TONE_TEST_NARROWBAND_COMPLEXITY}
        return {}

    def url(self, stream: str = None) -> str:
        """rtmp://127.0.0.1:P/phone[/stream]"""
        base = f"rtmp://127.0.0.1:{self.rtmp_port}/{APP}"
        return f"{base}/{stream}" if stream else base

    def sip_uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.sip_port}"

    def check_binary(self):
        if not self.binary.exists():
            raise AssertionError(
                f"rtmp2sip binary not found at {self.binary}: build it with `cargo build` in {paths.REPO} "
                f"(or set RTMP2SIP_BIN / CARGO_TARGET_DIR)")

    def check_config(self):
        """`rtmp2sip check-config` must accept the generated config."""
        r = run([self.binary, "check-config", self.config_path], timeout=30, check=False)
        if r.returncode != 0:
            raise AssertionError(f"rtmp2sip check-config rejected the test config {self.config_path} "
                                 f"(exit {r.returncode}):\n{r.stderr}{r.stdout}\n--- config:\n"
                                 f"{self.config_path.read_text()}")

    def start(self):
        self.check_binary()
        self.check_config()
        env = dict(os.environ, NO_COLOR="1")
        env.pop("RUST_LOG", None)   # it would override [log] level
        self.proc = self.procs.start("gateway", [self.binary, "--config", self.config_path], log=self.log,
                                     env=env)

        extra = self.tcp_listener_ports()

        def ready():
            if not self.proc.alive():
                return True
            return (udp_bound(self.sip_port) and tcp_accepting(self.rtmp_port)
                    and all(tcp_accepting(p) for p in extra))
        ok = wait_until(ready, START_TIMEOUT_S, 0.1)
        if not self.proc.alive():
            raise AssertionError(f"rtmp2sip exited at start-up with code {self.proc.popen.returncode}; "
                                 f"log {self.log}:\n{self.proc.tail(80)}")
        if not ok:
            tail = self.proc.tail(80)
            self.stop()
            raise AssertionError(f"rtmp2sip did not listen on RTMP 127.0.0.1:{self.rtmp_port}, SIP "
                                 f"udp 127.0.0.1:{self.sip_port} and TCP {extra} within {START_TIMEOUT_S} s; "
                                 f"log:\n{tail}")
        return self

    def tcp_listener_ports(self) -> list:
        """Ports of the TCP listeners the config adds to [rtmp] listen: [rtmp] tls_listen (RTMPS),
        [http] listen and [metrics] listen; start() waits for each of them."""
        addrs = (list(self.config["rtmp"].get("tls_listen", [])) + list(self.config.get("http", {}).get("listen", []))
                 + list(self.config.get("metrics", {}).get("listen", [])))
        return [int(a.rsplit(":", 1)[1]) for a in addrs]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, max_lines: int = 300) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        lines = _ANSI.sub("", text).splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines in {self.log})"] + lines[-max_lines:]
        return "\n".join(lines)

    def stop(self):
        """SIGTERM (then SIGKILL). Returns the exit code."""
        rc = self.procs.items[0].stop(grace=5) if self.procs.items else None
        self.procs.stop_all()
        return rc
