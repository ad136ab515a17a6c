"""RTMPT on the HTTP listener ([http] rtmpt): RTMP tunnelled over HTTP POSTs (/open/1, /send/<id>/<seq>,
/idle/<id>/<seq>, /close/<id>/<seq>, application/x-fcs) into the same connection code as RTMP over TCP.
ffmpeg publishes Speex over rtmpt:// into an echo call that python3-librtmp dials over rtmpt://, and ffmpeg
plays the echo back over rtmpt:// (SNR checked). Raw HTTP tests: the id and content type, out-of-order sends
reordered by <seq>, unknown ids 404, idle sessions reaped, too many sessions per IP refused (429), empty,
oversized and reused-sequence requests refused with a clear status. After each attack a normal echo call
still reaches status 4."""
import http.client
import os
import threading
import time

import pytest

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.gateway import Gateway
from helpers.rtmp_control import RtmpControl
from helpers.tone_to_sipp import tone_reaches_sipp
from helpers.rtmp_raw import TYPE_COMMAND_AMF0, amf0, chunk, command
from helpers.rtmpt import (FCS, RtmptRtmp, Session, call_status, dial_echo, ffmpeg_play_now, hangup,
                           keep_polling, open_session, post, random_id)

ECHO = "sip:echo@127.0.0.1"
TONE_S = 4
PLAY_S = 3            # media seconds the player keeps (less than the echo sends: it then ends by itself)
MIN_SNR_DB = 28       # as test_echo.py: Speex decoded and encoded again by the echo
IDLE_TIMEOUT_S = 3
MAX_SESSIONS = 6
CONNECTION_TIMEOUT_S = 2   # [http] connection_timeout_s: RTMPT connections must outlive it


@pytest.fixture(scope="module")
def rtmpt(ports, tmp_path_factory):
    http_port = ports.port()
    gw = Gateway(tmp_path_factory.mktemp("gw-rtmpt"), ports, {
        "http": {"listen": [f"127.0.0.1:{http_port}"], "rtmpt_idle_timeout_s": IDLE_TIMEOUT_S,
                 "rtmpt_max_sessions_per_ip": MAX_SESSIONS, "connection_timeout_s": CONNECTION_TIMEOUT_S}})
    gw.http_port = http_port
    gw.start()   # waits for the HTTP listener too
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _alive(request):
    yield
    if "rtmpt" in request.fixturenames:
        gw = request.getfixturevalue("rtmpt")
        assert gw.alive(), f"rtmp2sip died during the test; log {gw.log}"
    if "rtmpt_auth" in request.fixturenames:
        gw = request.getfixturevalue("rtmpt_auth")
        assert gw.alive(), f"rtmp2sip died during the test; log {gw.log}"


def url(gw, stream: str = None) -> str:
    base = f"rtmpt://127.0.0.1:{gw.http_port}/phone"
    return f"{base}/{stream}" if stream else base


def wait_sessions_reaped(gw):
    """Sessions left by earlier tests (killed clients) end after the idle timeout."""
    time.sleep(IDLE_TIMEOUT_S + 1.5)


def normal_call_still_works(gw, over_rtmpt: bool = True):
    """A dial to echo reaches status 4 (over RTMPT, or librtmp over plain RTMP), then hangs up."""
    if over_rtmpt:
        ctl = RtmptRtmp(gw.http_port)
        try:
            dial_echo(ctl, ECHO)
            hangup(ctl)
        finally:
            ctl.close()
        return
    ctl = RtmpControl(gw.url())
    try:
        dial_connected(ctl, ECHO)
        hangup_ended(ctl)
    finally:
        ctl.close()


def test_dial_echo_over_rtmpt(rtmpt):
    normal_call_still_works(rtmpt, over_rtmpt=True)


def test_ffmpeg_publishes_speex_over_rtmpt_into_an_echo_call(rtmpt, procs, out_dir, measure):
    ctl = RtmptRtmp(rtmpt.http_port)        # the control connection over RTMPT too
    try:
        s4 = dial_echo(ctl, ECHO)
        played = out_dir / "rtmpt_echo.flv"
        player = ffmpeg_play_now(procs, url(rtmpt, s4["play"]), played, PLAY_S)
        keep_polling(ctl, player, 0.5)
        pub = media.ffmpeg_publish_tone(procs, url(rtmpt, s4["publish"]), TONE_S)
        keep_polling(ctl, pub, TONE_S + 20)
        media.wait_ok(pub, 1, "ffmpeg publishing Speex over rtmpt://")
        keep_polling(ctl, player, 20)
        media.wait_ok(player, 1, "ffmpeg playing the echo over rtmpt://")
        hangup(ctl)
    finally:
        ctl.close()
    wav = media.flv_to_wav(played, out_dir / "rtmpt_echo.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "echoed tone over RTMPT")
    measure("SNR echo over RTMPT (dB)", t["snr"])
    active = t["windows"] - t["dropouts"]
    assert active * 0.02 >= PLAY_S * 0.7, f"echo carried only {active * 0.02:.1f} s: {t['text']}"


def test_open_answers_a_random_id_as_x_fcs(rtmpt):
    ids = {open_session(rtmpt.http_port) for _ in range(3)}
    assert len(ids) == 3
    for sid in ids:
        status, h, body = post(rtmpt.http_port, f"/close/{sid}/0")
        assert (status, h.get("content-type"), body) == (200, FCS, b"\x00")


def test_out_of_order_sends_are_reordered(rtmpt):
    """After an idle (seq 0: the first request fixes the base), C0+C1 in two sends posted in the wrong
    order (seq 2 first, on its own connection): the gateway applies them by <seq>, so the handshake works
    and S2 echoes C1."""
    s = Session(rtmpt.http_port)
    assert s.idle(seq=0)[0] == 200
    c1 = bytes(8) + os.urandom(1528)
    c0c1 = b"\x03" + c1
    late = {}
    t = threading.Thread(target=lambda: late.update(r=s.send(c0c1[700:], seq=2)))
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), f"seq 2 was answered before seq 1 came: {late}"
    first = s.send(c0c1[:700], seq=1)
    t.join(10)
    assert first[0] == 200 and late["r"][0] == 200, (first, late)
    s.seq = 3
    got = first[2][1:] + late["r"][2][1:]
    got += s.read(3073 - len(got))
    assert got[0] == 3, got[:4]
    assert got[1 + 1536 + 8:1 + 3072] == c1[8:], "S2 does not echo C1: the sends were not reordered"
    assert s.close()[0] == 200
    normal_call_still_works(rtmpt)


def test_unknown_and_malformed_ids_get_404(rtmpt):
    p = rtmpt.http_port
    for path in (f"/idle/{random_id()}/0", f"/send/{random_id()}/0", f"/close/{random_id()}/3",
                 "/idle/1234/0", f"/idle/{random_id()}zz/0"):
        status, _, _ = post(p, path)
        assert status == 404, (path, status)
    s = Session(p)
    assert s.close()[0] == 200
    assert s.idle()[0] == 404, "a closed session is forgotten"
    normal_call_still_works(rtmpt)


def test_idle_sessions_are_reaped(rtmpt):
    s = Session(rtmpt.http_port)
    assert s.send(b"\x03" + bytes(1536))[0] == 200       # a half handshake, then silence
    assert s.idle()[0] == 200
    time.sleep(IDLE_TIMEOUT_S + 1.5)
    assert s.idle()[0] == 404, "an idle session outlived [http] rtmpt_idle_timeout_s"
    normal_call_still_works(rtmpt)


def test_too_many_sessions_per_ip_are_refused(rtmpt):
    wait_sessions_reaped(rtmpt)
    opened = [Session(rtmpt.http_port) for _ in range(MAX_SESSIONS)]
    status, _, body = post(rtmpt.http_port, "/open/1")
    assert status == 429, (status, body)
    assert opened[0].close()[0] == 200
    extra = Session(rtmpt.http_port)                   # a closed session frees its place at once
    for s in opened[1:] + [extra]:
        assert s.close()[0] == 200
    normal_call_still_works(rtmpt)


def test_bad_bodies_and_sequence_numbers_get_clear_statuses(rtmpt):
    p = rtmpt.http_port
    s = Session(p)
    assert post(p, f"/send/{s.id}/0", b"")[0] == 400, "Content-Length: 0 on send"
    status, _, _ = post(p, f"/send/{s.id}/0", b"\x03" * (70 * 1024))
    assert status == 413, "a 70 KiB body"
    status, _, _ = post(p, f"/send/{s.id}/0", b"\x03", headers={"Content-Length": str(1 << 40)})
    assert status in (400, 413), "a huge Content-Length"
    assert post(p, f"/idle/{s.id}/x1")[0] == 400
    assert post(p, f"/idle/{s.id}/99999999999999999999")[0] == 400
    assert s.idle(seq=0)[0] == 200
    assert s.idle(seq=0)[0] == 400, "a reused sequence number"
    assert s.idle(seq=1000)[0] == 400, "a sequence number far outside the reorder window"
    assert s.idle(seq=1)[0] == 200, "the session survives refused requests"
    assert post(p, "/open/1", headers={"Content-Length": "0"}, body=b"")[0] in (200, 400)
    assert s.close(seq=2)[0] == 200
    normal_call_still_works(rtmpt)


def test_a_keep_alive_connection_carrying_rtmpt_outlives_connection_timeout(rtmpt):
    """ffmpeg and librtmp poll over one keep-alive connection for the whole call: it must not be cut at
    [http] connection_timeout_s while RTMPT requests keep coming."""
    sid = open_session(rtmpt.http_port)
    c = http.client.HTTPConnection("127.0.0.1", rtmpt.http_port, timeout=5)
    try:
        c.connect()
        sock = c.sock
        t0, seq = time.monotonic(), 0
        while time.monotonic() - t0 < CONNECTION_TIMEOUT_S * 2.5:
            c.request("POST", f"/idle/{sid}/{seq}", body=b"\x00", headers={"Content-Type": FCS})
            r = c.getresponse()
            assert (r.status, r.read()[:1]) == (200, b"\x01") or r.status == 200
            assert c.sock is sock, "the keep-alive connection was closed under the RTMPT session"
            seq += 1
            time.sleep(0.3)
        c.request("POST", f"/close/{sid}/{seq}", body=b"\x00", headers={"Content-Type": FCS})
        assert c.getresponse().read() == b"\x00"
    finally:
        c.close()
    normal_call_still_works(rtmpt)


def test_plain_rtmp_still_works_alongside(rtmpt):
    normal_call_still_works(rtmpt, over_rtmpt=False)


# ---------- [auth]: the JWT gate applies to RTMPT sessions as to RTMP over TCP ----------
AUTH_SECRET = "e2e-rtmpt-secret-" + os.urandom(16).hex()


@pytest.fixture(scope="module")
def rtmpt_auth(ports, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-rtmpt-auth")
    secret = d / "jwt.secret"
    secret.write_text(AUTH_SECRET + "\n")
    http_port = ports.port()
    gw = Gateway(d, ports, {
        "http": {"listen": [f"127.0.0.1:{http_port}"], "rtmpt_idle_timeout_s": IDLE_TIMEOUT_S},
        "auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(secret),
                 "issuer": "test-site", "audience": "rtmp2sip"}})
    gw.http_port = http_port
    gw.start()
    yield gw
    gw.stop()


def jwt_token(sub: str = "alice") -> str:
    import jwt
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 300, "iss": "test-site", "aud": "rtmp2sip"},
                      AUTH_SECRET, algorithm="HS256")


def connect_msg(tok: str = None) -> bytes:
    """connect(1, {app}, [token]): the token is the first argument after the command object."""
    body = amf0("connect") + amf0(1) + amf0({"app": "phone", "objectEncoding": 0})
    return chunk(3, TYPE_COMMAND_AMF0, 0, body + (amf0(tok) if tok else b""))


def test_rtmpt_connect_without_a_token_is_rejected_and_closed(rtmpt_auth):
    ctl = RtmptRtmp(rtmpt_auth.http_port)
    ctl.send(connect_msg())
    r = ctl.wait_command(lambda n, v: n in ("_result", "_error"), 10)
    assert r and r[0] == "_error", f"connect without a token over RTMPT: {r}"
    assert ctl.closed_within(IDLE_TIMEOUT_S + 3), "the rejected RTMPT session was not closed"
    assert rtmpt_auth.alive()


def test_rtmpt_connect_with_a_token_dials_echo(rtmpt_auth):
    ctl = RtmptRtmp(rtmpt_auth.http_port)
    try:
        ctl.send(connect_msg(jwt_token("checker")))
        r = ctl.wait_command(lambda n, v: n in ("_result", "_error"), 10)
        assert r and r[0] == "_result", f"connect with a good token over RTMPT: {r}"
        ctl.send(command("dial", 2, ECHO))
        assert ctl.wait_command(call_status(4), 15), "no status 4 with a token over RTMPT"
        hangup(ctl)
    finally:
        ctl.close()


def test_ffmpeg_over_rtmpt_tone_reaches_sipp(rtmpt, procs, out_dir, ports, assets, measure):
    """ffmpeg publishes Speex over rtmpt:// into a call to a PCMU sipp UAS: the tone arrives at sipp."""
    t = tone_reaches_sipp(rtmpt, lambda s: url(rtmpt, s), procs, out_dir, ports, assets, "rtmpt")
    measure("SNR RTMPT -> SIP PCMU (dB)", t["snr"])
