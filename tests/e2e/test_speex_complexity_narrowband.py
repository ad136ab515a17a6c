"""`[media] speex_complexity_narrowband` through the whole gateway at the shipped defaults
(`speex_complexity` 3, `speex_complexity_narrowband` 1): the Speex WB encoder toward the RTMP client
takes the narrowband key for a PCMU far end and `speex_complexity` for a G.722 one.

What shows the complexity from outside: a pure 1 kHz tone. libspeex below complexity 3 skips its
open-loop pitch search and codes that tone at ~15 dB SNR (the bridge's unit tests: 14.5 dB through PCMU,
34.2 dB at 3; the echo destination measured 16.5 / 35.7 dB), while speech scores the same by PESQ
(BENCHMARKS.md "Speex and Opus settings by PESQ"). So the same far-end tone arrives at ~15 dB from a
PCMU far end and at ~35 dB from a G.722 one. The byte-exact checks of which complexity each far end and a
re-INVITE get are unit tests (`src/media/pipeline/factory.rs`, `src/media/bridge_update_tests.rs`).

RTMP control and play: python3-librtmp. SIP far end: sipp answering only PCMU or only G.722 and playing
1 s of silence and a 3 s 1 kHz tone."""
import pytest

from helpers import codecs, media
from helpers.calls import dial_connected, hangup_ended
from helpers.sipp import Sipp

# The shipped defaults, not the e2e helpers' tone-test pin of the narrowband key (helpers/gateway.py).
GATEWAY_OVERRIDES = {"media": {"speex_complexity_narrowband": None}}
MAX_SNR_AT_COMPLEXITY_1_DB = 24   # measured 14.5-16.5 dB; complexity 3 measures 34-40
MIN_SNR_AT_COMPLEXITY_3_DB = 28   # as test_codec_matrix.py's far end -> Speex floor

CASES = [(codecs.PCMU, "narrowband: speex_complexity_narrowband = 1"),
         (codecs.G722, "wideband: speex_complexity = 3")]


@pytest.fixture(scope="module")
def cassets(tmp_path_factory):
    return codecs.codec_assets(tmp_path_factory)


@pytest.mark.parametrize("sip,which", CASES, ids=[s.name for s, _ in CASES])
def test_the_far_end_codec_chooses_the_speex_complexity(gateway, rtmp_client, procs, out_dir, ports, cassets,
                                                         measure, sip, which):
    sipp = Sipp(procs, out_dir, ports, sip.scenario, pcap=cassets.far_end_pcap(sip), name="sipp_uas").start()
    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))
    played = out_dir / "played.flv"
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, 3.8)
    media.wait_ok(player, 15, "librtmp playing the far end")
    hangup_ended(ctl)
    sipp.wait_exit(10)

    media.flv_speex_payloads(played, expect_header=0xB2)
    t = media.tonecheck(media.flv_to_wav(played, out_dir / "played.wav"))
    measure(f"SNR of a 1 kHz tone, {sip.name} far end -> RTMP Speex WB at the defaults (dB)", t["snr"])
    assert abs(t["peak"] - media.TONE_HZ) < 20, f"{which}: no 1 kHz tone: {t['text']}"
    assert (t["windows"] - t["dropouts"]) * 0.02 >= 2.0, f"{which}: too little audio: {t['text']}"
    if sip is codecs.PCMU:
        assert t["snr"] <= MAX_SNR_AT_COMPLEXITY_1_DB, (
            f"{which}: the tone's SNR {t['snr']} dB is complexity 3's (~35 dB), not 1's (~15 dB): {t['text']}")
    else:
        assert t["snr"] >= MIN_SNR_AT_COMPLEXITY_3_DB, (
            f"{which}: the tone's SNR {t['snr']} dB is complexity 1's (~15 dB), not 3's (~35 dB): {t['text']}")
