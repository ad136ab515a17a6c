"""PESQ (ITU-T P.862) of speech through the whole gateway: a transcoded call between an RTMP client
publishing Speex wideband and a PCMU-only SIP far end (sipp), both directions at once.

Speech: two sentences synthesised by espeak-ng (16 kHz, after 1.5 s of silence). RTMP -> SIP: the
speech as ffmpeg-libspeex Speex WB in FLV, published by python3-librtmp in real time; tshark records the
PCMU that sipp receives; narrowband MOS-LQO (P.862.1) against the speech at 8 kHz. SIP -> RTMP: sipp plays
the speech as PCMU; ffmpeg plays the gateway's Speex WB (encoded at `[media] speex_complexity_narrowband`,
the complexity for audio from a narrowband far end; `speex_complexity` on binaries before it); wideband
MOS-LQO (P.862.2) against the 16 kHz speech. Recordings are aligned to the reference by cross-correlation
before scoring. The figures land in the run's measurements and BENCHMARKS.md.

PESQ_COMPLEXITIES="1,3,10" runs the call once per Speex complexity (one gateway each, both keys set to it)
for the table; by default one call at the shipped defaults (this module's gateway does not take the e2e
helpers' tone-test pin of `speex_complexity_narrowband`). Needs espeak-ng and pip pesq (install-test-deps.sh)."""
import os
import subprocess
import time
from math import gcd

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import resample_poly

from helpers import media, paths
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.gateway import knows_narrowband_key
from helpers.sipp import Sipp

pesq = pytest.importorskip("pesq", reason="pip pesq (scripts/install-test-deps.sh)").pesq

LEAD_S = 1.5
SENTENCES = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
# Floors well under what the chain measures (NB ~3.0, WB through PCMU ~2.5): they catch broken audio
# (gaps, wrong rate, noise), not small quality changes, which BENCHMARKS.md tracks.
MIN_MOS_TO_SIP_NB = 2.0
MIN_MOS_TO_RTMP_WB = 1.8
# The shipped defaults, not the tone tests' pin (helpers/gateway.py).
GATEWAY_OVERRIDES = {"media": {"speex_complexity_narrowband": None}}


def _speech_wav(d):
    raw = d / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), SENTENCES], check=True)
    rate, pcm = wavfile.read(raw)
    g = gcd(16000, rate)
    pcm = resample_poly(pcm.astype(np.float64), 16000 // g, rate // g)
    pcm = np.concatenate([np.zeros(int(LEAD_S * 16000)), pcm, np.zeros(8000)])
    pcm = np.clip(np.round(pcm / max(1.0, np.abs(pcm).max()) * 16000), -32768, 32767).astype(np.int16)
    out = d / "speech16k.wav"
    wavfile.write(out, 16000, pcm)
    return out, pcm


def _read(wav):
    rate, pcm = wavfile.read(wav)
    if pcm.ndim > 1:
        pcm = pcm[:, 0]
    return rate, pcm.astype(np.float64)


def _mos(ref16k, wav, band):
    """MOS-LQO of `wav` against the reference, after aligning it by cross-correlation."""
    rate, deg = _read(wav)
    ref = ref16k.astype(np.float64)
    if rate != 16000:
        g = gcd(rate, 16000)
        ref = resample_poly(ref, rate // g, 16000 // g)
    n = 1 << int(np.ceil(np.log2(len(ref) + len(deg))))
    xc = np.fft.irfft(np.fft.rfft(deg, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(xc))
    if lag > n // 2:
        lag -= n
    if lag >= 0:
        deg = deg[lag:]
    else:
        ref = ref[-lag:]
    m = min(len(ref), len(deg))
    assert m > rate * 3, f"{wav}: only {m} aligned samples (lag {lag})"
    return pesq(rate, ref[:m], deg[:m], band), lag


def _call(gateway, rtmp_client, procs, out_dir, ports, speech_wav, speech, tag):
    pcap_in = media.make_rtp_pcap(speech_wav, out_dir / f"speech_pcmu{tag}.pcap", "pcmu")
    flv_in = media.make_speex_flv(speech_wav, out_dir / f"speech_speex{tag}.flv")
    seconds = len(speech) / 16000
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu.xml", pcap=pcap_in, name=f"sipp_uas{tag}")
    cap = Capture(procs, out_dir, sipp.media_port, name=f"at_sipp{tag}").start()
    sipp.start()
    ctl = rtmp_client(gateway.url())
    s4 = dial_connected(ctl, sipp.uri("bob"))
    played = out_dir / f"played{tag}.flv"
    player = media.ffmpeg_play(procs, gateway.url(s4["play"]), played, seconds, name=f"ffmpeg_play{tag}")
    publisher = media.librtmp_publish(procs, gateway.url(s4["publish"]), flv_in, name=f"publish{tag}")
    media.wait_ok(publisher, seconds + 20, "librtmp publishing Speex speech")
    time.sleep(1.0)
    if player.wait(8) is None:
        player.stop()
    hangup_ended(ctl)
    sipp.wait_exit(15)
    pcap = cap.stop()
    at_sipp = out_dir / f"at_sipp{tag}.wav"
    media.rtp_to_wav(pcap, at_sipp, "pcmu", dport=sipp.media_port, pt=0)
    to_sip, _ = _mos(speech, at_sipp, "nb")
    to_rtmp, _ = _mos(speech, media.flv_to_wav(played, out_dir / f"played{tag}.wav"), "wb")
    return to_sip, to_rtmp


def test_pesq_speech_through_a_transcoded_call(gateway, gateway_factory, rtmp_client, procs, out_dir,
                                               ports, measure):
    speech_wav, speech = _speech_wav(out_dir)
    wanted = os.environ.get("PESQ_COMPLEXITIES")
    if not wanted:
        to_sip, to_rtmp = _call(gateway, rtmp_client, procs, out_dir, ports, speech_wav, speech, "")
        measure("PESQ RTMP Speex WB -> SIP PCMU (MOS-LQO nb)", round(to_sip, 3))
        measure("PESQ SIP PCMU -> RTMP Speex WB, default complexity (MOS-LQO wb)", round(to_rtmp, 3))
        assert to_sip >= MIN_MOS_TO_SIP_NB, f"RTMP->SIP MOS {to_sip:.2f}"
        assert to_rtmp >= MIN_MOS_TO_RTMP_WB, f"SIP->RTMP MOS {to_rtmp:.2f}"
        return
    for c in [int(x) for x in wanted.split(",")]:
        keys = {"speex_complexity": c}
        if knows_narrowband_key(paths.gateway_binary()):
            keys["speex_complexity_narrowband"] = c   # what the PCMU -> Speex WB direction uses
        gw = gateway_factory({"media": keys}, name=f"gw_c{c}_")
        to_sip, to_rtmp = _call(gw, rtmp_client, procs, out_dir, ports, speech_wav, speech, f"_c{c}")
        measure(f"PESQ RTMP->SIP PCMU, complexity {c} (nb)", round(to_sip, 3))
        measure(f"PESQ SIP PCMU->RTMP Speex WB, complexity {c} (wb)", round(to_rtmp, 3))
