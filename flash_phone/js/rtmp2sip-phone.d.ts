// Type declarations for rtmp2sip-phone.js (the rtmp2sip web phone SDK).
// Units are in the names or the comments: ms, bytes, Hz, samples.

// ---- errors ----

/** Bad bytes from the network or a limit exceeded; `code` is a stable name ("MessageTooLarge", "AmfDepthExceeded", ...). */
export class RtmpError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

/** An error from the gateway or the API: NetConnection / Sono code, description, the info object. */
export class PhoneError extends Error {
  constructor(code: string, description: string, info?: Record<string, unknown> | null);
  readonly code: string;
  readonly description: string;
  readonly info: Record<string, unknown> | null;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array;

// ---- AMF0 (Adobe AMF0 specification) ----

export const AMF0: Readonly<{
  NUMBER: 0x00; BOOLEAN: 0x01; STRING: 0x02; OBJECT: 0x03; MOVIECLIP: 0x04; NULL: 0x05;
  UNDEFINED: 0x06; REFERENCE: 0x07; ECMA_ARRAY: 0x08; OBJECT_END: 0x09; STRICT_ARRAY: 0x0a;
  DATE: 0x0b; LONG_STRING: 0x0c; UNSUPPORTED: 0x0d; RECORDSET: 0x0e; XML_DOCUMENT: 0x0f;
  TYPED_OBJECT: 0x10; AVMPLUS: 0x11;
}>;

/** AMF0 ECMA array (marker 0x08): its own enumerable properties are the entries. */
export class EcmaArray {
  constructor(entries?: Record<string, unknown>);
  [key: string]: unknown;
}

/** AMF0 date: ms since the epoch and the time-zone field in minutes (kept as sent). */
export class AmfDate {
  constructor(ms: number, tz?: number);
  ms: number;
  tz: number;
  toDate(): Date;
}

export interface AmfLimits {
  /** maximum container nesting, default 32 */
  maxDepth?: number;
  /** maximum values per decode call, default 65,536 */
  maxItems?: number;
  /** maximum bytes of one string, default 1 MiB */
  maxStringLength?: number;
  /** maximum string bytes per decode call, default 16 MiB */
  maxTotalBytes?: number;
}
export const DEFAULT_AMF_LIMITS: Readonly<Required<AmfLimits>>;

/** A value AMF0 can carry (decoded objects are plain objects; typed objects carry a non-enumerable `amfClassName`). */
export type AmfValue =
  | number | boolean | string | null | undefined
  | Date | AmfDate | EcmaArray | AmfValue[] | { [key: string]: AmfValue };

export function amf0Encode(values: unknown[]): Uint8Array;
export function amf0Decode(bytes: Uint8Array, limits?: AmfLimits): AmfValue[];

// ---- handshake (RTMP §5.2) ----

/** 1536: size of C1/S1/C2/S2, bytes. */
export const HANDSHAKE_SIZE: 1536;

export class ClientHandshake {
  /** @param opts.time C1 time field, ms; opts.random fills the 1528 random bytes */
  constructor(opts?: { time?: number; random?: (buf: Uint8Array) => void });
  readonly done: boolean;
  readonly serverVersion: number | null;
  /** whether S2 echoed C1's random bytes (plain handshake servers do) */
  readonly s2EchoesC1: boolean | null;
  /** C0 + C1, 1537 bytes */
  start(): Uint8Array;
  /** consumes S0/S1/S2 in any split; `send` is C2 (once); `rest` the bytes after S2 */
  feed(bytes: Uint8Array): { send: Uint8Array | null; done: boolean; rest: Uint8Array };
}

// ---- chunk stream (RTMP §5.3) ----

export const MSG: Readonly<{
  SET_CHUNK_SIZE: 1; ABORT: 2; ACK: 3; USER_CONTROL: 4; WINDOW_ACK_SIZE: 5; SET_PEER_BANDWIDTH: 6;
  AUDIO: 8; VIDEO: 9; DATA_AMF3: 15; SHARED_OBJECT_AMF3: 16; COMMAND_AMF3: 17; DATA_AMF0: 18;
  SHARED_OBJECT_AMF0: 19; COMMAND_AMF0: 20; AGGREGATE: 22;
}>;

export const USER_CONTROL: Readonly<{
  STREAM_BEGIN: 0; STREAM_EOF: 1; STREAM_DRY: 2; SET_BUFFER_LENGTH: 3; STREAM_IS_RECORDED: 4;
  PING_REQUEST: 6; PING_RESPONSE: 7;
}>;

export interface RtmpMessage {
  /** chunk stream id, 2..65599 */
  csid: number;
  /** ms, unsigned 32-bit, wraps at 2^32 */
  timestamp: number;
  /** message type id (MSG) */
  type: number;
  /** message stream id */
  streamId: number;
  payload: Uint8Array;
}

export interface ChunkLimits {
  /** largest message accepted, bytes (default 262,144) */
  maxMessageSize?: number;
  /** most chunk stream ids per connection (default 64) */
  maxChunkStreams?: number;
}

export class ChunkReader {
  constructor(limits?: ChunkLimits);
  /** inbound chunk size, bytes */
  readonly chunkSize: number;
  /** bytes pushed so far */
  readonly bytesReceived: number;
  readonly streams: Map<number, unknown>;
  /** complete messages from the input so far; throws RtmpError on a violation or limit */
  push(bytes: Uint8Array): RtmpMessage[];
}

export class ChunkWriter {
  constructor();
  /** outbound chunk size, bytes */
  readonly chunkSize: number;
  readonly bytesWritten: number;
  write(message: RtmpMessage): Uint8Array;
  /** Set Chunk Size message, applied to the following messages; size 1..0x7FFFFFFF bytes */
  setChunkSizeMessage(size: number): Uint8Array;
}

/** A protocol control message on chunk stream 2, message stream 0. */
export function controlMessage(type: number, payload: Uint8Array): RtmpMessage;

// ---- transports ----

/** A byte stream carrying RTMP. The phone sets onData/onClose. */
export interface ByteTransport {
  send(bytes: Uint8Array): void;
  close(): void;
  onData: ((bytes: Uint8Array) => void) | null;
  onClose: ((error?: Error) => void) | null;
  /** bytes queued and not yet sent (audio is dropped above PhoneOptions.maxBufferedBytes) */
  readonly bufferedAmount?: number;
}
export type TransportFactory = (url: string) => Promise<ByteTransport>;

/** RTMP over WebSocket (binary messages, subprotocol "binary"); browsers only. */
export const webSocketTransport: TransportFactory;

// ---- RtmpClient ----

export interface RtmpCommand {
  name: string;
  transactionId: number;
  commandObject: unknown;
  /** the values after the command object */
  args: unknown[];
  streamId: number;
}

export class RtmpClient {
  constructor(transport: ByteTransport, opts?: {
    /** outbound chunk size, bytes (default 4096) */
    chunkSize?: number;
    limits?: ChunkLimits;
    onCommand?: (cmd: RtmpCommand) => void;
    onAudio?: (msg: RtmpMessage) => void;
    onUserControl?: (msg: RtmpMessage) => void;
    onClose?: (error?: Error) => void;
  });
  readonly transport: ByteTransport;
  readonly closed: boolean;
  /** last command round trip, ms */
  readonly rttMs: number | null;
  /** every byte received, handshake included */
  readonly bytesIn: number;
  start(): Promise<void>;
  invoke(name: string, args: unknown[], o: { streamId?: number; csid?: number; commandObject?: unknown; expectReply: true; tid?: number }): Promise<RtmpCommand>;
  invoke(name: string, args: unknown[], o?: { streamId?: number; csid?: number; commandObject?: unknown; expectReply?: false; tid?: number }): null;
  send(message: RtmpMessage): void;
  /** drops a pending transaction without settling it */
  forget(tid: number): void;
  /** one audio message on a publishing stream; timestamp in ms */
  sendAudio(streamId: number, timestampMs: number, payload: Uint8Array): void;
  close(error?: Error): void;
}

// ---- audio (FLV E.4.2.1, E-RTMP v2, ITU-T G.711) ----

/** 0x82: FLV SoundFormat 8 (G.711 µ-law), 8 kHz, mono. */
export const FLV_PCMU: 0x82;
/** 0x72: FLV SoundFormat 7 (G.711 A-law). */
export const FLV_PCMA: 0x72;
/** "Opus" */
export const FOURCC_OPUS: Uint8Array;
export const AUDIO_PACKET: Readonly<{ SEQUENCE_START: 0; CODED_FRAMES: 1; SEQUENCE_END: 2; MULTICHANNEL_CONFIG: 4; MULTITRACK: 5 }>;

/** 16-bit linear sample (-32768..32767) → µ-law byte. */
export function ulawEncodeSample(sample: number): number;
/** µ-law byte → 16-bit linear sample. */
export function ulawDecodeSample(byte: number): number;
/** 8 kHz PCM → µ-law, one byte per sample (160 = 20 ms). */
export function ulawEncode(pcm: Int16Array | number[]): Uint8Array;
export function ulawDecode(bytes: Uint8Array): Int16Array;
/** 0x82 + µ-law bytes. */
export function pcmuAudioPayload(ulaw: Uint8Array): Uint8Array;
/** OpusHead (RFC 7845 §5.1), 19 bytes. preSkip in 48 kHz samples, inputSampleRate Hz, outputGain Q7.8 dB. */
export function opusHead(o?: { channels?: number; preSkip?: number; inputSampleRate?: number; outputGain?: number }): Uint8Array;
/** 0x90|packetType, "Opus", body. */
export function opusAudioPayload(packetType: number, body?: Uint8Array): Uint8Array;

export interface AudioFrame {
  codec: 'pcmu' | 'pcma' | 'opus' | 'other';
  /** E-RTMP AudioPacketType (1 = CodedFrames for legacy FLV) */
  packetType: number;
  data: Uint8Array;
  soundFormat?: number;
  fourCc?: string;
}
export function parseAudioPayload(payload: Uint8Array): AudioFrame | null;

/** Linear-interpolation resampler, mono float (fromHz, toHz in Hz). */
export function resampleLinear(input: Float32Array, fromHz: number, toHz: number): Float32Array;

/** AudioWorklet module source: processors 'rtmp2sip-capture' and 'rtmp2sip-playback'. */
export const WORKLET_SOURCE: string;

// ---- media engines ----

export interface MediaSession {
  uplinkCodec: 'opus' | 'pcmu';
  /** one audio message body on the publish stream; timestamp ms; false when dropped */
  sendAudio(payload: Uint8Array, timestampMs: number): boolean;
}

export interface MediaEngine {
  start(session: MediaSession): Promise<void>;
  receive(frame: AudioFrame, timestampMs: number): void;
  stop(): void;
  setMuted?(muted: boolean): void;
  canDecodeOpus?(): boolean;
  canEncodeOpus?(): Promise<boolean>;
  readonly remoteStream?: MediaStream | null;
  stats?(): { dropped?: number };
}

export class BrowserMedia implements MediaEngine {
  constructor(o?: {
    /** extra getUserMedia audio constraints (e.g. deviceId) */
    audio?: MediaTrackConstraints;
    /** also play the far end on the default output (default true) */
    playout?: boolean;
    /** Opus bitrate, bits/s (default 32,000) */
    bitrate?: number;
    /** playback buffer cap, ms (default 60) */
    jitterMs?: number;
    codec?: 'auto' | 'opus' | 'pcmu';
  });
  remoteStream: MediaStream | null;
  start(session: MediaSession): Promise<void>;
  receive(frame: AudioFrame, timestampMs: number): void;
  stop(): void;
  setMuted(muted: boolean): void;
  canDecodeOpus(): boolean;
  canEncodeOpus(): Promise<boolean>;
  stats(): { dropped: number; encodeErrors: number };
}

// ---- the Phone ----

export const CallStatusCode: Readonly<{ NOT_CONNECTED: 0; IN_PROGRESS: 1; CONNECTED: 2; DISCONNECTING: 3; CONNECT_STREAMS: 4 }>;

/** Sono.Call.Status info. */
export interface CallStatus {
  level: string;
  code: 'Sono.Call.Status';
  /** 0 NOT_CONNECTED, 1 IN_PROGRESS, 2 CONNECTED, 3 DISCONNECTING, 4 CONNECT_STREAMS */
  status_code: 0 | 1 | 2 | 3 | 4;
  sip_code?: number;
  reason?: string;
  call_id?: string;
  /** status 4: the call's publish stream name (128 random bits) */
  publish?: string;
  /** status 4: the call's play stream name */
  play?: string;
  /** status 1: the far end's early media plays before the answer (publish/play given) */
  early_media?: boolean;
  [key: string]: unknown;
}

/** Sono.Call.Transfer info. */
export interface TransferStatus {
  level: string;
  code: 'Sono.Call.Transfer';
  call_id: string;
  status: 'trying' | 'accepted' | 'succeeded' | 'failed';
  sip_code?: number;
  reason?: string;
  /** a far end's transfer: the URI the gateway now calls */
  target?: string;
  [key: string]: unknown;
}

/** Sono.Call.Incoming info. */
export interface IncomingCall {
  code: 'Sono.Call.Incoming';
  /** the caller (From URI) */
  uri: string;
  display_name?: string;
  to?: string;
  call_id?: string;
  [key: string]: unknown;
}

/** Sono.Registration.Status info. */
export interface RegistrationStatus {
  code: 'Sono.Registration.Status';
  status: 'registered' | 'failed' | 'expired' | 'unregistered';
  uri?: string;
  sip_code?: number;
  reason?: string;
  /** seconds */
  expires?: number;
  [key: string]: unknown;
}

/** Sono.Call.DTMF info. */
export interface DtmfEvent {
  code: 'Sono.Call.DTMF';
  digit: string;
  [key: string]: unknown;
}

/** Sono.Call.Hold info (or Sono.Call.HoldFailed: `sip_code`, `reason`). */
export interface HoldEvent {
  code: 'Sono.Call.Hold' | 'Sono.Call.HoldFailed';
  call_id: string;
  /** the call is (Hold) or was to be (HoldFailed) on hold */
  held: boolean;
  /** who changed it (Sono.Call.Hold only) */
  by?: 'local' | 'remote';
  sip_code?: number;
  reason?: string;
  [key: string]: unknown;
}

export interface PhoneOptions {
  /** wss://host/rtmp for the default transport */
  url: string;
  /** RTMP application name, default "phone" */
  app?: string;
  /** first connect argument after the command object */
  token?: string;
  /** default rtmp://<host of url>/<app> */
  tcUrl?: string;
  /** default webSocketTransport; "flash": the Phone is a FlashPhone (see FlashPhoneOptions) */
  transport?: TransportFactory | 'flash';
  /** default new BrowserMedia(); null: signalling only */
  media?: MediaEngine | null;
  /** ms, default 10,000 */
  connectTimeoutMs?: number;
  limits?: ChunkLimits;
  /** bytes, default 65,536 */
  maxBufferedBytes?: number;
}

export interface PhoneStats {
  codec: string | null;
  /** last command round trip, ms */
  rtt_ms: number | null;
  /** RFC 3550 interarrival jitter of received audio, ms */
  jitter_ms: number;
  packets_lost: number;
  packets_received: number;
  packets_dropped_out: number;
}

export interface PhoneEventMap {
  connected: CustomEvent<Record<string, unknown>>;
  disconnected: CustomEvent<{ error?: Error }>;
  status: CustomEvent<CallStatus>;
  incoming: CustomEvent<IncomingCall>;
  registration: CustomEvent<RegistrationStatus>;
  dtmf: CustomEvent<DtmfEvent>;
  transfer: CustomEvent<TransferStatus>;
  hold: CustomEvent<HoldEvent>;
  netstatus: CustomEvent<Record<string, unknown> & { streamId: number }>;
}

export class Phone extends EventTarget {
  constructor(options: PhoneOptions | FlashPhoneOptions);
  readonly options: PhoneOptions;
  readonly rtmp: RtmpClient | null;
  readonly media: MediaEngine | null;
  /** connect _result properties (fmsVer, capabilities, audioFourCcInfoMap, ...) */
  readonly serverProperties: Record<string, any> | null;
  readonly callStatus: CallStatus | null;
  readonly muted: boolean;
  readonly remoteStream: MediaStream | null;
  readonly isConnected: boolean;
  connect(): Promise<Record<string, unknown>>;
  register(o?: { user: string; registrar: string; password: string; authUser?: string; displayName?: string }): Promise<{ uri?: string; [key: string]: unknown }>;
  unregister(): Promise<void>;
  call(uri: string): Promise<CallStatus>;
  hangup(): Promise<void>;
  answer(): Promise<void>;
  /** code: SIP 400..699, gateway default 603 */
  decline(code?: number): Promise<void>;
  /** digits: up to 32 of 0-9 * # A-D; durationMs per digit */
  sendDTMF(digits: string, durationMs?: number): Promise<void>;
  /** blind transfer (REFER) of the connected call to uri */
  transfer(uri: string): Promise<void>;
  mute(muted: boolean): void;
  /** re-INVITE a=sendonly; outcome as a `hold` event; rejects Sono.Call.NoCall without a call */
  hold(): Promise<void>;
  /** re-INVITE a=sendrecv */
  unhold(): Promise<void>;
  stats(): PhoneStats;
  disconnect(): void;
  addEventListener<K extends keyof PhoneEventMap>(type: K, listener: (ev: PhoneEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof PhoneEventMap>(type: K, listener: (ev: PhoneEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** rtmp://<host>/<app> from the phone's url. */
export function defaultTcUrl(url: string, app: string): string;

// ---- the Flash transport (flash_phone/phone.swf) ----

export interface FlashPhoneOptions {
  transport: 'flash';
  /** URL of phone.swf, e.g. "/flash_phone/phone.swf" */
  swf: string;
  /** the gateway as the Flash Player reaches it: rtmp://, rtmps:// or rtmpt://host[:port]/app */
  url: string;
  /** first connect argument after the command object ([auth]) */
  token?: string;
  app?: string;
  /** Speex encodeQuality 0-10, default 8 */
  quality?: number;
  /** where the SWF is embedded, default document.body */
  container?: HTMLElement;
  /** ms to wait for the SWF's `ready`, default 10,000 */
  loadTimeoutMs?: number;
  /** ms, default 10,000 */
  connectTimeoutMs?: number;
  /** the embed's allowScriptAccess, default "sameDomain" (phone.swf from the page's origin) */
  allowScriptAccess?: string;
  /** embeds the SWF and returns the element carrying its ExternalInterface methods (default embedFlash) */
  embed?: (swf: string, flashvars: Record<string, string>, o: FlashPhoneOptions) => any;
}

/** Embeds phone.swf as a 1x1 px <object> with flashvars; returns the element. */
export function embedFlash(swf: string, flashvars: Record<string, string>, o: FlashPhoneOptions): HTMLObjectElement;

export const FLASH_VERSION_PREFIX: string;

/**
 * The Phone API through phone.swf: `new Phone({ transport: 'flash', swf, url })` returns one.
 * remoteStream is null (the Flash Player plays the far end); stats() has the codec only.
 * Extra event: `microphone` (detail {code: "Microphone.Muted" | "Microphone.Unmuted" | "Microphone.Missing"}).
 */
export class FlashPhone extends Phone {
  constructor(options: FlashPhoneOptions);
  /** the embedded SWF element */
  readonly swf: any;
  /** the SWF's `ready` detail ({version}) once loaded */
  readonly flashInfo: Record<string, any> | null;
  /** embeds the SWF once and waits for its `ready` */
  load(): Promise<void>;
}
