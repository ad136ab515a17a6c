"""The codec matrix: what RTMP clients publish (Speex aside: Nellymoser at three rates, G.711 A-law and
µ-law) and what SIP far ends answer (PCMU, PCMA, G.722, Opus), the ffmpeg publishers for them, the media
the far ends play (made once per session), FLV tag handling by SoundFormat, and the byte-for-byte
comparison used for G.711 passthrough.

FLV audio header byte: SoundFormat << 4 | rate << 2 | size << 1 | type (Adobe FLV spec v10.1, E.4.2.1):
Nellymoser 16 kHz = 4, 8 kHz = 5, other rates = 6 (rate from the rate bits, 3 = 44 kHz), G.711 A-law = 7,
µ-law = 8, Speex = 11."""
import os
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import media
from .procs import Procs, run

SPEEX_FORMAT = 11


@dataclass(frozen=True)
class RtmpCodec:
    """A codec an RTMP client publishes with ffmpeg: `encoder` and `rate` (Hz) are ffmpeg's -c:a / -ar,
    `flv_format` the SoundFormat ffmpeg writes (and the gateway must send back with rtmp_out_codec =
    "match"), `rate_bits` the FLV rate field ffmpeg writes (0: 5.5 kHz or implied, 3: 44 kHz)."""
    name: str
    encoder: str
    rate: int
    flv_format: int
    rate_bits: int = 0

    @property
    def is_g711(self) -> bool:
        return self.flv_format in (7, 8)


NELLY8K = RtmpCodec("nelly8k", "nellymoser", 8000, 5)
NELLY16K = RtmpCodec("nelly16k", "nellymoser", 16000, 4)
NELLY44K = RtmpCodec("nelly44k", "nellymoser", 44100, 6, rate_bits=3)
G711A = RtmpCodec("pcma", "pcm_alaw", 8000, 7)
G711U = RtmpCodec("pcmu", "pcm_mulaw", 8000, 8)
RTMP_CODECS = (NELLY8K, NELLY16K, NELLY44K, G711A, G711U)


@dataclass(frozen=True)
class SipCodec:
    """A far-end codec: the sipp scenario that answers only it, its RTP payload type (the gateway's
    default for dynamic ones: the far-end pcap carries it), and the codec name of mkrtp_pcap.py/rtp2wav.py."""
    name: str
    scenario: str
    pt: int
    tool_codec: str


PCMU = SipCodec("PCMU", "uas_pcmu.xml", 0, "pcmu")
PCMA = SipCodec("PCMA", "uas_pcma.xml", 8, "pcma")
G722 = SipCodec("G722", "uas_g722.xml", 9, "g722")
OPUS = SipCodec("opus", "uas_opus.xml", 111, "opus")
SIP_CODECS = (PCMU, G722, OPUS)


# ---------- RTMP publishers ----------
def ffmpeg_publish(procs: Procs, url: str, codec: RtmpCodec, seconds: float, name: str = "ffmpeg_publish"):
    """ffmpeg publishes a 1 kHz sine (amplitude 1/8, generated at the codec's rate) in `codec` in real
    time (-re) to `url` for `seconds`."""
    return procs.start(name, ["ffmpeg", "-nostdin", "-hide_banner", "-re", "-f", "lavfi", "-i",
                              f"sine=frequency={media.TONE_HZ}:sample_rate={codec.rate}:duration={seconds}",
                              "-ac", "1", "-ar", str(codec.rate), "-c:a", codec.encoder, "-f", "flv", url])


def make_flv(wav: Path, flv: Path, codec: RtmpCodec, samples_per_tag: int = None) -> Path:
    """FLV of `wav` encoded by ffmpeg in `codec` (for librtmp to publish byte for byte); for PCM-like codecs
    `samples_per_tag` sets the tag size (ffmpeg's default from a WAV is 2048 samples)."""
    af = ["-af", f"asetnsamples=n={samples_per_tag}:p=0"] if samples_per_tag else []
    run(["ffmpeg", "-v", "error", "-y", "-i", wav, *af, "-ac", "1", "-ar", str(codec.rate), "-c:a", codec.encoder,
         "-f", "flv", flv])
    return Path(flv)


# ---------- media made once per session ----------
def make_noise_wav(path: Path, seconds: float, seed: int, rate: int = 8000) -> Path:
    """Mono pink noise (amplitude 0.25, fixed seed): no two 20 ms stretches of its G.711 bytes are
    alike, so a run of received bytes has exactly one place in what was sent."""
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"anoisesrc=duration={seconds}:color=pink:sample_rate={rate}:amplitude=0.25:seed={seed}", "-ac", "1",
         path])
    return Path(path)


class CodecAssets:
    """Far-end tone pcaps for every SIP codec and the G.711 passthrough media, made lazily in `dir`."""

    FAR_END_TONE_S = 3
    FAR_END_SILENCE_S = 1

    def __init__(self, d: Path):
        self.dir = Path(d)
        self._pcaps = {}
        self._flvs = {}

    @cached_property
    def far_end_wav(self) -> Path:
        # 1 s of silence first: a Speex decoder at the RTMP player must join before the tone starts.
        return media.make_tone_wav(self.dir / "far_end_3s.wav", tone_s=self.FAR_END_TONE_S,
                                   lead_silence_s=self.FAR_END_SILENCE_S)

    def far_end_pcap(self, codec: SipCodec) -> Path:
        """1 s silence + 3 s 1 kHz tone as RTP in `codec` (20 ms packets), for sipp to play."""
        if codec.name not in self._pcaps:
            pcap = self.dir / f"far_end_{codec.tool_codec}.pcap"
            self._pcaps[codec.name] = media.make_rtp_pcap(self.far_end_wav, pcap, codec.tool_codec)
        return self._pcaps[codec.name]

    @cached_property
    def tone_wav(self) -> Path:
        """3 s of 1 kHz tone, no silence (what the matrix's publishers send)."""
        return media.make_tone_wav(self.dir / "tone_3s.wav", tone_s=3)

    @cached_property
    def noise_publish_wav(self) -> Path:
        return make_noise_wav(self.dir / "noise_publish.wav", 4, seed=1234)

    @cached_property
    def noise_far_end_wav(self) -> Path:
        return make_noise_wav(self.dir / "noise_far_end.wav", 5, seed=4321)

    def noise_flv(self, codec: RtmpCodec) -> Path:
        """4 s of pink noise as a G.711 FLV made by ffmpeg (what the client publishes byte for byte), 200
        samples (25 ms) per tag: the gateway must re-frame them into its 20 ms RTP packets."""
        if codec.name not in self._flvs:
            self._flvs[codec.name] = make_flv(self.noise_publish_wav, self.dir / f"noise_{codec.name}.flv", codec,
                                              samples_per_tag=200)
        return self._flvs[codec.name]

    def noise_pcap(self, codec: SipCodec) -> Path:
        """5 s of (different) pink noise as G.711 RTP, 160 bytes per packet, for sipp to play."""
        key = "noise-" + codec.name
        if key not in self._pcaps:
            pcap = self.dir / f"noise_{codec.tool_codec}.pcap"
            self._pcaps[key] = media.make_rtp_pcap(self.noise_far_end_wav, pcap, codec.tool_codec)
        return self._pcaps[key]


_ASSETS = {}


def codec_assets(tmp_path_factory) -> CodecAssets:
    """The session's CodecAssets (shared by every test module that asks)."""
    key = id(tmp_path_factory)
    if key not in _ASSETS:
        _ASSETS[key] = CodecAssets(tmp_path_factory.mktemp("codec_assets"))
    return _ASSETS[key]


# ---------- FLV by SoundFormat ----------
def flv_formats(tags: list) -> list:
    """[SoundFormat of each tag] (header byte >> 4)."""
    return [b[0] >> 4 for _, b in tags]


def tags_in_format(tags: list, flv_format: int, what: str) -> list:
    """The tags of `flv_format` from a played stream that may start in Speex (rtmp_out_codec = "match"
    sends Speex until the client publishes). Asserts: the stream holds such tags, every tag before the
    first of them is Speex, and every tag from the first on is in `flv_format` (no switching back)."""
    fmts = flv_formats(tags)
    assert flv_format in fmts, f"{what}: no audio tag has SoundFormat {flv_format}; formats seen: {sorted(set(fmts))}"
    first = fmts.index(flv_format)
    before = set(fmts[:first])
    assert before <= {SPEEX_FORMAT}, f"{what}: tags before the first SoundFormat {flv_format} are {sorted(before)}, " \
                                     f"expected Speex (11) only"
    after = set(fmts[first:])
    assert after == {flv_format}, (f"{what}: after the first SoundFormat {flv_format} tag (index {first}) the stream "
                                   f"also carries formats {sorted(after - {flv_format})}")
    return tags[first:]


def write_flv(tags: list, path: Path) -> Path:
    """An audio-only FLV file holding `tags` ([(timestamp_ms, body)]), for decoding with ffmpeg."""
    out = bytearray(b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00")
    for ts, body in tags:
        out += bytes([8]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24 & 0xFF])
        out += b"\x00\x00\x00" + body + struct.pack(">I", 11 + len(body))
    Path(path).write_bytes(bytes(out))
    return Path(path)


def decode_flv(tags: list, flv: Path, wav: Path) -> Path:
    """Decode FLV audio tags (Nellymoser or G.711; ffmpeg's own decoders) to WAV."""
    write_flv(tags, flv)
    run(["ffmpeg", "-v", "error", "-y", "-i", flv, wav])
    return Path(wav)


# ---------- byte-exact G.711 ----------
def rtp_stream(packets: list, pt: int) -> list:
    """The RTP packets (parse_rtp dicts) of payload type `pt`, ordered by sequence number (unwrapped from
    the first), duplicates dropped."""
    sel = [p for p in packets if p["pt"] == pt]
    if not sel:
        return []
    base = sel[0]["seq"]
    seen, out = set(), []
    for p in sorted(sel, key=lambda p: (p["seq"] - base + 32768) & 0xFFFF):
        if p["seq"] not in seen:
            seen.add(p["seq"])
            out.append(p)
    return out


def find_run(haystack: bytes, needle: bytes) -> int:
    """Offset of the only occurrence of `needle` in `haystack`; -1 if none. Asserts it is unique."""
    at = haystack.find(needle)
    if at >= 0:
        again = haystack.find(needle, at + 1)
        assert again < 0, f"a {len(needle)}-byte run occurs twice (at {at} and {again}): the test signal repeats"
    return at


def located_run(chunks: list, sent: bytes) -> tuple:
    """Place received payload chunks (in order) in the `sent` bytes. Returns (first, last, offset): chunks
    [first..last] (inclusive) are the received chunks found in `sent`, and offset is where chunk `first`
    starts in it. Chunks before `first` and after `last` (the head and tail) occur nowhere in `sent`, e.g.
    silence sent before the client published. Asserts at least one chunk occurs in `sent`."""
    found = [i for i, c in enumerate(chunks) if len(c) >= 16 and find_run(sent, c) >= 0]
    assert found, (f"none of the {len(chunks)} received payloads occurs in the {len(sent)} bytes sent; "
                   f"sizes received {sorted(set(map(len, chunks)))}")
    return found[0], found[-1], find_run(sent, chunks[found[0]])


# ---------- cost ----------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time (s) used so far by process `pid` (Linux /proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
