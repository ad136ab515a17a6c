"""Live reload (SIGHUP) and graceful drain (SIGTERM, [limits] drain_timeout_s).

Reload: the test rewrites the gateway's own config file and sends SIGHUP.
- A narrower [policy] dial_allow refuses the next dial to a target it no longer allows, on a
  connection opened before the reload and on a new one, while an echo call that was up keeps its
  audio (the echoed tone, published across the reload, comes back whole).
- A broken file (TOML syntax error; a valid TOML with an out-of-range value that would also have
  narrowed the policy) is refused: an ERROR log line names the file and the reason, the old policy
  stays (echo still connects), and rtmp2sip_config_reloads_total{result="error"} counts it.
- A changed listen address is reported as needing a restart and the old one keeps serving.
- A lower [limits] media_max_load applies live: with one media worker and an echo call up, a dial
  after SIGHUP with media_max_load = 0.002 gets 503 (the call goes on); raising it back admits again.
  The previous binary logged it as "needs a restart" and kept admitting.

Drain: SIGTERM with a call up to a silent sipp UAS (which never hangs up):
- /readyz answers 503 at once and a dial gets _error Sono.Call.Failed with a "503 ..." description;
- the running call goes on until drain_timeout_s (3 s here), then gets BYE (sipp exits 0) and
  status 0, and the gateway exits 0;
- with a long drain_timeout_s, the gateway exits as soon as its last call hangs up;
- an INVITE to a registered client during the drain gets 503 and does not ring it.
TLS: new HTTPS and RTMPS handshakes present a certificate swapped in by SIGHUP.
API: POST /api/v1/reload does what SIGHUP does, behind the status API's bearer token: 401 without
it or with a wrong one (nothing reloaded), 200 with {"applied", "needs_restart"}, 422 with the error
for a broken file; a new [http] admin_token is live at once.

The binary before issue 12 has no SIGHUP handler (SIGHUP kills it) and no drain_timeout_s key
(check-config rejects the config): every test here fails on it."""
import json
import signal
import time

from helpers import media
from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.gateway import merge, to_toml
from helpers.ports import wait_until
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl
from helpers.sipp import Sipp
from helpers.ws_raw import http_get

ECHO = "sip:echo@127.0.0.1"
TONE_S = 6


def rewrite(gw, overrides: dict = None, text: str = None):
    """Writes the gateway's config file anew: its start-up config plus `overrides`, or `text`."""
    gw.config_path.write_text(text if text is not None else to_toml(merge(gw.config, overrides or {})))


def sighup_and_wait(gw, expect: str, timeout: float = 5.0) -> str:
    """SIGHUP, then waits for a log line containing `expect`; returns the log written since."""
    off = gw.log_size()
    gw.proc.send_signal(signal.SIGHUP)
    ok = wait_until(lambda: expect in gw.log_since(off), timeout, 0.05)
    log = gw.log_since(off)
    assert ok, f"no {expect!r} in the log {timeout} s after SIGHUP:\n{log}"
    assert gw.alive(), f"the gateway died on SIGHUP:\n{log}"
    return log


def metric(port: int, name: str) -> float:
    status, _, body = http_get(port, "/metrics")
    assert status == 200, status
    for ln in body.decode().splitlines():
        if ln.startswith(name + " "):
            return float(ln.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{body.decode()}")


def test_sighup_narrower_dial_allow_refuses_new_dials_while_the_call_goes_on(
        gateway_factory, procs, out_dir, measure):
    gw = gateway_factory(name="gw_reload")
    ctl = RtmpControl(gw.url())
    before = RtmpControl(gw.url())   # open before the reload: its next dial must use the new policy
    after = None
    try:
        s4 = dial_connected(ctl, ECHO)
        played = out_dir / "echo_played.flv"
        player = media.librtmp_play(procs, gw.url(s4["play"]), played, TONE_S + 2.5)
        time.sleep(0.5)
        publisher = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), TONE_S)
        time.sleep(2.0)   # the tone flows both ways, then the policy narrows mid-call

        rewrite(gw, {"policy": {"dial_allow": ["sip:echo@*"]}})
        log = sighup_and_wait(gw, "configuration reloaded")
        assert '"policy"' in log, f"the reload should report [policy] applied:\n{log}"

        info = dial_error(before, "sip:bob@127.0.0.1")
        assert info.get("code") == "Sono.Call.Forbidden", f"open connection, new policy: {info}"
        after = RtmpControl(gw.url())
        info = dial_error(after, "sip:bob@127.0.0.1")
        assert info.get("code") == "Sono.Call.Forbidden", f"new connection, new policy: {info}"

        media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
        media.wait_ok(player, 20, "librtmp playing the echo")
        assert NOT_CONNECTED not in ctl.status_codes(), f"the running call ended: {ctl.dump()}"
        hangup_ended(ctl)
        wav = media.flv_to_wav(played, out_dir / "echo_played.wav")
        t = media.assert_tone(wav, 20, "echoed tone across the reload")
        active = t["windows"] - t["dropouts"]
        measure("echo audio across SIGHUP (s)", round(active * 0.02, 2))
        assert active * 0.02 >= TONE_S * 0.8, \
            f"the echo carried only {active * 0.02:.1f} s of the {TONE_S} s tone: {t['text']}"
    finally:
        for c in (ctl, before, after):
            if c is not None:
                c.close()


def test_a_broken_file_is_refused_logged_and_the_old_policy_stays(gateway_factory, ports):
    mport = ports.port()
    gw = gateway_factory({"metrics": {"listen": [f"127.0.0.1:{mport}"]}}, name="gw_reload_bad")
    good = gw.config_path.read_text()

    # A syntax error.
    rewrite(gw, text=good + "\n[policy\n")
    log = sighup_and_wait(gw, "configuration reload refused")
    line = next(ln for ln in log.splitlines() if "configuration reload refused" in ln)
    assert "ERROR" in line and str(gw.config_path) in line, f"the refusal should be an ERROR naming the file: {line}"

    # Valid TOML, one bad value, and a policy that would forbid echo if it were applied.
    rewrite(gw, {"policy": {"dial_allow": ["sip:nobody@*"]}, "rtmp": {"chunk_size": 1}})
    log = sighup_and_wait(gw, "configuration reload refused")
    assert "rtmp.chunk_size" in log, f"the refusal should name the key:\n{log}"

    assert metric(mport, 'rtmp2sip_config_reloads_total{result="error"}') == 2
    assert metric(mport, 'rtmp2sip_config_reloads_total{result="ok"}') == 0
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, ECHO)      # the old policy stays
        hangup_ended(ctl)

    # A changed listen address needs a restart: reported, and the old one keeps serving.
    rewrite(gw, {"rtmp": {"listen": [f"127.0.0.1:{ports.port()}"]}})
    log = sighup_and_wait(gw, "configuration reloaded")
    assert "needs a restart" in log or "need a restart" in log, log
    assert "rtmp.listen" in log, log
    assert metric(mport, 'rtmp2sip_config_reloads_total{result="ok"}') == 1
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, ECHO)
        hangup_ended(ctl)


def test_sigterm_drains_new_dials_get_503_and_the_call_is_hung_up_at_the_timeout(
        gateway_factory, procs, out_dir, ports, measure):
    drain_s = 3
    mport = ports.port()
    gw = gateway_factory({"limits": {"drain_timeout_s": drain_s},
                          "metrics": {"listen": [f"127.0.0.1:{mport}"]}}, name="gw_drain")
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_silent.xml").start()
    ctl = RtmpControl(gw.url())
    other = RtmpControl(gw.url())
    try:
        dial_connected(ctl, sipp.uri("bob"))
        assert http_get(mport, "/readyz")[0] == 200
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        assert wait_until(lambda: http_get(mport, "/readyz")[0] == 503, 2, 0.05), "/readyz should be 503"
        info = dial_error(other, ECHO)
        assert info.get("code") == "Sono.Call.Failed", info
        assert str(info.get("description", "")).startswith("503 "), info
        assert info.get("sip_code") == 503, f"a drain refusal carries sip_code 503: {info}"
        assert wait_until(lambda: metric(mport, 'rtmp2sip_refused_total{what="dial",reason="draining"}') == 1,
                          2, 0.05), "the drain refusal should be counted with reason draining"
        late = RtmpControl(gw.url())    # the listener still answers: a new client hears 503 too
        try:
            info = dial_error(late, ECHO)
            assert str(info.get("description", "")).startswith("503 "), info
        finally:
            late.close()
        time.sleep(1.0)
        assert gw.alive(), "the gateway should wait for the call during the drain:\n" + gw.log_since(0)
        assert NOT_CONNECTED not in ctl.status_codes(), f"the call ended before the drain timeout: {ctl.dump()}"

        rc = gw.proc.wait(drain_s + 8)
        took = time.monotonic() - t0
        measure("SIGTERM -> exit with a call up, drain_timeout_s=3 (s)", round(took, 2))
        assert rc == 0, f"exit code {rc} after the drain\n" + gw.log_since(0)
        assert took >= drain_s - 0.5, f"the gateway exited after {took:.1f} s, before the drain timeout"
        assert sipp.wait_exit(10) == 0, "sipp should have received BYE at the drain timeout:\n" + sipp.report()
        assert "BYE sip:" in sipp.messages(), sipp.report()
        deadline = time.monotonic() + 3
        while NOT_CONNECTED not in ctl.status_codes() and ctl.closed_reason is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert NOT_CONNECTED in ctl.status_codes() or ctl.closed_reason is not None, ctl.dump()
        # Each connection is told once (it once spun on the cancelled token while its BYE ran).
        spins = gw.log_since(0, max_lines=10**7).count("gateway shutting down")
        assert spins <= 5, f"'gateway shutting down' logged {spins} times for 3 connections"
    finally:
        ctl.close()
        other.close()


def test_drain_ends_when_the_last_call_hangs_up(gateway_factory, measure):
    gw = gateway_factory({"limits": {"drain_timeout_s": 60}}, name="gw_drain_end")
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, ECHO)
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.7)
        assert gw.alive(), "the gateway should drain while the call is up"
        t0 = time.monotonic()
        hangup_ended(ctl)
        rc = gw.proc.wait(5)
        measure("last call hung up -> exit (s)", round(time.monotonic() - t0, 2))
        assert rc == 0, f"exit code {rc} (None: still running) after the last call ended\n" + gw.log_since(0)


def test_sighup_swaps_the_tls_certificates_for_new_handshakes(gateway_factory, ports, out_dir):
    import shutil
    import ssl
    from helpers.tls_cert import make_cert
    cert_a, key_a = make_cert(out_dir / "a")
    cert_b, key_b = make_cert(out_dir / "b")
    live = out_dir / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    shutil.copy(cert_a, cert)
    shutil.copy(key_a, key)
    https, rtmps = ports.port(), ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{https}"], "tls_cert": str(cert), "tls_key": str(key)},
                          "rtmp": {"tls_listen": [f"127.0.0.1:{rtmps}"], "tls_cert": str(cert),
                                   "tls_key": str(key)}}, name="gw_reload_tls")

    def presented(port):
        return ssl.get_server_certificate(("127.0.0.1", port), timeout=5)

    def pem(p):
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(p.read_text()))
    assert presented(https) == pem(cert_a) and presented(rtmps) == pem(cert_a)

    shutil.copy(cert_b, cert)
    shutil.copy(key_b, key)
    sighup_and_wait(gw, "configuration reloaded")
    assert presented(https) == pem(cert_b), "HTTPS should present the new certificate after SIGHUP"
    assert presented(rtmps) == pem(cert_b), "RTMPS should present the new certificate after SIGHUP"

    key.write_text("not a key\n")
    log = sighup_and_wait(gw, "configuration reload refused")
    assert str(key) in log, log
    assert presented(https) == pem(cert_b) and presented(rtmps) == pem(cert_b), "a bad key changes nothing"


def test_invites_get_503_while_draining(gateway_factory, procs, out_dir, ports):
    from helpers.incoming import register_local, user_of
    gw = gateway_factory({"limits": {"drain_timeout_s": 20}}, name="gw_drain_invite")
    holder = RtmpControl(gw.url())
    callee = RtmpControl(gw.url())
    try:
        dial_connected(holder, ECHO)              # keeps the gateway draining
        user = user_of(register_local(callee))
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        mark = len(callee.invokes)
        sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name="sipp_uac", subst={"@CODE@": 503})
        sipp.keys.update({"fromuser": "alice"})
        sipp.extra += ["-s", user]
        sipp.start(f"127.0.0.1:{gw.sip_port}")
        assert sipp.wait_exit(15) == 0, "an INVITE during the drain should get 503:\n" + sipp.report()
        incoming = [i for i in callee.invokes[mark:] if "Sono.Call.Incoming" in repr(i)]
        assert not incoming, f"the client should not ring during the drain: {incoming}"
        hangup_ended(holder)
        assert gw.proc.wait(5) == 0, "the gateway should exit 0 once the last call ended"
    finally:
        holder.close()
        callee.close()


def test_api_reload_with_and_without_the_token(gateway_factory, ports):
    token, new_token = "e2e-reload-token-0123456789", "e2e-reload-token-abcdefghij"
    hport, mport = ports.port(), ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{hport}"], "admin_token": token},
                          "metrics": {"listen": [f"127.0.0.1:{mport}"]},
                          "log": {"format": "json"}}, name="gw_reload_api")

    def post(tok):
        headers = {"Authorization": f"Bearer {tok}"} if tok is not None else {}
        status, hdrs, body = http_get(hport, "/api/v1/reload", method="POST", headers=headers)
        return status, hdrs, (json.loads(body) if body else None)

    # Without the token, or with a wrong one: 401 and nothing is reloaded.
    rewrite(gw, {"policy": {"dial_allow": ["sip:echo@*"]}})
    for tok in (None, "not-the-admin-token-000"):
        status, hdrs, _ = post(tok)
        assert status == 401, f"reload with token {tok!r}: {status}"
        assert hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs
    assert metric(mport, 'rtmp2sip_config_reloads_total{result="ok"}') == 0
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, "sip:echo@127.0.0.1")   # the start-up policy still allows any user
        hangup_ended(ctl)

    # With it: 200 and the report; the narrower policy is in force for the next dial.
    status, _, doc = post(token)
    assert status == 200, (status, doc)
    assert doc["applied"] == ["policy"] and doc["needs_restart"] == [], doc
    with RtmpControl(gw.url()) as ctl:
        info = dial_error(ctl, "sip:bob@127.0.0.1")
        assert info.get("code") == "Sono.Call.Forbidden", info

    # A broken file: 422 with the error naming the key; the running configuration stays.
    rewrite(gw, {"policy": {"dial_allow": ["sip:echo@*"]}, "rtmp": {"chunk_size": 1}})
    status, _, doc = post(token)
    assert status == 422, (status, doc)
    assert "rtmp.chunk_size" in doc["error"], doc
    assert metric(mport, 'rtmp2sip_config_reloads_total{result="error"}') == 1

    # A new admin token and a quieter log level are live at once (the JSON log keeps its format);
    # a changed listen address is reported as needing a restart.
    rewrite(gw, {"policy": {"dial_allow": ["sip:echo@*"]}, "log": {"format": "json", "level": "warn"},
                 "http": {"listen": [f"127.0.0.1:{hport}"], "admin_token": new_token},
                 "rtmp": {"listen": [f"127.0.0.1:{ports.port()}"]}})
    status, _, doc = post(token)
    assert status == 200, (status, doc)
    assert doc["applied"] == ["log.level", "http.admin_token"], doc
    assert doc["needs_restart"] == ["rtmp.listen"], doc
    off = gw.log_size()
    assert post(token)[0] == 401, "the old admin token should be refused after the reload"
    status, _, doc = post(new_token)
    assert status == 200 and doc == {"applied": [], "needs_restart": ["rtmp.listen"]}, (status, doc)
    assert metric(mport, 'rtmp2sip_config_reloads_total{result="ok"}') == 3
    time.sleep(0.3)
    lines = [json.loads(ln) for ln in gw.log_since(off, max_lines=10**6).splitlines() if ln.strip()]
    levels = {ln["level"] for ln in lines}
    assert "WARN" in levels and "INFO" not in levels, f"[log] level = warn should be in force: {lines}"


def test_sighup_media_max_load_applies_live(gateway_factory, procs, out_dir):
    gw = gateway_factory({"media": {"workers": 1}}, name="gw_reload_load")
    with RtmpControl(gw.url()) as a, RtmpControl(gw.url()) as b:
        s4 = dial_connected(a, ECHO)
        publisher = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), TONE_S)
        time.sleep(1.5)
        dial_connected(b, ECHO)   # admitted under the shipped limit
        hangup_ended(b)
        rewrite(gw, {"media": {"workers": 1}, "limits": {"media_max_load": 0.002}})
        log = sighup_and_wait(gw, "configuration reloaded")
        assert '"limits"' in log and "needs a restart" not in log, log
        assert wait_until(lambda: "refusing new calls" in gw.log_since(0), 3), "the sampler took the new limit"
        info = dial_error(b, ECHO)
        assert info.get("sip_code") == 503, f"dial under the lowered media_max_load: {info}"
        rewrite(gw, {"media": {"workers": 1}})
        sighup_and_wait(gw, "configuration reloaded")
        assert wait_until(lambda: "admitting new calls" in gw.log_since(0), 3), "the limit raised again"
        dial_connected(b, ECHO)
        hangup_ended(b)
        media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
        assert NOT_CONNECTED not in a.status_codes(), f"the running call ended: {a.dump()}"
        hangup_ended(a)
