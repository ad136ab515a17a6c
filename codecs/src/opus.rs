//! Opus (RFC 6716) over libopus, bundled and built with cmake by the `opus`
//! crate 0.4 (`opusic-sys`). Mono, VoIP application, 20 ms frames.
//!
//! PCM runs at one of [`SUPPORTED_RATES`] (48000 Hz by default); Opus codes
//! every rate internally at 48 kHz, and RFC 7587 section 4.1 fixes the RTP
//! clock at 48000 Hz ([`RTP_CLOCK_RATE`]) whatever the PCM rate, so a 20 ms
//! packet advances the RTP timestamp by 960.
//!
//! Loss: [`AudioDecoder::conceal`] runs libopus's packet-loss concealment;
//! [`OpusDecoder::decode_fec`] rebuilds a lost frame from the in-band FEC
//! (LBRR) data that the next packet carries when the encoder has
//! [`OpusEncoderConfig::fec`] on (RFC 6716 section 2.1.7).

use crate::{AudioDecoder, AudioEncoder, CodecError};
use ::opus::{Application, Bitrate, Channels};

/// PCM rates libopus accepts, in Hz (RFC 6716 section 2).
pub const SUPPORTED_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];
/// RTP clock rate of Opus, in Hz, for every PCM rate (RFC 7587 section 4.1).
pub const RTP_CLOCK_RATE: u32 = 48000;
/// Longest packet, in ms (RFC 6716 section 3.2.5: at most 120 ms).
pub const MAX_PACKET_MS: u32 = 120;
/// Largest packet the encoder writes, in bytes: a TOC byte and one frame of
/// at most 1275 bytes (RFC 6716 sections 3.2.1 and 3.2.2).
pub const MAX_ENCODED_BYTES: usize = 1276;
/// Largest payload the decoder accepts, in bytes (above any RTP packet).
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
/// Lowest and highest explicit bit rate, in bit/s (RFC 6716 section 2.1.1).
pub const BITRATE_RANGE: std::ops::RangeInclusive<u32> = 6000..=510_000;
/// Highest encoder complexity.
pub const MAX_COMPLEXITY: u8 = 10;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusEncoderConfig {
    /// PCM input rate in Hz, one of [`SUPPORTED_RATES`] (default 48000).
    pub sample_rate: u32,
    /// CPU/quality trade-off 0..=10 (default 5).
    pub complexity: u8,
    /// Target bit rate in bit/s within [`BITRATE_RANGE`]; `None` lets
    /// libopus choose (default).
    pub bitrate: Option<u32>,
    /// In-band forward error correction (LBRR), default on.
    pub fec: bool,
    /// Expected packet loss 0..=100 %, which sizes the FEC (default 10).
    pub packet_loss_percent: u8,
}

impl Default for OpusEncoderConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48000,
            complexity: 5,
            bitrate: None,
            fec: true,
            packet_loss_percent: 10,
        }
    }
}

impl OpusEncoderConfig {
    /// Checks every field against its range.
    fn validate(&self) -> Result<(), CodecError> {
        if !SUPPORTED_RATES.contains(&self.sample_rate) {
            return Err(CodecError::UnsupportedRate(self.sample_rate));
        }
        if self.complexity > MAX_COMPLEXITY {
            return Err(CodecError::InvalidConfig("Opus complexity must be 0..=10"));
        }
        if self.packet_loss_percent > 100 {
            return Err(CodecError::InvalidConfig(
                "Opus packet loss must be 0..=100 %",
            ));
        }
        if self.bitrate.is_some_and(|b| !BITRATE_RANGE.contains(&b)) {
            return Err(CodecError::InvalidConfig(
                "Opus bit rate must be 6000..=510000 bit/s",
            ));
        }
        Ok(())
    }
}

/// Samples in 20 ms at `rate` Hz.
fn frame_samples_at(rate: u32) -> usize {
    rate as usize / 50
}

/// Maps a libopus error met while decoding peer data.
fn invalid(error: ::opus::Error) -> CodecError {
    CodecError::InvalidPayload(error.description())
}

/// Maps a libopus error met while setting up.
fn init(error: ::opus::Error) -> CodecError {
    CodecError::Init(error.description())
}

/// Opus encoder: mono, `OPUS_APPLICATION_VOIP`, one 20 ms frame per packet.
#[derive(Debug)]
pub struct OpusEncoder {
    encoder: ::opus::Encoder,
    config: OpusEncoderConfig,
    /// Room for one packet.
    packet: Vec<u8>,
}

impl OpusEncoder {
    /// Creates an encoder with `config`.
    ///
    /// Errors: [`CodecError::UnsupportedRate`] or
    /// [`CodecError::InvalidConfig`] for a setting out of range,
    /// [`CodecError::Init`] if libopus refuses.
    pub fn new(config: OpusEncoderConfig) -> Result<Self, CodecError> {
        config.validate()?;
        let mut encoder =
            ::opus::Encoder::new(config.sample_rate, Channels::Mono, Application::Voip)
                .map_err(init)?;
        encoder
            .set_complexity(i32::from(config.complexity))
            .map_err(init)?;
        let bitrate = config
            .bitrate
            .and_then(|b| i32::try_from(b).ok())
            .map_or(Bitrate::Auto, Bitrate::Bits);
        encoder.set_bitrate(bitrate).map_err(init)?;
        encoder.set_inband_fec(config.fec).map_err(init)?;
        encoder
            .set_packet_loss_perc(i32::from(config.packet_loss_percent))
            .map_err(init)?;
        Ok(Self {
            encoder,
            config,
            packet: vec![0; MAX_ENCODED_BYTES],
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &OpusEncoderConfig {
        &self.config
    }

    /// Encoder look-ahead, in samples at the PCM rate (6.5 ms: 312 at
    /// 48 kHz): the decoded signal lags the input by this much.
    pub fn lookahead(&mut self) -> usize {
        self.encoder
            .get_lookahead()
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    }
}

impl AudioEncoder for OpusEncoder {
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// 20 ms: `sample_rate / 50` samples.
    fn frame_samples(&self) -> usize {
        frame_samples_at(self.config.sample_rate)
    }

    /// Encodes exactly one 20 ms frame into one packet of at most
    /// [`MAX_ENCODED_BYTES`] bytes.
    ///
    /// Errors: [`CodecError::FrameLength`] for another length,
    /// [`CodecError::Init`] if libopus fails.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let expected = self.frame_samples();
        if pcm.len() != expected {
            return Err(CodecError::FrameLength {
                expected,
                got: pcm.len(),
            });
        }
        let written = self.encoder.encode(pcm, &mut self.packet).map_err(init)?;
        out.extend_from_slice(self.packet.get(..written).unwrap_or(&[]));
        Ok(())
    }
}

/// Opus decoder: mono output (libopus down-mixes stereo packets), with
/// libopus's concealment and in-band FEC recovery.
#[derive(Debug)]
pub struct OpusDecoder {
    decoder: ::opus::Decoder,
    sample_rate: u32,
    /// Room for the longest packet (120 ms at `sample_rate`).
    frame: Vec<i16>,
}

impl OpusDecoder {
    /// Creates a decoder producing mono PCM at `sample_rate` Hz (one of
    /// [`SUPPORTED_RATES`]).
    ///
    /// Errors: [`CodecError::UnsupportedRate`], or [`CodecError::Init`] if
    /// libopus refuses.
    pub fn new(sample_rate: u32) -> Result<Self, CodecError> {
        if !SUPPORTED_RATES.contains(&sample_rate) {
            return Err(CodecError::UnsupportedRate(sample_rate));
        }
        let decoder = ::opus::Decoder::new(sample_rate, Channels::Mono).map_err(init)?;
        Ok(Self {
            decoder,
            sample_rate,
            frame: vec![0; Self::max_samples_at(sample_rate)],
        })
    }

    /// Most samples one packet decodes to: 120 ms at the output rate.
    pub fn max_packet_samples(&self) -> usize {
        self.frame.len()
    }

    fn max_samples_at(rate: u32) -> usize {
        rate as usize * MAX_PACKET_MS as usize / 1000
    }

    /// Rebuilds a lost frame of `samples` samples (normally 20 ms) from the
    /// in-band FEC data of `next_payload`, the packet that followed the
    /// loss, appending exactly `samples` samples. Call it before decoding
    /// `next_payload` itself with [`AudioDecoder::decode`].
    ///
    /// libopus runs its concealment instead when `next_payload` carries no
    /// FEC (a CELT-only packet, or an encoder with FEC off); a loss longer
    /// than 120 ms is concealed up to the last 120 ms. If libopus fails
    /// after the packet was checked, the rest is concealed.
    ///
    /// Errors: [`CodecError::InvalidPayload`] if `next_payload` is empty,
    /// over [`MAX_PAYLOAD_BYTES`] or not a valid Opus packet (RFC 6716
    /// section 3); nothing is appended then and the decoder is untouched.
    pub fn decode_fec(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<(), CodecError> {
        check_packet(next_payload, self.sample_rate)?;
        if samples == 0 {
            return Ok(());
        }
        // libopus wants whole 2.5 ms steps for FEC and concealment.
        let quantum = (self.sample_rate / 400) as usize;
        let fec_len = samples
            .div_ceil(quantum)
            .saturating_mul(quantum)
            .min(self.frame.len());
        let plc_len = samples.saturating_sub(fec_len);
        self.conceal(plc_len, out);
        let want = samples - plc_len;
        match self.run(next_payload, fec_len, true) {
            Ok(decoded) => self.append(decoded, want, out),
            Err(_) => self.conceal(want, out),
        }
        Ok(())
    }

    /// Decodes `packet` (or conceals, when empty) into `frame[..frame_size]`
    /// and returns the samples written.
    fn run(&mut self, packet: &[u8], frame_size: usize, fec: bool) -> Result<usize, CodecError> {
        let buffer = self
            .frame
            .get_mut(..frame_size)
            .ok_or(CodecError::OutputTooSmall {
                need: frame_size,
                have: 0,
            })?;
        let written = self.decoder.decode(packet, buffer, fec).map_err(invalid)?;
        Ok(written.min(frame_size))
    }

    /// Appends `want` samples: the first `decoded` of `frame`, then zeros.
    fn append(&self, decoded: usize, want: usize, out: &mut Vec<i16>) {
        let take = decoded.min(want);
        out.extend_from_slice(self.frame.get(..take).unwrap_or(&[]));
        out.resize(out.len() + (want - take), 0);
    }
}

/// Samples at `rate` Hz that one Opus packet holds, from its TOC byte and
/// frame count (RFC 6716 §3.1, §3.2): 2.5 to 120 ms; e.g. 960 for a 20 ms
/// packet at 48 kHz. Needs no decoder (passthrough timing).
///
/// Errors: [`CodecError::InvalidPayload`] for an empty packet, one over
/// [`MAX_PAYLOAD_BYTES`], a malformed frame count, or more than 120 ms.
pub fn packet_samples(packet: &[u8], rate: u32) -> Result<usize, CodecError> {
    check_size(packet)?;
    let samples = ::opus::packet::get_nb_samples(packet, rate).map_err(invalid)?;
    if samples > rate as usize * MAX_PACKET_MS as usize / 1000 {
        return Err(CodecError::InvalidPayload("Opus packet over 120 ms"));
    }
    Ok(samples)
}

/// Refuses an empty payload or one over [`MAX_PAYLOAD_BYTES`].
fn check_size(payload: &[u8]) -> Result<(), CodecError> {
    if payload.is_empty() {
        return Err(CodecError::InvalidPayload("empty Opus packet"));
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(CodecError::InvalidPayload("Opus packet over 65536 bytes"));
    }
    Ok(())
}

/// Refuses what is not one valid Opus packet of at most 120 ms (RFC 6716
/// section 3.2), without touching a decoder.
fn check_packet(payload: &[u8], rate: u32) -> Result<(), CodecError> {
    check_size(payload)?;
    ::opus::packet::get_nb_samples(payload, rate).map_err(invalid)?;
    Ok(())
}

impl AudioDecoder for OpusDecoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Decodes one packet, appending its duration in samples (2.5 to
    /// 120 ms, so at most [`OpusDecoder::max_packet_samples`]).
    ///
    /// Errors: [`CodecError::InvalidPayload`] for an empty packet, one over
    /// [`MAX_PAYLOAD_BYTES`], or one libopus rejects; nothing is appended.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        check_size(payload)?;
        let written = self.run(payload, self.frame.len(), false)?;
        self.append(written, written, out);
        Ok(())
    }

    /// Runs libopus's concealment in 20 ms steps and appends exactly
    /// `samples` samples; ask for whole 20 ms frames to keep the decoder in
    /// step with the stream.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        let step = frame_samples_at(self.sample_rate);
        let mut left = samples;
        while left > 0 {
            let want = step.min(left);
            let decoded = self.run(&[], step, false).unwrap_or(0);
            self.append(decoded, want, out);
            left -= want;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packet_samples_from_the_toc() {
        // config 27 (CELT FB 20 ms), code 0: one frame.
        assert_eq!(packet_samples(&[27 << 3, 0xAA], 48_000).unwrap(), 960);
        // config 1 (SILK NB 20 ms), code 1: two frames.
        assert_eq!(packet_samples(&[(1 << 3) | 1, 0, 0], 48_000).unwrap(), 1920);
        assert_eq!(packet_samples(&[27 << 3], 16_000).unwrap(), 320);
        // code 3, 63 frames of 20 ms: over 120 ms.
        assert!(packet_samples(&[(27 << 3) | 3, 63], 48_000).is_err());
        assert!(packet_samples(&[], 48_000).is_err());
        let mut enc = OpusEncoder::new(OpusEncoderConfig::default()).unwrap();
        let mut out = Vec::new();
        let frame = enc.frame_samples();
        enc.encode(&vec![0; frame], &mut out).unwrap();
        assert_eq!(packet_samples(&out, enc.sample_rate()).unwrap(), frame);
    }

    /// `len` samples of a sine whose frequency (Hz) may change per 20 ms
    /// frame (`hz(frame)`), phase-continuous, at `rate` Hz.
    fn signal(rate: u32, len: usize, hz: impl Fn(usize) -> f64) -> Vec<i16> {
        let frame = frame_samples_at(rate);
        let mut phase = 0.0f64;
        (0..len)
            .map(|i| {
                phase += std::f64::consts::TAU * hz(i / frame) / f64::from(rate);
                (8000.0 * phase.sin()).round() as i16
            })
            .collect()
    }

    fn snr_db(reference: &[i16], output: &[i16]) -> f64 {
        let (mut signal, mut noise) = (0.0, 0.0);
        for (r, o) in reference.iter().zip(output) {
            signal += f64::from(*r).powi(2);
            noise += (f64::from(*r) - f64::from(*o)).powi(2);
        }
        10.0 * (signal / noise.max(1e-9)).log10()
    }

    /// Best SNR of `output[start + d..]` against `input[start..end]` over
    /// delays `d` in `delays`, and that delay.
    fn aligned_snr(
        input: &[i16],
        output: &[i16],
        span: std::ops::Range<usize>,
        delays: std::ops::RangeInclusive<usize>,
    ) -> (f64, usize) {
        delays
            .map(|d| (snr_db(&input[span.clone()], &output[span.start + d..]), d))
            .fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best })
    }

    fn encode_all(config: OpusEncoderConfig, pcm: &[i16]) -> (Vec<Vec<u8>>, usize) {
        let mut encoder = OpusEncoder::new(config).unwrap();
        let packets = pcm
            .chunks_exact(encoder.frame_samples())
            .map(|frame| {
                let mut packet = Vec::new();
                encoder.encode(frame, &mut packet).unwrap();
                assert!(!packet.is_empty() && packet.len() <= MAX_ENCODED_BYTES);
                packet
            })
            .collect();
        (packets, encoder.lookahead())
    }

    fn tone_snr(rate: u32, bitrate: Option<u32>) -> f64 {
        let config = OpusEncoderConfig {
            sample_rate: rate,
            bitrate,
            ..OpusEncoderConfig::default()
        };
        let pcm = signal(rate, rate as usize, |_| 1000.0);
        let (packets, delay) = encode_all(config, &pcm);
        let mut decoder = OpusDecoder::new(rate).unwrap();
        let mut out = Vec::new();
        for packet in &packets {
            decoder.decode(packet, &mut out).unwrap();
        }
        assert_eq!(out.len(), pcm.len());
        // The output lags by about the look-ahead; search one period of
        // the tone around it.
        let period = rate as usize / 1000;
        let span = rate as usize / 5..pcm.len() - 2 * delay;
        aligned_snr(&pcm, &out, span, delay - period..=delay + period).0
    }

    #[test]
    fn tone_round_trip_at_48_khz() {
        // Measured 30.7 dB (auto rate, about 48 kbit/s) and 29.0 dB.
        let snr = tone_snr(48000, None);
        assert!(snr >= 25.0, "{snr:.1} dB");
        let snr = tone_snr(48000, Some(32000));
        assert!(snr >= 24.0, "{snr:.1} dB");
    }

    #[test]
    fn tone_round_trip_at_16_khz() {
        // SILK wideband: measured 13.1 dB (auto rate, about 20 kbit/s) and
        // 20.1 dB at 32 kbit/s.
        let snr = tone_snr(16000, None);
        assert!(snr >= 10.0, "{snr:.1} dB");
        let snr = tone_snr(16000, Some(32000));
        assert!(snr >= 17.0, "{snr:.1} dB");
    }

    /// SNR of a lost frame rebuilt by PLC and by `decode_fec`, at `rate`,
    /// from an encoder with FEC `on` or off.
    fn plc_and_fec_snr(rate: u32, on: bool) -> (f64, f64) {
        let config = OpusEncoderConfig {
            sample_rate: rate,
            fec: on,
            packet_loss_percent: 20,
            ..OpusEncoderConfig::default()
        };
        // The pitch jumps at every frame, so the past does not predict
        // the lost frame.
        let steps = [400.0, 900.0, 600.0, 1300.0, 500.0, 1100.0, 700.0];
        let pcm = signal(rate, rate as usize, |f| steps[f % steps.len()]);
        let (packets, delay) = encode_all(config, &pcm);
        let frame = frame_samples_at(rate);
        let lost = 30;
        let (mut plc, mut fec) = (Vec::new(), Vec::new());
        let mut plc_decoder = OpusDecoder::new(rate).unwrap();
        let mut fec_decoder = OpusDecoder::new(rate).unwrap();
        for (index, packet) in packets.iter().enumerate().take(lost + 3) {
            if index == lost {
                plc_decoder.conceal(frame, &mut plc);
                fec_decoder
                    .decode_fec(&packets[lost + 1], frame, &mut fec)
                    .unwrap();
            } else {
                plc_decoder.decode(packet, &mut plc).unwrap();
                fec_decoder.decode(packet, &mut fec).unwrap();
            }
        }
        assert_eq!(plc.len(), (lost + 3) * frame);
        assert_eq!(fec.len(), plc.len());
        // Measure the exact lag on frames before the loss.
        let good = (lost - 10) * frame..(lost - 1) * frame - delay;
        let (_, delay) = aligned_snr(&pcm, &plc, good, delay - 8..=delay + 8);
        // The output of packet `lost` holds the input from `lost * frame -
        // delay` on.
        let region = lost * frame..(lost + 1) * frame;
        let reference = &pcm[region.start - delay..region.end - delay];
        (
            snr_db(reference, &plc[region.clone()]),
            snr_db(reference, &fec[region]),
        )
    }

    #[test]
    fn fec_rebuilds_a_lost_frame_better_than_concealment() {
        // Measured: PLC -0.4 dB, FEC 8.6 dB at 16 kHz; PLC -0.2 dB, FEC
        // 19.7 dB at 48 kHz.
        for rate in [16000, 48000] {
            let (plc, fec) = plc_and_fec_snr(rate, true);
            let text = format!("{rate} Hz: PLC {plc:.1} dB, FEC {fec:.1} dB");
            assert!(fec >= 5.0 && fec >= plc + 5.0, "{text}");
            // Without FEC data in the next packet, libopus conceals.
            let (plc, fec) = plc_and_fec_snr(rate, false);
            let text = format!("{rate} Hz, FEC off: PLC {plc:.1} dB, FEC {fec:.1} dB");
            assert!(fec < 3.0 && (fec - plc).abs() < 3.0, "{text}");
        }
    }

    #[test]
    fn lengths_follow_the_rate() {
        for rate in SUPPORTED_RATES {
            let config = OpusEncoderConfig {
                sample_rate: rate,
                ..OpusEncoderConfig::default()
            };
            let mut encoder = OpusEncoder::new(config).unwrap();
            let frame = rate as usize / 50;
            assert_eq!(encoder.frame_samples(), frame);
            assert_eq!(encoder.sample_rate(), rate);
            let mut packet = Vec::new();
            assert_eq!(
                encoder.encode(&vec![0; frame + 1], &mut packet),
                Err(CodecError::FrameLength {
                    expected: frame,
                    got: frame + 1
                })
            );
            encoder
                .encode(&signal(rate, frame, |_| 440.0), &mut packet)
                .unwrap();
            let mut decoder = OpusDecoder::new(rate).unwrap();
            assert_eq!(decoder.max_packet_samples(), frame * 6);
            let mut out = Vec::new();
            decoder.decode(&packet, &mut out).unwrap();
            assert_eq!(out.len(), frame);
            for samples in [0, 1, frame - 1, frame, frame * 2 + 7] {
                let before = out.len();
                decoder.conceal(samples, &mut out);
                assert_eq!(out.len() - before, samples, "{rate} Hz conceal {samples}");
                let before = out.len();
                decoder.decode_fec(&packet, samples, &mut out).unwrap();
                assert_eq!(out.len() - before, samples, "{rate} Hz FEC {samples}");
            }
            // A loss over 120 ms is concealed, then FEC covers the end.
            let before = out.len();
            decoder.decode_fec(&packet, frame * 10, &mut out).unwrap();
            assert_eq!(out.len() - before, frame * 10);
        }
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let base = OpusEncoderConfig::default();
        assert_eq!(base.sample_rate, 48000);
        let bad = [
            (
                OpusEncoderConfig {
                    sample_rate: 44100,
                    ..base
                },
                CodecError::UnsupportedRate(44100),
            ),
            (
                OpusEncoderConfig {
                    complexity: 11,
                    ..base
                },
                CodecError::InvalidConfig("Opus complexity must be 0..=10"),
            ),
            (
                OpusEncoderConfig {
                    packet_loss_percent: 101,
                    ..base
                },
                CodecError::InvalidConfig("Opus packet loss must be 0..=100 %"),
            ),
            (
                OpusEncoderConfig {
                    bitrate: Some(5999),
                    ..base
                },
                CodecError::InvalidConfig("Opus bit rate must be 6000..=510000 bit/s"),
            ),
        ];
        for (config, error) in bad {
            assert_eq!(OpusEncoder::new(config).err(), Some(error));
        }
        assert_eq!(
            OpusDecoder::new(22050).err(),
            Some(CodecError::UnsupportedRate(22050))
        );
        let config = OpusEncoderConfig {
            bitrate: Some(24000),
            complexity: 0,
            fec: false,
            packet_loss_percent: 0,
            ..base
        };
        assert!(OpusEncoder::new(config).is_ok());
    }

    #[test]
    fn bit_rate_setting_sizes_the_packets() {
        let pcm = signal(48000, 48000, |_| 1000.0);
        let sizes = |bitrate| {
            let config = OpusEncoderConfig {
                bitrate: Some(bitrate),
                fec: false,
                ..OpusEncoderConfig::default()
            };
            let (packets, _) = encode_all(config, &pcm);
            packets.iter().map(Vec::len).sum::<usize>()
        };
        // One second of packets: bytes * 8 ~ bit rate.
        let (low, high) = (sizes(12000), sizes(64000));
        assert!(low * 8 < 16000 && high * 8 > 48000, "{low} {high}");
    }

    #[test]
    fn stereo_packets_are_mixed_down_to_mono() {
        let mut stereo = ::opus::Encoder::new(48000, Channels::Stereo, Application::Voip).unwrap();
        let mono = signal(48000, 960, |_| 1000.0);
        let interleaved: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let mut packet = vec![0; MAX_ENCODED_BYTES];
        let n = stereo.encode(&interleaved, &mut packet).unwrap();
        let mut decoder = OpusDecoder::new(48000).unwrap();
        let mut out = Vec::new();
        decoder.decode(&packet[..n], &mut out).unwrap();
        assert_eq!(out.len(), 960);
    }

    #[test]
    fn garbage_is_refused_without_output() {
        let mut decoder = OpusDecoder::new(48000).unwrap();
        let mut out = Vec::new();
        for bad in [&[][..], &[0xFF, 0xFF, 0xFF][..], &[0x03][..]] {
            assert!(matches!(
                decoder.decode(bad, &mut out),
                Err(CodecError::InvalidPayload(_))
            ));
            assert!(decoder.decode_fec(bad, 960, &mut out).is_err());
        }
        assert!(decoder
            .decode(&vec![0; MAX_PAYLOAD_BYTES + 1], &mut out)
            .is_err());
        assert!(out.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_bytes_never_panic_and_stay_bounded(
            payload in proptest::collection::vec(any::<u8>(), 0..1500),
            lost in 0usize..3000,
            rate_index in 0usize..5,
        ) {
            let rate = SUPPORTED_RATES[rate_index];
            let mut decoder = OpusDecoder::new(rate).unwrap();
            let mut out = Vec::new();
            if decoder.decode(&payload, &mut out).is_ok() {
                prop_assert!(out.len() <= decoder.max_packet_samples());
                prop_assert!(out.len() % (rate as usize / 400) == 0);
            } else {
                prop_assert!(out.is_empty());
            }
            let before = out.len();
            match decoder.decode_fec(&payload, lost, &mut out) {
                Ok(()) => prop_assert_eq!(out.len() - before, lost),
                Err(_) => prop_assert_eq!(out.len(), before),
            }
            let before = out.len();
            decoder.conceal(lost, &mut out);
            prop_assert_eq!(out.len() - before, lost);
        }
    }
}
