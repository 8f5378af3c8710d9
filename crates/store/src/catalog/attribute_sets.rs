//! An article's attributes as one stored value: a JSON array of
//! `[key, value, unit, lang]` arrays, trailing nulls left out.
//!
//! Why one row per article and not one per attribute: a changed article's attributes
//! are read and written together, and at 1.5M articles × 20 attributes the row-per-
//! attribute table was most of a sync's work. A delta scatters its articles over the
//! whole catalog, and rewriting 20 rows per article took 20 B-tree seeks, 20 deletes and
//! 20 inserts with 7 bound values each; one row takes one of each. The full sync
//! writes 1.5M rows instead of 30M. JSON (not a private binary format) keeps the column
//! readable and queryable in SQL (`json_each` in SQLite, `jsonb_array_elements` in
//! PostgreSQL); arrays instead of objects keep it half the size, which decides how
//! many articles share a page.

use std::fmt;

use erpbridge_model::Attribute;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::StoreError;

/// The stored form of `attributes`.
pub(crate) fn encode(attributes: &[Attribute]) -> String {
    let cells: Vec<Cells<'_>> = attributes.iter().map(Cells).collect();
    // Serialising strings into a String cannot fail.
    serde_json::to_string(&cells).unwrap_or_else(|_| "[]".to_owned())
}

/// Reads a stored value back.
pub(crate) fn decode(stored: &str) -> Result<Vec<Attribute>, StoreError> {
    let rows: Vec<Row> = serde_json::from_str(stored)
        .map_err(|err| StoreError::Corrupt(format!("attributes: {err}")))?;
    Ok(rows.into_iter().map(|row| row.0).collect())
}

struct Cells<'a>(&'a Attribute);

impl Serialize for Cells<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let len = match (&a.unit, &a.lang) {
            (_, Some(_)) => 4,
            (Some(_), None) => 3,
            (None, None) => 2,
        };
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&a.key)?;
        seq.serialize_element(&a.value)?;
        if len > 2 {
            seq.serialize_element(&a.unit)?;
        }
        if len > 3 {
            seq.serialize_element(&a.lang)?;
        }
        seq.end()
    }
}

struct Row(Attribute);

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [key, value, unit?, lang?]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row, A::Error> {
        let key: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let unit: Option<String> = seq.next_element()?.flatten();
        let lang: Option<String> = seq.next_element()?.flatten();
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(5, &self));
        }
        Ok(Row(Attribute {
            key,
            value,
            unit,
            lang,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(key: &str, value: &str, unit: Option<&str>, lang: Option<&str>) -> Attribute {
        Attribute {
            key: key.to_owned(),
            value: value.to_owned(),
            unit: unit.map(str::to_owned),
            lang: lang.map(str::to_owned),
        }
    }

    #[test]
    fn trailing_nulls_are_left_out_and_inner_ones_kept() {
        let attributes = [
            attribute("length", "120", Some("mm"), None),
            attribute("colour", "rot", None, Some("de")),
            attribute("thread", "M8", None, None),
        ];
        let stored = encode(&attributes);
        assert_eq!(
            stored,
            r#"[["length","120","mm"],["colour","rot",null,"de"],["thread","M8"]]"#
        );
        assert_eq!(decode(&stored).unwrap(), attributes);
    }

    #[test]
    fn any_text_survives_the_round_trip() {
        let attributes = [
            attribute(
                "quote\"s",
                "back\\slash",
                Some("tab\tnew\nline"),
                Some("ü€😀"),
            ),
            attribute("", "", Some(""), Some("")),
            attribute("\u{0}", "\\N", None, None),
        ];
        assert_eq!(decode(&encode(&attributes)).unwrap(), attributes);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<Attribute>::new());
    }

    #[test]
    fn a_malformed_value_is_a_corrupt_row_error() {
        for stored in [
            "",
            "{}",
            "[[\"only-key\"]]",
            "[[1, 2]]",
            "[[\"k\",\"v\",null,null,\"extra\"]]",
            "[[null,\"v\"]]",
            "[\"flat\"]",
        ] {
            match decode(stored) {
                Err(StoreError::Corrupt(detail)) => assert!(detail.starts_with("attributes:")),
                other => panic!("{stored:?} decoded as {other:?}"),
            }
        }
    }
}
