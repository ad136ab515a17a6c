//! The owned AMF value tree shared by AMF 0 and AMF 3.

use super::builder::ObjectBuilder;

/// Ordered name/value pairs: object members or associative array entries,
/// in wire order.
pub type Properties = Vec<(String, Value)>;

/// One AMF value, as decoded from AMF 0 or AMF 3.
///
/// AMF 3 values map onto the AMF 0 shapes where one exists: integer and
/// double become [`Value::Number`]; an object with sealed and dynamic members
/// becomes [`Value::Object`] (anonymous) or [`Value::TypedObject`] (sealed
/// members first, then dynamic ones); an array with only a dense part becomes
/// [`Value::StrictArray`], one with only an associative part
/// [`Value::EcmaArray`], one with both [`Value::MixedArray`]. AMF 0 strings
/// and long strings are both [`Value::String`]. References are resolved into
/// copies, so the tree owns everything and has no cycles.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// IEEE 754 double (AMF 0 number 0x00; AMF 3 integer 0x04 and double 0x05).
    Number(f64),
    /// AMF 0 boolean 0x01; AMF 3 false 0x02 / true 0x03.
    Boolean(bool),
    /// UTF-8 text (AMF 0 string 0x02 and long string 0x0C; AMF 3 string 0x06).
    String(String),
    /// Anonymous object (AMF 0 0x03; AMF 3 0x0A with an empty class name).
    Object(Properties),
    /// Object of a registered class (AMF 0 0x10; AMF 3 0x0A with a class name).
    TypedObject {
        /// The class alias.
        class: String,
        /// Members in wire order (AMF 3: sealed, then dynamic).
        props: Properties,
    },
    /// AMF 0 null 0x05; AMF 3 null 0x01.
    Null,
    /// AMF 0 undefined 0x06; AMF 3 undefined 0x00.
    Undefined,
    /// AMF 0 unsupported 0x0D (encoded as undefined in AMF 3).
    Unsupported,
    /// Associative array (AMF 0 ECMA array 0x08; AMF 3 array 0x09 with only
    /// an associative part).
    EcmaArray(Properties),
    /// Dense array (AMF 0 strict array 0x0A; AMF 3 array 0x09 with only a
    /// dense part, or empty).
    StrictArray(Vec<Value>),
    /// AMF 3 array 0x09 with both a dense and an associative part.
    MixedArray {
        /// Dense part, indices 0.. in order.
        dense: Vec<Value>,
        /// Associative part, in wire order.
        assoc: Properties,
    },
    /// Date: `ms` since 1970-01-01T00:00:00Z (UTC); `tz` is AMF 0's reserved
    /// time-zone field in minutes (should be 0; always 0 from AMF 3).
    Date {
        /// Milliseconds since the Unix epoch, UTC.
        ms: f64,
        /// Time-zone offset in minutes, as sent (AMF 0 only).
        tz: i16,
    },
    /// Legacy XML document text (AMF 0 0x0F; AMF 3 XMLDocument 0x07).
    XmlDocument(String),
    /// E4X XML text (AMF 3 XML 0x0B).
    Xml(String),
    /// AMF 3 ByteArray 0x0C.
    ByteArray(Vec<u8>),
    /// AMF 3 `Vector.<int>` 0x0D.
    VectorInt {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// Elements.
        items: Vec<i32>,
    },
    /// AMF 3 `Vector.<uint>` 0x0E.
    VectorUint {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// Elements.
        items: Vec<u32>,
    },
    /// AMF 3 `Vector.<Number>` 0x0F.
    VectorDouble {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// Elements.
        items: Vec<f64>,
    },
    /// AMF 3 `Vector.<T>` of objects 0x10.
    VectorObject {
        /// Whether the vector has a fixed length.
        fixed: bool,
        /// The element type name (`"*"` for any type).
        class: String,
        /// Elements.
        items: Vec<Value>,
    },
    /// AMF 3 Dictionary 0x11: keys of any type.
    Dictionary {
        /// Whether the dictionary holds its keys weakly.
        weak_keys: bool,
        /// Entries in wire order.
        entries: Vec<(Value, Value)>,
    },
}

impl Value {
    /// An anonymous object from `(name, value)` pairs, in order.
    ///
    /// `Value::object([("level", "status"), ("code", "NetConnection.Connect.Success")])`;
    /// for members of mixed types use [`Value::object_builder`].
    pub fn object<K, V, I>(props: I) -> Value
    where
        K: Into<String>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::Object(collect_props(props))
    }

    /// A typed object of class `class` from `(name, value)` pairs, in order.
    pub fn typed_object<K, V, I>(class: impl Into<String>, props: I) -> Value
    where
        K: Into<String>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::TypedObject {
            class: class.into(),
            props: collect_props(props),
        }
    }

    /// An ECMA (associative) array from `(key, value)` pairs, in order.
    pub fn ecma_array<K, V, I>(props: I) -> Value
    where
        K: Into<String>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::EcmaArray(collect_props(props))
    }

    /// A strict (dense) array.
    pub fn array<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::StrictArray(items.into_iter().map(Into::into).collect())
    }

    /// A builder for an anonymous object with members of mixed types:
    /// `Value::object_builder().set("level", "status").set("status_code", 2).build()`.
    pub fn object_builder() -> ObjectBuilder {
        ObjectBuilder::new()
    }

    /// The text of a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a [`Value::Number`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The truth value of a [`Value::Boolean`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// True for [`Value::Null`] only.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Undefined`] only.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// True for null or undefined (clients use either for an absent argument).
    pub fn is_null_or_undefined(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }

    /// The named members of an object, typed object, ECMA array, or the
    /// associative part of a mixed array, in wire order.
    pub fn properties(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(p)
            | Value::TypedObject { props: p, .. }
            | Value::EcmaArray(p)
            | Value::MixedArray { assoc: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The first member named `key` (see [`Value::properties`]).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// `get(key)` then [`Value::as_str`].
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// `get(key)` then [`Value::as_f64`].
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.as_f64()
    }

    /// `get(key)` then [`Value::as_bool`].
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    /// Sets member `key` of an object-like value (see [`Value::properties`]):
    /// replaces the first existing member of that name, else appends.
    /// Returns false, changing nothing, when `self` has no members.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> bool {
        let props = match self {
            Value::Object(p)
            | Value::TypedObject { props: p, .. }
            | Value::EcmaArray(p)
            | Value::MixedArray { assoc: p, .. } => p,
            _ => return false,
        };
        set_prop(props, key.into(), value.into());
        true
    }

    /// The elements of a strict array, or the dense part of a mixed array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::StrictArray(items) | Value::MixedArray { dense: items, .. } => Some(items),
            _ => None,
        }
    }

    /// The class name of a typed object.
    pub fn class_name(&self) -> Option<&str> {
        match self {
            Value::TypedObject { class, .. } => Some(class),
            _ => None,
        }
    }

    /// A short name of the variant, for logs and error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Number(_) => "number",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Object(_) => "object",
            Value::TypedObject { .. } => "typed object",
            Value::Null => "null",
            Value::Undefined => "undefined",
            Value::Unsupported => "unsupported",
            Value::EcmaArray(_) => "ECMA array",
            Value::StrictArray(_) => "strict array",
            Value::MixedArray { .. } => "mixed array",
            Value::Date { .. } => "date",
            Value::XmlDocument(_) => "XML document",
            Value::Xml(_) => "XML",
            Value::ByteArray(_) => "ByteArray",
            Value::VectorInt { .. } => "Vector.<int>",
            Value::VectorUint { .. } => "Vector.<uint>",
            Value::VectorDouble { .. } => "Vector.<Number>",
            Value::VectorObject { .. } => "Vector.<Object>",
            Value::Dictionary { .. } => "Dictionary",
        }
    }
}

fn collect_props<K, V, I>(props: I) -> Properties
where
    K: Into<String>,
    V: Into<Value>,
    I: IntoIterator<Item = (K, V)>,
{
    props
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// Replaces the first member named `key`, else appends it.
pub(crate) fn set_prop(props: &mut Properties, key: String, value: Value) {
    match props.iter_mut().find(|(k, _)| *k == key) {
        Some((_, slot)) => *slot = value,
        None => props.push((key, value)),
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<f32> for Value {
    fn from(n: f32) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<u8> for Value {
    fn from(n: u8) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(s.clone())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::StrictArray(items)
    }
}

/// `None` becomes [`Value::Null`].
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_pick_the_right_variant() {
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::from(3.5).as_str(), None);
        assert_eq!(Value::from(3).as_f64(), Some(3.0));
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert!(Value::Null.is_null());
        assert!(!Value::Undefined.is_null());
        assert!(Value::Undefined.is_null_or_undefined());
        assert_eq!(Value::from(None::<&str>), Value::Null);
        assert_eq!(Value::from(Some(2u16)), Value::Number(2.0));
    }

    #[test]
    fn object_constructor_and_get() {
        let info = Value::object([
            ("level", "status"),
            ("code", "NetConnection.Connect.Success"),
        ]);
        assert_eq!(info.get_str("level"), Some("status"));
        assert_eq!(info.get_str("code"), Some("NetConnection.Connect.Success"));
        assert_eq!(info.get("description"), None);
        assert_eq!(Value::Null.get("level"), None);
        let props = info.properties().map(|p| p.len());
        assert_eq!(props, Some(2));
    }

    #[test]
    fn get_works_on_typed_objects_and_arrays() {
        let t = Value::typed_object("a.B", [("x", 1.0)]);
        assert_eq!(t.get_f64("x"), Some(1.0));
        assert_eq!(t.class_name(), Some("a.B"));
        let e = Value::ecma_array([("duration", 0.0)]);
        assert_eq!(e.get_f64("duration"), Some(0.0));
        let m = Value::MixedArray {
            dense: vec![Value::Null],
            assoc: vec![("k".into(), Value::Boolean(false))],
        };
        assert_eq!(m.get_bool("k"), Some(false));
        assert_eq!(m.as_array(), Some(&[Value::Null][..]));
        assert_eq!(Value::array([1, 2]).as_array().map(<[Value]>::len), Some(2));
    }

    #[test]
    fn set_replaces_or_appends() {
        let mut v = Value::object([("a", 1)]);
        assert!(v.set("a", 2));
        assert!(v.set("b", "x"));
        assert_eq!(
            v,
            Value::Object(vec![("a".into(), 2.into()), ("b".into(), "x".into())])
        );
        assert!(!Value::Null.set("a", 1));
    }

    #[test]
    fn type_names_are_distinct_for_common_variants() {
        assert_eq!(Value::Null.type_name(), "null");
        assert_eq!(Value::from("s").type_name(), "string");
        assert_eq!(Value::object([("a", 1)]).type_name(), "object");
    }
}
