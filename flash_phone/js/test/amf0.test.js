// AMF0 vectors: the same bytes as the gateway's Rust tests (src/amf/amf0/tests.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amf0Encode, amf0Decode, EcmaArray, AmfDate, RtmpError } from '../rtmp2sip-phone.js';

const hex = (...pieces) => Uint8Array.from(Buffer.from(pieces.join(''), 'hex'));
const toHex = (b) => Buffer.from(b).toString('hex');

// Flash Player 11 (Windows) connect with objectEncoding 3 (src/amf/amf0/tests.rs flash_connect).
const flashConnect = () => hex(
  '020007636f6e6e656374003ff0000000000000030003617070020004736f6e6f',
  '0008666c61736856657202001057494e2031312c322c3230322c323335000673',
  '776655726c020022687474703a2f2f6578616d706c652e6f72672f666c617368',
  '5f70686f6e652e7377660005746355726c02001572746d703a2f2f3132372e30',
  '2e302e312f736f6e6f0004667061640100000c6361706162696c697469657300',
  '406de00000000000000b617564696f436f646563730040abee0000000000000b',
  '766964656f436f6465637300406f800000000000000d766964656f46756e6374',
  '696f6e003ff000000000000000077061676555726c02001d687474703a2f2f65',
  '78616d706c652e6f72672f70686f6e652e68746d6c000e6f626a656374456e63',
  '6f64696e67004008000000000000000009',
);
const flashConnectValues = () => ['connect', 1, {
  app: 'sono', flashVer: 'WIN 11,2,202,235', swfUrl: 'http://example.org/flash_phone.swf',
  tcUrl: 'rtmp://127.0.0.1/sono', fpad: false, capabilities: 239, audioCodecs: 3575,
  videoCodecs: 252, videoFunction: 1, pageUrl: 'http://example.org/phone.html', objectEncoding: 3,
}];
// ffmpeg connect (src/amf/amf0/tests.rs ffmpeg_connect).
const ffmpegConnect = () => hex(
  '020007636f6e6e656374003ff00000000000000300036170700200046c697665',
  '0008666c61736856657202000d4c4e5820392c302c3132342c32000574635572',
  '6c02001a72746d703a2f2f3132372e302e302e313a313933352f6c6976650004',
  '667061640100000c6361706162696c697469657300402e000000000000000b61',
  '7564696f436f646563730040afce0000000000000b766964656f436f64656373',
  '00406f800000000000000d766964656f46756e6374696f6e003ff00000000000',
  '00000009',
);

test('decodes and re-encodes the Flash Player connect byte for byte', () => {
  const bytes = flashConnect();
  assert.equal(bytes.length, 305);
  const values = amf0Decode(bytes);
  assert.deepEqual(values, flashConnectValues());
  assert.equal(toHex(amf0Encode(flashConnectValues())), toHex(bytes));
});

test('decodes and re-encodes the ffmpeg connect', () => {
  const values = amf0Decode(ffmpegConnect());
  assert.equal(values.length, 3);
  assert.equal(values[2].app, 'live');
  assert.equal(values[2].tcUrl, 'rtmp://127.0.0.1:1935/live');
  assert.equal(values[2].audioCodecs, 4071);
  assert.equal(toHex(amf0Encode(values)), toHex(ffmpegConnect()));
});

test('every truncation of a value is an error', () => {
  for (const body of [flashConnect(), ffmpegConnect()]) {
    for (let cut = 1; cut < body.length; cut++) {
      if (cut === 10 || cut === 19) continue; // value boundaries: a shorter valid body
      assert.throws(() => amf0Decode(body.subarray(0, cut)), RtmpError, `cut ${cut}`);
    }
    assert.equal(amf0Decode(body.subarray(0, 10)).length, 1);
    assert.equal(amf0Decode(body.subarray(0, 19)).length, 2);
  }
});

test('the _result reply of the Rust vector', () => {
  const reply = ['_result', 1, { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
    { level: 'status', code: 'NetConnection.Connect.Success' }];
  const expected = [
    '0200075f726573756c74', '003ff0000000000000', '03',
    '0006666d7356657202000d464d532f332c302c312c313233', '000c6361706162696c6974696573',
    '00403f000000000000', '000009', '03', '00056c6576656c0200067374617475', '73',
    '0004636f6465', '02001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373', '000009',
  ].join('');
  assert.equal(toHex(amf0Encode(reply)), expected);
  assert.deepEqual(amf0Decode(hex(expected)), reply);
});

test('long strings switch marker automatically', () => {
  const short = 'a'.repeat(65535);
  const long = 'é'.repeat(40000); // 80,000 bytes
  assert.deepEqual([...amf0Encode([short]).subarray(0, 3)], [0x02, 0xff, 0xff]);
  const enc = amf0Encode([long]);
  assert.deepEqual([...enc.subarray(0, 5)], [0x0c, 0x00, 0x01, 0x38, 0x80]);
  assert.deepEqual(amf0Decode(enc), [long]);
});

test('scalars from the spec layouts', () => {
  const cases = [
    ['0040590000' + '00000000', 100], ['0101', true], ['0105', true], ['0100', false],
    ['020000', ''], ['05', null], ['06', undefined], ['0d', undefined],
    ['0c0000000368c3a9', 'hé'], ['0f000000043c612f3e', '<a/>'],
  ];
  for (const [h, v] of cases) assert.deepEqual(amf0Decode(hex(h)), [v], h);
  for (const [h, v] of [['00' + '4059000000000000', 100], ['0101', true], ['0100', false], ['020000', ''], ['05', null], ['06', undefined]]) {
    assert.equal(toHex(amf0Encode([v])), h);
  }
});

test('date keeps its time-zone field', () => {
  // 2012-01-01T00:00:00Z = 1325376000000 ms, tz -60 minutes (as the Rust vector)
  const bytes = new Uint8Array(11);
  bytes[0] = 0x0b;
  new DataView(bytes.buffer).setFloat64(1, 1325376000000);
  bytes[9] = 0xff; bytes[10] = 0xc4;
  const [d] = amf0Decode(bytes);
  assert.ok(d instanceof AmfDate);
  assert.equal(d.ms, 1325376000000);
  assert.equal(d.tz, -60);
  assert.equal(d.toDate().toISOString(), '2012-01-01T00:00:00.000Z');
  assert.equal(toHex(amf0Encode([d])), toHex(bytes));
  // a JS Date encodes with tz 0
  assert.equal(toHex(amf0Encode([new Date(1325376000000)])), toHex(bytes.subarray(0, 9)) + '0000');
});

test('ECMA array count is only a hint', () => {
  const bytes = hex('0800000000', '00086475726174696f6e', '000000000000000000',
    '0005776964746800', '4074000000000000', '000009');
  const [v] = amf0Decode(bytes);
  assert.ok(v instanceof EcmaArray);
  assert.deepEqual({ ...v }, { duration: 0, width: 320 });
  // encoding writes the real count
  assert.equal(toHex(amf0Encode([v])).slice(0, 10), '0800000002');
  assert.deepEqual({ ...amf0Decode(amf0Encode([v]))[0] }, { duration: 0, width: 320 });
});

test('strict array and typed object (Rust vector)', () => {
  const bytes = hex('0a00000002', '0101', '05', '100003612e42', '00017802000179', '000009');
  const [arr, typed] = amf0Decode(bytes);
  assert.deepEqual(arr, [true, null]);
  assert.deepEqual({ ...typed }, { x: 'y' });
  assert.equal(typed.amfClassName, 'a.B');
  assert.equal(toHex(amf0Encode([[true, null]])), '0a00000002010105');
});

test('empty name before a value is a member', () => {
  assert.deepEqual(amf0Decode(hex('03', '000005', '000009')), [{ '': null }]);
});

test('references name earlier complex values; bad and circular ones fail', () => {
  const [v] = amf0Decode(hex('0a00000002', '03', '000161', '003ff0000000000000', '000009', '070001'));
  assert.deepEqual(v, [{ a: 1 }, { a: 1 }]);
  assert.equal(v[0], v[1]);
  const vals = amf0Decode(hex('03', '000162', '0101', '000009', '070000', '070000'));
  assert.deepEqual(vals, [{ b: true }, { b: true }, { b: true }]);
  assert.throws(() => amf0Decode(hex('070000')), /reference to object 0/);
  assert.throws(() => amf0Decode(hex('0a00000001', '070001')), /reference to object 1/);
  assert.throws(() => amf0Decode(hex('03', '000473656c66', '070000', '000009')), /circular/);
});

test('unknown markers, stray object end and invalid UTF-8 fail clearly', () => {
  for (const m of [0x04, 0x0e, 0x11, 0x12, 0x7f, 0xff]) {
    assert.throws(() => amf0Decode(Uint8Array.of(m)), (e) => e instanceof RtmpError && e.code === 'AmfUnknownMarker');
  }
  assert.throws(() => amf0Decode(Uint8Array.of(0x09)), (e) => e.code === 'AmfUnexpectedObjectEnd');
  assert.throws(() => amf0Decode(hex('020002c328')), (e) => e.code === 'AmfInvalidUtf8');
  assert.throws(() => amf0Decode(hex('030001ff05000009')), (e) => e.code === 'AmfInvalidUtf8');
});

function nested(levels) {
  const parts = [];
  for (let i = 0; i < levels; i++) parts.push('0300016f');
  parts.push('05');
  for (let i = 0; i < levels; i++) parts.push('000009');
  return hex(parts.join(''));
}

test('depth limit allows 32 and rejects 33', () => {
  assert.equal(amf0Decode(nested(32)).length, 1);
  assert.throws(() => amf0Decode(nested(33)), (e) => e.code === 'AmfDepthExceeded');
  assert.throws(() => amf0Decode(nested(100000)), (e) => e.code === 'AmfDepthExceeded');
});

test('huge counts and lengths do not allocate', () => {
  assert.throws(() => amf0Decode(hex('0affffffff')), (e) => e.code === 'AmfTruncated');
  assert.throws(() => amf0Decode(hex('0cffffffff41')), (e) => e.code === 'AmfStringTooLong');
  assert.throws(() => amf0Decode(amf0Encode([Array(10).fill(null)]), { maxItems: 5 }), (e) => e.code === 'AmfTooManyItems');
  assert.throws(() => amf0Decode(amf0Encode(['four']), { maxStringLength: 3 }), (e) => e.code === 'AmfStringTooLong');
});

test('own properties only: "__proto__" from the network is plain data', () => {
  const bytes = amf0Encode([JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')]);
  const [v] = amf0Decode(bytes);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(v.polluted, undefined);
  assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
  assert.equal(({}).polluted, undefined);
});

test('NaN keeps its bits; values that AMF0 cannot carry are refused', () => {
  const b = new Uint8Array(9);
  new DataView(b.buffer).setFloat64(1, NaN);
  assert.ok(Number.isNaN(amf0Decode(b)[0]));
  assert.throws(() => amf0Encode([() => 1]), TypeError);
  assert.throws(() => amf0Encode([10n]), TypeError);
  const cyclic = {}; cyclic.self = cyclic;
  assert.throws(() => amf0Encode([cyclic]), /nesting/);
});

test('connect command object of the SDK round-trips (fourCcList strict array)', () => {
  const cmd = ['connect', 1, { app: 'phone', tcUrl: 'rtmp://h/phone', flashVer: 'JS', objectEncoding: 0, fourCcList: ['Opus'] }, 'token'];
  assert.deepEqual(amf0Decode(amf0Encode(cmd)), cmd);
  assert.ok(toHex(amf0Encode(cmd)).includes('000a' + Buffer.from('fourCcList').toString('hex') + '0a00000001020004' + Buffer.from('Opus').toString('hex')));
});
