#!/usr/bin/python3
"""PESQ of G.711 loss concealment strategies, offline (no gateway): the espeak-ng speech of
tests/e2e/test_pesq_gateway.py at 8 kHz through µ-law, 20 ms packets lost by a seeded pattern (5 % random, or
5 % in Gilbert-Elliott bursts of 4 on average: p 1.32 %, r 25 %), each lost packet replaced by

- skip: nothing (the stream is shortened, as G.711 passthrough did before issue 10),
- silence: 20 ms of zeros,
- repeat: the last 20 ms repeated cyclically, gain 1 -> 0 over 60 ms (codecs `RepeatFade`),
- pitch: the last pitch period (2.5-15 ms, best normalised correlation over the last 20 ms), 10 ms at full
  level, then fading to silence at 60 ms (codecs `PitchRepeat`, the bridge's G.711 concealment),

scored by PESQ P.862.1 (narrowband) after alignment by cross-correlation; mean, min and max over the seeds.

    /usr/bin/python3 tests/peers/tools/plc_compare.py            # 8 seeds per pattern (about 1 min)

Needs espeak-ng, numpy, scipy, pip pesq (scripts/install-test-deps.sh)."""
import audioop
import os
import random
import subprocess
import sys
import tempfile
from math import gcd

import numpy as np
from pesq import pesq
from scipy.io import wavfile
from scipy.signal import resample_poly

SENTENCES = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def speech8k(workdir):
    wav = os.path.join(workdir, "e.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, SENTENCES], check=True)
    rate, pcm = wavfile.read(wav)
    g = gcd(16000, rate)
    pcm = resample_poly(pcm.astype(float), 16000 // g, rate // g)
    pcm = np.concatenate([np.zeros(24000), pcm, np.zeros(8000)])
    pcm = np.clip(np.round(pcm / np.abs(pcm).max() * 16000), -32768, 32767)
    return resample_poly(pcm, 1, 2)


def frames_of(ref8):
    x = np.clip(np.round(ref8), -32768, 32767).astype(np.int16)
    out = []
    for i in range(0, len(x) - 159, 160):
        f = audioop.ulaw2lin(audioop.lin2ulaw(x[i:i + 160].tobytes(), 2), 2)
        out.append(np.frombuffer(f, dtype=np.int16).astype(float))
    return out


def pattern(kind, n, seed):
    rnd, lost, bad = random.Random(seed), [], False
    for _ in range(n):
        if kind == "random":
            lost.append(rnd.random() < 0.05)
        else:
            bad = rnd.random() >= 0.25 if bad else rnd.random() < 0.0132
            lost.append(bad)
    return lost


def repeat_fade(last, k):
    c = k * 160 + np.arange(160)
    return np.where(c < 480, last[c % 160] * (480 - c) / 480, 0.0)


def pitch_repeat(hist, k):
    best, lag = -1e18, 20
    a = hist[-160:]
    for p in range(20, 121):
        b = hist[-160 - p:-p]
        score = np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + 1e-9)
        if score > best:
            best, lag = score, p
    period = hist[-lag:]
    c = k * 160 + np.arange(160)
    gain = np.where(c < 80, 1.0, np.clip(1 - (c - 80) / 400, 0, 1))
    return np.where(c < 480, period[c % lag] * gain, 0.0)


def conceal(frames, lost, mode):
    out, run, last, hist = [], 0, np.zeros(160), np.zeros(320)
    for f, gone in zip(frames, lost):
        if not gone:
            out.append(f)
            last, hist, run = f, np.concatenate([hist, f])[-320:], 0
            continue
        if mode == "silence":
            out.append(np.zeros(160))
        elif mode == "repeat":
            out.append(repeat_fade(last, run))
        elif mode == "pitch":
            out.append(pitch_repeat(hist, run))
        run += 1
    return np.concatenate(out)


def score(ref, deg):
    n = 1 << int(np.ceil(np.log2(len(ref) + len(deg))))
    lag = int(np.argmax(np.fft.irfft(np.fft.rfft(deg, n) * np.conj(np.fft.rfft(ref, n)), n)))
    if lag > n // 2:
        lag -= n
    r, d = (ref, deg[lag:]) if lag >= 0 else (ref[-lag:], deg)
    m = min(len(r), len(d))
    return pesq(8000, r[:m], d[:m], "nb")


def main():
    with tempfile.TemporaryDirectory() as d:
        ref = speech8k(d)
    frames = frames_of(ref)
    for kind in ("random", "burst"):
        res = {m: [] for m in ("skip", "silence", "repeat", "pitch")}
        for seed in range(1, 9):
            lost = pattern(kind, len(frames), seed)
            for m in res:
                res[m].append(score(ref, conceal(frames, lost, m)))
        print(kind, " ".join(f"{m} {np.mean(v):.2f} ({min(v):.2f}-{max(v):.2f})" for m, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
