// A node MediaEngine for the end-to-end tests: publishes a µ-law tone in real
// time (20 ms frames of 160 bytes) and records what the play stream brings.
import { pcmuAudioPayload, ulawEncode, ulawDecode } from '../rtmp2sip-phone.js';
import { tone } from './helpers.js';

export class ToneMedia {
  /** @param {{hz?: number, seconds?: number, amp?: number}} [o] */
  constructor({ hz = 1000, seconds = 2, amp = 0.5 } = {}) {
    this.hz = hz; this.seconds = seconds; this.amp = amp;
    /** @type {{codec: string, packetType: number, data: Uint8Array, ts: number}[]} */
    this.received = [];
    this.sent = 0;
    this.session = null;
    this.timer = null;
    this.finished = new Promise((r) => { this.finish = r; });
    this.started = false;
    this.stopped = false;
  }
  canDecodeOpus() { return false; }
  async canEncodeOpus() { return false; }
  async start(session) {
    this.session = session;
    this.started = true;
    const frames = Math.round(this.seconds * 50);
    const t0 = Date.now();
    const tick = () => {
      // real-time pacing with drift correction: send every frame whose time has come
      while (this.sent < frames && Date.now() - t0 >= this.sent * 20) {
        const pcm = tone(this.hz, 8000, 160, this.amp, this.sent * 160);
        session.sendAudio(pcmuAudioPayload(ulawEncode(pcm)), this.sent * 20);
        this.sent++;
      }
      if (this.sent >= frames) { this.finish(); return; }
      this.timer = setTimeout(tick, 5);
    };
    tick();
  }
  receive(frame, ts) { this.received.push({ ...frame, data: frame.data.slice(), ts }); }
  stop() { this.stopped = true; clearTimeout(this.timer); this.finish(); }
  /** The received µ-law audio as 8 kHz PCM. */
  pcm() {
    const parts = this.received.filter((f) => f.codec === 'pcmu').map((f) => ulawDecode(f.data));
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Int16Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
}
