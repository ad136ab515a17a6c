//! AMF 3 decoding: the reader, its reference tables and every value type
//! except objects (see `object.rs`). AMF 3 spec, sections 1.3 and 3.

use std::rc::Rc;

use super::marker;
use super::u29::{read_i29, read_u29};
use crate::amf::cursor::Cursor;
use crate::amf::error::{AmfError, RefTable};
use crate::amf::limits::Budget;
use crate::amf::value::Value;

/// A decoded traits entry (3.12): class name and member layout.
#[derive(Debug)]
pub(super) struct Traits {
    pub(super) class: String,
    pub(super) kind: TraitsKind,
}

/// How an object's members are encoded.
#[derive(Debug)]
pub(super) enum TraitsKind {
    /// Sealed member names, then dynamic members when `dynamic`.
    Members { dynamic: bool, sealed: Vec<String> },
    /// The class writes its own encoding (IExternalizable).
    Externalizable,
}

/// Where a referenceable value starts and whether it is fully decoded.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Open { offset: usize },
    Closed { offset: usize },
}

/// The three AMF 3 reference tables (2.2) of one AMF 3 context.
#[derive(Debug, Default)]
pub(super) struct Context {
    /// Byte ranges of the non-empty strings sent inline, in order.
    strings: Vec<(usize, usize)>,
    /// Offsets of objects, arrays, dates, XML, ByteArrays, vectors, dictionaries.
    objects: Vec<Slot>,
    traits: Vec<Rc<Traits>>,
    /// While > 0, a referenced value is being replayed: tables are frozen.
    replaying: u32,
}

/// A referenceable value's header: a reference or an inline value whose
/// remaining 28 bits (`rest`) carry a length, count or flags.
enum Header {
    Reference(usize),
    Inline(u32),
}

/// Decodes AMF 3 over a shared cursor and budget with its own context.
pub(super) struct Reader<'r, 'a> {
    pub(super) cur: &'r mut Cursor<'a>,
    pub(super) budget: &'r mut Budget,
    pub(super) ctx: Context,
}

impl<'r, 'a> Reader<'r, 'a> {
    pub(super) fn new(cur: &'r mut Cursor<'a>, budget: &'r mut Budget) -> Self {
        Reader {
            cur,
            budget,
            ctx: Context::default(),
        }
    }

    /// One value-type (3.1); `depth` counts the enclosing containers.
    pub(super) fn value(&mut self, depth: usize) -> Result<Value, AmfError> {
        self.budget.spend_items(1)?;
        let start = self.cur.pos();
        match self.cur.read_u8()? {
            marker::UNDEFINED => Ok(Value::Undefined),
            marker::NULL => Ok(Value::Null),
            marker::FALSE => Ok(Value::Boolean(false)),
            marker::TRUE => Ok(Value::Boolean(true)),
            marker::INTEGER => Ok(Value::Number(f64::from(read_i29(self.cur)?))),
            marker::DOUBLE => Ok(Value::Number(self.cur.read_f64()?)),
            marker::STRING => Ok(Value::String(self.string()?)),
            marker::XML_DOC => self.referenceable(start, depth, |r, len, _| {
                Ok(Value::XmlDocument(r.text(len)?))
            }),
            marker::XML => {
                self.referenceable(start, depth, |r, len, _| Ok(Value::Xml(r.text(len)?)))
            }
            marker::DATE => self.referenceable(start, depth, |r, _, _| {
                let ms = r.cur.read_f64()?;
                Ok(Value::Date { ms, tz: 0 })
            }),
            marker::BYTE_ARRAY => self.referenceable(start, depth, |r, len, _| {
                Ok(Value::ByteArray(r.bytes(len)?.to_vec()))
            }),
            marker::ARRAY => self.referenceable(start, depth, Self::array),
            marker::OBJECT => self.referenceable(start, depth, Self::object),
            marker::VECTOR_INT => self.referenceable(start, depth, |r, n, _| {
                let fixed = r.cur.read_u8()? != 0;
                let items = r.fixed_items(n, 4, |c| c.read_i32())?;
                Ok(Value::VectorInt { fixed, items })
            }),
            marker::VECTOR_UINT => self.referenceable(start, depth, |r, n, _| {
                let fixed = r.cur.read_u8()? != 0;
                let items = r.fixed_items(n, 4, |c| c.read_u32())?;
                Ok(Value::VectorUint { fixed, items })
            }),
            marker::VECTOR_DOUBLE => self.referenceable(start, depth, |r, n, _| {
                let fixed = r.cur.read_u8()? != 0;
                let items = r.fixed_items(n, 8, |c| c.read_f64())?;
                Ok(Value::VectorDouble { fixed, items })
            }),
            marker::VECTOR_OBJECT => self.referenceable(start, depth, Self::vector_object),
            marker::DICTIONARY => self.referenceable(start, depth, Self::dictionary),
            other => Err(AmfError::UnknownMarker(other)),
        }
    }

    /// A value kept in the object table: either a reference to an earlier
    /// one (replayed), or inline: registered, then `body(self, rest, depth)`.
    fn referenceable(
        &mut self,
        start: usize,
        depth: usize,
        body: impl FnOnce(&mut Self, u32, usize) -> Result<Value, AmfError>,
    ) -> Result<Value, AmfError> {
        match self.header()? {
            Header::Reference(index) => self.replay_object(index, depth),
            Header::Inline(rest) => {
                let slot = self.open(start)?;
                let value = body(self, rest, depth)?;
                self.close(slot);
                Ok(value)
            }
        }
    }

    fn header(&mut self) -> Result<Header, AmfError> {
        let raw = read_u29(self.cur)?;
        let rest = raw >> 1;
        Ok(if raw & 1 == 0 {
            Header::Reference(rest as usize)
        } else {
            Header::Inline(rest)
        })
    }

    /// U29A-value: associative part (name/value pairs up to the empty
    /// name), then `dense` values (3.11).
    fn array(&mut self, dense: u32, depth: usize) -> Result<Value, AmfError> {
        self.budget.check_depth(depth)?;
        let mut assoc = Vec::new();
        loop {
            let key = self.string()?;
            if key.is_empty() {
                break;
            }
            let value = self.value(depth + 1)?;
            assoc.push((key, value));
        }
        let dense = self.values(dense as usize, depth + 1)?;
        Ok(match (dense.is_empty(), assoc.is_empty()) {
            (_, true) => Value::StrictArray(dense),
            (true, false) => Value::EcmaArray(assoc),
            (false, false) => Value::MixedArray { dense, assoc },
        })
    }

    /// vector-object-type: fixed flag, element type name, values (3.15).
    fn vector_object(&mut self, count: u32, depth: usize) -> Result<Value, AmfError> {
        self.budget.check_depth(depth)?;
        let fixed = self.cur.read_u8()? != 0;
        let class = self.string()?;
        let items = self.values(count as usize, depth + 1)?;
        Ok(Value::VectorObject {
            fixed,
            class,
            items,
        })
    }

    /// U29Dict-value: weak-keys flag, then key/value pairs (3.16).
    fn dictionary(&mut self, count: u32, depth: usize) -> Result<Value, AmfError> {
        self.budget.check_depth(depth)?;
        let weak_keys = self.cur.read_u8()? != 0;
        let count = count as usize;
        // Each entry is at least two one-byte values.
        self.cur.ensure(count.saturating_mul(2))?;
        self.budget.ensure_items(count.saturating_mul(2))?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Value::Dictionary { weak_keys, entries })
    }

    /// `count` values, allocating no more than the input can hold.
    pub(super) fn values(&mut self, count: usize, depth: usize) -> Result<Vec<Value>, AmfError> {
        self.cur.ensure(count)?;
        self.budget.ensure_items(count)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.value(depth)?);
        }
        Ok(items)
    }

    /// `count` fixed-size elements of `size` bytes (vector-int/uint/double).
    fn fixed_items<T>(
        &mut self,
        count: u32,
        size: usize,
        read: impl Fn(&mut Cursor<'a>) -> Result<T, AmfError>,
    ) -> Result<Vec<T>, AmfError> {
        let count = count as usize;
        self.cur.ensure(count.saturating_mul(size))?;
        self.budget.spend_items(count)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(read(self.cur)?);
        }
        Ok(items)
    }

    /// UTF-8-vr (1.3.2): a string reference or an inline string; non-empty
    /// inline strings join the string table.
    pub(super) fn string(&mut self) -> Result<String, AmfError> {
        match self.header()? {
            Header::Reference(index) => {
                let &(start, end) = self.ctx.strings.get(index).ok_or(AmfError::BadReference {
                    table: RefTable::String,
                    index,
                })?;
                let bytes = self.cur.slice(start, end)?;
                self.budget.spend_bytes(bytes.len())?;
                to_string(bytes)
            }
            Header::Inline(0) => Ok(String::new()),
            Header::Inline(len) => {
                let start = self.cur.pos();
                let text = self.text(len)?;
                if self.ctx.replaying == 0 {
                    self.budget
                        .check_table(RefTable::String, self.ctx.strings.len())?;
                    self.ctx.strings.push((start, self.cur.pos()));
                }
                Ok(text)
            }
        }
    }

    /// `len` bytes of UTF-8 text (XML, strings).
    fn text(&mut self, len: u32) -> Result<String, AmfError> {
        to_string(self.bytes(len)?)
    }

    /// `len` raw bytes, checked against the string limits.
    fn bytes(&mut self, len: u32) -> Result<&'a [u8], AmfError> {
        let len = len as usize;
        self.budget.check_string_len(len)?;
        let bytes = self.cur.read_bytes(len)?;
        self.budget.spend_bytes(len)?;
        Ok(bytes)
    }

    /// Adds an open object-table slot for a value starting at `offset`.
    fn open(&mut self, offset: usize) -> Result<Option<usize>, AmfError> {
        if self.ctx.replaying > 0 {
            return Ok(None);
        }
        self.budget
            .check_table(RefTable::Object, self.ctx.objects.len())?;
        self.ctx.objects.push(Slot::Open { offset });
        Ok(Some(self.ctx.objects.len() - 1))
    }

    fn close(&mut self, index: Option<usize>) {
        if let Some(slot) = index.and_then(|i| self.ctx.objects.get_mut(i)) {
            if let Slot::Open { offset } = *slot {
                *slot = Slot::Closed { offset };
            }
        }
    }

    /// Resolves an object reference by decoding the referenced value again
    /// with the tables frozen, so the copy is identical.
    fn replay_object(&mut self, index: usize, depth: usize) -> Result<Value, AmfError> {
        let offset = match self.ctx.objects.get(index) {
            None => {
                return Err(AmfError::BadReference {
                    table: RefTable::Object,
                    index,
                })
            }
            Some(Slot::Open { .. }) => return Err(AmfError::CircularReference { index }),
            Some(Slot::Closed { offset }) => *offset,
        };
        let resume = self.cur.pos();
        self.cur.seek(offset);
        self.ctx.replaying += 1;
        let value = self.value(depth);
        self.ctx.replaying -= 1;
        self.cur.seek(resume);
        value
    }

    /// Looks up a traits reference (U29O-traits-ref).
    pub(super) fn traits_ref(&self, index: usize) -> Result<Rc<Traits>, AmfError> {
        self.ctx
            .traits
            .get(index)
            .cloned()
            .ok_or(AmfError::BadReference {
                table: RefTable::Traits,
                index,
            })
    }

    /// Adds inline traits to the traits table (unless replaying).
    pub(super) fn add_traits(&mut self, traits: Traits) -> Result<Rc<Traits>, AmfError> {
        let traits = Rc::new(traits);
        if self.ctx.replaying == 0 {
            self.budget
                .check_table(RefTable::Traits, self.ctx.traits.len())?;
            self.ctx.traits.push(Rc::clone(&traits));
        }
        Ok(traits)
    }
}

fn to_string(bytes: &[u8]) -> Result<String, AmfError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| AmfError::InvalidUtf8)
}
