//! Streaming sample-rate conversion of 16-bit mono PCM with speexdsp's C
//! resampler (windowed-sinc, `resample.c` of libspeexdsp 1.2.1, linked from
//! the system; see `resample/ffi.rs`). It replaced the pure-Rust port
//! `speexdsp-resampler` 0.1 (the same algorithm, translated by c2rust), which
//! cost about 4x more per 20 ms frame in the same benchmark run (BENCHMARKS.md,
//! "Resampler: speexdsp's C code"); that port stays as the tests' reference.
//!
//! State is kept across calls, so a stream can be fed in frames of any
//! size. Without `skip_zeros`, the output of each call is the input length
//! times `to/from` (up to a sample of rounding carried to the next call), at
//! the cost of a fixed delay of [`Resampler::output_latency`] samples: about
//! 3 ms at [`DEFAULT_QUALITY`].

mod ffi;

use crate::CodecError;
use ffi::State;

/// Rates accepted by [`Resampler::new`], in Hz.
pub const SUPPORTED_RATES: [u32; 6] = [8000, 11025, 16000, 22050, 44100, 48000];

/// Default quality: speexdsp's `SPEEX_RESAMPLER_QUALITY_VOIP` (3).
pub const DEFAULT_QUALITY: u8 = 3;

/// Highest speexdsp quality.
pub const MAX_QUALITY: u8 = 10;

/// A mono resampler from one fixed rate to another.
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    /// `None` when the rates are equal (samples are copied).
    state: Option<State>,
    /// Scratch output, reused across calls.
    output: Vec<i16>,
}

impl Resampler {
    /// Creates a resampler from `from_hz` to `to_hz` (both in
    /// [`SUPPORTED_RATES`]) at `quality` 0..=10 (0 fastest, 10 best).
    ///
    /// Errors: [`CodecError::UnsupportedRate`] for another rate,
    /// [`CodecError::InvalidConfig`] for quality > 10.
    pub fn new(from_hz: u32, to_hz: u32, quality: u8) -> Result<Self, CodecError> {
        for rate in [from_hz, to_hz] {
            if !SUPPORTED_RATES.contains(&rate) {
                return Err(CodecError::UnsupportedRate(rate));
            }
        }
        if quality > MAX_QUALITY {
            return Err(CodecError::InvalidConfig(
                "resampler quality must be 0..=10",
            ));
        }
        let state = if from_hz == to_hz {
            None
        } else {
            Some(State::new(from_hz, to_hz, quality)?)
        };
        Ok(Self {
            from_hz,
            to_hz,
            state,
            output: Vec::new(),
        })
    }

    /// Creates a resampler at [`DEFAULT_QUALITY`].
    pub fn voip(from_hz: u32, to_hz: u32) -> Result<Self, CodecError> {
        Self::new(from_hz, to_hz, DEFAULT_QUALITY)
    }

    /// Input rate, in Hz.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Output rate, in Hz.
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Delay added to the signal, in output samples (0 for equal rates).
    pub fn output_latency(&self) -> usize {
        self.state.as_ref().map_or(0, State::output_latency)
    }

    /// Clears the filter history, as for a new stream.
    pub fn reset(&mut self) {
        if let Some(state) = self.state.as_mut() {
            state.reset();
        }
    }

    /// Resamples all of `input`, appending about
    /// `input.len() * to_hz / from_hz` samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let Some(state) = self.state.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        if input.is_empty() {
            return;
        }
        let expected = input.len() as u64 * u64::from(self.to_hz) / u64::from(self.from_hz);
        self.output.resize(expected as usize + 16, 0);
        let mut consumed = 0;
        while let Some(rest) = input.get(consumed..).filter(|r| !r.is_empty()) {
            let (used, written) = state.process(rest, &mut self.output);
            out.extend_from_slice(self.output.get(..written).unwrap_or_default());
            if used == 0 && written == 0 {
                break;
            }
            consumed += used;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, len: usize) -> Vec<i16> {
        (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                ((t * hz * std::f64::consts::TAU).sin() * 10000.0) as i16
            })
            .collect()
    }

    #[test]
    fn rejects_unsupported_settings() {
        assert_eq!(
            Resampler::new(8000, 12000, 3).err(),
            Some(CodecError::UnsupportedRate(12000))
        );
        assert!(matches!(
            Resampler::new(8000, 16000, 11),
            Err(CodecError::InvalidConfig(_))
        ));
    }

    #[test]
    fn equal_rates_copy() {
        let mut r = Resampler::voip(16000, 16000).unwrap();
        let mut out = Vec::new();
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(r.output_latency(), 0);
    }

    #[test]
    fn frame_sizes_are_exact_for_integer_ratios() {
        for (from, to, frame, want) in [
            (16000, 8000, 320, 160),
            (8000, 16000, 160, 320),
            (8000, 48000, 160, 960),
            (48000, 16000, 960, 320),
        ] {
            let mut r = Resampler::voip(from, to).unwrap();
            let input = tone(440.0, from, frame);
            for _ in 0..10 {
                let mut out = Vec::new();
                r.process(&input, &mut out);
                assert_eq!(out.len(), want, "{from}->{to}");
            }
        }
    }

    #[test]
    fn fractional_ratio_keeps_the_long_run_length() {
        let mut r = Resampler::voip(44100, 8000).unwrap();
        let mut total = 0;
        for _ in 0..100 {
            let mut out = Vec::new();
            r.process(&tone(440.0, 44100, 882), &mut out);
            total += out.len();
        }
        // 100 frames of 20 ms at 8 kHz.
        assert!((total as i64 - 16000).abs() <= 2, "{total}");
    }

    #[test]
    fn every_supported_pair_works() {
        for from in SUPPORTED_RATES {
            for to in SUPPORTED_RATES {
                let mut r = Resampler::voip(from, to).unwrap();
                let mut out = Vec::new();
                let len = from as usize / 10;
                r.process(&tone(300.0, from, len), &mut out);
                let want = len * to as usize / from as usize;
                assert!(out.len().abs_diff(want) <= 1, "{from}->{to}: {}", out.len());
                // A 300 Hz tone at 10000 survives with its energy.
                let peak = out[out.len() / 2..].iter().map(|s| s.abs()).max().unwrap();
                assert!(peak > 8000 && peak < 12000, "{from}->{to}: {peak}");
            }
        }
    }
}
