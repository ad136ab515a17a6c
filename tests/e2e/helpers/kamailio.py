"""Kamailio (Debian's kamailio 5.6) as a registrar and proxy with digest auth, from the project's template
tests/peers/kamailio/kamailio.cfg.

Users (plaintext passwords in an htable): alice/alicepw, bob/bobpw, rtmpuser/secret. A REGISTER is challenged
with 401 (qop=auth, MD5 or SHA-256), an AoR keeps one contact, a REGISTER asking less than min_expires gets
423 with Min-Expires, and one asking more than max_expires is granted max_expires. An INVITE from a local user
is challenged with 407, then relayed to the Request-URI user's registered Contact (lookup("location")).

Each instance runs on its own port with its own run folder (the rendered config, pid file, kamcmd control
socket) in the test's output folder, so nothing depends on fixed paths. Its log is `<name>.log` there and is
in the failure report like every process of `procs`."""
import re
import subprocess
import time
from pathlib import Path

from . import paths
from .ports import PortAllocator, udp_bound, wait_until
from .procs import Procs

TEMPLATE = paths.PEERS / "kamailio" / "kamailio.cfg"
USERS = {"alice": "alicepw", "bob": "bobpw", "rtmpuser": "secret"}
START_TIMEOUT_S = 10


def require_kamailio():
    """Raise AssertionError naming the fix when kamailio or kamcmd is missing."""
    missing = paths.require_programs("kamailio", "kamcmd")
    if missing:
        raise AssertionError(f"missing test peer programs: {', '.join(missing)} (Debian package kamailio); "
                             f"run scripts/install-test-deps.sh")


def parse_kamcmd(text: str) -> dict:
    """kamcmd's tree output ('Key: value' lines and 'Key: {' ... '}' blocks) -> nested dicts whose values are
    lists (a key may repeat: one 'Info' per AoR, one 'Contact' per binding). Leaf values are strings."""
    root = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "{":
            continue
        if line == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if value == "{":
            child = {}
            stack[-1].setdefault(key, []).append(child)
            stack.append(child)
        else:
            stack[-1].setdefault(key, []).append(value)
    return root


def _children(node: dict, *keys):
    """All nodes reached from `node` through the chain of block `keys`."""
    nodes = [node]
    for k in keys:
        nodes = [c for n in nodes for c in n.get(k, []) if isinstance(c, dict)]
    return nodes


def contacts_of(dump: dict, aor_user: str) -> list:
    """The bindings of `aor_user` in a parsed `ul.dump`, each a dict with lower-case keys ('address',
    'expires' (int, seconds left), 'cseq' (int), 'call-id', 'user-agent', 'received', 'socket', ...)."""
    out = []
    for info in _children(dump, "Domains", "Domain", "AoRs", "Info"):
        if info.get("AoR", [None])[0] != aor_user:
            continue
        for c in _children(info, "Contacts", "Contact"):
            d = {k.lower(): v[0] for k, v in c.items() if v and isinstance(v[0], str)}
            for k in ("expires", "cseq"):
                try:
                    d[k] = int(d.get(k, ""))
                except ValueError:
                    pass
            out.append(d)
    return out


class Kamailio:
    """One kamailio on 127.0.0.1:`port` (UDP and TCP). `algorithm` is "MD5" or "SHA-256" (RFC 8760) for the
    challenges; `min_expires`/`max_expires` (s) bound the granted lifetimes."""

    def __init__(self, procs: Procs, out_dir: Path, ports: PortAllocator, algorithm: str = "MD5",
                 min_expires: int = 5, max_expires: int = 3600, name: str = "kamailio", defines: tuple = ()):
        if algorithm not in ("MD5", "SHA-256"):
            raise ValueError(f"algorithm {algorithm!r}: MD5 or SHA-256")
        self.procs, self.name, self.algorithm = procs, name, algorithm
        self.defines = tuple(defines)   # kamailio -A NAME: "#!ifdef NAME" blocks of the template (WITH_SST)
        self.port = ports.port()
        self.run_dir = Path(out_dir) / f"{name}_run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ctl = self.run_dir / "kamailio_ctl"
        self.config = self.run_dir / "kamailio.cfg"
        self.log = Path(out_dir) / f"{name}.log"
        text = TEMPLATE.read_text()
        for k, v in {"@RUNDIR@": self.run_dir.resolve(), "@PORT@": self.port, "@ALGORITHM@": algorithm,
                     "@MIN_EXPIRES@": min_expires, "@MAX_EXPIRES@": max_expires,
                     "@DEFAULT_EXPIRES@": max_expires}.items():
            text = text.replace(k, str(v))
        self.config.write_text(text)
        self.proc = None

    @property
    def registrar(self) -> str:
        """'127.0.0.1:PORT', the registrar argument of the RTMP register command."""
        return f"127.0.0.1:{self.port}"

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def start(self):
        """Start kamailio (-DD: main process in the foreground, so stopping the process group stops it) and
        wait until it listens and answers kamcmd."""
        require_kamailio()
        argv = ["kamailio", "-f", self.config, "-DD", "-E", "-Y", self.run_dir]
        for d in self.defines:
            argv += ["-A", d]
        self.proc = self.procs.start(self.name, argv, log=self.log)

        def ready():
            return not self.proc.alive() or (udp_bound(self.port) and self.ctl.exists()
                                             and self._kamcmd("core.version") is not None)
        ok = wait_until(ready, START_TIMEOUT_S, 0.1)
        if not self.proc.alive() or not ok:
            raise AssertionError(f"kamailio did not start on udp 127.0.0.1:{self.port} within "
                                 f"{START_TIMEOUT_S} s; log {self.log}:\n{self.proc.tail(40)}")
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def _kamcmd(self, *cmd) -> str:
        try:
            r = subprocess.run(["kamcmd", "-s", f"unix:{self.ctl}", *cmd], capture_output=True, text=True,
                               timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout if r.returncode == 0 else None

    def dump(self) -> str:
        """Raw `kamcmd ul.dump` output."""
        out = self._kamcmd("ul.dump")
        if out is None:
            raise AssertionError(f"kamcmd ul.dump failed (kamailio alive: {self.proc and self.proc.alive()}); "
                                 f"log tail:\n{self.proc.tail(20) if self.proc else ''}")
        return out

    def bindings(self, aor_user: str) -> list:
        """Contacts registered for `aor_user` (see contacts_of)."""
        return contacts_of(parse_kamcmd(self.dump()), aor_user)

    def wait_bindings(self, aor_user: str, pred, timeout: float, what: str = "bindings") -> list:
        """Poll bindings(aor_user) until pred(list) is true; AssertionError with the dump after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.bindings(aor_user)
            if pred(b):
                return b
            if time.monotonic() >= deadline:
                raise AssertionError(f"kamailio: no {what} for {aor_user} within {timeout} s; now {b}\n"
                                     f"register log:\n" + "\n".join(self.register_log()))
            time.sleep(0.2)

    def kamcmd(self, *cmd) -> str:
        """Output of `kamcmd -s unix:<ctl> CMD...` (e.g. "dlg.list"), or None when it failed."""
        return self._kamcmd(*cmd)

    def output(self) -> str:
        return self.proc.output() if self.proc else ""

    def register_log(self) -> list:
        """The script's log lines about REGISTERs ('REQ REGISTER', 'REGISTERED ...', challenge/auth fail)."""
        return [ln for ln in self.output().splitlines() if "REGISTER" in ln]

    def registered(self, aor_user: str = None) -> list:
        """Parsed 'REGISTERED' lines (accepted REGISTERs), oldest first: dicts with 'aor', 'contact',
        'expires' (the request's Expires header, str), 'callid', 'cseq' (int), 'auth' (the Authorization
        header), and 't' (position in the log)."""
        pat = re.compile(r"REGISTERED (?P<aor>\S+) contact=(?P<contact>.*?) expires=(?P<expires>\S+) "
                         r"callid=(?P<callid>\S+) cseq=(?P<cseq>\d+) auth=\[(?P<auth>.*)\]")
        out = []
        for i, ln in enumerate(self.output().splitlines()):
            m = pat.search(ln)
            if not m:
                continue
            d = m.groupdict()
            d["cseq"], d["t"] = int(d["cseq"]), i
            if aor_user is None or d["aor"].startswith(f"sip:{aor_user}@"):
                out.append(d)
        return out

    def auth_failures(self, aor_user: str) -> int:
        """How many REGISTERs for `aor_user` were challenged or failed authentication."""
        return sum(1 for ln in self.output().splitlines() if f"REGISTER challenge/auth fail for {aor_user} " in ln)
