//! Packet-loss concealment by repeating the last frame with a fade-out.
//!
//! Used by codecs without a concealment of their own (G.711, G.722). The
//! last decoded frame is repeated cyclically while its gain falls linearly
//! from 1 to 0 over 60 ms ([`FADE_MS`]; [`FADE_SAMPLES`] at 8 kHz); after
//! that the output is silence, so a long loss does not turn into a buzz. A
//! good frame resets the fade.

/// Length of the fade-out, in ms.
pub const FADE_MS: u32 = 60;

/// Length of the fade-out, in samples at 8 kHz (60 ms).
pub const FADE_SAMPLES: usize = 480;

/// Repeat-and-fade concealment state for one stream.
#[derive(Debug, Clone)]
pub struct RepeatFade {
    /// The most recent decoded PCM, at most `capacity` samples.
    last: Vec<i16>,
    /// Largest history kept, in samples (one frame).
    capacity: usize,
    /// Samples concealed since the last good frame.
    concealed: usize,
    /// Length of the fade-out, in samples at the stream's rate.
    fade: usize,
}

impl RepeatFade {
    /// Creates a concealer for an 8 kHz stream that keeps the last
    /// `capacity` samples (one frame); the fade lasts [`FADE_SAMPLES`].
    pub fn new(capacity: usize) -> Self {
        Self::with_rate(capacity, 8000)
    }

    /// Creates a concealer for a stream at `sample_rate` Hz that keeps the
    /// last `capacity` samples (one frame); the fade lasts [`FADE_MS`] at
    /// that rate (960 samples at 16 kHz).
    pub fn with_rate(capacity: usize, sample_rate: u32) -> Self {
        let fade = u64::from(sample_rate) * u64::from(FADE_MS) / 1000;
        Self {
            last: Vec::with_capacity(capacity),
            capacity,
            concealed: 0,
            fade: usize::try_from(fade).unwrap_or(usize::MAX),
        }
    }

    /// Length of the fade-out, in samples.
    pub fn fade_samples(&self) -> usize {
        self.fade
    }

    /// Records freshly decoded PCM and resets the fade.
    pub fn remember(&mut self, pcm: &[i16]) {
        self.concealed = 0;
        if pcm.len() >= self.capacity {
            self.last.clear();
            self.last
                .extend_from_slice(pcm.get(pcm.len() - self.capacity..).unwrap_or(&[]));
            return;
        }
        // Keep the tail of the old history followed by the new samples.
        let keep = self.capacity - pcm.len();
        let drop = self.last.len().saturating_sub(keep);
        self.last.drain(..drop);
        self.last.extend_from_slice(pcm);
    }

    /// Appends `samples` samples of concealment to `out`.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        out.reserve(samples);
        for _ in 0..samples {
            out.push(self.next_sample());
            self.concealed = self.concealed.saturating_add(1);
        }
    }

    fn next_sample(&self) -> i16 {
        if self.last.is_empty() || self.concealed >= self.fade {
            return 0;
        }
        let index = self.concealed % self.last.len();
        let sample = i64::from(self.last.get(index).copied().unwrap_or(0));
        let remaining = (self.fade - self.concealed) as i64;
        (sample * remaining / self.fade as i64) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_without_history() {
        let mut plc = RepeatFade::new(160);
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        assert_eq!(out, vec![0; 160]);
    }

    #[test]
    fn repeats_last_frame_with_falling_gain() {
        let mut plc = RepeatFade::new(4);
        plc.remember(&[1000, 1000, 1000, 1000]);
        let mut out = Vec::new();
        plc.conceal(FADE_SAMPLES + 10, &mut out);
        assert_eq!(out.first(), Some(&1000));
        assert!(out.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(&out[FADE_SAMPLES..], &[0; 10]);
        assert!(out[FADE_SAMPLES / 2] > 400 && out[FADE_SAMPLES / 2] < 600);
    }

    #[test]
    fn fade_lasts_60_ms_at_the_given_rate() {
        for (rate, fade) in [(8000, 480), (16000, 960), (48000, 2880)] {
            let mut plc = RepeatFade::with_rate(4, rate);
            assert_eq!(plc.fade_samples(), fade);
            plc.remember(&[-2000; 4]);
            let mut out = Vec::new();
            plc.conceal(fade + 20, &mut out);
            assert_eq!(out.len(), fade + 20);
            assert_eq!(out[0], -2000);
            // Half-way through the fade the gain is one half.
            assert!((-1010..=-990).contains(&out[fade / 2]), "{}", out[fade / 2]);
            assert!(out[fade - fade / 10] < 0);
            assert!(out[fade..].iter().all(|&s| s == 0));
        }
        assert_eq!(RepeatFade::new(160).fade_samples(), FADE_SAMPLES);
    }

    #[test]
    fn a_good_frame_restarts_the_fade() {
        let mut plc = RepeatFade::with_rate(2, 16000);
        plc.remember(&[1000, 1000]);
        let mut out = Vec::new();
        plc.conceal(2000, &mut out);
        assert_eq!(out.last(), Some(&0));
        plc.remember(&[1000, 1000]);
        out.clear();
        plc.conceal(1, &mut out);
        assert_eq!(out, vec![1000]);
    }

    fn assert_close(got: &[i16], want: &[i16]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((i32::from(*g) - i32::from(*w)).abs() <= i32::from(*w) / 100 + 1);
        }
    }

    #[test]
    fn keeps_only_the_latest_samples() {
        let mut plc = RepeatFade::new(3);
        plc.remember(&[1000, 2000]);
        plc.remember(&[3000, 4000]);
        let mut out = Vec::new();
        plc.conceal(3, &mut out);
        assert_close(&out, &[2000, 3000, 4000]);
        plc.remember(&[5000, 6000, 7000, 8000, 9000]);
        out.clear();
        plc.conceal(3, &mut out);
        assert_close(&out, &[7000, 8000, 9000]);
    }
}
