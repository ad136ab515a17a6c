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


# Latency: the page's microphone (the SDK's getUserMedia stream, after the browser's audio processing) and
# the far end as the SDK plays it (its playback worklet, the source of phone.remoteStream) recorded side by
# side in the SDK's AudioContext, with the wall-clock time (ms since the epoch)
# of the first recorded sample, so that onsets in either can be set against tshark's capture times.
RECORD_BOTH_JS = """async () => {
  const p = window.phone;
  // The SDK's own AudioContext: the microphone enters it where the SDK's capture worklet takes it, and the
  // far end leaves the SDK's playback worklet (which feeds remoteStream and the speakers) in it.
  const ctx = p.media.ctx;
  const src = `class R2 extends AudioWorkletProcessor {
    process(inputs) {
      const i = inputs[0];
      if (i && i[0]) this.port.postMessage([currentFrame, i[0].slice(), (i[1] || i[0].map(() => 0)).slice()]);
      return true;
    }
  }
  registerProcessor('test-recorder-2', R2);`;
  const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  await ctx.audioWorklet.addModule(url);
  const node = new AudioWorkletNode(ctx, 'test-recorder-2', { numberOfInputs: 1, numberOfOutputs: 0,
    channelCount: 2, channelCountMode: 'explicit', channelInterpretation: 'discrete' });
  const merge = ctx.createChannelMerger(2);
  ctx.createMediaStreamSource(p.media.mic).connect(merge, 0, 0);
  p.media.playback.connect(merge, 0, 1);
  merge.connect(node);
  const chunks = [];
  node.port.onmessage = (e) => { if (chunks.length < 40000) chunks.push(e.data); };
  window.__rec2 = { ctx, chunks };
}"""

FETCH_BOTH_JS = """() => {
  const r = window.__rec2;
  // wall time of context frame 0: currentTime is the frame being processed now (not yet output)
  const wall0 = performance.timeOrigin + performance.now() - r.ctx.currentTime * 1000;
  const first = r.chunks.length ? r.chunks[0][0] : 0;
  const enc = (k) => {
    const n = r.chunks.reduce((a, c) => a + c[k].length, 0);
    const b = new Uint8Array(2 * n); let o = 0;
    for (const c of r.chunks) for (let i = 0; i < c[k].length; i++) {
      const v = Math.max(-32768, Math.min(32767, Math.round(c[k][i] * 32767))); b[o++] = v & 255; b[o++] = (v >> 8) & 255;
    }
    let s = ''; for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
    return btoa(s);
  };
  return { rate: r.ctx.sampleRate, t0_ms: wall0 + first * 1000 / r.ctx.sampleRate, mic: enc(1), remote: enc(2),
           base_ms: r.ctx.baseLatency * 1000, output_ms: (r.ctx.outputLatency || 0) * 1000 };
}"""


def fetch_both(page) -> dict:
    """RECORD_BOTH_JS's recording: {"rate", "t0_ms" (wall ms of sample 0), "mic", "remote" (int16 arrays)}."""
    import numpy as np
    r = page.evaluate(FETCH_BOTH_JS)
    return {"rate": r["rate"], "t0_ms": r["t0_ms"], "base_ms": r["base_ms"], "output_ms": r["output_ms"],
            "mic": np.frombuffer(base64.b64decode(r["mic"]), dtype="<i2").astype(float),
            "remote": np.frombuffer(base64.b64decode(r["remote"]), dtype="<i2").astype(float)}


def onsets_ms(x, rate: int, t0_ms: float, min_gap_ms: float = 500) -> list:
    """Wall times (ms) where the 5 ms RMS envelope of `x` rises above a tenth of its peak (burst starts;
    the browser's auto gain changes burst levels), at least `min_gap_ms` apart."""
    import numpy as np
    win = rate // 200
    n = len(x) // win
    if n == 0:
        return []
    env = np.sqrt(np.mean(x[:n * win].reshape(n, win) ** 2, axis=1))
    thr = env.max() * 0.1
    out, last = [], -1e18
    for i in range(1, n):
        t = t0_ms + i * 5
        if env[i] >= thr > env[i - 1] and t - last >= min_gap_ms:
            out.append(t)
            last = t
    return out
