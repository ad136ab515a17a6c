"""tshark capture on the loopback interface (sipp does not store the RTP it receives)."""
import signal
import time
from pathlib import Path

from .procs import Procs


class Capture:
    """Captures UDP (or `proto`, e.g. "tcp") to/from `port` on lo into `pcap` (libpcap format) from start()
    to stop()."""

    def __init__(self, procs: Procs, out_dir: Path, port: int, name: str = "capture", proto: str = "udp"):
        self.procs, self.port, self.name, self.proto = procs, port, name, proto
        self.pcap = Path(out_dir) / f"{name}.pcap"
        self.proc = None

    def start(self, timeout: float = 15.0):
        self.proc = self.procs.start(self.name, ["tshark", "-q", "-n", "-i", "lo", "-f", f"{self.proto} port {self.port}",
                                                  "-F", "pcap", "-w", self.pcap])
        deadline = time.monotonic() + timeout
        while "Capturing on" not in self.proc.output():
            if not self.proc.alive() or time.monotonic() > deadline:
                raise AssertionError(f"tshark did not start capturing on lo: {self.proc.tail(20)}")
            time.sleep(0.05)
        time.sleep(0.2)
        return self

    def stop(self) -> Path:
        """Stop (SIGINT lets tshark flush) and return the pcap path."""
        if self.proc is not None:
            time.sleep(0.3)
            self.proc.stop(signal.SIGINT, grace=5)
        if not self.pcap.exists():
            raise AssertionError(f"tshark wrote no capture file {self.pcap}: {self.proc.tail(20)}")
        return self.pcap
