"""SIP over TCP and TLS (issue 12 item 5, RFC 3261 §18 and §26.2).

The gateway listens on `udp:`, `tcp:` and `tls:` addresses ([sip] listen). Outgoing calls follow the
dialled URI's `transport=tcp|tls`; the far end is sipp over TCP (`-t t1`). Debian's sipp has no TLS
(`-t l1` is refused), so the TLS far end is a Python `ssl` relay in front of sipp's TCP port
(helpers/tls_relay.py) with a CA and leaf made by openssl at test time; the gateway trusts that CA
through [sip] tls_ca. Also: a `sips:` URI is dialled over TLS with a `sips:` Contact; a TLS server
whose certificate is not from the trusted CA gets no INVITE; an incoming call over TCP; [sip]
max_connections_per_ip closes connections over the bound; a TLS handshake that does not finish within
[sip] tls_handshake_timeout_s is closed, and handshakes in progress count against the per-IP bound."""
import signal
import socket
import time

import pytest

from helpers import media
from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.capture import Capture
from helpers.gateway import Gateway, to_toml
from helpers.incoming import answer, event, register_local, user_of
from helpers.ports import tcp_accepting, wait_until
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED
from helpers.sipp import Sipp
from helpers.tls_relay import TlsRelay, make_certs

TONE_S = 4
MIN_SNR_DB = 25
PER_IP = 6
HANDSHAKE_S = 2


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def gateway(ports, tmp_path_factory, certs):
    """This module's gateway: UDP as usual plus TCP and TLS listeners and the test CA as trust root."""
    tcp, tls = ports.port(), ports.port()
    out = tmp_path_factory.mktemp("gw-sip-tcp-tls")
    gw = Gateway(out, ports, {"sip": {
        "tls_cert": str(certs["cert"]), "tls_key": str(certs["key"]), "tls_ca": str(certs["ca"]),
        "max_connections_per_ip": PER_IP, "invite_timeout_s": 6,
        "tls_handshake_timeout_s": HANDSHAKE_S}})
    gw.config["sip"]["listen"] = [f"udp:127.0.0.1:{gw.sip_port}", f"tcp:127.0.0.1:{tcp}", f"tls:127.0.0.1:{tls}"]
    gw.config_path.write_text(to_toml(gw.config))
    gw.tcp_port, gw.tls_port = tcp, tls
    try:
        gw.start()
        assert wait_until(lambda: tcp_accepting(tcp) and tcp_accepting(tls), 10), "no TCP/TLS SIP listener"
    except AssertionError as e:
        gw.stop()
        pytest.fail(str(e), pytrace=False)
    yield gw
    gw.stop()


class TcpSipp(Sipp):
    """sipp with `-t t1` (one TCP connection); waits for its TCP port when it is the UAS."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.extra = ["-t", "t1"] + self.extra

    def start(self, remote: str = None):
        self.proc = self.procs.start(self.name, self.argv(remote))
        if not remote:
            ok = wait_until(lambda: tcp_accepting(self.sip_port) or not self.proc.alive(), 10)
            if not self.proc.alive() or not ok:
                raise AssertionError(f"sipp did not start: {self.proc.tail(30)}")
        return self

    def contact_at(self, port: int, transport: str):
        """Make the rendered scenario's Contact name `port` and `transport` (the TLS relay)."""
        text = self.scenario.read_text()
        self.scenario.write_text(text.replace("[local_port];transport=[transport]", f"{port};transport={transport}"))


def call_with_audio(gateway, rtmp_client, procs, out_dir, sipp, uri, measure, label):
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    ctl = rtmp_client()
    s4 = dial_connected(ctl, uri)
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    time.sleep(0.5)
    hangup_ended(ctl)
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp's call did not complete (it must receive BYE and answer 200):\n" + sipp.report()
    pcap = cap.stop()
    rx = out_dir / "at_sipp.wav"
    media.rtp_to_wav(pcap, rx, "pcmu", dport=sipp.media_port, pt=0)
    t = media.assert_tone(rx, MIN_SNR_DB, f"tone at sipp over SIP {label}")
    measure(f"SNR RTMP->SIP over {label} (dB)", t["snr"])
    return sipp.messages()


def test_outgoing_call_over_tcp(gateway, rtmp_client, procs, out_dir, assets, ports, measure):
    sipp = TcpSipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_tcp").start()
    msgs = call_with_audio(gateway, rtmp_client, procs, out_dir, sipp, sipp.uri("bob") + ";transport=tcp",
                           measure, "TCP")
    assert "Via: SIP/2.0/TCP" in msgs, "the INVITE's Via must name TCP:\n" + msgs[-3000:]
    assert f"contact: <sip:rtmp2sip@127.0.0.1:{gateway.tcp_port};transport=tcp>" in msgs.lower(), \
        "the gateway's Contact must be its TCP listener with transport=tcp:\n" + msgs[-3000:]
    assert "BYE sip:" in msgs


def test_outgoing_call_over_tls(gateway, rtmp_client, procs, out_dir, assets, ports, measure, certs):
    sipp = TcpSipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_behind_tls")
    relay_port = ports.port()
    sipp.contact_at(relay_port, "tls")
    sipp.start()
    relay = TlsRelay(relay_port, sipp.sip_port, certs["cert"], certs["key"])
    try:
        msgs = call_with_audio(gateway, rtmp_client, procs, out_dir, sipp,
                               f"sip:bob@127.0.0.1:{relay_port};transport=tls", measure, "TLS")
    finally:
        relay.close()
    assert relay.handshakes >= 1 and not relay.failures, (relay.handshakes, relay.failures)
    assert "Via: SIP/2.0/TLS" in msgs, "the INVITE's Via must name TLS:\n" + msgs[-3000:]
    assert f"contact: <sip:rtmp2sip@127.0.0.1:{gateway.tls_port};transport=tls>" in msgs.lower(), \
        "the gateway's Contact must be its TLS listener with transport=tls:\n" + msgs[-3000:]


def test_outgoing_call_to_sips_uri(gateway, rtmp_client, procs, out_dir, assets, ports, measure, certs):
    """`sips:` (RFC 3261 §26.2.2): TLS without a transport parameter, and a `sips:` Contact."""
    sipp = TcpSipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_sips")
    relay_port = ports.port()
    sipp.contact_at(relay_port, "tls")
    sipp.start()
    relay = TlsRelay(relay_port, sipp.sip_port, certs["cert"], certs["key"])
    try:
        msgs = call_with_audio(gateway, rtmp_client, procs, out_dir, sipp,
                               f"sips:bob@127.0.0.1:{relay_port}", measure, "sips")
    finally:
        relay.close()
    assert relay.handshakes >= 1 and not relay.failures, (relay.handshakes, relay.failures)
    assert f"INVITE sips:bob@127.0.0.1:{relay_port} SIP/2.0" in msgs, msgs[-3000:]
    # rsipstack appends `;transport=TLS` (deprecated by RFC 5630 §3.2, still valid).
    assert f"contact: <sips:rtmp2sip@127.0.0.1:{gateway.tls_port}" in msgs.lower(), \
        "a sips: Request-URI needs a sips: Contact (RFC 3261 §8.1.1.8):\n" + msgs[-3000:]


def closed_now(s: socket.socket) -> bool:
    """Whether the gateway closed `s` (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_tls_handshake_deadline_and_pending_bound(gateway, certs):
    """A peer that opens TCP connections to the TLS port and never sends a ClientHello: handshakes
    over the per-IP bound are closed at once, the rest after tls_handshake_timeout_s."""
    socks = [socket.create_connection(("127.0.0.1", gateway.tls_port), timeout=2) for _ in range(PER_IP + 3)]
    try:
        time.sleep(0.5)
        early = sum(closed_now(s) for s in socks)
        assert early >= 3, f"{early} of {len(socks)} closed at once; the pending bound is {PER_IP}"
        assert early < len(socks), "the connections within the bound must wait for their handshake"
        assert wait_until(lambda: all(closed_now(s) for s in socks), HANDSHAKE_S + 4), \
            f"handshakes not closed after tls_handshake_timeout_s = {HANDSHAKE_S}"
    finally:
        for s in socks:
            s.close()
    import ssl
    ctx = ssl.create_default_context(cafile=str(certs["ca"]))
    with socket.create_connection(("127.0.0.1", gateway.tls_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(options("TLS", "tlsafter"))
            assert s.recv(4096).startswith(b"SIP/2.0 200")


def test_tls_server_not_trusted_gets_nothing(gateway, rtmp_client, procs, out_dir, assets, ports, tmp_path):
    other = make_certs(tmp_path / "other")       # a CA the gateway does not trust
    sipp = TcpSipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_untrusted").start()
    relay_port = ports.port()
    relay = TlsRelay(relay_port, sipp.sip_port, other["cert"], other["key"])
    try:
        ctl = rtmp_client()
        ctl.call("dial", f"sip:bob@127.0.0.1:{relay_port};transport=tls")
        s0 = ended_info(ctl, 0, timeout=15)
    finally:
        relay.close()
    assert s0.get("sip_code", 0) >= 400, s0
    assert relay.handshakes == 0, "the gateway must refuse a certificate from an untrusted CA"
    assert "INVITE" not in sipp.messages(), "nothing may reach the untrusted server"


def test_incoming_call_over_tcp(gateway, rtmp_client, procs, out_dir, assets, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    sipp = TcpSipp(procs, out_dir, ports, "uac_speex.xml", pcap=assets.pcmu_pcap, name="sipp_uac_tcp",
                   keys={"pts": "0 101", "fromuser": "alice"},
                   extra=["-d", "3000", "-timeout", "30", "-timeout_error", "-s", user_of(uri)])
    mark = len(ctl.invokes)
    sipp.start(f"127.0.0.1:{gateway.tcp_port}")
    inc = event(ctl, "Sono.Call.Incoming", 10, after=mark)
    assert inc.get("uri") == "sip:alice@127.0.0.1", inc
    before = len(ctl.statuses())
    answer(ctl, "accept")
    ctl.wait_status(CONNECT_STREAMS, 10, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)
    rc = sipp.wait_exit(20)
    assert rc == 0, "sipp's call over TCP did not complete:\n" + sipp.report()
    s0 = ended_info(ctl, before)
    assert s0.get("sip_code") == 200, s0
    msgs = sipp.messages()
    assert f"127.0.0.1:{gateway.tcp_port};transport=tcp" in msgs.lower(), \
        "the 200's Contact must be the TCP listener:\n" + msgs[-3000:]


def test_connections_per_ip_bounded(gateway, rtmp_client):
    socks = []
    for _ in range(PER_IP + 6):
        s = socket.create_connection(("127.0.0.1", gateway.tcp_port), timeout=2)
        socks.append(s)
    time.sleep(1.0)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    open_ = len(socks) - closed
    for s in socks:
        s.close()
    assert open_ <= PER_IP and closed >= 6, f"{open_} left open of {len(socks)}, bound {PER_IP}"
    # the bound frees up again: an echo call over UDP and a new TCP connection work
    time.sleep(0.5)
    s = socket.create_connection(("127.0.0.1", gateway.tcp_port), timeout=2)
    s.sendall(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt1\r\n"
              b"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n"
              b"Call-ID: lim1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    data = s.recv(4096)
    s.close()
    assert data.startswith(b"SIP/2.0 200"), data


def options(via: str, call_id: str) -> bytes:
    return (f"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{via} 127.0.0.1:9;branch=z9hG4bK{call_id}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def test_tls_listener_answers_with_its_certificate(gateway, certs):
    import ssl
    ctx = ssl.create_default_context(cafile=str(certs["ca"]))
    with socket.create_connection(("127.0.0.1", gateway.tls_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(options("TLS", "tls1"))
            data = s.recv(4096)
    assert data.startswith(b"SIP/2.0 200"), data
    assert b"SIP/2.0/TLS" in data, data


def test_oversized_stream_message_closes_the_connection(gateway):
    s = socket.create_connection(("127.0.0.1", gateway.tcp_port), timeout=5)
    try:
        s.sendall(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nX-Pad: " + b"a" * 70000)
        s.settimeout(5)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
    finally:
        s.close()
    assert data == b"", f"a message over 65535 bytes must close the connection, got {data[:200]!r}"
    s = socket.create_connection(("127.0.0.1", gateway.tcp_port), timeout=5)
    s.sendall(options("TCP", "big2"))
    assert s.recv(4096).startswith(b"SIP/2.0 200")
    s.close()
