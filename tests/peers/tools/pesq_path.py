#!/usr/bin/python3
"""PESQ (ITU-T P.862, MOS-LQO) of speech through rtmp2sip's codec paths,
with the encoder's cost per 20 ms frame, over a grid of encoder settings.

Speech: a few sentences synthesised by espeak-ng (two voices), resampled to
16 kHz with scipy. Each setting runs the real encoder and decoder as the
bridge chains them through `codecs/examples/pesq_chain.rs` (built in release
on first use). MOS is wideband P.862.2 for 16 kHz outputs and narrowband
P.862.1 for 8 kHz outputs (the reference then resampled to 8 kHz).

    /usr/bin/python3 tests/peers/tools/pesq_path.py                 # the default grid
    /usr/bin/python3 tests/peers/tools/pesq_path.py --path speex-wb --quality 8 --complexity 1-10
    /usr/bin/python3 tests/peers/tools/pesq_path.py --markdown      # a BENCHMARKS.md table

Needs: espeak-ng (Debian), pesq==0.0.4 (pip), numpy, scipy
(scripts/install-test-deps.sh installs them).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from math import gcd

import numpy as np
from pesq import pesq
from scipy.io import wavfile
from scipy.signal import resample_poly

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

SENTENCES = [
    ("en-us", "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."),
    ("en", "It is easy to tell the depth of a well. These days a chicken leg is a rare dish."),
    ("en-us+f3", "Rice is often served in round bowls. The juice of lemons makes fine punch."),
]

OUT_RATE = {"speex-wb": 16000, "pcmu-speex": 16000, "pcmu-speex-nb": 16000, "opus": 16000, "speex-nb": 8000,
            "speex-pcmu": 8000, "speex-pcmu-nbdec": 8000}

DEFAULT_GRID = [
    ("speex-wb", [6, 8, 10], list(range(1, 11))),
    ("pcmu-speex", [8], list(range(1, 11))),
    ("speex-nb", [8], list(range(1, 11))),
    ("opus", [0], list(range(0, 11))),
]


def speech(workdir):
    """16 kHz int16 speech: the sentences back to back, 300 ms apart."""
    parts = []
    for i, (voice, text) in enumerate(SENTENCES):
        wav = os.path.join(workdir, f"s{i}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", wav, text], check=True)
        rate, pcm = wavfile.read(wav)
        g = gcd(16000, rate)
        pcm = resample_poly(pcm.astype(np.float64), 16000 // g, rate // g)
        parts.append(pcm)
        parts.append(np.zeros(4800))
    pcm = np.concatenate([np.zeros(4800)] + parts)
    pcm = pcm / max(1.0, np.max(np.abs(pcm))) * 16000.0  # about -6 dBFS peaks
    return np.clip(np.round(pcm), -32768, 32767).astype(np.int16)


def chain_binary():
    exe = os.path.join(ROOT, "target", "release", "examples", "pesq_chain")
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "rtmp2sip-codecs", "--example", "pesq_chain"],
        cwd=ROOT,
        check=True,
    )
    return exe


def mos(reference16k, degraded, rate):
    """MOS-LQO: wideband at 16 kHz, narrowband at 8 kHz."""
    ref = reference16k.astype(np.float64)
    if rate == 8000:
        ref = resample_poly(ref, 1, 2)
    n = min(len(ref), len(degraded))
    mode = "wb" if rate == 16000 else "nb"
    return pesq(rate, ref[:n], degraded[:n].astype(np.float64), mode)


def run(exe, workdir, ref, path, quality, complexity):
    src = os.path.join(workdir, "in.raw")
    dst = os.path.join(workdir, "out.raw")
    if not os.path.exists(src):
        ref.astype("<i2").tofile(src)
    out = subprocess.run(
        [exe, path, str(quality), str(complexity), src, dst], check=True, capture_output=True, text=True
    )
    row = json.loads(out.stdout)
    degraded = np.fromfile(dst, dtype="<i2")
    row["mos"] = round(mos(ref, degraded, OUT_RATE[path]), 3)
    row["band"] = "wb" if OUT_RATE[path] == 16000 else "nb"
    return row


def parse_range(text):
    values = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            values.extend(range(int(lo), int(hi) + 1))
        else:
            values.append(int(part))
    return values


def markdown(rows):
    lines = ["| path | band | quality | complexity | MOS-LQO | encoder µs / 20 ms |", "|---|---|---|---|---|---|"]
    for r in rows:
        q = "-" if r["path"] == "opus" else r["quality"]
        lines.append(f"| {r['path']} | {r['band']} | {q} | {r['complexity']} | {r['mos']:.3f} | {r['enc_us']:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", choices=sorted(OUT_RATE), help="one path (default: the standard grid)")
    ap.add_argument("--quality", default="8", help="Speex qualities, e.g. 6,8,10")
    ap.add_argument("--complexity", default="1-10", help="complexities, e.g. 1-10 or 2,4")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table instead of JSON lines")
    args = ap.parse_args()
    grid = DEFAULT_GRID if args.path is None else [(args.path, parse_range(args.quality), parse_range(args.complexity))]
    exe = chain_binary()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        ref = speech(workdir)
        for path, qualities, complexities in grid:
            for q in qualities:
                for c in complexities:
                    row = run(exe, workdir, ref, path, q, c)
                    rows.append(row)
                    if not args.markdown:
                        print(json.dumps(row), flush=True)
    if args.markdown:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
