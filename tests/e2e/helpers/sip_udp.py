"""Raw SIP over UDP for attack and torture tests: craft a request byte for byte, send it from a socket
of our own on 127.0.0.1, and collect what comes back."""
import os
import socket
import time

PCMU_SDP = ("v=0\r\no=attacker 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def token() -> str:
    return os.urandom(6).hex()


class SipSocket:
    """A UDP socket bound to 127.0.0.1 (port chosen by the kernel) that sends to the gateway's SIP
    port and gathers responses."""

    def __init__(self, gw_port: int):
        self.gw = ("127.0.0.1", gw_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = []   # (time, text)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, self.gw)

    def collect(self, seconds: float) -> list:
        """Reads for `seconds`; returns (and keeps) the texts received."""
        end = time.monotonic() + seconds
        got = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            text = data.decode(errors="replace")
            got.append(text)
            self.received.append((time.monotonic(), text))
        return got

    def invite(self, user: str, call_id: str = None, via_extra: str = "", branch: str = None,
               sdp: str = PCMU_SDP, extra_headers: str = "") -> str:
        """An INVITE for sip:<user>@127.0.0.1:<gw port> from this socket (Via sent-by = our address)."""
        call_id = call_id or f"{token()}@attacker"
        branch = branch or f"z9hG4bK{token()}"
        return (f"INVITE sip:{user}@127.0.0.1:{self.gw[1]} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch}{via_extra}\r\n"
                f"Max-Forwards: 70\r\n"
                f"From: \"Mallory\" <sip:mallory@127.0.0.1>;tag={token()}\r\n"
                f"To: <sip:{user}@127.0.0.1:{self.gw[1]}>\r\n"
                f"Call-ID: {call_id}\r\n"
                f"CSeq: 1 INVITE\r\n"
                f"Contact: <sip:mallory@127.0.0.1:{self.port}>\r\n"
                f"{extra_headers}"
                f"Content-Type: application/sdp\r\n"
                f"Content-Length: {len(sdp.encode())}\r\n\r\n{sdp}")

    def options(self) -> str:
        return (f"OPTIONS sip:ping@127.0.0.1:{self.gw[1]} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{token()};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={token()}\r\n"
                f"To: <sip:ping@127.0.0.1>\r\nCall-ID: {token()}@probe\r\nCSeq: 1 OPTIONS\r\n"
                f"Content-Length: 0\r\n\r\n")

    def ping(self, timeout: float = 3.0) -> str:
        """OPTIONS; returns the status line of the answer (or '' if none)."""
        self.send(self.options())
        for text in self.collect(timeout):
            return text.split("\r\n", 1)[0]
        return ""


def status_code(text: str) -> int:
    """The status code of a response text, 0 for anything else."""
    first = text.split("\r\n", 1)[0].split(" ")
    if len(first) >= 2 and first[0] == "SIP/2.0" and first[1].isdigit():
        return int(first[1])
    return 0


def header(text: str, name: str) -> str:
    """The first value of header `name` in a message text ('' if absent)."""
    for line in text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        if ":" in line and line.split(":", 1)[0].strip().lower() == name.lower():
            return line.split(":", 1)[1].strip()
    return ""
