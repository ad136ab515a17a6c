//! Enhanced RTMP v2 codec negotiation in `connect` (veovera enhanced-rtmp
//! v2, "Enhancing NetConnection connect Command"): what audio codecs the
//! client announced, and the map the gateway answers with.
//!
//! The client's command object may carry
//!
//! - `fourCcList`: strict array of FourCC strings (e.g. `["Opus"]`); `"*"`
//!   stands for any codec. A listed codec counts as decodable and
//!   encodable (the list predates the info maps).
//! - `audioFourCcInfoMap`: object FourCC -> number, bits CanDecode (1),
//!   CanEncode (2), CanForward (4); `"*"` is the fallback entry. It
//!   overrides `fourCcList` for the codecs it names.
//!
//! Only Opus matters to the gateway, so only Opus is kept: nothing the
//! client sends is stored beyond one byte, and the lists are read up to
//! [`MAX_ENTRIES`] entries.
//!
//! The legacy `audioCodecs` number (Adobe RTMP specification 1.0,
//! section 7.2.1.1, connect command object) is kept too, as the
//! [`AudioCodecs`] bit mask (16 bits): it tells which legacy FLV codecs
//! the client plays, so a client without Speex can get G.711.

use crate::amf::Value;

/// Most `fourCcList` items and `audioFourCcInfoMap` members looked at.
pub const MAX_ENTRIES: usize = 64;

/// FourCC info bits (E-RTMP v2 `FourCcInfoMask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FourCcInfo(u8);

impl FourCcInfo {
    /// CanDecode: the client can play this codec.
    pub const CAN_DECODE: u8 = 1;
    /// CanEncode: the client can publish this codec.
    pub const CAN_ENCODE: u8 = 2;
    /// CanForward: the client can pass this codec through.
    pub const CAN_FORWARD: u8 = 4;
    /// Everything the gateway does with Opus.
    pub const ALL: FourCcInfo = FourCcInfo(Self::CAN_DECODE | Self::CAN_ENCODE | Self::CAN_FORWARD);

    /// From the wire bits (bits above 4 dropped).
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & 7)
    }

    /// The bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the client can decode (play) the codec.
    pub const fn can_decode(self) -> bool {
        self.0 & Self::CAN_DECODE != 0
    }

    /// Whether the client can encode (publish) the codec.
    pub const fn can_encode(self) -> bool {
        self.0 & Self::CAN_ENCODE != 0
    }
}

/// The `audioCodecs` bit mask of the connect command object (Adobe RTMP
/// specification 1.0, section 7.2.1.1): which legacy audio codecs the
/// client can play. Flash Player sends nearly all bits (e.g. 0x0DF7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioCodecs(u16);

impl AudioCodecs {
    /// SUPPORT_SND_NONE: raw sound, no compression.
    pub const NONE: u16 = 0x0001;
    /// SUPPORT_SND_ADPCM.
    pub const ADPCM: u16 = 0x0002;
    /// SUPPORT_SND_MP3.
    pub const MP3: u16 = 0x0004;
    /// SUPPORT_SND_INTEL (not used).
    pub const INTEL: u16 = 0x0008;
    /// SUPPORT_SND_UNUSED.
    pub const UNUSED: u16 = 0x0010;
    /// SUPPORT_SND_NELLY8: Nellymoser at 8 kHz.
    pub const NELLY8: u16 = 0x0020;
    /// SUPPORT_SND_NELLY: Nellymoser at 5, 11, 22 and 44 kHz.
    pub const NELLY: u16 = 0x0040;
    /// SUPPORT_SND_G711A: G.711 A-law (FLV SoundFormat 7).
    pub const G711A: u16 = 0x0080;
    /// SUPPORT_SND_G711U: G.711 µ-law (FLV SoundFormat 8).
    pub const G711U: u16 = 0x0100;
    /// SUPPORT_SND_NELLY16: Nellymoser at 16 kHz.
    pub const NELLY16: u16 = 0x0200;
    /// SUPPORT_SND_AAC.
    pub const AAC: u16 = 0x0400;
    /// SUPPORT_SND_SPEEX (FLV SoundFormat 11).
    pub const SPEEX: u16 = 0x0800;
    /// SUPPORT_SND_ALL: every bit above.
    pub const ALL: u16 = 0x0FFF;

    /// From the wire bits.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every bit of `flag` is set.
    pub const fn has(self, flag: u16) -> bool {
        self.0 & flag == flag
    }

    /// Reads the number: a finite, non-negative value, truncated to an
    /// integer whose low 16 bits are kept (the defined bits are 12);
    /// anything else counts as absent.
    fn from_value(value: &Value) -> Option<Self> {
        value
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| Self((n as u64 & 0xFFFF) as u16))
    }
}

/// What the client announced in `connect`: Opus (E-RTMP) and the legacy
/// `audioCodecs` mask; the default (an old client) announced nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClientCaps {
    opus: Option<FourCcInfo>,
    audio_codecs: Option<AudioCodecs>,
}

impl ClientCaps {
    /// Caps with this Opus info (tests and drivers).
    pub const fn with_opus(info: FourCcInfo) -> Self {
        Self {
            opus: Some(info),
            audio_codecs: None,
        }
    }

    /// Caps with this `audioCodecs` mask and no Opus (tests and drivers).
    pub const fn with_audio_codecs(mask: AudioCodecs) -> Self {
        Self {
            opus: None,
            audio_codecs: Some(mask),
        }
    }

    /// Reads `fourCcList` and `audioFourCcInfoMap` from the connect
    /// command object; anything malformed counts as not announced.
    pub fn from_connect(object: &Value) -> Self {
        let listed = object
            .get("fourCcList")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .take(MAX_ENTRIES)
                    .filter_map(Value::as_str)
                    .any(|s| s == "Opus" || s == "*")
            })
            .unwrap_or(false);
        let mapped = object
            .get("audioFourCcInfoMap")
            .and_then(Value::properties)
            .and_then(opus_in_map);
        let opus = match (mapped, listed) {
            (Some(info), _) => Some(info),
            (None, true) => Some(FourCcInfo::from_bits(
                FourCcInfo::CAN_DECODE | FourCcInfo::CAN_ENCODE,
            )),
            (None, false) => None,
        };
        let audio_codecs = object.get("audioCodecs").and_then(AudioCodecs::from_value);
        Self { opus, audio_codecs }
    }

    /// The client's `audioCodecs` mask, if it sent a valid one.
    pub const fn audio_codecs(&self) -> Option<AudioCodecs> {
        self.audio_codecs
    }

    /// Whether the client said it cannot play Speex: `audioCodecs` present
    /// and without SUPPORT_SND_SPEEX. An absent mask means Speex plays
    /// (every Flash Player does).
    pub fn lacks_speex(&self) -> bool {
        self.audio_codecs
            .is_some_and(|mask| !mask.has(AudioCodecs::SPEEX))
    }

    /// The client's Opus info, if it announced any.
    pub const fn opus(&self) -> Option<FourCcInfo> {
        self.opus
    }

    /// Whether the gateway may send Opus to this client.
    pub fn plays_opus(&self) -> bool {
        self.opus.is_some_and(FourCcInfo::can_decode)
    }

    /// Whether the client said it may publish Opus.
    pub fn publishes_opus(&self) -> bool {
        self.opus.is_some_and(FourCcInfo::can_encode)
    }
}

/// The `Opus` entry, else the `*` entry, of an info map.
fn opus_in_map(props: &[(String, Value)]) -> Option<FourCcInfo> {
    let entries = props.iter().take(MAX_ENTRIES);
    let bits = |key: &str| {
        entries
            .clone()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| FourCcInfo::from_bits((n as u64 & 7) as u8))
    };
    bits("Opus").or_else(|| bits("*"))
}

/// The gateway's own `audioFourCcInfoMap` for the `_result` properties:
/// `{"Opus": CanDecode | CanEncode | CanForward}`.
pub fn server_audio_map() -> Value {
    Value::object([("Opus", f64::from(FourCcInfo::ALL.bits()))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(members: Vec<(&str, Value)>) -> Value {
        let mut b = Value::object_builder();
        for (k, v) in members {
            b = b.set(k, v);
        }
        b.build()
    }

    #[test]
    fn old_clients_announce_nothing() {
        let caps = ClientCaps::from_connect(&object(vec![("app", "phone".into())]));
        assert_eq!(caps, ClientCaps::default());
        assert!(!caps.plays_opus());
    }

    #[test]
    fn four_cc_list_means_decode_and_encode() {
        let caps = ClientCaps::from_connect(&object(vec![(
            "fourCcList",
            Value::array(["mp4a", "Opus"]),
        )]));
        assert!(caps.plays_opus() && caps.publishes_opus());
        let star = ClientCaps::from_connect(&object(vec![("fourCcList", Value::array(["*"]))]));
        assert!(star.plays_opus());
        let other = ClientCaps::from_connect(&object(vec![("fourCcList", Value::array(["fLaC"]))]));
        assert!(!other.plays_opus());
        let not_array = ClientCaps::from_connect(&object(vec![("fourCcList", "Opus".into())]));
        assert!(!not_array.plays_opus());
    }

    #[test]
    fn info_map_overrides_the_list() {
        let encode_only = object(vec![
            ("fourCcList", Value::array(["Opus"])),
            ("audioFourCcInfoMap", Value::object([("Opus", 2.0)])),
        ]);
        let caps = ClientCaps::from_connect(&encode_only);
        assert_eq!(caps.opus(), Some(FourCcInfo::from_bits(2)));
        assert!(!caps.plays_opus() && caps.publishes_opus());
        let star = object(vec![("audioFourCcInfoMap", Value::object([("*", 7.0)]))]);
        assert!(ClientCaps::from_connect(&star).plays_opus());
        let junk = object(vec![(
            "audioFourCcInfoMap",
            Value::object([("Opus", f64::NAN)]),
        )]);
        assert!(!ClientCaps::from_connect(&junk).plays_opus());
        let big = object(vec![(
            "audioFourCcInfoMap",
            Value::object([("Opus", 1e300)]),
        )]);
        assert!(ClientCaps::from_connect(&big).opus().is_some());
    }

    #[test]
    fn audio_codecs_mask_is_read() {
        let caps = |v: Value| ClientCaps::from_connect(&object(vec![("audioCodecs", v)]));
        let flash = caps(3575.0.into());
        assert_eq!(flash.audio_codecs(), Some(AudioCodecs::from_bits(0x0DF7)));
        assert!(!flash.lacks_speex());
        let web = caps(256.0.into());
        assert!(web.lacks_speex());
        assert!(web
            .audio_codecs()
            .is_some_and(|m| m.has(AudioCodecs::G711U)));
        assert!(!web
            .audio_codecs()
            .is_some_and(|m| m.has(AudioCodecs::G711A)));
        assert_eq!(
            caps(0.0.into()).audio_codecs(),
            Some(AudioCodecs::from_bits(0))
        );
        assert!(caps(0.0.into()).lacks_speex());
        // Fractions truncate; bits above 16 are dropped.
        let big = caps((f64::from(0x1_0900u32) + 0.5).into());
        assert_eq!(big.audio_codecs(), Some(AudioCodecs::from_bits(0x0900)));
        // Huge numbers saturate: all bits, Speex included.
        assert_eq!(
            caps(1e300.into()).audio_codecs(),
            Some(AudioCodecs::from_bits(0xFFFF))
        );
    }

    #[test]
    fn malformed_audio_codecs_count_as_absent() {
        for v in [
            Value::from(f64::NAN),
            Value::from(f64::INFINITY),
            Value::from(-256.0),
            Value::from("256"),
            Value::array(["G711U"]),
        ] {
            let caps = ClientCaps::from_connect(&object(vec![("audioCodecs", v)]));
            assert_eq!(caps.audio_codecs(), None);
            assert!(!caps.lacks_speex());
        }
        assert!(!ClientCaps::default().lacks_speex());
    }

    #[test]
    fn audio_codecs_and_opus_are_both_kept() {
        let caps = ClientCaps::from_connect(&object(vec![
            ("audioCodecs", 256.0.into()),
            ("fourCcList", Value::array(["Opus"])),
        ]));
        assert!(caps.plays_opus() && caps.lacks_speex());
    }

    #[test]
    fn spec_bits() {
        assert_eq!(AudioCodecs::G711U, 0x0100);
        assert_eq!(AudioCodecs::G711A, 0x0080);
        assert_eq!(AudioCodecs::SPEEX, 0x0800);
        assert!(AudioCodecs::from_bits(AudioCodecs::ALL).has(AudioCodecs::SPEEX));
    }

    #[test]
    fn server_map_says_opus_7() {
        assert_eq!(server_audio_map().get_f64("Opus"), Some(7.0));
    }
}
