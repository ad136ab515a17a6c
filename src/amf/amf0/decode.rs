//! AMF 0 decoding (AMF 0 spec, sections 2 and 3.1).

use super::marker;
use crate::amf::amf3;
use crate::amf::cursor::Cursor;
use crate::amf::error::{AmfError, RefTable};
use crate::amf::limits::{Budget, Limits};
use crate::amf::value::{Properties, Value};

/// Decodes a sequence of AMF 0 values, such as an RTMP command message body
/// (message type 0x14: name, transaction id, command object, arguments).
///
/// One decoder is one AMF 0 context: its complex object reference table
/// (section 2.9) and its [`Limits`] budget span every value it decodes. Each
/// avmplus-object (0x11) value is decoded with fresh AMF 3 reference tables.
/// References are resolved by decoding the referenced value again, so the
/// result owns a copy; a reference to an object still being decoded is a
/// [`AmfError::CircularReference`].
#[derive(Debug)]
pub struct Decoder<'a> {
    cursor: Cursor<'a>,
    budget: Budget,
    table: ObjectTable,
}

/// Where a complex object starts and whether it has been fully decoded.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Open { offset: usize },
    Closed { offset: usize },
}

/// The AMF 0 complex object table (anonymous and typed objects, ECMA and
/// strict arrays), recording start offsets for replay.
#[derive(Debug, Default)]
struct ObjectTable {
    slots: Vec<Slot>,
    /// While > 0, values are being replayed for a reference: nothing is added.
    replaying: u32,
}

impl<'a> Decoder<'a> {
    /// A decoder over `input` with default [`Limits`].
    pub fn new(input: &'a [u8]) -> Self {
        Self::with_limits(input, Limits::default())
    }

    /// A decoder over `input` with the given limits.
    pub fn with_limits(input: &'a [u8], limits: Limits) -> Self {
        Decoder {
            cursor: Cursor::new(input),
            budget: Budget::new(limits),
            table: ObjectTable::default(),
        }
    }

    /// True when every input byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.cursor.remaining() == 0
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.cursor.pos()
    }

    /// Decodes the next value.
    ///
    /// Errors: [`AmfError::UnexpectedEof`] at the end of the input or inside
    /// a value, and every other [`AmfError`] for malformed input or a limit.
    pub fn decode(&mut self) -> Result<Value, AmfError> {
        self.value(0)
    }

    /// Decodes values until the input is exhausted.
    pub fn decode_all(mut self) -> Result<Vec<Value>, AmfError> {
        let mut values = Vec::new();
        while !self.is_empty() {
            values.push(self.decode()?);
        }
        Ok(values)
    }

    /// One value; `depth` counts the enclosing containers.
    fn value(&mut self, depth: usize) -> Result<Value, AmfError> {
        self.budget.spend_items(1)?;
        let start = self.cursor.pos();
        let m = self.cursor.read_u8()?;
        match m {
            marker::NUMBER => Ok(Value::Number(self.cursor.read_f64()?)),
            marker::BOOLEAN => Ok(Value::Boolean(self.cursor.read_u8()? != 0)),
            marker::STRING => Ok(Value::String(self.utf8()?)),
            marker::LONG_STRING => Ok(Value::String(self.utf8_long()?)),
            marker::NULL => Ok(Value::Null),
            marker::UNDEFINED => Ok(Value::Undefined),
            marker::UNSUPPORTED => Ok(Value::Unsupported),
            marker::DATE => {
                let ms = self.cursor.read_f64()?;
                let tz = self.cursor.read_i16()?;
                Ok(Value::Date { ms, tz })
            }
            marker::XML_DOCUMENT => Ok(Value::XmlDocument(self.utf8_long()?)),
            marker::OBJECT => self.complex(start, depth, |d, inner| {
                Ok(Value::Object(d.properties(inner)?))
            }),
            marker::TYPED_OBJECT => self.complex(start, depth, |d, inner| {
                let class = d.utf8()?;
                let props = d.properties(inner)?;
                Ok(Value::TypedObject { class, props })
            }),
            marker::ECMA_ARRAY => self.complex(start, depth, |d, inner| {
                // The associative-count is only a hint; the list is
                // terminated by the object-end marker (2.10).
                let _count = d.cursor.read_u32()?;
                Ok(Value::EcmaArray(d.properties(inner)?))
            }),
            marker::STRICT_ARRAY => self.complex(start, depth, Self::strict_array),
            marker::REFERENCE => self.reference(depth),
            marker::AVMPLUS => amf3::decode_switched(&mut self.cursor, &mut self.budget, depth),
            marker::OBJECT_END => Err(AmfError::UnexpectedObjectEnd),
            other => Err(AmfError::UnknownMarker(other)),
        }
    }

    /// Registers a complex value starting at `start`, decodes its body with
    /// `body(self, depth + 1)`, then marks it complete.
    fn complex(
        &mut self,
        start: usize,
        depth: usize,
        body: impl FnOnce(&mut Self, usize) -> Result<Value, AmfError>,
    ) -> Result<Value, AmfError> {
        self.budget.check_depth(depth)?;
        let slot = self.table.open(start, &self.budget)?;
        let value = body(self, depth + 1)?;
        self.table.close(slot);
        Ok(value)
    }

    fn strict_array(&mut self, depth: usize) -> Result<Value, AmfError> {
        let count = usize::try_from(self.cursor.read_u32()?).unwrap_or(usize::MAX);
        // Every value takes at least one byte.
        self.cursor.ensure(count)?;
        self.budget.ensure_items(count)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.value(depth)?);
        }
        Ok(Value::StrictArray(items))
    }

    /// A property list: (UTF-8 name, value)* then UTF-8-empty and the
    /// object-end marker (2.5). A value after an empty name is a member.
    fn properties(&mut self, depth: usize) -> Result<Properties, AmfError> {
        let mut props = Vec::new();
        loop {
            let key = self.utf8()?;
            if key.is_empty() && self.cursor.peek_u8() == Some(marker::OBJECT_END) {
                self.cursor.read_u8()?;
                return Ok(props);
            }
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }

    /// Resolves a reference (2.9) by replaying the referenced value.
    fn reference(&mut self, depth: usize) -> Result<Value, AmfError> {
        let index = usize::from(self.cursor.read_u16()?);
        let offset = match self.table.slots.get(index) {
            None => {
                return Err(AmfError::BadReference {
                    table: RefTable::Object,
                    index,
                })
            }
            Some(Slot::Open { .. }) => return Err(AmfError::CircularReference { index }),
            Some(Slot::Closed { offset }) => *offset,
        };
        let resume = self.cursor.pos();
        self.cursor.seek(offset);
        self.table.replaying += 1;
        let value = self.value(depth);
        self.table.replaying -= 1;
        self.cursor.seek(resume);
        value
    }

    /// UTF-8 (U16 length) string (1.3.1 of the AMF 0 spec, "UTF-8").
    fn utf8(&mut self) -> Result<String, AmfError> {
        let len = usize::from(self.cursor.read_u16()?);
        self.text(len)
    }

    /// UTF-8-long (U32 length) string.
    fn utf8_long(&mut self) -> Result<String, AmfError> {
        let len = usize::try_from(self.cursor.read_u32()?).unwrap_or(usize::MAX);
        self.text(len)
    }

    fn text(&mut self, len: usize) -> Result<String, AmfError> {
        self.budget.check_string_len(len)?;
        let bytes = self.cursor.read_bytes(len)?;
        self.budget.spend_bytes(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| AmfError::InvalidUtf8)?;
        Ok(text.to_owned())
    }
}

impl ObjectTable {
    /// Adds an open slot, unless replaying; returns its index.
    fn open(&mut self, offset: usize, budget: &Budget) -> Result<Option<usize>, AmfError> {
        if self.replaying > 0 {
            return Ok(None);
        }
        budget.check_table(RefTable::Object, self.slots.len())?;
        self.slots.push(Slot::Open { offset });
        Ok(Some(self.slots.len() - 1))
    }

    fn close(&mut self, index: Option<usize>) {
        if let Some(slot) = index.and_then(|i| self.slots.get_mut(i)) {
            if let Slot::Open { offset } = *slot {
                *slot = Slot::Closed { offset };
            }
        }
    }
}
