// A minimal SIP registrar on UDP for the registration test: answers REGISTER
// with 200 OK (or a fixed failure code), echoing Via/From/To/Call-ID/CSeq
// (RFC 3261 §10.3). Only what the test needs: no digest, no state.
import dgram from 'node:dgram';

export async function startRegistrar({ code = 200 } = {}) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const requests = [];
  sock.on('message', (buf, rinfo) => {
    const text = buf.toString('utf8');
    const [start, ...lines] = text.split('\r\n');
    if (!start.startsWith('REGISTER ')) return;
    requests.push(text);
    const keep = lines.filter((l) => /^(via|v|from|f|to|t|call-id|i|cseq|contact|m):/i.test(l));
    const reason = code === 200 ? 'OK' : code === 403 ? 'Forbidden' : 'Error';
    const hdrs = keep.map((l) => (/^(to|t):/i.test(l) && !/;tag=/i.test(l) ? `${l};tag=reg1` : l));
    const expires = /^expires:\s*(\d+)/im.exec(text)?.[1] ?? '600';
    if (code === 200) hdrs.push(`Expires: ${expires}`);
    const resp = [`SIP/2.0 ${code} ${reason}`, ...hdrs, 'Content-Length: 0', '', ''].join('\r\n');
    sock.send(resp, rinfo.port, rinfo.address);
  });
  return {
    port: sock.address().port,
    requests,
    close: () => new Promise((r) => sock.close(r)),
  };
}
