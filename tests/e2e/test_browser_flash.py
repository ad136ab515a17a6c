"""The SDK's Flash transport (`new Phone({ transport: 'flash', swf, url })`, flash_phone/js/rtmp2sip-phone.js
FlashPhone) in headless Chromium (Debian's chromium, Playwright for Python: helpers/browser.py). No Flash Player
exists, so a stand-in (flash_phone/js/test-browser/flash-standin.js) turns the <object> the SDK embeds into
phone.swf's ExternalInterface surface, as the Flash Player does: it reads the element's flashvars, adds the
methods to the element and calls `window[callback]('ready', ...)`. The page (test-browser/flash.html) and the
SDK are served by a small HTTP server from flash_phone/; no gateway is needed.

Checked: the <object> is embedded invisibly (type, data, 1x1, allowScriptAccess, flashvars callback/ui=0/quality);
every API method reaches the element with the right arguments; every event the SWF raises reaches the page as
the Phone's events; a refused connect rejects with the gateway's code; the microphone permission dialog
enlarges the SWF while it asks."""
import functools
import http.server
import threading

import pytest

from helpers.browser import Browser, chromium_available
from helpers.paths import REPO


@pytest.fixture(scope="module", autouse=True)
def _browser_peers():
    if not chromium_available():
        pytest.fail("missing test peers: Debian's chromium and Playwright for /usr/bin/python3; run "
                    "scripts/install-test-deps.sh", pytrace=False)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".swf": "application/x-shockwave-flash"}

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def site():
    """flash_phone/ over HTTP on a free loopback port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(_Quiet, directory=str(REPO / "flash_phone")))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    d = tmp_path_factory.mktemp("chromium-flash")
    mic = d / "silence.wav"
    import wave
    with wave.open(str(mic), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000), w.writeframes(bytes(9600))
    with Browser(d, mic, name="chromium_flash") as b:
        yield b


def open_page(browser, site, query=""):
    pg = browser.page()
    pg.goto(f"{site}/js/test-browser/flash.html{query}")
    pg.wait_for_function("() => window.__ready === true", timeout=10000)
    return pg


def calls(pg):
    """[(method, args without the request id)] the stand-in recorded, in order."""
    out = pg.evaluate("() => window.__standins[0].calls")
    return [(m, a[1:] if m not in ("mute", "disconnect", "setQuality") else a) for m, a in out]


def events(pg, types=None):
    ev = pg.evaluate("() => window.__events")
    return [(t, d) for t, d in ev if types is None or t in types]


def test_embeds_invisibly_and_every_method_reaches_the_swf(browser, site):
    pg = open_page(browser, site, "?url=rtmps://gw.example.com:4443/phone&token=jwt.a.b")
    info = pg.evaluate("() => phone.connect()")
    assert info["code"] == "NetConnection.Connect.Success"
    el = pg.evaluate("""() => { const o = document.querySelector('object');
        const p = Object.fromEntries([...o.querySelectorAll('param')].map((x) => [x.name, x.value]));
        const r = o.getBoundingClientRect();
        return { type: o.type, data: o.getAttribute('data'), w: r.width, h: r.height, params: p,
                 version: phone.flashInfo.version, n: document.querySelectorAll('object').length }; }""")
    assert el["type"] == "application/x-shockwave-flash" and el["data"] == "/phone.swf", el
    assert (el["w"], el["h"]) == (1, 1), el
    assert el["params"]["allowScriptAccess"] == "sameDomain" and el["params"]["movie"] == "/phone.swf"
    fv = dict(x.split("=", 1) for x in el["params"]["flashvars"].split("&"))
    assert fv["ui"] == "0" and fv["quality"] == "7" and fv["callback"].startswith("__rtmp2sipFlash"), fv
    assert el["version"].startswith("rtmp2sip-flash "), el
    assert calls(pg)[0] == ("connect", ["rtmps://gw.example.com:4443/phone", "jwt.a.b", "phone"])

    st = pg.evaluate("() => phone.call('sip:bob@127.0.0.1')")
    assert st["status_code"] == 1
    pg.wait_for_function("() => window.__events.filter((e) => e[0] === 'status').length >= 3")
    pg.evaluate("""async () => {
        await phone.sendDTMF('12#', 100); await phone.hold(); await phone.unhold();
        await phone.transfer('sip:carol@127.0.0.1'); phone.mute(true); phone.mute(false);
        await phone.hangup(); await phone.register();
        await phone.register({ user: 'alice', registrar: '127.0.0.1:5070', password: 'pw', displayName: 'Alice' });
        await phone.unregister(); await phone.answer(); await phone.decline(486); await phone.decline(); }""")
    pg.wait_for_function("() => window.__events.filter((e) => e[0] === 'status').length >= 5")
    assert calls(pg)[1:] == [
        ("dial", ["sip:bob@127.0.0.1"]), ("sendDTMF", ["12#", 100]), ("hold", []), ("unhold", []),
        ("transfer", ["sip:carol@127.0.0.1"]), ("mute", [True]), ("mute", [False]), ("hangup", []),
        ("register", []), ("register", ["alice", "127.0.0.1:5070", "pw", None, "Alice"]), ("unregister", []),
        ("accept", []), ("reject", [486]), ("reject", [None]),
    ], calls(pg)
    codes = [d["status_code"] for _, d in events(pg, ["status"])]
    assert codes == [1, 2, 4, 3, 0], codes
    s4 = [d for _, d in events(pg, ["status"]) if d["status_code"] == 4][0]
    assert s4["publish"] == "pub123" and s4["play"] == "play456"
    assert [d["status"] for _, d in events(pg, ["registration"])] == ["registered"]
    pg.evaluate("() => phone.disconnect()")
    assert calls(pg)[-1] == ("disconnect", [])
    assert [t for t, _ in events(pg, ["connected", "disconnected"])] == ["connected", "disconnected"]
    pg.context.close()


def test_swf_events_reach_the_page(browser, site):
    pg = open_page(browser, site)
    pg.evaluate("() => phone.connect()")
    pg.evaluate("""() => { const s = window.__standins[0];
        s.sono({ level: 'status', code: 'Sono.Call.Incoming', uri: 'sip:alice@127.0.0.1', display_name: 'A\\\\lice', to: 'sip:u1@gw', call_id: 'c9' });
        s.sono({ level: 'status', code: 'Sono.Call.DTMF', digit: '5' });
        s.sono({ level: 'status', code: 'Sono.Registration.Status', status: 'expired', uri: 'sip:a@r', sip_code: 0, reason: 'expired', expires: 0 });
        s.sono({ level: 'status', code: 'Sono.Call.Hold', call_id: 'c9', held: true, by: 'remote' });
        s.sono({ level: 'status', code: 'Sono.Call.Transfer', call_id: 'c9', status: 'succeeded', sip_code: 200, reason: 'OK' });
        s.raise('stream', { stream: 'play', info: { level: 'status', code: 'NetStream.Play.Start' } });
        s.raise('microphone', { code: 'Microphone.Muted', name: 'Fake' }); }""")
    pg.wait_for_function("() => window.__events.some((e) => e[0] === 'microphone')")
    ev = events(pg)
    assert [t for t, _ in ev] == ["connected", "incoming", "dtmf", "registration", "hold", "transfer", "netstatus",
                                  "microphone"], ev
    assert ev[1][1]["uri"] == "sip:alice@127.0.0.1" and ev[1][1]["display_name"] == "A\\lice"
    assert ev[2][1]["digit"] == "5" and ev[4][1]["by"] == "remote" and ev[5][1]["status"] == "succeeded"
    assert ev[6][1] == {"level": "status", "code": "NetStream.Play.Start", "stream": "play"}
    # while the Flash Player asks for the microphone its dialog needs room: the SWF grows, then shrinks
    size = "() => { const r = document.querySelector('object').getBoundingClientRect(); return [r.width, r.height]; }"
    assert pg.evaluate(size) == [240, 160]
    pg.evaluate("() => window.__standins[0].raise('microphone', { code: 'Microphone.Unmuted', name: 'Fake' })")
    pg.wait_for_function("() => window.__events.filter((e) => e[0] === 'microphone').length === 2")
    assert pg.evaluate(size) == [1, 1]
    pg.evaluate("() => window.__standins[0].raise('connection', { level: 'status', code: 'NetConnection.Connect.Closed' })")
    pg.wait_for_function("() => window.__events.some((e) => e[0] === 'disconnected')")
    assert pg.evaluate("() => phone.isConnected") is False
    pg.context.close()


def test_refused_connect_and_dial(browser, site):
    pg = open_page(browser, site, "?token=bad")
    err = pg.evaluate("() => phone.connect().then(() => null, (e) => ({ code: e.code, description: e.description }))")
    assert err == {"code": "NetConnection.Connect.Rejected", "description": "bad token"}
    pg.context.close()
    pg = open_page(browser, site)
    pg.evaluate("() => phone.connect()")
    err = pg.evaluate("() => phone.call('sip:forbidden@10.0.0.1').then(() => null, (e) => e.code)")
    assert err == "Sono.Call.Forbidden"
    err = pg.evaluate("() => phone.call('sip:busy@127.0.0.1').then(() => null, (e) => [e.code, e.info.sip_code])")
    assert err == ["Sono.Call.Failed", 486]
    pg.context.close()
