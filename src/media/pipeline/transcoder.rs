//! One transcoding half, used in both directions: decode a payload ->
//! resample -> buffer -> encode whole units (one RTP packet toward SIP,
//! one RTMP message toward the client).
//!
//! Scratch buffers are reused, so the steady state allocates nothing; the
//! PCM waiting between codecs whose frame sizes differ (Nellymoser's 256
//! samples against 20 ms) is bounded by [`PENDING_MS`].

use rtmp2sip_codecs::AudioEncoder;

use super::super::MediaError;
use super::factory::{PcmDecoder, Resample};
use super::reframe::PcmFifo;

/// Most PCM held between decoder and encoder, in ms of output audio.
pub const PENDING_MS: u32 = 3000;

/// Decoder -> resampler -> encoder, with the PCM in between.
pub struct Transcoder {
    decoder: PcmDecoder,
    resampler: Box<dyn Resample>,
    encoder: Box<dyn AudioEncoder>,
    in_rate: u32,
    frame_samples: usize,
    /// Encoder frames per output unit.
    frames_per_unit: usize,
    /// Decoded PCM of the current payload (input rate).
    pcm: Vec<i16>,
    /// Resampled PCM of the current payload (output rate).
    resampled: Vec<i16>,
    /// PCM waiting for a whole unit (output rate).
    pending: PcmFifo,
}

impl Transcoder {
    /// A half decoding with `decoder` at `in_rate` Hz, resampling with
    /// `resampler` to the encoder's rate, and encoding `frames_per_unit`
    /// encoder frames per unit (at least 1).
    pub fn new(
        decoder: PcmDecoder,
        in_rate: u32,
        resampler: Box<dyn Resample>,
        encoder: Box<dyn AudioEncoder>,
        frames_per_unit: usize,
    ) -> Self {
        let out_rate = encoder.sample_rate();
        let frame_samples = encoder.frame_samples().max(1);
        Transcoder {
            decoder,
            resampler,
            in_rate,
            frame_samples,
            frames_per_unit: frames_per_unit.max(1),
            pcm: Vec::new(),
            resampled: Vec::new(),
            pending: PcmFifo::new((u64::from(out_rate) * u64::from(PENDING_MS) / 1000) as usize),
            encoder,
        }
    }

    /// The decoder's sample rate (Hz): the rate of [`Self::decode`]'s
    /// sample counts.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// The encoder's sample rate (Hz): the rate of [`Self::next_unit`]'s
    /// sample counts.
    pub fn out_rate(&self) -> u32 {
        self.encoder.sample_rate()
    }

    /// Samples (output rate) in one unit.
    pub fn unit_samples(&self) -> usize {
        self.frame_samples * self.frames_per_unit
    }

    /// Decodes one payload and queues its audio; returns the samples
    /// decoded (input rate).
    ///
    /// Errors: [`MediaError::Codec`] for a corrupt payload (peer); what
    /// decoded before the fault is still queued.
    pub fn decode(&mut self, payload: &[u8]) -> Result<usize, MediaError> {
        self.pcm.clear();
        let result = self.decoder.decode(payload, &mut self.pcm);
        let samples = self.pcm.len();
        self.queue_pcm();
        result.map(|()| samples)
    }

    /// Queues `samples` (input rate) of concealment for a lost payload;
    /// `next` is the payload after it, if already received (Opus FEC).
    pub fn conceal(&mut self, samples: usize, next: Option<&[u8]>) {
        self.pcm.clear();
        let samples = samples.min(self.in_rate as usize);
        self.decoder.conceal(samples, next, &mut self.pcm);
        self.queue_pcm();
    }

    /// Queues `samples` (input rate) of silence: a long loss, past what
    /// concealment should guess.
    pub fn silence(&mut self, samples: usize) {
        self.pcm.clear();
        self.pcm.resize(samples.min(self.in_rate as usize), 0);
        self.queue_pcm();
    }

    fn queue_pcm(&mut self) {
        self.resampled.clear();
        self.resampler.process(&self.pcm, &mut self.resampled);
        self.pending.push(&self.resampled);
    }

    /// Whether a whole unit is queued.
    pub fn has_unit(&self) -> bool {
        self.pending.held() >= self.unit_samples()
    }

    /// Encodes the next whole unit, appending it to `out`; returns its
    /// samples (output rate), or `None` until enough PCM is queued.
    ///
    /// Errors: [`MediaError::Codec`] if the encoder fails (the unit's PCM
    /// is dropped).
    pub fn next_unit(&mut self, out: &mut Vec<u8>) -> Result<Option<usize>, MediaError> {
        let n = self.unit_samples();
        let Some(pcm) = self.pending.front(n) else {
            return Ok(None);
        };
        let mut result = Ok(());
        for frame in pcm.chunks_exact(self.frame_samples) {
            if let Err(e) = self.encoder.encode(frame, out) {
                result = Err(MediaError::from(e));
                break;
            }
        }
        self.pending.consume(n);
        result.map(|()| Some(n))
    }
}

/// `samples` at `from_hz` as samples at `to_hz` (rounded down): e.g. a
/// Speex narrowband frame's 160 samples are 320 at a Speex client's
/// 16 kHz, where its wideband codec plays each frame as 20 ms.
pub fn at_rate(samples: usize, from_hz: u32, to_hz: u32) -> usize {
    if from_hz == to_hz || from_hz == 0 {
        return samples;
    }
    (samples as u64 * u64::from(to_hz) / u64::from(from_hz)) as usize
}
