//! RFC 4733 telephone-events: the 4-byte payload (§2.3) and turning a
//! stream of event packets into digit start/end notifications (§2.5.1:
//! one timestamp per event, updates repeat it, the end packet is sent
//! three times).

use super::timestamp::RtpTimestamp;
use super::MediaError;

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-9, 10 `*`, 11 `#`, 12-15 `A`-`D`; RFC 4733 §3.2).
    pub event: u8,
    /// E bit: the event has ended.
    pub end: bool,
    /// Volume in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in RTP clock ticks.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload (extra bytes after the first 4 are ignored, as for
    /// redundant events we do not use).
    ///
    /// Errors: [`MediaError::MalformedAudio`] if shorter than 4 bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, MediaError> {
        let [event, flags, d0, d1] = payload
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .ok_or(MediaError::MalformedAudio(
                "telephone-event shorter than 4 bytes",
            ))?;
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(self) -> [u8; 4] {
        let flags = (u8::from(self.end) << 7) | (self.volume & 0x3f);
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, flags, d0, d1]
    }

    /// The DTMF digit of this event, if it is one (RFC 4733 §3.2 table).
    pub fn digit(self) -> Option<char> {
        digit_of(self.event)
    }
}

/// The DTMF character for an event code 0..=15.
pub fn digit_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The event code for a DTMF character (case-insensitive A-D).
pub fn event_of(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// A digit notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// The digit.
    pub digit: char,
    /// False when the digit starts, true when it ends.
    pub end: bool,
}

/// Where the current event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Idle,
    Active { ts: RtpTimestamp },
    Ended { ts: RtpTimestamp },
}

/// Collapses event packets into one start and one end per digit.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    progress: Progress,
}

impl Default for DtmfReceiver {
    fn default() -> Self {
        DtmfReceiver {
            progress: Progress::Idle,
        }
    }
}

impl DtmfReceiver {
    /// Takes one telephone-event packet; returns up to two notifications
    /// (a start and, for a lone end packet, its end).
    pub fn receive(&mut self, ts: RtpTimestamp, ev: TelephoneEvent) -> Vec<DigitEvent> {
        let Some(digit) = ev.digit() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        let known = match self.progress {
            Progress::Active { ts: t } | Progress::Ended { ts: t } => t == ts,
            Progress::Idle => false,
        };
        if !known {
            out.push(DigitEvent { digit, end: false });
            self.progress = Progress::Active { ts };
        }
        if ev.end && self.progress == (Progress::Active { ts }) {
            out.push(DigitEvent { digit, end: true });
            self.progress = Progress::Ended { ts };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        // RFC 4733 §2.3: event 5, E set, volume 10, duration 800.
        let bytes = [5, 0x8a, 0x03, 0x20];
        let ev = TelephoneEvent::parse(&bytes).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 5,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(ev.to_bytes(), bytes);
        assert_eq!(ev.digit(), Some('5'));
        assert!(TelephoneEvent::parse(&[1, 2, 3]).is_err());
    }

    #[test]
    fn digits_map_both_ways() {
        for e in 0..16 {
            assert_eq!(event_of(digit_of(e).unwrap()), Some(e));
        }
        assert_eq!(digit_of(10), Some('*'));
        assert_eq!(digit_of(11), Some('#'));
        assert_eq!(digit_of(16), None);
        assert_eq!(event_of('d'), Some(15));
        assert_eq!(event_of('x'), None);
    }

    #[test]
    fn one_start_and_one_end_per_event() {
        let mut rx = DtmfReceiver::default();
        let ev = |end, duration| TelephoneEvent {
            event: 11,
            end,
            volume: 10,
            duration,
        };
        let t = RtpTimestamp(1000);
        let mut all = Vec::new();
        for (end, d) in [
            (false, 160),
            (false, 320),
            (false, 480),
            (true, 640),
            (true, 640),
            (true, 640),
        ] {
            all.extend(rx.receive(t, ev(end, d)));
        }
        assert_eq!(
            all,
            [
                DigitEvent {
                    digit: '#',
                    end: false
                },
                DigitEvent {
                    digit: '#',
                    end: true
                }
            ]
        );
        // A lone end packet of a new event (the start was lost).
        let lone = rx.receive(
            RtpTimestamp(5000),
            TelephoneEvent {
                event: 1,
                ..ev(true, 800)
            },
        );
        assert_eq!(
            lone,
            [
                DigitEvent {
                    digit: '1',
                    end: false
                },
                DigitEvent {
                    digit: '1',
                    end: true
                }
            ]
        );
    }
}
