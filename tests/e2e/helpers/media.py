"""Audio on both sides: test signals, RTP pcaps for sipp, FLV parsing, RTP extraction, tone checks,
and the RTMP media peers (ffmpeg and python3-librtmp publishing and playing)."""
import re
import struct
from pathlib import Path

from . import paths
from .procs import Procs, run

TONE_HZ = 1000
SPEEX_FLV_CODEC = 11


# ---------- test signals ----------
def make_tone_wav(path: Path, tone_s: float, lead_silence_s: float = 0.0, rate: int = 16000,
                  freq: int = TONE_HZ) -> Path:
    """Mono WAV: `lead_silence_s` of silence then a `tone_s` sine at `freq` Hz, amplitude 1/8."""
    sine = f"sine=frequency={freq}:sample_rate={rate}:duration={tone_s}"
    if lead_silence_s > 0:
        run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"aevalsrc=0:d={lead_silence_s}:s={rate}",
             "-f", "lavfi", "-i", sine, "-filter_complex", "[0][1]concat=n=2:v=0:a=1", "-ac", "1", path])
    else:
        run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", sine, "-ac", "1", path])
    return Path(path)


def make_rtp_pcap(wav: Path, pcap: Path, codec: str) -> Path:
    """RTP pcap for sipp's play_pcap_audio (tests/peers/tools/mkrtp_pcap.py; 20 ms per packet;
    codec pcmu (PT 0) | speex16 (PT 97) | ...)."""
    run([paths.PYTHON, paths.tool("mkrtp_pcap.py"), wav, pcap, codec])
    return Path(pcap)


def make_speex_flv(wav: Path, flv: Path) -> Path:
    """FLV of Speex wideband made by ffmpeg's libspeex (one 20 ms frame per tag, header byte 0xB6)."""
    run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-ac", "1", "-ar", "16000", "-c:a", "libspeex", "-f", "flv", flv])
    return Path(flv)


# ---------- FLV ----------
def flv_audio_tags(path: Path) -> list:
    """[(timestamp_ms, body)] of the FLV audio tags (type 8) in file order; body[0] is the audio header
    byte (SoundFormat << 4 | rate << 2 | size << 1 | type)."""
    d = Path(path).read_bytes()
    if d[:3] != b"FLV":
        raise AssertionError(f"{path} is not an FLV file ({len(d)} bytes)")
    off = struct.unpack(">I", d[5:9])[0] + 4
    tags = []
    while off + 11 <= len(d):
        t, ln = d[off], int.from_bytes(d[off + 1:off + 4], "big")
        ts = int.from_bytes(d[off + 4:off + 7], "big") | (d[off + 7] << 24)
        body = d[off + 11:off + 11 + ln]
        if t == 8 and body:
            tags.append((ts, body))
        off += 11 + ln + 4
    return tags


def flv_speex_payloads(path: Path, expect_header: int = None) -> list:
    """Speex payloads (tag body without its header byte). Asserts every audio tag is Speex (SoundFormat
    11) and, when given, that the header byte equals `expect_header`."""
    tags = flv_audio_tags(path)
    bad = {b[0] for _, b in tags if b[0] >> 4 != SPEEX_FLV_CODEC}
    assert not bad, f"{path}: non-Speex audio tags, header bytes {sorted(hex(x) for x in bad)}"
    if expect_header is not None:
        hdrs = {b[0] for _, b in tags}
        assert hdrs <= {expect_header}, f"{path}: audio header bytes {sorted(map(hex, hdrs))}, expected {hex(expect_header)}"
    return [b[1:] for _, b in tags]


def flv_to_wav(flv: Path, wav: Path) -> Path:
    """Decode a Speex FLV with libspeex (ffmpeg's native speex decoder mangles tones) to WAV."""
    tags = flv_audio_tags(flv)
    assert tags, f"{flv}: no audio tags received"
    run(["ffmpeg", "-v", "error", "-y", "-c:a", "libspeex", "-i", flv, wav])
    return Path(wav)


# ---------- RTP in captures ----------
def udp_packets(pcap: Path) -> list:
    """[(src_port, dst_port, payload)] of the UDP packets in a capture, in capture order (via tshark)."""
    r = run(["tshark", "-r", pcap, "-Y", "udp", "-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport",
             "-e", "udp.payload"])
    out = []
    for line in r.stdout.splitlines():
        p = line.split("\t")
        if len(p) == 3 and p[2]:
            out.append((int(p[0]), int(p[1]), bytes.fromhex(p[2].replace(":", ""))))
    return out


def parse_rtp(b: bytes):
    """dict(pt, marker, seq, ts, ssrc, payload) for an RTP v2 packet (RFC 3550 section 5.1), or None for
    anything else (including RTCP, PT 72-76 with the marker bit)."""
    if len(b) < 12 or b[0] >> 6 != 2 or 192 <= b[1] <= 223:
        return None
    cc = b[0] & 0x0F
    hl = 12 + 4 * cc
    if b[0] & 0x10:
        if len(b) < hl + 4:
            return None
        hl += 4 + 4 * struct.unpack(">H", b[hl + 2:hl + 4])[0]
    pl = b[hl:]
    if b[0] & 0x20 and pl:
        pl = pl[:-pl[-1]]
    seq, ts, ssrc = struct.unpack(">HII", b[2:12])
    return {"pt": b[1] & 0x7F, "marker": bool(b[1] & 0x80), "seq": seq, "ts": ts, "ssrc": ssrc, "payload": pl}


def rtp_to(pcap: Path, dport: int) -> list:
    """RTP packets (parse_rtp dicts) sent to UDP port `dport`, in capture order."""
    return [r for _, d, b in udp_packets(pcap) if d == dport for r in [parse_rtp(b)] if r is not None]


def pcap_file_rtp(pcap: Path) -> list:
    """RTP packets of a libpcap file with Ethernet/IPv4/UDP frames (as made by mkrtp_pcap.py), parsed
    directly: the exact stream sipp will play."""
    d = Path(pcap).read_bytes()
    off, out = 24, []
    while off + 16 <= len(d):
        incl = struct.unpack("<I", d[off + 8:off + 12])[0]
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        r = parse_rtp(frame[14 + ihl + 8:])
        if r:
            out.append(r)
    return out


def rtp_to_wav(pcap: Path, wav: Path, codec: str, dport: int, pt: int = None) -> str:
    """Decode the RTP stream to `dport` with tests/peers/tools/rtp2wav.py; returns its report line."""
    argv = [paths.PYTHON, paths.tool("rtp2wav.py"), pcap, wav, codec, "--dport", str(dport)]
    if pt is not None:
        argv += ["--pt", str(pt)]
    return run(argv).stdout.strip()


# ---------- tone check ----------
_TONE_RE = re.compile(r"peak=([-0-9.]+)Hz snr=([-0-9.]+)dB dropouts20ms=(\d+)/(\d+)")


def tonecheck(wav: Path, expect_hz: float = TONE_HZ, min_snr_db: float = None) -> dict:
    """Run tests/peers/tools/tonecheck.py; returns {peak, snr, dropouts, windows, text, ok}."""
    argv = [paths.PYTHON, paths.tool("tonecheck.py"), wav, "--expect", str(expect_hz)]
    if min_snr_db is not None:
        argv += ["--min-snr", str(min_snr_db)]
    r = run(argv, check=False)
    m = _TONE_RE.search(r.stdout)
    if not m:
        raise AssertionError(f"tonecheck.py failed on {wav}: {r.stdout}{r.stderr}")
    return {"peak": float(m[1]), "snr": float(m[2]), "dropouts": int(m[3]), "windows": int(m[4]),
            "text": r.stdout.strip(), "ok": r.returncode == 0}


def assert_tone(wav: Path, min_snr_db: float, what: str, expect_hz: float = TONE_HZ) -> dict:
    t = tonecheck(wav, expect_hz, min_snr_db)
    print(f"{what}: {t['text']}")
    assert t["ok"], (f"{what}: expected a {expect_hz:.0f} Hz tone with SNR >= {min_snr_db} dB, got peak "
                     f"{t['peak']} Hz, SNR {t['snr']} dB ({t['text']})")
    return t


# ---------- RTMP media peers ----------
def ffmpeg_publish_tone(procs: Procs, url: str, seconds: float, name: str = "ffmpeg_publish"):
    """ffmpeg publishes a 1 kHz sine as Speex wideband (-re: real time) to `url`."""
    return procs.start(name, ["ffmpeg", "-nostdin", "-hide_banner", "-re", "-f", "lavfi", "-i",
                              f"sine=frequency={TONE_HZ}:sample_rate=48000:duration={seconds}",
                              "-ac", "1", "-ar", "16000", "-c:a", "libspeex", "-f", "flv", url])


def ffmpeg_play(procs: Procs, url: str, out: Path, seconds: float, name: str = "ffmpeg_play"):
    """ffmpeg plays `url` and stores the audio unchanged (-c copy) in an FLV; it ends after `seconds` of
    media time (the gateway need not send audio when the far end sends none: ask for no more than the far
    end sends), and writes every packet at once so a stopped player leaves a usable file."""
    return procs.start(name, ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-i", url, "-c", "copy",
                              "-t", str(seconds), "-flush_packets", "1", out])


def librtmp_play(procs: Procs, url: str, out: Path, seconds: float, name: str = "librtmp_play"):
    """python3-librtmp plays `url` and saves the FLV stream exactly as received, for `seconds` wall time."""
    return procs.start(name, [paths.PYTHON, paths.tool("rtmp_play.py"), url, out, str(seconds)])


def librtmp_publish(procs: Procs, url: str, flv: Path, name: str = "librtmp_publish"):
    """python3-librtmp publishes the tags of `flv` in real time (exact bytes)."""
    return procs.start(name, [paths.PYTHON, paths.tool("rtmp_publish.py"), url, flv])


def wait_ok(proc, timeout: float, what: str):
    """Wait for `proc` to exit 0 within `timeout` s; AssertionError with its log otherwise."""
    rc = proc.wait(timeout)
    if rc is None:
        proc.stop()
        raise AssertionError(f"{what} did not finish within {timeout} s; log {proc.log}:\n{proc.tail(30)}")
    if rc != 0:
        raise AssertionError(f"{what} exited with {rc}; log {proc.log}:\n{proc.tail(30)}")
