//! `[media]`: RTP and the media bridge.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[media]`: RTP and the media bridge.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address RTP/RTCP sockets bind to.
    pub bind_address: IpAddr,
    /// Inclusive RTP port range; RTP takes even ports, RTCP the next odd one.
    pub rtp_ports: (u16, u16),
    /// Codec names offered in SDP, in preference order (as written in the file).
    pub codecs: Vec<String>,
    /// Initial jitter buffer delay, in ms.
    pub jitter_ms: u32,
    /// RTP inactivity timeout; `None` disables it.
    pub rtp_timeout: Option<Duration>,
    /// Speex encoder quality, 0..=10.
    pub speex_quality: u8,
    /// Speex encoder complexity, 1..=10 each: `speex_complexity`
    /// ([`SpeexComplexity::wideband`]: wideband audio toward clients and
    /// every Speex encoder toward SIP) and `speex_complexity_narrowband`
    /// ([`SpeexComplexity::narrowband`]: the Speex WB encoder toward
    /// clients for audio from a narrowband far end, PCMU/PCMA/speex/8000).
    pub speex_complexity: SpeexComplexity,
    /// `speex_mode_narrowband`: the Speex mode toward clients for audio
    /// from a narrowband far end (PCMU, PCMA, speex/8000): narrowband
    /// frames (the default; the client's wideband decoder plays them as the
    /// low band) or wideband ones (resampled to 16 kHz).
    pub speex_mode_narrowband: SpeexMode,
    /// `speex_quality_narrowband`, 0..=10 (default 10): the quality of
    /// those narrowband frames (24.6 kbit/s at 10, less than wideband
    /// quality 8's 27.8 kbit/s); `speex_quality` is every other Speex
    /// encoder's.
    pub speex_quality_narrowband: u8,
    /// Most audio queued toward one RTMP client, in ms.
    pub rtmp_out_max_ms: u32,
    /// Codec of the audio sent to RTMP clients.
    pub rtmp_out_codec: RtmpOutCodec,
    /// Opus encoder complexity, 0..=10.
    pub opus_complexity: u8,
    /// Which source addresses RTP/RTCP is taken from.
    pub latching: Latching,
    /// `workers`: media worker threads (the media runtime), 1..=64; the
    /// file's 0 (default) is the number of CPUs, at most 64.
    pub workers: u32,
    /// `srtp`: SRTP with SDES keys (RFC 4568) toward SIP far ends.
    pub srtp: SrtpPolicy,
    /// `tick_ms`: a media worker's tick period, 1..=20 ms (default 5):
    /// the input of one tick is handled together, which adds up to one
    /// period (half of it on average) to each direction's latency.
    pub tick: Duration,
}

pub use crate::media::srtp::SrtpPolicy;
pub use crate::media::SpeexComplexity;
pub use rtmp2sip_codecs::SpeexMode;

/// `[media] speex_mode_narrowband` as written: `"narrowband"` or
/// `"wideband"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SpeexModeName {
    Narrowband,
    Wideband,
}

impl From<SpeexModeName> for SpeexMode {
    fn from(name: SpeexModeName) -> Self {
        match name {
            SpeexModeName::Narrowband => SpeexMode::Narrowband,
            SpeexModeName::Wideband => SpeexMode::Wideband,
        }
    }
}

/// Most media worker threads.
pub const MAX_MEDIA_WORKERS: u32 = 64;

/// `[media] workers = 0`: one worker per CPU, 1..=[`MAX_MEDIA_WORKERS`].
fn workers_per_cpu() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(MAX_MEDIA_WORKERS))
        .unwrap_or(1)
        .clamp(1, MAX_MEDIA_WORKERS)
}

/// `[media] latching`: which sources a call's RTP may come from (the first
/// valid packet from an allowed source latches; it never moves mid-call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Latching {
    /// Exactly the `IP:port` of the far end's SDP.
    Strict,
    /// The SDP's IP, any port (far ends behind a port-rewriting NAT).
    Ip,
    /// Any address (far ends whose SDP names a private address); the
    /// first valid packet from anyone latches.
    Any,
}

/// `[media] rtmp_out_codec`: what the gateway sends to RTMP clients that
/// did not announce Opus in `connect` (those get Enhanced RTMP Opus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtmpOutCodec {
    /// Speex wideband (16 kHz), which every Flash Player plays.
    Speex,
    /// The codec (and rate) the client publishes: Nellymoser, G.711 or
    /// Speex; Speex until the client has published audio.
    Match,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct MediaFile {
    bind_address: String,
    rtp_ports: [u16; 2],
    codecs: Vec<String>,
    jitter_ms: u32,
    rtp_timeout_s: u64,
    speex_quality: u8,
    speex_complexity: u8,
    speex_complexity_narrowband: u8,
    speex_mode_narrowband: SpeexModeName,
    speex_quality_narrowband: u8,
    rtmp_out_max_ms: u32,
    rtmp_out_codec: RtmpOutCodec,
    opus_complexity: u8,
    latching: Latching,
    workers: u32,
    srtp: SrtpPolicy,
    tick_ms: u64,
}

impl Default for MediaFile {
    fn default() -> Self {
        Self {
            bind_address: "0.0.0.0".into(),
            rtp_ports: [10000, 20000],
            codecs: [
                "speex/16000",
                "opus/48000/2",
                "G722",
                "PCMU",
                "PCMA",
                "telephone-event/8000",
            ]
            .map(String::from)
            .to_vec(),
            jitter_ms: 60,
            rtp_timeout_s: 60,
            speex_quality: 8,
            speex_complexity: 3,
            speex_complexity_narrowband: 1,
            speex_mode_narrowband: SpeexModeName::Narrowband,
            speex_quality_narrowband: 10,
            rtmp_out_max_ms: 400,
            rtmp_out_codec: RtmpOutCodec::Speex,
            opus_complexity: 8,
            latching: Latching::Ip,
            workers: 0,
            srtp: SrtpPolicy::Off,
            tick_ms: 5,
        }
    }
}

/// Codec names the SDP layer knows (case-insensitive).
pub const KNOWN_CODECS: &[&str] = &[
    "speex/16000",
    "speex/8000",
    "opus/48000/2",
    "g722",
    "pcmu",
    "pcma",
    "telephone-event/8000",
];

pub(super) fn validate_media(file: &Path, m: MediaFile) -> Result<MediaConfig, ConfigError> {
    let bind_address = m.bind_address.parse().map_err(|_| {
        invalid(
            file,
            "media.bind_address",
            format!("`{}` is not an IP address", m.bind_address),
        )
    })?;
    let [lo, hi] = m.rtp_ports;
    if lo < 1024 || lo >= hi || hi - lo < 3 {
        return Err(invalid(
            file,
            "media.rtp_ports",
            "must be [low, high] with 1024 <= low and room for at least two port pairs",
        ));
    }
    if m.codecs.is_empty() {
        return Err(invalid(file, "media.codecs", "needs at least one codec"));
    }
    for c in &m.codecs {
        if !KNOWN_CODECS.contains(&c.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                file,
                "media.codecs",
                format!(
                    "unknown codec `{c}` (known: speex/16000, speex/8000, opus/48000/2, G722, PCMU, PCMA, telephone-event/8000)"
                ),
            ));
        }
    }
    if !m
        .codecs
        .iter()
        .any(|c| !c.eq_ignore_ascii_case("telephone-event/8000"))
    {
        return Err(invalid(
            file,
            "media.codecs",
            "needs at least one audio codec",
        ));
    }
    if !(20..=500).contains(&m.jitter_ms) {
        return Err(invalid(file, "media.jitter_ms", "must be 20..=500"));
    }
    if m.speex_quality > 10 {
        return Err(invalid(file, "media.speex_quality", "must be 0..=10"));
    }
    if m.speex_quality_narrowband > 10 {
        return Err(invalid(
            file,
            "media.speex_quality_narrowband",
            "must be 0..=10",
        ));
    }
    if !(1..=10).contains(&m.speex_complexity) {
        return Err(invalid(file, "media.speex_complexity", "must be 1..=10"));
    }
    if !(1..=10).contains(&m.speex_complexity_narrowband) {
        return Err(invalid(
            file,
            "media.speex_complexity_narrowband",
            "must be 1..=10",
        ));
    }
    if !(40..=5000).contains(&m.rtmp_out_max_ms) {
        return Err(invalid(file, "media.rtmp_out_max_ms", "must be 40..=5000"));
    }
    if m.opus_complexity > 10 {
        return Err(invalid(file, "media.opus_complexity", "must be 0..=10"));
    }
    if m.workers > MAX_MEDIA_WORKERS {
        return Err(invalid(
            file,
            "media.workers",
            "must be 0..=64 (0: one per CPU)",
        ));
    }
    if !(1..=20).contains(&m.tick_ms) {
        return Err(invalid(file, "media.tick_ms", "must be 1..=20"));
    }
    Ok(MediaConfig {
        tick: Duration::from_millis(m.tick_ms),
        workers: match m.workers {
            0 => workers_per_cpu(),
            n => n,
        },
        bind_address,
        rtp_ports: (lo, hi),
        codecs: m.codecs,
        jitter_ms: m.jitter_ms,
        rtp_timeout: (m.rtp_timeout_s > 0).then(|| Duration::from_secs(m.rtp_timeout_s)),
        speex_quality: m.speex_quality,
        speex_complexity: SpeexComplexity {
            wideband: m.speex_complexity,
            narrowband: m.speex_complexity_narrowband,
        },
        speex_mode_narrowband: m.speex_mode_narrowband.into(),
        speex_quality_narrowband: m.speex_quality_narrowband,
        rtmp_out_max_ms: m.rtmp_out_max_ms,
        rtmp_out_codec: m.rtmp_out_codec,
        opus_complexity: m.opus_complexity,
        latching: m.latching,
        srtp: m.srtp,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::Latching;
    use std::path::Path;

    fn latching(text: &str) -> Result<Latching, String> {
        Config::from_toml(Path::new("test.toml"), text)
            .map(|c| c.media.latching)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn srtp_defaults_to_off_parses_each_mode_and_refuses_others() {
        use super::SrtpPolicy;
        let srtp = |text: &str| {
            Config::from_toml(Path::new("test.toml"), text)
                .map(|c| c.media.srtp)
                .map_err(|e| e.to_string())
        };
        assert_eq!(srtp(""), Ok(SrtpPolicy::Off));
        assert_eq!(
            srtp(include_str!("../../config/gateway.toml")),
            Ok(SrtpPolicy::Off)
        );
        for (name, mode) in [
            ("off", SrtpPolicy::Off),
            ("offer", SrtpPolicy::Offer),
            ("require", SrtpPolicy::Require),
        ] {
            assert_eq!(srtp(&format!("[media]\nsrtp = \"{name}\"\n")), Ok(mode));
        }
        assert!(srtp("[media]\nsrtp = \"dtls\"\n").is_err());
    }

    #[test]
    fn latching_defaults_to_ip_and_the_shipped_file_agrees() {
        assert_eq!(latching(""), Ok(Latching::Ip));
        assert_eq!(
            latching(include_str!("../../config/gateway.toml")),
            Ok(Latching::Ip)
        );
    }

    #[test]
    fn latching_parses_each_mode_and_refuses_others() {
        for (name, mode) in [
            ("strict", Latching::Strict),
            ("ip", Latching::Ip),
            ("any", Latching::Any),
        ] {
            let text = format!("[media]\nlatching = \"{name}\"\n");
            assert_eq!(latching(&text), Ok(mode));
        }
        let e = latching("[media]\nlatching = \"loose\"\n").unwrap_err();
        assert!(e.contains("latching"), "{e}");
    }

    #[test]
    fn workers_default_to_the_cpus_and_are_bounded() {
        let cfg = |t: &str| Config::from_toml(Path::new("t.toml"), t).map(|c| c.media.workers);
        let default = cfg("").unwrap();
        assert!((1..=64).contains(&default));
        assert_eq!(
            cfg(include_str!("../../config/gateway.toml")).unwrap(),
            default
        );
        assert_eq!(cfg("[media]\nworkers = 3\n").unwrap(), 3);
        let tick = |t: &str| Config::from_toml(Path::new("t.toml"), t).map(|c| c.media.tick);
        assert_eq!(tick("").unwrap(), std::time::Duration::from_millis(5));
        assert_eq!(tick("[media]\ntick_ms = 1\n").unwrap().as_millis(), 1);
        for bad in ["0", "21"] {
            let e = tick(&format!("[media]\ntick_ms = {bad}\n")).unwrap_err();
            assert!(e.to_string().contains("tick_ms"), "{e}");
        }
        let e = cfg("[media]\nworkers = 65\n").unwrap_err().to_string();
        assert!(e.contains("workers"), "{e}");
    }

    fn speex_complexity(text: &str) -> Result<u8, String> {
        Config::from_toml(Path::new("test.toml"), text)
            .map(|c| c.media.speex_complexity.wideband)
            .map_err(|e| e.to_string())
    }

    fn narrowband(text: &str) -> Result<u8, String> {
        Config::from_toml(Path::new("test.toml"), text)
            .map(|c| c.media.speex_complexity.narrowband)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn speex_complexity_narrowband_defaults_to_1_is_bounded_and_the_shipped_file_agrees() {
        assert_eq!(narrowband(""), Ok(1));
        let shipped = include_str!("../../config/gateway.toml");
        assert_eq!(narrowband(shipped), Ok(1));
        assert!(
            shipped.contains("\nspeex_complexity_narrowband = 1\n"),
            "documented in the shipped file"
        );
        // The media layer's default is the same value.
        let media_default = crate::media::SpeexComplexity::default();
        assert_eq!(media_default.narrowband, 1);
        assert_eq!(speex_complexity(""), Ok(media_default.wideband));
        // Independent keys: setting one leaves the other at its default.
        assert_eq!(
            narrowband("[media]\nspeex_complexity_narrowband = 10\n"),
            Ok(10)
        );
        assert_eq!(
            speex_complexity("[media]\nspeex_complexity_narrowband = 10\n"),
            Ok(3)
        );
        assert_eq!(narrowband("[media]\nspeex_complexity = 7\n"), Ok(1));
        for bad in [0, 11] {
            let e =
                narrowband(&format!("[media]\nspeex_complexity_narrowband = {bad}\n")).unwrap_err();
            assert!(e.contains("speex_complexity_narrowband"), "{e}");
        }
    }

    #[test]
    fn narrowband_frames_toward_clients_are_the_default_and_configurable() {
        let media = |text: &str| {
            Config::from_toml(Path::new("test.toml"), text)
                .map(|c| {
                    (
                        c.media.speex_mode_narrowband,
                        c.media.speex_quality_narrowband,
                    )
                })
                .map_err(|e| e.to_string())
        };
        let defaults = (
            crate::media::SPEEX_MODE_NARROWBAND,
            crate::media::SPEEX_QUALITY_NARROWBAND,
        );
        assert_eq!(defaults, (super::SpeexMode::Narrowband, 10));
        assert_eq!(media(""), Ok(defaults));
        let shipped = include_str!("../../config/gateway.toml");
        assert_eq!(media(shipped), Ok(defaults));
        assert!(shipped.contains("\nspeex_mode_narrowband = \"narrowband\"\n"));
        assert!(shipped.contains("\nspeex_quality_narrowband = 10\n"));
        assert_eq!(
            media("[media]\nspeex_mode_narrowband = \"wideband\"\nspeex_quality_narrowband = 0\n"),
            Ok((super::SpeexMode::Wideband, 0))
        );
        let e = media("[media]\nspeex_quality_narrowband = 11\n").unwrap_err();
        assert!(e.contains("speex_quality_narrowband"), "{e}");
        let e = media("[media]\nspeex_mode_narrowband = \"ultrawideband\"\n").unwrap_err();
        assert!(e.contains("speex_mode_narrowband"), "{e}");
    }

    #[test]
    fn speex_complexity_is_bounded_and_the_shipped_file_agrees() {
        let default = speex_complexity("").unwrap();
        assert_eq!(
            speex_complexity(include_str!("../../config/gateway.toml")),
            Ok(default)
        );
        assert_eq!(speex_complexity("[media]\nspeex_complexity = 10\n"), Ok(10));
        for bad in [0, 11] {
            let e = speex_complexity(&format!("[media]\nspeex_complexity = {bad}\n")).unwrap_err();
            assert!(e.contains("speex_complexity"), "{e}");
        }
    }
}
