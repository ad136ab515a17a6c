"""An RTP pcap for sipp's play_pcap_audio that carries RFC 4733 telephone events in the middle of an audio
stream: the audio packets of a pcap made by mkrtp_pcap.py, with the 20 ms slots from `at_packet` on replaced
by event packets (RFC 4733 section 2.3: one RTP timestamp per event, marker bit on its first packet, duration
growing by one packet, the E bit on the last three, which repeat the final duration; section 2.5.2.3).
Same SSRC and consecutive sequence numbers, so the receiver sees one stream."""
import struct
from pathlib import Path

#: RFC 4733 section 3.2 event codes.
EVENT = {**{str(i): i for i in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def _records(pcap: Path):
    d = Path(pcap).read_bytes()
    off = 24
    while off + 16 <= len(d):
        sec, usec, incl, _ = struct.unpack("<IIII", d[off:off + 16])
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        yield sec, usec, frame[:14 + ihl + 8], frame[14 + ihl + 8:]


def _frame(headers: bytes, rtp: bytes) -> bytes:
    ihl = (headers[14] & 0x0F) * 4
    ip = bytearray(headers[14:14 + ihl])
    struct.pack_into(">H", ip, 2, ihl + 8 + len(rtp))
    struct.pack_into(">H", ip, 10, 0)
    s = sum(struct.unpack(f">{ihl // 2}H", bytes(ip)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    struct.pack_into(">H", ip, 10, ~s & 0xFFFF)
    udp = bytearray(headers[14 + ihl:14 + ihl + 8])
    struct.pack_into(">HH", udp, 4, 8 + len(rtp), 0)
    return headers[:14] + bytes(ip) + bytes(udp) + rtp


def with_events(src: Path, out: Path, digits: str, at_packet: int = 10, packets_per_digit: int = 8,
                gap_packets: int = 10, pt: int = 101, samples_per_packet: int = 160) -> Path:
    """Writes `out`: `src` with `digits` as telephone events (PT `pt`, volume 10) starting at packet
    `at_packet`, each `packets_per_digit` x 20 ms long, `gap_packets` of audio between digits."""
    plan = {}
    for n, digit in enumerate(digits):
        start = at_packet + n * (packets_per_digit + gap_packets)
        for k in range(packets_per_digit):
            plan[start + k] = (EVENT[digit], k, start)
    recs = list(_records(src))
    first = recs[0][3]
    d = Path(src).read_bytes()[:24]
    for i, (sec, usec, headers, rtp) in enumerate(recs):
        if i in plan:
            ev, k, start = plan[i]
            seq, _, ssrc = struct.unpack(">HII", rtp[2:12])
            ts_start = struct.unpack(">I", recs[start][3][4:8])[0]
            end = k >= packets_per_digit - 3
            dur = samples_per_packet * (min(k, packets_per_digit - 3) + 1)
            hdr = struct.pack(">BBHII", 0x80, (0x80 if k == 0 else 0) | pt, seq, ts_start, ssrc)
            rtp = hdr + struct.pack(">BBH", ev, (0x80 if end else 0) | 10, dur)
        elif first[0] >> 6 != 2:
            raise ValueError(f"{src}: not RTP")
        frame = _frame(headers, rtp)
        d += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    Path(out).write_bytes(d)
    return Path(out)
