// The SDK's Flash transport (FlashPhone, `new Phone({ transport: 'flash', swf, url })`) against a stand-in
// for phone.swf's ExternalInterface surface (test-browser/flash-standin.js; no Flash Player exists here):
// every API method reaches the SWF with the right arguments, every event the SWF raises reaches the page
// as the Phone's events. The same in headless Chromium with the real <object> embedding:
// tests/e2e/test_browser_flash.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Phone, FlashPhone, PhoneError } from '../rtmp2sip-phone.js';
import { FlashStandIn, STANDIN_VERSION } from '../test-browser/flash-standin.js';

function makePhone(extra = {}) {
  let standin = null;
  let seen = null;
  const phone = new Phone({
    transport: 'flash', swf: '/flash_phone/phone.swf', url: 'rtmp://gw.example.com/phone', token: 'tok', quality: 9,
    embed: (swf, flashvars) => {
      seen = { swf, flashvars };
      standin = new FlashStandIn((type, detail) => globalThis[flashvars.callback](type, detail));
      standin.start();
      return standin;
    },
    ...extra,
  });
  return { phone, get standin() { return standin; }, get seen() { return seen; } };
}

/** Events of `types` the phone dispatches, in order: [type, detail]. */
function record(phone, types) {
  const out = [];
  for (const t of types) phone.addEventListener(t, (e) => out.push([t, e.detail]));
  return out;
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('Phone({transport: "flash"}) is a FlashPhone; options are checked', () => {
  const { phone } = makePhone();
  assert.ok(phone instanceof FlashPhone && phone instanceof Phone);
  assert.throws(() => new Phone({ transport: 'flash', url: 'rtmp://h/phone' }), /swf/);
  assert.throws(() => new Phone({ transport: 'flash', swf: '/p.swf', url: 'wss://h/rtmp' }), /rtmp/);
  assert.equal(phone.remoteStream, null);
  assert.equal(phone.isConnected, false);
});

test('connect embeds the SWF with flashvars, passes url, token and app, then every method reaches it', async () => {
  const h = makePhone();
  const { phone } = h;
  const ev = record(phone, ['connected', 'status', 'disconnected']);
  const info = await phone.connect();
  assert.equal(info.code, 'NetConnection.Connect.Success');
  assert.equal(h.seen.swf, '/flash_phone/phone.swf');
  assert.equal(h.seen.flashvars.ui, '0');
  assert.equal(h.seen.flashvars.quality, '9');
  assert.match(h.seen.flashvars.callback, /^__rtmp2sipFlash\d+$/);
  assert.equal(phone.flashInfo.version, STANDIN_VERSION);
  assert.ok(phone.isConnected);
  const s = h.standin;
  assert.deepEqual(s.calls[0], ['connect', [1, 'rtmp://gw.example.com/phone', 'tok', 'phone']]);

  const st = await phone.call('sip:bob@127.0.0.1');
  assert.equal(st.status_code, 1);
  await tick();
  assert.deepEqual(s.calls.at(-1)[0], 'dial');
  assert.equal(s.calls.at(-1)[1][1], 'sip:bob@127.0.0.1');
  assert.deepEqual(ev.filter(([t]) => t === 'status').map(([, d]) => d.status_code), [1, 2, 4]);
  assert.equal(ev.find(([t, d]) => t === 'status' && d.status_code === 4)[1].publish, 'pub123');
  assert.equal(phone.stats().codec, 'speex');
  assert.equal(phone.requests.size, 0, 'the dial request id is dropped once the call settled');

  s.calls.length = 0;
  await phone.sendDTMF('12#', 100);
  await phone.sendDTMF('5');
  await phone.hold();
  await phone.unhold();
  await phone.transfer('sip:carol@127.0.0.1');
  phone.mute(true);
  phone.mute(false);
  await phone.hangup();
  await tick();
  assert.deepEqual(s.calls.map(([m, a]) => [m, a.slice(1)]), [
    ['sendDTMF', ['12#', 100]], ['sendDTMF', ['5', null]], ['hold', []], ['unhold', []],
    ['transfer', ['sip:carol@127.0.0.1']], ['mute', []], ['mute', []], ['hangup', []],
  ]);
  assert.deepEqual(s.calls.filter(([m]) => m === 'mute').map(([, a]) => a), [[true], [false]]);
  assert.deepEqual(ev.filter(([t]) => t === 'status').map(([, d]) => d.status_code), [1, 2, 4, 3, 0]);
  assert.equal(phone.stats().codec, null);
  await assert.rejects(phone.sendDTMF('x'), (e) => e instanceof PhoneError && e.code === 'Sono.Call.Failed');

  s.calls.length = 0;
  assert.deepEqual(await phone.register(), { level: 'status', uri: 'sip:u0123@gw.example.com' });
  const reg = record(phone, ['registration']);
  const r2 = await phone.register({ user: 'alice', registrar: '127.0.0.1:5070', password: 'pw', authUser: 'a1' });
  assert.equal(r2.uri, 'sip:alice@127.0.0.1:5070');
  await phone.unregister();
  await phone.answer();
  await phone.decline(486);
  await phone.decline();
  await tick();
  assert.equal(reg[0][1].status, 'registered');
  assert.deepEqual(s.calls.map(([m, a]) => [m, a.slice(1)]), [
    ['register', []], ['register', ['alice', '127.0.0.1:5070', 'pw', 'a1', null]], ['unregister', []],
    ['accept', []], ['reject', [486]], ['reject', [null]],
  ]);
  const ids = s.calls.map(([, a]) => a[0]);
  assert.equal(new Set(ids).size, ids.length, 'request ids are unique');

  phone.disconnect();
  assert.equal(phone.isConnected, false);
  assert.equal(ev.filter(([t]) => t === 'disconnected').length, 1);
  await assert.rejects(phone.hangup(), (e) => e.code === 'NetConnection.Connect.Closed');
});

test('events the SWF raises reach the page as the Phone events', async () => {
  const h = makePhone();
  const { phone } = h;
  await phone.connect();
  const ev = record(phone, ['incoming', 'dtmf', 'registration', 'hold', 'transfer', 'netstatus', 'microphone', 'status', 'disconnected']);
  const s = h.standin;
  s.sono({ level: 'status', code: 'Sono.Call.Incoming', uri: 'sip:alice@127.0.0.1', display_name: 'Alice', to: 'sip:u1@gw', call_id: 'c9' });
  s.sono({ level: 'status', code: 'Sono.Call.DTMF', digit: '#' });
  s.sono({ level: 'status', code: 'Sono.Registration.Status', status: 'failed', uri: 'sip:a@r', sip_code: 403, reason: 'Forbidden', expires: 0 });
  s.sono({ level: 'status', code: 'Sono.Call.Hold', call_id: 'c9', held: true, by: 'remote' });
  s.sono({ level: 'error', code: 'Sono.Call.HoldFailed', call_id: 'c9', held: true, sip_code: 488, reason: 'Not Acceptable Here' });
  s.sono({ level: 'status', code: 'Sono.Call.Transfer', call_id: 'c9', status: 'accepted', sip_code: 202, reason: 'Accepted' });
  s.sono({ level: 'status', code: 'Sono.Something.New', x: 1 });
  s.raise('stream', { stream: 'publish', info: { level: 'status', code: 'NetStream.Publish.Start' } });
  s.raise('microphone', { code: 'Microphone.Muted', name: 'Mic' });
  s.raise('connection', { level: 'error', code: 'NetConnection.Call.Failed', description: 'a call failed' });
  s.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 0, sip_code: 487, reason: 'Request Terminated', call_id: 'c9' });
  s.raise('connection', { level: 'error', code: 'NetConnection.Connect.Failed', description: 'lost' });
  await tick(20);
  assert.deepEqual(ev.map(([t]) => t), ['incoming', 'dtmf', 'registration', 'hold', 'hold', 'transfer', 'netstatus', 'netstatus', 'microphone', 'netstatus', 'status', 'disconnected']);
  assert.equal(ev[9][1].code, 'NetConnection.Call.Failed', 'not a disconnection');
  assert.equal(ev[0][1].uri, 'sip:alice@127.0.0.1');
  assert.equal(ev[1][1].digit, '#');
  assert.equal(ev[4][1].sip_code, 488);
  assert.equal(ev[6][1].code, 'Sono.Something.New');
  assert.deepEqual(ev[7][1], { level: 'status', code: 'NetStream.Publish.Start', stream: 'publish' });
  assert.equal(ev.at(-1)[1].error.code, 'NetConnection.Connect.Failed');
  assert.equal(phone.isConnected, false);
});

test('errors: rejected connect, dial refused, status 0 first, no SWF', async () => {
  const bad = makePhone({ token: 'bad' }).phone;
  await assert.rejects(bad.connect(), (e) => e instanceof PhoneError && e.code === 'NetConnection.Connect.Rejected' && e.description === 'bad token');
  assert.equal(bad.isConnected, false);

  const { phone } = makePhone();
  await phone.connect();
  await assert.rejects(phone.call('sip:forbidden@10.0.0.1'), (e) => e.code === 'Sono.Call.Forbidden');
  // status 0 before the call got under way rejects call() with the SIP reason
  await assert.rejects(phone.call('sip:busy@127.0.0.1'), (e) => e.code === 'Sono.Call.Failed' && e.description === 'Busy Here' && e.info.sip_code === 486);
  assert.equal(phone.requests.size, 0);
  phone.disconnect();

  const none = new Phone({ transport: 'flash', swf: '/nope.swf', url: 'rtmp://h/phone', loadTimeoutMs: 50, embed: () => ({}) });
  await assert.rejects(none.connect(), (e) => e.code === 'NetConnection.Connect.Failed' && /did not load/.test(e.description));
  const throws = new Phone({ transport: 'flash', swf: '/x.swf', url: 'rtmp://h/phone', embed: () => { throw new Error('no document'); } });
  await assert.rejects(throws.connect(), (e) => e.code === 'NetConnection.Connect.Failed' && /no document/.test(e.description));
});
