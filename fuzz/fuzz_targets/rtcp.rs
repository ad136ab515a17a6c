//! RTCP compound packets from the network (RFC 3550 §6): the session's
//! parser, and the bridge's RTCP paths (its own port, and the RTP port
//! with rtcp-mux, RFC 5761 §4), from the peer and from a foreign source.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rand::rngs::mock::StepRng;
use rtmp2sip::media::rtcp::RtcpSession;
use rtmp2sip::media::{Bridge, BridgeConfig, LatchMode};
use rtmp2sip::media::codec::{Codec, Direction, Negotiated};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut rng = StepRng::new(7, 13);
    let mut session = RtcpSession::new(0x1234_5678, t0, 0xE000_0000_0000_0000, &mut rng);
    let _ = session.handle(t0, data);
    let _ = session.handle(t0 + Duration::from_secs(1), data);
    let _ = session.rtt();
    let _ = session.poll_report(t0 + Duration::from_secs(10), None, None);

    let peer = SocketAddr::from(([192, 0, 2, 1], 5004));
    let peer_rtcp = SocketAddr::from(([192, 0, 2, 1], 5005));
    let foreign = SocketAddr::from(([203, 0, 113, 9], 5005));
    let mux = data.first().is_some_and(|b| b & 1 == 1);
    let cfg = BridgeConfig {
        sip_codec: Negotiated {
            codec: Codec::Pcmu,
            pt: 0,
            recv_pt: 0,
            dtmf_pt: Some(101),
            recv_dtmf_pt: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote_rtp: peer,
            remote_rtcp: peer_rtcp,
            rtcp_mux: mux,
            srtp: None,
        },
        jitter_ms: 60,
        speex_quality: 8,
        speex_complexity: rtmp2sip::media::SpeexComplexity::default(),
        speex_mode_narrowband: rtmp2sip::media::SPEEX_MODE_NARROWBAND,
        speex_quality_narrowband: rtmp2sip::media::SPEEX_QUALITY_NARROWBAND,
        opus_complexity: 0,
        rtmp_out: rtmp2sip::media::RtmpOut::Speex,
        rtmp_out_max_ms: 400,
        rtp_timeout: Duration::from_secs(60),
        ntp_at_start: 0,
        latching: LatchMode::Ip,
    };
    let Ok(mut bridge) = Bridge::new(cfg, t0, &mut StepRng::new(1, 1)) else {
        return;
    };
    let _ = bridge.handle_rtcp(t0, foreign, data);
    let _ = bridge.handle_rtcp(t0, peer_rtcp, data);
    if mux {
        let _ = bridge.handle_rtp(t0, peer, data);
    }
    bridge.handle_timeout(t0 + Duration::from_secs(6));
    bridge.close(t0 + Duration::from_secs(7));
    while bridge.poll_transmit().is_some() {}
    while bridge.poll_event().is_some() {}
});
