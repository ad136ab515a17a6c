"""The web phone (flash_phone/web/index.html, served at /) and the invisible phone example
(flash_phone/examples/invisible.html) in a real browser: Debian's headless `chromium`, driven by Playwright
for Python (helpers/browser.py; never a downloaded browser). The microphone is a 1 kHz tone WAV (Chromium's
fake capture device); the far end is sipp; tshark captures at sipp's RTP port. The page is driven through
its own controls (buttons, the address field); test hooks only observe (helpers/browser.py TAP_JS,
RECORD_JS).

a) the page dials a sipp UAS answering PCMU: the tone reaches sipp (SNR >= 25 dB), sipp's tone reaches
   phone.remoteStream (recorded in the page, SNR >= 20 dB); the hang-up button ends both sides;
b) sipp answers opus: the page's E-RTMP Opus CodedFrames are the RTP payloads at sipp byte for byte, and
   sipp's RTP payloads are the CodedFrames the page receives; the per-packet transit times give the
   added latency of the browser path;
c) the page registers (button), sipp calls its address, the page accepts: audio both ways, DTMF both ways
   (dial-pad keys -> RFC 4733 at sipp; RFC 4733 from sipp -> the page's dtmf events);
d) WebCodecs deleted before the SDK loads: the G.711 µ-law fallback both ways, with the shipped
   rtmp_out_codec = "speex": the SDK's connect says audioCodecs = 0x0100 (µ-law, no Speex), so the page
   receives µ-law from the first downlink message;
e) the page over https:// and wss:// with a test certificate: the PCMU call of a), tone both ways; a page
   of another origin is refused (403, the SDK's connect() rejects) and an echo call still works after;
f) the invisible example dials echo on load and hears itself (1 kHz in its remoteStream).
The screenshot for the README (docs/web-phone.png) is taken during a): set WEB_PHONE_SCREENSHOT=<path>."""
import os
import shutil
import time
import wave

import numpy as np
import pytest

from helpers import codecs, ertmp, media
from helpers.browser import (RECORD_BOTH_JS, RECORD_JS, TAP_JS, Browser, chromium_available, fetch_both, onsets_ms,
                             save_recording, tap)
from helpers.capture import Capture
from helpers.dtmf_pcap import with_events
from helpers.gateway import Gateway
from helpers.procs import run
from helpers.sipp import Sipp
from helpers.tls_cert import make_cert



@pytest.fixture(scope="module", autouse=True)
def _browser_peers():
    """Like every e2e peer, a missing browser fails the tests (they do not skip)."""
    if not chromium_available():
        pytest.fail("missing test peers: Debian's chromium and Playwright for /usr/bin/python3; run "
                    "scripts/install-test-deps.sh", pytrace=False)

ECHO = "sip:echo@127.0.0.1"
MIN_SNR_TO_SIP_DB = 25
MIN_SNR_TO_PAGE_DB = 20
CALL_S = 6.5            # sipp's pcap: 1 s silence + 5 s tone


def start_gateway(out, ports, extra: dict = None) -> Gateway:
    """A gateway with [http] listen on a free loopback port (gw.http_port) and rtmp_out_codec = "match" (so
    a page without WebCodecs gets G.711 back: the SDK plays µ-law and Opus, not Speex)."""
    http_port = ports.port()
    ov = {"http": {"listen": [f"127.0.0.1:{http_port}"]}, "media": {"rtmp_out_codec": "match"}}
    for sec, keys in (extra or {}).items():
        ov.setdefault(sec, {}).update(keys)
    gw = Gateway(out, ports, ov)
    gw.http_port = http_port
    gw.start()   # waits for the HTTP listener too
    return gw


@pytest.fixture(scope="module")
def gateway(ports, tmp_path_factory):
    """This module's gateway (named `gateway` so conftest's liveness check and failure report cover it)."""
    gw = start_gateway(tmp_path_factory.mktemp("gw-browser"), ports)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory):
    """The fake microphone: a 1 kHz tone at 48 kHz, amplitude 1/8 (Chromium loops the file)."""
    return media.make_tone_wav(tmp_path_factory.mktemp("mic") / "mic_1k.wav", tone_s=30, rate=48000)


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


@pytest.fixture
def browser(out_dir, mic_wav):
    with Browser(out_dir, mic_wav) as b:
        yield b


# ---------- page helpers ----------

def open_page(browser, base: str, query: str = "", **kw):
    pg = browser.page(**kw)
    pg.goto(f"{base}/{query}")
    pg.wait_for_function("() => window.phone !== undefined", timeout=10000)
    pg.evaluate(TAP_JS)
    return pg


def wait_status(pg, code: int, timeout_s: float = 15):
    pg.wait_for_function(f"() => window.phone.callStatus && window.phone.callStatus.status_code === {code}",
                         timeout=timeout_s * 1000)


def start_recording(pg):
    pg.wait_for_function("() => window.phone.media && window.phone.media.playback && window.phone.remoteStream",
                         timeout=10000)
    pg.evaluate(RECORD_JS)


def status_text(pg) -> str:
    return pg.inner_text("#status")


def loud_part(wav_in, wav_out):
    """The recording from the first to the last 20 ms window within 40 dB of the loudest (the far end's
    tone, without the lead silence and the tail after the hang-up; 40 dB because on an echo call the
    browser's echo canceller, rightly, takes the looped-back tone down by up to ~30 dB)."""
    with wave.open(str(wav_in)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    win = rate // 50
    n = len(x) // win
    assert n > 10, f"recording too short: {len(x)} samples"
    lv = 20 * np.log10(np.sqrt(np.mean(x[:n * win].reshape(n, win) ** 2, axis=1)) + 1e-9)
    loud = np.nonzero(lv > lv.max() - 40)[0]
    y = x[loud[0] * win:(loud[-1] + 1) * win].astype("<i2")
    with wave.open(str(wav_out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(y.tobytes())
    return wav_out, len(y) / rate


def udp_timed(pcap) -> list:
    """[(epoch_ms, src_port, dst_port, rtp dict)] of the RTP packets in a capture."""
    r = run(["tshark", "-r", pcap, "-Y", "udp", "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.srcport",
             "-e", "udp.dstport", "-e", "udp.payload"])
    out = []
    for line in r.stdout.splitlines():
        p = line.split("\t")
        if len(p) == 4 and p[3]:
            rtp = media.parse_rtp(bytes.fromhex(p[3].replace(":", "")))
            if rtp:
                out.append((float(p[0]) * 1000, int(p[1]), int(p[2]), rtp))
    return out


def coded_frames(bodies: list) -> list:
    """[(ms, Opus packet)] of E-RTMP CodedFrames among [(ms, FLV audio body)]."""
    out = []
    for ms, b in bodies:
        p = ertmp.parse_body(b)
        if p and p[0] == ertmp.CODED_FRAMES:
            out.append((ms, p[1]))
    return out


def contiguous_in(haystack: list, needle: list, what: str) -> int:
    assert needle, f"{what}: nothing received"
    assert needle[0] in haystack, f"{what}: the first received packet is none of the sent ones"
    at = haystack.index(needle[0])
    same = haystack[at:at + len(needle)] == needle
    if not same:
        diff = next(i for i, (a, b) in enumerate(zip(haystack[at:], needle)) if a != b)
        raise AssertionError(f"{what}: not byte-identical from packet {diff} of {len(needle)}")
    return at


def page_echo_call(pg, out_dir, name: str, measure=None, seconds: float = 4.0):
    """Dials echo from the page's controls, records remoteStream, hangs up; asserts the mic's 1 kHz tone
    came back."""
    pg.fill("#to", ECHO)
    pg.click("#call")
    wait_status(pg, 4)
    start_recording(pg)
    time.sleep(seconds)
    pg.click("#hangup")
    wait_status(pg, 0, 10)
    rec = save_recording(pg, out_dir / f"{name}_remote.wav")
    wav, dur = loud_part(rec, out_dir / f"{name}_remote_tone.wav")
    assert dur >= seconds * 0.5, f"{name}: only {dur:.1f} s of echoed audio"
    t = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, f"{name}: echo at the page")
    if measure:
        measure(f"{name}: SNR echo at the page (dB)", t["snr"])
    return t


# ---------- a) PCMU far end ----------

def test_page_dials_pcmu_far_end(gateway, browser, procs, out_dir, ports, assets, measure):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    pg = open_page(browser, f"http://127.0.0.1:{gateway.http_port}")
    pg.fill("#to", sipp.uri("bob"))
    pg.click("#call")
    wait_status(pg, 4)
    start_recording(pg)
    time.sleep(CALL_S / 2)
    assert "In call" in status_text(pg) or "Connected" in status_text(pg), status_text(pg)
    shot = os.environ.get("WEB_PHONE_SCREENSHOT")
    pg.screenshot(path=str(out_dir / "web-phone.png"), full_page=True)
    if shot:
        shutil.copy(out_dir / "web-phone.png", shot)
    assert pg.get_attribute("#mic-level", "aria-valuenow") not in (None, "0"), "the mic level meter shows nothing"
    time.sleep(CALL_S / 2)
    q = pg.evaluate("() => window.phone.stats()")
    # the page announced Opus: the gateway encodes the far end's PCMU to Opus for it
    assert pg.inner_text("#q-codec") == q["codec"] == "opus", f"quality panel codec {q}"
    pg.click("#hangup")
    wait_status(pg, 0, 10)
    assert "Call ended" in status_text(pg), status_text(pg)
    assert pg.is_enabled("#call") and not pg.is_enabled("#hangup")
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp's call did not end with BYE/200:\n" + sipp.report()
    assert "BYE sip:" in sipp.messages(), sipp.report()

    rx = out_dir / "at_sipp.wav"
    print("RTP at sipp:", media.rtp_to_wav(cap.stop(), rx, "pcmu", dport=sipp.media_port, pt=0))
    t = media.assert_tone(rx, MIN_SNR_TO_SIP_DB, "page's microphone tone at sipp (PCMU)")
    measure("page -> SIP PCMU SNR (dB)", t["snr"])
    rec = save_recording(pg, out_dir / "remote.wav")
    wav, dur = loud_part(rec, out_dir / "remote_tone.wav")
    assert dur >= 3, f"only {dur:.1f} s of the far end's tone reached remoteStream"
    t = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, "sipp's tone at phone.remoteStream")
    measure("SIP PCMU -> page remoteStream SNR (dB)", t["snr"])


# ---------- b) Opus passthrough ----------

def test_opus_passthrough_byte_identical(gateway, browser, procs, out_dir, ports, cassets, measure):
    far = cassets.far_end_pcap(codecs.OPUS)
    sipp = Sipp(procs, out_dir, ports, codecs.OPUS.scenario, pcap=far, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    pg = open_page(browser, f"http://127.0.0.1:{gateway.http_port}")
    pg.fill("#to", sipp.uri("bob"))
    pg.click("#call")
    wait_status(pg, 4)
    time.sleep(5)
    pg.click("#hangup")
    wait_status(pg, 0, 10)
    assert sipp.wait_exit(15) == 0, sipp.report()
    t = tap(pg)
    pkts = udp_timed(cap.stop())

    sent = coded_frames(t["sent"])
    assert sent, "the page sent no E-RTMP Opus CodedFrames (did it fall back to µ-law?)"
    heads = [ertmp.parse_body(b) for _, b in t["sent"]]
    assert heads[0] and heads[0][0] == ertmp.SEQUENCE_START and heads[0][1][:8] == b"OpusHead", \
        "the page's first audio message is not an Opus SequenceStart"
    up = [(ms, r) for ms, s, d, r in pkts if d == sipp.media_port and r["pt"] == codecs.OPUS.pt]
    got = [r["payload"] for _, r in up]
    at = contiguous_in([p for _, p in sent], got, "page Opus -> RTP at sipp")
    measure("Opus uplink packets at sipp of sent", f"{len(got)}/{len(sent)}")
    assert len(got) >= 0.8 * len(sent), f"only {len(got)} of {len(sent)} sent packets reached sipp"
    steps = {(b["ts"] - a["ts"]) & 0xFFFFFFFF for (_, a), (_, b) in zip(up, up[1:])}
    assert steps == {960}, f"RTP timestamp steps at sipp {sorted(steps)}"

    recv = coded_frames(t["recv"])
    down = [(ms, r) for ms, s, d, r in pkts if s == sipp.media_port and r["pt"] == codecs.OPUS.pt]
    at_down = contiguous_in([r["payload"] for _, r in down], [p for _, p in recv], "sipp RTP Opus -> page")
    assert len(recv) >= 0.6 * len(down), f"the page got {len(recv)} of sipp's {len(down)} packets"
    measure("Opus downlink packets at the page of sipp's", f"{len(recv)}/{len(down)}")

    # Added latency of the gateway path, per packet: SDK send -> RTP at sipp, RTP from sipp -> SDK receive.
    lat_up = sorted(ms_rtp - sent[at + i][0] for i, (ms_rtp, _) in enumerate(up))
    lat_down = sorted(ms_page - down[at_down + i][0] for i, (ms_page, _) in enumerate(recv))
    for name, v in [("uplink page->RTP", lat_up), ("downlink RTP->page", lat_down)]:
        med, p95 = v[len(v) // 2], v[int(len(v) * 0.95)]
        measure(f"latency {name} median/p95 (ms)", f"{med:.1f}/{p95:.1f}")
        assert med < 200, f"{name}: median {med:.1f} ms"
    base = pg.evaluate("() => window.__baseLatency || null")
    print("AudioContext latency:", base)


# ---------- c) incoming call, DTMF both ways ----------

def test_registered_page_receives_call_with_dtmf(gateway, browser, procs, out_dir, ports, assets, measure):
    pg = open_page(browser, f"http://127.0.0.1:{gateway.http_port}")
    pg.evaluate("() => { window.__dtmf = []; window.phone.addEventListener('dtmf', (e) => window.__dtmf.push(e.detail.digit)); }")
    pg.click("#register")
    pg.wait_for_function("() => document.getElementById('reg-state').textContent.includes('sip:u')", timeout=10000)
    uri = pg.inner_text("#reg-state").split("Registered: ", 1)[1].strip()
    user = uri.split(":", 1)[1].split("@", 1)[0]
    pcap = with_events(assets.pcmu_pcap, out_dir / "far_end_dtmf.pcap", "5#", at_packet=10)
    sipp = Sipp(procs, out_dir, ports, "uac_speex.xml", pcap=pcap, name="sipp_uac",
                keys={"pts": "0 101", "fromuser": "alice"}, extra=["-s", user, "-d", "9000", "-timeout", "40",
                                                                    "-timeout_error"])
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start(f"127.0.0.1:{gateway.sip_port}")
    pg.wait_for_selector("#incoming:not([hidden])", timeout=10000)
    assert "alice" in pg.inner_text("#caller"), pg.inner_text("#caller")
    assert "Incoming call" in status_text(pg)
    pg.click("#accept")
    wait_status(pg, 4)
    start_recording(pg)
    time.sleep(2.5)
    for k in ["1", "#"]:                      # dial-pad keys during the call: DTMF toward sipp
        pg.click(f"#pad button[data-key='{k}']")
        time.sleep(0.6)
    pg.wait_for_function("() => window.phone.callStatus.status_code === 0", timeout=20000)  # sipp's BYE
    rc = sipp.wait_exit(20)
    assert rc == 0, "sipp's call did not complete:\n" + sipp.report()

    got_dtmf = pg.evaluate("() => window.__dtmf")
    assert got_dtmf == ["5", "#"], f"DTMF from sipp (RFC 4733) at the page: {got_dtmf}"
    pkts = udp_timed(cap.stop())
    events = [r for _, s, d, r in pkts if d == sipp.media_port and r["pt"] == 101]
    codes = []
    for r in events:
        ev = r["payload"][0]
        if not codes or codes[-1][1] != r["ts"]:
            codes.append((ev, r["ts"]))
    assert [c for c, _ in codes] == [1, 11], f"RFC 4733 events at sipp: {codes}"

    rx = out_dir / "at_sipp.wav"
    print("RTP at sipp:", media.rtp_to_wav(out_dir / "at_sipp.pcap", rx, "pcmu", dport=sipp.media_port, pt=0))
    t = media.assert_tone(rx, MIN_SNR_TO_SIP_DB, "page's tone at the SIP caller (PCMU)")
    measure("incoming: page -> SIP SNR (dB)", t["snr"])
    wav, dur = loud_part(save_recording(pg, out_dir / "remote.wav"), out_dir / "remote_tone.wav")
    assert dur >= 3, f"only {dur:.1f} s of the caller's tone reached the page"
    t = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, "caller's tone at phone.remoteStream")
    measure("incoming: SIP -> page SNR (dB)", t["snr"])


# ---------- d) G.711 fallback ----------

NO_WEBCODECS = "delete window.AudioEncoder; delete window.AudioDecoder; delete window.EncodedAudioChunk;"


def test_g711_fallback_without_webcodecs(browser, gateway_factory, procs, out_dir, ports, assets, measure):
    # The shipped [media] rtmp_out_codec ("speex"): the page still gets µ-law, chosen from its connect's
    # audioCodecs mask (0x0100, no Speex bit).
    http_port = ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{http_port}"]}}, "gw-speex")
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    pg = open_page(browser, f"http://127.0.0.1:{http_port}", init_script=NO_WEBCODECS)
    assert pg.evaluate("() => typeof AudioEncoder") == "undefined"
    pg.fill("#to", sipp.uri("bob"))
    pg.click("#call")
    wait_status(pg, 4)
    start_recording(pg)
    time.sleep(CALL_S)
    pg.click("#hangup")
    wait_status(pg, 0, 10)
    assert sipp.wait_exit(15) == 0, sipp.report()
    t = tap(pg)
    assert t["sent"] and all(b[0] == 0x82 and len(b) == 161 for _, b in t["sent"]), \
        f"uplink is not FLV µ-law 20 ms: {[b[:2].hex() for _, b in t['sent'][:5]]}"
    # No Speex ever: µ-law from the first downlink message on
    kinds = [b[0] >> 4 for _, b in t["recv"]]
    assert kinds, "no downlink audio at the page"
    assert set(kinds) == {8}, f"downlink formats (8 = µ-law, 11 = Speex) {kinds[:40]}"
    assert all(b[0] == 0x82 for _, b in t["recv"]), f"headers {[b[:1].hex() for _, b in t['recv'][:5]]}"
    measure("G.711 fallback: downlink messages, all µ-law", len(kinds))
    rx = out_dir / "at_sipp.wav"
    print("RTP at sipp:", media.rtp_to_wav(cap.stop(), rx, "pcmu", dport=sipp.media_port, pt=0))
    s = media.assert_tone(rx, MIN_SNR_TO_SIP_DB, "µ-law fallback: page tone at sipp")
    measure("G.711 fallback page -> SIP SNR (dB)", s["snr"])
    wav, dur = loud_part(save_recording(pg, out_dir / "remote.wav"), out_dir / "remote_tone.wav")
    assert dur >= 3, f"only {dur:.1f} s of sipp's tone at the page"
    s = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, "µ-law fallback: sipp's tone at remoteStream")
    measure("G.711 fallback SIP -> page SNR (dB)", s["snr"])


# ---------- e) https/wss, refused Origin ----------

def pcmu_call_both_ways(pg, procs, out_dir, ports, assets, name: str) -> tuple:
    """From the page's controls, a call to a sipp UAS answering PCMU, hung up with the button; returns the
    SNRs (dB) of the page's tone at sipp and of sipp's tone in remoteStream, both asserted."""
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=assets.pcmu_pcap, name=f"sipp_{name}")
    cap = Capture(procs, out_dir, sipp.media_port, name=f"at_sipp_{name}").start()
    sipp.start()
    pg.fill("#to", sipp.uri("bob"))
    pg.click("#call")
    wait_status(pg, 4)
    start_recording(pg)
    time.sleep(CALL_S)
    pg.click("#hangup")
    wait_status(pg, 0, 10)
    assert sipp.wait_exit(15) == 0, sipp.report()
    rx = out_dir / f"at_sipp_{name}.wav"
    print("RTP at sipp:", media.rtp_to_wav(cap.stop(), rx, "pcmu", dport=sipp.media_port, pt=0))
    up = media.assert_tone(rx, MIN_SNR_TO_SIP_DB, f"{name}: page tone at sipp")["snr"]
    wav, dur = loud_part(save_recording(pg, out_dir / f"{name}_remote.wav"), out_dir / f"{name}_remote_tone.wav")
    assert dur >= 3, f"{name}: only {dur:.1f} s of sipp's tone at the page"
    down = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, f"{name}: sipp's tone at remoteStream")["snr"]
    return up, down


def test_wss_page_and_refused_origin(browser, gateway_factory, procs, ports, out_dir, assets, measure):
    cert, key = make_cert(out_dir / "tls")
    http_port = ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{http_port}"], "tls_cert": str(cert),
                                   "tls_key": str(key)}, "media": {"rtmp_out_codec": "match"}}, "gw-tls")
    base = f"https://127.0.0.1:{http_port}"
    pg = open_page(browser, base, ignore_https_errors=True)
    assert pg.evaluate("() => location.protocol") == "https:"
    up, down = pcmu_call_both_ways(pg, procs, out_dir, ports, assets, "wss")
    measure("wss: page -> SIP / SIP -> page SNR (dB)", f"{up}/{down}")

    # A page from another origin (a data: URL page has Origin "null"; here an http page served by
    # the other gateway) may not open this gateway's WebSocket: 403, connect() rejects.
    other = start_other_origin(out_dir, ports)
    try:
        pg2 = browser.page(ignore_https_errors=True)
        pg2.goto(f"http://127.0.0.1:{other.http_port}/examples/invisible.html")
        err = pg2.evaluate("""async (url) => {
            const { Phone } = await import('/rtmp2sip-phone.js');
            const p = new Phone({ url, media: null });
            try { await p.connect(); return 'connected'; } catch (e) { return `${e.code}: ${e.description ?? e.message}`; }
        }""", f"wss://127.0.0.1:{http_port}/rtmp")
        assert err.startswith("NetConnection.Connect.Failed"), f"cross-origin connect: {err}"
        refused = [ln for ln in gw.log_since(0, 5000).splitlines() if "Origin not allowed" in ln]
        assert any(f"127.0.0.1:{other.http_port}" in ln for ln in refused), \
            f"the gateway did not refuse the other origin's WebSocket (403): {refused}"
    finally:
        other.stop()
    # after the refusal, a normal call from the right origin still works
    page_echo_call(pg, out_dir, "wss_after_refusal")


def start_other_origin(out_dir, ports) -> Gateway:
    return start_gateway(out_dir / "other-origin", ports)


# ---------- f) the invisible example ----------

def test_invisible_example_dials_echo_and_hears_itself(gateway, browser, out_dir, measure):
    pg = browser.page()
    pg.goto(f"http://127.0.0.1:{gateway.http_port}/examples/invisible.html?call={ECHO}&hangup=6")
    pg.wait_for_function("() => window.phone && window.phone.callStatus && window.phone.callStatus.status_code === 4",
                         timeout=15000)
    start_recording(pg)
    time.sleep(4)
    pg.wait_for_function("() => window.phone.callStatus.status_code === 0", timeout=10000)
    log = pg.inner_text("#log")
    assert '"status_code":4' in log and '"status_code":0' in log, log
    wav, dur = loud_part(save_recording(pg, out_dir / "remote.wav"), out_dir / "remote_tone.wav")
    assert dur >= 2, f"only {dur:.1f} s of echo"
    t = media.assert_tone(wav, MIN_SNR_TO_PAGE_DB, "invisible example: echo")
    measure("invisible example echo SNR (dB)", t["snr"])


# ---------- latency of the browser path (for BENCHMARKS.md) ----------

def burst_wav(path, hz: int, rate: int, seconds: float, period_s: float = 1.0, on_s: float = 0.2):
    """`on_s` of a `hz` sine (amplitude 1/8) every `period_s`, silence between."""
    expr = f"0.125*sin(2*PI*{hz}*t)*lt(mod(t\\,{period_s})\\,{on_s})"
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}", "-ac", "1",
         path])
    return path


def ulaw_to_float(b: bytes):
    u = ~np.frombuffer(b, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0F
    v = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(sign != 0, -v, v).astype(float)


def rtp_onsets_ms(packets: list, min_gap_ms: float = 500) -> list:
    """Burst starts in a PCMU RTP stream [(capture ms, rtp)]: the capture time of the first packet with a
    sample above a tenth of the peak (the packet that carries the burst's start, as it is on the wire)."""
    frames = [(ms, ulaw_to_float(r["payload"])) for ms, r in packets]
    peak = max((np.abs(f).max() for _, f in frames if len(f)), default=0)
    out, last, prev_loud = [], -1e18, True
    for ms, f in frames:
        idx = np.nonzero(np.abs(f) >= peak * 0.1)[0]
        loud = len(idx) > 0
        if loud and not prev_loud:
            t = ms
            if t - last >= min_gap_ms:
                out.append(t)
                last = t
        prev_loud = loud
    return out


def paired(later: list, earlier: list, max_ms: float) -> list:
    """For each time in `later`, its distance to the closest preceding time in `earlier` (within max_ms)."""
    out = []
    for t in later:
        d = [t - e for e in earlier if 0 < t - e <= max_ms]
        if d:
            out.append(min(d))
    return out


def test_latency_tone_bursts_page_to_sip_and_back(gateway, out_dir, procs, ports, tmp_path, measure):
    """200 ms bursts every second from the page's microphone (1 kHz) and from sipp (600 Hz, PCMU): uplink =
    burst start where the microphone enters the SDK's AudioContext (after the browser's audio processing;
    the OS capture buffer before it is not seen) -> the RTP packet carrying it at sipp; downlink = the RTP
    packet from sipp carrying the burst start -> the burst start leaving the SDK's playback worklet (the
    source of phone.remoteStream; the speakers add the context's outputLatency). One wall clock (this
    machine's) for tshark and the page; the page's AudioContext time is mapped to it (about +-5 ms)."""
    mic = burst_wav(tmp_path / "mic_bursts.wav", 1000, 48000, 30)
    far_wav = burst_wav(tmp_path / "far_bursts.wav", 600, 16000, 8)
    far = media.make_rtp_pcap(far_wav, tmp_path / "far_bursts.pcap", "pcmu")
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=far, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    with Browser(out_dir, mic, name="chromium_bursts") as b:
        pg = open_page(b, f"http://127.0.0.1:{gateway.http_port}")
        pg.fill("#to", sipp.uri("bob"))
        pg.click("#call")
        wait_status(pg, 4)
        pg.wait_for_function("() => window.phone.media && window.phone.media.mic && window.phone.media.playback",
                             timeout=10000)
        pg.evaluate(RECORD_BOTH_JS)
        time.sleep(8)
        rec = fetch_both(pg)
        pg.click("#hangup")
        wait_status(pg, 0, 10)
    assert sipp.wait_exit(15) == 0, sipp.report()
    pkts = udp_timed(cap.stop())
    up_rtp = [(ms, r) for ms, s, d, r in pkts if d == sipp.media_port and r["pt"] == 0]
    down_rtp = [(ms, r) for ms, s, d, r in pkts if s == sipp.media_port and r["pt"] == 0]
    mic_on = onsets_ms(rec["mic"], rec["rate"], rec["t0_ms"])
    remote_on = onsets_ms(rec["remote"], rec["rate"], rec["t0_ms"])
    up = sorted(paired(rtp_onsets_ms(up_rtp), mic_on, 400))
    down = sorted(paired(remote_on, rtp_onsets_ms(down_rtp), 500))
    print("uplink ms:", [round(x, 1) for x in up], "downlink ms:", [round(x, 1) for x in down])
    print("AudioContext baseLatency %.1f ms, outputLatency %.1f ms" % (rec["base_ms"], rec["output_ms"]))
    assert len(up) >= 4 and len(down) >= 4, f"too few bursts matched: up {up}, down {down}"
    for name, v in [("mic->RTP at sipp", up), ("RTP from sipp->remoteStream", down)]:
        med = v[len(v) // 2]
        measure(f"burst latency {name} median/min/max (ms)", f"{med:.0f}/{v[0]:.0f}/{v[-1]:.0f}")
        assert med < 400, f"{name}: median {med:.0f} ms"


# ---------- ?token= on the page URL ----------

def test_page_passes_token_from_its_url(browser, gateway_factory, ports, out_dir):
    """[auth] mode = "jwt": the page without a token is refused (its status line says why); with
    ?token=<JWT> on its URL it connects and calls echo, driven from the keyboard (Enter calls, Space
    toggles Mute, whose aria-pressed follows)."""
    import jwt
    secret = "page-secret-" + os.urandom(16).hex()
    (out_dir / "jwt.secret").write_text(secret + "\n")
    http_port = ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{http_port}"]},
                          "auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(out_dir / "jwt.secret")}},
                         "gw-jwt")
    base = f"http://127.0.0.1:{http_port}"
    pg = open_page(browser, base)
    pg.fill("#to", ECHO)
    pg.click("#call")
    pg.wait_for_function("() => document.getElementById('status').textContent.startsWith('Call failed')",
                         timeout=10000)
    assert "Rejected" in status_text(pg) or "token" in status_text(pg).lower(), status_text(pg)
    now = int(time.time())
    good = jwt.encode({"sub": "webuser", "iat": now, "exp": now + 300}, secret, algorithm="HS256")
    pg2 = open_page(browser, base, query=f"?token={good}&to={ECHO}")
    assert pg2.input_value("#to") == ECHO
    pg2.focus("#to")
    pg2.keyboard.press("Enter")                 # keyboard: Enter in the address field calls
    wait_status(pg2, 4)
    pg2.focus("#mute")
    pg2.keyboard.press("Space")                 # keyboard: the focused Mute button toggles
    assert pg2.get_attribute("#mute", "aria-pressed") == "true" and pg2.evaluate("() => window.phone.muted")
    pg2.click("#mute")
    assert pg2.get_attribute("#mute", "aria-pressed") == "false" and not pg2.evaluate("() => window.phone.muted")
    assert pg2.get_attribute("#status", "aria-live") == "polite"
    pg2.click("#hangup")
    wait_status(pg2, 0, 10)
    assert pg2.is_disabled("#mute") and pg2.is_disabled("#hangup")
