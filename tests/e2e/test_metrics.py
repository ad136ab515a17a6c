"""Operations endpoints: GET /metrics (Prometheus / OpenMetrics text), GET /healthz and GET /readyz,
on the HTTP listener ([http] listen, [metrics] on_http) and on a listener of their own
([metrics] listen). The exposition is parsed by a small parser below (the text format's sample
lines: name{labels} value), and the counters must move as an echo call progresses: connections,
calls active 1 then 0, calls ended +1, the setup histogram's count +1, RTP packets > 0.
/readyz answers 503 once shutdown began (SIGTERM while a call holds the gateway open).

The binary before issue 12 has no [metrics] section: check-config rejects the config, so every
test here fails to start on it."""
import math
import re
import signal
import socket
import time
import pytest

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.dialog_call import publishing_call
from helpers.gateway import Gateway
from helpers.ports import wait_until
from helpers.raw_uas import RawUas
from helpers.rtmp_control import RtmpControl
from helpers.ws_raw import WsRtmp, http_get

ECHO = "sip:echo@127.0.0.1"
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text: str) -> dict:
    """{(name, frozenset(labels.items())): float}; asserts every line is a comment, blank, or a
    well-formed sample, and that the OpenMetrics text ends with `# EOF`."""
    samples = {}
    lines = text.splitlines()
    assert lines and lines[-1] == "# EOF", f"exposition does not end with '# EOF': {lines[-3:]}"
    for ln in lines:
        if not ln or ln.startswith("#"):
            if ln.startswith("# TYPE"):
                assert len(ln.split()) == 4, f"bad TYPE line: {ln!r}"
            continue
        m = _SAMPLE.match(ln)
        assert m, f"not a Prometheus sample line: {ln!r}"
        name, _, body, value, _ = m.groups()
        labels = {}
        if body:
            pos = 0
            while pos < len(body):
                lm = _LABEL.match(body, pos)
                assert lm, f"bad labels in {ln!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        v = float(value)
        assert not math.isnan(v), ln
        samples[(name, frozenset(labels.items()))] = v
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def ops(ports, tmp_path_factory):
    """A gateway with [http] listen and [metrics] listen on loopback."""
    http_port, metrics_port = ports.port(), ports.port()
    gw = Gateway(tmp_path_factory.mktemp("gw-metrics"), ports, {
        "http": {"listen": [f"127.0.0.1:{http_port}"]},
        "metrics": {"listen": [f"127.0.0.1:{metrics_port}"]},
    })
    gw.http_port, gw.metrics_port = http_port, metrics_port
    gw.start()   # waits for the HTTP and metrics listeners too
    yield gw
    gw.stop()


def scrape(port: int) -> dict:
    status, hdrs, body = http_get(port, "/metrics")
    assert status == 200, f"/metrics answered {status}: {body[:200]!r}"
    assert hdrs.get("content-type", "").startswith("application/openmetrics-text"), hdrs
    return parse_exposition(body.decode())


@pytest.mark.parametrize("which", ["http_port", "metrics_port"])
def test_health_and_ready_answer_200(ops, which):
    port = getattr(ops, which)
    for path, text in (("/healthz", b"ok"), ("/readyz", b"ready")):
        status, _, body = http_get(port, path)
        assert (status, body.strip()) == (200, text), f"{path} on {which}: {status} {body!r}"
    s = scrape(port)
    names = {k[0] for k in s}
    for want in ("rtmp2sip_call_setup_seconds_count", "rtmp2sip_registrations_active",
                 "rtmp2sip_rtp_foreign_total", "rtmp2sip_rtmp_out_dropped_total"):
        assert want in names, f"{want} missing from /metrics: {sorted(names)}"
    status, _, _ = http_get(port, "/nope")
    assert status == 404


def test_counters_move_during_an_echo_call(ops, procs):
    before = scrape(ops.metrics_port)
    ctl = RtmpControl(ops.url())
    try:
        during_conn = scrape(ops.http_port)
        assert value(during_conn, "rtmp2sip_connections_active", transport="rtmp") >= 1, during_conn
        assert value(during_conn, "rtmp2sip_connections_total", transport="rtmp") \
            >= value(before, "rtmp2sip_connections_total", transport="rtmp") + 1
        s4 = dial_connected(ctl, ECHO)
        during = scrape(ops.metrics_port)
        assert value(during, "rtmp2sip_calls_active", direction="outbound") == 1, during
        assert value(during, "rtmp2sip_call_setup_seconds_count") \
            == value(before, "rtmp2sip_call_setup_seconds_count") + 1
        publisher = media.ffmpeg_publish_tone(procs, ops.url(s4["publish"]), 2)
        media.wait_ok(publisher, 20, "ffmpeg publishing Speex to the gateway")
        hangup_ended(ctl)
        after = {}

        def settled():
            nonlocal after
            after = scrape(ops.metrics_port)
            return (value(after, "rtmp2sip_calls_active", direction="outbound") == 0
                    and value(after, "rtmp2sip_rtp_packets_total", direction="sent") > 0)
        assert wait_until(settled, 5, 0.1), f"calls active / RTP packets did not settle: {after}"
        assert value(after, "rtmp2sip_calls_ended_total", direction="outbound", reason="normal") \
            == value(before, "rtmp2sip_calls_ended_total", direction="outbound", reason="normal") + 1
        # The media worker's ticks carried the call for seconds: their lateness is counted
        # (merged every 50 ticks, taken by the 100 ms load sampler).
        assert wait_until(
            lambda: value(scrape(ops.metrics_port), "rtmp2sip_media_tick_lateness_seconds_count")
            >= value(before, "rtmp2sip_media_tick_lateness_seconds_count") + 50, 5, 0.1), \
            "media worker ticks not counted in rtmp2sip_media_tick_lateness_seconds"
    finally:
        ctl.close()
    assert wait_until(
        lambda: value(scrape(ops.metrics_port), "rtmp2sip_connections_active", transport="rtmp") == 0,
        5, 0.1), "rtmp connection still counted after close"


def test_refused_dial_is_counted(ops):
    before = scrape(ops.metrics_port)
    ctl = RtmpControl(ops.url())
    try:
        txn = ctl.call("dial", "sip:someone@192.0.2.1")
        r = ctl.reply(txn, 5)
        assert r.method == "_error", f"a dial outside [policy] should be refused: {r!r}"
    finally:
        ctl.close()
    after = scrape(ops.metrics_port)
    assert value(after, "rtmp2sip_refused_total", what="dial", reason="policy") \
        == value(before, "rtmp2sip_refused_total", what="dial", reason="policy") + 1, after
    # the gateway still completes a normal call
    ctl = RtmpControl(ops.url())
    try:
        dial_connected(ctl, ECHO)
        hangup_ended(ctl)
    finally:
        ctl.close()


def test_hold_state_is_counted(ops, procs, ports):
    """The far end holds the call (re-INVITE a=sendonly) and resumes it (a=sendrecv), with the test_hold
    setup: rtmp2sip_calls_held{side="remote"} is 1 while held and 0 after, each transition is counted in
    rtmp2sip_hold_transitions_total{side,to}, and once the call ended the client's audio dropped while
    held shows in rtmp2sip_held_dropped_total{side="rtmp"}. The binary before this has none of them."""
    made = []

    def client():
        made.append(RtmpControl(ops.url()))
        return made[-1]

    def remote(name: str, **labels) -> float:
        return value(scrape(ops.metrics_port), name, side="remote", **labels)

    before = scrape(ops.metrics_port)
    try:
        with publishing_call(client, procs, ops, ports, seconds=8) as (peer, ctl, pub):
            resp = peer.reinvite("sendonly")
            assert resp.startswith("SIP/2.0 200"), f"hold re-INVITE: {resp}\n{peer.dump()}"
            assert wait_until(lambda: remote("rtmp2sip_calls_held") == 1, 5, 0.1), \
                f"calls_held{{side=remote}} not 1 while held: {scrape(ops.metrics_port)}"
            assert remote("rtmp2sip_hold_transitions_total", to="held") \
                == value(before, "rtmp2sip_hold_transitions_total", side="remote", to="held") + 1
            time.sleep(1.0)   # the client's audio is dropped meanwhile
            resp = peer.reinvite("sendrecv")
            assert resp.startswith("SIP/2.0 200"), f"resume re-INVITE: {resp}"
            assert wait_until(lambda: remote("rtmp2sip_calls_held") == 0, 5, 0.1), \
                "calls_held{side=remote} not back to 0 after the resume"
            assert remote("rtmp2sip_hold_transitions_total", to="resumed") \
                == value(before, "rtmp2sip_hold_transitions_total", side="remote", to="resumed") + 1
        dropped = value(before, "rtmp2sip_held_dropped_total", side="rtmp")
        assert wait_until(
            lambda: value(scrape(ops.metrics_port), "rtmp2sip_held_dropped_total", side="rtmp") > dropped,
            5, 0.1), "no held_dropped{side=rtmp} after a held call ended"
    finally:
        for c in made:
            c.close()


def keepalive_get(sock: socket.socket, path: str) -> int:
    """One GET on a kept-alive HTTP/1.1 connection; returns the status (the body is read by
    Content-Length)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        d = sock.recv(4096)
        assert d, f"connection closed before a response to {path}: {data!r}"
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        d = sock.recv(4096)
        assert d, "connection closed mid-body"
        body += d
    return int(head.split()[1])


class SilentByeUas(RawUas):
    """A UAS that answers the INVITE and never answers BYE: shutdown then waits for the BYE's
    transaction, which keeps the gateway in shutdown for a few seconds."""

    def _handle(self, msg: str, src: tuple):
        if not msg.startswith("BYE "):
            super()._handle(msg, src)


def test_readyz_503_during_shutdown(gateway_factory, ports):
    """SIGTERM while a call is up: shutdown waits for the call's BYE, and meanwhile /readyz on a
    connection opened before answers 503 and /healthz still 200."""
    metrics_port = ports.port()
    gw = gateway_factory({"metrics": {"listen": [f"127.0.0.1:{metrics_port}"]}}, "gw-shut")
    uas = SilentByeUas(ports.port(), ports.range(2)[0])
    ctl = RtmpControl(gw.url())
    sock = socket.create_connection(("127.0.0.1", metrics_port), timeout=5)
    try:
        assert keepalive_get(sock, "/readyz") == 200
        dial_connected(ctl, uas.uri("bob"))
        s = scrape(metrics_port)
        ok_2xx = {"direction": "received", "class": "2xx"}
        assert value(s, "rtmp2sip_sip_responses_total", **ok_2xx) >= 1, s
        assert value(s, "rtmp2sip_calls_active", direction="outbound") == 1, s
        gw.proc.popen.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert keepalive_get(sock, "/readyz") == 503
        assert keepalive_get(sock, "/healthz") == 200
    finally:
        sock.close()
        ctl.close()
        uas.close()


def test_websocket_connection_is_counted_by_transport(ops):
    before = scrape(ops.metrics_port)
    raw = WsRtmp(ops.http_port)
    try:
        assert wait_until(lambda: value(scrape(ops.metrics_port), "rtmp2sip_connections_active",
                                        transport="ws") >= 1, 5, 0.05), "ws connection not counted"
        during = scrape(ops.metrics_port)
        assert value(during, "rtmp2sip_connections_total", transport="ws") \
            == value(before, "rtmp2sip_connections_total", transport="ws") + 1, during
    finally:
        raw.close()
    assert wait_until(lambda: value(scrape(ops.metrics_port), "rtmp2sip_connections_active",
                                    transport="ws") == 0, 5, 0.05), "ws connection still counted"
