// Browser smoke test of the SDK's media path in headless Chromium (Debian's
// `chromium`), driven over the DevTools protocol with node's WebSocket client.
// Not part of run.sh (Chromium is not a test dependency yet; issue 8's browser
// tests replace this). Run:
//   RTMP2SIP_BIN=... NODE_OPTIONS=--experimental-websocket node flash_phone/js/test-browser/smoke.mjs
// It proves, with a fake microphone playing a 1 kHz WAV:
//   A. G.711 fallback through the real gateway: getUserMedia → capture worklet
//      (µ-law) → WebSocket → gateway echo → µ-law decode → playback worklet →
//      phone.remoteStream carries 1 kHz; mute(true) silences it (> 30 dB down).
//   B. Opus in the page (loopback, no gateway: the gateway binary does not speak
//      E-RTMP yet): capture → AudioEncoder → E-RTMP payloads → parse →
//      AudioDecoder → playback → remoteStream carries 1 kHz.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../test/helpers.js';
import { startWsBridge } from '../test/ws-bridge.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = fs.readFileSync(path.join(here, '../rtmp2sip-phone.js'), 'utf8');
const page = fs.readFileSync(path.join(here, 'smoke.html'), 'utf8');

function wav(hz, seconds, rate = 48000) {
  const n = seconds * rate;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(0.4 * 32767 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  return b;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmp2sip-browser-'));
const wavPath = path.join(dir, 'tone.wav');
fs.writeFileSync(wavPath, wav(1000, 10));
const gw = await startGateway({ app: 'phone' });
const bridge = await startWsBridge(gw.rtmpPort, {
  '/': { type: 'text/html', body: page },
  '/rtmp2sip-phone.js': { type: 'text/javascript', body: sdk },
});
const chrome = spawn(process.env.CHROMIUM || 'chromium', [
  '--headless=new', '--no-sandbox', '--disable-gpu', `--user-data-dir=${path.join(dir, 'profile')}`,
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wavPath}`,
  '--autoplay-policy=no-user-gesture-required', '--remote-debugging-port=0', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe'] });
let code = 1;
try {
  const wsUrl = await new Promise((resolve, reject) => {
    let err = '';
    chrome.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    chrome.on('exit', (c) => reject(new Error(`chromium exited ${c}: ${err}`)));
    setTimeout(() => reject(new Error(`no DevTools URL: ${err}`)), 20000);
  });
  const port = new URL(wsUrl).port;
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.type === 'page');
  const cdp = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => cdp.addEventListener('open', r, { once: true }));
  let id = 0;
  const waiting = new Map();
  cdp.addEventListener('message', (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.method === 'Runtime.consoleAPICalled') console.log('[page]', msg.params.args.map((a) => a.value ?? a.description).join(' '));
    if (msg.method === 'Runtime.exceptionThrown') console.log('[page exception]', JSON.stringify(msg.params.exceptionDetails).slice(0, 500));
    if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
  });
  const call = (method, params = {}) => new Promise((r) => { const i = ++id; waiting.set(i, r); cdp.send(JSON.stringify({ id: i, method, params })); });
  await call('Runtime.enable');
  await call('Page.enable');
  await call('Page.navigate', { url: `http://127.0.0.1:${bridge.port}/` });
  await new Promise((r) => setTimeout(r, 1500));
  const res = await call('Runtime.evaluate', { expression: 'window.runSmoke()', awaitPromise: true, returnByValue: true, timeout: 60000 });
  const out = res.result?.result?.value ?? res;
  console.log(JSON.stringify(out, null, 2));
  const ok = out && out.g711 && out.g711.peakHz > 900 && out.g711.peakHz < 1100 && out.g711.muted.levelDbfs < out.g711.levelDbfs - 30 && out.opus && out.opus.peakHz > 900 && out.opus.peakHz < 1100;
  console.log(ok ? 'BROWSER SMOKE: PASS' : 'BROWSER SMOKE: FAIL');
  code = ok ? 0 : 1;
  cdp.close();
} catch (e) {
  console.error(e);
} finally {
  chrome.kill();
  bridge.close();
  await gw.stop();
}
process.exit(code);
