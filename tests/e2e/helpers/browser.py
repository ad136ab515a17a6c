"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright for Python, for the web phone tests.

No browser is ever downloaded: Playwright launches the system Chromium through `executable_path`. The
microphone is a WAV file (Chromium's fake capture device, which loops the file); getUserMedia is granted
without a prompt. The page-side hooks below are plain JavaScript evaluated in the page after it loaded:

- TAP_JS wraps the page's `window.phone` (the SDK's Phone) so every audio payload it sends (after the
  congestion check) and every one it receives on the play stream is kept with its wall-clock time in ms
  (performance.timeOrigin + now): `window.__tap = {sent: [[ms, base64]], recv: [[ms, base64]]}`.
- RECORD_JS records `phone.remoteStream` (the far end's audio as the page plays it) with an AudioWorklet
  in an AudioContext of its own; FETCH_RECORDING_JS returns it as base64 little-endian int16 PCM."""
import base64
import os
import shutil
import wave
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

TAP_JS = """() => {
  const p = window.phone;
  const t = { sent: [], recv: [] };
  const now = () => performance.timeOrigin + performance.now();
  const b64 = (u8) => { let s = ''; for (let i = 0; i < u8.length; i++) s += String.fromCharCode(u8[i]); return btoa(s); };
  const send = p.sendAudio.bind(p);
  p.sendAudio = (streams, payload, ts) => {
    const ok = send(streams, payload, ts);
    if (ok && t.sent.length < 20000) t.sent.push([now(), b64(payload)]);
    return ok;
  };
  const on = p.onAudio.bind(p);
  p.onAudio = (m) => {
    if (p.streams && m.streamId === p.streams.playId && t.recv.length < 20000) t.recv.push([now(), b64(m.payload)]);
    on(m);
  };
  window.__tap = t;
}"""

RECORD_JS = """async () => {
  const p = window.phone;
  // A context of its own, as a web page using remoteStream would have (48 kHz like the SDK's).
  const ctx = new AudioContext({ sampleRate: 48000 });
  await ctx.resume();
  const src = `class R extends AudioWorkletProcessor {
    process(inputs) { const c = inputs[0] && inputs[0][0]; if (c) this.port.postMessage(c.slice()); return true; }
  }
  registerProcessor('test-recorder', R);`;
  const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  await ctx.audioWorklet.addModule(url);
  const node = new AudioWorkletNode(ctx, 'test-recorder', { numberOfInputs: 1, numberOfOutputs: 0 });
  const chunks = [];
  node.port.onmessage = (e) => { if (chunks.length < 20000) chunks.push(e.data); };
  ctx.createMediaStreamSource(p.remoteStream).connect(node);
  window.__rec = { rate: ctx.sampleRate, chunks, ctx, t0: performance.timeOrigin + performance.now() };
  return ctx.sampleRate;
}"""

FETCH_RECORDING_JS = """() => {
  const r = window.__rec;
  const n = r.chunks.reduce((a, c) => a + c.length, 0);
  const b = new Uint8Array(2 * n);
  let o = 0;
  for (const c of r.chunks) for (let i = 0; i < c.length; i++) {
    const v = Math.max(-32768, Math.min(32767, Math.round(c[i] * 32767)));
    b[o++] = v & 255; b[o++] = (v >> 8) & 255;
  }
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
  return { rate: r.rate, pcm: btoa(s) };
}"""


def chromium_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


class Browser:
    """One headless Chromium with a fake microphone playing `mic_wav`; use as a context manager.
    `page()` opens a page whose console lines go to `out_dir/<name>_console.log`."""

    def __init__(self, out_dir: Path, mic_wav: Path, extra_args: list = None, name: str = "chromium"):
        self.out_dir, self.mic_wav, self.name = Path(out_dir), Path(mic_wav), name
        self.extra_args = extra_args or []
        self.console = self.out_dir / f"{name}_console.log"
        self._pw = self._browser = None

    def __enter__(self):
        os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        from playwright.sync_api import sync_playwright
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-audio-capture={self.mic_wav}",
                  "--autoplay-policy=no-user-gesture-required",
                  "--ignore-certificate-errors",      # the test certificate of the wss:// tests (loopback only)
                  *self.extra_args])
        return self

    def page(self, viewport=None, init_script: str = None, ignore_https_errors: bool = False):
        ctx = self._browser.new_context(viewport=viewport or {"width": 390, "height": 844},
                                        ignore_https_errors=ignore_https_errors)
        ctx.grant_permissions(["microphone"])
        if init_script:
            ctx.add_init_script(init_script)
        pg = ctx.new_page()
        log = self.console.open("a")
        pg.on("console", lambda m: (log.write(f"[{m.type}] {m.text}\n"), log.flush()))
        pg.on("pageerror", lambda e: (log.write(f"[pageerror] {e}\n"), log.flush()))
        return pg

    def __exit__(self, *exc):
        try:
            if self._browser:
                self._browser.close()
        finally:
            if self._pw:
                self._pw.stop()


def save_recording(page, wav: Path) -> Path:
    """Writes the page's RECORD_JS recording as a mono 16-bit WAV; returns the path."""
    r = page.evaluate(FETCH_RECORDING_JS)
    pcm = base64.b64decode(r["pcm"])
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(r["rate"]))
        w.writeframes(pcm)
    return Path(wav)


def tap(page) -> dict:
    """The page's TAP_JS record: {"sent": [(ms, bytes)], "recv": [(ms, bytes)]}."""
    t = page.evaluate("() => window.__tap")
    return {k: [(ms, base64.b64decode(b)) for ms, b in t[k]] for k in ("sent", "recv")}
