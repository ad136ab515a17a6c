// A minimal RTMP-over-WebSocket bridge for the tests (RFC 6455, server side,
// only what the test needs): it accepts a WebSocket upgrade, answers the
// `binary` subprotocol, and carries binary messages to and from a TCP port
// (the gateway's RTMP listener), message boundaries meaning nothing, as
// websockify does and as the gateway's own endpoint (issue 8 part 1) will.
// Text frames close the socket with 1003.
import net from 'node:net';
import { createHash } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127, 0, 0, 0, 0]), Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff])]);
  return Buffer.concat([head, payload]);
}

/**
 * @param {number} targetPort the gateway's RTMP port
 * @param {Record<string, {type: string, body: string|Buffer}>} [files] plain GETs served as is (browser smoke test)
 * @returns {Promise<{port: number, protocols: string[], messagesIn: number, close(): void}>} */
export async function startWsBridge(targetPort, files = {}) {
  const state = { port: 0, protocols: [], messagesIn: 0, sockets: new Set() };
  const srv = net.createServer((sock) => {
    state.sockets.add(sock);
    let buf = Buffer.alloc(0);
    let upstream = null;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upstream) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const key = /^sec-websocket-key:\s*(.+)$/im.exec(head)?.[1].trim();
        const protos = (/^sec-websocket-protocol:\s*(.+)$/im.exec(head)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        state.protocols.push(...protos);
        const reqPath = /^GET (\S+) /.exec(head)?.[1] ?? '';
        if (!key && files[reqPath]) {
          const f = files[reqPath];
          const body = Buffer.from(f.body);
          sock.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${f.type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
          return;
        }
        if (!key || reqPath !== '/rtmp') { sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'); return; }
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${accept}`, ...(protos.includes('binary') ? ['Sec-WebSocket-Protocol: binary'] : []), '', ''].join('\r\n'));
        upstream = net.connect({ host: '127.0.0.1', port: targetPort });
        upstream.on('data', (b) => { if (!sock.destroyed) sock.write(frame(2, b)); });
        upstream.on('close', () => { if (!sock.destroyed) sock.end(frame(8, Buffer.from([0x03, 0xe8]))); });
        upstream.on('error', () => sock.destroy());
        sock.on('close', () => upstream.destroy());
      }
      // client frames (always masked)
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let o = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); o = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); o = 10; }
        if (len > 1 << 20) { sock.destroy(); return; }
        if (buf.length < o + 4 + len) return;
        const mask = buf.subarray(o, o + 4);
        const payload = Buffer.from(buf.subarray(o + 4, o + 4 + len));
        for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
        buf = buf.subarray(o + 4 + len);
        if (opcode === 1) { sock.end(frame(8, Buffer.from([0x03, 0xeb]))); upstream.destroy(); return; } // 1003
        if (opcode === 8) { sock.end(frame(8, payload.subarray(0, 2))); upstream.end(); return; }
        if (opcode === 9) { sock.write(frame(10, payload)); continue; }
        if (opcode === 0 || opcode === 2) { state.messagesIn++; upstream.write(payload); }
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  state.port = srv.address().port;
  return {
    get port() { return state.port; },
    get protocols() { return state.protocols; },
    get messagesIn() { return state.messagesIn; },
    close() { for (const s of state.sockets) s.destroy(); srv.close(); },
  };
}
