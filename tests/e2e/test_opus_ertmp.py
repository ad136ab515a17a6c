"""Opus from and to the client in Enhanced RTMP v2 (veovera enhanced-rtmp v2): a raw RTMP client
(helpers/rtmp_raw.py ErtmpClient) announces fourCcList ["Opus"] in connect, dials, publishes Opus packets
taken from an Ogg Opus file made by ffmpeg (libopus, 48 kHz mono, 20 ms) as E-RTMP CodedFrames after a
SequenceStart, and plays the call: the gateway sends it a SequenceStart (OpusHead), then CodedFrames.

- opus far end (sipp uas_opus.xml): the RTP payloads tshark sees at sipp are the published packets byte
  for byte (timestamps +960 per packet), and the played stream carries the packets sipp sent byte for byte;
- PCMU far end (sipp uas_pcmu.xml): the tone arrives at sipp (SNR), and the client gets Opus back that
  ffmpeg decodes (from a rebuilt Ogg Opus file) to the far end's tone;
- the echo destination (sip:echo@127.0.0.1) with Opus: Opus in, PCMU loop, Opus out, tone checked."""
import time

import pytest

from helpers import codecs, ertmp, media
from helpers.capture import Capture
from helpers.rtmp_raw import ErtmpClient
from helpers.sipp import Sipp

TONE_S = 3
# Measured through the gateway (debug build): Opus (ffmpeg libopus 32 kbit/s) -> PCMU at sipp 47.1 dB;
# PCMU -> the gateway's Opus encoder -> ffmpeg's decoder 34.8 dB; echo Opus -> PCMU -> Opus 39.3 dB.
# Thresholds about 8-12 dB below: still far above what a gap, a wrong rate or a wrong codec gives.
MIN_SNR_OPUS_TO_PCMU_DB = 35
MIN_SNR_PCMU_TO_OPUS_DB = 26
MIN_SNR_ECHO_DB = 28


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


@pytest.fixture(scope="module")
def opus_tone(tmp_path_factory):
    """(OpusHead, [Opus packets]) of a 3 s 1 kHz tone made by ffmpeg's libopus."""
    d = tmp_path_factory.mktemp("opus_tone")
    wav = media.make_tone_wav(d / "tone48k.wav", tone_s=TONE_S, rate=48000)
    pkts = ertmp.ogg_packets(ertmp.make_ogg_opus(wav, d / "tone.opus"))
    assert pkts[0].startswith(b"OpusHead") and pkts[1].startswith(b"OpusTags"), pkts[:2]
    audio = pkts[2:]
    assert len(audio) >= TONE_S * 50 - 2, f"{len(audio)} Opus packets for {TONE_S} s"
    return pkts[0], audio


def connect_opus(gateway) -> ErtmpClient:
    c = ErtmpClient(gateway.rtmp_port)
    result = c.connect_ertmp(fourCcList=["Opus"])
    props = result[0] or {}
    assert props.get("audioFourCcInfoMap") == {"Opus": 7.0}, \
        f"_result properties should carry audioFourCcInfoMap {{Opus: 7}}: {result}"
    return c


def dial(c: ErtmpClient, uri: str) -> dict:
    c.call("dial", uri)
    return c.wait_call_status(4)


def hangup(c: ErtmpClient):
    c.call("hangup")
    c.wait_call_status(0, timeout=10)


def publish_paced(c: ErtmpClient, sid: int, head: bytes, packets: list, tail_s: float = 1.0):
    """SequenceStart, then one CodedFrames message per packet every 20 ms (RTMP timestamps 20 ms apart),
    reading the played stream meanwhile; then `tail_s` more of reading."""
    c.send_audio(sid, 0, ertmp.body(ertmp.SEQUENCE_START, head))
    t0 = time.monotonic()
    for i, p in enumerate(packets):
        c.send_audio(sid, i * 20, ertmp.body(ertmp.CODED_FRAMES, p))
        c.drain(max(0.0, t0 + (i + 1) * 0.02 - time.monotonic()))
    c.send_audio(sid, len(packets) * 20, ertmp.body(ertmp.SEQUENCE_END))
    c.drain(tail_s)


def played_opus(c: ErtmpClient, sid: int, what: str):
    """(OpusHead, [packets]) of the played stream: its first audio message must be an Opus SequenceStart
    and every one after it CodedFrames."""
    bodies = [b for s, b in c.audio if s == sid]
    assert bodies, f"{what}: no audio on the played stream"
    parsed = [ertmp.parse_body(b) for b in bodies]
    assert parsed[0] and parsed[0][0] == ertmp.SEQUENCE_START, \
        f"{what}: first played message is not an E-RTMP Opus SequenceStart: {bodies[0][:24].hex()}"
    head = parsed[0][1]
    assert head[:8] == b"OpusHead" and head[9] == 1 and len(head) == 19, f"{what}: OpusHead {head.hex()}"
    bad = [b[:8].hex() for b, p in zip(bodies[1:], parsed[1:]) if not p or p[0] != ertmp.CODED_FRAMES]
    assert not bad, f"{what}: {len(bad)} played messages are not Opus CodedFrames, e.g. {bad[:3]}"
    return head, [p[1] for p in parsed[1:]]


def test_connect_answers_the_audio_fourcc_map(gateway):
    c = connect_opus(gateway)
    c.close()


def test_opus_passthrough_both_ways(gateway, procs, out_dir, ports, cassets, opus_tone, measure):
    head, packets = opus_tone
    far_pcap = cassets.far_end_pcap(codecs.OPUS)
    sipp = Sipp(procs, out_dir, ports, codecs.OPUS.scenario, pcap=far_pcap, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    c = connect_opus(gateway)
    s4 = dial(c, sipp.uri("bob"))
    play = c.stream("play", s4["play"])
    pub = c.stream("publish", s4["publish"])
    publish_paced(c, pub, head, packets)
    hangup(c)

    at_sipp = codecs.rtp_stream(media.rtp_to(cap.stop(), sipp.media_port), codecs.OPUS.pt)
    got = [p["payload"] for p in at_sipp]
    assert got == packets, (f"RTP payloads at sipp differ from the published Opus packets: {len(got)} "
                            f"received, {len(packets)} published, first differing at "
                            f"{next((i for i, (a, b) in enumerate(zip(got, packets)) if a != b), None)}")
    steps = {(b["ts"] - a["ts"]) & 0xFFFFFFFF for a, b in zip(at_sipp, at_sipp[1:])}
    assert steps == {960}, f"RTP timestamp steps at sipp: {sorted(steps)}, expected 960 (20 ms at 48 kHz)"

    _, played = played_opus(c, play, "opus far end")
    sent = [p["payload"] for p in media.pcap_file_rtp(far_pcap)]
    at = sent.index(played[0]) if played and played[0] in sent else -1
    assert at >= 0, "the first played Opus packet is none of the packets sipp sent"
    assert played == sent[at:at + len(played)], "played Opus packets are not sipp's packets byte for byte"
    measure("Opus passthrough: packets played of sipp's", f"{len(played)}/{len(sent)}")
    assert len(played) >= 0.6 * len(sent), f"only {len(played)} of sipp's {len(sent)} packets were played"
    c.close()
    assert sipp.wait_exit(10) == 0, sipp.report()


def test_opus_client_with_a_pcmu_far_end(gateway, procs, out_dir, ports, cassets, opus_tone, measure):
    head, packets = opus_tone
    sipp = Sipp(procs, out_dir, ports, codecs.PCMU.scenario, pcap=cassets.far_end_pcap(codecs.PCMU),
                name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()
    c = connect_opus(gateway)
    s4 = dial(c, sipp.uri("bob"))
    play = c.stream("play", s4["play"])
    pub = c.stream("publish", s4["publish"])
    publish_paced(c, pub, head, packets, tail_s=1.5)
    hangup(c)

    rep = media.rtp_to_wav(cap.stop(), out_dir / "at_sipp.wav", "pcmu", dport=sipp.media_port)
    print("RTP at sipp:", rep)
    t = media.assert_tone(out_dir / "at_sipp.wav", MIN_SNR_OPUS_TO_PCMU_DB, "Opus client -> PCMU at sipp")
    measure("SNR RTMP Opus -> SIP PCMU (dB)", t["snr"])

    ohead, played = played_opus(c, play, "PCMU far end")
    wav = ertmp.decode_to_wav(ohead, played, out_dir / "played.opus", out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_PCMU_TO_OPUS_DB, "PCMU far end -> Opus at the client")
    measure("SNR SIP PCMU -> RTMP Opus (dB)", t["snr"])
    c.close()
    assert sipp.wait_exit(10) == 0, sipp.report()


# E-RTMP bodies the gateway must refuse one by one without harm: another FourCC, a truncated header, a ModEx
# chain longer than the gateway reads, ManyTracks, track 1 of OneTrack, an OpusHead with 3 channels, an
# Opus packet claiming 63 x 20 ms, MultichannelConfig, and a reserved AudioPacketType.
BAD_BODIES = [b"\x91fLaC" + bytes(40), b"\x91Op", b"\x97" + b"\x00\x00\x07" * 8,
              b"\x95\x11Opus\x00\x00\x00\x02\xfc\x00", b"\x95\x01Opus\x01\xfc\x00",
              b"\x90OpusOpusHead\x01\x03" + bytes(9), b"\x91Opus" + bytes([(27 << 3) | 3, 63]) + bytes(20),
              b"\x94Opus\x00\x01", b"\x9fOpus"]


def test_echo_with_opus(gateway, out_dir, opus_tone, measure):
    """Malformed E-RTMP first (each refused), then the Opus tone: it must come back as Opus."""
    head, packets = opus_tone
    c = connect_opus(gateway)
    s4 = dial(c, "sip:echo@127.0.0.1")
    play = c.stream("play", s4["play"])
    pub = c.stream("publish", s4["publish"])
    for i, b in enumerate(BAD_BODIES * 20):
        c.send_audio(pub, i, b)
    c.drain(0.3)
    assert gateway.alive(), "the gateway died on malformed E-RTMP audio"
    publish_paced(c, pub, head, packets)
    hangup(c)
    ohead, played = played_opus(c, play, "echo")
    assert len(played) >= 0.8 * len(packets), f"echo returned {len(played)} of {len(packets)} packets"
    wav = ertmp.decode_to_wav(ohead, played, out_dir / "echo.opus", out_dir / "echo.wav")
    t = media.assert_tone(wav, MIN_SNR_ECHO_DB, "Opus echo")
    measure("SNR echo Opus -> PCMU -> Opus (dB)", t["snr"])
    c.close()
