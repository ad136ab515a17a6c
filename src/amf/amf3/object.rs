//! AMF 3 object-type (AMF 3 spec, section 3.12): traits and members.

use super::decode::{Reader, Traits, TraitsKind};
use crate::amf::error::AmfError;
use crate::amf::value::Value;

/// Externalizable Flex classes whose external form is one AMF 3 value
/// (the wrapped array or object); they decode to that value.
const WRAPPER_CLASSES: [&str; 2] = [
    "flex.messaging.io.ArrayCollection",
    "flex.messaging.io.ObjectProxy",
];

impl Reader<'_, '_> {
    /// An inline object; `rest` is the U29O header without its low
    /// "inline object" bit: bit 0 inline traits, bit 1 externalizable,
    /// bit 2 dynamic, bits 3.. the sealed member count.
    pub(super) fn object(&mut self, rest: u32, depth: usize) -> Result<Value, AmfError> {
        let traits = if rest & 1 == 0 {
            self.traits_ref((rest >> 1) as usize)?
        } else {
            let traits = self.inline_traits(rest >> 1)?;
            self.add_traits(traits)?
        };
        self.budget.check_depth(depth)?;
        match &traits.kind {
            TraitsKind::Externalizable => self.external(&traits.class, depth + 1),
            TraitsKind::Members { dynamic, sealed } => {
                let mut props = Vec::with_capacity(sealed.len());
                for name in sealed {
                    self.budget.spend_bytes(name.len())?;
                    let value = self.value(depth + 1)?;
                    props.push((name.clone(), value));
                }
                if *dynamic {
                    self.dynamic_members(&mut props, depth + 1)?;
                }
                Ok(match traits.class.is_empty() {
                    true => Value::Object(props),
                    false => Value::TypedObject {
                        class: traits.class.clone(),
                        props,
                    },
                })
            }
        }
    }

    /// U29O-traits-ext or U29O-traits; `flags` is bit 0 externalizable,
    /// bit 1 dynamic, bits 2.. the sealed member count.
    fn inline_traits(&mut self, flags: u32) -> Result<Traits, AmfError> {
        let class = self.string()?;
        if flags & 1 == 1 {
            return Ok(Traits {
                class,
                kind: TraitsKind::Externalizable,
            });
        }
        let dynamic = flags & 2 == 2;
        let count = (flags >> 2) as usize;
        // Each name takes at least one byte and brings one value.
        self.cur.ensure(count)?;
        self.budget.ensure_items(count)?;
        let mut sealed = Vec::with_capacity(count);
        for _ in 0..count {
            sealed.push(self.string()?);
        }
        Ok(Traits {
            class,
            kind: TraitsKind::Members { dynamic, sealed },
        })
    }

    /// Dynamic members: name/value pairs up to the empty name.
    fn dynamic_members(
        &mut self,
        props: &mut Vec<(String, Value)>,
        depth: usize,
    ) -> Result<(), AmfError> {
        loop {
            let key = self.string()?;
            if key.is_empty() {
                return Ok(());
            }
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }

    /// The private encoding of an externalizable class: only the Flex
    /// wrappers whose form is one value are known.
    fn external(&mut self, class: &str, depth: usize) -> Result<Value, AmfError> {
        if WRAPPER_CLASSES.contains(&class) {
            return self.value(depth);
        }
        Err(AmfError::UnsupportedExternalizable(class.to_owned()))
    }
}
