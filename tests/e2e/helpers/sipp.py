"""sipp (Debian sip-tester 3.6) as the SIP far end, from the project's scenarios in tests/peers/sipp.

A scenario's @PCAP@ placeholder is replaced by an absolute pcap path and the result is written into the
test's output folder, so nothing depends on where the repository lives."""
from pathlib import Path

from . import paths
from .ports import PortAllocator, udp_bound, wait_until
from .procs import Procs


class Sipp:
    """One sipp process handling one call (-m 1). Attributes: sip_port, media_port (its RTP port:
    capture there to see what it receives), scenario (rendered file), proc.

    `pcap` replaces @PCAP@; `subst` maps other placeholders (e.g. {"@CODE@": 486}) to their text;
    `keys` become -key NAME VALUE; `extra` is appended to sipp's arguments."""

    def __init__(self, procs: Procs, out_dir: Path, ports: PortAllocator, scenario: str, pcap: Path = None,
                 keys: dict = None, name: str = "sipp", extra: list = None, subst: dict = None):
        self.procs, self.out_dir, self.name = procs, Path(out_dir), name
        self.sip_port = ports.port()
        self.media_port = ports.range(4)[0]
        text = (paths.SIPP_DIR / scenario).read_text()
        if "@PCAP@" in text:
            if pcap is None:
                raise ValueError(f"{scenario} plays a pcap: give pcap=")
            text = text.replace("@PCAP@", str(Path(pcap).resolve()))
        for k, v in (subst or {}).items():
            text = text.replace(k, str(v))
        self.scenario = self.out_dir / f"{name}_{scenario}"
        self.scenario.write_text(text)
        self.keys = keys or {}
        self.extra = extra or []
        self.messages_file = self.out_dir / f"{name}_messages.log"
        self.log_file = self.out_dir / f"{name}_logs.log"
        self.error_file = self.out_dir / f"{name}_errors.log"
        self.proc = None

    def argv(self, remote: str = None) -> list:
        a = ["sipp", "-sf", self.scenario]
        if remote:
            a.append(remote)
        a += ["-i", "127.0.0.1", "-p", self.sip_port, "-mi", "127.0.0.1", "-mp", self.media_port,
              "-m", "1", "-nostdin",
              "-trace_msg", "-message_file", self.messages_file,
              "-trace_logs", "-log_file", self.log_file,
              "-trace_err", "-error_file", self.error_file]
        for k, v in self.keys.items():
            a += ["-key", k, str(v)]
        return a + self.extra

    def start(self, remote: str = None):
        """Start sipp (as UAC when `remote` host:port is given) and wait until its SIP port is bound."""
        self.proc = self.procs.start(self.name, self.argv(remote))
        if not remote:
            ok = wait_until(lambda: udp_bound(self.sip_port) or not self.proc.alive(), 10)
            if not self.proc.alive() or not ok:
                raise AssertionError(f"sipp did not start: {self.proc.tail(30)}")
        return self

    def uri(self, user: str = "bob") -> str:
        return f"sip:{user}@127.0.0.1:{self.sip_port}"

    def wait_exit(self, timeout: float):
        """sipp's exit code (0: every call succeeded), or None if it still runs after `timeout` s."""
        return self.proc.wait(timeout)

    def messages(self) -> str:
        try:
            return self.messages_file.read_text(errors="replace")
        except OSError:
            return ""

    def logs(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def report(self) -> str:
        """Exit status, screen tail and SIP message trace tail, for assertion messages."""
        rc = self.proc.popen.returncode if self.proc else None
        err = ""
        try:
            err = self.error_file.read_text(errors="replace")[-3000:]
        except OSError:
            pass
        return (f"sipp exit={rc}\n--- screen:\n{self.proc.tail(25) if self.proc else ''}\n--- errors:\n{err}\n"
                f"--- messages (tail):\n{self.messages()[-4000:]}")
