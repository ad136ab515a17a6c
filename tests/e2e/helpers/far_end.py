"""A scriptable SIP far end in plain Python (raw UDP on 127.0.0.1) for transfer and early-media tests:
it answers the gateway's INVITE (optionally after a 183 with SDP and early RTP), answers in-dialog
requests (BYE, NOTIFY, INFO: 200; REFER: as the test says, then NOTIFYs of its own), and sends in-dialog
requests of its own (REFER) to the gateway. Every message it receives is kept (`messages`).

Built on helpers/raw_uas.py's Recorder and RTP pacing. Nothing leaves loopback."""
import os
import re
import threading
import time

from .raw_uas import Recorder, SipLoop, offer_media, pace, pcmu_sdp, response, stream


def header(msg: str, name: str) -> str:
    """A header's value (first occurrence), or ''."""
    m = re.search(rf"(?im)^{name}\s*:\s*(.*)$", msg.split("\r\n\r\n", 1)[0])
    return m[1].strip() if m else ""


def body(msg: str) -> str:
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


class FarEnd(SipLoop):
    """One call's far end. `on_refer(far_end, request_text)` decides what a REFER gets: a status line
    such as "202 Accepted" (default "603 Declined" when unset); what follows it is up to the callback
    (it may start a thread that calls `notify`)."""

    def __init__(self, sip_port: int, rtp_port: int, host: str = "127.0.0.1", user: str = "bob",
                 early_media_s: float = 0.0, early_hz: int = 1000, answer_sdp_port: int = None,
                 on_refer=None):
        self.host = host
        self.user = user
        self.sip = Recorder(host, sip_port)
        self.rtp = Recorder(host, rtp_port)
        self.early_media_s = early_media_s
        self.early_hz = early_hz
        self.answer_sdp_port = answer_sdp_port or rtp_port
        self.on_refer = on_refer
        self.messages = []       # every SIP message received, as text
        self.invite = None       # the INVITE's text
        self.gateway_sip = None  # (ip, port) the INVITE came from
        self.gateway_rtp = None
        self.answered = threading.Event()
        self._cseq = 0
        self._stop = threading.Event()
        self._senders = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def uri(self) -> str:
        return f"sip:{self.user}@{self.host}:{self.sip.addr[1]}"

    # ---- what it received ----
    def requests(self, method: str) -> list:
        return [m for m in self.messages if m.startswith(method + " ")]

    def responses(self, cseq_method: str) -> list:
        return [m for m in self.messages if m.startswith("SIP/2.0 ") and
                header(m, "CSeq").split()[-1:] == [cseq_method]]

    def wait(self, pred, timeout: float, what: str):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = [m for m in list(self.messages) if pred(m)]
            if got:
                return got[0]
            time.sleep(0.02)
        raise AssertionError(f"far end {self.user}: no {what} within {timeout} s; got:\n" +
                             "\n".join(m.split("\r\n", 1)[0] for m in self.messages))

    # ---- the loop (SipLoop._run) ----
    def _handle(self, msg: str, src: tuple):
        self.messages.append(msg)
        if msg.startswith("SIP/2.0 "):
            return
        method = msg.split(" ", 1)[0]
        if method == "INVITE" and self.invite is None:
            self.invite, self.gateway_sip = msg, src
            self.gateway_rtp = offer_media(body(msg))
            threading.Thread(target=self._answer, args=(msg, src), daemon=True).start()
        elif method == "REFER":
            status = self.on_refer(self, msg) if self.on_refer else "603 Declined"
            self._reply(msg, src, status)
        elif method in ("BYE", "NOTIFY", "INFO", "OPTIONS", "CANCEL"):
            self._reply(msg, src, "200 OK")
        elif method == "ACK":
            pass

    def _sdp(self, port: int) -> str:
        return pcmu_sdp(self.host, port)

    def _answer(self, msg: str, src: tuple):
        if self.early_media_s > 0:
            self._reply(msg, src, "183 Session Progress", self._sdp(self.rtp.addr[1]))
            self.send_tone(self.early_hz, self.early_media_s).join(self.early_media_s + 5)
        self._reply(msg, src, "200 OK", self._sdp(self.answer_sdp_port))
        self.answered.set()

    def _reply(self, msg: str, src: tuple, status: str, sdp: str = ""):
        lines = msg.split("\r\n\r\n", 1)[0].split("\r\n")
        contact = f"sip:{self.user}@{self.host}:{self.sip.addr[1]}"
        self.sip.send(response(lines, status, contact, sdp), src)

    # ---- media ----
    def send_tone(self, freq: int, seconds: float) -> threading.Thread:
        packets = stream(freq, seconds, 0.0, ssrc=0xFA2E)
        th = threading.Thread(target=pace, args=(self.rtp, self.gateway_rtp, packets, 0.02, self._stop),
                              daemon=True)
        th.start()
        self._senders.append(th)
        return th

    # ---- in-dialog requests of our own (we are the UAS of the gateway's INVITE) ----
    def request(self, method: str, extra_headers: list, content_type: str = "", text: str = "") -> str:
        """Sends an in-dialog request to the gateway; returns its Call-ID/CSeq key for matching."""
        assert self.invite, "no dialog yet"
        inv = self.invite
        contact = re.search(r"<([^>]+)>", header(inv, "Contact") or header(inv, "m"))[1]
        gw_from = header(inv, "From") or header(inv, "f")
        gw_to = header(inv, "To") or header(inv, "t")
        if ";tag=" not in gw_to:
            gw_to += ";tag=farend1"
        self._cseq += 1
        hdrs = [f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch=z9hG4bK{os.urandom(6).hex()};rport",
                "Max-Forwards: 70", f"From: {gw_to}", f"To: {gw_from}",
                f"Call-ID: {header(inv, 'Call-ID') or header(inv, 'i')}", f"CSeq: {self._cseq} {method}",
                f"Contact: <sip:{self.user}@{self.host}:{self.sip.addr[1]}>"] + extra_headers
        if content_type:
            hdrs.append(f"Content-Type: {content_type}")
        hdrs.append(f"Content-Length: {len(text.encode())}")
        wire = f"{method} {contact} SIP/2.0\r\n" + "\r\n".join(hdrs) + "\r\n\r\n" + text
        self.sip.send(wire.encode(), self.gateway_sip)
        return f"{self._cseq} {method}"

    def notify(self, sipfrag: str, state: str) -> str:
        return self.request("NOTIFY", ["Event: refer", f"Subscription-State: {state}"], "message/sipfrag",
                            sipfrag + "\r\n")

    def refer(self, refer_to: str = None) -> str:
        extra = [f"Refer-To: {refer_to}"] if refer_to is not None else []
        return self.request("REFER", extra + [f"Referred-By: <sip:{self.user}@{self.host}>"])

    def response_to(self, cseq: str, timeout: float = 5.0, final: bool = True) -> str:
        """The (final) response to our request `cseq` ("N METHOD")."""
        def ok(m):
            if not m.startswith("SIP/2.0 ") or header(m, "CSeq") != cseq:
                return False
            return not final or int(m.split()[1]) >= 200
        return self.wait(ok, timeout, f"response to {cseq}")

    def close(self):
        self._stop.set()
        for th in self._senders:
            th.join(2)
        self.sip.close()
        self.rtp.close()
