//! Re-framing between codecs whose frame sizes differ: a bounded FIFO of
//! PCM samples, and a re-chunker that cuts a G.711 byte stream into
//! fixed-size RTP payloads without altering or reordering a byte.

/// A bounded FIFO of PCM samples at one rate.
///
/// Holds at most `capacity` samples; pushing more drops the oldest (the
/// caller's producer outran its consumer, e.g. a client sending faster
/// than real time).
#[derive(Debug, Clone)]
pub struct PcmFifo {
    samples: Vec<i16>,
    capacity: usize,
}

impl PcmFifo {
    /// An empty FIFO holding at most `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        PcmFifo {
            // Grows to the steady-state need, at most `capacity`.
            samples: Vec::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    /// Samples held.
    pub fn held(&self) -> usize {
        self.samples.len()
    }

    /// Appends `pcm`, dropping the oldest samples beyond the capacity;
    /// returns how many samples were dropped.
    pub fn push(&mut self, pcm: &[i16]) -> usize {
        let keep_new = pcm
            .get(pcm.len().saturating_sub(self.capacity)..)
            .unwrap_or(pcm);
        let excess = (self.samples.len() + keep_new.len()).saturating_sub(self.capacity);
        self.samples.drain(..excess.min(self.samples.len()));
        self.samples.extend_from_slice(keep_new);
        excess + (pcm.len() - keep_new.len())
    }

    /// The oldest `n` samples, if that many are held.
    pub fn front(&self, n: usize) -> Option<&[i16]> {
        self.samples.get(..n)
    }

    /// Drops the oldest `n` samples (all if fewer are held).
    pub fn consume(&mut self, n: usize) {
        self.samples.drain(..n.min(self.samples.len()));
    }
}

/// Cuts a byte stream into payloads of exactly `N` bytes, carrying the
/// remainder of each push to the next (G.711 passthrough: RTMP messages of
/// any length become 20 ms RTP payloads of 160 bytes).
#[derive(Debug, Clone)]
pub struct ByteChunker<const N: usize> {
    carry: [u8; N],
    carried: usize,
}

impl<const N: usize> Default for ByteChunker<N> {
    fn default() -> Self {
        ByteChunker {
            carry: [0; N],
            carried: 0,
        }
    }
}

impl<const N: usize> ByteChunker<N> {
    /// Bytes waiting for the next chunk (`< N`).
    #[cfg(test)]
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// Feeds `bytes`, calling `emit` with every complete `N`-byte chunk in
    /// order; stops at the first error `emit` returns (the bytes of that
    /// chunk are consumed).
    pub fn push<E>(
        &mut self,
        mut bytes: &[u8],
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.carried > 0 {
            let take = (N - self.carried).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            if let Some(slot) = self.carry.get_mut(self.carried..self.carried + take) {
                slot.copy_from_slice(head);
            }
            self.carried += take;
            bytes = rest;
            if self.carried < N {
                return Ok(());
            }
            self.carried = 0;
            emit(&self.carry)?;
        }
        let mut chunks = bytes.chunks_exact(N);
        for chunk in &mut chunks {
            emit(chunk)?;
        }
        let rest = chunks.remainder();
        if let Some(slot) = self.carry.get_mut(..rest.len()) {
            slot.copy_from_slice(rest);
        }
        self.carried = rest.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fifo_is_bounded_dropping_the_oldest() {
        let mut f = PcmFifo::new(4);
        assert_eq!(f.push(&[1, 2, 3]), 0);
        assert_eq!(f.push(&[4, 5]), 1);
        assert_eq!(f.front(4), Some(&[2, 3, 4, 5][..]));
        assert_eq!(f.push(&[6, 7, 8, 9, 10, 11]), 6);
        assert_eq!(f.front(4), Some(&[8, 9, 10, 11][..]));
        assert_eq!(f.front(5), None);
        f.consume(3);
        assert_eq!(f.front(1), Some(&[11][..]));
        f.consume(9);
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn chunker_carries_leftovers() {
        let mut c = ByteChunker::<4>::default();
        let mut out = Vec::new();
        let mut push = |c: &mut ByteChunker<4>, b: &[u8]| {
            c.push(b, |chunk| {
                out.push(chunk.to_vec());
                Ok::<(), ()>(())
            })
            .unwrap()
        };
        push(&mut c, &[1, 2, 3]);
        push(&mut c, &[4]);
        push(&mut c, &[5, 6, 7, 8, 9, 10]);
        push(&mut c, &[]);
        assert_eq!(c.carried(), 2);
        assert_eq!(out, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
    }

    proptest! {
        #[test]
        fn chunking_keeps_every_byte_in_order(
            pushes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..500), 0..20)
        ) {
            let mut c = ByteChunker::<160>::default();
            let mut out = Vec::new();
            for p in &pushes {
                c.push(p, |chunk| {
                    prop_assert_eq!(chunk.len(), 160);
                    out.extend_from_slice(chunk);
                    Ok(())
                })?;
            }
            let all: Vec<u8> = pushes.concat();
            prop_assert_eq!(out.len() + c.carried(), all.len());
            prop_assert_eq!(&all[..out.len()], &out[..]);
        }

        #[test]
        fn fifo_keeps_the_newest(
            pushes in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..50), 0..20)
        ) {
            let mut f = PcmFifo::new(64);
            for p in &pushes {
                f.push(p);
            }
            let all: Vec<i16> = pushes.concat();
            let keep = all.len().min(64);
            prop_assert_eq!(f.held(), keep);
            prop_assert_eq!(f.front(keep).unwrap(), &all[all.len() - keep..]);
        }
    }
}
