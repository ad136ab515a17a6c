//! When to send an Acknowledgement (RTMP spec 1.0, 5.4.3 and 5.4.4).

use crate::rtmp::message::ControlMessage;

/// Tracks the peer's Window Acknowledgement Size against the bytes we have
/// received, and says when an Acknowledgement is due.
///
/// Feed it the total from [`super::ChunkReader::bytes_received`] (or the
/// driver's own socket byte count) after each read.
#[derive(Debug, Clone, Default)]
pub struct AckWindow {
    /// Window in bytes announced by the peer; `None` until it sends one.
    window: Option<u32>,
    /// Total received when we last acknowledged.
    last_acked: u64,
}

impl AckWindow {
    /// No window yet: nothing is ever due until [`Self::set_window`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a received Window Acknowledgement Size, in bytes. A window
    /// of 0 disables acknowledgements.
    pub fn set_window(&mut self, window: u32) {
        self.window = (window > 0).then_some(window);
    }

    /// The window in bytes, if the peer set one.
    pub fn window(&self) -> Option<u32> {
        self.window
    }

    /// Given the total bytes received so far, returns the Acknowledgement
    /// to send (sequence number = total mod 2^32) when at least one window
    /// has passed since the last one.
    pub fn poll(&mut self, total_received: u64) -> Option<ControlMessage> {
        let window = u64::from(self.window?);
        if total_received.saturating_sub(self.last_acked) < window {
            return None;
        }
        self.last_acked = total_received;
        Some(ControlMessage::Acknowledgement {
            // Truncation is the definition: the sequence number wraps.
            sequence_number: total_received as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledges_once_per_window() {
        let mut ack = AckWindow::new();
        assert_eq!(ack.poll(10_000), None);
        ack.set_window(1000);
        assert_eq!(
            ack.poll(10_000),
            Some(ControlMessage::Acknowledgement {
                sequence_number: 10_000
            })
        );
        assert_eq!(ack.poll(10_999), None);
        assert_eq!(
            ack.poll(11_000),
            Some(ControlMessage::Acknowledgement {
                sequence_number: 11_000
            })
        );
    }

    #[test]
    fn sequence_number_wraps() {
        let mut ack = AckWindow::new();
        ack.set_window(1);
        let total = (1u64 << 32) + 5;
        assert_eq!(
            ack.poll(total),
            Some(ControlMessage::Acknowledgement { sequence_number: 5 })
        );
        ack.set_window(0);
        assert_eq!(ack.poll(total * 2), None);
    }
}
