//! Which source address the bridge takes media from and sends media to
//! (sans-IO): symmetric RTP latching that cannot be hijacked mid-call.
//!
//! The far end's SDP names where it receives RTP (`c=` + `m=` port) and
//! RTCP (`a=rtcp`, RFC 3605, or port + 1; the RTP port with rtcp-mux,
//! RFC 5761 §5.1.1). Media is accepted only from a source allowed by
//! [`LatchMode`]; the first *valid* packet (parsed, negotiated payload
//! type) from an allowed source latches it, and from then on only that
//! exact `IP:port` is accepted and used as the RTP destination until the
//! SDP changes ([`Latch::new`] again on a re-INVITE). Nothing ever moves the
//! latch to another address mid-call, whatever the mode, so a stream
//! sprayed at our port from elsewhere cannot take the call over.
//!
//! The check comes before any parsing ([`Latch::admit_rtp`]), so foreign
//! datagrams cost nothing and never reach the receiver or the jitter
//! buffer. RTCP is accepted from the latched IP only (before latching:
//! from the addresses the mode allows for RTP), on any port: RTCP often
//! comes from the RTP port + 1 behind NAT (RFC 3550 §11).
//!
//! Sources: RFC 3550 §8.2 (SSRC collisions, "the source transport address"),
//! RFC 4961 (symmetric RTP), RFC 7362 §3.2 (latching and its hijacking
//! risk: "only accept packets from the address signalled in SDP").

use std::net::{IpAddr, SocketAddr};

use super::MediaError;

/// `[media] latching`: which sources may latch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatchMode {
    /// Exactly the SDP `IP:port` (RTP) and the SDP RTCP address's IP.
    Strict,
    /// The SDP's IP, any port (far ends behind a port-rewriting NAT);
    /// latched once to the first valid packet's `IP:port`.
    #[default]
    Ip,
    /// Any source (far ends behind an address-rewriting NAT, where the
    /// SDP names a private address); latched once to the first valid
    /// packet's `IP:port` and never moved (the old behaviour re-latched to
    /// any new source after 5 packets: that is gone in every mode).
    Any,
}

/// Where media goes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No valid packet yet: send to the SDP addresses.
    Signalled,
    /// Learnt from the first valid packet: RTP to `rtp`, RTCP to `rtcp`.
    Latched { rtp: SocketAddr, rtcp: SocketAddr },
}

/// The latching rule of one call leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latch {
    mode: LatchMode,
    /// RTP destination from SDP.
    sdp_rtp: SocketAddr,
    /// RTCP destination from SDP (equal to `sdp_rtp` with rtcp-mux).
    sdp_rtcp: SocketAddr,
    /// RTCP shares the RTP port (RFC 5761).
    mux: bool,
    state: State,
}

impl Latch {
    /// A latch for the SDP addresses `rtp` and `rtcp` (ignored with `mux`:
    /// RTCP then goes to `rtp`).
    pub fn new(mode: LatchMode, rtp: SocketAddr, rtcp: SocketAddr, mux: bool) -> Self {
        Latch {
            mode,
            sdp_rtp: rtp,
            sdp_rtcp: if mux { rtp } else { rtcp },
            mux,
            state: State::Signalled,
        }
    }

    /// Whether this latch was made for these SDP addresses (a new SDP
    /// naming them again need not re-arm it).
    pub fn signals(&self, rtp: SocketAddr, rtcp: SocketAddr, mux: bool) -> bool {
        let rtcp = if mux { rtp } else { rtcp };
        self.sdp_rtp == rtp && self.sdp_rtcp == rtcp && self.mux == mux
    }

    /// The mode.
    pub fn mode(&self) -> LatchMode {
        self.mode
    }

    /// Where RTP goes: the latched source, else the SDP address.
    pub fn rtp_dest(&self) -> SocketAddr {
        match self.state {
            State::Signalled => self.sdp_rtp,
            State::Latched { rtp, .. } => rtp,
        }
    }

    /// Where RTCP goes: the latched RTCP address, else the SDP one.
    pub fn rtcp_dest(&self) -> SocketAddr {
        match self.state {
            State::Signalled => self.sdp_rtcp,
            State::Latched { rtcp, .. } => rtcp,
        }
    }

    /// The latched RTP source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        match self.state {
            State::Signalled => None,
            State::Latched { rtp, .. } => Some(rtp),
        }
    }

    /// Whether an RTP datagram from `from` may be looked at. Call before
    /// parsing; [`Latch::confirm_rtp`] once it proved valid.
    ///
    /// Errors: [`MediaError::ForeignSource`] (peer or attacker; drop it).
    pub fn admit_rtp(&self, from: SocketAddr) -> Result<(), MediaError> {
        let ok = match self.state {
            State::Latched { rtp, .. } => from == rtp,
            State::Signalled => match self.mode {
                LatchMode::Strict => from == self.sdp_rtp,
                LatchMode::Ip => same_ip(from.ip(), self.sdp_rtp.ip()),
                LatchMode::Any => true,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(MediaError::ForeignSource(from))
        }
    }

    /// A valid packet (admitted, parsed, negotiated payload type) came
    /// from `from`: latches it if nothing is latched yet. Returns the
    /// address when it just latched.
    pub fn confirm_rtp(&mut self, from: SocketAddr) -> Option<SocketAddr> {
        if self.state != State::Signalled || self.admit_rtp(from).is_err() {
            return None;
        }
        let rtcp = if self.mux {
            from
        } else if from == self.sdp_rtp {
            self.sdp_rtcp
        } else {
            // Behind NAT the RTCP port is unknown until RTCP arrives; the
            // RFC 3550 §11 convention is the next port.
            SocketAddr::new(from.ip(), from.port().saturating_add(1))
        };
        self.state = State::Latched { rtp: from, rtcp };
        Some(from)
    }

    /// Whether an RTCP datagram from `from` may be looked at; when it may
    /// and media has latched (not in strict mode), later RTCP goes back to
    /// `from` (symmetric RTCP on the latched IP).
    ///
    /// Errors: [`MediaError::ForeignSource`].
    pub fn admit_rtcp(&mut self, from: SocketAddr) -> Result<(), MediaError> {
        let allowed_ip = match self.state {
            State::Latched { rtp, .. } => Some(rtp.ip()),
            State::Signalled => match self.mode {
                LatchMode::Strict | LatchMode::Ip => Some(self.sdp_rtp.ip()),
                // Nothing is known about the source yet.
                LatchMode::Any => None,
            },
        };
        let ok = allowed_ip.is_some_and(|ip| same_ip(from.ip(), ip))
            || (self.mode == LatchMode::Strict && from == self.sdp_rtcp);
        if !ok {
            return Err(MediaError::ForeignSource(from));
        }
        if let State::Latched { rtp, rtcp } = self.state {
            if self.mode != LatchMode::Strict && !self.mux && rtcp != from {
                self.state = State::Latched { rtp, rtcp: from };
            }
        }
        Ok(())
    }
}

/// IP equality that treats an IPv4-mapped IPv6 address as its IPv4 form
/// (a dual-stack socket reports IPv4 peers that way).
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const SDP: &str = "192.0.2.1:5004";
    const SDP_RTCP: &str = "192.0.2.1:5005";

    fn latch(mode: LatchMode) -> Latch {
        Latch::new(mode, a(SDP), a(SDP_RTCP), false)
    }

    #[test]
    fn strict_takes_only_the_sdp_address() {
        let mut l = latch(LatchMode::Strict);
        for bad in ["192.0.2.1:6000", "192.0.2.2:5004", "198.51.100.7:5004"] {
            assert_eq!(l.admit_rtp(a(bad)), Err(MediaError::ForeignSource(a(bad))));
            assert_eq!(l.confirm_rtp(a(bad)), None);
        }
        assert_eq!(l.admit_rtp(a(SDP)), Ok(()));
        assert_eq!(l.confirm_rtp(a(SDP)), Some(a(SDP)));
        assert_eq!((l.rtp_dest(), l.rtcp_dest()), (a(SDP), a(SDP_RTCP)));
        // RTCP from the SDP IP, any port, but it does not move RTCP.
        assert!(l.admit_rtcp(a("192.0.2.1:7000")).is_ok());
        assert_eq!(l.rtcp_dest(), a(SDP_RTCP));
        assert!(l.admit_rtcp(a("192.0.2.9:5005")).is_err());
    }

    #[test]
    fn ip_latches_once_to_any_port_of_the_sdp_ip() {
        let mut l = latch(LatchMode::Ip);
        assert!(l.admit_rtp(a("198.51.100.7:5004")).is_err());
        assert_eq!(l.confirm_rtp(a("198.51.100.7:5004")), None);
        assert_eq!(
            l.confirm_rtp(a("192.0.2.1:40000")),
            Some(a("192.0.2.1:40000"))
        );
        assert_eq!(l.rtp_dest(), a("192.0.2.1:40000"));
        assert_eq!(l.rtcp_dest(), a("192.0.2.1:40001"));
        // Latched: even the SDP address itself and other ports of that IP are foreign.
        assert!(l.admit_rtp(a(SDP)).is_err());
        assert!(l.admit_rtp(a("192.0.2.1:40002")).is_err());
        assert_eq!(l.confirm_rtp(a("192.0.2.1:40002")), None);
        assert_eq!(l.rtp_dest(), a("192.0.2.1:40000"));
    }

    #[test]
    fn any_latches_to_the_first_source_and_never_moves() {
        let mut l = latch(LatchMode::Any);
        assert!(l.admit_rtp(a("198.51.100.7:7000")).is_ok());
        assert!(
            l.admit_rtcp(a("198.51.100.7:7001")).is_err(),
            "RTCP before latching"
        );
        assert_eq!(
            l.confirm_rtp(a("198.51.100.7:7000")),
            Some(a("198.51.100.7:7000"))
        );
        assert!(l.admit_rtp(a(SDP)).is_err());
        assert_eq!(l.confirm_rtp(a(SDP)), None);
        assert_eq!(l.latched(), Some(a("198.51.100.7:7000")));
    }

    #[test]
    fn rtcp_only_from_the_latched_ip_and_symmetric() {
        let mut l = latch(LatchMode::Ip);
        l.confirm_rtp(a(SDP));
        assert_eq!(
            l.admit_rtcp(a("127.0.0.2:5005")),
            Err(MediaError::ForeignSource(a("127.0.0.2:5005")))
        );
        assert_eq!(l.rtcp_dest(), a(SDP_RTCP));
        l.admit_rtcp(a("192.0.2.1:6001")).unwrap();
        assert_eq!(l.rtcp_dest(), a("192.0.2.1:6001"));
    }

    #[test]
    fn mux_sends_rtcp_to_the_rtp_address() {
        let mut l = Latch::new(LatchMode::Ip, a(SDP), a(SDP_RTCP), true);
        assert_eq!(l.rtcp_dest(), a(SDP));
        l.confirm_rtp(a("192.0.2.1:40000"));
        assert_eq!(l.rtcp_dest(), a("192.0.2.1:40000"));
        l.admit_rtcp(a("192.0.2.1:40000")).unwrap();
        assert_eq!(l.rtcp_dest(), a("192.0.2.1:40000"));
    }

    #[test]
    fn v4_mapped_sources_match_v4_sdp() {
        let l = latch(LatchMode::Ip);
        assert!(l.admit_rtp(a("[::ffff:192.0.2.1]:9999")).is_ok());
    }
}
