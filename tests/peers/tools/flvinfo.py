#!/usr/bin/python3
"""Print FLV audio tag header info: SoundFormat (codec id), rate idx, size, type, tag count, payload sizes."""
import sys, struct, collections
NAMES = {0:'LPCM-PE',1:'ADPCM',2:'MP3',3:'LPCM-LE',4:'Nelly16k',5:'Nelly8k',6:'Nelly',7:'G711A',8:'G711U',10:'AAC',11:'Speex',14:'MP3-8k'}
def main(path):
    d = open(path, 'rb').read()
    assert d[:3] == b'FLV', 'not FLV'
    off = struct.unpack('>I', d[5:9])[0] + 4
    hdrs = collections.Counter(); sizes = collections.Counter(); n = 0; first_ts = last_ts = None
    while off + 11 <= len(d):
        t = d[off]; ln = int.from_bytes(d[off+1:off+4], 'big')
        ts = int.from_bytes(d[off+4:off+7], 'big') | (d[off+7] << 24)
        body = d[off+11:off+11+ln]
        if t == 8 and body:
            b = body[0]; n += 1
            hdrs[(b >> 4, (b >> 2) & 3, (b >> 1) & 1, b & 1)] += 1
            sizes[len(body) - 1] += 1
            first_ts = ts if first_ts is None else first_ts; last_ts = ts
        off += 11 + ln + 4
    for (fmt, rate, size, typ), c in hdrs.items():
        print(f'{path}: audio tags={c} SoundFormat={fmt} ({NAMES.get(fmt,"?")}) rateidx={rate} 16bit={size} stereo={typ}')
    print(f'  payload sizes (bytes:count): {dict(sizes.most_common(4))}  ts {first_ts}..{last_ts} ms')
if __name__ == '__main__':
    for p in sys.argv[1:]: main(p)
