// RtmpClient and Phone against a scripted in-process server (no gateway):
// the handshake sequence, connect's command object, protocol control (ping → pong,
// acknowledgements, Set Peer Bandwidth), transaction ids, error mapping, the
// status-4 stream set-up and the Opus/µ-law uplink choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Phone, PhoneError, ChunkReader, ChunkWriter, amf0Encode, amf0Decode, MSG, controlMessage,
  HANDSHAKE_SIZE, opusAudioPayload, AUDIO_PACKET, opusHead, pcmuAudioPayload,
} from '../rtmp2sip-phone.js';

/** A fake gateway: answers the handshake, decodes the client's messages, lets the test reply. */
class FakeServer {
  constructor() {
    this.reader = new ChunkReader();
    this.writer = new ChunkWriter();
    this.received = []; // client messages
    this.raw = [];
    this.hs = new Uint8Array(0);
    this.hsDone = false;
    this.waiters = [];
    this.transport = {
      onData: null, onClose: null, closed: false, bufferedAmount: 0,
      send: (b) => this.fromClient(b),
      close: () => { this.transport.closed = true; },
    };
  }
  factory() { return async () => this.transport; }
  fromClient(bytes) {
    this.raw.push(bytes);
    if (!this.hsDone) {
      const all = new Uint8Array(this.hs.length + bytes.length);
      all.set(this.hs); all.set(bytes, this.hs.length);
      this.hs = all;
      if (this.hs.length === 1 + HANDSHAKE_SIZE && !this.s0s1s2) {
        // S0 S1 S2 (S2 = echo of C1)
        const out = new Uint8Array(1 + 2 * HANDSHAKE_SIZE);
        out[0] = 3;
        out.fill(9, 9, 1 + HANDSHAKE_SIZE);
        out.set(this.hs.subarray(1), 1 + HANDSHAKE_SIZE);
        this.s0s1s2 = out;
        queueMicrotask(() => this.toClient(out));
        return;
      }
      if (this.hs.length >= 1 + 2 * HANDSHAKE_SIZE) {
        this.c2 = this.hs.subarray(1 + HANDSHAKE_SIZE, 1 + 2 * HANDSHAKE_SIZE);
        this.hsDone = true;
        bytes = this.hs.subarray(1 + 2 * HANDSHAKE_SIZE);
        if (!bytes.length) return;
      } else return;
    }
    for (const m of this.reader.push(bytes)) {
      if (m.type === MSG.COMMAND_AMF0) m.values = amf0Decode(m.payload);
      this.received.push(m);
      this.waiters = this.waiters.filter((w) => !(w.pred(m) && (w.resolve(m), true)));
    }
  }
  toClient(bytes) { this.transport.onData?.(bytes); }
  send(m) { this.toClient(this.writer.write(m)); }
  command(values, streamId = 0) { this.send({ csid: 3, timestamp: 0, type: MSG.COMMAND_AMF0, streamId, payload: amf0Encode(values) }); }
  next(pred) {
    const hit = this.received.find(pred);
    if (hit) { this.received.splice(this.received.indexOf(hit), 1); return Promise.resolve(hit); }
    return new Promise((resolve) => this.waiters.push({ pred, resolve: (m) => { this.received.splice(this.received.indexOf(m), 1); resolve(m); } }));
  }
  nextCommand(name) { return this.next((m) => m.values?.[0] === name); }
}

async function connected(o = {}, props = { fmsVer: 'FMS/3,5,7,7009', capabilities: 31 }) {
  const srv = new FakeServer();
  const phone = new Phone({ url: 'wss://gw.example.com/rtmp', app: 'phone', transport: srv.factory(), media: null, ...o });
  const p = phone.connect();
  const c = await srv.nextCommand('connect');
  srv.command(['_result', c.values[1], props, { level: 'status', code: 'NetConnection.Connect.Success', description: 'ok', objectEncoding: 0 }]);
  await p;
  return { srv, phone, connectMsg: c };
}

test('handshake sequence, Set Chunk Size 4096 first, then connect with the documented command object', async () => {
  const { srv, connectMsg } = await connected({ token: 'jwt.token.here' });
  assert.equal(srv.raw[0].length, 1537, 'C0+C1 in one write');
  assert.equal(srv.raw[0][0], 3);
  assert.deepEqual([...srv.c2], [...srv.s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE)], 'C2 echoes S1');
  const scs = new ChunkReader().push(srv.raw[2]);
  assert.equal(scs[0].type, MSG.SET_CHUNK_SIZE);
  assert.equal(new DataView(scs[0].payload.buffer, scs[0].payload.byteOffset).getUint32(0), 4096);
  const [name, tid, cmd, token] = connectMsg.values;
  assert.equal(name, 'connect');
  assert.equal(tid, 1);
  assert.equal(cmd.app, 'phone');
  assert.equal(cmd.tcUrl, 'rtmp://gw.example.com/phone');
  assert.match(cmd.flashVer, /rtmp2sip-phone/);
  assert.equal(cmd.objectEncoding, 0);
  assert.deepEqual(cmd.fourCcList, ['Opus']);
  assert.equal(token, 'jwt.token.here');
  assert.equal(connectMsg.csid, 3);
  assert.equal(connectMsg.streamId, 0);
});

test('ping request → pong; window ack size → acknowledgements; Set Peer Bandwidth → Window Ack Size', async () => {
  const { srv } = await connected();
  const ping = new Uint8Array(6);
  new DataView(ping.buffer).setUint16(0, 6); new DataView(ping.buffer).setUint32(2, 0xdeadbeef);
  srv.send(controlMessage(MSG.USER_CONTROL, ping));
  const pong = await srv.next((m) => m.type === MSG.USER_CONTROL);
  assert.deepEqual([...pong.payload], [0, 7, 0xde, 0xad, 0xbe, 0xef]);
  const spb = Uint8Array.of(0, 0, 0x10, 0, 2);
  srv.send(controlMessage(MSG.SET_PEER_BANDWIDTH, spb));
  const was = await srv.next((m) => m.type === MSG.WINDOW_ACK_SIZE);
  assert.deepEqual([...was.payload], [0, 0, 0x10, 0]);
  srv.send(controlMessage(MSG.WINDOW_ACK_SIZE, Uint8Array.of(0, 0, 4, 0))); // 1024 bytes
  for (let i = 0; i < 12; i++) srv.command(['onStatus', 0, null, { level: 'status', code: 'X', pad: 'p'.repeat(300) }]);
  const ack = await srv.next((m) => m.type === MSG.ACK);
  const n = new DataView(ack.payload.buffer, ack.payload.byteOffset).getUint32(0);
  assert.ok(n > 3073, `ack sequence number ${n} counts every byte received, handshake included`);
  const ack2 = await srv.next((m) => m.type === MSG.ACK);
  const n2 = new DataView(ack2.payload.buffer, ack2.payload.byteOffset).getUint32(0);
  assert.ok(n2 - n >= 1024, `one ack per window (${n} then ${n2})`);
});

test('_error maps to PhoneError with code and description; transaction ids match replies', async () => {
  const { srv, phone } = await connected();
  const reg = phone.register();
  const dtmf = phone.sendDTMF('1');
  const r = await srv.nextCommand('register');
  const d = await srv.nextCommand('sendDTMF');
  assert.notEqual(r.values[1], d.values[1]);
  srv.command(['_error', d.values[1], null, { level: 'error', code: 'Sono.Call.Failed', description: 'no call' }]);
  srv.command(['_result', r.values[1], null, { level: 'status', uri: 'sip:u1@gw' }]);
  assert.deepEqual(await reg, { level: 'status', uri: 'sip:u1@gw' });
  await assert.rejects(dtmf, (e) => e instanceof PhoneError && e.code === 'Sono.Call.Failed' && e.description === 'no call');
});

test('connect rejected: the NetConnection code and description', async () => {
  const srv = new FakeServer();
  const phone = new Phone({ url: 'wss://x/rtmp', transport: srv.factory(), media: null });
  const p = phone.connect();
  const c = await srv.nextCommand('connect');
  srv.command(['_error', c.values[1], null, { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'bad token' }]);
  await assert.rejects(p, (e) => e.code === 'NetConnection.Connect.Rejected' && e.description === 'bad token');
  assert.ok(srv.transport.closed);
});

test('connect timeout and a closed transport reject clearly', async () => {
  const srv = new FakeServer();
  srv.transport.send = () => {}; // a server that never answers
  const phone = new Phone({ url: 'wss://x/rtmp', transport: srv.factory(), media: null, connectTimeoutMs: 100 });
  await assert.rejects(phone.connect(), (e) => e.code === 'NetConnection.Connect.Failed' && /within 100 ms/.test(e.message));
  const { srv: s2, phone: p2 } = await connected();
  const events = [];
  p2.addEventListener('disconnected', (e) => events.push(e.detail));
  const pending = p2.hangup();
  await s2.nextCommand('hangup');
  s2.transport.onClose();
  await assert.rejects(pending, (e) => e.code === 'NetConnection.Connect.Closed');
  assert.equal(events.length, 1);
});

test('bad bytes from the server close the connection with a clear error', async () => {
  const { srv, phone } = await connected();
  const gone = new Promise((r) => phone.addEventListener('disconnected', (e) => r(e.detail), { once: true }));
  // a 16 MiB message header: over the 256 KiB limit, refused before any allocation
  srv.toClient(Uint8Array.of(0x04, 0, 0, 0, 0xff, 0xff, 0xff, 8, 1, 0, 0, 0));
  const d = await gone;
  assert.equal(d.error.code, 'MessageTooLarge');
  assert.ok(srv.transport.closed);
});

test('events: status / incoming / registration / dtmf from onStatus on stream 0; call() settles on events', async () => {
  const { srv, phone } = await connected();
  const seen = [];
  for (const t of ['status', 'incoming', 'registration', 'dtmf']) phone.addEventListener(t, (e) => seen.push([t, e.detail.code]));
  const call = phone.call('sip:bob@example.com');
  const dial = await srv.nextCommand('dial');
  assert.deepEqual(dial.values.slice(2), [null, 'sip:bob@example.com']);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 1 }]);
  assert.equal((await call).status_code, 1);
  assert.equal(phone.rtmp.pending.size, 0, 'the dial transaction is forgotten once events settled it');
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Incoming', uri: 'sip:carol@x' }]);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Registration.Status', status: 'registered' }]);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.DTMF', digit: '7' }]);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 0, sip_code: 486, reason: 'Busy Here' }]);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.map((s) => s[0]), ['status', 'incoming', 'registration', 'dtmf', 'status']);
  // a call that ends before it got under way rejects with the reason
  const c2 = phone.call('sip:bob@example.com');
  await srv.nextCommand('dial');
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 0, sip_code: 404, reason: 'Not Found' }]);
  await assert.rejects(c2, (e) => e.code === 'Sono.Call.Failed' && e.description === 'Not Found' && e.info.sip_code === 404);
});

test('transfer(uri) invokes transfer; Sono.Call.Transfer is the transfer event; refusals reject', async () => {
  const { srv, phone } = await connected();
  const seen = [];
  phone.addEventListener('transfer', (e) => seen.push(e.detail));
  const t = phone.transfer('sip:carol@example.com');
  const inv = await srv.nextCommand('transfer');
  assert.deepEqual(inv.values.slice(2), [null, 'sip:carol@example.com']);
  srv.command(['_result', inv.values[1], null, null]);
  await t;
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Transfer', call_id: 'c1', status: 'accepted', sip_code: 202 }]);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Transfer', call_id: 'c1', status: 'succeeded', sip_code: 200 }]);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.map((d) => [d.status, d.sip_code]), [['accepted', 202], ['succeeded', 200]]);
  const bad = phone.transfer('sip:x@10.0.0.1');
  const inv2 = await srv.nextCommand('transfer');
  srv.command(['_error', inv2.values[1], null, { level: 'error', code: 'Sono.Call.Forbidden', description: 'policy' }]);
  await assert.rejects(bad, (e) => e.code === 'Sono.Call.Forbidden');
});

test('status 1 with early_media starts the streams before the answer; status 4 does not start them again', async () => {
  const { srv, phone } = await connected({ media: recordingMedia({ opus: false }) });
  const statuses = [];
  phone.addEventListener('status', (e) => statuses.push(e.detail));
  phone.call('sip:x@y');
  await srv.nextCommand('dial');
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 1, sip_code: 183, early_media: true, publish: 'pubname', play: 'playname' }]);
  const cs1 = await srv.nextCommand('createStream');
  srv.command(['_result', cs1.values[1], null, 1]);
  const cs2 = await srv.nextCommand('createStream');
  srv.command(['_result', cs2.values[1], null, 2]);
  const play = await srv.nextCommand('play');
  assert.deepEqual(play.values.slice(2), [null, 'playname']);
  await srv.nextCommand('publish');
  assert.equal(statuses[0].early_media, true);
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 4, publish: 'pubname', play: 'playname' }]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(srv.received.filter((m) => m.values?.[0] === 'createStream').length, 0, 'no second stream set');
});

/** A media engine that records what the Phone asks of it. */
function recordingMedia({ opus }) {
  const m = {
    started: null, frames: [], stopped: false,
    canDecodeOpus: () => opus, canEncodeOpus: async () => opus,
    async start(session) { m.started = session; },
    receive(frame, ts) { m.frames.push({ frame, ts }); },
    stop() { m.stopped = true; },
  };
  return m;
}

async function toStatus4(srv, phone) {
  phone.call('sip:x@y');
  await srv.nextCommand('dial');
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 4, publish: 'pubname', play: 'playname' }]);
  const cs1 = await srv.nextCommand('createStream');
  srv.command(['_result', cs1.values[1], null, 1]);
  const cs2 = await srv.nextCommand('createStream');
  srv.command(['_result', cs2.values[1], null, 2]);
  const play = await srv.nextCommand('play');
  const publish = await srv.nextCommand('publish');
  return { play, publish };
}

test('status 4: createStream ×2, play(play) and publish(publish, "live") on their streams; uplink µ-law without server Opus', async () => {
  const media = recordingMedia({ opus: true });
  const { srv, phone } = await connected({ media });
  const { play, publish } = await toStatus4(srv, phone);
  assert.deepEqual(play.values.slice(2), [null, 'playname']);
  assert.equal(play.streamId, 2);
  assert.deepEqual(publish.values.slice(2), [null, 'pubname', 'live']);
  assert.equal(publish.streamId, 1);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(media.started.uplinkCodec, 'pcmu', 'the gateway did not announce Opus');
  assert.ok(media.started.sendAudio(pcmuAudioPayload(new Uint8Array(160)), 20));
  const audio = await srv.next((m) => m.type === MSG.AUDIO);
  assert.equal(audio.streamId, 1);
  assert.equal(audio.timestamp, 20);
  assert.equal(audio.payload[0], 0x82);
  // audio in on the play stream reaches the engine; other streams are ignored
  srv.send({ csid: 6, timestamp: 40, type: MSG.AUDIO, streamId: 2, payload: pcmuAudioPayload(new Uint8Array(160).fill(0xff)) });
  srv.send({ csid: 6, timestamp: 40, type: MSG.AUDIO, streamId: 9, payload: pcmuAudioPayload(new Uint8Array(160)) });
  assert.equal(media.frames.length, 1);
  assert.equal(media.frames[0].frame.codec, 'pcmu');
  assert.equal(phone.stats().codec, 'pcmu');
  // status 0: media stops, both streams deleted
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Status', status_code: 0 }]);
  const d1 = await srv.nextCommand('deleteStream');
  const d2 = await srv.nextCommand('deleteStream');
  assert.deepEqual([d1.values[3], d2.values[3]].sort(), [1, 2]);
  assert.ok(media.stopped);
});

test('Opus uplink when the gateway announces audioFourCcInfoMap {Opus: CanDecode}; E-RTMP audio in', async () => {
  const media = recordingMedia({ opus: true });
  const { srv, phone } = await connected({ media }, { fmsVer: 'FMS/3,5,7,7009', audioFourCcInfoMap: { Opus: 7 } });
  await toStatus4(srv, phone);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(media.started.uplinkCodec, 'opus');
  srv.send({ csid: 6, timestamp: 0, type: MSG.AUDIO, streamId: 2, payload: opusAudioPayload(AUDIO_PACKET.SEQUENCE_START, opusHead()) });
  srv.send({ csid: 6, timestamp: 20, type: MSG.AUDIO, streamId: 2, payload: opusAudioPayload(AUDIO_PACKET.CODED_FRAMES, Uint8Array.of(0xfc, 1)) });
  assert.equal(media.frames.length, 2);
  assert.equal(media.frames[0].frame.packetType, AUDIO_PACKET.SEQUENCE_START);
  assert.equal(phone.stats().codec, 'opus');
  // a media engine without Opus decoding leaves Opus out of fourCcList
  const srv2 = new FakeServer();
  const p2 = new Phone({ url: 'wss://x/rtmp', transport: srv2.factory(), media: recordingMedia({ opus: false }) });
  p2.connect().catch(() => {});
  const c = await srv2.nextCommand('connect');
  assert.deepEqual(c.values[2].fourCcList, []);
});

test('audio is dropped, not queued, while the transport is congested', async () => {
  const media = recordingMedia({ opus: false });
  const { srv, phone } = await connected({ media, maxBufferedBytes: 1000 });
  await toStatus4(srv, phone);
  await new Promise((r) => setTimeout(r, 10));
  srv.transport.bufferedAmount = 5000;
  assert.equal(media.started.sendAudio(pcmuAudioPayload(new Uint8Array(160)), 0), false);
  assert.equal(phone.stats().packets_dropped_out, 1);
});

test('hold() / unhold() invoke the gateway; hold events from Sono.Call.Hold and HoldFailed', async () => {
  const { srv, phone } = await connected();
  const seen = [];
  phone.addEventListener('hold', (e) => seen.push([e.detail.code, e.detail.held, e.detail.by]));
  const h = phone.hold();
  const inv = await srv.nextCommand('hold');
  assert.deepEqual(inv.values.slice(2), [null]);
  srv.command(['_result', inv.values[1], null, null]);
  await h;
  const u = phone.unhold();
  const inv2 = await srv.nextCommand('unhold');
  srv.command(['_error', inv2.values[1], null, { level: 'error', code: 'Sono.Call.NoCall', description: 'no call' }]);
  await assert.rejects(u, (e) => e instanceof PhoneError && e.code === 'Sono.Call.NoCall');
  srv.command(['onStatus', 0, null, { level: 'status', code: 'Sono.Call.Hold', call_id: 'c1', held: true, by: 'remote' }]);
  srv.command(['onStatus', 0, null, { level: 'error', code: 'Sono.Call.HoldFailed', call_id: 'c1', held: false, sip_code: 488 }]);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, [['Sono.Call.Hold', true, 'remote'], ['Sono.Call.HoldFailed', false, undefined]]);
});
