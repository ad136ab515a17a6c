// A stand-in for flash_phone/phone.swf's ExternalInterface surface (flash_phone/src/rtmp2sip/Bridge.hx), for
// tests of the SDK's Flash transport where no Flash Player exists (node, headless Chromium). It records every
// method call with its arguments and answers as the SWF does in front of a scripted gateway:
//   connect(id, url, token, app)  reply ok with NetConnection.Connect.Success, or, when the token is
//                                 "bad", reply not ok with NetConnection.Connect.Rejected (as the SWF
//                                 reports the gateway's _error)
//   dial(id, uri)                 sip:busy@... : onStatus 0 (486) at once; "forbidden" in the uri: reply
//                                 not ok Sono.Call.Forbidden; else onStatus 1, 2, media started, 4
//                                 (with publish/play names); no reply on success (as the gateway)
//   hangup(id)                    reply ok, onStatus 3, media stopped, 0
//   register(id[, user, ...])     reply ok {uri}; with a user also a Sono.Registration.Status event
//   other requests                reply ok {level: "status"}
//   disconnect()                  connection NetConnection.Connect.Closed
// `raise(type, detail)` sends any event to the page, as the SWF's ExternalInterface.call does.

export const STANDIN_VERSION = 'rtmp2sip-flash 1.0 (stand-in)';

export class FlashStandIn {
  /** @param {(type: string, detail: any) => void} emit the page's callback */
  constructor(emit) {
    this.emit = emit;
    /** @type {[string, unknown[]][]} */
    this.calls = [];
    const methods = ['connect', 'disconnect', 'dial', 'hangup', 'register', 'unregister', 'accept', 'reject',
      'sendDTMF', 'hold', 'unhold', 'transfer', 'mute', 'setQuality'];
    // Like the Flash Player's ExternalInterface, the methods are own properties of the element.
    for (const m of methods) this[m] = (...args) => { this.calls.push([m, args]); this.answer(m, args); };
  }

  /** Says `ready` (the SWF does so once its callbacks exist). */
  start() { this.raise('ready', { version: STANDIN_VERSION }); }

  raise(type, detail) { setTimeout(() => this.emit(type, detail), 0); }

  reply(id, ok, info) { this.raise('reply', { id, ok, info }); }

  sono(info) { this.raise('onStatus', info); }

  answer(m, args) {
    const [id] = args;
    const callId = 'c1';
    switch (m) {
      case 'connect':
        if (args[2] === 'bad') this.reply(id, false, { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'bad token' });
        else this.reply(id, true, { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 });
        break;
      case 'disconnect':
        this.raise('connection', { level: 'status', code: 'NetConnection.Connect.Closed' });
        break;
      case 'dial': {
        const uri = String(args[1]);
        if (uri.includes('forbidden')) { this.reply(id, false, { level: 'error', code: 'Sono.Call.Forbidden', description: 'not allowed by [policy] dial_allow' }); break; }
        if (uri.startsWith('sip:busy@')) { this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 0, sip_code: 486, reason: 'Busy Here', call_id: callId }); break; }
        this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 1, sip_code: 180, reason: 'Ringing', call_id: callId });
        this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 2, sip_code: 200, reason: 'OK', call_id: callId });
        this.raise('media', { state: 'started', publish: 'pub123', play: 'play456' });
        this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 4, call_id: callId, publish: 'pub123', play: 'play456' });
        break;
      }
      case 'hangup':
        this.reply(id, true, { level: 'status' });
        this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 3, call_id: callId });
        this.raise('media', { state: 'stopped', publish: 'pub123', play: 'play456' });
        this.sono({ level: 'status', code: 'Sono.Call.Status', status_code: 0, sip_code: 200, reason: 'Normal hangup', call_id: callId });
        break;
      case 'register':
        if (args.length > 1 && args[1] != null) {
          this.reply(id, true, { level: 'status', uri: `sip:${args[1]}@${args[2]}` });
          this.sono({ level: 'status', code: 'Sono.Registration.Status', status: 'registered', uri: `sip:${args[1]}@${args[2]}`, sip_code: 200, expires: 300 });
        } else this.reply(id, true, { level: 'status', uri: 'sip:u0123@gw.example.com' });
        break;
      case 'mute': case 'setQuality':
        break;
      default:
        this.reply(id, true, { level: 'status' });
    }
  }
}

/**
 * In a browser: watches the document for the `<object type="application/x-shockwave-flash">` the SDK's
 * embedFlash inserts and turns it into the stand-in, as the Flash Player would: reads `flashvars` from its
 * <param>, adds the methods to the element, then calls `window[callback]('ready', ...)`. Returns the list
 * of stand-ins made (with `.element`).
 */
export function installStandIn(doc = globalThis.document) {
  const made = [];
  const attach = (el) => {
    if (el.__standin) return;
    const param = [...el.querySelectorAll('param')].find((p) => p.name === 'flashvars');
    const vars = new URLSearchParams(param ? param.value : '');
    const cb = vars.get('callback');
    const s = new FlashStandIn((type, detail) => globalThis[cb](type, detail));
    s.element = el;
    s.flashvars = Object.fromEntries(vars);
    el.__standin = s;
    for (const k of Object.keys(s)) if (typeof s[k] === 'function') el[k] = s[k];
    made.push(s);
    s.start();
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeName === 'OBJECT' && n.type === 'application/x-shockwave-flash') attach(n);
  }).observe(doc.documentElement, { childList: true, subtree: true });
  return made;
}
