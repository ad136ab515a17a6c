"""The real flash_phone/phone.swf running in Ruffle (the Flash Player emulator's web build, npm @ruffle-rs/ruffle,
installed by scripts/install-test-deps.sh) inside headless Chromium, driven by the SDK's Flash transport
(flash_phone/js/test-browser/ruffle.html; the `embed` option hands the SDK Ruffle's player element).

Ruffle runs the SWF's ActionScript (AVM2) and implements ExternalInterface, but has neither RTMP nor the
microphone, so this covers what test_flash_swf.py can only read from the bytecode: the SWF starts, adds every
callback, reports `ready` with its version through ExternalInterface.call, answers a request with a `reply`
that carries the request id and the info object, and draws its visible UI (ui=1; the README screenshot:
FLASH_PHONE_SCREENSHOT=flash_phone/flash-phone.png)."""
import functools
import http.server
import os
import subprocess
import threading
import wave
from pathlib import Path

import pytest

from helpers.browser import Browser, chromium_available
from helpers.paths import REPO

RUFFLE = Path(os.environ.get("RUFFLE_PREFIX", "/usr/local/lib/rtmp2sip-test-node")) / "node_modules" / "@ruffle-rs" / "ruffle"
CALLBACKS = ["connect", "disconnect", "dial", "hangup", "register", "unregister", "accept", "reject", "sendDTMF",
             "hold", "unhold", "transfer", "mute", "setQuality"]


@pytest.fixture(scope="module", autouse=True)
def _peers():
    if not chromium_available() or not (RUFFLE / "ruffle.js").exists():
        pytest.fail(f"missing test peers: chromium + Playwright, or Ruffle at {RUFFLE}; run "
                    "scripts/install-test-deps.sh", pytrace=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """/phone.swf (built now), /js/ (the SDK and test pages) and /ruffle/ over HTTP on a loopback port."""
    d = tmp_path_factory.mktemp("ruffle-site")
    r = subprocess.run([str(REPO / "flash_phone" / "build.sh")], env={**os.environ, "OUT": str(d / "phone.swf")},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (d / "js").symlink_to(REPO / "flash_phone" / "js")
    (d / "ruffle").symlink_to(RUFFLE)

    class H(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".js": "text/javascript", ".swf": "application/x-shockwave-flash"}

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=str(d)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    d = tmp_path_factory.mktemp("chromium-ruffle")
    mic = d / "silence.wav"
    with wave.open(str(mic), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000), w.writeframes(bytes(9600))
    with Browser(d, mic, name="chromium_ruffle") as b:
        yield b


def loaded_page(browser, site, query=""):
    pg = browser.page(viewport={"width": 340, "height": 260})
    pg.goto(f"{site}/js/test-browser/ruffle.html{query}")
    pg.wait_for_function("() => window.__ready === true", timeout=10000)
    pg.evaluate("() => phone.load()")      # resolves on the SWF's `ready`
    return pg


def test_swf_runs_and_its_externalinterface_surface_answers(browser, site):
    pg = loaded_page(browser, site)
    raw = pg.evaluate("() => window.__raw")
    assert raw[0] == ["ready", {"version": "rtmp2sip-flash 1.0"}], raw
    kinds = pg.evaluate(f"() => {CALLBACKS!r}.map((m) => [m, typeof phone.swf[m]])")
    assert all(k == "function" for _, k in kinds), kinds
    # requests before connect: the SWF's Client answers with a reply carrying the id (NetConnection closed)
    pg.evaluate("() => { phone.swf.hangup(41); phone.swf.dial(42, 'sip:echo@127.0.0.1'); "
                "phone.swf.register(43, 'alice', '127.0.0.1', 'pw', null, null); phone.swf.mute(true); phone.swf.setQuality(5); }")
    pg.wait_for_function("() => window.__raw.filter((e) => e[0] === 'reply').length >= 3", timeout=5000)
    replies = [d for t, d in pg.evaluate("() => window.__raw") if t == "reply"]
    assert [r["id"] for r in replies] == [41, 42, 43], replies
    for r in replies:
        assert r["ok"] is False and r["info"] == {"level": "error", "code": "NetConnection.Connect.Closed",
                                                  "description": "not connected"}, r
    # the SDK's methods need a connection: they reject before reaching the SWF
    err = pg.evaluate("() => phone.hangup().then(() => null, (e) => e.code)")
    assert err == "NetConnection.Connect.Closed"
    # Ruffle has no RTMP: connect() gets no answer and the SDK's connectTimeoutMs rejects it
    err = pg.evaluate("() => phone.connect().then(() => null, (e) => e.code)")
    assert err == "NetConnection.Connect.Failed"
    pg.context.close()


def test_visible_ui(browser, site):
    pg = loaded_page(browser, site, "?ui=1")
    pg.wait_for_timeout(1500)                 # Ruffle draws on its next frames
    shot = os.environ.get("FLASH_PHONE_SCREENSHOT")
    out = Path(shot) if shot else Path(browser.out_dir) / "flash-phone.png"
    pg.locator("#phone-swf").screenshot(path=str(out))
    # the UI is drawn: the 320x240 area is not one flat colour (buttons, fields, text); the PNG is decoded
    # by the page's own <canvas>
    import base64
    stats = pg.evaluate("""async (b64) => {
        const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set(); let blue = 0;
        for (let i = 0; i < d.length; i += 4) {
            colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            if (d[i + 2] > 150 && d[i] < 80) blue++;
        }
        return { w: c.width, h: c.height, colours: colours.size, blue };
    }""", base64.b64encode(out.read_bytes()).decode())
    assert (stats["w"], stats["h"]) == (320, 240), stats
    assert stats["colours"] > 8, f"the SWF drew almost nothing: {stats} ({out})"
    assert stats["blue"] > 4 * 72 * 20, f"no buttons (blue pixels): {stats} ({out})"
    pg.context.close()
