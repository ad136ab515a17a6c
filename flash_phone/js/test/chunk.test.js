// Chunk reader/writer: the vectors of the gateway's Rust tests (src/rtmp/chunk/tests.rs),
// every split of the input, extended timestamps, interleaving, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkReader, ChunkWriter, RtmpError, concatBytes } from '../rtmp2sip-phone.js';

const B = (...a) => Uint8Array.from(a.flat());
const msg = (csid, timestamp, type, streamId, payload) => ({ csid, timestamp, type, streamId, payload: Uint8Array.from(payload) });
const payload = (len, seed) => Array.from({ length: len }, (_, i) => ((i * 7) + seed) & 0xff);
const norm = (ms) => ms.map((m) => ({ ...m, payload: [...m.payload] }));

/** Reads the input whole, byte at a time, and split at every position: all must agree. */
function readAllWays(wire, limits) {
  const whole = new ChunkReader(limits).push(wire);
  const r = new ChunkReader(limits);
  const bytewise = [];
  for (let i = 0; i < wire.length; i++) bytewise.push(...r.push(wire.subarray(i, i + 1)));
  assert.deepEqual(norm(bytewise), norm(whole), 'byte at a time');
  for (let cut = 0; cut <= wire.length; cut++) {
    const r2 = new ChunkReader(limits);
    const got = [...r2.push(wire.subarray(0, cut)), ...r2.push(wire.subarray(cut))];
    assert.deepEqual(norm(got), norm(whole), `split at ${cut}`);
  }
  return whole;
}

function writeAll(messages, writer = new ChunkWriter()) {
  return concatBytes(messages.map((m) => writer.write(m)));
}

// RTMP §5.3.2.1 example 1: audio on csid 3, stream 12345, 32-byte messages.
function specExample1() {
  const p = payload(32, 1);
  return B([0x03, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x20, 0x08, 0x39, 0x30, 0, 0], p,
    [0x83, 0x00, 0x00, 0x14], p, [0xc3], p, [0xc3], p);
}

test('spec example 1: fmt 0, 2, 3, 3 read and written byte for byte', () => {
  const wire = specExample1();
  const want = [1000, 1020, 1040, 1060].map((ts) => msg(3, ts, 8, 12345, payload(32, 1)));
  assert.deepEqual(norm(readAllWays(wire)), norm(want));
  const w = new ChunkWriter();
  assert.deepEqual([...writeAll(want, w)], [...wire]);
  assert.equal(w.bytesWritten, wire.length);
  const r = new ChunkReader();
  r.push(wire);
  assert.equal(r.bytesReceived, wire.length);
});

test('spec example 2: one 307-byte message in 128-byte chunks', () => {
  const p = payload(307, 3);
  const wire = B([0x04, 0x00, 0x03, 0xe8, 0x00, 0x01, 0x33, 0x09, 0x39, 0x30, 0, 0], p.slice(0, 128), [0xc4], p.slice(128, 256), [0xc4], p.slice(256));
  const got = readAllWays(wire);
  assert.deepEqual(norm(got), norm([msg(4, 1000, 9, 12345, p)]));
  assert.deepEqual([...new ChunkWriter().write(got[0])], [...wire]);
});

test('fmt 1 changes length and type, inherits the stream id', () => {
  const wire = B([0x05, 0, 0, 100, 0, 0, 2, 20, 1, 0, 0, 0, 0xaa, 0xbb], [0x45, 0, 0, 50, 0, 0, 3, 18, 1, 2, 3]);
  const want = [msg(5, 100, 20, 1, [0xaa, 0xbb]), msg(5, 150, 18, 1, [1, 2, 3])];
  assert.deepEqual(norm(readAllWays(wire)), norm(want));
  assert.deepEqual([...writeAll(want)], [...wire]);
});

test('1, 2 and 3-byte chunk stream ids round-trip', () => {
  for (const csid of [2, 3, 63, 64, 65, 318, 319, 320, 321, 1000, 65598, 65599]) {
    const ms = [10, 30, 50].map((ts, i) => msg(csid, ts, 8, 1, payload(300, 9 - i)));
    const wire = writeAll(ms);
    const first = csid < 64 ? 1 : csid < 320 ? 2 : 3;
    assert.equal(wire[0] & 0x3f, first === 1 ? csid : first === 2 ? 0 : 1, `csid ${csid}`);
    assert.deepEqual(norm(new ChunkReader().push(wire)), norm(ms), `csid ${csid}`);
  }
  readAllWays(writeAll([msg(65599, 5, 8, 1, payload(200, 1)), msg(64, 5, 8, 1, payload(10, 1))]));
});

test('writer refuses bad chunk stream ids and sizes', () => {
  const w = new ChunkWriter();
  for (const csid of [0, 1, 65600]) assert.throws(() => w.write(msg(csid, 0, 8, 1, [1])), RangeError);
  assert.throws(() => w.write({ ...msg(3, 0, 8, 1, []), payload: new Uint8Array(0x1000000) }), RangeError);
  assert.throws(() => w.setChunkSizeMessage(0), RangeError);
  assert.throws(() => w.setChunkSizeMessage(0x80000000), RangeError);
});

test('writer header compression choices (as the Rust writer)', () => {
  const w = new ChunkWriter();
  const sends = [
    msg(6, 0, 8, 1, Array(10).fill(1)), msg(6, 20, 8, 1, Array(10).fill(2)), msg(6, 40, 8, 1, Array(10).fill(3)),
    msg(6, 60, 8, 1, Array(11).fill(4)), msg(6, 80, 9, 1, Array(11).fill(4)), msg(6, 100, 9, 2, Array(11).fill(4)),
    msg(6, 90, 9, 2, Array(11).fill(4)),
  ];
  assert.deepEqual(sends.map((m) => w.write(m)[0] >> 6), [0, 2, 3, 1, 1, 0, 0]);
});

test('extended timestamp on fmt 0, with and without the repeat on the fmt 3 continuation', () => {
  const p = payload(200, 0x40);
  const head = [0x04, 0xff, 0xff, 0xff, 0, 0, 200, 8, 1, 0, 0, 0, 0x01, 0x00, 0x00, 0x00];
  const withRepeat = B(head, p.slice(0, 128), [0xc4, 0x01, 0x00, 0x00, 0x00], p.slice(128));
  const without = B(head, p.slice(0, 128), [0xc4], p.slice(128));
  const want = [msg(4, 0x01000000, 8, 1, p)];
  assert.deepEqual(norm(readAllWays(withRepeat)), norm(want));
  assert.deepEqual(norm(readAllWays(without)), norm(want));
  assert.deepEqual([...new ChunkWriter().write(want[0])], [...withRepeat]); // we repeat it, like Flash
});

test('extended delta on fmt 2, inherited by a fmt 3 new message', () => {
  const base = [0x07, 0, 0, 10, 0, 0, 5, 8, 1, 0, 0, 0, 1, 2, 3, 4, 5];
  const t2 = [0x87, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 6, 7, 8, 9, 10];
  const t3With = [0xc7, 0x01, 0x00, 0x00, 0x00, 11, 12, 13, 14, 15];
  const t3Without = [0xc7, 11, 12, 13, 14, 15];
  const want = [msg(7, 10, 8, 1, [1, 2, 3, 4, 5]), msg(7, 10 + 0x01000000, 8, 1, [6, 7, 8, 9, 10]), msg(7, 10 + 0x02000000, 8, 1, [11, 12, 13, 14, 15])];
  for (const t3 of [t3With, t3Without]) assert.deepEqual(norm(readAllWays(B(base, t2, t3))), norm(want));
  assert.deepEqual([...writeAll(want)], [...B(base, t2, t3With)]);
});

test('timestamps wrap at 2^32', () => {
  const ms = [msg(3, 0xffffffff - 10, 8, 1, [1]), msg(3, 9, 8, 1, [2])];
  const wire = writeAll(ms);
  assert.equal(wire[wire.length - 5] >> 6, 2); // +20 across the wrap: a fmt 2 delta
  assert.deepEqual(norm(readAllWays(wire)), norm(ms));
});

test('Set Chunk Size applies to the following chunks, both ways', () => {
  const w = new ChunkWriter();
  const scs = w.setChunkSizeMessage(4096);
  assert.deepEqual([...scs], [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
  const big = msg(3, 0, 20, 0, payload(3000, 5));
  const bigWire = w.write(big);
  assert.equal(bigWire.length, 12 + 3000);
  const small = w.setChunkSizeMessage(1);
  const last = w.write(msg(3, 5, 20, 0, [1, 2, 3]));
  const wire = concatBytes([scs, bigWire, small, last]);
  const got = readAllWays(wire);
  assert.equal(got.length, 4);
  assert.deepEqual(norm([got[1]]), norm([big]));
  assert.deepEqual([...got[3].payload], [1, 2, 3]);
  const r = new ChunkReader();
  r.push(wire);
  assert.equal(r.chunkSize, 1);
});

test('interleaved chunk streams', () => {
  const v = payload(200, 1);
  const a = payload(150, 2);
  const wire = B([0x04, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0], v.slice(0, 128),
    [0x05, 0, 0, 5, 0, 0, 150, 8, 1, 0, 0, 0], a.slice(0, 128), [0xc4], v.slice(128), [0xc5], a.slice(128));
  assert.deepEqual(norm(readAllWays(wire)), norm([msg(4, 0, 9, 1, v), msg(5, 5, 8, 1, a)]));
});

test('Abort discards the partial message', () => {
  const p = payload(200, 1);
  const wire = B([0x04, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0], p.slice(0, 128),
    [0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 4], [0x04, 0, 0, 9, 0, 0, 2, 8, 1, 0, 0, 0, 7, 7]);
  const got = readAllWays(wire);
  assert.equal(got.length, 2);
  assert.equal(got[0].type, 2);
  assert.deepEqual(norm([got[1]]), norm([msg(4, 9, 8, 1, [7, 7])]));
});

test('zero-length messages', () => {
  const wire = B([0x03, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 0, 0xc3]);
  assert.deepEqual(norm(new ChunkReader().push(wire)), norm([msg(3, 1, 20, 0, []), msg(3, 2, 20, 0, [])]));
});

test('limit: message size, checked before any allocation, also on fmt 1', () => {
  assert.throws(() => new ChunkReader({ maxMessageSize: 100 }).push(B([0x03, 0, 0, 0, 0, 0, 101, 8, 0, 0, 0, 0])),
    (e) => e instanceof RtmpError && e.code === 'MessageTooLarge' && /101 bytes exceeds the limit of 100/.test(e.message));
  const r = new ChunkReader({ maxMessageSize: 100 });
  assert.equal(r.push(B([0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 9])).length, 1);
  assert.throws(() => r.push(B([0x43, 0, 0, 0, 0, 1, 0, 8])), (e) => e.code === 'MessageTooLarge');
  // a failed reader stays failed
  assert.throws(() => r.push(B([0x03])), (e) => e.code === 'MessageTooLarge');
  // a 16 MiB announcement with the default limit (256 KiB) fails on the header alone
  assert.throws(() => new ChunkReader().push(B([0x03, 0, 0, 0, 0xff, 0xff, 0xff, 8, 0, 0, 0, 0])), (e) => e.code === 'MessageTooLarge');
});

test('limit: chunk streams', () => {
  const r = new ChunkReader({ maxChunkStreams: 3 });
  for (const csid of [3, 4, 5]) assert.equal(r.push(B([csid, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 1])).length, 1);
  assert.throws(() => r.push(B([6, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 1])), (e) => e.code === 'TooManyChunkStreams');
  assert.equal(r.streams.size, 3);
});

test('protocol violations are clear errors', () => {
  const cases = [
    [B([0x43, 0, 0, 0, 0, 0, 1, 8]), 'MissingMessageHeader'],
    [B([0xc9]), 'MissingMessageHeader'],
    [B([0x03, 0, 0, 0, 0, 0, 200, 8, 0, 0, 0, 0], Array(128).fill(0), [0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 1]), 'InterruptedMessage'],
    [B([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]), 'InvalidChunkSize'],
    [B([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0]), 'InvalidChunkSize'],
  ];
  for (const [wire, code] of cases) assert.throws(() => new ChunkReader().push(wire), (e) => e instanceof RtmpError && e.code === code, code);
});

test('incomplete input waits', () => {
  const wire = specExample1();
  const r = new ChunkReader();
  assert.equal(r.push(wire.subarray(0, 40)).length, 0);
  assert.equal(r.push(wire.subarray(40)).length, 4);
});

test('random writer → reader round trips with interleaving, every chunk size', () => {
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 30; round++) {
    const w = new ChunkWriter();
    const parts = [];
    const want = [];
    const ts = new Map();
    for (let i = 0; i < 40; i++) {
      if (rnd(10) === 0) { parts.push(w.setChunkSizeMessage(1 + rnd(300))); want.push(null); continue; }
      const csid = [3, 4, 70, 400][rnd(4)];
      const t = ((ts.get(csid) ?? rnd(2) * 0xfffff00) + rnd(3) * 20 + (rnd(20) === 0 ? 0x1000000 : 0)) >>> 0;
      ts.set(csid, t);
      const m = msg(csid, t, [8, 9, 20][rnd(3)], rnd(3), payload(rnd(700), rnd(256)));
      parts.push(w.write(m));
      want.push(m);
    }
    const wire = concatBytes(parts);
    const r = new ChunkReader();
    const got = [];
    for (let o = 0; o < wire.length;) { const n = 1 + rnd(50); got.push(...r.push(wire.subarray(o, o + n))); o += n; }
    const gotData = got.filter((m) => m.type !== 1);
    assert.deepEqual(norm(gotData), norm(want.filter(Boolean)), `round ${round}`);
  }
});

test('garbage never throws anything but RtmpError, and never allocates past the limit', () => {
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 0xff; };
  for (let round = 0; round < 500; round++) {
    const bytes = Uint8Array.from({ length: 1 + (round % 300) }, rnd);
    try { new ChunkReader({ maxMessageSize: 4096 }).push(bytes); } catch (e) { assert.ok(e instanceof RtmpError, String(e)); }
  }
});
