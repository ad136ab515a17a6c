//! A small builder for objects whose members have mixed types.

use super::value::{set_prop, Properties, Value};

/// Builds a [`Value::Object`] (or [`Value::TypedObject`] once
/// [`ObjectBuilder::class`] is set), keeping member order.
///
/// ```ignore
/// use rtmp2sip::amf::Value;
/// let info = Value::object_builder()
///     .set("level", "status")
///     .set("code", "Sono.Call.Status")
///     .set("status_code", 2)
///     .set_opt("reason", None::<&str>)
///     .build();
/// assert_eq!(info.get_f64("status_code"), Some(2.0));
/// assert_eq!(info.get("reason"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectBuilder {
    class: Option<String>,
    props: Properties,
}

impl ObjectBuilder {
    /// An empty anonymous object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the result a typed object of this class alias.
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.class = Some(class.into());
        self
    }

    /// Sets member `key` (replacing an earlier one of the same name).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        set_prop(&mut self.props, key.into(), value.into());
        self
    }

    /// Sets member `key` when `value` is `Some`; leaves it out otherwise.
    pub fn set_opt<V: Into<Value>>(self, key: impl Into<String>, value: Option<V>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// The finished object.
    pub fn build(self) -> Value {
        match self.class {
            Some(class) => Value::TypedObject {
                class,
                props: self.props,
            },
            None => Value::Object(self.props),
        }
    }
}

impl From<ObjectBuilder> for Value {
    fn from(b: ObjectBuilder) -> Self {
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_ordered_objects_with_mixed_types() {
        let v = ObjectBuilder::new()
            .set("level", "status")
            .set("status_code", 4)
            .set("fpad", false)
            .set("level", "error")
            .build();
        assert_eq!(
            v,
            Value::Object(vec![
                ("level".into(), Value::String("error".into())),
                ("status_code".into(), Value::Number(4.0)),
                ("fpad".into(), Value::Boolean(false)),
            ])
        );
    }

    #[test]
    fn class_makes_typed_objects_and_set_opt_skips_none() {
        let v = ObjectBuilder::new()
            .class("flex.Foo")
            .set_opt("a", Some(1))
            .set_opt("b", None::<i32>)
            .build();
        assert_eq!(v.class_name(), Some("flex.Foo"));
        assert_eq!(v.properties().map(<[_]>::len), Some(1));
    }
}
