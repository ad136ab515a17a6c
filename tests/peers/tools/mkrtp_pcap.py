#!/usr/bin/python3
"""mkrtp_pcap.py IN_AUDIO OUT.pcap CODEC [--pt N] [--ptime 20]
Encodes IN_AUDIO with ffmpeg and packetizes it as an RTP stream in a libpcap file (Ethernet/IPv4/UDP,
127.0.0.1:6000 -> 127.0.0.1:6001), for sipp <exec play_pcap_audio=...> (sipp rewrites addresses/ports).
CODEC: pcmu (PT 0) | pcma (PT 8) | g722 (PT 9, RTP clock 8000) | speex16 (speex/16000, PT 97) |
       speex8 (speex/8000, PT 98) | opus (opus/48000/2, PT 111). One codec frame per packet (20 ms)."""
import sys, struct, subprocess, argparse, random, tempfile, os
ap = argparse.ArgumentParser(); ap.add_argument('inp'); ap.add_argument('out'); ap.add_argument('codec')
ap.add_argument('--pt', type=int); a = ap.parse_args()
C = {'pcmu': (0, 8000, 160), 'pcma': (8, 8000, 160), 'g722': (9, 8000, 160),
     'speex16': (97, 16000, 320), 'speex8': (98, 8000, 160), 'opus': (111, 48000, 960)}
pt, clock, tsinc = C[a.codec]; pt = a.pt if a.pt is not None else pt
def ff(*args): return subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', a.inp, '-ac', '1', *args], capture_output=True, check=True).stdout
frames = []
if a.codec in ('pcmu', 'pcma'):
    raw = ff('-ar', '8000', '-f', 'mulaw' if a.codec == 'pcmu' else 'alaw', '-')
    frames = [raw[i:i+160] for i in range(0, len(raw) - 159, 160)]
elif a.codec == 'g722':
    raw = ff('-ar', '16000', '-c:a', 'g722', '-f', 'g722', '-')          # 64 kbit/s: 160 bytes / 20 ms
    frames = [raw[i:i+160] for i in range(0, len(raw) - 159, 160)]
elif a.codec.startswith('speex'):
    d = ff('-ar', '16000' if a.codec == 'speex16' else '8000', '-c:a', 'libspeex', '-f', 'flv', '-')
    off = struct.unpack('>I', d[5:9])[0] + 4
    while off + 11 <= len(d):
        ln = int.from_bytes(d[off+1:off+4], 'big')
        if d[off] == 8: frames.append(d[off+12:off+11+ln])               # strip the 1-byte FLV audio header
        off += 11 + ln + 4
elif a.codec == 'opus':
    d = ff('-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-f', 'ogg', '-')
    off, pkt, n = 0, b'', 0
    while off < len(d):                                                      # minimal Ogg page parser
        assert d[off:off+4] == b'OggS'; nseg = d[off+26]; segs = d[off+27:off+27+nseg]; p = off + 27 + nseg
        for s in segs:
            pkt += d[p:p+s]; p += s
            if s < 255:
                n += 1
                if n > 2: frames.append(pkt)                                # skip OpusHead, OpusTags
                pkt = b''
        off = p
ssrc, seq0, ts0 = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
with open(a.out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        rtp = struct.pack('>BBHII', 0x80, (0x80 if i == 0 else 0) | pt, (seq0 + i) & 0xffff, (ts0 + i * tsinc) & 0xffffffff, ssrc) + fr
        udp = struct.pack('>HHHH', 6000, 6001, 8 + len(rtp), 0) + rtp
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0, bytes([127,0,0,1]), bytes([127,0,0,1]))
        ck = sum(struct.unpack('>10H', ip)); ck = (ck & 0xffff) + (ck >> 16); ck = ~((ck & 0xffff) + (ck >> 16)) & 0xffff
        ip = ip[:10] + struct.pack('>H', ck) + ip[12:]
        eth = b'\x00' * 12 + b'\x08\x00' + ip + udp
        t = i * 0.020
        f.write(struct.pack('<IIII', int(t), int((t % 1) * 1e6), len(eth), len(eth)) + eth)
print(f'{a.out}: {len(frames)} RTP packets, codec={a.codec} pt={pt} clock={clock} {len(frames)*0.02:.2f}s')
