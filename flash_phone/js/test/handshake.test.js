// Client handshake (RTMP §5.2): C0/C1 layout, any split of S0/S1/S2, C2 = S1, wrong version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientHandshake, HANDSHAKE_SIZE, RtmpError } from '../rtmp2sip-phone.js';

function server(c1, { echo = true } = {}) {
  const s1 = new Uint8Array(HANDSHAKE_SIZE);
  new DataView(s1.buffer).setUint32(0, 1234);
  for (let i = 8; i < HANDSHAKE_SIZE; i++) s1[i] = (i * 31) & 0xff;
  const s2 = echo ? c1.slice() : new Uint8Array(HANDSHAKE_SIZE).fill(7);
  const out = new Uint8Array(1 + 2 * HANDSHAKE_SIZE);
  out[0] = 3; out.set(s1, 1); out.set(s2, 1 + HANDSHAKE_SIZE);
  return { bytes: out, s1 };
}

test('C0 C1 layout: version 3, time, four zero bytes, random', () => {
  const h = new ClientHandshake({ time: 0x01020304, random: (b) => b.fill(0xab) });
  const c = h.start();
  assert.equal(c.length, 1537);
  assert.equal(c[0], 3);
  assert.deepEqual([...c.subarray(1, 9)], [1, 2, 3, 4, 0, 0, 0, 0]);
  assert.ok(c.subarray(9).every((x) => x === 0xab));
  // the default random source really is random
  const r = new ClientHandshake().start();
  assert.ok(new Set(r.subarray(9, 200)).size > 50);
});

test('S0 S1 S2 in every split: C2 echoes S1 exactly once; bytes after S2 are returned', () => {
  const base = new ClientHandshake({ random: (b) => b.fill(5) });
  const c1 = base.start().subarray(1);
  const { bytes, s1 } = server(c1);
  const trailing = Uint8Array.of(0x02, 0, 0, 0);
  const all = new Uint8Array(bytes.length + trailing.length);
  all.set(bytes); all.set(trailing, bytes.length);
  for (const cut of [0, 1, 2, 1536, 1537, 1538, 3072, 3073, 3074, all.length]) {
    const h = new ClientHandshake({ random: (b) => b.fill(5) });
    h.start();
    const a = h.feed(all.subarray(0, cut));
    const b = h.feed(all.subarray(cut));
    const c2s = [a.send, b.send].filter(Boolean);
    assert.equal(c2s.length, 1, `cut ${cut}`);
    assert.deepEqual([...c2s[0]], [...s1]);
    assert.ok(b.done || a.done);
    const rest = b.done && !a.done ? b.rest : concat(a.rest, b.rest);
    assert.deepEqual([...rest], [...trailing], `cut ${cut}`);
    assert.equal(h.s2EchoesC1, true);
  }
  // byte at a time
  const h = new ClientHandshake({ random: (b) => b.fill(5) });
  h.start();
  let sent = 0, done = false;
  for (let i = 0; i < bytes.length; i++) {
    const r = h.feed(bytes.subarray(i, i + 1));
    if (r.send) { sent++; assert.equal(i, 1536, 'C2 as soon as S1 is complete'); }
    if (r.done) { done = true; assert.equal(i, bytes.length - 1); }
  }
  assert.equal(sent, 1);
  assert.ok(done);
});

function concat(a, b) { const o = new Uint8Array(a.length + b.length); o.set(a); o.set(b, a.length); return o; }

test('a digest-handshake S2 that does not echo C1 is accepted and reported', () => {
  const h = new ClientHandshake();
  const c1 = h.start().subarray(1);
  const r = h.feed(server(c1, { echo: false }).bytes);
  assert.ok(r.done);
  assert.equal(h.s2EchoesC1, false);
});

test('a wrong version byte is a clear error on the first byte', () => {
  for (const v of [0, 6, 0x48 /* 'H' of an HTTP answer */]) {
    const h = new ClientHandshake();
    h.start();
    assert.throws(() => h.feed(Uint8Array.of(v)), (e) => e instanceof RtmpError && e.code === 'HandshakeVersion' && e.message.includes(`version ${v}`));
  }
});
