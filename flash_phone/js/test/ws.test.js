// The default transport, webSocketTransport, end to end: the Phone connects over
// a WebSocket (node's WebSocket client, as in a browser) to the gateway's own
// RTMP-over-WebSocket endpoint (GET /rtmp on [http] listen) and, for
// comparison, to a test bridge that carries the byte stream to the gateway's
// RTMP port, and places an echo call over each.
// Needs a global WebSocket: node 20 with --experimental-websocket (run.sh sets
// NODE_OPTIONS), node 22+ as is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Phone, PhoneError, webSocketTransport } from '../rtmp2sip-phone.js';
import { startGateway, repoRoot, nextEvent, dominantFrequency } from './helpers.js';
import { startWsBridge } from './ws-bridge.js';
import { ToneMedia } from './media-fakes.js';

const bin = process.env.RTMP2SIP_BIN || path.join(repoRoot, 'target/debug/rtmp2sip');
const skip = typeof globalThis.WebSocket !== 'function' ? 'no global WebSocket (node 20: NODE_OPTIONS=--experimental-websocket)'
  : !fs.existsSync(bin) ? `gateway binary ${bin} not found (set RTMP2SIP_BIN)` : false;

let gw, bridge;
before(async () => {
  if (skip) return;
  gw = await startGateway({ app: 'phone' });
  bridge = await startWsBridge(gw.rtmpPort);
});
after(async () => { bridge?.close(); await gw?.stop(); });

/** An echo call with a 1 kHz tone over `url`; checks the tone came back. */
async function echoCall(url) {
  const media = new ToneMedia({ hz: 1000, seconds: 1 });
  const phone = new Phone({ url, app: 'phone', media });
  await phone.connect();
  const four = nextEvent(phone, 'status', (s) => s.status_code === 4);
  await phone.call('sip:echo@127.0.0.1');
  await four;
  await media.finished;
  await new Promise((r) => setTimeout(r, 500));
  const pcm = media.pcm();
  assert.ok(pcm.length >= 8000 * 0.7, `echo carried ${(pcm.length / 8000).toFixed(2)} s`);
  assert.equal(dominantFrequency(pcm.subarray(800), 8000, [500, 700, 1000, 1500, 2000]), 1000);
  const zero = nextEvent(phone, 'status', (s) => s.status_code === 0);
  await phone.hangup();
  await zero;
  phone.disconnect();
}

test('over the gateway\'s own WebSocket endpoint (/rtmp): echo call with a tone, hangup', { skip, timeout: 30000 }, async () => {
  // gateway.test.toml: [http] listens on the TCP port numbered like the SIP port
  await echoCall(`ws://127.0.0.1:${gw.sipPort}/rtmp`);
});

test('the gateway serves the SDK it was built with at /rtmp2sip-phone.js', { skip, timeout: 10000 }, async () => {
  const r = await fetch(`http://127.0.0.1:${gw.sipPort}/rtmp2sip-phone.js`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/javascript/);
  const disk = fs.readFileSync(path.join(repoRoot, 'flash_phone/js/rtmp2sip-phone.js'), 'utf8');
  assert.equal(await r.text(), disk, 'the embedded SDK differs from the file: rebuild the gateway');
});

test('over a WebSocket bridge to the RTMP port: connect (subprotocol binary), echo call', { skip, timeout: 30000 }, async () => {
  await echoCall(`ws://127.0.0.1:${bridge.port}/rtmp`);
  assert.ok(bridge.protocols.includes('binary'), 'the binary subprotocol is offered');
  assert.ok(bridge.messagesIn > 50, 'audio went out as WebSocket binary messages');
});

test('over WebSocket: an unreachable endpoint rejects with NetConnection.Connect.Failed', { skip, timeout: 10000 }, async () => {
  const phone = new Phone({ url: 'ws://127.0.0.1:1/rtmp', media: null, transport: webSocketTransport });
  await assert.rejects(phone.connect(), (e) => e instanceof PhoneError && e.code === 'NetConnection.Connect.Failed');
});
