"""A far end in plain Python (raw UDP) that drives a dialog with the gateway: it answers the gateway's
INVITE (or calls the gateway, as a UAC, optionally without SDP), then sends in-dialog requests of its own
(re-INVITE with a new direction, port or codec; UPDATE; OPTIONS) and answers the gateway's re-INVITEs
(hold / resume / session refresh) with a mirrored direction, or with scripted codes (491 once ...).

Every SIP message in either direction is kept (`log`: (time, "in"|"out", text)), and every RTP packet the
gateway sends to each of our RTP ports (`rtp[port].got`). Nothing leaves loopback."""
import random
import re
import threading
import time

from .raw_uas import Recorder, SipLoop, parse, pace, stream

MIRROR = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive", "sendrecv": "sendrecv"}
CODECS = {"PCMU": (0, "PCMU/8000"), "PCMA": (8, "PCMA/8000")}


def header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*)$", msg.split("\r\n\r\n", 1)[0], re.M | re.I)
    return m[1].strip() if m else None


def body_of(msg: str) -> str:
    return msg.partition("\r\n\r\n")[2]


def direction_of(sdp: str) -> str:
    m = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", sdp, re.M)
    return m[1] if m else "sendrecv"


class DialogPeer(SipLoop):
    """One dialog with the gateway, from a far end at 127.0.0.1. `answer_session_expires`: a value for
    the Session-Expires of our 200 to the gateway's INVITE (e.g. "90;refresher=uas")."""

    def __init__(self, sip_port: int, rtp_port: int, host: str = "127.0.0.1",
                 answer_session_expires: str = None, reinvite_codes: list = None, invite_min_se: int = None):
        self.host = host
        self.sip = Recorder(host, sip_port)
        self.rtp = {rtp_port: Recorder(host, rtp_port)}
        self.rtp_port = rtp_port
        self.codec = "PCMU"
        self.direction = "sendrecv"
        self.answer_session_expires = answer_session_expires
        self.reinvite_codes = list(reinvite_codes or [])
        self.invite_min_se = invite_min_se  # answer the first INVITE 422 with this Min-SE
        self.log = []
        self.gateway_rtp = None
        self.gateway_sip = None
        self.call_id = None
        self.local_tag = "far" + str(random.randrange(10 ** 8))
        self.local_uri = None
        self.remote = None         # the gateway's From/To header value (with its tag)
        self.local = None          # ours
        self.remote_target = None  # the gateway's Contact URI
        self.cseq = random.randrange(100, 1000)
        self.sdp_version = 1
        self.responses = {}        # cseq -> final response text
        self.reinvites_in = []     # the gateway's re-INVITEs (text)
        self.acks_in = []
        self.confirmed = threading.Event()
        self._stop = threading.Event()
        self._senders = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # ---- plumbing ----
    def uri(self, user: str = "bob") -> str:
        return f"sip:{user}@{self.host}:{self.sip.addr[1]}"

    def _send(self, text: str, dest: tuple):
        self.log.append((time.monotonic(), "out", text))
        self.sip.send(text.encode(), dest)

    _poll_s = 0.005

    def _on_message(self, text: str, src: tuple):
        """Logs, then handles (SipLoop._run calls it for every datagram in order)."""
        self.log.append((time.monotonic(), "in", text))
        try:
            self._handle(text, src)
        except Exception as e:  # noqa: BLE001 - keep the peer alive, the test sees the log
            self.log.append((time.monotonic(), "error", repr(e)))

    def sdp(self, direction: str = None, port: int = None, codec: str = None) -> str:
        pt, rtpmap = CODECS[codec or self.codec]
        port = port or self.rtp_port
        self.sdp_version += 1
        return (f"v=0\r\no=far 1 {self.sdp_version} IN IP4 {self.host}\r\ns=-\r\nc=IN IP4 {self.host}\r\n"
                f"t=0 0\r\nm=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {rtpmap}\r\n"
                f"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
                f"a={direction or self.direction}\r\n")

    def _learn_gateway_media(self, sdp: str):
        ip = re.search(r"^c=IN IP4 (\S+)", sdp, re.M)
        port = re.search(r"^m=audio (\d+)", sdp, re.M)
        if ip and port:
            self.gateway_rtp = (ip[1], int(port[1]))

    def _reply(self, msg: str, src: tuple, status: str, body: str = "", extra: list = ()):
        lines = msg.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [l for l in lines[1:] if re.match(r"(?i)(via|v|from|f|call-id|i|cseq):", l)]
        to = next(l for l in lines[1:] if re.match(r"(?i)(to|t):", l))
        if ";tag=" not in to:
            to += f";tag={self.local_tag}"
        hdrs = keep + [to, f"Contact: <sip:bob@{self.host}:{self.sip.addr[1]}>"] + list(extra)
        if body:
            hdrs.append("Content-Type: application/sdp")
        hdrs.append(f"Content-Length: {len(body.encode())}")
        self._send("SIP/2.0 " + status + "\r\n" + "\r\n".join(hdrs) + "\r\n\r\n" + body, src)

    def _handle(self, msg: str, src: tuple):
        first = msg.split("\r\n", 1)[0]
        if first.startswith("SIP/2.0"):
            return self._on_response(msg, src)
        method = first.split(" ", 1)[0]
        to = header(msg, "To") or header(msg, "t") or ""
        if method == "INVITE" and ";tag=" not in to and self.invite_min_se:
            # RFC 4028 §5: Session-Expires too small for us.
            self.invites_refused = getattr(self, "invites_refused", []) + [msg]
            min_se, self.invite_min_se = self.invite_min_se, None
            return self._reply(msg, src, "422 Session Interval Too Small", "", [f"Min-SE: {min_se}"])
        if method == "INVITE" and ";tag=" not in to:
            # The gateway calls us: answer 200.
            self.gateway_sip = src
            self.call_id = header(msg, "Call-ID")
            self.remote = header(msg, "From")
            self.local = to + f";tag={self.local_tag}"
            self.remote_target = re.search(r"<([^>]+)>", header(msg, "Contact"))[1]
            self._learn_gateway_media(body_of(msg))
            extra = []
            if self.answer_session_expires:
                extra = [f"Session-Expires: {self.answer_session_expires}", "Require: timer"]
            self._reply(msg, src, "200 OK", self.sdp(), extra)
        elif method == "INVITE":
            self.reinvites_in.append(msg)
            code = self.reinvite_codes.pop(0) if self.reinvite_codes else 200
            if code != 200:
                return self._reply(msg, src, f"{code} Scripted")
            offer = body_of(msg)
            self._learn_gateway_media(offer)
            extra = []
            se = header(msg, "Session-Expires")
            if se:
                extra = [f"Session-Expires: {se}", "Require: timer"]
            self._reply(msg, src, "200 OK", self.sdp(MIRROR[direction_of(offer)]) if offer else self.sdp(),
                        extra)
        elif method == "ACK":
            self.acks_in.append(msg)
            self.confirmed.set()
        elif method in ("BYE", "OPTIONS", "INFO", "UPDATE"):
            self._reply(msg, src, "200 OK")

    def _on_response(self, msg: str, src: tuple):
        cseq_line = header(msg, "CSeq") or ""
        num, _, method = cseq_line.partition(" ")
        code = int(msg.split(" ", 2)[1])
        if code < 200:
            return
        self.responses[int(num)] = msg
        if method.strip() == "INVITE":
            if self.remote is None:
                # We called the gateway: the 200's To carries its tag.
                self.remote = header(msg, "To")
                contact = header(msg, "Contact")
                if contact:
                    self.remote_target = re.search(r"<([^>]+)>", contact)[1]
            if code >= 200:
                self._ack(int(num), msg)

    def _ack(self, cseq: int, resp: str):
        code = int(resp.split(" ", 2)[1])
        body = ""
        if code < 300 and self._ack_body is not None:
            offer = body_of(resp)
            self._learn_gateway_media(offer)
            body = self._ack_body(offer)
            self._ack_body = None
        branch = "z9hG4bK" + str(random.randrange(10 ** 12))
        uri = self.remote_target if code < 300 else self._last_ruri
        lines = [f"ACK {uri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch={branch if code < 300 else self._last_branch};rport",
                 f"From: {self.local}", f"To: {header(resp, 'To')}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq} ACK", "Max-Forwards: 70"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body, self.gateway_sip)

    _ack_body = None
    _last_ruri = None
    _last_branch = None

    # ---- requests of our own ----
    def request(self, method: str, body: str = "", extra: list = (), timeout: float = 5.0) -> str:
        """Sends an in-dialog request and returns its final response (asserts one comes)."""
        self.cseq += 1
        cseq = self.cseq
        branch = "z9hG4bK" + str(random.randrange(10 ** 12))
        self._last_branch, self._last_ruri = branch, self.remote_target
        lines = [f"{method} {self.remote_target} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch={branch};rport",
                 f"From: {self.local}", f"To: {self.remote}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq} {method}", "Max-Forwards: 70",
                 f"Contact: <sip:bob@{self.host}:{self.sip.addr[1]}>"] + list(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body, self.gateway_sip)
        end = time.monotonic() + timeout
        while cseq not in self.responses and time.monotonic() < end:
            time.sleep(0.01)
        assert cseq in self.responses, f"no final response to our {method} (CSeq {cseq}):\n{self.dump()}"
        resp = self.responses[cseq]
        if method in ("INVITE", "UPDATE") and resp.startswith("SIP/2.0 2"):
            self._learn_gateway_media(body_of(resp))
        return resp

    def reinvite(self, direction: str = "sendrecv", port: int = None, codec: str = None, **kw) -> str:
        if port and port not in self.rtp:
            self.rtp[port] = Recorder(self.host, port)
        if port:
            self.rtp_port = port
        if codec:
            self.codec = codec
        self.direction = direction
        return self.request("INVITE", self.sdp(direction), **kw)

    def invite_gateway(self, ruri: str, gateway_sip: tuple, with_sdp: bool = True) -> None:
        """Calls the gateway (as a UAC); without SDP the answer goes in the ACK (delayed offer)."""
        self.gateway_sip = gateway_sip
        self.call_id = f"dly{random.randrange(10 ** 12)}@{self.host}"
        self.local = f"<sip:alice@{self.host}:{self.sip.addr[1]}>;tag={self.local_tag}"
        self.remote_target = ruri
        self.remote_to = f"<{ruri}>"
        self.cseq += 1
        branch = "z9hG4bK" + str(random.randrange(10 ** 12))
        self._last_branch, self._last_ruri = branch, ruri
        body = self.sdp() if with_sdp else ""
        if not with_sdp:
            self._ack_body = lambda offer: self.sdp(MIRROR[direction_of(offer)])
        lines = [f"INVITE {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch={branch};rport",
                 f"From: {self.local}", f"To: <{ruri}>", f"Call-ID: {self.call_id}",
                 f"CSeq: {self.cseq} INVITE", "Max-Forwards: 70",
                 f"Contact: <sip:alice@{self.host}:{self.sip.addr[1]}>"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body, gateway_sip)

    def wait_final(self, timeout: float = 15.0) -> str:
        end = time.monotonic() + timeout
        while self.cseq not in self.responses and time.monotonic() < end:
            time.sleep(0.02)
        assert self.cseq in self.responses, f"no final response:\n{self.dump()}"
        return self.responses[self.cseq]

    def wait_answered(self, timeout: float = 10.0):
        end = time.monotonic() + timeout
        while self.gateway_rtp is None and time.monotonic() < end:
            time.sleep(0.02)
        assert self.gateway_rtp, f"no INVITE reached the far end within {timeout} s:\n{self.dump()}"
        return self.gateway_rtp

    # ---- media ----
    def send_tone(self, freq: int, seconds: float) -> threading.Thread:
        packets = stream(freq, seconds, 0.0, ssrc=0x5EED)
        th = threading.Thread(target=pace, args=(self.rtp[self.rtp_port], self.gateway_rtp, packets, 0.02,
                                                 self._stop), daemon=True)
        th.start()
        self._senders.append(th)
        return th

    def rtp_count(self, port: int, since: float, until: float = None) -> int:
        """RTP packets (not RTCP) the gateway sent to our `port` between two monotonic times."""
        until = until or time.monotonic()
        return sum(1 for t, _, d in self.rtp[port].got if since <= t < until and parse(d) is not None)

    def rtp_pts(self, port: int, since: float) -> set:
        return {p[0] for t, _, d in self.rtp[port].got if t >= since for p in [parse(d)] if p}

    def dump(self) -> str:
        t0 = self.log[0][0] if self.log else 0
        return "\n".join(f"--- {t - t0:7.3f} {d}\n{m}" for t, d, m in self.log[-40:])

    def close(self):
        self._stop.set()
        for th in self._senders:
            th.join(2)
        self.sip.close()
        for r in self.rtp.values():
            r.close()
