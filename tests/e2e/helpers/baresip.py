"""baresip (Debian baresip-core 1.0.0) as a SIP far end: headless on loopback, driven over ctrl_tcp.

Each Baresip gets a throwaway config dir (`-f DIR`): SIP on 127.0.0.1 (UDP and TCP on `sip_port`, and a
TLS listener on `sip_port + 1` that baresip always opens), RTP from its own port range, `net_interface
127.0.0.1` (its SDP then carries 127.0.0.1, never the machine's other addresses). No audio device: the
`aufile` module reads a WAV as the microphone (`lead_silence_s` of silence, then a sine at `tone_hz`),
the `aubridge` module stands in as the loudspeaker, and the `sndfile` filter writes what the call sends
and receives into `rec/dump-<time>-enc.wav` and `rec/dump-<time>-dec.wav` (decoded far-end audio, at
the codec's rate and channel count; baresip 1.0.0 stops writing it after a re-INVITE restarts its
player, so capture `rtp_port` instead across a hold). The account answers every incoming call
(`answermode=auto`). With a single RTP/RTCP port pair it has room for one call at a time.

Commands (`dial`, `hangup`, `accept`) go over ctrl_tcp (netstrings of JSON,
`{"command", "params", "token"}`); baresip answers `{"response": true, "ok", "data", "token"}` and sends
every UA event as `{"event": true, "type": "CALL_ESTABLISHED", "peeruri", "id", "param", ...}` on the same
connection. A reader thread records those; the tests wait on the record. baresip 1.0.0's menu has hold and
resume only as keys ('x', 'X'), with no command name ctrl_tcp could send, so `hold()` and `resume()` send
those keys to the `cons` module (a UDP console on `cons_port`). See tests/e2e/README.md,
"Far ends: baresip, linphone", for what was learnt running it headless."""
import json
import re
import socket
import threading
import time
from pathlib import Path

from . import media
from .ports import PortAllocator, tcp_accepting, wait_until
from .procs import Procs

MODULE_PATH = "/usr/lib/baresip/modules"
#: audio codecs of baresip-core that the gateway also speaks (names as in an account's audio_codecs)
CODECS = {"opus": "opus/48000/2", "PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1"}
SOURCE_RATE = 16000
#: the call ends when aufile reaches the end of its WAV ("audio error ... end of file"): keep it long
SOURCE_SECONDS = 60
_DECODER = re.compile(r"audio: Set audio decoder: (\S+) (\d+)Hz (\d+)ch")


def _messages(text: str, marker: str) -> list:
    """[(start line, CSeq value)] of the SIP messages that follow each line matching `marker`."""
    out = []
    for m in re.finditer(marker, text, re.M):
        body = text[m.end():m.end() + 4000].lstrip("\r\n")
        cseq = re.search(r"^CSeq:\s*(.+?)\s*$", body, re.M | re.I)
        out.append((body.split("\n", 1)[0].strip(), cseq.group(1) if cseq else ""))
    return out


def _netstring(b: bytes) -> bytes:
    return str(len(b)).encode() + b":" + b + b","


class Baresip:
    """One baresip UA `user`@127.0.0.1:sip_port. `codecs` (keys of CODECS) limits and orders the codecs
    it offers and accepts (default: all four). `tone_hz` is the sine it sends after `lead_silence_s`.
    `mediaenc` sets the account's media encryption (e.g. "srtp-mand": RTP/SAVP with SDES a=crypto only,
    the srtp module loaded; "srtp": SRTP offered, plain accepted); None: plain RTP. `tls_pem` (a PEM file with
    the certificate chain and its key) turns on its TLS listener at sip_port + 1 (`tls_uri`)."""

    def __init__(self, procs: Procs, out_dir: Path, ports: PortAllocator, name: str = "baresip",
                 user: str = "bob", tone_hz: int = 700, lead_silence_s: float = 2.0, codecs: list = None,
                 mediaenc: str = None, tls_pem: Path = None):
        self.procs, self.name, self.user = procs, name, user
        self.dir = Path(out_dir) / name
        self.rec_dir = self.dir / "rec"
        self.rec_dir.mkdir(parents=True, exist_ok=True)
        self.sip_port = ports.range(2)[0]       # + 1: baresip's TLS listener
        self.ctrl_port = ports.port()
        self.cons_port = ports.port()
        # one RTP/RTCP pair: baresip takes RTP from `rtp_ports` (even) and RTCP on the next port, so a
        # single call's RTP port is known before it starts (captures need it)
        self.rtp_ports = ports.range(2)
        self.rtp_port = self.rtp_ports[0]
        self.tone_hz = tone_hz
        self.codecs = list(codecs or CODECS)
        self.mediaenc = mediaenc
        self.tls_pem = tls_pem
        self.source_wav = media.make_tone_wav(self.dir / "source.wav", tone_s=SOURCE_SECONDS,
                                              lead_silence_s=lead_silence_s, rate=SOURCE_RATE, freq=tone_hz)
        self.events, self.responses = [], []
        self.closed_reason = None
        self._cond = threading.Condition()
        self._sock = None
        self._thread = None
        self._token = 0
        self.proc = None

    @property
    def uri(self) -> str:
        """sip:user@127.0.0.1:sip_port (no transport parameter: UDP)."""
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    @property
    def tls_uri(self) -> str:
        """Its TLS listener (sip_port + 1), as `sip:...;transport=tls`."""
        return f"sip:{self.user}@127.0.0.1:{self.sip_port + 1};transport=tls"

    # ---- config ----
    def config_text(self) -> str:
        lines = [
            ("poll_method", "epoll"),
            ("sip_listen", f"127.0.0.1:{self.sip_port}"),
            ("net_interface", "127.0.0.1"),
            ("call_local_timeout", "30"),
            ("call_max_calls", "2"),
            ("audio_source", f"aufile,{self.source_wav}"),
            ("audio_player", "aubridge,nil"),
            ("audio_alert", "aubridge,nil"),
            ("ausrc_srate", str(SOURCE_RATE)),
            ("ausrc_channels", "1"),     # aufile insists the WAV has exactly this many channels
            ("auplay_srate", str(SOURCE_RATE)),
            ("auplay_channels", "1"),
            ("audio_level", "no"),
            ("audio_buffer", "20-160"),
            ("rtp_ports", f"{self.rtp_ports[0]}-{self.rtp_ports[1]}"),
            ("rtcp_mux", "no"),
            ("jitter_buffer_delay", "5-10"),
            ("rtp_stats", "yes"),
            ("module_path", MODULE_PATH),
            ("module", "g711.so"),
            ("module", "g722.so"),
            ("module", "opus.so"),
            ("module", "sndfile.so"),
            ("module", "aufile.so"),
            ("module", "aubridge.so"),
            *([("module", "srtp.so")] if self.mediaenc else []),
            ("module_tmp", "account.so"),
            ("module_app", "menu.so"),       # the dial/hangup/hold/resume commands
            ("module_app", "ctrl_tcp.so"),
            ("ctrl_tcp_listen", f"127.0.0.1:{self.ctrl_port}"),
            ("module", "cons.so"),           # hold/resume keys (UDP; it listens on TCP too)
            ("cons_listen", f"127.0.0.1:{self.cons_port}"),
            ("snd_path", str(self.rec_dir)),
            ("statmode_default", "off"),
            ("opus_bitrate", "32000"),
            *([("sip_certificate", str(self.tls_pem))] if self.tls_pem else []),
        ]
        return "".join(f"{k}\t\t{v}\n" for k, v in lines)

    def account_text(self) -> str:
        codecs = ",".join(CODECS[c] for c in self.codecs)
        enc = f";mediaenc={self.mediaenc}" if self.mediaenc else ""
        return (f"<sip:{self.user}@127.0.0.1:{self.sip_port}>;regint=0;answermode=auto;audio_codecs={codecs}"
                f"{enc}\n")

    # ---- process ----
    def start(self, timeout: float = 10.0) -> "Baresip":
        (self.dir / "config").write_text(self.config_text())
        (self.dir / "accounts").write_text(self.account_text())
        (self.dir / "contacts").write_text("")
        # -v: debug log (codec choice, RTP addresses); -s: SIP trace in the log
        self.proc = self.procs.start(self.name, ["baresip", "-f", self.dir, "-v", "-s"], cwd=self.dir)
        ok = wait_until(lambda: not self.proc.alive() or tcp_accepting(self.ctrl_port), timeout, 0.1)
        if not ok or not self.proc.alive():
            raise AssertionError(f"{self.name} did not open ctrl_tcp 127.0.0.1:{self.ctrl_port} "
                                 f"(alive={self.proc.alive()}):\n{self.proc.tail(40)}")
        self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5)
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._reader, name=f"{self.name}-ctrl", daemon=True)
        self._thread.start()
        return self

    def _reader(self):
        buf = b""
        while True:
            try:
                d = self._sock.recv(65536)
            except OSError as e:
                d, err = b"", str(e)
            else:
                err = "closed"
            if not d:
                with self._cond:
                    self.closed_reason = err
                    self._cond.notify_all()
                return
            buf += d
            while True:
                colon = buf.find(b":")
                if colon < 0 or not buf[:colon].isdigit():
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                body, buf = buf[colon + 1:colon + 1 + n], buf[colon + 2 + n:]
                try:
                    msg = json.loads(body)
                except ValueError:
                    msg = {"undecodable": body.decode(errors="replace")}
                msg["t"] = time.monotonic()
                with self._cond:
                    (self.events if msg.get("event") else self.responses).append(msg)
                    self._cond.notify_all()

    # ---- commands ----
    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict:
        """Send one menu command over ctrl_tcp; returns baresip's response (asserts ok)."""
        self._token += 1
        token = f"t{self._token}"
        msg = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(_netstring(msg))
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.responses:
                    if r.get("token") == token:
                        assert r.get("ok"), f"{self.name}: {command} {params!r} failed: {r}\n{self.proc.tail(30)}"
                        return r
                left = deadline - time.monotonic()
                if left <= 0 or self.closed_reason:
                    raise AssertionError(f"{self.name}: no response to {command} ({self.closed_reason}); "
                                         f"log:\n{self.proc.tail(30)}")
                self._cond.wait(min(left, 0.5))

    def dial(self, uri: str):
        """Place a call to `uri` (menu /dial)."""
        return self.command("dial", uri)

    def hangup(self):
        """End the current call (menu /hangup: BYE, or CANCEL while it rings)."""
        return self.command("hangup")

    def accept(self):
        """Answer the ringing call (only needed with another answermode than auto)."""
        return self.command("accept")

    def key(self, k: str):
        """Press menu key `k` through the cons module (UDP, one byte per key)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(k.encode(), ("127.0.0.1", self.cons_port))

    def hold(self):
        """Put the current call on hold (menu key 'x': re-INVITE with a=sendonly)."""
        self.key("x")

    def resume(self):
        """Take the current call off hold (menu key 'X': re-INVITE with a=sendrecv)."""
        self.key("X")

    # ---- events ----
    def wait_event(self, type_: str, timeout: float, after: int = 0) -> dict:
        """The first UA event of `type_` (CALL_INCOMING, CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED,
        CALL_RTPESTAB, ...) at index >= after among all events."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events[after:]:
                    if e.get("type") == type_:
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self.closed_reason:
                    break
                self._cond.wait(min(left, 0.5))
        raise AssertionError(f"{self.name}: no {type_} event within {timeout} s; events: "
                             f"{[e.get('type') for e in self.events]}\nlog:\n{self.proc.tail(40)}")

    def event_types(self) -> list:
        with self._cond:
            return [e.get("type") for e in self.events]

    def decoder(self) -> str:
        """The codec baresip decodes, from its log: e.g. "opus 48000Hz 2ch" (the last one set)."""
        found = _DECODER.findall(self.proc.output())
        return " ".join((found[-1][0], found[-1][1] + "Hz", found[-1][2] + "ch")) if found else "?"

    def received_messages(self) -> list:
        """[(start line, CSeq value)] of the SIP messages baresip received, in order, from its SIP trace
        (`-s`: a line "UDP <from> -> 127.0.0.1:<sip_port>" before each message)."""
        return _messages(self.proc.output(), rf"^UDP \S+ -> 127\.0\.0\.1:{self.sip_port}\s*$")

    def received_requests(self) -> list:
        """Methods of the SIP requests baresip received, in order."""
        return [m[0].split(" ", 1)[0] for m in self.received_messages() if not m[0].startswith("SIP/2.0")]

    def received_wav(self) -> Path:
        """The newest sndfile dump of decoded far-end audio (rec/dump-*-dec.wav)."""
        files = sorted(self.rec_dir.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
        assert files, f"{self.name}: sndfile wrote no decoded audio into {self.rec_dir}"
        return files[-1]

    def stop(self):
        """quit over ctrl_tcp, then the Procs teardown (SIGTERM, SIGKILL) if it lingers."""
        if self.proc is not None and self.proc.alive() and self._sock is not None and not self.closed_reason:
            try:
                self._sock.sendall(_netstring(json.dumps({"command": "quit", "params": "", "token": "q"}).encode()))
            except OSError:
                pass
            if self.proc.wait(5) is None:
                self.proc.stop()
        if self._sock is not None:
            self._sock.close()
