//! The test signal and its detector: a 1 kHz burst of 100 ms at the start
//! of every second over a quiet speech-like bed (harmonics of 130 Hz, none
//! near 1 kHz, amplitude-modulated at 3 Hz like syllables), and a Goertzel
//! detector that finds burst onsets in the audio that comes back.
//!
//! The round trip is the wall time from sending the frame where a burst
//! starts to receiving the message in which its onset is detected; the
//! detector works on 10 ms blocks, so an onset is found within one block
//! (10 ms) of where the burst begins in the returned audio.

use std::f64::consts::PI;

/// Tone frequency, Hz.
pub const TONE_HZ: f64 = 1000.0;
/// Burst period, ms.
pub const PERIOD_MS: u64 = 1000;
/// Burst length, ms.
pub const BURST_MS: u64 = 100;
/// Burst amplitude (peak, of 32767).
const TONE_AMPLITUDE: f64 = 12000.0;
/// Speech-like bed amplitude (peak of each harmonic, of 32767).
const BED_AMPLITUDE: f64 = 900.0;
/// Bed fundamental, Hz; harmonics 1..=5 stay below 700 Hz.
const BED_F0: f64 = 130.0;

/// Sample generator of the test signal at one rate.
#[derive(Debug, Clone)]
pub struct Signal {
    rate: u32,
    /// Next sample index.
    n: u64,
}

impl Signal {
    /// A signal at `rate` Hz starting at sample 0 (a burst starts there).
    pub fn new(rate: u32) -> Self {
        Self { rate, n: 0 }
    }

    /// Sample rate, Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Where a burst starts within the next `len` samples (offset in
    /// samples from the next one), if one does.
    pub fn burst_offset(&self, len: usize) -> Option<usize> {
        let period = self.samples(PERIOD_MS);
        let into = self.n % period;
        let until = if into == 0 { 0 } else { period - into };
        (until < len as u64).then_some(until as usize)
    }

    fn samples(&self, ms: u64) -> u64 {
        u64::from(self.rate) * ms / 1000
    }

    /// Appends the next `len` samples to `out`.
    pub fn fill(&mut self, len: usize, out: &mut Vec<i16>) {
        let period = self.samples(PERIOD_MS);
        let burst = self.samples(BURST_MS);
        let rate = f64::from(self.rate);
        for _ in 0..len {
            let t = self.n as f64 / rate;
            let v = if self.n % period < burst {
                TONE_AMPLITUDE * (2.0 * PI * TONE_HZ * t).sin()
            } else {
                let envelope = 0.5 * (1.0 - (2.0 * PI * 3.0 * t).cos());
                let bed: f64 = (1..=5)
                    .map(|h| (2.0 * PI * BED_F0 * f64::from(h) * t).sin() / f64::from(h))
                    .sum();
                BED_AMPLITUDE * envelope * bed
            };
            out.push(v.clamp(-32768.0, 32767.0) as i16);
            self.n += 1;
        }
    }
}

/// Blocks needed below the threshold before a new onset counts (30 ms).
const QUIET_BLOCKS: u32 = 3;
/// Fraction of a block's power that must be at 1 kHz.
const MIN_TONE_FRACTION: f64 = 0.5;
/// Least tone power (mean square) that counts: a sine of amplitude 2000.
const MIN_TONE_POWER: f64 = 2000.0 * 2000.0 / 2.0;

/// Finds onsets of 1 kHz bursts in a PCM stream fed in pieces of any size.
#[derive(Debug, Clone)]
pub struct ToneDetector {
    block: usize,
    coeff: f64,
    buf: Vec<f64>,
    quiet: u32,
    on: bool,
    /// Samples consumed into whole blocks so far.
    consumed: u64,
}

impl ToneDetector {
    /// A detector for PCM at `rate` Hz (10 ms blocks: 80 at 8 kHz, 160 at 16 kHz).
    pub fn new(rate: u32) -> Self {
        let block = (rate / 100).max(1) as usize;
        let k = (block as f64 * TONE_HZ / f64::from(rate)).round();
        Self {
            block,
            coeff: 2.0 * (2.0 * PI * k / block as f64).cos(),
            buf: Vec::with_capacity(block),
            quiet: QUIET_BLOCKS,
            on: false,
            consumed: 0,
        }
    }

    /// Feeds samples; returns how many onsets were found in them (0 or 1
    /// for pieces shorter than a period).
    pub fn push(&mut self, pcm: &[i16]) -> usize {
        let mut onsets = 0;
        for &s in pcm {
            self.buf.push(f64::from(s));
            if self.buf.len() == self.block {
                if self.end_block() {
                    onsets += 1;
                }
                self.buf.clear();
            }
        }
        onsets
    }

    /// Classifies the full block; true on an onset.
    fn end_block(&mut self) -> bool {
        self.consumed += self.block as u64;
        let n = self.block as f64;
        let (mut s1, mut s2) = (0.0, 0.0);
        let mut energy = 0.0;
        for &x in &self.buf {
            let s0 = x + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
            energy += x * x;
        }
        let mag2 = s1 * s1 + s2 * s2 - self.coeff * s1 * s2;
        let tone_power = 2.0 * mag2 / (n * n);
        let power = energy / n;
        let tone = tone_power >= MIN_TONE_POWER && tone_power >= MIN_TONE_FRACTION * power;
        let onset = tone && !self.on && self.quiet >= QUIET_BLOCKS;
        if tone {
            self.quiet = 0;
        } else {
            self.quiet = self.quiet.saturating_add(1);
        }
        self.on = tone;
        onset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_onset_per_period_at_both_rates() {
        for rate in [8000, 16000] {
            let mut sig = Signal::new(rate);
            let mut det = ToneDetector::new(rate);
            let mut pcm = Vec::new();
            sig.fill(rate as usize * 5, &mut pcm);
            let found: usize = pcm.chunks(rate as usize / 50).map(|c| det.push(c)).sum();
            assert_eq!(found, 5, "rate {rate}");
        }
    }

    #[test]
    fn onset_found_within_one_block_of_a_delayed_burst() {
        let rate = 16000;
        let mut sig = Signal::new(rate);
        let mut pcm = vec![0i16; 437]; // 27.3 ms of delay
        sig.fill(rate as usize, &mut pcm);
        let mut det = ToneDetector::new(rate);
        let mut at = None;
        for (i, c) in pcm.chunks(16).enumerate() {
            if det.push(c) > 0 && at.is_none() {
                at = Some(i * 16 + c.len());
            }
        }
        let at = at.expect("an onset");
        assert!((437..437 + 2 * 160).contains(&at), "onset at sample {at}");
    }

    #[test]
    fn bed_and_silence_have_no_onsets() {
        let rate = 8000;
        let mut sig = Signal::new(rate);
        let mut pcm = Vec::new();
        sig.fill(rate as usize * 2, &mut pcm);
        // Remove the bursts: keep only the bed.
        for (i, s) in pcm.iter_mut().enumerate() {
            if (i % 8000) < 800 {
                *s = 0;
            }
        }
        let mut det = ToneDetector::new(rate);
        assert_eq!(det.push(&pcm), 0);
        assert_eq!(det.push(&[0; 4000]), 0);
    }

    #[test]
    fn burst_start_flags() {
        let mut sig = Signal::new(8000);
        assert_eq!(sig.burst_offset(160), Some(0));
        let mut v = Vec::new();
        sig.fill(160, &mut v);
        assert_eq!(sig.burst_offset(160), None);
        sig.fill(8000 - 160 - 100, &mut v);
        assert_eq!(sig.burst_offset(256), Some(100));
    }
}
