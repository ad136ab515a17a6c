//! A bounds-checked big-endian reader over one input slice.

use super::error::AmfError;

/// Reads big-endian fields from `input`, never past its end.
///
/// The position can be moved back to replay a referenced value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Cursor { input, pos: 0 }
    }

    /// Offset of the next byte, from the start of the input.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to an offset previously returned by [`Cursor::pos`].
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.input.len());
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Fails unless at least `n` bytes remain (for counts of fixed-size items).
    pub(crate) fn ensure(&self, n: usize) -> Result<(), AmfError> {
        if n > self.remaining() {
            return Err(AmfError::UnexpectedEof);
        }
        Ok(())
    }

    pub(crate) fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], AmfError> {
        let end = self.pos.checked_add(n).ok_or(AmfError::UnexpectedEof)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(AmfError::UnexpectedEof)?;
        self.pos = end;
        Ok(bytes)
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], AmfError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.read_bytes(N)?);
        Ok(out)
    }

    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn read_u8(&mut self) -> Result<u8, AmfError> {
        Ok(self.read_array::<1>()?[0])
    }

    pub(crate) fn read_u16(&mut self) -> Result<u16, AmfError> {
        Ok(u16::from_be_bytes(self.read_array()?))
    }

    pub(crate) fn read_i16(&mut self) -> Result<i16, AmfError> {
        Ok(i16::from_be_bytes(self.read_array()?))
    }

    pub(crate) fn read_u32(&mut self) -> Result<u32, AmfError> {
        Ok(u32::from_be_bytes(self.read_array()?))
    }

    pub(crate) fn read_i32(&mut self) -> Result<i32, AmfError> {
        Ok(i32::from_be_bytes(self.read_array()?))
    }

    pub(crate) fn read_f64(&mut self) -> Result<f64, AmfError> {
        Ok(f64::from_be_bytes(self.read_array()?))
    }

    /// The bytes at an earlier, already validated range (AMF 3 string table).
    pub(crate) fn slice(&self, start: usize, end: usize) -> Result<&'a [u8], AmfError> {
        self.input.get(start..end).ok_or(AmfError::UnexpectedEof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_stops_at_end() {
        let mut c = Cursor::new(&[0x01, 0x02, 0xFF, 0xFE, 0x00, 0x00, 0x00, 0x07]);
        assert_eq!(c.read_u16(), Ok(0x0102));
        assert_eq!(c.read_i16(), Ok(-2));
        assert_eq!(c.remaining(), 4);
        assert_eq!(c.read_u32(), Ok(7));
        assert_eq!(c.read_u8(), Err(AmfError::UnexpectedEof));
        assert_eq!(c.peek_u8(), None);
    }

    #[test]
    fn huge_lengths_fail_without_overflow() {
        let mut c = Cursor::new(&[1, 2, 3]);
        c.seek(1);
        assert_eq!(c.read_bytes(usize::MAX), Err(AmfError::UnexpectedEof));
        assert_eq!(c.ensure(3), Err(AmfError::UnexpectedEof));
        assert_eq!(c.read_bytes(2), Ok(&[2u8, 3][..]));
    }
}
