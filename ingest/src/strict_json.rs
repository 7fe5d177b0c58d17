//! Reading JSON straight into typed fields with exactly the checks of reading it into a
//! `serde_json::Value` first: what a typed reader accepts, the value reader accepts too and reads the
//! same way, so a typed fast path may stand in for it ([`crate::k8s_event::EventDocument`]).
//!
//! serde's own helpers are laxer than a value: a derived struct may be read from an array (by
//! position), and `IgnoredAny` skips a value without the value reader's nesting limit, number range or
//! escape checks. [`Object`], [`Checked`] and [`TextFields`] close those gaps.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A `T` read only from a JSON object (a derived struct would also take an array, by position).
#[derive(Debug)]
pub(crate) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// A JSON value read and dropped, checked as the value reader checks one: its nesting depth, its
/// numbers' range and its strings' escapes (`IgnoredAny` checks none of these).
#[derive(Debug, Default)]
pub(crate) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Checked, D::Error> {
        Checked::deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Cow<'de, str>, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// The keys a [`TextFields`] reads.
pub(crate) trait FieldNames {
    /// At most [`MAX_FIELDS`] keys (checked when compiled).
    const NAMES: &'static [&'static str];
}

/// The most keys a [`TextFields`] reads.
pub(crate) const MAX_FIELDS: usize = 4;

/// The texts of a JSON object under the keys `K` names, each `None` when missing or `null`; every other
/// key's value [`Checked`] and dropped. A key given twice counts with its last value, as in the value
/// reader. Refused: anything but an object, and a named key whose value (any of its values) is neither
/// a string nor `null`.
#[derive(Debug)]
pub(crate) struct TextFields<'a, K> {
    texts: [Option<Cow<'a, str>>; MAX_FIELDS],
    names: PhantomData<K>,
}

impl<'a, K: FieldNames> TextFields<'a, K> {
    /// The text under `K::NAMES[index]`.
    pub(crate) fn get(&self, index: usize) -> Option<&Cow<'a, str>> {
        self.texts.get(index).and_then(Option::as_ref)
    }
}

impl<'de: 'a, 'a, K: FieldNames> Deserialize<'de> for TextFields<'a, K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a, K>(PhantomData<(&'a (), K)>);
        impl<'de: 'a, 'a, K: FieldNames> Visitor<'de> for FieldsVisitor<'a, K> {
            type Value = TextFields<'a, K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut texts: [Option<Cow<'a, str>>; MAX_FIELDS] = Default::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match K::NAMES.iter().position(|name| *name == key) {
                        Some(index) => texts[index] = map.next_value::<Option<Cow<'de, str>>>()?,
                        None => {
                            map.next_value::<Checked>()?;
                        }
                    }
                }
                Ok(TextFields {
                    texts,
                    names: PhantomData,
                })
            }
        }
        const { assert!(K::NAMES.len() <= MAX_FIELDS, "at most MAX_FIELDS names") };
        deserializer.deserialize_map(FieldsVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    struct Two;
    impl FieldNames for Two {
        const NAMES: &'static [&'static str] = &["a", "b"];
    }

    /// Whether `json` reads as `T`, and whether it reads as a value.
    fn both<'a, T: Deserialize<'a>>(json: &'a str) -> (bool, bool) {
        (
            serde_json::from_str::<T>(json).is_ok(),
            serde_json::from_str::<Value>(json).is_ok(),
        )
    }

    #[test]
    fn checked_refuses_what_the_value_reader_refuses() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for json in [
            deep.as_str(),
            "1e400",
            r#""\ud800""#,
            r#"{"a":[1,{"b":-1e999}]}"#,
            r#"{"a":"\ud800x"}"#,
        ] {
            assert_eq!(both::<Checked>(json), (false, false), "{json}");
            // The gap `Checked` closes.
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(),
                "{json}"
            );
        }
        for json in [r#"{"a":[1,2.5,null,true,{"b":"\u00e9"}]}"#, "-0", "1e300"] {
            assert_eq!(both::<Checked>(json), (true, true), "{json}");
        }
    }

    #[test]
    fn text_fields_read_objects_only_and_keep_a_repeated_keys_last_value() {
        fn read(json: &str) -> Option<TextFields<'_, Two>> {
            serde_json::from_str(json).ok()
        }
        let fields = read(r#"{"b":"x","c":{"d":[1]},"a":null}"#).expect("an object");
        assert_eq!(fields.get(0), None);
        assert_eq!(fields.get(1).map(AsRef::as_ref), Some("x"));
        let repeated = read(r#"{"a":"x","c":1,"a":"y","c":[]}"#).expect("an object");
        assert_eq!(repeated.get(0).map(AsRef::as_ref), Some("y"));
        for refused in [
            r#"["x","y"]"#,
            r#"{"a":1}"#,
            r#"{"a":1,"a":"y"}"#,
            r#"{"c":1e400}"#,
            r#"{"c":"\ud800"}"#,
        ] {
            assert!(read(refused).is_none(), "{refused}");
        }
        assert!(serde_json::from_str::<Object<Vec<u8>>>("[1]").is_err());
    }
}
