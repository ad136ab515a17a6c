//! Packet-loss concealment by repeating the last frame with a fade-out.
//!
//! Used by codecs without a concealment of their own (G.711). The last
//! decoded frame is repeated cyclically while its gain falls linearly from
//! 1 to 0 over [`FADE_SAMPLES`]; after that the output is silence, so a long
//! loss does not turn into a buzz. A good frame resets the fade.

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
}

impl RepeatFade {
    /// Creates a concealer that keeps the last `capacity` samples (one frame).
    pub fn new(capacity: usize) -> Self {
        Self {
            last: Vec::with_capacity(capacity),
            capacity,
            concealed: 0,
        }
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
        if self.last.is_empty() || self.concealed >= FADE_SAMPLES {
            return 0;
        }
        let index = self.concealed % self.last.len();
        let sample = i32::from(self.last.get(index).copied().unwrap_or(0));
        let remaining = (FADE_SAMPLES - self.concealed) as i32;
        (sample * remaining / FADE_SAMPLES as i32) as i16
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
