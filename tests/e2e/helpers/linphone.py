"""linphone (Debian linphone-cli 5.1: `linphonec`) as a SIP far end: headless on loopback, driven on stdin.

Each Linphone gets a throwaway dir with its own `linphonerc` (`-c`) and HOME (liblinphone keeps its
database under $HOME/.local/share/linphone). The config pins SIP to UDP 127.0.0.1:sip_port (TCP and TLS
off), RTP to its own ports on 127.0.0.1, IPv4 only, and turns off the network-state monitor (with it,
liblinphone never opened its SIP port here). No audio device: `soundcard use files` makes linphone read
`play FILE` as the microphone (`lead_silence_s` of silence, then a sine at `tone_hz`) and write the
far end's audio into `record FILE` (rec.wav). `-a` answers every incoming call.

Commands go to linphonec's stdin (`call URI`, `terminate`, `answer`, `pause`, `resume`); call states
come from what linphonec prints ("Call 1 with sip:... connected.", "... ended (...)."), read from its
log file. `-d 4 -l linphone.log` keeps liblinphone's debug log (SIP messages, chosen decoders) apart.
See tests/e2e/README.md, "Far ends: baresip, linphone"."""
import re
import subprocess
import time
from pathlib import Path

from . import media
from .baresip import _messages
from .ports import PortAllocator, udp_bound, wait_until
from .procs import Procs

#: linphone's codec entries ([audio_codec_N] mime/rate/channels) that the gateway also speaks
CODECS = {"opus": ("opus", 48000, 2), "PCMU": ("PCMU", 8000, 1), "PCMA": ("PCMA", 8000, 1),
          "G722": ("G722", 8000, 1), "speex16": ("speex", 16000, 1)}
#: codecs of linphone-cli that must be switched off when a test names its own list
_OTHERS = [("speex", 8000, 1), ("speex", 32000, 1), ("GSM", 8000, 1), ("G729", 8000, 1), ("L16", 44100, 2),
           ("L16", 44100, 1)]
SOURCE_RATE = 16000
SOURCE_SECONDS = 60
#: linphonec's own state lines (printf formats in linphonec), with its prompt stripped
STATE_PATTERNS = {
    "incoming": r"Receiving new incoming call from (?P<uri>\S+), assigned id (?P<id>\d+)",
    "outgoing": r"Establishing call id to (?P<uri>\S+), assigned id (?P<id>\d+)",
    "progress": r"Call (?P<id>\d+) to (?P<uri>\S+) in progress\.",
    "ringing": r"Call (?P<id>\d+) to (?P<uri>\S+) ringing\.",
    "connected": r"Call (?P<id>\d+) with (?P<uri>\S+) connected\.",
    "streams": r"Media streams established with (?P<uri>\S+) for call (?P<id>\d+)",
    "paused": r"Call (?P<id>\d+) with (?P<uri>\S+) is now paused\.",
    "paused_by_remote": r"Call (?P<id>\d+) has been paused by (?P<uri>\S+)\.",
    "ended": r"Call (?P<id>\d+) with (?P<uri>\S+) ended \((?P<reason>.*)\)\.",
    "error": r"Call (?P<id>\d+) with (?P<uri>\S+) error\.",
}
_DECODER = re.compile(r"MSRtpRecv:0x[0-9a-f]+,0-->(MS\w+Dec)")


class Linphone:
    """One linphonec UA `user`@127.0.0.1:sip_port answering every call. `codecs` (keys of CODECS) limits
    and orders its codecs (default: linphone's own list: opus, speex 16k/8k, PCMU, PCMA, ...)."""

    def __init__(self, procs: Procs, out_dir: Path, ports: PortAllocator, name: str = "linphone",
                 user: str = "carol", tone_hz: int = 700, lead_silence_s: float = 2.0, codecs: list = None):
        self.procs, self.name, self.user = procs, name, user
        self.dir = Path(out_dir) / name
        self.home = self.dir / "home"
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.sip_port = ports.port()
        self.rtp_port = ports.range(2)[0]       # RTP, RTCP (rtp_port + 1)
        self.video_port = ports.range(2)[0]     # never used (video off), but bound to nobody else's port
        self.text_port = ports.range(2)[0]
        self.tone_hz = tone_hz
        self.codecs = codecs
        self.rc = self.dir / "linphonerc"
        self.debug_log = self.dir / "linphone.log"
        self.rec_wav = self.dir / "rec.wav"
        self.source_wav = media.make_tone_wav(self.dir / "source.wav", tone_s=SOURCE_SECONDS,
                                              lead_silence_s=lead_silence_s, rate=SOURCE_RATE, freq=tone_hz)
        self.proc = None

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    # ---- config ----
    def rc_text(self) -> str:
        s = [
            "[sip]",
            f"sip_port={self.sip_port}", "sip_tcp_port=0", "sip_tls_port=0",
            "bind_address=127.0.0.1",
            "use_ipv6=0",
            "ipv6_migration_done=1",       # else liblinphone turns use_ipv6 back on at start-up
            "auto_net_state_mon=0",        # else it never listens on a host whose network it doubts
            "guess_hostname=0",
            f"contact=sip:{self.user}@127.0.0.1:{self.sip_port}",
            "inc_timeout=30",
            "[rtp]",
            f"audio_rtp_port={self.rtp_port}",
            f"video_rtp_port={self.video_port}",
            f"text_rtp_port={self.text_port}",
            "bind_address=127.0.0.1",
            "[sound]",
            "echocancellation=0",
            "[video]",
            "automatically_initiate=0", "automatically_accept=0", "capture=0", "display=0",
        ]
        if self.codecs:
            entries = [CODECS[c] for c in self.codecs]
            entries += [c for c in list(CODECS.values()) + _OTHERS if c not in entries]
            for i, (mime, rate, ch) in enumerate(entries):
                on = int((mime, rate, ch) in [CODECS[c] for c in self.codecs])
                s += [f"[audio_codec_{i}]", f"mime={mime}", f"rate={rate}", f"channels={ch}", f"enabled={on}"]
        return "\n".join(s) + "\n"

    # ---- process ----
    def start(self, timeout: float = 10.0) -> "Linphone":
        self.rc.write_text(self.rc_text())
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.proc = self.procs.start(self.name, ["linphonec", "-a", "-c", self.rc, "-d", "4", "-l", self.debug_log],
                                     cwd=self.dir, env=env, stdin=subprocess.PIPE)
        self.send("soundcard use files")
        self.send(f"play {self.source_wav}")
        self.send(f"record {self.rec_wav}")
        ok = wait_until(lambda: not self.proc.alive() or udp_bound(self.sip_port), timeout, 0.1)
        if not ok or not self.proc.alive():
            raise AssertionError(f"{self.name} did not listen on udp 127.0.0.1:{self.sip_port} "
                                 f"(alive={self.proc.alive()}):\n{self.proc.tail(40)}")
        wait_until(lambda: "Using wav files" in self.proc.output(), 5, 0.05)
        return self

    def send(self, line: str):
        """One linphonec command line on its stdin."""
        self.proc.popen.stdin.write((line + "\n").encode())
        self.proc.popen.stdin.flush()

    # ---- commands ----
    def dial(self, uri: str):
        self.send(f"call {uri}")

    def hangup(self):
        self.send("terminate")

    def accept(self):
        self.send("answer")

    def hold(self):
        """pause: re-INVITE with a=sendonly."""
        self.send("pause")

    def resume(self):
        self.send("resume")

    # ---- states ----
    def states(self) -> list:
        """[(state, groupdict)] in the order linphonec printed them (see STATE_PATTERNS)."""
        out = []
        for line in self.proc.output().splitlines():
            line = line.replace("linphonec> ", "")
            for st, pat in STATE_PATTERNS.items():
                m = re.search(pat, line)
                if m:
                    out.append((st, m.groupdict()))
        return out

    def wait_state(self, state: str, timeout: float, after: int = 0) -> dict:
        """groupdict of the first `state` line at index >= after among states()."""
        found = {}

        def seen():
            for st, d in self.states()[after:]:
                if st == state:
                    found.update(d)
                    return True
            return not self.proc.alive()
        wait_until(seen, timeout, 0.1)
        if not found:
            raise AssertionError(f"{self.name}: no '{state}' within {timeout} s (alive={self.proc.alive()}); "
                                 f"states: {[s for s, _ in self.states()]}\n{self.proc.tail(30)}")
        return found

    def state_names(self) -> list:
        return [s for s, _ in self.states()]

    def decoder(self) -> str:
        """The mediastreamer decoder of the last audio stream started (MSUlawDec, MSOpusDec, ...)."""
        try:
            found = _DECODER.findall(self.debug_log.read_text(errors="replace"))
        except OSError:
            return "?"
        return found[-1] if found else "?"

    def received_messages(self) -> list:
        """[(start line, CSeq value)] of the SIP messages linphone received, in order, from belle-sip's
        debug log ("received [N] new bytes from [UDP://...]:" before each message)."""
        try:
            text = self.debug_log.read_text(errors="replace")
        except OSError:
            return []
        return _messages(text, r"received \[\d+\] new bytes from \[UDP://[^\]]+\]:\s*$")

    def received_requests(self) -> list:
        """Methods of the SIP requests linphone received, in order."""
        return [m[0].split(" ", 1)[0] for m in self.received_messages() if not m[0].startswith("SIP/2.0")]

    def received_wav(self) -> Path:
        assert self.rec_wav.exists() and self.rec_wav.stat().st_size > 44, \
            f"{self.name}: linphone recorded nothing into {self.rec_wav}"
        return self.rec_wav

    def stop(self):
        """quit on stdin, then the Procs teardown (SIGTERM, SIGKILL) if it lingers."""
        if self.proc is not None and self.proc.alive():
            try:
                self.send("quit")
                self.proc.popen.stdin.close()
            except OSError:
                pass
            if self.proc.wait(8) is None:
                self.proc.stop()
