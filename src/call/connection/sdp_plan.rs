//! The call's SDP, decided in the core (RFC 3264): the codecs a connection
//! offers and answers with, and its local media description. The driver
//! only allocates the RTP ports and names the address to advertise.

use std::net::IpAddr;

use crate::media::codec::Codec;
use crate::rtmp::session::ClientCaps;
use crate::sip::sdp::LocalMedia;

/// Where the driver allocated a call's RTP socket pair: the address to
/// advertise (`c=`) and the RTP port (RTCP on `port + 1`, RFC 3550 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaAddr {
    /// The address put in `o=` and `c=` (`[sip] public_address`, the SIP
    /// socket's address, or the route's source toward the far end).
    pub addr: IpAddr,
    /// The RTP port (1..=65535).
    pub port: u16,
}

impl MediaAddr {
    /// The SDP's local media: this address, a fresh `o=` sess-id
    /// (`session_id`, random per call, RFC 4566 §5.2) and version 1.
    pub fn local(self, session_id: u64) -> LocalMedia {
        LocalMedia {
            addr: self.addr,
            port: self.port,
            session_id: session_id >> 1,
            session_version: 1,
        }
    }
}

/// The codecs to offer or answer with for a connection: `[media] codecs`,
/// with opus/48000/2 moved first when the client announced it publishes
/// Opus, so a far end that takes Opus gets the client's packets unchanged
/// (as Speex passthrough is preferred by listing speex/16000 first).
pub fn offer_codecs(codecs: &[Codec], caps: ClientCaps) -> Vec<Codec> {
    let mut out = codecs.to_vec();
    if caps.publishes_opus() {
        if let Some(i) = out.iter().position(|c| *c == Codec::Opus) {
            let opus = out.remove(i);
            out.insert(0, opus);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::session::FourCcInfo;

    #[test]
    fn opus_publishers_offer_opus_first() {
        let codecs = [Codec::Speex16k, Codec::Opus, Codec::Pcmu];
        assert_eq!(offer_codecs(&codecs, ClientCaps::default()), codecs);
        let all = ClientCaps::with_opus(FourCcInfo::ALL);
        assert_eq!(
            offer_codecs(&codecs, all),
            [Codec::Opus, Codec::Speex16k, Codec::Pcmu]
        );
        assert_eq!(
            offer_codecs(&[Codec::Pcmu], all),
            [Codec::Pcmu],
            "not offered when not configured"
        );
    }
}
