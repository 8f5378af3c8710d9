//! Canonical JSON: what "the same payload" means for idempotency.
//!
//! Object keys are written sorted, with no insignificant whitespace, whatever order the
//! caller built them in (serde_json keeps insertion order when any crate in the build
//! turns on its `preserve_order` feature, so its own output is not canonical). Numbers
//! are written as serde_json writes them, so `1` and `1.0` stay different payloads.

use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Hex SHA-256 of the canonical form.
pub fn payload_sha256(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b": [1, {"y": 2, "x": 1}], "a": "z"}"#).unwrap();
        let b = json!({"a": "z", "b": [1, {"x": 1, "y": 2}]});
        assert_eq!(
            to_canonical_string(&a),
            r#"{"a":"z","b":[1,{"x":1,"y":2}]}"#
        );
        assert_eq!(to_canonical_string(&a), to_canonical_string(&b));
        assert_eq!(
            payload_sha256(&to_canonical_string(&a)),
            payload_sha256(&to_canonical_string(&b))
        );
    }

    #[test]
    fn different_values_hash_differently() {
        let a = to_canonical_string(&json!({"qty": 1}));
        let b = to_canonical_string(&json!({"qty": 2}));
        assert_ne!(payload_sha256(&a), payload_sha256(&b));
        assert_eq!(payload_sha256(&a).len(), 64);
    }
}
