// End to end against the real gateway binary over TCP ($RTMP2SIP_BIN, default
// target/debug/rtmp2sip): the SDK's Phone drives calls exactly as in a browser,
// with a node TCP transport and a node media engine instead of WebSocket and WebAudio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Phone, PhoneError } from '../rtmp2sip-phone.js';
import { tcpTransport, startGateway, repoRoot, nextEvent, goertzel, dominantFrequency } from './helpers.js';
import { ToneMedia } from './media-fakes.js';
import { startRegistrar } from './registrar.js';

const bin = process.env.RTMP2SIP_BIN || path.join(repoRoot, 'target/debug/rtmp2sip');
const skip = fs.existsSync(bin) ? false : `gateway binary ${bin} not found (set RTMP2SIP_BIN; test/run.sh does)`;

let gw;
before(async () => { if (!skip) gw = await startGateway({ app: 'phone' }); });
after(async () => { await gw?.stop(); });

/** A connected phone with its events recorded. */
async function phone(media = null, o = {}) {
  const p = new Phone({ url: gw.url(), app: 'phone', transport: tcpTransport, media, ...o });
  p.events = [];
  for (const t of ['connected', 'disconnected', 'status', 'incoming', 'registration', 'dtmf', 'netstatus']) {
    p.addEventListener(t, (e) => p.events.push({ type: t, detail: e.detail }));
  }
  await p.connect();
  return p;
}
const statuses = (p) => p.events.filter((e) => e.type === 'status').map((e) => e.detail.status_code);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('echo call: status 1→2→4, a 1 kHz µ-law tone comes back, DTMF, hangup → 0', { skip, timeout: 30000 }, async () => {
  const media = new ToneMedia({ hz: 1000, seconds: 2 });
  const p = await phone(media);
  assert.ok(p.serverProperties.fmsVer, 'connect _result carries fmsVer');
  const four = nextEvent(p, 'status', (s) => s.status_code === 4);
  const first = await p.call('sip:echo@127.0.0.1');
  assert.ok([1, 2, 4].includes(first.status_code));
  const s4 = await four;
  assert.match(s4.publish, /^[0-9a-f]{32}$/, 'status 4 names the publish stream (128 bits)');
  assert.match(s4.play, /^[0-9a-f]{32}$/);
  await nextEvent(p, 'netstatus', (i) => i.code === 'NetStream.Publish.Start');
  assert.ok(p.events.some((e) => e.type === 'netstatus' && e.detail.code === 'NetStream.Play.Start'));
  await media.finished;
  await sleep(600); // the echo's tail
  assert.deepEqual(statuses(p).slice(0, 3), [1, 2, 4]);
  const pcm = media.pcm();
  console.log(`sent ${media.sent} frames, received ${media.received.length} messages, ${(pcm.length / 8000).toFixed(2)} s of µ-law`);
  assert.ok(pcm.length >= 8000 * 1.5, `echo carried ${(pcm.length / 8000).toFixed(2)} s of 2 s`);
  const body = pcm.subarray(1600, pcm.length - 1600);
  const f = dominantFrequency(body, 8000, [300, 500, 700, 800, 1000, 1200, 1500, 2000, 3000]);
  assert.equal(f, 1000, 'dominant frequency of the echo');
  const ratio = goertzel(body, 1000, 8000) / (goertzel(body, 1500, 8000) + goertzel(body, 700, 8000) + 1e-9);
  assert.ok(ratio > 100, `1 kHz stands out (ratio ${ratio.toFixed(0)})`);
  const st = p.stats();
  assert.equal(st.codec, 'pcmu');
  assert.ok(st.packets_received >= 75);
  assert.ok(st.rtt_ms !== null && st.rtt_ms >= 0);
  await p.sendDTMF('12#');
  await assert.rejects(p.sendDTMF('x'), (e) => e instanceof PhoneError && /bad DTMF/.test(e.message));
  const zero = nextEvent(p, 'status', (s) => s.status_code === 0);
  await p.hangup();
  const s0 = await zero;
  assert.equal(s0.call_id, s4.call_id);
  assert.ok(media.stopped, 'media stopped on status 0/3');
  p.disconnect();
});

test('register() at the embedded registrar, then a real REGISTER gets Sono.Registration.Status', { skip, timeout: 20000 }, async () => {
  const reg = await startRegistrar();
  try {
    const p = await phone();
    const r = await p.register();
    assert.match(r.uri, /^sip:[^@]+@127\.0\.0\.1$/, 'embedded address');
    const ev = nextEvent(p, 'registration', (i) => i.status === 'registered');
    const r2 = await p.register({ user: 'alice', registrar: `127.0.0.1:${reg.port}`, password: 'secret' });
    assert.match(String(r2.uri), /alice@127\.0\.0\.1/);
    const info = await ev;
    assert.equal(info.code, 'Sono.Registration.Status');
    assert.match(String(info.uri), /sip:alice@127\.0\.0\.1/);
    assert.equal(info.sip_code, 200);
    assert.ok(reg.requests.length >= 1);
    const gone = nextEvent(p, 'registration', (i) => i.status === 'unregistered');
    await p.unregister();
    assert.match(String((await gone).uri), /sip:alice@127\.0\.0\.1/);
    assert.ok(reg.requests.some((r) => /^expires:\s*0\s*$/im.test(r) || /;expires=0/i.test(r)), 'REGISTER with expiry 0');
    p.disconnect();
  } finally { await reg.close(); }
});

test('a registrar outside registrar_allow is refused with Sono.Registration.Failed', { skip, timeout: 10000 }, async () => {
  const p = await phone();
  await assert.rejects(p.register({ user: 'bob', registrar: 'sip.evil.invalid', password: 'x' }),
    (e) => e instanceof PhoneError && e.code === 'Sono.Registration.Failed');
  p.disconnect();
});

test('a refused dial rejects with the policy reason', { skip, timeout: 10000 }, async () => {
  const p = await phone();
  await assert.rejects(p.call('sip:x@evil.invalid'), (e) => {
    assert.ok(e instanceof PhoneError);
    assert.equal(e.code, 'Sono.Call.Forbidden');
    assert.match(e.description, /not allowed by the gateway's dial policy/);
    return true;
  });
  await assert.rejects(p.call(''), (e) => e instanceof PhoneError && /^Sono\.Call\./.test(e.code));
  assert.ok(p.isConnected, 'still connected after refusals');
  p.disconnect();
});

test('connect to a wrong app is rejected with NetConnection.Connect.Rejected', { skip, timeout: 10000 }, async () => {
  const p = new Phone({ url: gw.url('nope'), app: 'nope', transport: tcpTransport, media: null });
  await assert.rejects(p.connect(), (e) => {
    assert.ok(e instanceof PhoneError);
    assert.equal(e.code, 'NetConnection.Connect.Rejected');
    assert.match(e.description, /nope/);
    return true;
  });
  assert.equal(p.isConnected, false);
});

test('connect to a port that is not RTMP fails clearly', { skip, timeout: 10000 }, async () => {
  const net = await import('node:net');
  const srv = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const p = new Phone({ url: `rtmp://127.0.0.1:${srv.address().port}/phone`, transport: tcpTransport, media: null, connectTimeoutMs: 3000 });
  await assert.rejects(p.connect(), (e) => e instanceof PhoneError && /version 72/.test(e.message));
  srv.close();
});

test('one phone calls another: incoming, answer, media both ways, DTMF, hangup; then decline(486)', { skip, timeout: 40000 }, async () => {
  const mediaA = new ToneMedia({ hz: 1000, seconds: 1.5 });
  const mediaB = new ToneMedia({ hz: 700, seconds: 1.5 });
  const a = await phone(mediaA);
  const b = await phone(mediaB);
  const { uri: address } = await a.register();
  // the embedded address names the domain; reach it at the gateway's own SIP port
  const uri = address.replace('@127.0.0.1', `@127.0.0.1:${gw.sipPort}`);
  const incoming = nextEvent(a, 'incoming');
  const bCall = b.call(uri);
  const inc = await incoming;
  assert.match(String(inc.uri), /^sip:/, 'the caller');
  const a4 = nextEvent(a, 'status', (s) => s.status_code === 4);
  const b4 = nextEvent(b, 'status', (s) => s.status_code === 4);
  await a.answer();
  await bCall;
  await Promise.all([a4, b4]);
  await Promise.all([mediaA.finished, mediaB.finished]);
  await sleep(600);
  const heardA = mediaA.pcm();
  const heardB = mediaB.pcm();
  console.log(`A heard ${(heardA.length / 8000).toFixed(2)} s, B heard ${(heardB.length / 8000).toFixed(2)} s`);
  const cands = [500, 700, 1000, 1300];
  assert.ok(heardA.length >= 8000 && dominantFrequency(heardA.subarray(800), 8000, cands) === 700, 'A hears B\'s 700 Hz');
  assert.ok(heardB.length >= 8000 && dominantFrequency(heardB.subarray(800), 8000, cands) === 1000, 'B hears A\'s 1 kHz');
  // DTMF both ways (RFC 4733 between the two legs), arriving as Sono.Call.DTMF events
  const atB = nextEvent(b, 'dtmf', () => true, 5000);
  await a.sendDTMF('5');
  assert.equal((await atB).digit, '5');
  const atA = nextEvent(a, 'dtmf', () => true, 5000);
  await b.sendDTMF('#');
  assert.equal((await atA).digit, '#');
  const a0 = nextEvent(a, 'status', (s) => s.status_code === 0);
  const b0 = nextEvent(b, 'status', (s) => s.status_code === 0);
  await b.hangup();
  await Promise.all([a0, b0]);

  // decline
  const inc2 = nextEvent(a, 'incoming');
  const bCall2 = b.call(uri);
  await inc2;
  const b0b = nextEvent(b, 'status', (s) => s.status_code === 0);
  await a.decline(486);
  const end = await b0b;
  assert.equal(end.sip_code, 486);
  await bCall2.catch(() => {}); // resolved with status 1 or rejected with status 0: both fine
  a.disconnect();
  b.disconnect();
});

test('disconnect ends the call and emits disconnected', { skip, timeout: 15000 }, async () => {
  const p = await phone();
  await p.call('sip:echo@127.0.0.1');
  const gone = nextEvent(p, 'disconnected');
  p.disconnect();
  await gone;
  assert.equal(p.isConnected, false);
  await assert.rejects(p.call('sip:echo@127.0.0.1'), (e) => e instanceof PhoneError && e.code === 'NetConnection.Connect.Closed');
});
