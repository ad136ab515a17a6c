"""RTMPS ([rtmp] tls_listen): RTMP inside TLS (rustls) with a test certificate made by openssl, into the
same connection code as RTMP over TCP. python3-librtmp controls a call over rtmps:// and ffmpeg publishes
a Speex tone over rtmps:// into an echo call; the echoed tone is checked at a player. A TLS port also
drops clients that never finish the TLS handshake ([limits] handshake_timeout_s) and refuses plain RTMP."""
import socket
import ssl
import time

import pytest

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.gateway import Gateway
from helpers.rtmp_control import RtmpControl
from helpers.tone_to_sipp import tone_reaches_sipp
from helpers.rtmp_raw import RawRtmp
from helpers.tls_cert import make_cert

TONE_S = 4
MIN_SNR_DB = 28   # as test_echo.py: Speex decoded and encoded again by the echo


@pytest.fixture(scope="module")
def rtmps(ports, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-rtmps")
    cert, key = make_cert(d / "tls")
    tls_port = ports.port()
    gw = Gateway(d, ports, {"rtmp": {"tls_listen": [f"127.0.0.1:{tls_port}"], "tls_cert": str(cert),
                                     "tls_key": str(key)},
                            "limits": {"handshake_timeout_s": 2}})
    gw.tls_port = tls_port
    gw.cert = cert
    gw.start()   # waits for the RTMPS listener too
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _alive(request):
    yield
    if "rtmps" in request.fixturenames:
        gw = request.getfixturevalue("rtmps")
        assert gw.alive(), f"rtmp2sip died during the test; log {gw.log}"


def tls_url(gw, stream: str = None) -> str:
    base = f"rtmps://127.0.0.1:{gw.tls_port}/phone"
    return f"{base}/{stream}" if stream else base


def test_tls_handshake_with_the_test_certificate(rtmps):
    ctx = ssl.create_default_context(cafile=str(rtmps.cert))
    with socket.create_connection(("127.0.0.1", rtmps.tls_port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3")
            assert t.selected_alpn_protocol() is None
            t.sendall(b"\x03" + bytes(1536))   # C0 C1: the RTMP handshake runs inside TLS
            got = b""
            while len(got) < 1 + 1536 + 1536:
                d = t.recv(65536)
                assert d, "closed during the RTMP handshake over TLS"
                got += d
            assert got[0] == 3


def test_ffmpeg_publishes_speex_over_rtmps_into_an_echo_call(rtmps, procs, out_dir, measure):
    ctl = RtmpControl(tls_url(rtmps))          # librtmp: connect + dial over TLS
    try:
        s4 = dial_connected(ctl, "sip:echo@127.0.0.1")
        played = out_dir / "rtmps_echo.flv"
        player = media.librtmp_play(procs, tls_url(rtmps, s4["play"]), played, TONE_S + 2.5)
        time.sleep(0.5)
        pub = media.ffmpeg_publish_tone(procs, tls_url(rtmps, s4["publish"]), TONE_S)
        media.wait_ok(pub, TONE_S + 20, "ffmpeg publishing Speex over rtmps://")
        media.wait_ok(player, 20, "librtmp playing the echo over rtmps://")
        hangup_ended(ctl)
    finally:
        ctl.close()
    wav = media.flv_to_wav(played, out_dir / "rtmps_echo.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "echoed tone over RTMPS")
    measure("SNR echo over RTMPS (dB)", t["snr"])
    active = t["windows"] - t["dropouts"]
    assert active * 0.02 >= TONE_S * 0.8, f"echo carried only {active * 0.02:.1f} s: {t['text']}"


def normal_call_still_works(gw):
    ctl = RtmpControl(tls_url(gw))
    try:
        dial_connected(ctl, "sip:echo@127.0.0.1")
        hangup_ended(ctl)
    finally:
        ctl.close()


def test_plain_rtmp_on_the_tls_port_is_refused(rtmps):
    with pytest.raises((ConnectionError, OSError)):
        RawRtmp(rtmps.tls_port, timeout=3)
    normal_call_still_works(rtmps)


def test_stalled_tls_handshakes_are_dropped(rtmps):
    """Connections that send nothing (or half a ClientHello) are closed after handshake_timeout_s."""
    socks = [socket.create_connection(("127.0.0.1", rtmps.tls_port), timeout=5) for _ in range(5)]
    socks[0].sendall(b"\x16\x03\x01\x02\x00\x01")   # a ClientHello header, then nothing
    t0 = time.monotonic()
    for s in socks:
        s.settimeout(6)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    assert time.monotonic() - t0 < 5, "stalled TLS handshakes were not dropped in time"
    normal_call_still_works(rtmps)


def test_ffmpeg_over_rtmps_tone_reaches_sipp(rtmps, procs, out_dir, ports, assets, measure):
    """ffmpeg publishes Speex over rtmps:// into a call to a PCMU sipp UAS: the tone arrives at sipp."""
    t = tone_reaches_sipp(rtmps, lambda s: tls_url(rtmps, s), procs, out_dir, ports, assets, "rtmps")
    measure("SNR RTMPS -> SIP PCMU (dB)", t["snr"])
