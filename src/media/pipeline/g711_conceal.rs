//! Loss concealment for G.711 passthrough toward the RTMP client.
//!
//! Passthrough sends the far end's G.711 bytes unchanged, so nothing is
//! decoded while packets arrive; a lost packet would leave a hole that
//! shortens the client's stream (players of FLV G.711 play the messages
//! back to back). [`G711Conceal`] fills the hole instead, in the idea of
//! ITU-T G.711 Appendix I: the last good audio is repeated with a falling
//! gain (the codecs crate's `RepeatFade`: the last 20 ms repeated, gain 1
//! to 0 over 60 ms), then silence, re-encoded in the stream's law. Only
//! the lost packets are touched: a good packet passes byte for byte and
//! costs a copy of its bytes (decoded lazily, on the first loss of a run).

use rtmp2sip_codecs::{AudioDecoder, G711Decoder, G711Law};

/// Bytes of the last good payload kept (20 ms at 8 kHz).
const HISTORY: usize = 160;

/// The concealment state of one G.711 passthrough stream.
#[derive(Debug, Clone)]
pub struct G711Conceal {
    law: G711Law,
    /// The tail of the last good payload, at most [`HISTORY`] bytes.
    last: Vec<u8>,
    /// Whether `decoder` has been primed with `last` for this run.
    primed: bool,
    decoder: G711Decoder,
    pcm: Vec<i16>,
}

impl G711Conceal {
    /// Concealment for a stream in `law`.
    pub fn new(law: G711Law) -> Self {
        G711Conceal {
            law,
            last: Vec::with_capacity(HISTORY),
            primed: false,
            decoder: G711Decoder::new(law),
            pcm: Vec::with_capacity(HISTORY),
        }
    }

    /// A good payload went out: remember its last 20 ms, end a loss run.
    pub fn played(&mut self, payload: &[u8]) {
        let tail = payload
            .get(payload.len().saturating_sub(HISTORY)..)
            .unwrap_or(&[]);
        if tail.is_empty() {
            return;
        }
        self.last.clear();
        self.last.extend_from_slice(tail);
        self.primed = false;
    }

    /// Appends `samples` bytes (8 kHz) of concealment to `out`: the last
    /// good audio repeated and faded out over 60 ms of a run, silence after
    /// (and silence when nothing was played yet).
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<u8>) {
        if !self.primed {
            // The fade starts from the last good audio.
            self.pcm.clear();
            let _ = self.decoder.decode(&self.last, &mut self.pcm);
            self.primed = true;
        }
        self.pcm.clear();
        self.decoder.conceal(samples, &mut self.pcm);
        let law = self.law;
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
            // The first concealed samples are the last good ones, repeated.
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
        // From the tail of the new payload (its last 160 bytes).
        assert_eq!(out[..4], fresh[160..164]);
    }
}
