"""The G.711 downlink chosen from connect's `audioCodecs` (Adobe RTMP specification 1.0, 7.2.1.1, a bit mask:
G711A 0x0080, G711U 0x0100, SPEEX 0x0800), with the shipped [media] rtmp_out_codec = "speex".

A raw RTMP client (helpers/rtmp_raw.py ErtmpClient) connects with an `audioCodecs` number, dials the echo
destination, plays the call and publishes 3 s of a 1 kHz µ-law tone (made by ffmpeg, 20 ms per message):

- 0x0100 (µ-law only, what the web phone SDK sends): every played message is µ-law (header 0x82) from the
  first one, and ffmpeg decodes the tone back;
- 0x0080 (A-law only): A-law (0x72) from the first message;
- 0x0180 (both): µ-law first;
- Flash Player's 0x0DF7 (Speex included): Speex (0xB2) as configured;
- 0x0100 plus fourCcList ["Opus"]: Opus (E-RTMP SequenceStart first) keeps priority;
- malformed values (a string, negative, NaN, infinity, an object): ignored, Speex as configured, and a
  normal echo call with µ-law follows.

On the old binary (no audioCodecs rule) the G.711 cases receive Speex and fail."""
import math
import time

import pytest

from helpers import codecs, media
from helpers.rtmp_raw import ErtmpClient

ECHO = "sip:echo@127.0.0.1"
TONE_S = 3
# µ-law in, µ-law out through the echo's PCMU loop: passthrough both ways, so the tone comes back as made
# (measured 50.4 dB, debug build); 25 dB still fails on gaps or a wrong codec.
MIN_SNR_DB = 25
MULAW, ALAW, SPEEX = 0x82, 0x72, 0xB2


@pytest.fixture(scope="module")
def mulaw_tone(tmp_path_factory) -> list:
    """A 1 kHz tone as 20 ms µ-law payloads (160 bytes each), encoded by ffmpeg."""
    d = tmp_path_factory.mktemp("mulaw_tone")
    wav = media.make_tone_wav(d / "tone8k.wav", tone_s=TONE_S, rate=8000)
    raw = d / "tone.ulaw"
    media.run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-ar", "8000", "-ac", "1", "-f", "mulaw", raw])
    data = raw.read_bytes()
    return [data[i:i + 160] for i in range(0, len(data) - 159, 160)]


def echo_call(gateway, payloads: list, **connect_props) -> tuple:
    """connect with `connect_props`, dial echo (status 4), play and publish µ-law 20 ms messages paced in
    real time, read 1 s more, hang up; returns the played stream's bodies [(ts, body)] in arrival order."""
    c = ErtmpClient(gateway.rtmp_port)
    try:
        c.connect_ertmp(**connect_props)
        c.call("dial", ECHO)
        s4 = c.wait_call_status(4)
        play = c.stream("play", s4["play"])
        pub = c.stream("publish", s4["publish"])
        t0 = time.monotonic()
        for i, p in enumerate(payloads):
            c.send_audio(pub, i * 20, bytes([MULAW]) + p)
            c.drain(max(0.0, t0 + (i + 1) * 0.02 - time.monotonic()))
        c.drain(1.0)
        c.call("hangup")
        c.wait_call_status(0, timeout=10)
        return [b for s, b in c.audio if s == play]
    finally:
        c.close()


def headers(bodies: list) -> list:
    return [b[0] for b in bodies if b]


def assert_all(bodies: list, header: int, what: str):
    assert bodies, f"{what}: no audio on the played stream"
    hs = headers(bodies)
    assert hs[0] == header, f"{what}: first played message has header {hs[0]:#04x}, expected {header:#04x}"
    bad = sorted({h for h in hs if h != header})
    assert not bad, f"{what}: played headers {[hex(h) for h in bad]} besides {header:#04x}"


def test_mulaw_client_gets_mulaw_from_the_first_message(gateway, mulaw_tone, out_dir, measure):
    bodies = echo_call(gateway, mulaw_tone, audioCodecs=0x0100)
    assert_all(bodies, MULAW, "audioCodecs 0x0100")
    assert all(len(b) > 1 for b in bodies), "empty µ-law messages"
    tags = [(i * 20, b) for i, b in enumerate(bodies)]
    wav = codecs.decode_flv(tags, out_dir / "played.flv", out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "µ-law echo at the client")
    measure("G.711 downlink: µ-law messages played", len(bodies))
    measure("G.711 downlink: echo µ-law SNR (dB)", t["snr"])


def test_alaw_only_client_gets_alaw(gateway, mulaw_tone):
    assert_all(echo_call(gateway, mulaw_tone[:50], audioCodecs=0x0080), ALAW, "audioCodecs 0x0080")


def test_both_laws_prefer_mulaw(gateway, mulaw_tone):
    assert_all(echo_call(gateway, mulaw_tone[:50], audioCodecs=0x0180), MULAW, "audioCodecs 0x0180")


def test_flash_mask_with_speex_keeps_the_configured_speex(gateway, mulaw_tone):
    assert_all(echo_call(gateway, mulaw_tone[:50], audioCodecs=0x0DF7), SPEEX, "audioCodecs 0x0DF7")


def test_opus_announcement_wins_over_audio_codecs(gateway, mulaw_tone):
    bodies = echo_call(gateway, mulaw_tone[:50], audioCodecs=0x0100, fourCcList=["Opus"])
    assert bodies, "no audio on the played stream"
    # E-RTMP: first nibble 9 (ExHeader), packet type 0 SequenceStart, FourCC "Opus"
    assert bodies[0][0] == 0x90 and bodies[0][1:5] == b"Opus", f"first played message {bodies[0][:8].hex()}"


@pytest.mark.parametrize("value", ["256", -256.0, math.nan, math.inf, {"G711U": 1}],
                         ids=["string", "negative", "nan", "infinity", "object"])
def test_malformed_audio_codecs_are_ignored(gateway, mulaw_tone, value):
    assert_all(echo_call(gateway, mulaw_tone[:50], audioCodecs=value), SPEEX, f"audioCodecs {value!r}")
    # The gateway still completes a normal call, and the next client still gets its µ-law.
    assert_all(echo_call(gateway, mulaw_tone[:50], audioCodecs=0x0100), MULAW, "after the malformed one")
