// Test support: a node TCP adapter for the Phone's pluggable transport, a
// gateway launcher (the real rtmp2sip binary on free loopback ports), tone
// generation and a Goertzel detector.
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');

/**
 * A ByteTransport over a node net.Socket: the RTMP byte stream over TCP is the
 * same as over the WebSocket tunnel.
 * @param {string} url rtmp://host:port/app
 * @returns {Promise<import('../rtmp2sip-phone.js').ByteTransport>}
 */
export function tcpTransport(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port || 1935) });
    sock.setNoDelay(true);
    const t = {
      onData: null,
      onClose: null,
      socket: sock,
      send(bytes) { sock.write(bytes); },
      close() { sock.destroy(); },
      get bufferedAmount() { return sock.writableLength; },
    };
    let open = false;
    sock.on('connect', () => { open = true; resolve(t); });
    sock.on('data', (b) => t.onData?.(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    sock.on('error', (e) => { if (!open) reject(e); });
    sock.on('close', (hadError) => { if (open) t.onClose?.(hadError ? new Error('socket error') : undefined); });
  });
}

/** A free TCP or UDP port on 127.0.0.1. */
export async function freePort(kind = 'tcp') {
  if (kind === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    const { port } = s.address();
    await new Promise((r) => s.close(r));
    return port;
  }
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = /** @type {net.AddressInfo} */ (srv.address());
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts the gateway binary ($RTMP2SIP_BIN, default target/debug/rtmp2sip) with
 * a config made from test/gateway.test.toml on free ports.
 * @param {{app?: string}} [o]
 */
export async function startGateway(o = {}) {
  const bin = process.env.RTMP2SIP_BIN || path.join(repoRoot, 'target/debug/rtmp2sip');
  if (!fs.existsSync(bin)) throw new Error(`gateway binary ${bin} not found (set RTMP2SIP_BIN)`);
  const rtmpPort = await freePort();
  const sipPort = await freePort('udp');
  const rtpBase = 20000 + Math.floor(Math.random() * 200) * 100;
  const tmpl = fs.readFileSync(path.join(here, 'gateway.test.toml'), 'utf8');
  const cfg = tmpl
    .replaceAll('@RTMP_PORT@', String(rtmpPort))
    .replaceAll('@SIP_PORT@', String(sipPort))
    .replaceAll('@RTP_LO@', String(rtpBase))
    .replaceAll('@RTP_HI@', String(rtpBase + 98))
    .replaceAll('@APP@', o.app ?? 'phone');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmp2sip-sdk-'));
  const cfgPath = path.join(dir, 'gateway.toml');
  fs.writeFileSync(cfgPath, cfg);
  const logPath = path.join(dir, 'gateway.log');
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(bin, ['--config', cfgPath], { stdio: ['ignore', log, log] });
  // wait until the RTMP port accepts
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited ${proc.exitCode}: ${fs.readFileSync(logPath, 'utf8')}`);
    const ok = await new Promise((r) => {
      const s = net.connect({ host: '127.0.0.1', port: rtmpPort });
      s.on('connect', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline) { proc.kill(); throw new Error('gateway did not listen within 15 s'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: (app = o.app ?? 'phone') => `rtmp://127.0.0.1:${rtmpPort}/${app}`,
    rtmpPort,
    sipPort,
    log: () => fs.readFileSync(logPath, 'utf8'),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.closeSync(log);
    },
  };
}

/**
 * 16-bit PCM tone.
 * @param {number} hz frequency @param {number} rate Hz @param {number} n samples @param {number} [amp] 0..1 @param {number} [phase0] sample index offset
 */
export function tone(hz, rate, n, amp = 0.5, phase0 = 0) {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * 32767 * Math.sin(2 * Math.PI * hz * (i + phase0) / rate));
  return out;
}

/**
 * Goertzel power of one frequency (normalised by N^2/4 so a full-scale sine → ~1).
 * @param {ArrayLike<number>} x samples @param {number} hz @param {number} rate
 */
export function goertzel(x, hz, rate) {
  const w = 2 * Math.PI * hz / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) { const s = x[i] + c * s1 - s2; s2 = s1; s1 = s; }
  const p = s1 * s1 + s2 * s2 - c * s1 * s2;
  return p / (x.length * x.length / 4);
}

/** The frequency (of `candidates`) with the most Goertzel power. */
export function dominantFrequency(x, rate, candidates) {
  let best = candidates[0], bestP = -1;
  for (const f of candidates) { const p = goertzel(x, f, rate); if (p > bestP) { bestP = p; best = f; } }
  return best;
}

/** Resolves with the detail of the first `type` event matching `pred`, or rejects after `ms`. */
export function nextEvent(target, type, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { target.removeEventListener(type, h); reject(new Error(`no '${type}' event within ${ms} ms`)); }, ms);
    function h(ev) { if (pred(ev.detail)) { clearTimeout(timer); target.removeEventListener(type, h); resolve(ev.detail); } }
    target.addEventListener(type, h);
  });
}
