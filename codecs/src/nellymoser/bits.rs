//! Bit reader and writer of a 64-byte Nellymoser block.
//!
//! The block is read least significant bit first: bit `p` of the block is
//! bit `p % 8` of byte `p / 8`, and a field of `n` bits starting at `p`
//! has its least significant bit at `p` (the block is one little-endian
//! 512-bit number and fields are packed from its low end).

use super::NELLY_BLOCK_BYTES;

/// Total bits in a block.
#[cfg(test)]
pub const BLOCK_BITS: usize = NELLY_BLOCK_BYTES * 8;

/// Reads fields of up to 8 bits from one block.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    block: &'a [u8; NELLY_BLOCK_BYTES],
    /// Next bit to read, 0..=512.
    position: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at bit `position` of `block`.
    pub fn at(block: &'a [u8; NELLY_BLOCK_BYTES], position: usize) -> Self {
        Self { block, position }
    }

    /// Reads `count` bits (0..=8). Bits past the end of the block read as 0.
    pub fn read(&mut self, count: u8) -> u8 {
        let count = count.min(8);
        let byte = self.position / 8;
        let low = u16::from(self.block.get(byte).copied().unwrap_or(0));
        let high = u16::from(self.block.get(byte + 1).copied().unwrap_or(0));
        let word = (low | high << 8) >> (self.position % 8);
        self.position += usize::from(count);
        (word & ((1u16 << count) - 1)) as u8
    }
}

/// Writes fields of up to 8 bits into one zero-initialised block.
#[derive(Debug, Clone)]
pub struct BitWriter {
    block: [u8; NELLY_BLOCK_BYTES],
    /// Next bit to write, 0..=512.
    position: usize,
}

impl BitWriter {
    /// An empty block, writing from bit 0.
    pub fn new() -> Self {
        Self {
            block: [0; NELLY_BLOCK_BYTES],
            position: 0,
        }
    }

    /// Appends the low `count` bits (0..=8) of `value`. Bits that would fall
    /// past the end of the block are dropped.
    pub fn write(&mut self, count: u8, value: u8) {
        let count = count.min(8);
        let field = u16::from(value) & ((1u16 << count) - 1);
        let shifted = field << (self.position % 8);
        let byte = self.position / 8;
        if let Some(b) = self.block.get_mut(byte) {
            *b |= shifted as u8;
        }
        if let Some(b) = self.block.get_mut(byte + 1) {
            *b |= (shifted >> 8) as u8;
        }
        self.position += usize::from(count);
    }

    /// Moves to bit `position` (forward only), leaving zero bits between.
    pub fn pad_to(&mut self, position: usize) {
        self.position = self.position.max(position);
    }

    /// Bits written so far (including padding).
    #[cfg(test)]
    pub fn position(&self) -> usize {
        self.position
    }

    /// The finished block.
    pub fn into_block(self) -> [u8; NELLY_BLOCK_BYTES] {
        self.block
    }
}

impl Default for BitWriter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_are_packed_from_the_least_significant_bit() {
        let mut w = BitWriter::new();
        w.write(6, 0b10_1101);
        w.write(5, 0b1_0011);
        w.write(3, 0b101);
        let block = w.into_block();
        // 101101 | 10011 << 6 | 101 << 11
        assert_eq!(block[0], 0b1110_1101);
        assert_eq!(block[1], 0b0010_1100);
        assert!(block[2..].iter().all(|&b| b == 0));
        let mut r = BitReader::at(&block, 0);
        assert_eq!(r.read(6), 0b10_1101);
        assert_eq!(r.read(5), 0b1_0011);
        assert_eq!(r.read(3), 0b101);
    }

    #[test]
    fn reading_past_the_end_gives_zero() {
        let block = [0xFF; NELLY_BLOCK_BYTES];
        let mut r = BitReader::at(&block, BLOCK_BITS - 3);
        assert_eq!(r.read(6), 0b111);
        assert_eq!(r.read(8), 0);
    }

    #[test]
    fn writing_past_the_end_is_dropped() {
        let mut w = BitWriter::new();
        w.pad_to(BLOCK_BITS - 2);
        w.write(8, 0xFF);
        w.write(8, 0xFF);
        let block = w.into_block();
        assert_eq!(block[NELLY_BLOCK_BYTES - 1], 0b1100_0000);
    }

    proptest! {
        #[test]
        fn round_trip(fields in proptest::collection::vec((1u8..=8, any::<u8>()), 0..64)) {
            let mut w = BitWriter::new();
            for &(n, v) in &fields {
                w.write(n, v);
            }
            let used = w.position();
            let block = w.into_block();
            let mut r = BitReader::at(&block, 0);
            let mut position = 0;
            for &(n, v) in &fields {
                let got = r.read(n);
                if position + usize::from(n) <= BLOCK_BITS {
                    prop_assert_eq!(u16::from(got), u16::from(v) & ((1 << n) - 1));
                }
                position += usize::from(n);
            }
            prop_assert_eq!(position, used);
        }
    }
}
