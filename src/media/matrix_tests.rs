//! Every RTMP codec x every SIP codec carries a 1 kHz tone, both ways and
//! in both RTMP output modes, on a virtual clock. Thresholds are a few dB
//! under the SNR measured (see README.md, "Measured tone SNR").

use std::time::{Duration, Instant};

use super::bridge::RtmpAudio;
use super::pipeline::{sip_codec, RtmpCodec, RtmpOut};
use super::test_support::*;
use crate::media::codec::Codec;
use crate::time::RtmpTimestamp;

/// Seconds of tone per case.
const SECONDS: f64 = 2.0;

/// RTMP -> SIP: a client publishing a tone in `rtmp`; returns the SNR (dB)
/// of what the peer decodes.
fn up(rtmp: RtmpCodec, sip: Codec) -> f64 {
    let t0 = Instant::now();
    let mut b = bridge(config(sip, RtmpOut::Speex), t0);
    let mut client = Client::new(rtmp);
    let sent = publish(&mut b, t0, &client.tone_messages(SECONDS));
    let ticks = sip_codec::ticks_for(sip, sip.audio_rate() as usize / 50);
    let audio: Vec<SentRtp> = sent.into_iter().filter(|p| p.pt != 101).collect();
    assert!(audio[0].marker);
    for w in audio.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert!(!w[1].marker, "{rtmp:?} -> {sip}: no gap");
        let step = w[1].ts.wrapping_sub(w[0].ts);
        if !matches!((rtmp, sip), (RtmpCodec::Speex, Codec::Speex16k)) {
            assert_eq!(step, ticks, "{rtmp:?} -> {sip}: 20 ms packets");
        }
    }
    // The RTP timeline advanced by the audio sent: all of it but what
    // waits in the re-framing buffer (< 1 packet + 1 message).
    let first = audio[0].ts;
    let last = audio[audio.len() - 1].ts;
    let sent_ms = u64::from(last.wrapping_sub(first) + ticks) * 1000 / u64::from(sip.clock_rate());
    let in_ms = client.samples * 1000 / u64::from(rtmp.audio_rate());
    assert!(
        in_ms - sent_ms < 20 + 40 + 5,
        "{rtmp:?} -> {sip}: {in_ms} in, {sent_ms} out"
    );
    let pcm = decode_sip(sip, &audio);
    let rate = sip.audio_rate();
    let skip = rate as usize / 5;
    assert!(
        rms(&pcm[skip..]) > 1500.0,
        "{rtmp:?} -> {sip}: level {}",
        rms(&pcm[skip..])
    );
    tone_snr(&pcm, rate, 1000.0, skip)
}

/// SIP -> RTMP: a peer sending a tone in `sip`; the client published
/// `client` first (with [`RtmpOut::Match`] that is what it receives).
/// Returns the codec received and the SNR (dB) of what it decodes.
fn down(sip: Codec, mode: RtmpOut, client: RtmpCodec) -> (RtmpCodec, f64) {
    let t0 = Instant::now();
    let mut b = bridge(config(sip, mode), t0);
    assert_eq!(
        b.rtmp_out_codec(),
        RtmpCodec::Speex,
        "Speex until the client publishes"
    );
    let mut c = Client::new(client);
    let first = c.tone_messages(0.1).remove(0);
    b.handle_rtmp_audio(t0, RtmpTimestamp(first.0), &first.1)
        .unwrap();
    let expected = match mode {
        RtmpOut::Speex => RtmpCodec::Speex,
        RtmpOut::Match => client,
        RtmpOut::Opus => RtmpCodec::Opus,
        RtmpOut::G711(law) => RtmpCodec::G711(law),
    };
    assert_eq!(b.rtmp_out_codec(), expected);
    let mut peer_ = Peer::new(sip);
    let mut out: Vec<RtmpAudio> = Vec::new();
    let packets = (SECONDS * 50.0) as u64;
    for i in 0..packets {
        let arrival = t0 + Duration::from_millis(20 * i);
        run_timers(&mut b, arrival, &mut out);
        b.handle_rtp(arrival, peer(), &peer_.next_packet()).unwrap();
        while b.poll_transmit().is_some() {}
    }
    run_timers(
        &mut b,
        t0 + Duration::from_millis(20 * packets + 500),
        &mut out,
    );
    let s = b.stats();
    assert_eq!(
        (s.jitter.lost, s.rtmp_out_dropped, s.rtp_invalid),
        (0, 0, 0)
    );
    assert_sample_timestamps(expected, &out);
    let rate = expected.audio_rate();
    let received: u64 = out.iter().map(|a| samples(expected, a) as u64).sum();
    let received_ms = received * 1000 / u64::from(rate);
    assert!(
        (SECONDS * 1000.0) as u64 - received_ms < 60,
        "{sip} -> {expected:?}: {received_ms} ms"
    );
    let pcm = decode_rtmp(expected, &out);
    let skip = rate as usize / 5;
    assert!(
        rms(&pcm[skip..]) > 1500.0,
        "{sip} -> {expected:?}: level {}",
        rms(&pcm[skip..])
    );
    (expected, tone_snr(&pcm, rate, 1000.0, skip))
}

fn samples(codec: RtmpCodec, a: &RtmpAudio) -> usize {
    codec.samples_in(&a.body[1..])
}

/// Each timestamp is the first one plus the audio before it, counted in
/// samples (so rounding never accumulates).
pub(crate) fn assert_sample_timestamps(codec: RtmpCodec, out: &[RtmpAudio]) {
    let rate = u64::from(codec.audio_rate());
    let mut before = 0u64;
    for a in out {
        let expected = out[0].timestamp_ms as u64 + before * 1000 / rate;
        assert_eq!(u64::from(a.timestamp_ms), expected, "{codec:?}");
        before += samples(codec, a) as u64;
    }
}

/// The SNR floor (dB) of a path through Nellymoser at `rate` (if any):
/// 3 dB or more under the lowest SNR measured with it (README.md).
/// Nellymoser codes a 1 kHz tone less cleanly at 11.025 and 8 kHz
/// (~24-25 dB) than at 16 kHz (~32-45 dB).
fn floor(nelly: Option<super::NellyRate>) -> f64 {
    use super::NellyRate::*;
    match nelly {
        Some(Hz8000 | Hz11025) => 21.0,
        Some(Hz22050) => 25.0,
        Some(Hz16000 | Hz44100) => 27.0,
        None => 29.0,
    }
}

fn nelly_rate(codec: RtmpCodec) -> Option<super::NellyRate> {
    match codec {
        RtmpCodec::Nellymoser(rate) => Some(rate),
        _ => None,
    }
}

fn up_floor(rtmp: RtmpCodec, _: Codec) -> f64 {
    floor(nelly_rate(rtmp))
}

fn down_floor(_: Codec, out: RtmpCodec) -> f64 {
    floor(nelly_rate(out))
}

fn up_row(rtmp: RtmpCodec) {
    for sip in SIP_CODECS {
        let snr = up(rtmp, sip);
        eprintln!("SNR up   {rtmp:?} -> {sip}: {snr:.1} dB");
        assert!(snr > up_floor(rtmp, sip), "{rtmp:?} -> {sip}: {snr:.1} dB");
    }
}

fn down_row(sip: Codec) {
    let (_, snr) = down(
        sip,
        RtmpOut::Speex,
        RtmpCodec::Nellymoser(super::NellyRate::Hz8000),
    );
    eprintln!("SNR down {sip} -> Speex (speex mode): {snr:.1} dB");
    assert!(
        snr > down_floor(sip, RtmpCodec::Speex),
        "{sip} -> Speex: {snr:.1} dB"
    );
    for client in RTMP_CODECS {
        let (out, snr) = down(sip, RtmpOut::Match, client);
        eprintln!("SNR down {sip} -> {out:?} (match): {snr:.1} dB");
        assert!(snr > down_floor(sip, out), "{sip} -> {out:?}: {snr:.1} dB");
    }
}

macro_rules! up_tests {
    ($($name:ident: $codec:expr,)*) => {$(
        #[test]
        fn $name() {
            up_row($codec);
        }
    )*};
}

macro_rules! down_tests {
    ($($name:ident: $codec:expr,)*) => {$(
        #[test]
        fn $name() {
            down_row($codec);
        }
    )*};
}

use super::NellyRate::*;
use rtmp2sip_codecs::G711Law::*;

up_tests! {
    tone_up_from_speex: RtmpCodec::Speex,
    tone_up_from_nelly_8k: RtmpCodec::Nellymoser(Hz8000),
    tone_up_from_nelly_11k: RtmpCodec::Nellymoser(Hz11025),
    tone_up_from_nelly_16k: RtmpCodec::Nellymoser(Hz16000),
    tone_up_from_nelly_22k: RtmpCodec::Nellymoser(Hz22050),
    tone_up_from_nelly_44k: RtmpCodec::Nellymoser(Hz44100),
    tone_up_from_pcma: RtmpCodec::G711(Pcma),
    tone_up_from_pcmu: RtmpCodec::G711(Pcmu),
}

down_tests! {
    tone_down_from_speex16k: Codec::Speex16k,
    tone_down_from_speex8k: Codec::Speex8k,
    tone_down_from_pcmu: Codec::Pcmu,
    tone_down_from_pcma: Codec::Pcma,
    tone_down_from_g722: Codec::G722,
    tone_down_from_opus: Codec::Opus,
}
