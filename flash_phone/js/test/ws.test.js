// The default transport, webSocketTransport, end to end: the Phone connects over
// a WebSocket (node's WebSocket client, as in a browser) to a test bridge that
// carries the byte stream to the real gateway's RTMP port, and places an echo call.
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

test('over WebSocket: connect (subprotocol binary), echo call with a tone, hangup', { skip, timeout: 30000 }, async () => {
  const media = new ToneMedia({ hz: 1000, seconds: 1 });
  const phone = new Phone({ url: `ws://127.0.0.1:${bridge.port}/rtmp`, app: 'phone', media });
  await phone.connect();
  assert.ok(bridge.protocols.includes('binary'), 'the binary subprotocol is offered');
  const four = nextEvent(phone, 'status', (s) => s.status_code === 4);
  await phone.call('sip:echo@127.0.0.1');
  await four;
  await media.finished;
  await new Promise((r) => setTimeout(r, 500));
  const pcm = media.pcm();
  assert.ok(pcm.length >= 8000 * 0.7, `echo carried ${(pcm.length / 8000).toFixed(2)} s`);
  assert.equal(dominantFrequency(pcm.subarray(800), 8000, [500, 700, 1000, 1500, 2000]), 1000);
  assert.ok(bridge.messagesIn > 50, 'audio went out as WebSocket binary messages');
  const zero = nextEvent(phone, 'status', (s) => s.status_code === 0);
  await phone.hangup();
  await zero;
  phone.disconnect();
});

test('over WebSocket: an unreachable endpoint rejects with NetConnection.Connect.Failed', { skip, timeout: 10000 }, async () => {
  const phone = new Phone({ url: 'ws://127.0.0.1:1/rtmp', media: null, transport: webSocketTransport });
  await assert.rejects(phone.connect(), (e) => e instanceof PhoneError && e.code === 'NetConnection.Connect.Failed');
});
