"""Enhanced RTMP v2 Opus for the tests (veovera enhanced-rtmp v2, "Enhanced Audio"): message bodies,
Opus packets out of an Ogg Opus file made by ffmpeg (RFC 7845 pages, RFC 3533 lacing), and an Ogg Opus
file rebuilt from received packets so ffmpeg can decode them.

    SequenceStart:  90 'Opus' OpusHead      CodedFrames: 91 'Opus' <packet>      SequenceEnd: 92 'Opus'"""
import struct
from pathlib import Path

from .procs import run

OPUS = b"Opus"
SEQUENCE_START, CODED_FRAMES, SEQUENCE_END = 0, 1, 2


def body(packet_type: int, payload: bytes = b"") -> bytes:
    return bytes([0x90 | packet_type]) + OPUS + payload


def parse_body(b: bytes):
    """(packet type, payload) of an E-RTMP Opus body (no multitrack), or None for anything else."""
    if len(b) < 5 or b[0] >> 4 != 9 or b[1:5] != OPUS:
        return None
    return b[0] & 0x0F, b[5:]


def make_ogg_opus(wav: Path, ogg: Path) -> Path:
    """ffmpeg's libopus: 48 kHz mono, 20 ms frames, 32 kbit/s."""
    run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "libopus", "-ar", "48000", "-ac", "1",
         "-frame_duration", "20", "-b:a", "32k", ogg])
    return Path(ogg)


def ogg_packets(ogg: Path) -> list:
    """The packets of an Ogg file, in order (OpusHead and OpusTags first for Ogg Opus)."""
    d = Path(ogg).read_bytes()
    off, pkt, out = 0, b"", []
    while off + 27 <= len(d):
        assert d[off:off + 4] == b"OggS", f"no Ogg page at {off}"
        nseg = d[off + 26]
        segs = d[off + 27:off + 27 + nseg]
        p = off + 27 + nseg
        for s in segs:
            pkt += d[p:p + s]
            p += s
            if s < 255:
                out.append(pkt)
                pkt = b""
        off = p
    return out


def _crc(d: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial 0 (RFC 3533 section 6)."""
    c = 0
    for x in d:
        c ^= x << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if c & 0x80000000 else (c << 1) & 0xFFFFFFFF
    return c


def _page(pkt: bytes, seqno: int, granule: int, flags: int) -> bytes:
    segs = bytes([255] * (len(pkt) // 255) + [len(pkt) % 255])
    h = b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, 0x5151, seqno) + b"\0\0\0\0" + \
        bytes([len(segs)]) + segs
    p = bytearray(h + pkt)
    p[22:26] = struct.pack("<I", _crc(bytes(p)))
    return bytes(p)


def write_ogg_opus(head: bytes, packets: list, ogg: Path) -> Path:
    """An Ogg Opus file: `head` (an OpusHead), OpusTags, one packet per page (20 ms granule steps)."""
    tags = b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)
    out = _page(head, 0, 0, 2) + _page(tags, 1, 0, 0)
    for i, p in enumerate(packets):
        out += _page(p, i + 2, (i + 1) * 960, 4 if i == len(packets) - 1 else 0)
    Path(ogg).write_bytes(out)
    return Path(ogg)


def decode_to_wav(head: bytes, packets: list, ogg: Path, wav: Path, decoder: str = None) -> Path:
    """Decodes with ffmpeg's default Opus decoder, or `decoder` (e.g. "libopus", whose concealment of a
    zero-length frame is libopus's PLC; ffmpeg's own decoder nearly mutes it)."""
    write_ogg_opus(head, packets, ogg)
    pre = ["-c:a", decoder] if decoder else []
    run(["ffmpeg", "-v", "error", "-y", *pre, "-i", ogg, "-ac", "1", "-ar", "16000", wav])
    return Path(wav)
