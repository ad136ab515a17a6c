#!/usr/bin/python3
"""align_snr.py REF DEG [--rate 8000]
Resamples both (ffmpeg) to --rate mono, finds the lag by FFT cross-correlation, applies the least-squares gain
and prints lag (ms), gain and waveform SNR (dB). Meaningful for waveform codecs (G.711 ~37 dB, G.722, L16);
for Speex/Nellymoser/Opus use pesq_score.py or tonecheck.py instead."""
import subprocess, argparse, numpy as np
from scipy.signal import correlate
ap = argparse.ArgumentParser(); ap.add_argument('ref'); ap.add_argument('deg'); ap.add_argument('--rate', type=int, default=8000)
a = ap.parse_args()
def load(p): return np.frombuffer(subprocess.run(['ffmpeg','-v','error','-i',p,'-ac','1','-ar',str(a.rate),'-f','f32le','-'],
                                   capture_output=True, check=True).stdout, dtype='<f4').astype(np.float64)
x, y = load(a.ref), load(a.deg)
c = correlate(y, x, mode='full', method='fft'); lag = int(np.argmax(np.abs(c))) - (len(x) - 1)
xs, ys = (x, y[lag:]) if lag >= 0 else (x[-lag:], y)
n = min(len(xs), len(ys)); xs, ys = xs[:n], ys[:n]
g = np.dot(xs, ys) / np.dot(xs, xs)
snr = 10 * np.log10(np.sum((g * xs) ** 2) / max(np.sum((ys - g * xs) ** 2), 1e-20))
print(f'lag={lag/a.rate*1000:.2f}ms gain={g:.3f} SNR={snr:.1f}dB over {n/a.rate:.2f}s')
