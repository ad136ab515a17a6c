#!/usr/bin/python3
"""tonecheck.py FILE [--expect HZ] [--min-snr DB]
Decodes any audio file via ffmpeg to mono float at its native rate, skips 0.2 s at both ends,
reports duration, RMS dBFS, dominant frequency (Hann FFT, parabolic interpolation),
SINAD-style SNR (energy within +-50 Hz of the peak vs everything else, DC excluded),
and the number of 20 ms windows >20 dB below the median level (dropouts).
Exit 1 if --expect given and peak is off by >2 %, or SNR < --min-snr."""
import sys, subprocess, json, argparse
import numpy as np
ap = argparse.ArgumentParser(); ap.add_argument('file'); ap.add_argument('--expect', type=float)
ap.add_argument('--min-snr', type=float, default=None); a = ap.parse_args()
sr = int(json.loads(subprocess.run(['ffprobe','-v','error','-select_streams','a:0','-show_entries','stream=sample_rate',
      '-of','json',a.file],capture_output=True,text=True,check=True).stdout)['streams'][0]['sample_rate'])
raw = subprocess.run(['ffmpeg','-v','error','-i',a.file,'-ac','1','-f','f32le','-'],capture_output=True,check=True).stdout
x = np.frombuffer(raw, dtype='<f4').astype(np.float64)
dur = len(x) / sr
x = x[int(0.2*sr): len(x)-int(0.2*sr)] if len(x) > sr else x
rms = np.sqrt(np.mean(x**2)) + 1e-12
w = np.hanning(len(x)); X = np.abs(np.fft.rfft(x*w))**2; f = np.fft.rfftfreq(len(x), 1/sr)
X[f < 20] = 0
k = int(np.argmax(X))
if 0 < k < len(X)-1:
    y0, y1, y2 = np.log(X[k-1]+1e-30), np.log(X[k]+1e-30), np.log(X[k+1]+1e-30)
    peak = f[k] + 0.5*(y0-y2)/(y0-2*y1+y2) * (f[1]-f[0])
else: peak = f[k]
band = np.abs(f - f[k]) <= 50
snr = 10*np.log10(X[band].sum() / max(X[~band].sum(), 1e-30))
win = int(0.02*sr); n = len(x)//win
lv = 20*np.log10(np.sqrt(np.mean(x[:n*win].reshape(n, win)**2, axis=1)) + 1e-12)
drop = int(np.sum(lv < np.median(lv) - 20))
print(f'{a.file}: sr={sr} dur={dur:.2f}s rms={20*np.log10(rms):.1f}dBFS peak={peak:.1f}Hz snr={snr:.1f}dB dropouts20ms={drop}/{n}')
ok = True
if a.expect and abs(peak - a.expect) > 0.02*a.expect: ok = False
if a.min_snr is not None and snr < a.min_snr: ok = False
sys.exit(0 if ok else 1)
