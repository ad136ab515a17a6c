//! Hard decoding limits and the per-decode budget that enforces them.

use super::error::{AmfError, RefTable};

/// Bounds applied while decoding one message body.
///
/// The input length already bounds memory, but references can copy values
/// (every reference is materialised as a full copy), so the budget counts
/// what is produced, references included. Length fields are never trusted
/// for allocation beyond what the remaining input can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum container nesting (objects, arrays, vectors, dictionaries);
    /// default 32. A container opened at this depth is an error.
    pub max_depth: usize,
    /// Maximum values produced per decode call, counting every marker read,
    /// vector elements and values copied through references; default 65,536.
    pub max_items: usize,
    /// Maximum length of one string, XML text or ByteArray, in bytes;
    /// default 1 MiB.
    pub max_string_len: usize,
    /// Maximum bytes of strings, keys, class names, XML and ByteArrays
    /// materialised per decode call (references included); default 16 MiB.
    pub max_total_bytes: usize,
    /// Maximum entries in any one reference table (AMF 0 objects; AMF 3
    /// strings, objects, traits); default 65,536.
    pub max_refs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_items: 65_536,
            max_string_len: 1 << 20,
            max_total_bytes: 16 << 20,
            max_refs: 65_536,
        }
    }
}

/// What one decode call has spent of its [`Limits`].
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    limits: Limits,
    items: usize,
    bytes: usize,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        Budget {
            limits,
            items: 0,
            bytes: 0,
        }
    }

    /// Counts `n` produced values.
    pub(crate) fn spend_items(&mut self, n: usize) -> Result<(), AmfError> {
        self.ensure_items(n)?;
        self.items += n;
        Ok(())
    }

    /// Fails early when `n` more values could not fit, without spending.
    pub(crate) fn ensure_items(&self, n: usize) -> Result<(), AmfError> {
        match self.items.checked_add(n) {
            Some(total) if total <= self.limits.max_items => Ok(()),
            _ => Err(AmfError::TooManyItems {
                max: self.limits.max_items,
            }),
        }
    }

    /// Checks one announced string length against `max_string_len`.
    pub(crate) fn check_string_len(&self, len: usize) -> Result<(), AmfError> {
        if len > self.limits.max_string_len {
            return Err(AmfError::StringTooLong {
                len,
                max: self.limits.max_string_len,
            });
        }
        Ok(())
    }

    /// Counts `len` materialised bytes against `max_total_bytes`.
    pub(crate) fn spend_bytes(&mut self, len: usize) -> Result<(), AmfError> {
        match self.bytes.checked_add(len) {
            Some(total) if total <= self.limits.max_total_bytes => {
                self.bytes = total;
                Ok(())
            }
            _ => Err(AmfError::TotalBytesExceeded {
                max: self.limits.max_total_bytes,
            }),
        }
    }

    /// Checks that a container may be opened at `depth` (enclosing containers).
    pub(crate) fn check_depth(&self, depth: usize) -> Result<(), AmfError> {
        if depth >= self.limits.max_depth {
            return Err(AmfError::DepthExceeded {
                max: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// Checks that a table holding `len` entries may take one more.
    pub(crate) fn check_table(&self, table: RefTable, len: usize) -> Result<(), AmfError> {
        if len >= self.limits.max_refs {
            return Err(AmfError::TooManyReferences {
                table,
                max: self.limits.max_refs,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_documentation() {
        let l = Limits::default();
        assert_eq!(l.max_depth, 32);
        assert_eq!(l.max_items, 65_536);
        assert_eq!(l.max_string_len, 1_048_576);
        assert_eq!(l.max_total_bytes, 16_777_216);
        assert_eq!(l.max_refs, 65_536);
    }

    #[test]
    fn budget_counts_and_refuses() {
        let mut b = Budget::new(Limits {
            max_items: 3,
            max_total_bytes: 10,
            ..Limits::default()
        });
        assert!(b.spend_items(2).is_ok());
        assert!(b.ensure_items(1).is_ok());
        assert_eq!(b.ensure_items(2), Err(AmfError::TooManyItems { max: 3 }));
        assert_eq!(
            b.spend_items(usize::MAX),
            Err(AmfError::TooManyItems { max: 3 })
        );
        assert!(b.spend_bytes(10).is_ok());
        assert_eq!(
            b.spend_bytes(1),
            Err(AmfError::TotalBytesExceeded { max: 10 })
        );
        assert!(b.check_depth(31).is_ok());
        assert_eq!(b.check_depth(32), Err(AmfError::DepthExceeded { max: 32 }));
    }
}
