"""`rtmp2sip healthcheck [URL]` (the Docker image's HEALTHCHECK: no curl in the image): exit 0 when
GET URL answers 200 (`/healthz` of a running gateway), 1 when nothing listens there or the answer
is not 200 (`/readyz` after SIGTERM while a call holds the drain). Fails on the binary before
issue 12 (no such subcommand: usage, exit 2)."""
import signal
import time

from helpers.calls import dial_connected
from helpers.procs import run
from helpers.rtmp_control import RtmpControl


def healthcheck(gw, url):
    return run([gw.binary, "healthcheck", url], timeout=15, check=False)


def test_healthcheck_exit_codes(gateway_factory, ports):
    port = ports.port()
    gw = gateway_factory({"metrics": {"listen": [f"127.0.0.1:{port}"]},
                          "limits": {"drain_timeout_s": 10}}, name="gw_health")
    r = healthcheck(gw, f"http://127.0.0.1:{port}/healthz")
    assert r.returncode == 0, f"healthcheck of a running gateway: {r.returncode}\n{r.stderr}"
    r = healthcheck(gw, f"http://127.0.0.1:{ports.port()}/healthz")
    assert r.returncode == 1, f"healthcheck where nothing listens: {r.returncode}\n{r.stderr}"
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, "sip:echo@127.0.0.1")
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        r = healthcheck(gw, f"http://127.0.0.1:{port}/readyz")
        assert r.returncode == 1 and "503" in r.stderr, f"/readyz while draining: {r.returncode}\n{r.stderr}"
        r = healthcheck(gw, f"http://127.0.0.1:{port}/healthz")
        assert r.returncode == 0, f"/healthz stays 200 while draining: {r.returncode}\n{r.stderr}"
