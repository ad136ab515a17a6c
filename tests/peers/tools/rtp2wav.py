#!/usr/bin/python3
"""rtp2wav.py CAPTURE.pcap OUT.wav CODEC [--dport N] [--pt N]
Extracts one RTP stream from a libpcap/pcapng capture (via tshark: tshark -r F -d udp.port==N,rtp) - the
UDP destination port N (default: the port receiving most RTP-looking packets) - orders it by sequence number,
reports loss, and decodes it with ffmpeg to WAV. CODEC: pcmu|pcma|g722|speex16|speex8|opus."""
import sys, struct, subprocess, argparse, collections, tempfile, os, zlib
ap = argparse.ArgumentParser(); ap.add_argument('pcap'); ap.add_argument('out'); ap.add_argument('codec')
ap.add_argument('--dport', type=int); ap.add_argument('--pt', type=int); a = ap.parse_args()
def udp_packets():
    r = subprocess.run(['tshark', '-r', a.pcap, '-Y', 'udp', '-T', 'fields', '-e', 'udp.dstport', '-e', 'udp.payload'],
                       capture_output=True, text=True, check=True).stdout
    for line in r.splitlines():
        p = line.split('\t')
        if len(p) == 2 and p[1]: yield int(p[0]), bytes.fromhex(p[1].replace(':', ''))
pk = [(d, b) for d, b in udp_packets() if len(b) >= 12 and b[0] >> 6 == 2 and not 192 <= b[1] <= 223]  # RTP v2, not RTCP (PT 64-95 w/ marker)
if a.dport is None:
    a.dport = collections.Counter(d for d, _ in pk).most_common(1)[0][0]
pk = [b for d, b in pk if d == a.dport and (a.pt is None or (b[1] & 0x7f) == a.pt)]
rows = {}
for b in pk:
    cc = b[0] & 0x0f; hl = 12 + 4 * cc
    if b[0] & 0x10: hl += 4 + 4 * struct.unpack('>H', b[hl+2:hl+4])[0]
    pl = b[hl:]
    if b[0] & 0x20: pl = pl[:-pl[-1]]
    seq = struct.unpack('>H', b[2:4])[0]; rows.setdefault(seq, (b[1] & 0x7f, pl))
seqs = sorted(rows)
# unwrap sequence numbers (assumes stream shorter than 65536 packets)
if seqs and seqs[-1] - seqs[0] > 32768: seqs = sorted(seqs, key=lambda s: (s + 32768) % 65536)
span = ((seqs[-1] - seqs[0]) & 0xffff) + 1 if seqs else 0
print(f'dport={a.dport} packets={len(seqs)} expected={span} lost={span-len(seqs)} pts={sorted(set(rows[s][0] for s in seqs))}')
frames = [rows[s][1] for s in seqs]
tmp = tempfile.mkdtemp()
def dec(inargs, data, fmt_name):
    p = os.path.join(tmp, 'in.' + fmt_name); open(p, 'wb').write(data)
    subprocess.run(['ffmpeg', '-v', 'error', '-y', *inargs, '-i', p, a.out], check=True)
if a.codec in ('pcmu', 'pcma'):
    dec(['-f', 'mulaw' if a.codec == 'pcmu' else 'alaw', '-ar', '8000', '-ac', '1'], b''.join(frames), 'raw')
elif a.codec == 'g722':
    dec(['-f', 'g722'], b''.join(frames), 'g722')
elif a.codec.startswith('speex'):
    out = bytearray(b'FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00')
    for i, fr in enumerate(frames):                     # wrap each packet in an FLV Speex tag (codec id 11)
        body = b'\xb2' + fr; ts = i * 20
        out += bytes([8]) + len(body).to_bytes(3, 'big') + (ts & 0xffffff).to_bytes(3, 'big') + bytes([ts >> 24]) + b'\0\0\0' + body + struct.pack('>I', 11 + len(body))
    dec(['-c:a', 'libspeex'], bytes(out), 'flv') if a.codec == 'speex16' else dec(['-c:a', 'libspeex'], bytes(out), 'flv')
elif a.codec == 'opus':
    def crc(d):   # Ogg CRC32: poly 0x04c11db7, no reflection, init 0
        c = 0
        for x in d:
            c ^= x << 24
            for _ in range(8): c = ((c << 1) ^ 0x04c11db7) & 0xffffffff if c & 0x80000000 else (c << 1) & 0xffffffff
        return c
    def page(pkt, seqno, granule, flags):
        segs = bytes([255] * (len(pkt) // 255) + [len(pkt) % 255])
        h = b'OggS' + bytes([0, flags]) + struct.pack('<qII', granule, 0x1234, seqno) + b'\0\0\0\0' + bytes([len(segs)]) + segs
        p = bytearray(h + pkt); p[22:26] = struct.pack('<I', crc(p)); return bytes(p)
    head = b'OpusHead' + bytes([1, 1]) + struct.pack('<HIhB', 312, 48000, 0, 0)
    tags = b'OpusTags' + struct.pack('<I', 4) + b'peer' + struct.pack('<I', 0)
    og = page(head, 0, 0, 2) + page(tags, 1, 0, 0)
    for i, fr in enumerate(frames):
        og += page(fr, i + 2, (i + 1) * 960, 4 if i == len(frames) - 1 else 0)
    dec([], og, 'ogg')
print('wrote', a.out)
