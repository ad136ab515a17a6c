// G.711 µ-law (ITU-T G.711), FLV / E-RTMP v2 audio payloads, the playback resampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ulawEncodeSample, ulawDecodeSample, ulawEncode, ulawDecode, pcmuAudioPayload, opusHead,
  opusAudioPayload, parseAudioPayload, AUDIO_PACKET, resampleLinear, WORKLET_SOURCE,
} from '../rtmp2sip-phone.js';
import { tone, goertzel } from './helpers.js';

import { createHash } from 'node:crypto';

test('µ-law reference points (ITU-T G.711 / the classic reference code, as Python audioop)', () => {
  const xs = [-32768, -31611, -30587, -8159, -1000, -100, -33, -32, -5, -4, -1, 0, 1, 3, 4, 5, 32, 33, 100, 1000, 8159, 30587, 31611, 32767];
  const want = [0, 0, 1, 31, 78, 114, 122, 123, 126, 126, 126, 255, 255, 255, 254, 254, 251, 251, 242, 206, 159, 130, 129, 128];
  assert.deepEqual(xs.map(ulawEncodeSample), want);
  assert.equal(ulawDecodeSample(0xff), 0);
  assert.equal(ulawDecodeSample(0x7f), 0);
  assert.ok(Object.is(ulawDecodeSample(0x7f), 0), 'no negative zero');
  assert.equal(ulawDecodeSample(0x80), 32124);
  assert.equal(ulawDecodeSample(0x00), -32124);
});

test('µ-law tables equal audioop.lin2ulaw / ulaw2lin for every input (sha256 of the tables)', () => {
  const all = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i - 32768;
  const enc = ulawEncode(all);
  assert.equal(createHash('sha256').update(enc).digest('hex'), '81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a');
  const dec = ulawDecode(Uint8Array.from({ length: 256 }, (_, i) => i));
  const le = Buffer.alloc(512);
  dec.forEach((v, i) => le.writeInt16LE(v, 2 * i));
  assert.equal(createHash('sha256').update(le).digest('hex'), '3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827');
});

test('µ-law: decode(encode(decode(b))) is stable for all 256 codes; encode is monotonic', () => {
  for (let b = 0; b < 256; b++) {
    const x = ulawDecodeSample(b);
    assert.equal(ulawDecodeSample(ulawEncodeSample(x)), x, `code ${b}`);
  }
  let prev = -Infinity;
  for (let s = -32768; s <= 32767; s += 7) {
    const v = ulawDecodeSample(ulawEncodeSample(s));
    assert.ok(v >= prev, `monotonic at ${s}`);
    prev = v;
    assert.ok(Math.abs(v - Math.max(-32635, Math.min(32635, s))) <= Math.abs(s) / 16 + 8, `error at ${s}`);
  }
});

test('µ-law round trip of a 1 kHz tone keeps > 33 dB SNR', () => {
  const x = tone(1000, 8000, 8000, 0.5);
  const y = ulawDecode(ulawEncode(x));
  let sig = 0, err = 0;
  for (let i = 0; i < x.length; i++) { sig += x[i] * x[i]; err += (x[i] - y[i]) ** 2; }
  const snr = 10 * Math.log10(sig / err);
  assert.ok(snr > 33, `SNR ${snr.toFixed(1)} dB`);
  assert.ok(goertzel(y, 1000, 8000) > 10 * goertzel(y, 1500, 8000));
});

test('FLV µ-law payload and its parse (FLV E.4.2.1, format from the high nibble)', () => {
  const p = pcmuAudioPayload(Uint8Array.of(1, 2, 3));
  assert.deepEqual([...p], [0x82, 1, 2, 3]);
  const f = parseAudioPayload(p);
  assert.equal(f.codec, 'pcmu');
  assert.deepEqual([...f.data], [1, 2, 3]);
  assert.equal(parseAudioPayload(Uint8Array.of(0x8e, 9)).codec, 'pcmu'); // other rate/size bits
  assert.equal(parseAudioPayload(Uint8Array.of(0x72, 9)).codec, 'pcma');
  const speex = parseAudioPayload(Uint8Array.of(0xb2, 9));
  assert.equal(speex.codec, 'other');
  assert.equal(speex.soundFormat, 11);
  assert.equal(parseAudioPayload(new Uint8Array(0)), null);
});

test('E-RTMP v2 Opus: SequenceStart with OpusHead, CodedFrames, SequenceEnd, Multitrack one track', () => {
  const head = opusHead({ channels: 1, preSkip: 312 });
  assert.equal(Buffer.from(head).toString('hex'), '4f707573486561640101380180bb0000000000');
  const ss = opusAudioPayload(AUDIO_PACKET.SEQUENCE_START, head);
  assert.equal(Buffer.from(ss).toString('hex'), '904f707573' + '4f707573486561640101380180bb0000000000');
  const cf = opusAudioPayload(AUDIO_PACKET.CODED_FRAMES, Uint8Array.of(0x78, 1, 2));
  assert.deepEqual([...cf], [0x91, 0x4f, 0x70, 0x75, 0x73, 0x78, 1, 2]);
  assert.deepEqual([...opusAudioPayload(AUDIO_PACKET.SEQUENCE_END)], [0x92, 0x4f, 0x70, 0x75, 0x73]);
  const p1 = parseAudioPayload(ss);
  assert.equal(p1.codec, 'opus');
  assert.equal(p1.packetType, AUDIO_PACKET.SEQUENCE_START);
  assert.deepEqual([...p1.data], [...head]);
  const p2 = parseAudioPayload(cf);
  assert.equal(p2.packetType, AUDIO_PACKET.CODED_FRAMES);
  assert.deepEqual([...p2.data], [0x78, 1, 2]);
  // Multitrack, OneTrack, CodedFrames, track 0
  const mt = Uint8Array.of(0x95, 0x01, 0x4f, 0x70, 0x75, 0x73, 0x00, 0x78, 9);
  const p3 = parseAudioPayload(mt);
  assert.equal(p3.codec, 'opus');
  assert.equal(p3.packetType, AUDIO_PACKET.CODED_FRAMES);
  assert.deepEqual([...p3.data], [0x78, 9]);
  // truncated bodies are null, not a throw
  assert.equal(parseAudioPayload(Uint8Array.of(0x91, 0x4f)), null);
  assert.equal(parseAudioPayload(Uint8Array.of(0x95)), null);
});

test('linear resampler lengths and tone preservation (playback path helper)', () => {
  const x = Float32Array.from(tone(1000, 8000, 160), (v) => v / 32768);
  const y = resampleLinear(x, 8000, 48000);
  assert.equal(y.length, 960);
  assert.ok(goertzel(y, 1000, 48000) > 100 * goertzel(y, 3000, 48000));
  assert.equal(resampleLinear(x, 8000, 8000), x);
});

test('the worklet source embeds the same µ-law encoder and registers both processors', () => {
  assert.ok(WORKLET_SOURCE.includes('function ulawEncodeSample'));
  assert.ok(WORKLET_SOURCE.includes("registerProcessor('rtmp2sip-capture'"));
  assert.ok(WORKLET_SOURCE.includes("registerProcessor('rtmp2sip-playback'"));
  // It is syntactically valid JavaScript (compiled, never run, as a module in a VM context).
  return import('node:vm').then((vm) => {
    const ctx = vm.createContext({ sampleRate: 48000, registered: {}, AudioWorkletProcessor: class { constructor() { this.port = { postMessage() {} }; } } });
    ctx.registerProcessor = (name, cls) => { ctx.registered[name] = cls; };
    vm.runInContext(WORKLET_SOURCE, ctx);
    assert.deepEqual(Object.keys(ctx.registered).sort(), ['rtmp2sip-capture', 'rtmp2sip-playback']);
    // capture in µ-law mode: 48 kHz tone in, 160-byte frames out
    const posted = [];
    const cap = new ctx.registered['rtmp2sip-capture']({ processorOptions: { ulaw: true } });
    cap.port = { postMessage: (m) => posted.push(m) };
    const t = tone(1000, 48000, 4800, 0.5);
    for (let o = 0; o < t.length; o += 128) cap.process([[Float32Array.from(t.subarray(o, o + 128), (v) => v / 32768)]]);
    assert.equal(posted.length, 5); // 100 ms
    assert.ok(posted.every((f) => f.length === 160));
    const pcm = ulawDecode(posted[1]);
    assert.ok(goertzel(pcm, 1000, 8000) > 100 * goertzel(pcm, 2000, 8000));
    // anti-aliasing: a 6 kHz tone (which would fold to 2 kHz at 8 kHz) is > 40 dB down;
    // at 44.1 kHz too, where 8 kHz is not an integer divisor
    for (const rate of [48000, 44100]) {
      ctx.sampleRate = rate;
      const c2 = new ctx.registered['rtmp2sip-capture']({ processorOptions: { ulaw: true } });
      const frames = [];
      c2.port = { postMessage: (m) => frames.push(m) };
      const pass = Float32Array.from(tone(1000, rate, rate / 2, 0.5), (v) => v / 32768);
      const stop = Float32Array.from(tone(6000, rate, rate / 2, 0.5), (v) => v / 32768);
      const run = (x) => { frames.length = 0; for (let o = 0; o < x.length; o += 128) c2.process([[x.subarray(o, o + 128)]]); return ulawDecode(Uint8Array.from(frames.slice(2).flatMap((f) => [...f]))); };
      const p1 = goertzel(run(pass), 1000, 8000);
      const p2 = goertzel(run(stop), 2000, 8000);
      assert.ok(frames.length >= 20, `rate ${rate}: ${frames.length} frames in 500 ms`);
      assert.ok(10 * Math.log10(p1 / p2) > 40, `rate ${rate}: alias only ${(10 * Math.log10(p1 / p2)).toFixed(1)} dB down`);
    }
    ctx.sampleRate = 48000;
    // playback: never holds more than 60 ms, drops the oldest
    const pb = new ctx.registered['rtmp2sip-playback']({ processorOptions: { maxMs: 60, targetMs: 40 } });
    for (let i = 0; i < 10; i++) pb.push(new Float32Array(960).fill(i));
    assert.ok(pb.len <= 48000 * 0.06, `buffered ${pb.len}`);
    const out = [[new Float32Array(128)]];
    pb.process([], out);
    assert.equal(out[0][0][0], 8); // cut back to the 40 ms target: the two newest frames survive
    assert.equal(pb.len, 1920 - 128);
  });
});
