"""Limits per client and per address, and input handled whole (issue 9, items 7 and 8).

Each attack runs against a gateway with the limit it needs (gateway_factory) or the module's default one,
then a fresh client must still complete an echo call. Raw RTMP bytes come from helpers/rtmp_raw.py's
RawRtmp; the control client is python3-librtmp (RtmpControl)."""
import socket
import time

from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.rtmp_control import RtmpControl
from helpers.rtmp_raw import TYPE_AUDIO, TYPE_COMMAND_AMF0, RawRtmp, chunk, command, connect_command

ECHO = "sip:echo@127.0.0.1"


def still_serves(url: str):
    """A normal client still completes an echo call (status 4) and hangs up."""
    with RtmpControl(url) as c:
        dial_connected(c, ECHO)
        hangup_ended(c)


def refused_at_accept(port: int) -> bool:
    """True when a new TCP connection is closed without S0/S1."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"\x03" + bytes(1536))
            s.settimeout(3)
            return s.recv(65536) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def test_pipelined_connect_and_empty_dial_answered(gateway):
    raw = RawRtmp(gateway.rtmp_port, hold_c2=True)
    raw.send(connect_command() + command("dial", 2, ""))   # C2 + connect + dial in ONE write
    r = raw.wait_command(lambda n, v: n in ("_error", "_result") and v and True, 3)
    while r is not None and r[1] != 2:
        r = raw.wait_command(lambda n, v: n in ("_error", "_result"), 3)
    assert r is not None and r[0] == "_error", f"no answer to a pipelined dial(\"\"): {r}"
    raw.close()
    still_serves(gateway.url())


# The next four run on the shipped defaults, so that the binary before the limits
# existed starts and shows the hole: 20 connections per address, a 10 s connect
# deadline, 20 dials per minute, 8 players per call.


def test_connections_per_ip(gateway_factory):
    gw = gateway_factory({}, name="gw_per_ip")
    held = [RawRtmp(gw.rtmp_port) for _ in range(20)]
    for h in held:
        h.connect()
    assert refused_at_accept(gw.rtmp_port), "a 21st connection from 127.0.0.1 was served"
    held.pop().close()
    time.sleep(0.3)
    still_serves(gw.url())
    for h in held:
        h.close()


def test_connect_deadline(gateway_factory):
    gw = gateway_factory({}, name="gw_connect_deadline")
    raw = RawRtmp(gw.rtmp_port)
    t0 = time.monotonic()
    assert raw.closed_within(14), "a client that never sends connect was kept open"
    took = time.monotonic() - t0
    assert 9 <= took <= 13, f"closed after {took:.1f} s, expected ~10 s"
    still_serves(gw.url())


def test_dial_rate(gateway_factory):
    gw = gateway_factory({}, name="gw_dial_rate")
    with RtmpControl(gw.url()) as c:
        for _ in range(20):
            info = dial_error(c, "sip:nobody@blocked.invalid")
            assert "rate" not in info.get("description", ""), info
        info = dial_error(c, ECHO)
        assert info.get("code") == "Sono.Call.Failed" and "rate" in info.get("description", ""), \
            f"21st dial in a minute: {info}"
    still_serves(gw.url())   # the limit is per connection


def test_bogus_publish_play_refused_and_idle_timeout_applies(gateway_factory):
    gw = gateway_factory({"limits": {"idle_timeout_s": 2}}, name="gw_bogus_names")
    raw = RawRtmp(gw.rtmp_port)
    raw.connect()
    pub = raw.create_stream(2)
    raw.send(command("publish", 0, "bogus", "live", stream_id=pub, csid=8))
    assert raw.stream_status(pub) == "NetStream.Publish.BadName"
    play = raw.create_stream(3)
    raw.send(command("play", 0, "bogus", stream_id=play, csid=8))
    assert raw.stream_status(play) == "NetStream.Play.StreamNotFound"
    t0 = time.monotonic()
    assert raw.closed_within(8), "bogus streams kept an idle connection open"
    assert time.monotonic() - t0 <= 5
    still_serves(gw.url())


def play_codes(raw: RawRtmp, sid: int, seconds: float) -> list:
    codes, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = raw.wait_command(lambda n, v: n == "onStatus", deadline - time.monotonic())
        if r is None:
            break
        if r[3] == sid:
            codes.append(r[2][1].get("code"))
    return codes


def test_repeated_play_deduplicated_and_players_bounded(gateway_factory):
    gw = gateway_factory({}, name="gw_players")
    with RtmpControl(gw.url()) as ctl:
        s4 = dial_connected(ctl, ECHO)
        a = RawRtmp(gw.rtmp_port)
        a.connect()
        sa = a.create_stream(2)
        a.send(b"".join(command("play", 0, s4["play"], stream_id=sa, csid=8) for _ in range(50)))
        codes = play_codes(a, sa, 2)
        assert "NetStream.Play.Start" in codes and "NetStream.Play.StreamNotFound" not in codes, codes
        players = [a]
        for _ in range(7):   # players 2..8 of the default 8
            p = RawRtmp(gw.rtmp_port)
            p.connect()
            sp = p.create_stream(2)
            p.send(command("play", 0, s4["play"], stream_id=sp, csid=8))
            assert "NetStream.Play.Start" in play_codes(p, sp, 1.5), \
                f"player {len(players) + 1} refused: 50 plays of one stream took several places"
            players.append(p)
        c = RawRtmp(gw.rtmp_port)
        c.connect()
        sc = c.create_stream(2)
        c.send(command("play", 0, s4["play"], stream_id=sc, csid=8))
        codes = play_codes(c, sc, 1.5)
        assert codes and codes[0] == "NetStream.Play.StreamNotFound", f"a 9th player: {codes}"
        for r in players + [c]:
            r.close()
        hangup_ended(ctl)
    still_serves(gw.url())


def test_malformed_chunk_flood_gives_few_log_lines(gateway):
    off = gateway.log_size()
    raw = RawRtmp(gateway.rtmp_port)
    raw.connect()
    # 3000 two-byte command messages (an AMF string marker cut short), then a valid one to sync on.
    bad = chunk(3, TYPE_COMMAND_AMF0, 0, b"\x02\x00")
    raw.send(bad * 3000)
    sid = raw.create_stream(7)
    assert sid >= 1
    raw.close()
    time.sleep(0.5)
    lines = [ln for ln in gateway.log_since(off, max_lines=100000).splitlines() if "unreadable command" in ln]
    assert len(lines) <= 10, f"{len(lines)} log lines for one flood"
    still_serves(gateway.url())


def test_large_message_before_connect_closes(gateway):
    raw = RawRtmp(gateway.rtmp_port)
    # A 100 000-byte command claimed before connect (the limit before connect is 8192).
    raw.send(chunk(3, TYPE_COMMAND_AMF0, 0, bytes(8000), length=100_000))
    assert raw.closed_within(3), "a 100 kB message before connect was being reassembled"
    still_serves(gateway.url())


def test_many_chunk_streams_before_connect_close(gateway):
    raw = RawRtmp(gateway.rtmp_port)
    raw.send(b"".join(chunk(csid, TYPE_AUDIO, 0, b"\xb2") for csid in range(4, 13)))
    assert raw.closed_within(3), "9 chunk streams before connect were accepted"
    still_serves(gateway.url())


def test_reassembly_budget(gateway_factory):
    gw = gateway_factory({"limits": {"max_reassembly_bytes": 1048576}}, name="gw_budget")
    off = gw.log_size()
    raw = RawRtmp(gw.rtmp_port)
    raw.connect()
    for csid in range(4, 9):   # five 256 KiB messages, each left 16 KiB short (whole 128-byte chunks)
        if not raw.send(chunk(csid, TYPE_AUDIO, 1, bytes(245_760), length=262_144)):
            break
    assert raw.closed_within(5), "1.2 MB of partial messages held with a 1 MiB budget"
    assert "budget" in gw.log_since(off), "no log line names the exhausted budget"
    still_serves(gw.url())
