// rtmp2sip-phone.js: the rtmp2sip web phone SDK, one ES module, no build step,
// no runtime dependencies.
//
// It speaks RTMP itself (Adobe "Real-Time Messaging Protocol" specification,
// 21 December 2012, cited below as "RTMP §x") with AMF0 commands (Adobe "Action
// Message Format -- AMF 0", cited as "AMF0 §x"), over a pluggable byte
// transport: by default a browser WebSocket carrying the raw RTMP byte stream
// (binary messages, boundaries meaningless), in tests a TCP socket. Audio is
// FLV audio (Adobe "Video File Format Specification v10.1", annex E.4.2.1,
// cited as "FLV E.4.2.1") for G.711 µ-law, and Enhanced RTMP v2 (veovera
// enhanced-rtmp v2, "ExAudioTagHeader", cited as "E-RTMP v2") for Opus.
//
// Layers, each usable on its own:
//   AMF0 ............ amf0Encode / amf0Decode
//   handshake ....... ClientHandshake (sans-IO)
//   chunking ........ ChunkReader / ChunkWriter (sans-IO)
//   connection ...... RtmpClient (drives a ByteTransport)
//   audio ........... ulawEncode / ulawDecode, audio payload builders/parser
//   API ............. Phone (EventTarget), modelled on SIP.js SimpleUser
//   Flash transport . FlashPhone: the same API through flash_phone/phone.swf (ExternalInterface)
//   browser media ... BrowserMedia (getUserMedia, AudioWorklet, WebCodecs)

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * A protocol error: bad bytes from the network (peer misbehaviour) or a limit
 * exceeded. `code` is a stable machine-readable name, e.g. "MessageTooLarge".
 */
export class RtmpError extends Error {
  /**
   * @param {string} code stable name of the error kind
   * @param {string} message human-readable explanation
   */
  constructor(code, message) {
    super(message);
    this.name = 'RtmpError';
    /** @type {string} */
    this.code = code;
  }
}

/**
 * An error reported by the gateway or the phone API: `code` is the
 * NetConnection / Sono code (e.g. "NetConnection.Connect.Rejected",
 * "Sono.Call.Forbidden"), `description` the gateway's text, `info` the whole
 * AMF info object when there is one.
 */
export class PhoneError extends Error {
  /**
   * @param {string} code NetConnection/NetStream/Sono code
   * @param {string} description reason text
   * @param {Record<string, unknown>|null} [info] the info object as received
   */
  constructor(code, description, info = null) {
    super(description ? `${code}: ${description}` : code);
    this.name = 'PhoneError';
    /** @type {string} */
    this.code = code;
    /** @type {string} */
    this.description = description || '';
    /** @type {Record<string, unknown>|null} */
    this.info = info;
  }
}

// ---------------------------------------------------------------------------
// Small byte helpers
// ---------------------------------------------------------------------------

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Concatenates byte arrays.
 * @param {Uint8Array[]} parts
 * @returns {Uint8Array}
 */
export function concatBytes(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Growable output buffer used by the encoders. */
class ByteSink {
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }
  /** @param {number} n */
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  /** @param {number} v */
  u8(v) { this.reserve(1); this.buf[this.len++] = v & 0xff; }
  /** @param {number} v */
  u16(v) { this.reserve(2); this.view.setUint16(this.len, v); this.len += 2; }
  /** @param {number} v */
  u24(v) { this.reserve(3); this.buf[this.len++] = (v >>> 16) & 0xff; this.buf[this.len++] = (v >>> 8) & 0xff; this.buf[this.len++] = v & 0xff; }
  /** @param {number} v */
  u32(v) { this.reserve(4); this.view.setUint32(this.len, v >>> 0); this.len += 4; }
  /** @param {number} v */
  u32le(v) { this.reserve(4); this.view.setUint32(this.len, v >>> 0, true); this.len += 4; }
  /** @param {number} v */
  i16(v) { this.reserve(2); this.view.setInt16(this.len, v); this.len += 2; }
  /** @param {number} v */
  f64(v) { this.reserve(8); this.view.setFloat64(this.len, v); this.len += 8; }
  /** @param {Uint8Array} b */
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  /** @returns {Uint8Array} */
  take() { return this.buf.slice(0, this.len); }
}

// ---------------------------------------------------------------------------
// AMF0 (AMF0 §2)
// ---------------------------------------------------------------------------

/** AMF0 type markers (AMF0 §2.1). */
export const AMF0 = Object.freeze({
  NUMBER: 0x00, BOOLEAN: 0x01, STRING: 0x02, OBJECT: 0x03, MOVIECLIP: 0x04,
  NULL: 0x05, UNDEFINED: 0x06, REFERENCE: 0x07, ECMA_ARRAY: 0x08,
  OBJECT_END: 0x09, STRICT_ARRAY: 0x0a, DATE: 0x0b, LONG_STRING: 0x0c,
  UNSUPPORTED: 0x0d, RECORDSET: 0x0e, XML_DOCUMENT: 0x0f, TYPED_OBJECT: 0x10,
  AVMPLUS: 0x11,
});

/**
 * An AMF0 ECMA array (AMF0 §2.10): an associative array, encoded with marker
 * 0x08 and a count. Its own enumerable properties are the entries. Decoded
 * ECMA arrays are instances of this class; plain objects encode as objects.
 */
export class EcmaArray {
  /** @param {Record<string, unknown>} [entries] */
  constructor(entries = {}) {
    for (const [k, v] of Object.entries(entries)) defineEntry(this, k, v);
  }
}

/**
 * An AMF0 date (AMF0 §2.13): `ms` since 1970-01-01T00:00:00Z (a double) and
 * `tz`, the time-zone field in minutes (spec: "reserved, should be 0"; kept as
 * sent). A JS `Date` encodes with tz 0.
 */
export class AmfDate {
  /** @param {number} ms milliseconds since the epoch @param {number} [tz] minutes */
  constructor(ms, tz = 0) {
    /** @type {number} */ this.ms = ms;
    /** @type {number} */ this.tz = tz;
  }
  /** @returns {Date} */
  toDate() { return new Date(this.ms); }
}

/**
 * Sets an own enumerable property, also for keys like "__proto__" that plain
 * assignment would treat specially (no prototype pollution from the network).
 * @param {object} obj @param {string} key @param {unknown} value
 */
function defineEntry(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Decoding limits (all decoders take them; defaults equal the gateway's Rust
 * AMF limits in src/amf/limits.rs).
 * @typedef {object} AmfLimits
 * @property {number} [maxDepth] maximum container nesting, default 32
 * @property {number} [maxItems] maximum values per decode call, default 65,536
 * @property {number} [maxStringLength] maximum bytes of one string, default 1 MiB
 * @property {number} [maxTotalBytes] maximum string bytes per decode call, default 16 MiB
 */

/** @type {Required<AmfLimits>} */
export const DEFAULT_AMF_LIMITS = Object.freeze({
  maxDepth: 32, maxItems: 65536, maxStringLength: 1 << 20, maxTotalBytes: 16 << 20,
});

/**
 * Encodes values as a sequence of AMF0 values (AMF0 §2). Mapping: number →
 * Number (0x00); boolean → Boolean (0x01); string → String (0x02), or Long
 * String (0x0C) above 65,535 UTF-8 bytes; null → Null (0x05); undefined →
 * Undefined (0x06); Array → Strict Array (0x0A); `Date` / {@link AmfDate} →
 * Date (0x0B); {@link EcmaArray} → ECMA Array (0x08); any other object →
 * anonymous Object (0x03) of its own enumerable properties.
 * @param {unknown[]} values
 * @returns {Uint8Array}
 * @throws {TypeError} for functions, symbols, bigints, or nesting deeper than 32
 */
export function amf0Encode(values) {
  const out = new ByteSink();
  for (const v of values) encodeValue(out, v, 0);
  return out.take();
}

/** @param {ByteSink} out @param {string} s */
function writeUtf8Short(out, s) {
  const b = utf8Encoder.encode(s);
  if (b.length > 0xffff) throw new TypeError(`AMF0 property name of ${b.length} bytes exceeds 65535`);
  out.u16(b.length);
  out.bytes(b);
}

/** @param {ByteSink} out @param {object} obj @param {number} depth */
function encodeProperties(out, obj, depth) {
  for (const [k, v] of Object.entries(obj)) {
    writeUtf8Short(out, k);
    encodeValue(out, v, depth + 1);
  }
  out.u16(0);
  out.u8(AMF0.OBJECT_END);
}

/** @param {ByteSink} out @param {unknown} v @param {number} depth */
function encodeValue(out, v, depth) {
  if (depth > DEFAULT_AMF_LIMITS.maxDepth) throw new TypeError('AMF0 encode: nesting deeper than 32 (a cycle?)');
  if (v === null) { out.u8(AMF0.NULL); return; }
  switch (typeof v) {
    case 'undefined': out.u8(AMF0.UNDEFINED); return;
    case 'number': out.u8(AMF0.NUMBER); out.f64(v); return;
    case 'boolean': out.u8(AMF0.BOOLEAN); out.u8(v ? 1 : 0); return;
    case 'string': {
      const b = utf8Encoder.encode(v);
      if (b.length <= 0xffff) { out.u8(AMF0.STRING); out.u16(b.length); }
      else { out.u8(AMF0.LONG_STRING); out.u32(b.length); }
      out.bytes(b);
      return;
    }
    case 'object': {
      if (Array.isArray(v)) {
        out.u8(AMF0.STRICT_ARRAY);
        out.u32(v.length);
        for (const e of v) encodeValue(out, e, depth + 1);
        return;
      }
      if (v instanceof Date || v instanceof AmfDate) {
        out.u8(AMF0.DATE);
        out.f64(v instanceof Date ? v.getTime() : v.ms);
        out.i16(v instanceof Date ? 0 : v.tz);
        return;
      }
      if (v instanceof EcmaArray) {
        out.u8(AMF0.ECMA_ARRAY);
        out.u32(Object.keys(v).length);
        encodeProperties(out, v, depth);
        return;
      }
      out.u8(AMF0.OBJECT);
      encodeProperties(out, /** @type {object} */ (v), depth);
      return;
    }
    default:
      throw new TypeError(`AMF0 cannot encode a ${typeof v}`);
  }
}

/** Reader state of one AMF0 decode call. */
class AmfReader {
  /** @param {Uint8Array} bytes @param {Required<AmfLimits>} limits */
  constructor(bytes, limits) {
    this.b = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.p = 0;
    this.limits = limits;
    this.items = 0;
    this.strBytes = 0;
    /** @type {{value: object, done: boolean}[]} complex values, for references (AMF0 §2.9) */
    this.refs = [];
  }
  /** @param {number} n */
  need(n) {
    if (this.p + n > this.b.length) throw new RtmpError('AmfTruncated', `AMF0: truncated value (need ${n} bytes at offset ${this.p}, have ${this.b.length - this.p})`);
  }
  u8() { this.need(1); return this.b[this.p++]; }
  u16() { this.need(2); const x = this.v.getUint16(this.p); this.p += 2; return x; }
  u32() { this.need(4); const x = this.v.getUint32(this.p); this.p += 4; return x; }
  f64() { this.need(8); const x = this.v.getFloat64(this.p); this.p += 8; return x; }
  /** @param {number} len */
  utf8(len) {
    if (len > this.limits.maxStringLength) throw new RtmpError('AmfStringTooLong', `AMF0: string of ${len} bytes exceeds the limit of ${this.limits.maxStringLength}`);
    this.need(len);
    this.strBytes += len;
    if (this.strBytes > this.limits.maxTotalBytes) throw new RtmpError('AmfTotalBytesExceeded', `AMF0: more than ${this.limits.maxTotalBytes} string bytes in one message`);
    let s;
    try { s = utf8Decoder.decode(this.b.subarray(this.p, this.p + len)); }
    catch { throw new RtmpError('AmfInvalidUtf8', `AMF0: invalid UTF-8 in a string at offset ${this.p}`); }
    this.p += len;
    return s;
  }
  item() {
    if (++this.items > this.limits.maxItems) throw new RtmpError('AmfTooManyItems', `AMF0: more than ${this.limits.maxItems} values in one message`);
  }
  /** @param {number} depth @returns {unknown} */
  value(depth) {
    this.item();
    const m = this.u8();
    switch (m) {
      case AMF0.NUMBER: return this.f64();
      case AMF0.BOOLEAN: return this.u8() !== 0;
      case AMF0.STRING: return this.utf8(this.u16());
      case AMF0.LONG_STRING: return this.utf8(this.u32());
      case AMF0.XML_DOCUMENT: return this.utf8(this.u32());
      case AMF0.NULL: return null;
      case AMF0.UNDEFINED: return undefined;
      case AMF0.UNSUPPORTED: return undefined;
      case AMF0.OBJECT: return this.properties({}, depth);
      case AMF0.TYPED_OBJECT: {
        const className = this.utf8(this.u16());
        const obj = {};
        Object.defineProperty(obj, 'amfClassName', { value: className, enumerable: false });
        return this.properties(obj, depth);
      }
      case AMF0.ECMA_ARRAY:
        this.u32(); // the count is only a hint (AMF0 §2.10); entries end with 0x000009
        return this.properties(new EcmaArray(), depth);
      case AMF0.STRICT_ARRAY: {
        const count = this.u32();
        this.enter(depth);
        // Every element is at least one byte: never trust the count beyond the input.
        if (count > this.b.length - this.p) throw new RtmpError('AmfTruncated', `AMF0: strict array of ${count} elements with ${this.b.length - this.p} bytes left`);
        /** @type {unknown[]} */
        const arr = [];
        const ref = { value: arr, done: false };
        this.refs.push(ref);
        for (let i = 0; i < count; i++) arr.push(this.value(depth + 1));
        ref.done = true;
        return arr;
      }
      case AMF0.DATE: {
        const ms = this.f64();
        this.need(2);
        const tz = this.v.getInt16(this.p); this.p += 2;
        return new AmfDate(ms, tz);
      }
      case AMF0.REFERENCE: {
        const i = this.u16();
        const ref = this.refs[i];
        if (!ref) throw new RtmpError('AmfBadReference', `AMF0: reference to object ${i}, only ${this.refs.length} seen`);
        if (!ref.done) throw new RtmpError('AmfCircularReference', `AMF0: circular reference to object ${i}`);
        return ref.value;
      }
      case AMF0.OBJECT_END:
        throw new RtmpError('AmfUnexpectedObjectEnd', 'AMF0: object-end marker outside an object');
      default:
        throw new RtmpError('AmfUnknownMarker', `AMF0: unsupported type marker 0x${m.toString(16).padStart(2, '0')}`);
    }
  }
  /** @param {number} depth */
  enter(depth) {
    if (depth >= this.limits.maxDepth) throw new RtmpError('AmfDepthExceeded', `AMF0: nesting deeper than ${this.limits.maxDepth}`);
  }
  /** @template {object} T @param {T} obj @param {number} depth @returns {T} */
  properties(obj, depth) {
    this.enter(depth);
    const ref = { value: obj, done: false };
    this.refs.push(ref);
    for (;;) {
      const klen = this.u16();
      if (klen === 0) {
        this.need(1);
        if (this.b[this.p] === AMF0.OBJECT_END) { this.p++; break; }
      }
      const key = this.utf8(klen);
      defineEntry(obj, key, this.value(depth + 1));
    }
    ref.done = true;
    return obj;
  }
}

/**
 * Decodes a whole AMF0 message body into its values (AMF0 §2). Objects become
 * plain objects (keys as own properties, "__proto__" included as data), ECMA
 * arrays {@link EcmaArray}, dates {@link AmfDate}, XML documents strings,
 * typed objects plain objects with a non-enumerable `amfClassName`. A
 * reference (0x07) yields the same JS object as the one it names.
 * @param {Uint8Array} bytes
 * @param {AmfLimits} [limits] default {@link DEFAULT_AMF_LIMITS}
 * @returns {unknown[]}
 * @throws {RtmpError} on truncated, malformed or over-limit input (never
 *   allocates beyond what the input length and limits allow)
 */
export function amf0Decode(bytes, limits = {}) {
  const r = new AmfReader(bytes, { ...DEFAULT_AMF_LIMITS, ...limits });
  /** @type {unknown[]} */
  const out = [];
  while (r.p < bytes.length) out.push(r.value(0));
  return out;
}

// ---------------------------------------------------------------------------
// Handshake (RTMP §5.2)
// ---------------------------------------------------------------------------

/** Size of C1/S1/C2/S2 in bytes (RTMP §5.2.3). */
export const HANDSHAKE_SIZE = 1536;

/**
 * The client side of the plain RTMP handshake (RTMP §5.2), sans-IO.
 * `start()` gives C0+C1 (version 3; time, four zero bytes, 1528 random bytes).
 * `feed(bytes)` consumes S0/S1/S2 as they arrive, in any split: it returns C2
 * (the echo of S1) once S1 is complete, and `done` with the bytes after S2.
 */
export class ClientHandshake {
  /**
   * @param {object} [opts]
   * @param {number} [opts.time] C1's time field, ms (default 0)
   * @param {(buf: Uint8Array) => void} [opts.random] fills random bytes (default crypto.getRandomValues)
   */
  constructor({ time = 0, random } = {}) {
    this.time = time >>> 0;
    this.random = random || ((b) => globalThis.crypto.getRandomValues(b));
    /** @type {Uint8Array|null} */
    this.c1 = null;
    /** @type {Uint8Array} */
    this.buf = new Uint8Array(0);
    this.c2Sent = false;
    this.done = false;
    /** S0's version byte once read. @type {number|null} */
    this.serverVersion = null;
    /** Whether S2 echoed C1's random part (plain handshake servers do). @type {boolean|null} */
    this.s2EchoesC1 = null;
  }

  /** @returns {Uint8Array} C0 + C1, 1537 bytes */
  start() {
    const c1 = new Uint8Array(HANDSHAKE_SIZE);
    new DataView(c1.buffer).setUint32(0, this.time);
    // bytes 4..7 zero: the plain (non-digest) handshake
    // crypto.getRandomValues fills at most 65,536 bytes per call: fine here.
    this.random(c1.subarray(8));
    this.c1 = c1;
    const out = new Uint8Array(1 + HANDSHAKE_SIZE);
    out[0] = 3;
    out.set(c1, 1);
    return out;
  }

  /**
   * @param {Uint8Array} bytes bytes from the server
   * @returns {{ send: Uint8Array|null, done: boolean, rest: Uint8Array }}
   *   `send`: C2 to write (once); `rest`: bytes after S2 (chunk stream) when done
   * @throws {RtmpError} when S0 is not version 3
   */
  feed(bytes) {
    if (this.done) return { send: null, done: true, rest: bytes };
    if (!this.c1) throw new RtmpError('HandshakeOrder', 'handshake: feed() before start()');
    this.buf = this.buf.length ? concatBytes([this.buf, bytes]) : bytes;
    if (this.serverVersion === null && this.buf.length >= 1) {
      this.serverVersion = this.buf[0];
      if (this.serverVersion !== 3) throw new RtmpError('HandshakeVersion', `handshake: server answered RTMP version ${this.serverVersion}, expected 3 (not an RTMP server?)`);
    }
    let send = null;
    if (!this.c2Sent && this.buf.length >= 1 + HANDSHAKE_SIZE) {
      send = this.buf.slice(1, 1 + HANDSHAKE_SIZE);
      this.c2Sent = true;
    }
    const total = 1 + 2 * HANDSHAKE_SIZE;
    if (this.buf.length >= total) {
      const s2 = this.buf.subarray(1 + HANDSHAKE_SIZE, total);
      let same = true;
      for (let i = 8; i < HANDSHAKE_SIZE; i++) if (s2[i] !== this.c1[i]) { same = false; break; }
      this.s2EchoesC1 = same;
      this.done = true;
      const rest = this.buf.slice(total);
      this.buf = new Uint8Array(0);
      return { send, done: true, rest };
    }
    return { send, done: false, rest: new Uint8Array(0) };
  }
}

// ---------------------------------------------------------------------------
// Chunk stream (RTMP §5.3)
// ---------------------------------------------------------------------------

/** RTMP message type ids (RTMP §5.4, §6.2, §7.1). */
export const MSG = Object.freeze({
  SET_CHUNK_SIZE: 1, ABORT: 2, ACK: 3, USER_CONTROL: 4, WINDOW_ACK_SIZE: 5,
  SET_PEER_BANDWIDTH: 6, AUDIO: 8, VIDEO: 9, DATA_AMF3: 15, SHARED_OBJECT_AMF3: 16,
  COMMAND_AMF3: 17, DATA_AMF0: 18, SHARED_OBJECT_AMF0: 19, COMMAND_AMF0: 20, AGGREGATE: 22,
});

/**
 * One RTMP message (RTMP §5.3.1 / §6.1).
 * @typedef {object} RtmpMessage
 * @property {number} csid chunk stream id, 2..65599
 * @property {number} timestamp ms, unsigned 32-bit, wraps at 2^32
 * @property {number} type message type id (see {@link MSG})
 * @property {number} streamId message stream id, unsigned 32-bit
 * @property {Uint8Array} payload message body
 */

/**
 * Reader limits.
 * @typedef {object} ChunkLimits
 * @property {number} [maxMessageSize] largest message accepted, bytes (default 262,144, as `[limits] max_message_size`)
 * @property {number} [maxChunkStreams] most chunk stream ids per connection (default 64)
 */

const EXT_TS = 0xffffff;

/**
 * Reassembles RTMP messages from the chunk stream (RTMP §5.3), sans-IO:
 * `push(bytes)` with any split of the input returns the complete messages.
 * Handles fmt 0-3, 1/2/3-byte chunk stream ids, extended timestamps (also on
 * fmt 3 chunks: the 4 bytes are consumed when they repeat the stored value,
 * as Flash and ffmpeg send them, and tolerated when absent), Set Chunk Size
 * (type 1) and Abort (type 2) itself (both are still returned). Memory is
 * bounded: a message longer than `maxMessageSize` or more than
 * `maxChunkStreams` chunk streams is an error, and a message's buffer is
 * allocated only once its header passed that check.
 */
export class ChunkReader {
  /** @param {ChunkLimits} [limits] */
  constructor({ maxMessageSize = 262144, maxChunkStreams = 64 } = {}) {
    this.maxMessageSize = maxMessageSize;
    this.maxChunkStreams = maxChunkStreams;
    /** inbound chunk size, bytes (RTMP §5.4.1; 128 until Set Chunk Size) */
    this.chunkSize = 128;
    /** @type {Map<number, {ts: number, delta: number, len: number, type: number, sid: number, ext: number|null, buf: Uint8Array|null, got: number}>} */
    this.streams = new Map();
    this.pending = new Uint8Array(0);
    /** total bytes pushed, for Acknowledgement (RTMP §5.4.3) */
    this.bytesReceived = 0;
    /** @type {RtmpError|null} */
    this.failed = null;
  }

  /**
   * @param {Uint8Array} bytes
   * @returns {RtmpMessage[]}
   * @throws {RtmpError} on a protocol violation or limit; the reader then stays failed
   */
  push(bytes) {
    if (this.failed) throw this.failed;
    this.bytesReceived += bytes.length;
    const data = this.pending.length ? concatBytes([this.pending, bytes]) : bytes;
    /** @type {RtmpMessage[]} */
    const out = [];
    let p = 0;
    try {
      for (;;) {
        const n = this.readChunk(data, p, out);
        if (n === 0) break;
        p += n;
      }
    } catch (e) {
      this.failed = e instanceof RtmpError ? e : new RtmpError('ChunkError', String(e));
      throw this.failed;
    }
    this.pending = data.slice(p);
    return out;
  }

  /**
   * Reads one chunk at `p`; returns bytes consumed, 0 when incomplete.
   * @param {Uint8Array} d @param {number} p @param {RtmpMessage[]} out
   */
  readChunk(d, p, out) {
    const start = p;
    if (p >= d.length) return 0;
    const b0 = d[p++];
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    if (csid === 0) { if (p + 1 > d.length) return 0; csid = 64 + d[p++]; }
    else if (csid === 1) { if (p + 2 > d.length) return 0; csid = 64 + d[p] + d[p + 1] * 256; p += 2; }
    const hlen = [11, 7, 3, 0][fmt];
    if (p + hlen > d.length) return 0;
    let st = this.streams.get(csid);
    if (!st) {
      if (fmt !== 0) throw new RtmpError('MissingMessageHeader', `RTMP chunk: fmt ${fmt} header on chunk stream ${csid} that has no previous header`);
      if (this.streams.size >= this.maxChunkStreams) throw new RtmpError('TooManyChunkStreams', `RTMP chunk: more than ${this.maxChunkStreams} chunk streams`);
    }
    const inProgress = !!(st && st.buf);
    if (inProgress && fmt !== 3) throw new RtmpError('InterruptedMessage', `RTMP chunk: fmt ${fmt} header on chunk stream ${csid} in the middle of a message`);
    const u24 = (/** @type {number} */ o) => (d[o] << 16) | (d[o + 1] << 8) | d[o + 2];
    const u32 = (/** @type {number} */ o) => ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
    let ts = 0, delta = 0, len = 0, type = 0, sid = 0, ext = null;
    if (fmt === 3) {
      const prev = /** @type {NonNullable<typeof st>} */ (st);
      ({ len, type, sid, delta, ext } = prev);
      if (prev.ext !== null) {
        // RTMP §5.3.1.3: repeated on fmt 3 chunks; consume only if equal.
        if (p + 4 > d.length) return 0;
        if (u32(p) === prev.ext) p += 4;
      }
      ts = inProgress ? prev.ts : (prev.ts + prev.delta) >>> 0;
    } else {
      const field = u24(p);
      if (fmt <= 1) { len = u24(p + 3); type = d[p + 6]; }
      if (fmt === 0) sid = (d[p + 7] | (d[p + 8] << 8) | (d[p + 9] << 16) | (d[p + 10] << 24)) >>> 0;
      p += hlen;
      let value = field;
      if (field === EXT_TS) { if (p + 4 > d.length) return 0; value = u32(p); p += 4; ext = value; }
      if (fmt === 0) { ts = value; delta = value; }
      else {
        const prev = /** @type {NonNullable<typeof st>} */ (st);
        if (fmt === 2) { len = prev.len; type = prev.type; }
        sid = prev.sid;
        delta = value;
        ts = (prev.ts + value) >>> 0;
      }
    }
    if (len > this.maxMessageSize) throw new RtmpError('MessageTooLarge', `RTMP chunk: message of ${len} bytes exceeds the limit of ${this.maxMessageSize}`);
    const got = inProgress ? /** @type {NonNullable<typeof st>} */ (st).got : 0;
    const take = Math.min(this.chunkSize, len - got);
    if (p + take > d.length) return 0;
    // The chunk is complete in the input: commit state.
    if (!st) { st = { ts, delta, len, type, sid, ext, buf: null, got: 0 }; this.streams.set(csid, st); }
    Object.assign(st, { ts, delta, len, type, sid, ext });
    if (!st.buf) { st.buf = new Uint8Array(len); st.got = 0; }
    st.buf.set(d.subarray(p, p + take), st.got);
    st.got += take;
    p += take;
    if (st.got >= len) {
      const msg = { csid, timestamp: ts, type, streamId: sid, payload: st.buf };
      st.buf = null;
      st.got = 0;
      this.control(msg);
      out.push(msg);
    }
    return p - start;
  }

  /** Applies Set Chunk Size and Abort (RTMP §5.4.1, §5.4.2). @param {RtmpMessage} m */
  control(m) {
    if (m.streamId !== 0 && m.csid !== 2) return;
    if (m.type === MSG.SET_CHUNK_SIZE) {
      if (m.payload.length < 4) throw new RtmpError('BadControlMessage', 'RTMP: Set Chunk Size shorter than 4 bytes');
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0);
      if (v === 0 || v > 0x7fffffff) throw new RtmpError('InvalidChunkSize', `RTMP: invalid chunk size ${v}`);
      this.chunkSize = v;
    } else if (m.type === MSG.ABORT) {
      if (m.payload.length < 4) throw new RtmpError('BadControlMessage', 'RTMP: Abort shorter than 4 bytes');
      const id = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0);
      const st = this.streams.get(id);
      if (st) { st.buf = null; st.got = 0; }
    }
  }
}

/**
 * Writes RTMP messages as chunks (RTMP §5.3), sans-IO. Header compression as
 * the spec's examples (RTMP §5.3.2): fmt 0 for a new chunk stream, another
 * message stream or a timestamp going backwards; fmt 1 when length or type
 * change; fmt 2 when only the delta changes; fmt 3 when nothing does; fmt 3
 * for continuation chunks. Extended timestamps (field 0xFFFFFF + 4 bytes) are
 * repeated on fmt 3 chunks, as Flash does.
 */
export class ChunkWriter {
  constructor() {
    /** outbound chunk size, bytes (128 until {@link setChunkSizeMessage} is written) */
    this.chunkSize = 128;
    /** @type {Map<number, {ts: number, delta: number, len: number, type: number, sid: number}>} */
    this.streams = new Map();
    this.bytesWritten = 0;
  }

  /**
   * Encodes one message.
   * @param {RtmpMessage} m
   * @returns {Uint8Array}
   * @throws {RangeError} for a csid outside 2..65599 or a payload of 16 MiB or more
   */
  write(m) {
    const { csid, type, payload } = m;
    const ts = m.timestamp >>> 0;
    const sid = m.streamId >>> 0;
    if (!(csid >= 2 && csid <= 65599)) throw new RangeError(`RTMP chunk stream id ${csid} outside 2..65599`);
    if (payload.length > 0xffffff) throw new RangeError(`RTMP message of ${payload.length} bytes exceeds 16 MiB - 1`);
    const prev = this.streams.get(csid);
    let fmt = 0;
    let delta = ts;
    if (prev && prev.sid === sid) {
      const d = (ts - prev.ts) >>> 0;
      if (d < 0x80000000) {
        delta = d;
        if (prev.len !== payload.length || prev.type !== type) fmt = 1;
        else fmt = d === prev.delta ? 3 : 2;
      }
    }
    const field = fmt === 0 ? ts : delta;
    const ext = field >= EXT_TS;
    const out = new ByteSink(payload.length + 18 + Math.ceil(payload.length / this.chunkSize) * 8);
    const basic = (/** @type {number} */ f) => {
      if (csid < 64) out.u8((f << 6) | csid);
      else if (csid < 320) { out.u8(f << 6); out.u8(csid - 64); }
      else { out.u8((f << 6) | 1); out.u8((csid - 64) & 0xff); out.u8((csid - 64) >> 8); }
    };
    basic(fmt);
    if (fmt <= 2) out.u24(ext ? EXT_TS : field);
    if (fmt <= 1) { out.u24(payload.length); out.u8(type); }
    if (fmt === 0) out.u32le(sid);
    if (ext) out.u32(field);
    let o = Math.min(this.chunkSize, payload.length);
    out.bytes(payload.subarray(0, o));
    while (o < payload.length) {
      basic(3);
      if (ext) out.u32(field);
      const n = Math.min(this.chunkSize, payload.length - o);
      out.bytes(payload.subarray(o, o + n));
      o += n;
    }
    this.streams.set(csid, { ts, delta, len: payload.length, type, sid });
    const bytes = out.take();
    this.bytesWritten += bytes.length;
    return bytes;
  }

  /**
   * Encodes Set Chunk Size (RTMP §5.4.1) and applies it to the following messages.
   * @param {number} size bytes, 1..0x7FFFFFFF
   * @returns {Uint8Array}
   */
  setChunkSizeMessage(size) {
    if (!(size >= 1 && size <= 0x7fffffff)) throw new RangeError(`invalid RTMP chunk size ${size}`);
    const bytes = this.write(controlMessage(MSG.SET_CHUNK_SIZE, u32be(size)));
    this.chunkSize = size;
    return bytes;
  }
}

/** @param {number} v @returns {Uint8Array} */
function u32be(v) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

/**
 * A protocol control message on chunk stream 2, message stream 0 (RTMP §5.4).
 * @param {number} type @param {Uint8Array} payload @returns {RtmpMessage}
 */
export function controlMessage(type, payload) {
  return { csid: 2, timestamp: 0, type, streamId: 0, payload };
}

// ---------------------------------------------------------------------------
// Byte transports
// ---------------------------------------------------------------------------

/**
 * A bidirectional byte stream carrying RTMP: the phone sets `onData` and
 * `onClose`, then calls `send` / `close`. `bufferedAmount` (bytes queued, not
 * yet sent) lets the phone drop audio rather than queue it when the link is slow.
 * @typedef {object} ByteTransport
 * @property {(bytes: Uint8Array) => void} send
 * @property {() => void} close
 * @property {((bytes: Uint8Array) => void) | null} onData
 * @property {((error?: Error) => void) | null} onClose
 * @property {number} [bufferedAmount]
 */

/**
 * Opens a transport for a URL; resolves once bytes can be sent.
 * @typedef {(url: string) => Promise<ByteTransport>} TransportFactory
 */

/**
 * The default transport: RTMP over WebSocket, the byte-stream tunnel
 * convention (websockify, Ruffle's socketProxy): binary messages carry the
 * RTMP bytes, boundaries mean nothing; subprotocol `binary` offered.
 * Browser only (needs a global `WebSocket`).
 * @type {TransportFactory}
 */
export function webSocketTransport(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
    ws.binaryType = 'arraybuffer';
    let open = false;
    /** @type {ByteTransport} */
    const t = {
      onData: null,
      onClose: null,
      send(bytes) { ws.send(bytes); },
      close() { try { ws.close(1000); } catch { /* already closed */ } },
      get bufferedAmount() { return ws.bufferedAmount; },
    };
    ws.onopen = () => { open = true; resolve(t); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') { t.close(); t.onClose?.(new Error('WebSocket text frame: the RTMP tunnel carries binary messages only')); return; }
      t.onData?.(new Uint8Array(ev.data));
    };
    ws.onerror = () => { if (!open) reject(new PhoneError('NetConnection.Connect.Failed', `WebSocket to ${url} failed`)); };
    ws.onclose = (ev) => {
      if (!open) { reject(new PhoneError('NetConnection.Connect.Failed', `WebSocket to ${url} closed (${ev.code})`)); return; }
      t.onClose?.(ev.code === 1000 ? undefined : new Error(`WebSocket closed: ${ev.code} ${ev.reason || ''}`.trim()));
    };
  });
}

// ---------------------------------------------------------------------------
// RtmpClient: a NetConnection over a ByteTransport
// ---------------------------------------------------------------------------

/** Chunk stream ids this client uses (any 3..65599 would do). */
const CSID_COMMAND = 3;
const CSID_STREAM = 5;
const CSID_AUDIO = 6;

/** User Control event types (RTMP §7.1.7). */
export const USER_CONTROL = Object.freeze({
  STREAM_BEGIN: 0, STREAM_EOF: 1, STREAM_DRY: 2, SET_BUFFER_LENGTH: 3,
  STREAM_IS_RECORDED: 4, PING_REQUEST: 6, PING_RESPONSE: 7,
});

/**
 * A command received from the server (RTMP §7.1.1 / §7.2).
 * @typedef {object} RtmpCommand
 * @property {string} name e.g. "onStatus", "_result"
 * @property {number} transactionId
 * @property {unknown} commandObject usually null
 * @property {unknown[]} args the values after the command object
 * @property {number} streamId message stream id it arrived on
 */

/**
 * An RTMP client connection (NetConnection) driving a {@link ByteTransport}:
 * handshake, chunking, protocol control (Set Chunk Size, Window Ack Size →
 * Acknowledgements, Set Peer Bandwidth, ping → pong), and AMF0 commands with
 * transaction ids. Product logic lives in {@link Phone}.
 */
export class RtmpClient {
  /**
   * @param {ByteTransport} transport
   * @param {object} [opts]
   * @param {number} [opts.chunkSize] outbound chunk size announced after the handshake, bytes (default 4096)
   * @param {ChunkLimits} [opts.limits]
   * @param {(cmd: RtmpCommand) => void} [opts.onCommand] commands that are not replies
   * @param {(msg: RtmpMessage) => void} [opts.onAudio] audio messages (type 8)
   * @param {(msg: RtmpMessage) => void} [opts.onUserControl] user control events other than ping
   * @param {(error?: Error) => void} [opts.onClose]
   */
  constructor(transport, opts = {}) {
    this.transport = transport;
    this.opts = opts;
    this.chunkSize = opts.chunkSize ?? 4096;
    this.reader = new ChunkReader(opts.limits);
    this.writer = new ChunkWriter();
    this.handshake = new ClientHandshake({ time: 0 });
    /** server's Window Acknowledgement Size, bytes (RTMP §5.4.4) */
    this.ackWindow = 0;
    this.lastAck = 0;
    /** every byte received on this connection, handshake included, for Acknowledgement sequence numbers */
    this.bytesIn = 0;
    this.nextTid = 1;
    /** @type {Map<number, {resolve: (v: RtmpCommand) => void, reject: (e: Error) => void, name: string, sentAt: number}>} */
    this.pending = new Map();
    /** last command round trip (invoke → _result/_error), ms; null before any */
    this.rttMs = /** @type {number|null} */ (null);
    this.closed = false;
    /** @type {((v?: unknown) => void) | null} */
    this.handshakeDone = null;
    /** @type {((e: Error) => void) | null} */
    this.handshakeFailed = null;
    transport.onData = (b) => this.onData(b);
    transport.onClose = (e) => this.onTransportClose(e);
  }

  /** Runs the handshake; resolves when the chunk stream may begin. @returns {Promise<void>} */
  start() {
    return new Promise((resolve, reject) => {
      this.handshakeDone = () => resolve();
      this.handshakeFailed = reject;
      this.transport.send(this.handshake.start());
    });
  }

  /** @param {Uint8Array} bytes */
  onData(bytes) {
    if (this.closed) return;
    this.bytesIn += bytes.length;
    try {
      if (!this.handshake.done) {
        const r = this.handshake.feed(bytes);
        if (r.send) this.transport.send(r.send);
        if (!r.done) return;
        this.transport.send(this.writer.setChunkSizeMessage(this.chunkSize));
        this.handshakeDone?.();
        bytes = r.rest;
        if (!bytes.length) return;
      }
      for (const m of this.reader.push(bytes)) this.onMessage(m);
      this.maybeAck();
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Sends an Acknowledgement when a window's worth arrived (RTMP §5.4.3). */
  maybeAck() {
    const n = this.bytesIn;
    if (this.ackWindow > 0 && n - this.lastAck >= this.ackWindow) {
      this.lastAck = n;
      this.send(controlMessage(MSG.ACK, u32be(n % 0x100000000)));
    }
  }

  /** @param {RtmpMessage} m */
  onMessage(m) {
    const p = m.payload;
    const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    switch (m.type) {
      case MSG.WINDOW_ACK_SIZE:
        if (p.length >= 4) this.ackWindow = dv.getUint32(0);
        return;
      case MSG.SET_PEER_BANDWIDTH:
        // RTMP §5.4.5: answer with Window Acknowledgement Size when it changes.
        if (p.length >= 4) this.send(controlMessage(MSG.WINDOW_ACK_SIZE, u32be(dv.getUint32(0))));
        return;
      case MSG.USER_CONTROL:
        if (p.length >= 6 && dv.getUint16(0) === USER_CONTROL.PING_REQUEST) {
          const pong = new Uint8Array(6);
          new DataView(pong.buffer).setUint16(0, USER_CONTROL.PING_RESPONSE);
          pong.set(p.subarray(2, 6), 2);
          this.send(controlMessage(MSG.USER_CONTROL, pong));
        } else this.opts.onUserControl?.(m);
        return;
      case MSG.AUDIO:
        this.opts.onAudio?.(m);
        return;
      case MSG.COMMAND_AMF3:
      case MSG.COMMAND_AMF0: {
        // An AMF3 command message starts with a 0x00 byte, then AMF0 (we asked objectEncoding 0).
        const body = m.type === MSG.COMMAND_AMF3 ? p.subarray(1) : p;
        const values = amf0Decode(body);
        if (typeof values[0] !== 'string' || typeof values[1] !== 'number') throw new RtmpError('BadCommand', 'RTMP: command message without a name and transaction id');
        /** @type {RtmpCommand} */
        const cmd = { name: values[0], transactionId: values[1], commandObject: values[2] ?? null, args: values.slice(3), streamId: m.streamId };
        this.onCommand(cmd);
        return;
      }
      default:
        return; // Set Chunk Size / Abort applied by the reader; ack, data, video ignored.
    }
  }

  /** @param {RtmpCommand} cmd */
  onCommand(cmd) {
    if ((cmd.name === '_result' || cmd.name === '_error') && this.pending.has(cmd.transactionId)) {
      const t = /** @type {NonNullable<ReturnType<typeof this.pending.get>>} */ (this.pending.get(cmd.transactionId));
      this.pending.delete(cmd.transactionId);
      this.rttMs = Date.now() - t.sentAt;
      if (cmd.name === '_result') t.resolve(cmd);
      else {
        const info = /** @type {any} */ (cmd.args[0] ?? cmd.commandObject ?? {});
        t.reject(new PhoneError(String(info?.code ?? `${t.name}._error`), String(info?.description ?? info?.reason ?? ''), info));
      }
      return;
    }
    this.opts.onCommand?.(cmd);
  }

  /**
   * Drops a pending transaction without settling it (for commands whose
   * success is reported by events rather than a `_result`, like `dial`).
   * @param {number} tid
   */
  forget(tid) {
    this.pending.delete(tid);
  }

  /** @param {RtmpMessage} m */
  send(m) {
    if (this.closed) return;
    this.transport.send(this.writer.write(m));
  }

  /**
   * Sends a command (RTMP §7.1.1). With `expectReply` it gets a fresh
   * transaction id and resolves with the `_result` (rejects with a
   * {@link PhoneError} on `_error` or when the connection closes).
   * @param {string} name
   * @param {unknown[]} args values after the command object
   * @param {{ streamId?: number, csid?: number, commandObject?: unknown, expectReply?: boolean, tid?: number }} [o]
   * @returns {Promise<RtmpCommand>|null}
   */
  invoke(name, args, o = {}) {
    const tid = o.tid ?? (o.expectReply ? this.nextTid++ : 0);
    const payload = amf0Encode([name, tid, o.commandObject ?? null, ...args]);
    const p = o.expectReply
      ? new Promise((resolve, reject) => { this.pending.set(tid, { resolve, reject, name, sentAt: Date.now() }); })
      : null;
    if (this.closed) {
      this.pending.delete(tid);
      return p && Promise.reject(new PhoneError('NetConnection.Connect.Closed', 'not connected'));
    }
    this.send({ csid: o.csid ?? (o.streamId ? CSID_STREAM : CSID_COMMAND), timestamp: 0, type: MSG.COMMAND_AMF0, streamId: o.streamId ?? 0, payload });
    return /** @type {Promise<RtmpCommand>|null} */ (p);
  }

  /**
   * Sends one audio message on a publishing stream.
   * @param {number} streamId @param {number} timestampMs @param {Uint8Array} payload FLV / E-RTMP audio body
   */
  sendAudio(streamId, timestampMs, payload) {
    this.send({ csid: CSID_AUDIO, timestamp: timestampMs >>> 0, type: MSG.AUDIO, streamId, payload });
  }

  /** @param {Error} e */
  fail(e) {
    this.close(e);
  }

  /** @param {Error} [e] */
  onTransportClose(e) {
    this.close(e ?? new PhoneError('NetConnection.Connect.Closed', 'the gateway closed the connection'), false);
  }

  /**
   * Closes the connection; pending invokes reject.
   * @param {Error} [e] the reason (absent: closed by us)
   * @param {boolean} [closeTransport]
   */
  close(e, closeTransport = true) {
    if (this.closed) return;
    this.closed = true;
    if (closeTransport) { try { this.transport.close(); } catch { /* ignore */ } }
    const err = e ?? new PhoneError('NetConnection.Connect.Closed', 'connection closed');
    this.handshakeFailed?.(err);
    for (const t of this.pending.values()) t.reject(err instanceof PhoneError ? err : new PhoneError('NetConnection.Connect.Closed', err.message));
    this.pending.clear();
    this.opts.onClose?.(e);
  }
}

// ---------------------------------------------------------------------------
// Audio payloads (FLV E.4.2.1, E-RTMP v2) and G.711 µ-law (ITU-T G.711)
// ---------------------------------------------------------------------------

/** FLV audio tag header byte for G.711 µ-law 8 kHz mono: SoundFormat 8, 16-bit, mono (FLV E.4.2.1). */
export const FLV_PCMU = 0x82;
/** FLV audio tag header byte for G.711 A-law: SoundFormat 7. */
export const FLV_PCMA = 0x72;
/** The FourCC "Opus" (E-RTMP v2). */
export const FOURCC_OPUS = new Uint8Array([0x4f, 0x70, 0x75, 0x73]);
/** E-RTMP v2 AudioPacketType values. */
export const AUDIO_PACKET = Object.freeze({ SEQUENCE_START: 0, CODED_FRAMES: 1, SEQUENCE_END: 2, MULTICHANNEL_CONFIG: 4, MULTITRACK: 5 });

/**
 * Encodes one 16-bit linear PCM sample as G.711 µ-law (ITU-T G.711 §2: the
 * 14-bit linear range, bias 33, eight segments; sign bit set for positive
 * values after inversion). Matches the classic reference implementation (and
 * Python's audioop.lin2ulaw) for all 65,536 inputs. Self-contained: it is
 * also copied into the AudioWorklet source.
 * @param {number} sample integer -32768..32767
 * @returns {number} µ-law byte 0..255
 */
export function ulawEncodeSample(sample) {
  let s = (sample | 0) >> 2; // 14-bit linear
  let mask = 0xff;
  if (s < 0) { s = -s; mask = 0x7f; }
  if (s > 8159) s = 8159;
  s += 0x21;
  let seg = 0;
  while (seg < 8 && s > (0x40 << seg) - 1) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  return (((seg << 4) | ((s >> (seg + 1)) & 0x0f)) ^ mask) & 0xff;
}

/**
 * Decodes one G.711 µ-law byte to 16-bit linear PCM (ITU-T G.711).
 * @param {number} byte 0..255
 * @returns {number} sample -32124..32124
 */
export function ulawDecodeSample(byte) {
  const u = ~byte & 0xff;
  const exp = (u >> 4) & 7;
  const mag = ((((u & 0x0f) << 3) + 0x84) << exp) - 0x84;
  return (u & 0x80 ? -mag : mag) | 0;
}

/**
 * µ-law encodes 8 kHz 16-bit PCM (one byte per sample; 160 samples = 20 ms).
 * @param {Int16Array|number[]} pcm
 * @returns {Uint8Array}
 */
export function ulawEncode(pcm) {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = ulawEncodeSample(pcm[i]);
  return out;
}

/**
 * Decodes µ-law bytes to 16-bit PCM at 8 kHz.
 * @param {Uint8Array} bytes
 * @returns {Int16Array}
 */
export function ulawDecode(bytes) {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ulawDecodeSample(bytes[i]);
  return out;
}

/**
 * An FLV audio message body for G.711 µ-law (FLV E.4.2.1): 0x82 then the bytes.
 * @param {Uint8Array} ulaw µ-law bytes, 8 kHz (160 bytes = 20 ms)
 * @returns {Uint8Array}
 */
export function pcmuAudioPayload(ulaw) {
  const out = new Uint8Array(1 + ulaw.length);
  out[0] = FLV_PCMU;
  out.set(ulaw, 1);
  return out;
}

/**
 * The OpusHead identification header (RFC 7845 §5.1), 19 bytes, mapping family 0.
 * @param {{channels?: number, preSkip?: number, inputSampleRate?: number, outputGain?: number}} [o]
 *   channels 1..2; preSkip in 48 kHz samples; inputSampleRate Hz; outputGain Q7.8 dB
 * @returns {Uint8Array}
 */
export function opusHead({ channels = 1, preSkip = 312, inputSampleRate = 48000, outputGain = 0 } = {}) {
  const b = new Uint8Array(19);
  b.set(utf8Encoder.encode('OpusHead'), 0);
  const v = new DataView(b.buffer);
  b[8] = 1;
  b[9] = channels;
  v.setUint16(10, preSkip, true);
  v.setUint32(12, inputSampleRate, true);
  v.setInt16(16, outputGain, true);
  b[18] = 0;
  return b;
}

/**
 * E-RTMP v2 audio body: `0x90 | packetType`, FourCC "Opus", then `body`
 * (SequenceStart: OpusHead; CodedFrames: one Opus packet; SequenceEnd: empty).
 * @param {number} packetType see {@link AUDIO_PACKET}
 * @param {Uint8Array} [body]
 * @returns {Uint8Array}
 */
export function opusAudioPayload(packetType, body = new Uint8Array(0)) {
  const out = new Uint8Array(5 + body.length);
  out[0] = 0x90 | packetType;
  out.set(FOURCC_OPUS, 1);
  out.set(body, 5);
  return out;
}

/**
 * A parsed audio message.
 * @typedef {object} AudioFrame
 * @property {'pcmu'|'pcma'|'opus'|'other'} codec
 * @property {number} packetType E-RTMP AudioPacketType (CodedFrames = 1 for legacy FLV)
 * @property {Uint8Array} data codec payload (µ-law bytes, Opus packet, OpusHead)
 * @property {number} [soundFormat] FLV SoundFormat for 'other'
 * @property {string} [fourCc] FourCC for E-RTMP 'other'
 */

/**
 * Parses an RTMP audio message body: legacy FLV (FLV E.4.2.1; format from the
 * high nibble, never the whole byte) or E-RTMP v2 ExHeader (SoundFormat 9),
 * including Multitrack with one track (track 0 or any id: returned as is).
 * @param {Uint8Array} p
 * @returns {AudioFrame|null} null for an empty or truncated body
 */
export function parseAudioPayload(p) {
  if (p.length < 1) return null;
  const format = p[0] >> 4;
  if (format !== 9) {
    const codec = format === 8 ? 'pcmu' : format === 7 ? 'pcma' : 'other';
    return { codec, packetType: AUDIO_PACKET.CODED_FRAMES, data: p.subarray(1), soundFormat: format };
  }
  let type = p[0] & 0x0f;
  let o = 1;
  if (type === AUDIO_PACKET.MULTITRACK) {
    if (p.length < 2) return null;
    const mtType = p[1] >> 4; // 0 = OneTrack
    type = p[1] & 0x0f;
    if (mtType !== 0) return { codec: 'other', packetType: type, data: p.subarray(2), fourCc: '' };
    o = 2;
    if (p.length < o + 5) return null;
    const fourCc = String.fromCharCode(p[o], p[o + 1], p[o + 2], p[o + 3]);
    const data = p.subarray(o + 5); // after FourCC and track id
    return { codec: fourCc === 'Opus' ? 'opus' : 'other', packetType: type, data, fourCc };
  }
  if (p.length < 5) return null;
  const fourCc = String.fromCharCode(p[1], p[2], p[3], p[4]);
  return { codec: fourCc === 'Opus' ? 'opus' : 'other', packetType: type, data: p.subarray(5), fourCc };
}

// ---------------------------------------------------------------------------
// Media engines
// ---------------------------------------------------------------------------

/**
 * What a media engine gets when a call's streams are up.
 * @typedef {object} MediaSession
 * @property {'opus'|'pcmu'} uplinkCodec the codec to publish (Opus only when the gateway announced it can decode it)
 * @property {(payload: Uint8Array, timestampMs: number) => boolean} sendAudio
 *   sends one audio message body on the publish stream; false when dropped (link congested)
 */

/**
 * The media side of a {@link Phone}: capture → publish, play → output.
 * {@link BrowserMedia} is the default; node tests pass their own.
 * @typedef {object} MediaEngine
 * @property {(session: MediaSession) => Promise<void>} start
 * @property {(frame: AudioFrame, timestampMs: number) => void} receive an audio message from the play stream
 * @property {() => void} stop
 * @property {(muted: boolean) => void} [setMuted]
 * @property {() => boolean} [canDecodeOpus] whether to announce "Opus" in connect's fourCcList
 * @property {() => Promise<boolean>} [canEncodeOpus]
 * @property {MediaStream|null} [remoteStream]
 * @property {() => {dropped?: number}} [stats]
 */

// ---------------------------------------------------------------------------
// Phone: the SDK API (modelled on SIP.js SimpleUser)
// ---------------------------------------------------------------------------

/**
 * `Sono.Call.Status` info (README "RTMP API"): status_code 0 NOT_CONNECTED,
 * 1 IN_PROGRESS, 2 CONNECTED, 3 DISCONNECTING, 4 CONNECT_STREAMS.
 * `early_media: true` on status 1: the far end's early media (ring-back,
 * announcements) plays before the answer; `publish`/`play` come with it.
 * @typedef {{level: string, code: string, status_code: number, sip_code?: number, reason?: string, call_id?: string, publish?: string, play?: string, early_media?: boolean} & Record<string, unknown>} CallStatus
 */

/**
 * `Sono.Call.Transfer` info: a blind transfer's progress (`transfer(uri)`),
 * or the far end transferring the call (`accepted` with `target`: the
 * gateway now calls it; the new call's statuses follow).
 * @typedef {{level: string, code: string, call_id: string, status: 'trying'|'accepted'|'succeeded'|'failed', sip_code?: number, reason?: string, target?: string} & Record<string, unknown>} TransferStatus
 */

/**
 * @typedef {object} PhoneOptions
 * @property {string} url gateway address: `wss://host/rtmp` for the default WebSocket transport (any string your transport understands otherwise)
 * @property {string} [app] RTMP application name (default "phone")
 * @property {string} [token] passed as the first argument after connect's command object (see [auth] in the gateway)
 * @property {string} [tcUrl] connect's tcUrl (default `rtmp://<host of url>/<app>`)
 * @property {TransportFactory|'flash'} [transport] default {@link webSocketTransport}; `'flash'`: {@link FlashPhone}
 * @property {MediaEngine|null} [media] default a {@link BrowserMedia}; null: signalling only
 * @property {number} [connectTimeoutMs] default 10,000 ms
 * @property {ChunkLimits} [limits] inbound limits
 * @property {number} [maxBufferedBytes] audio is dropped while the transport has more queued (default 65,536 bytes)
 */

/** Call status codes (README "RTMP API"). */
export const CallStatusCode = Object.freeze({ NOT_CONNECTED: 0, IN_PROGRESS: 1, CONNECTED: 2, DISCONNECTING: 3, CONNECT_STREAMS: 4 });

/**
 * The phone: one RTMP connection to an rtmp2sip gateway, its calls and media.
 * An EventTarget; events are `CustomEvent`s:
 * - `connected` (detail: the connect `_result` info object)
 * - `disconnected` (detail: `{ error?: Error }`)
 * - `status` (detail: the `Sono.Call.Status` info object, {@link CallStatus})
 * - `incoming` (detail: the `Sono.Call.Incoming` info: `uri` caller, `display_name`, `to`, `call_id`)
 * - `registration` (detail: the `Sono.Registration.Status` info: `status`, `uri`, `sip_code`, `reason`, `expires` s)
 * - `dtmf` (detail: the `Sono.Call.DTMF` info: `digit`)
 * - `transfer` (detail: the `Sono.Call.Transfer` info, {@link TransferStatus})
 * - `hold` (detail: the `Sono.Call.Hold` info: `held`, `by` "local"|"remote", `call_id`;
 *   or the `Sono.Call.HoldFailed` info: `held`, `sip_code`, `reason`)
 * - `netstatus` (detail: any other onStatus info object, with `streamId`)
 */
export class Phone extends EventTarget {
  /** @param {PhoneOptions} options */
  constructor(options) {
    super();
    // `transport: 'flash'`: the same API carried by flash_phone/phone.swf (see FlashPhone below).
    // eslint-disable-next-line no-constructor-return
    if (options && options.transport === 'flash' && new.target === Phone) return new FlashPhone(options);
    if (!options || typeof options.url !== 'string') throw new TypeError('new Phone({ url }) needs a url');
    this.options = { app: 'phone', connectTimeoutMs: 10000, maxBufferedBytes: 65536, ...options };
    /** @type {RtmpClient|null} */
    this.rtmp = null;
    /** @type {MediaEngine|null} */
    this.media = options.media === undefined ? new BrowserMedia() : options.media;
    /** the connect `_result` properties (fmsVer, capabilities, audioFourCcInfoMap, ...) @type {Record<string, any>|null} */
    this.serverProperties = null;
    /** @type {CallStatus|null} the last call status */
    this.callStatus = null;
    /** @type {{resolve: (s: CallStatus) => void, reject: (e: Error) => void}|null} */
    this.pendingCall = null;
    /** @type {{publishId: number, playId: number, callId: string|undefined, t0: number}|null} */
    this.streams = null;
    this.muted = false;
    this.codec = /** @type {string|null} */ (null);
    this.rx = { packets: 0, lost: 0, jitterMs: 0, lastTs: /** @type {number|null} */ (null), lastArrival: 0, frameMs: 20 };
    this.outTs = 0;
    this.dropped = 0;
  }

  /** Far end's audio while a call's media runs (from the media engine). @returns {MediaStream|null} */
  get remoteStream() { return this.media?.remoteStream ?? null; }

  /** Whether the NetConnection is up. */
  get isConnected() { return !!this.rtmp && !this.rtmp.closed && !!this.serverProperties; }

  /**
   * Opens the transport, runs the RTMP handshake and NetConnection `connect`
   * (`app`, `tcUrl`, `flashVer`, `objectEncoding: 0`, `fourCcList`).
   * @returns {Promise<Record<string, any>>} the NetConnection.Connect.Success info
   * @throws {PhoneError} with the NetConnection code (e.g. "NetConnection.Connect.Rejected") and description
   */
  async connect() {
    if (this.rtmp && !this.rtmp.closed) throw new PhoneError('NetConnection.Connect.Failed', 'already connected');
    const o = this.options;
    const factory = o.transport ?? webSocketTransport;
    let transport;
    try { transport = await factory(o.url); } catch (e) {
      if (e instanceof PhoneError) throw e;
      throw new PhoneError('NetConnection.Connect.Failed', `cannot reach ${o.url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const rtmp = new RtmpClient(transport, {
      limits: o.limits,
      onCommand: (c) => this.onCommand(c),
      onAudio: (m) => this.onAudio(m),
      onClose: (e) => this.onClose(e),
    });
    this.rtmp = rtmp;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        reject(new PhoneError('NetConnection.Connect.Failed', `no answer from the gateway within ${o.connectTimeoutMs} ms`));
        rtmp.close(new Error('connect timeout'));
      }, o.connectTimeoutMs);
    });
    try {
      await Promise.race([rtmp.start(), timeout]);
      const fourCcList = this.media && this.media.canDecodeOpus && !this.media.canDecodeOpus() ? [] : ['Opus'];
      const cmdObj = {
        app: o.app,
        flashVer: 'JS 1,0,0,0 rtmp2sip-phone',
        tcUrl: o.tcUrl ?? defaultTcUrl(o.url, /** @type {string} */ (o.app)),
        fpad: false,
        capabilities: 15,
        audioCodecs: PLAYABLE_AUDIO_CODECS,
        videoCodecs: 0,
        objectEncoding: 0,
        fourCcList,
      };
      const args = o.token !== undefined ? [o.token] : [];
      const reply = await Promise.race([rtmp.invoke('connect', args, { commandObject: cmdObj, expectReply: true }), timeout]);
      const r = /** @type {RtmpCommand} */ (reply);
      this.serverProperties = /** @type {any} */ (r.commandObject) ?? {};
      const info = /** @type {any} */ (r.args[0] ?? {});
      if (info.code && info.code !== 'NetConnection.Connect.Success') throw new PhoneError(info.code, info.description ?? '', info);
      this.emit('connected', info);
      return info;
    } catch (e) {
      rtmp.close(e instanceof Error ? e : undefined);
      if (e instanceof PhoneError) throw e;
      throw new PhoneError('NetConnection.Connect.Failed', e instanceof Error ? e.message : String(e));
    } finally {
      clearTimeout(timer);
    }
  }

  /** @returns {RtmpClient} */
  need() {
    if (!this.rtmp || this.rtmp.closed || !this.serverProperties) throw new PhoneError('NetConnection.Connect.Closed', 'not connected: call connect() first');
    return this.rtmp;
  }

  /**
   * Registers: without options at the gateway's embedded registrar (the
   * connection gets `sip:<ident>@<domain>`); with options by REGISTER with
   * digest auth at a real registrar (README "RTMP API": `register(user,
   * registrar, password[, auth_user, display_name])`). Later state changes
   * come as `registration` events.
   * @param {{user: string, registrar: string, password: string, authUser?: string, displayName?: string}} [o]
   * @returns {Promise<{uri?: string} & Record<string, unknown>>} the `_result` info (`uri`: the address)
   * @throws {PhoneError} `Sono.Registration.Failed` etc.
   */
  async register(o) {
    const args = o ? [o.user, o.registrar, o.password, ...(o.authUser !== undefined || o.displayName !== undefined ? [o.authUser ?? '', o.displayName ?? ''] : [])] : [];
    const r = /** @type {RtmpCommand} */ (await this.need().invoke('register', args, { expectReply: true }));
    return /** @type {any} */ (r.args[0] ?? r.commandObject ?? {});
  }

  /** REGISTER with Expires: 0 for every registration. @returns {Promise<void>} */
  async unregister() {
    await this.need().invoke('unregister', [], { expectReply: true });
  }

  /**
   * Places a call (`dial`). Resolves with the first call status showing the
   * call under way (1, 2 or 4); later statuses come as `status` events.
   * @param {string} uri e.g. "sip:bob@pbx.example.com"
   * @returns {Promise<CallStatus>}
   * @throws {PhoneError} the gateway's `_error` (`Sono.Call.NoUri`, `Sono.Call.Existing`,
   *   `Sono.Call.Forbidden`, `Sono.Call.Failed`) or status 0 before the call got under way
   */
  call(uri) {
    let rtmp;
    try { rtmp = this.need(); } catch (e) { return Promise.reject(e); }
    if (this.pendingCall) return Promise.reject(new PhoneError('Sono.Call.Existing', 'a call() is already pending'));
    return new Promise((resolve, reject) => {
      // The gateway answers a successful dial with events, not a _result: when
      // an event settles the call, the transaction is forgotten (no leak).
      const tid = rtmp.nextTid;
      const settle = () => { rtmp.forget(tid); };
      this.pendingCall = {
        resolve: (s) => { settle(); resolve(s); },
        reject: (e) => { settle(); reject(e); },
      };
      const reply = /** @type {Promise<RtmpCommand>} */ (rtmp.invoke('dial', [uri], { expectReply: true }));
      reply.then(() => { /* not expected; events settle the call */ }, (e) => {
        if (this.pendingCall) { this.pendingCall = null; reject(e); }
      });
    });
  }

  /** Ends the call: CANCEL while early, BYE when connected, 486 while ringing in. @returns {Promise<void>} */
  async hangup() {
    await this.need().invoke('hangup', [], { expectReply: true });
  }

  /** Answers the ringing incoming call (`accept`). @returns {Promise<void>} */
  async answer() {
    await this.need().invoke('accept', [], { expectReply: true });
  }

  /**
   * Refuses the ringing incoming call (`reject`).
   * @param {number} [code] SIP status 400..699 (gateway default 603 Decline)
   * @returns {Promise<void>}
   */
  async decline(code) {
    await this.need().invoke('reject', code === undefined ? [] : [code], { expectReply: true });
  }

  /**
   * Sends DTMF (RFC 4733, SIP INFO fallback).
   * @param {string} digits up to 32 of `0-9 * # A-D`
   * @param {number} [durationMs] per digit, ms (gateway default 160)
   * @returns {Promise<void>}
   */
  async sendDTMF(digits, durationMs) {
    if (typeof digits !== 'string' || !/^[0-9*#A-Da-d]{1,32}$/.test(digits)) throw new PhoneError('Sono.Call.Failed', `bad DTMF digits ${JSON.stringify(digits)}`);
    await this.need().invoke('sendDTMF', durationMs === undefined ? [digits] : [digits, durationMs], { expectReply: true });
  }

  /**
   * Blind transfer of the connected call (REFER, RFC 5589 §6.1): the far end
   * calls `uri`; `transfer` events report it, and on success the gateway
   * hangs up (status 0). Refused like `call`'s URI (`Sono.Call.NoUri`,
   * `Sono.Call.Forbidden`) or without a connected call (`Sono.Call.Failed`).
   * @param {string} uri
   * @returns {Promise<void>}
   */
  async transfer(uri) {
    await this.need().invoke('transfer', [uri], { expectReply: true });
  }

  /**
   * Holds the connected call: the gateway re-INVITEs the far end with
   * `a=sendonly` (RFC 3264 §8.4). Resolves once sent; the outcome is a
   * `hold` event (`held: true, by: "local"`, or code `Sono.Call.HoldFailed`).
   * Rejects with `Sono.Call.NoCall` when no call is connected.
   * @returns {Promise<void>}
   */
  async hold() {
    await this.need().invoke('hold', [], { expectReply: true });
  }

  /** Resumes a held call (`a=sendrecv`); see {@link Phone#hold}. @returns {Promise<void>} */
  async unhold() {
    await this.need().invoke('unhold', [], { expectReply: true });
  }

  /** Mutes or unmutes the microphone (silence is still sent, keeping timing). @param {boolean} muted */
  mute(muted) {
    this.muted = !!muted;
    this.media?.setMuted?.(this.muted);
  }

  /**
   * Call quality: `codec` of the received audio, `rtt_ms` the last command
   * round trip (invoke → reply, ms), `jitter_ms` interarrival jitter of the
   * received audio (RFC 3550 §6.4.1 estimator over RTMP timestamps, ms),
   * `packets_lost` audio messages missing by timestamp gaps plus frames the
   * media engine dropped, `packets_received`, `packets_dropped_out` audio not
   * sent because the link was congested.
   * @returns {{codec: string|null, rtt_ms: number|null, jitter_ms: number, packets_lost: number, packets_received: number, packets_dropped_out: number}}
   */
  stats() {
    return {
      codec: this.codec,
      rtt_ms: this.rtmp?.rttMs ?? null,
      jitter_ms: Math.round(this.rx.jitterMs * 10) / 10,
      packets_lost: this.rx.lost + (this.media?.stats?.().dropped ?? 0),
      packets_received: this.rx.packets,
      packets_dropped_out: this.dropped,
    };
  }

  /** Closes the connection (the gateway ends any call with BYE/CANCEL). */
  disconnect() {
    this.stopMedia();
    this.rtmp?.close();
  }

  // ---- internals ----

  /** @param {string} type @param {unknown} detail */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @param {Error} [error] */
  onClose(error) {
    this.stopMedia();
    const wasUp = !!this.serverProperties;
    this.serverProperties = null;
    if (this.pendingCall) { this.pendingCall.reject(new PhoneError('NetConnection.Connect.Closed', error?.message ?? 'closed')); this.pendingCall = null; }
    if (wasUp) this.emit('disconnected', { error });
  }

  /** @param {RtmpCommand} cmd */
  onCommand(cmd) {
    if (cmd.name !== 'onStatus') return;
    const info = /** @type {any} */ (cmd.args[0] ?? cmd.commandObject ?? {});
    const code = String(info?.code ?? '');
    if (cmd.streamId !== 0) { this.emit('netstatus', { ...info, streamId: cmd.streamId }); return; }
    switch (code) {
      case 'Sono.Call.Status': this.onCallStatus(info); break;
      case 'Sono.Call.Incoming': this.emit('incoming', info); break;
      case 'Sono.Registration.Status': this.emit('registration', info); break;
      case 'Sono.Call.DTMF': this.emit('dtmf', info); break;
      case 'Sono.Call.Transfer': this.emit('transfer', info); break;
      case 'Sono.Call.Hold': case 'Sono.Call.HoldFailed': this.emit('hold', info); break;
      default: this.emit('netstatus', { ...info, streamId: 0 });
    }
  }

  /** @param {CallStatus} info */
  onCallStatus(info) {
    this.callStatus = info;
    const s = Number(info.status_code);
    if (s === CallStatusCode.CONNECT_STREAMS || (s === CallStatusCode.IN_PROGRESS && info.early_media === true && info.play)) this.startMedia(info);
    if (s === CallStatusCode.NOT_CONNECTED || s === CallStatusCode.DISCONNECTING) this.stopMedia();
    if (this.pendingCall) {
      const pc = this.pendingCall;
      if (s === CallStatusCode.NOT_CONNECTED) { this.pendingCall = null; pc.reject(new PhoneError('Sono.Call.Failed', String(info.reason ?? (info.sip_code ? `SIP ${info.sip_code}` : 'call ended')), info)); }
      else if (s !== CallStatusCode.DISCONNECTING) { this.pendingCall = null; pc.resolve(info); }
    }
    this.emit('status', info);
  }

  /**
   * On status 4: two NetStreams, publish `info.publish` and play `info.play`
   * (README "Media"), then start the media engine once publishing started.
   * @param {CallStatus} info
   */
  async startMedia(info) {
    const rtmp = this.rtmp;
    if (!rtmp || this.streams) return;
    const placeholder = { publishId: 0, playId: 0, callId: info.call_id, t0: Date.now() };
    this.streams = placeholder;
    try {
      const a = /** @type {RtmpCommand} */ (await rtmp.invoke('createStream', [], { expectReply: true }));
      const b = /** @type {RtmpCommand} */ (await rtmp.invoke('createStream', [], { expectReply: true }));
      if (this.streams !== placeholder) { // ended meanwhile
        for (const r of [a, b]) rtmp.invoke('deleteStream', [r.args[0]]);
        return;
      }
      placeholder.publishId = Number(a.args[0]);
      placeholder.playId = Number(b.args[0]);
      if (!(placeholder.publishId > 0 && placeholder.playId > 0)) throw new PhoneError('NetStream.Failed', 'createStream returned no stream id');
      const publishName = info.publish ?? 'dummy';
      const playName = info.play ?? 'dummy';
      // Set Buffer Length 0 for the play stream (RTMP §7.1.7, event 3): no client-side buffering asked.
      const sbl = new Uint8Array(10);
      const dv = new DataView(sbl.buffer);
      dv.setUint16(0, USER_CONTROL.SET_BUFFER_LENGTH); dv.setUint32(2, placeholder.playId); dv.setUint32(6, 0);
      rtmp.send(controlMessage(MSG.USER_CONTROL, sbl));
      rtmp.invoke('play', [playName], { streamId: placeholder.playId });
      rtmp.invoke('publish', [publishName, 'live'], { streamId: placeholder.publishId });
      this.outTs = 0;
      this.rx = { packets: 0, lost: 0, jitterMs: 0, lastTs: null, lastArrival: 0, frameMs: 20 };
      if (!this.media) return;
      const map = this.serverProperties?.audioFourCcInfoMap;
      const serverOpus = !!map && typeof map === 'object' && ((Number(map.Opus ?? map['*'] ?? 0) & 1) !== 0);
      const uplinkCodec = serverOpus && (await this.media.canEncodeOpus?.()) ? 'opus' : 'pcmu';
      if (this.streams !== placeholder) return;
      this.media.setMuted?.(this.muted);
      await this.media.start({
        uplinkCodec,
        sendAudio: (payload, ts) => this.sendAudio(placeholder, payload, ts),
      });
    } catch (e) {
      this.emit('netstatus', { level: 'error', code: 'NetStream.Failed', description: e instanceof Error ? e.message : String(e), streamId: 0 });
    }
  }

  /**
   * @param {{publishId: number}} streams @param {Uint8Array} payload @param {number} ts ms
   * @returns {boolean} false when dropped
   */
  sendAudio(streams, payload, ts) {
    const rtmp = this.rtmp;
    if (!rtmp || rtmp.closed || this.streams !== streams || !streams.publishId) return false;
    const queued = rtmp.transport.bufferedAmount ?? 0;
    if (queued > /** @type {number} */ (this.options.maxBufferedBytes)) { this.dropped++; return false; }
    rtmp.sendAudio(streams.publishId, ts, payload);
    return true;
  }

  stopMedia() {
    const s = this.streams;
    if (!s) return;
    this.streams = null;
    try { this.media?.stop(); } catch { /* ignore */ }
    const rtmp = this.rtmp;
    if (rtmp && !rtmp.closed) {
      for (const id of [s.publishId, s.playId]) if (id) rtmp.invoke('deleteStream', [id]);
    }
  }

  /** @param {RtmpMessage} m */
  onAudio(m) {
    const s = this.streams;
    if (!s || m.streamId !== s.playId) return;
    const frame = parseAudioPayload(m.payload);
    if (!frame) return;
    if (frame.codec !== 'other') this.codec = frame.codec;
    if (frame.packetType === AUDIO_PACKET.CODED_FRAMES) this.trackArrival(m.timestamp, frame);
    this.media?.receive(frame, m.timestamp);
  }

  /** RFC 3550 §6.4.1 jitter and gap-based loss over RTMP ms timestamps. @param {number} ts @param {AudioFrame} f */
  trackArrival(ts, f) {
    const now = (globalThis.performance?.now?.() ?? Date.now());
    const rx = this.rx;
    rx.packets++;
    if (f.codec === 'pcmu' || f.codec === 'pcma') rx.frameMs = Math.max(1, f.data.length / 8);
    if (rx.lastTs !== null) {
      const dts = ((ts - rx.lastTs) | 0);
      const d = (now - rx.lastArrival) - dts;
      rx.jitterMs += (Math.abs(d) - rx.jitterMs) / 16;
      if (dts > rx.frameMs * 1.5 && dts < 10000) rx.lost += Math.round(dts / rx.frameMs) - 1;
    }
    rx.lastTs = ts;
    rx.lastArrival = now;
  }
}

/**
 * connect's `audioCodecs` (Adobe RTMP spec 1.0 §7.2.1.1 bit mask): the
 * legacy codecs this SDK plays. Only SUPPORT_SND_G711U (0x0100): the
 * µ-law fallback plays nothing else, and the WebCodecs path plays Opus,
 * which `fourCcList` announces (and which wins at the gateway). Speex
 * (0x0800) is absent, so the gateway sends G.711 µ-law from the first
 * audio message instead of its configured `rtmp_out_codec`.
 */
export const PLAYABLE_AUDIO_CODECS = 0x0100;

/**
 * connect's default tcUrl: `rtmp://<host>/<app>` from the phone's url.
 * @param {string} url @param {string} app @returns {string}
 */
export function defaultTcUrl(url, app) {
  if (/^rtmps?:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    return `rtmp://${u.host}/${app}`;
  } catch {
    return `rtmp://localhost/${app}`;
  }
}

// ---------------------------------------------------------------------------
// Browser media (untested in node: needs getUserMedia, AudioWorklet, WebCodecs)
// ---------------------------------------------------------------------------

/** Frame length, ms: 20 (Opus frameDuration and µ-law messages). */
const FRAME_MS = 20;

/**
 * AudioWorklet processors, as module source (loaded from a Blob URL; no eval):
 * - `rtmp2sip-capture`: collects 20 ms of mono float samples at the context
 *   rate and posts them (Opus path), or, with `processorOptions.ulaw`,
 *   low-passes (63-tap windowed sinc, 3.6 kHz), resamples to 8 kHz and posts
 *   160 µ-law bytes per 20 ms.
 * - `rtmp2sip-playback`: a jitter buffer of float samples at the context
 *   rate fed through its port; it holds at most `maxMs` (60 ms): when more is
 *   queued it drops the oldest samples (drops rather than drifts), and plays
 *   silence on underrun.
 */
export const WORKLET_SOURCE = `
${ulawEncodeSample.toString()}
class Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.ulaw = !!o.ulaw;
    this.frame = Math.round(sampleRate * ${FRAME_MS} / 1000);
    this.buf = new Float32Array(this.frame);
    this.n = 0;
    // µ-law path: a 63-tap Blackman-windowed sinc low-pass (cut-off 3.6 kHz)
    // at the context rate, then 8 kHz samples taken by linear interpolation
    // between filtered samples (any context rate, not only multiples of 8 kHz).
    const N = 63, fc = 3600 / sampleRate;
    this.taps = new Float32Array(N);
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const m = i - (N - 1) / 2;
      const sinc = m === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * m) / (Math.PI * m);
      const w = 0.42 - 0.5 * Math.cos(2 * Math.PI * i / (N - 1)) + 0.08 * Math.cos(4 * Math.PI * i / (N - 1));
      this.taps[i] = sinc * w;
      sum += this.taps[i];
    }
    for (let i = 0; i < N; i++) this.taps[i] /= sum;
    this.hist = new Float32Array(N * 2); // doubled ring: a contiguous window at any position
    this.hpos = 0;
    this.step = sampleRate / 8000;
    this.t = 1;
    this.prevY = 0;
    this.out = new Uint8Array(160); this.outN = 0;
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    if (this.ulaw) {
      const N = this.taps.length, taps = this.taps, h = this.hist;
      for (let i = 0; i < ch.length; i++) {
        h[this.hpos] = ch[i]; h[this.hpos + N] = ch[i];
        this.hpos = (this.hpos + 1) % N;
        let y = 0;
        for (let k = 0; k < N; k++) y += taps[k] * h[this.hpos + k];
        while (this.t <= 1) {
          const v = Math.max(-1, Math.min(1, this.prevY + (y - this.prevY) * this.t));
          this.out[this.outN++] = ulawEncodeSample(Math.round(v * 32767));
          if (this.outN === 160) { this.port.postMessage(this.out.slice()); this.outN = 0; }
          this.t += this.step;
        }
        this.t -= 1;
        this.prevY = y;
      }
    } else {
      for (let i = 0; i < ch.length; i++) {
        this.buf[this.n++] = ch[i];
        if (this.n === this.frame) { this.port.postMessage(this.buf.slice()); this.n = 0; }
      }
    }
    return true;
  }
}
class Playback extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.max = Math.round(sampleRate * (o.maxMs || 60) / 1000);
    this.target = Math.round(sampleRate * (o.targetMs || 40) / 1000);
    this.q = new Float32Array(this.max * 2);
    this.len = 0; this.dropped = 0; this.started = false;
    this.port.onmessage = (e) => this.push(e.data);
  }
  push(s) {
    if (s.length >= this.q.length) s = s.subarray(s.length - this.max);
    if (this.len + s.length > this.max) {
      const keep = Math.max(0, this.target - s.length);
      const drop = this.len - keep;
      if (drop > 0) { this.q.copyWithin(0, drop, this.len); this.len -= drop; this.dropped += drop; }
    }
    this.q.set(s, this.len); this.len += s.length;
  }
  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!this.started && this.len < this.target / 2) { out.fill(0); return true; }
    this.started = true;
    const n = Math.min(out.length, this.len);
    out.set(this.q.subarray(0, n));
    if (n < out.length) { out.fill(0, n); this.started = this.len > 0; }
    this.q.copyWithin(0, n, this.len); this.len -= n;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}
registerProcessor('rtmp2sip-capture', Capture);
registerProcessor('rtmp2sip-playback', Playback);
`;

/**
 * Linear-interpolation resampler for mono float audio (playback only: the
 * 8 kHz → context rate and 48 kHz → context rate paths).
 * @param {Float32Array} input @param {number} fromHz @param {number} toHz
 * @returns {Float32Array}
 */
export function resampleLinear(input, fromHz, toHz) {
  if (fromHz === toHz) return input;
  const n = Math.floor(input.length * toHz / fromHz);
  const out = new Float32Array(n);
  const r = fromHz / toHz;
  for (let i = 0; i < n; i++) {
    const x = i * r;
    const i0 = Math.floor(x);
    const i1 = Math.min(i0 + 1, input.length - 1);
    const f = x - i0;
    out[i] = input[i0] * (1 - f) + input[i1] * f;
  }
  return out;
}

/**
 * The browser media path (not exercised by the node tests):
 * getUserMedia (echoCancellation, noiseSuppression, autoGainControl) →
 * AudioWorklet `rtmp2sip-capture` → WebCodecs AudioEncoder Opus 48 kHz mono,
 * 20 ms, in-band FEC → E-RTMP v2 (SequenceStart with OpusHead, CodedFrames);
 * or, where Opus is not available or the gateway did not announce it, µ-law
 * coded in the worklet → FLV SoundFormat 8. The play stream → AudioDecoder
 * (Opus) or the µ-law decoder → `rtmp2sip-playback` (jitter buffer ≤ 60 ms) →
 * `remoteStream` (a MediaStream) and, with `playout`, the speakers.
 */
export class BrowserMedia {
  /**
   * @param {object} [o]
   * @param {MediaTrackConstraints} [o.audio] extra getUserMedia constraints (e.g. deviceId)
   * @param {boolean} [o.playout] also play the far end on the default output (default true)
   * @param {number} [o.bitrate] Opus bitrate, bits/s (default 32,000)
   * @param {number} [o.jitterMs] playback buffer cap, ms (default 60)
   * @param {'auto'|'opus'|'pcmu'} [o.codec] uplink codec preference (default 'auto')
   */
  constructor(o = {}) {
    this.o = { playout: true, bitrate: 32000, jitterMs: 60, codec: 'auto', ...o };
    /** @type {MediaStream|null} */
    this.remoteStream = null;
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {MediaStream|null} */
    this.mic = null;
    /** @type {any} */ this.encoder = null;
    /** @type {any} */ this.decoder = null;
    /** @type {AudioWorkletNode|null} */ this.capture = null;
    /** @type {AudioWorkletNode|null} */ this.playback = null;
    this.muted = false;
    this.decodeErrors = 0;
    this.encodeErrors = 0;
    /** an Opus SequenceStart that arrived before start() finished @type {AudioFrame|null} */
    this.pendingHead = null;
  }

  /** Whether WebCodecs AudioDecoder exists (then "Opus" goes in fourCcList). */
  canDecodeOpus() {
    return this.o.codec !== 'pcmu' && typeof globalThis.AudioDecoder === 'function';
  }

  /** @returns {Promise<boolean>} */
  async canEncodeOpus() {
    if (this.o.codec === 'pcmu' || typeof globalThis.AudioEncoder !== 'function') return false;
    try {
      const r = await globalThis.AudioEncoder.isConfigSupported(this.opusConfig());
      return !!r.supported;
    } catch { return false; }
  }

  opusConfig() {
    return { codec: 'opus', sampleRate: 48000, numberOfChannels: 1, bitrate: this.o.bitrate, opus: { frameDuration: FRAME_MS * 1000, useinbandfec: true, complexity: 5 } };
  }

  /** @param {boolean} m */
  setMuted(m) {
    this.muted = m;
    for (const t of this.mic?.getAudioTracks() ?? []) t.enabled = !m;
  }

  /** @param {MediaSession} session */
  async start(session) {
    this.session = session;
    const ctx = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
    this.ctx = ctx;
    const url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: 'text/javascript' }));
    try { await ctx.audioWorklet.addModule(url); } finally { URL.revokeObjectURL(url); }
    // A context made outside a user gesture starts suspended (autoplay policy).
    await ctx.resume().catch(() => {});
    await this.startPlayback(ctx);
    await this.startCapture(ctx, session);
  }

  /** @param {AudioContext} ctx */
  async startPlayback(ctx) {
    const node = new AudioWorkletNode(ctx, 'rtmp2sip-playback', { numberOfInputs: 0, outputChannelCount: [1], processorOptions: { maxMs: this.o.jitterMs, targetMs: Math.min(40, this.o.jitterMs) } });
    this.playback = node;
    const dest = ctx.createMediaStreamDestination();
    node.connect(dest);
    if (this.o.playout) node.connect(ctx.destination);
    this.remoteStream = dest.stream;
  }

  /** @param {AudioContext} ctx @param {MediaSession} session */
  async startCapture(ctx, session) {
    this.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1, ...(this.o.audio ?? {}) } });
    this.setMuted(this.muted);
    const src = ctx.createMediaStreamSource(this.mic);
    const opus = session.uplinkCodec === 'opus';
    const node = new AudioWorkletNode(ctx, 'rtmp2sip-capture', { numberOfInputs: 1, numberOfOutputs: 0, processorOptions: { ulaw: !opus } });
    this.capture = node;
    src.connect(node);
    let ts = 0;
    if (!opus) {
      node.port.onmessage = (e) => { session.sendAudio(pcmuAudioPayload(e.data), ts); ts += FRAME_MS; };
      return;
    }
    const AE = /** @type {any} */ (globalThis).AudioEncoder;
    const AD = /** @type {any} */ (globalThis).AudioData;
    let sentHead = false;
    this.encoder = new AE({
      output: (/** @type {any} */ chunk, /** @type {any} */ meta) => {
        if (!sentHead) {
          // Prefer the encoder's own OpusHead (decoderConfig.description), else build one.
          const d = meta?.decoderConfig?.description;
          const given = !d ? null : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
          const isHead = !!given && given.length >= 19 && String.fromCharCode(...given.subarray(0, 8)) === 'OpusHead';
          const head = isHead ? /** @type {Uint8Array} */ (given).slice() : opusHead({ channels: 1, inputSampleRate: 48000 });
          session.sendAudio(opusAudioPayload(AUDIO_PACKET.SEQUENCE_START, head), 0);
          sentHead = true;
        }
        const pkt = new Uint8Array(chunk.byteLength);
        chunk.copyTo(pkt);
        session.sendAudio(opusAudioPayload(AUDIO_PACKET.CODED_FRAMES, pkt), Math.round(chunk.timestamp / 1000));
      },
      error: () => { this.encodeErrors++; },
    });
    this.encoder.configure(this.opusConfig());
    let samples = 0;
    node.port.onmessage = (e) => {
      /** @type {Float32Array} */
      const f = e.data;
      const data = new AD({ format: 'f32', sampleRate: ctx.sampleRate, numberOfFrames: f.length, numberOfChannels: 1, timestamp: Math.round(samples * 1e6 / ctx.sampleRate), data: f });
      samples += f.length;
      if (!this.encoder || this.encoder.encodeQueueSize > 5) { data.close(); return; } // stopped, or drop rather than queue
      this.encoder.encode(data);
      data.close();
    };
  }

  /** @param {AudioFrame} frame @param {number} timestampMs */
  receive(frame, timestampMs) {
    const ctx = this.ctx;
    const node = this.playback;
    if (!ctx || !node) {
      // The play stream can deliver the Opus SequenceStart before start() has
      // made the playback node: keep it for the first CodedFrames.
      if (frame.codec === 'opus' && frame.packetType === AUDIO_PACKET.SEQUENCE_START) this.pendingHead = frame;
      return;
    }
    if (frame.codec === 'opus' && frame.packetType === AUDIO_PACKET.CODED_FRAMES && !this.decoder && this.pendingHead) {
      const head = this.pendingHead;
      this.pendingHead = null;
      this.receive(head, 0);
    }
    if (frame.codec === 'pcmu') {
      const pcm = ulawDecode(frame.data);
      const f = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
      const s = resampleLinear(f, 8000, ctx.sampleRate);
      node.port.postMessage(s, [s.buffer]);
      return;
    }
    if (frame.codec !== 'opus') return;
    const AD = /** @type {any} */ (globalThis).AudioDecoder;
    const EAC = /** @type {any} */ (globalThis).EncodedAudioChunk;
    if (!AD) return;
    if (frame.packetType === AUDIO_PACKET.SEQUENCE_START) {
      const channels = frame.data.length >= 10 ? frame.data[9] : 1;
      try { this.decoder?.close(); } catch { /* ignore */ }
      this.decoder = new AD({
        output: (/** @type {any} */ data) => {
          const f = new Float32Array(data.numberOfFrames);
          data.copyTo(f, { planeIndex: 0, format: 'f32-planar' });
          const rate = data.sampleRate;
          data.close();
          const s = resampleLinear(f, rate, ctx.sampleRate);
          node.port.postMessage(s, [s.buffer]);
        },
        error: () => { this.decodeErrors++; },
      });
      this.decoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: channels, description: frame.data.slice() });
      return;
    }
    if (frame.packetType === AUDIO_PACKET.CODED_FRAMES && this.decoder && this.decoder.state === 'configured') {
      if (this.decoder.decodeQueueSize > 5) return;
      this.decoder.decode(new EAC({ type: 'key', timestamp: timestampMs * 1000, data: frame.data }));
    }
  }

  stop() {
    try { this.encoder?.close(); } catch { /* ignore */ }
    try { this.decoder?.close(); } catch { /* ignore */ }
    for (const t of this.mic?.getTracks() ?? []) t.stop();
    try { this.capture?.disconnect(); this.playback?.disconnect(); } catch { /* ignore */ }
    this.ctx?.close();
    this.encoder = this.decoder = this.capture = this.playback = this.ctx = this.mic = this.pendingHead = null;
    this.remoteStream = null;
  }

  /** @returns {{dropped: number, encodeErrors: number}} */
  stats() { return { dropped: this.decodeErrors, encodeErrors: this.encodeErrors }; }
}

// ---------------------------------------------------------------------------
// The Flash transport: the same Phone API through flash_phone/phone.swf
// ---------------------------------------------------------------------------

/**
 * @typedef {object} FlashPhoneOptions
 * @property {'flash'} transport
 * @property {string} swf URL of phone.swf (e.g. `/flash_phone/phone.swf`)
 * @property {string} url the gateway as the Flash Player reaches it: `rtmp://host[:port]/app`, `rtmps://...` or `rtmpt://host:8080/app`
 * @property {string} [token] passed as the first `connect` argument (the gateway's [auth])
 * @property {number} [quality] Speex encodeQuality 0-10 of the microphone (default 8)
 * @property {HTMLElement} [container] where the SWF is embedded (default document.body)
 * @property {number} [loadTimeoutMs] wait for the SWF's `ready`, ms (default 10,000)
 * @property {number} [connectTimeoutMs] wait for NetConnection's answer, ms (default 10,000)
 * @property {string} [allowScriptAccess] the embed's allowScriptAccess (default "sameDomain": serve phone.swf from the page's origin; the SWF does not call Security.allowDomain, so pages of other domains cannot script it)
 * @property {(swf: string, flashvars: Record<string, string>, o: FlashPhoneOptions) => any} [embed] embeds the SWF and returns the element whose ExternalInterface methods are called (default {@link embedFlash}; tests pass a stand-in)
 */

let flashSeq = 0;

/** The SWF's version string prefix, from its `ready` event. */
export const FLASH_VERSION_PREFIX = 'rtmp2sip-flash ';

/**
 * Embeds phone.swf invisibly: an `<object type="application/x-shockwave-flash">` of 1x1 px fixed in the
 * page's bottom right corner (a hidden or off-screen SWF is throttled by the Flash Player), with
 * `flashvars` and `allowScriptAccess`. The Flash Player adds the SWF's ExternalInterface callbacks to
 * the element as methods.
 * @param {string} swf @param {Record<string, string>} flashvars @param {FlashPhoneOptions} o
 * @returns {HTMLObjectElement}
 */
export function embedFlash(swf, flashvars, o) {
  const doc = globalThis.document;
  const el = doc.createElement('object');
  el.type = 'application/x-shockwave-flash';
  el.data = swf;
  el.id = String(flashvars.callback) + '_swf';
  el.width = '1';
  el.height = '1';
  el.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;border:0;z-index:2147483647';
  const params = { movie: swf, allowScriptAccess: o.allowScriptAccess ?? 'sameDomain', wmode: 'transparent', flashvars: new URLSearchParams(flashvars).toString() };
  for (const [name, value] of Object.entries(params)) {
    const p = doc.createElement('param');
    p.name = name;
    p.value = value;
    el.appendChild(p);
  }
  (o.container ?? doc.body).appendChild(el);
  return el;
}

/**
 * The Phone API carried by flash_phone/phone.swf instead of the SDK's own RTMP: `new Phone({ transport:
 * 'flash', swf, url, token })` returns one. The SWF's NetConnection talks to the gateway (RTMP, RTMPS or
 * RTMPT), its microphone publishes Speex and the Flash Player plays the far end itself, so
 * `remoteStream` is null and `stats()` has no packet counts. Methods and events are the Phone's; in
 * addition a `microphone` event (detail `{code: "Microphone.Muted"|"Microphone.Unmuted"|"Microphone.Missing"}`)
 * reports the Flash Player's microphone permission: while it asks, the SWF is enlarged to 240x160 px so
 * its privacy dialog can show.
 *
 * The SWF's surface (flash_phone/src/rtmp2sip/Bridge.hx): methods `connect(id, url, token, app)`,
 * `disconnect()`, `dial|hangup|register|unregister|accept|reject|sendDTMF|hold|unhold|transfer(id, ...args)`,
 * `mute(bool)`, `setQuality(q)`; it calls `window[flashvars.callback](type, detail)` with `ready`,
 * `reply {id, ok, info}`, `connection` (NetConnection netStatus info), `onStatus` (a Sono.* info),
 * `stream {stream, info}`, `media {state, publish, play}`, `microphone {code}`.
 */
export class FlashPhone extends Phone {
  /** @param {FlashPhoneOptions} options */
  constructor(options) {
    if (!options || typeof options.swf !== 'string' || !options.swf) throw new TypeError("new Phone({ transport: 'flash', swf }) needs the URL of phone.swf");
    if (typeof options.url !== 'string' || !/^rtmp[st]?:\/\//i.test(options.url)) throw new TypeError("the Flash transport's url is rtmp://, rtmps:// or rtmpt://host[:port]/app");
    super({ ...options, media: null });
    this.options = { loadTimeoutMs: 10000, ...this.options };
    /** the embedded SWF element (or the stand-in `embed` returned) */
    this.swf = /** @type {any} */ (null);
    this.callbackName = `__rtmp2sipFlash${++flashSeq}`;
    /** @type {Map<number, {resolve: (info: any) => void, reject: (e: Error) => void}>} */
    this.requests = new Map();
    this.nextId = 1;
    this.flashConnected = false;
    /** the SWF's `ready` detail once loaded */
    this.flashInfo = /** @type {Record<string, any>|null} */ (null);
    /** @type {Promise<void>|null} */
    this.loaded = null;
    this.mediaRunning = false;
  }

  get isConnected() { return this.flashConnected; }

  get remoteStream() { return null; }

  /** Embeds the SWF once and waits for its `ready`. @returns {Promise<void>} */
  load() {
    if (this.loaded) return this.loaded;
    const o = /** @type {FlashPhoneOptions & Record<string, any>} */ (/** @type {unknown} */ (this.options));
    this.loaded = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.loaded = null;
        reject(new PhoneError('NetConnection.Connect.Failed', `phone.swf did not load within ${o.loadTimeoutMs} ms (no Flash Player, or ${o.swf} not found)`));
      }, o.loadTimeoutMs);
      /** @type {any} */ (globalThis)[this.callbackName] = (/** @type {string} */ type, /** @type {any} */ detail) => {
        // The Flash Player calls synchronously; leave its stack before running page code.
        Promise.resolve().then(() => {
          if (type === 'ready') { clearTimeout(timer); this.flashInfo = detail ?? {}; resolve(); }
          this.onFlash(type, detail ?? {});
        });
      };
      const flashvars = { callback: this.callbackName, ui: '0', quality: String(o.quality ?? 8) };
      try {
        this.swf = (o.embed ?? embedFlash)(o.swf, flashvars, o);
      } catch (e) {
        clearTimeout(timer);
        this.loaded = null;
        reject(new PhoneError('NetConnection.Connect.Failed', `cannot embed ${o.swf}: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
    return this.loaded;
  }

  /**
   * Loads the SWF, then its NetConnection connects to `url` with the token.
   * @returns {Promise<Record<string, any>>} the NetConnection.Connect.Success info
   */
  async connect() {
    if (this.flashConnected) throw new PhoneError('NetConnection.Connect.Failed', 'already connected');
    await this.load();
    const o = this.options;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new PhoneError('NetConnection.Connect.Failed', `no answer from the gateway within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    });
    try {
      const info = await Promise.race([this.request('connect', [o.url, o.token ?? null, o.app ?? null], false), timeout]);
      this.flashConnected = true;
      this.serverProperties = {};
      this.emit('connected', info);
      return info;
    } catch (e) {
      try { this.swf?.disconnect?.(); } catch { /* ignore */ }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @returns {any} */
  need() {
    if (!this.flashConnected || !this.swf) throw new PhoneError('NetConnection.Connect.Closed', 'not connected: call connect() first');
    return this.swf;
  }

  /**
   * Calls the SWF's `method(id, ...args)`; settles on its `reply` for id.
   * @param {string} method @param {unknown[]} args @param {boolean} [needConnection]
   * @returns {Promise<any>} the `_result` info
   */
  request(method, args, needConnection = true) {
    const swf = needConnection ? this.need() : this.swf;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      try {
        if (typeof swf?.[method] !== 'function') throw new Error(`phone.swf has no ${method}() (ExternalInterface)`);
        swf[method](id, ...args);
      } catch (e) {
        this.requests.delete(id);
        reject(e instanceof PhoneError ? e : new PhoneError('NetConnection.Call.Failed', e instanceof Error ? e.message : String(e)));
      }
    });
  }

  /** @param {{user: string, registrar: string, password: string, authUser?: string, displayName?: string}} [o] */
  async register(o) {
    const args = o ? [o.user, o.registrar, o.password, o.authUser ?? null, o.displayName ?? null] : [];
    return (await this.request('register', args)) ?? {};
  }

  async unregister() { await this.request('unregister', []); }

  /** @param {string} uri @returns {Promise<CallStatus>} */
  call(uri) {
    try { this.need(); } catch (e) { return Promise.reject(e); }
    if (this.pendingCall) return Promise.reject(new PhoneError('Sono.Call.Existing', 'a call() is already pending'));
    return new Promise((resolve, reject) => {
      const id = this.nextId; // request() takes it; events settle the call, and then the id is dropped
      this.pendingCall = {
        resolve: (s) => { this.requests.delete(id); resolve(s); },
        reject: (e) => { this.requests.delete(id); reject(e); },
      };
      this.request('dial', [uri]).then(() => { /* no _result expected */ }, (e) => {
        if (this.pendingCall) { this.pendingCall = null; reject(e); }
      });
    });
  }

  async hangup() { await this.request('hangup', []); }

  async answer() { await this.request('accept', []); }

  /** @param {number} [code] */
  async decline(code) { await this.request('reject', [code ?? null]); }

  /** @param {string} digits @param {number} [durationMs] */
  async sendDTMF(digits, durationMs) {
    if (typeof digits !== 'string' || !/^[0-9*#A-Da-d]{1,32}$/.test(digits)) throw new PhoneError('Sono.Call.Failed', `bad DTMF digits ${JSON.stringify(digits)}`);
    await this.request('sendDTMF', [digits, durationMs ?? null]);
  }

  /** @param {string} uri */
  async transfer(uri) { await this.request('transfer', [uri]); }

  async hold() { await this.request('hold', []); }

  async unhold() { await this.request('unhold', []); }

  /** @param {boolean} muted */
  mute(muted) {
    this.muted = !!muted;
    try { this.swf?.mute?.(this.muted); } catch { /* not loaded */ }
  }

  /** The Flash Player's audio is not visible to the page: the codec only (Speex while a call's media runs). */
  stats() {
    return { codec: this.mediaRunning ? 'speex' : null, rtt_ms: null, jitter_ms: 0, packets_lost: 0, packets_received: 0, packets_dropped_out: 0 };
  }

  /** Closes the SWF's NetConnection (the gateway ends any call); the SWF stays loaded for the next connect(). */
  disconnect() {
    try { this.swf?.disconnect?.(); } catch { /* ignore */ }
    this.flashDown();
  }

  /** @param {Error} [error] */
  flashDown(error) {
    const wasUp = this.flashConnected;
    this.flashConnected = false;
    this.mediaRunning = false;
    for (const [, r] of this.requests) r.reject(new PhoneError('NetConnection.Connect.Closed', error?.message ?? 'closed'));
    this.requests.clear();
    if (wasUp) this.onClose(error); else this.serverProperties = null;
  }

  /** One event from the SWF. @param {string} type @param {any} d */
  onFlash(type, d) {
    switch (type) {
      case 'reply': {
        const r = this.requests.get(Number(d.id));
        if (!r) return;
        this.requests.delete(Number(d.id));
        const info = d.info ?? {};
        if (d.ok) r.resolve(info);
        else r.reject(new PhoneError(String(info.code ?? 'NetConnection.Call.Failed'), String(info.description ?? ''), info));
        break;
      }
      case 'connection': {
        // NetConnection.Connect.Closed / Failed / Rejected / IdleTimeout / AppShutdown end the connection;
        // other NetConnection statuses (NetConnection.Call.Failed, ...) are reported as `netstatus`.
        const code = String(d.code ?? '');
        if (!code.startsWith('NetConnection.Connect.')) { this.emit('netstatus', { ...d, streamId: 0 }); break; }
        if (this.flashConnected && code !== 'NetConnection.Connect.Success') this.flashDown(code === 'NetConnection.Connect.Closed' ? undefined : new PhoneError(code, String(d.description ?? '')));
        break;
      }
      case 'onStatus':
        this.onCommand({ name: 'onStatus', transactionId: 0, commandObject: null, args: [d], streamId: 0 });
        break;
      case 'stream':
        this.emit('netstatus', { ...(d.info ?? {}), stream: d.stream });
        break;
      case 'media':
        this.mediaRunning = d.state === 'started';
        break;
      case 'microphone': {
        const asking = d.code === 'Microphone.Muted';
        const el = this.swf;
        if (el && el.style) {
          const w = asking ? 240 : 1, h = asking ? 160 : 1;
          el.width = String(w); el.height = String(h);
          el.style.width = `${w}px`; el.style.height = `${h}px`;
        }
        this.emit('microphone', d);
        break;
      }
      default: break;
    }
  }
}
