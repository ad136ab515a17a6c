"""`[media] rtmp_out_codec = "match"`: the gateway sends the RTMP client the codec (and rate) the client
publishes, and G.711 crosses the gateway unchanged when both sides speak the same law.

Return path: ffmpeg publishes a tone in Nellymoser (8, 16, 44.1 kHz) or G.711; the far end (sipp, each
pair with another SIP codec, so that every SIP decoder feeds every RTMP encoder) plays a tone; the FLV
that python3-librtmp receives must switch from Speex (sent until the client publishes) to the published
SoundFormat (and, for Nellymoser 44.1 kHz, rate bits 3) and never back, and ffmpeg must decode a clean
tone at the published rate from those tags.

G.711 passthrough, both ways in one call, for µ-law/PCMU and A-law/PCMA: python3-librtmp publishes an
ffmpeg-made FLV of pink noise byte for byte, and sipp plays a pcap of other pink noise. Compared:
- RTMP -> SIP: the concatenated RTP payloads sipp receives (PT 0 or 8, in sequence order), without any
  leading/trailing packets whose bytes occur nowhere in the published FLV, must be one contiguous run of
  the concatenated FLV audio payloads (each tag body without its header byte); at most 480 bytes (60 ms)
  may be missing at the start and fewer than 320 (40 ms) at the end. Consecutive sequence numbers, and
  the RTP timestamp advances by the previous payload's length (G.711: one byte per 8 kHz sample).
- SIP -> RTMP: the concatenated payloads of the G.711 tags the player receives (after its Speex head),
  without at most 3 leading/trailing tags whose bytes occur nowhere in sipp's stream, must be one
  contiguous run of the concatenated RTP payloads of the pcap sipp plays, at least 2.5 s long; the FLV
  timestamps advance by payload length / 8 ms (within 2 ms)."""
import time

import pytest

from helpers import codecs, media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.sipp import Sipp

GATEWAY_OVERRIDES = {"media": {"rtmp_out_codec": "match"}}

PUBLISH_S = 5.5       # the publisher outlasts the player
PLAY_S = 3.8          # sipp sends 1 s silence + 3 s tone from the ACK on; the player stops before it ends
# Far end -> RTMP in the published codec, decoded by ffmpeg. Without the gateway, ffmpeg's own Nellymoser
# encode + decode of a 1 kHz tone measures 42 dB at 8 kHz, 51 dB at 16 kHz, 34 dB at 44.1 kHz, G.711 46-50 dB.
# Through the gateway (debug build) the pairs below measured 40.3-41.9, 39.2-40.6, 32.8, 41.3-42.6, 42.1-44.1 dB.
RETURN_PAIRS = [  # (published codec, far-end codec, minimum SNR dB at the RTMP player)
    (codecs.NELLY8K, codecs.PCMU, 32),
    (codecs.NELLY16K, codecs.G722, 31),
    (codecs.NELLY44K, codecs.OPUS, 25),
    (codecs.G711A, codecs.PCMU, 33),
    (codecs.G711U, codecs.G722, 34),
]
MIN_TONE_S = 1.9      # of the 3 s tone, as audio (20 ms windows), in the published codec

PASSTHROUGH = [(codecs.G711U, codecs.PCMU), (codecs.G711A, codecs.PCMA)]
MAX_HEAD_MISSING_TO_SIP = 480     # bytes (60 ms) of the published stream that may not reach sipp at the start
MAX_TAIL_MISSING_TO_SIP = 320     # ... and, fewer than this, at the end
MAX_FOREIGN_TAGS = 3              # G.711 tags toward the client that are not sipp's bytes, at each end
MIN_TO_RTMP_BYTES = 20000         # 2.5 s of sipp's stream must reach the player unchanged
MAX_TS_ERROR_MS = 2


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


def sipp_done(sipp: Sipp):
    """After the hangup (checked last: sipp's 500 ms timewait overlaps the analysis)."""
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp's call did not complete (it must receive BYE and answer 200):\n" + sipp.report()


@pytest.mark.parametrize("rtmp,sip,min_snr", RETURN_PAIRS, ids=[f"{r.name}-{s.name}" for r, s, _ in RETURN_PAIRS])
def test_return_in_published_codec(gateway, rtmp_client, procs, out_dir, ports, cassets, measure, rtmp, sip,
                                   min_snr):
    sipp = Sipp(procs, out_dir, ports, sip.scenario, pcap=cassets.far_end_pcap(sip), name="sipp_uas").start()
    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))

    pub = codecs.ffmpeg_publish(procs, gateway.url(s4["publish"]), rtmp, PUBLISH_S)
    played = out_dir / "played.flv"
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, PLAY_S)
    media.wait_ok(player, 15, "librtmp playing the far end")
    media.wait_ok(pub, PUBLISH_S + 15, f"ffmpeg publishing {rtmp.name}")
    hangup_ended(ctl)

    what = f"RTMP player ({sip.name} -> {rtmp.name})"
    tags = codecs.tags_in_format(media.flv_audio_tags(played), rtmp.flv_format, what)
    rate_bits = {(b[0] >> 2) & 3 for _, b in tags}
    channels = {b[0] & 1 for _, b in tags}
    assert channels == {0}, f"{what}: audio tags should be mono (type bit 0): {sorted(channels)}"
    if rtmp.flv_format == 6:
        assert rate_bits == {rtmp.rate_bits}, f"{what}: rate bits {sorted(rate_bits)}, expected {rtmp.rate_bits}"
    wav = codecs.decode_flv(tags, out_dir / "played_only.flv", out_dir / "played.wav")
    t = media.assert_tone(wav, min_snr, f"tone at the {what}")
    assert f"sr={rtmp.rate} " in t["text"], f"{what}: decoded at another rate than {rtmp.rate} Hz: {t['text']}"
    active = (t["windows"] - t["dropouts"]) * 0.02
    assert active >= MIN_TONE_S, f"{what}: only {active:.1f} s of audio: {t['text']}"
    measure(f"SNR SIP {sip.name} -> RTMP {rtmp.name} (dB)", t["snr"])
    sipp_done(sipp)


@pytest.mark.parametrize("rtmp,sip", PASSTHROUGH, ids=[f"{r.name}-{s.name}" for r, s in PASSTHROUGH])
def test_g711_passthrough(gateway, rtmp_client, procs, out_dir, ports, cassets, measure, rtmp, sip):
    flv = cassets.noise_flv(rtmp)
    pcap_sent = cassets.noise_pcap(sip)
    published = media.flv_audio_tags(flv)
    assert {b[0] >> 4 for _, b in published} == {rtmp.flv_format}, f"{flv}: not all {rtmp.name}"
    sent_to_sip = b"".join(b[1:] for _, b in published)
    sent_by_sipp = b"".join(r["payload"] for r in media.pcap_file_rtp(pcap_sent))

    sipp = Sipp(procs, out_dir, ports, sip.scenario, pcap=pcap_sent, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))

    played = out_dir / "played.flv"
    pub = media.librtmp_publish(procs, gateway.url(s4["publish"]), flv)
    time.sleep(0.2)
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, 4.3)   # sipp sends 5 s
    media.wait_ok(pub, 20, f"librtmp publishing the {rtmp.name} FLV")
    media.wait_ok(player, 15, "librtmp playing the far end")
    time.sleep(0.3)
    hangup_ended(ctl)

    # RTMP -> SIP
    rtp_all = media.rtp_to(cap.stop(), sipp.media_port)
    pts = sorted({r["pt"] for r in rtp_all})
    assert pts == [sip.pt], f"RTP payload types at sipp {pts}, expected only {sip.pt}"
    rtp = codecs.rtp_stream(rtp_all, sip.pt)
    chunks = [r["payload"] for r in rtp]
    first, last, off = codecs.located_run(chunks, sent_to_sip)
    got = b"".join(chunks[first:last + 1])
    assert sent_to_sip[off:off + len(got)] == got, (
        f"RTMP -> SIP: RTP payloads {first}..{last} are not one contiguous run of the published bytes from "
        f"offset {off}; first differing byte at {_first_diff(sent_to_sip[off:], got)}")
    tail = len(sent_to_sip) - off - len(got)
    assert off <= MAX_HEAD_MISSING_TO_SIP, f"RTMP -> SIP: the first {off} published bytes never reached sipp"
    assert tail < MAX_TAIL_MISSING_TO_SIP, f"RTMP -> SIP: the last {tail} published bytes never reached sipp"
    run = rtp[first:last + 1]
    for a, b in zip(run, run[1:]):
        assert (b["seq"] - a["seq"]) & 0xFFFF == 1, f"RTMP -> SIP: sequence gap {a['seq']} -> {b['seq']}"
        assert (b["ts"] - a["ts"]) & 0xFFFFFFFF == len(a["payload"]), (
            f"RTMP -> SIP: RTP timestamp {a['ts']} -> {b['ts']} after a {len(a['payload'])}-byte G.711 payload")
    sizes = sorted({len(c) for c in chunks[first:last + 1]})
    measure(f"RTMP {rtmp.name} -> SIP {sip.name} bytes identical",
            f"{len(got)}/{len(sent_to_sip)} (missing head {off}, tail {tail}; {first} leading and "
            f"{len(chunks) - 1 - last} trailing other packets; payload sizes {sizes})")

    # SIP -> RTMP
    what = f"RTMP player ({sip.name} -> {rtmp.name})"
    tags = codecs.tags_in_format(media.flv_audio_tags(played), rtmp.flv_format, what)
    fchunks = [b[1:] for _, b in tags]
    first, last, off = codecs.located_run(fchunks, sent_by_sipp)
    assert first <= MAX_FOREIGN_TAGS and len(fchunks) - 1 - last <= MAX_FOREIGN_TAGS, (
        f"SIP -> RTMP: {first} leading and {len(fchunks) - 1 - last} trailing G.711 tags carry bytes sipp never "
        f"sent (at most {MAX_FOREIGN_TAGS} allowed)")
    got = b"".join(fchunks[first:last + 1])
    assert sent_by_sipp[off:off + len(got)] == got, (
        f"SIP -> RTMP: G.711 tags {first}..{last} are not one contiguous run of sipp's RTP payloads from offset "
        f"{off}; first differing byte at {_first_diff(sent_by_sipp[off:], got)}")
    assert len(got) >= MIN_TO_RTMP_BYTES, f"SIP -> RTMP: only {len(got)} bytes of sipp's stream reached the player"
    run = tags[first:last + 1]
    ts0, done = run[0][0], 0
    for ts, body in run:
        assert abs((ts - ts0) - done / 8) <= MAX_TS_ERROR_MS, (
            f"SIP -> RTMP: tag timestamp {ts} ms, expected {ts0 + done / 8:.1f} ms after {done} bytes of G.711")
        done += len(body) - 1
    sizes = sorted({len(c) for c in fchunks})
    measure(f"SIP {sip.name} -> RTMP {rtmp.name} bytes identical",
            f"{len(got)}/{len(sent_by_sipp)} from offset {off} ({first} leading and {len(fchunks) - 1 - last} "
            f"trailing other tags; payload sizes {sizes})")
    sipp_done(sipp)


def _first_diff(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
