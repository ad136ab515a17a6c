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

/// What the client announced about Opus in `connect`; the default (an
/// old client) announced nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClientCaps {
    opus: Option<FourCcInfo>,
}

impl ClientCaps {
    /// Caps with this Opus info (tests and drivers).
    pub const fn with_opus(info: FourCcInfo) -> Self {
        Self { opus: Some(info) }
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
        Self { opus }
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
    fn server_map_says_opus_7() {
        assert_eq!(server_audio_map().get_f64("Opus"), Some(7.0));
    }
}
