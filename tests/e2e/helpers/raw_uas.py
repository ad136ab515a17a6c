"""A SIP far end in plain Python (raw UDP, no sipp) for media attacks: it answers the gateway's INVITE 200
with PCMU SDP at 127.0.0.1, reads the gateway's RTP address from the offer, sends a PCMU tone from its own
RTP socket and records every datagram it receives. Also an injector: sockets on another loopback address
(127.0.0.2) that spray RTP/RTCP at the gateway and record anything the gateway sends them.

Nothing leaves loopback. Everything runs in daemon threads of the test process."""
import random
import re
import socket
import struct
import subprocess
import threading
import time

PCMU_PT = 0
FRAME = 160          # 20 ms of PCMU at 8000 Hz, in bytes and in RTP ticks


def pcmu_tone(freq: int, seconds: float, lead_silence_s: float = 0.0) -> bytes:
    """µ-law bytes at 8000 Hz: `lead_silence_s` of silence then a sine at `freq` Hz (ffmpeg's encoder)."""
    tone = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                           f"sine=frequency={freq}:sample_rate=8000:duration={seconds}", "-ac", "1",
                           "-f", "mulaw", "-"], capture_output=True, check=True, timeout=60).stdout
    return b"\xff" * int(8000 * lead_silence_s) + tone


def rtp_packet(ssrc: int, seq: int, ts: int, payload: bytes, pt: int = PCMU_PT, marker: bool = False) -> bytes:
    """An RTP v2 packet (RFC 3550 section 5.1)."""
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF,
                       ssrc) + payload


def rtcp_rr_bye(ssrc: int) -> bytes:
    """A compound RTCP packet: empty receiver report then BYE (RFC 3550 sections 6.4.2, 6.6)."""
    return struct.pack(">BBHI", 0x80, 201, 1, ssrc) + struct.pack(">BBHI", 0x81, 203, 1, ssrc)


class Recorder:
    """A UDP socket on (host, port) whose received datagrams are kept as (time, (ip, port), bytes)."""

    def __init__(self, host: str, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.addr = (host, port)
        self.got = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), src, data))

    def send(self, data: bytes, dest: tuple):
        self.sock.sendto(data, dest)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def pace(sock: Recorder, dest: tuple, packets: list, interval: float, stop: threading.Event):
    """Sends `packets` (a list of lists: each inner list goes out back to back) every `interval` s."""
    t = time.monotonic()
    for burst in packets:
        if stop.is_set():
            return
        for p in burst:
            sock.send(p, dest)
        t += interval
        time.sleep(max(0.0, t - time.monotonic()))


def stream(freq: int, seconds: float, lead_silence_s: float, ssrc: int, burst: int = 1) -> list:
    """PCMU RTP of a tone, grouped in bursts of `burst` consecutive packets (seq +1, ts +160 each)."""
    audio = pcmu_tone(freq, seconds, lead_silence_s)
    seq, ts = random.randrange(65536), random.randrange(1 << 32)
    packets = []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        packets.append(rtp_packet(ssrc, seq, ts, audio[i:i + FRAME], marker=(i == 0)))
        seq, ts = seq + 1, ts + FRAME
    return [packets[i:i + burst] for i in range(0, len(packets), burst)]


def offer_media(sdp: str) -> tuple:
    """(ip, port) of the first audio stream of an SDP (its session-level `c=` and `m=audio` port)."""
    ip = re.search(r"^c=IN IP4 (\S+)", sdp, re.M)[1]
    port = int(re.search(r"^m=audio (\d+)", sdp, re.M)[1])
    return ip, port


def pcmu_sdp(host: str, port: int, extra: str = "") -> str:
    """A PCMU-only sendrecv SDP at `host`:`port` (20 ms ptime), `extra` attribute lines appended."""
    return (f"v=0\r\no=far 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n" + extra)


def response(lines: list, status: str, contact: str, sdp: str = "") -> bytes:
    """A response to the request whose header lines (request line first) are `lines`: Via, From,
    Call-ID and CSeq copied, To with our tag `farend1` added if missing, `Contact: <contact>`, and
    `sdp` as the body."""
    keep = [l for l in lines[1:] if re.match(r"(?i)(via|v|from|f|call-id|i|cseq):", l)]
    to = next(l for l in lines[1:] if re.match(r"(?i)(to|t):", l))
    if ";tag=" not in to:
        to += ";tag=farend1"
    hdrs = keep + [to, f"Contact: <{contact}>"]
    if sdp:
        hdrs.append("Content-Type: application/sdp")
    hdrs.append(f"Content-Length: {len(sdp.encode())}")
    return ("SIP/2.0 " + status + "\r\n" + "\r\n".join(hdrs) + "\r\n\r\n" + sdp).encode()


class SipLoop:
    """Feeds every datagram of `self.sip` (a Recorder), in order, to `self._on_message(text, src)`
    (by default `self._handle`) until `self._stop` is set, looking every `_poll_s` seconds; run it in
    a thread of its own."""

    _poll_s = 0.01

    def _on_message(self, text: str, src: tuple):
        self._handle(text, src)

    def _run(self):
        seen = 0
        while not self._stop.is_set():
            while seen < len(self.sip.got):
                _, src, data = self.sip.got[seen]
                seen += 1
                self._on_message(data.decode("utf-8", "replace"), src)
            time.sleep(self._poll_s)


class RawUas(SipLoop):
    """Answers one INVITE 200 (PCMU, c=127.0.0.1, our RTP port), takes the ACK, answers BYE 200.
    Attributes once answered: offer (SDP text), gateway_rtp ((ip, port) from the offer)."""

    def __init__(self, sip_port: int, rtp_port: int, host: str = "127.0.0.1", rtcp_mux: bool = False):
        self.host = host
        self.rtcp_mux = rtcp_mux
        self.sip = Recorder(host, sip_port)
        self.rtp = Recorder(host, rtp_port)
        self.rtcp = Recorder(host, rtp_port + 1)
        self.offer = None
        self.gateway_rtp = None
        self.requests = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._senders = []

    def uri(self, user: str = "bob") -> str:
        return f"sip:{user}@{self.host}:{self.sip.addr[1]}"

    def _handle(self, msg: str, src: tuple):
        head, _, body = msg.partition("\r\n\r\n")
        lines = head.split("\r\n")
        method = lines[0].split(" ", 1)[0]
        self.requests.append(method)
        if method == "INVITE":
            self.offer = body
            self.gateway_rtp = offer_media(body)
            sdp = pcmu_sdp(self.host, self.rtp.addr[1], "a=rtcp-mux\r\n" if self.rtcp_mux else "")
            self._reply(lines, src, "200 OK", sdp)
        elif method in ("BYE", "CANCEL", "OPTIONS", "INFO"):
            self._reply(lines, src, "200 OK")

    def _reply(self, lines: list, src: tuple, status: str, sdp: str = ""):
        self.sip.send(response(lines, status, f"sip:bob@{self.host}:{self.sip.addr[1]}", sdp), src)

    def wait_answered(self, timeout: float = 10.0) -> tuple:
        end = time.monotonic() + timeout
        while self.gateway_rtp is None and time.monotonic() < end:
            time.sleep(0.02)
        assert self.gateway_rtp, f"no INVITE reached the raw UAS within {timeout} s: {self.requests}"
        return self.gateway_rtp

    def send_tone(self, freq: int, seconds: float, lead_silence_s: float = 0.0) -> threading.Thread:
        """Starts sending a PCMU tone (one packet per 20 ms) to the gateway's RTP port."""
        packets = stream(freq, seconds, lead_silence_s, ssrc=0x1E617)
        th = threading.Thread(target=pace, args=(self.rtp, self.gateway_rtp, packets, 0.02, self._stop),
                              daemon=True)
        th.start()
        self._senders.append(th)
        return th

    def rtp_from_gateway(self) -> list:
        """Parsed RTP packets received from the gateway's RTP port."""
        return [p for _, src, d in self.rtp.got if src == self.gateway_rtp
                for p in [parse(d)] if p is not None]

    def rtcp_at(self, sock: "Recorder") -> list:
        """RTCP packet types (200 SR, 201 RR, 202 SDES, 203 BYE...) of every packet in the compound RTCP
        datagrams received on `sock` (RFC 3550 section 6.1; second byte 192..=223, RFC 5761 section 4)."""
        types = []
        for _, _, d in sock.got:
            if len(d) < 8 or not 192 <= d[1] <= 223:
                continue
            off = 0
            while off + 4 <= len(d):
                types.append(d[off + 1])
                off += 4 * (1 + struct.unpack(">H", d[off + 2:off + 4])[0])
        return types

    def close(self):
        self._stop.set()
        for th in self._senders:
            th.join(2)
        for r in (self.sip, self.rtp, self.rtcp):
            r.close()


class Injector:
    """An attacker on another loopback address: RTP and RTCP sockets that spray at the gateway and record
    whatever the gateway sends them (it must send nothing)."""

    def __init__(self, host: str, port: int):
        self.rtp = Recorder(host, port)
        self.rtcp = Recorder(host, port + 1)
        self._stop = threading.Event()
        self._senders = []

    def spray(self, dest: tuple, freq: int, seconds: float, burst: int) -> threading.Thread:
        """Starts sending a PCMU tone with its own SSRC, `burst` packets back to back every 20 ms."""
        packets = stream(freq, seconds, 0.0, ssrc=0xBAD5EED, burst=burst)
        th = threading.Thread(target=pace, args=(self.rtp, dest, packets, 0.02, self._stop), daemon=True)
        th.start()
        self._senders.append(th)
        return th

    def send_rtcp_bye(self, dest: tuple, count: int = 3):
        for _ in range(count):
            self.rtcp.send(rtcp_rr_bye(0xBAD5EED), dest)
            time.sleep(0.05)

    def received(self) -> list:
        return self.rtp.got + self.rtcp.got

    def close(self):
        self._stop.set()
        for th in self._senders:
            th.join(2)
        self.rtp.close()
        self.rtcp.close()


def parse(b: bytes):
    """(pt, seq, ssrc) of an RTP v2 packet, None for anything else (RTCP included)."""
    if len(b) < 12 or b[0] >> 6 != 2 or 192 <= b[1] <= 223:
        return None
    seq, _, ssrc = struct.unpack(">HII", b[2:12])
    return b[1] & 0x7F, seq, ssrc
