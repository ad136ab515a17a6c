//! RTP and RTCP datagrams from the network: the receiver, and the whole
//! bridge (jitter buffer, DTMF, PCMU decode toward RTMP) on a virtual clock.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rand::rngs::mock::StepRng;
use rtmp2sip::media::{Bridge, BridgeConfig, RtpReceiver};
use rtmp2sip::media::codec::{Codec, Direction, Negotiated};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut receiver = RtpReceiver::new(8000, t0);
    let _ = receiver.receive(t0, data);
    let _ = receiver.report();

    let peer: SocketAddr = SocketAddr::from(([192, 0, 2, 1], 5004));
    // The first byte picks the SIP codec, so every decoder sees the input.
    let codec = match data.first().copied().unwrap_or(0) % 6 {
        0 => Codec::Pcmu,
        1 => Codec::Pcma,
        2 => Codec::G722,
        3 => Codec::Opus,
        4 => Codec::Speex8k,
        _ => Codec::Speex16k,
    };
    let cfg = BridgeConfig {
        sip_codec: Negotiated {
            codec,
            pt: 0,
            recv_pt: 0,
            dtmf_pt: Some(101),
            recv_dtmf_pt: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote_rtp: peer,
            remote_rtcp: SocketAddr::from(([192, 0, 2, 1], 5005)),
            rtcp_mux: false,
            srtp: None,
        },
        jitter_ms: 60,
        speex_quality: 8,
        speex_complexity: rtmp2sip::media::SpeexComplexity::default(),
        speex_mode_narrowband: rtmp2sip::media::SPEEX_MODE_NARROWBAND,
        speex_quality_narrowband: rtmp2sip::media::SPEEX_QUALITY_NARROWBAND,
        rtmp_out_max_ms: 500,
        rtp_timeout: Duration::from_secs(60),
        ntp_at_start: 0,
        latching: rtmp2sip::media::LatchMode::Any,
        opus_complexity: 0,
        rtmp_out: if data.len() % 2 == 0 {
            rtmp2sip::media::RtmpOut::Speex
        } else {
            rtmp2sip::media::RtmpOut::Match
        },
    };
    let Ok(mut bridge) = Bridge::new(cfg, t0, &mut StepRng::new(1, 1)) else {
        return;
    };
    // Split the input into datagrams at 0xFF 0xFF; each arrives 10 ms later.
    for (i, datagram) in data.split(|&b| b == 0xFF).enumerate() {
        let now = t0 + Duration::from_millis(10 * i as u64);
        let _ = bridge.handle_rtp(now, peer, datagram);
        let _ = bridge.handle_rtcp(now, peer, datagram);
        bridge.handle_timeout(now);
        while bridge.poll_transmit().is_some() {}
        while bridge.poll_rtmp_audio().is_some() {}
        while bridge.poll_event().is_some() {}
    }
});
