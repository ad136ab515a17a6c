"""Start external processes with their output in log files, and stop every one of them at teardown.

Each process runs in its own session (process group), so stopping it also stops its children
(tshark's dumpcap, for example). Only processes started here are ever signalled, by their own ids."""
import os
import signal
import subprocess
import time
from pathlib import Path


class Proc:
    """One started process: `popen`, `name`, `log` (stdout+stderr file), `argv`."""

    def __init__(self, name: str, argv: list, log: Path, popen: subprocess.Popen):
        self.name, self.argv, self.log, self.popen = name, argv, log, popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float):
        """Exit code, or None if still running after `timeout` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig: int):
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig: int = signal.SIGTERM, grace: float = 3.0):
        """Send `sig` to the process group, then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.alive():
            self.send_signal(sig)
            if self.wait(grace) is None:
                self.send_signal(signal.SIGKILL)
                self.wait(5)
        return self.popen.returncode

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def __repr__(self):
        return f"<{self.name} pid={self.pid} rc={self.popen.returncode} log={self.log}>"


class Procs:
    """A set of processes owned by one fixture; `stop_all()` ends every one still running."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.items = []

    def start(self, name: str, argv: list, cwd=None, env=None, stdin=subprocess.DEVNULL,
              log: Path = None) -> Proc:
        log = Path(log) if log else self.out_dir / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        fh = open(log, "ab")
        fh.write(("$ " + " ".join(str(a) for a in argv) + "\n").encode())
        fh.flush()
        popen = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=fh, stderr=subprocess.STDOUT,
                                 cwd=cwd, env=env, start_new_session=True)
        fh.close()
        p = Proc(name, argv, log, popen)
        self.items.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.items):
            p.stop()

    def describe(self, lines: int = 30) -> str:
        """Tail of every process's log, for failure reports."""
        out = []
        for p in self.items:
            out.append(f"----- {p.name} (pid {p.pid}, exit {p.popen.returncode}) {p.log}\n{p.tail(lines)}")
        return "\n".join(out)


def run(argv: list, timeout: float = 60, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a short command to completion, capturing text output; raise AssertionError with its output
    when `check` and it fails."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"command failed ({r.returncode}): {' '.join(map(str, argv))}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def sleep_until(t: float):
    """Sleep until time.monotonic() reaches t."""
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
