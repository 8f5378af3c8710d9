//! The JSON Schema of the configuration, and structural validation against it.
//!
//! serde stops at the first error; a JSON Schema validator does not. So the loader
//! validates the whole document against the schema schemars derives from the very types
//! serde deserialises into, and turns every validator error into a [`Found`] with a key
//! path and a message written for people (`expected an integer, found a string "ten"`),
//! not for schema authors.

use crate::error::ErrorKind;
use crate::load::{Found, Target};
use crate::model::Config;
use crate::path::{KeyPath, Segment};
use crate::types::{
    ApiKey, DURATION_PATTERN, FORMAT_API_KEY, FORMAT_CRON, FORMAT_SOCKET_ADDR, parse_cron,
};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::Value;
use std::sync::OnceLock;

/// The published schema: subschemas under `$defs`, as editors and `config schema` want.
pub fn published() -> Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Value::Null)
}

/// The schema with every subschema inlined. Validation errors then carry schema paths
/// that resolve by plain JSON Pointer, which is how "did you mean" finds the keys that
/// were allowed where an unknown one was written.
fn inlined() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .with(|s| s.inline_subschemas = true)
            .into_generator()
            .into_root_schema_for::<Config>();
        serde_json::to_value(schema).unwrap_or(Value::Null)
    })
}

fn validator() -> Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            jsonschema::options()
                .should_validate_formats(true)
                .with_format(FORMAT_SOCKET_ADDR, |s: &str| {
                    s.parse::<std::net::SocketAddr>().is_ok()
                })
                .with_format(FORMAT_API_KEY, |s: &str| ApiKey::parse(s).is_ok())
                .with_format(FORMAT_CRON, |s: &str| parse_cron(s).is_ok())
                .build(inlined())
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Validates `instance` against the schema, appending one [`Found`] per problem.
pub(crate) fn check(instance: &Value, found: &mut Vec<Found>) {
    let validator = match validator() {
        Ok(v) => v,
        Err(e) => {
            // The schema is generated from our own types; this is a bug, but say so
            // rather than pass every file.
            found.push(Found {
                path: KeyPath::root(),
                target: Target::Value,
                kind: ErrorKind::Invalid(format!("internal error: invalid schema: {e}")),
            });
            return;
        }
    };
    for error in validator.iter_errors(instance) {
        render(&error, instance, found);
    }
}

fn key_path(location: &Location) -> KeyPath {
    KeyPath::from_segments(
        location
            .iter()
            .map(|s| match s {
                LocationSegment::Property(p) => Segment::Key(p.into_owned()),
                LocationSegment::Index(i) => Segment::Index(i),
            })
            .collect(),
    )
}

fn render(error: &ValidationError<'_>, root: &Value, found: &mut Vec<Found>) {
    let path = key_path(error.instance_path());
    let value = error.instance();
    let invalid = |message: String| Found {
        path: path.clone(),
        target: Target::Value,
        kind: ErrorKind::Invalid(message),
    };
    match error.kind() {
        ValidationErrorKind::Type { kind } => found.push(Found {
            path: path.clone(),
            target: Target::Value,
            kind: ErrorKind::Type {
                expected: expected_types(kind),
                found: describe(value),
            },
        }),
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let allowed = allowed_keys(error.schema_path());
            for key in unexpected {
                found.push(Found {
                    path: path.key(key.clone()),
                    target: Target::Key,
                    kind: ErrorKind::UnknownKey {
                        key: key.clone(),
                        suggestion: suggest(key, &allowed),
                    },
                });
            }
        }
        ValidationErrorKind::Required { property } => {
            let key = property.as_str().unwrap_or_default().to_owned();
            found.push(Found {
                path: path.key(key.clone()),
                target: Target::Value,
                kind: ErrorKind::MissingKey { key },
            });
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            render_alternatives(error, context, root, found);
        }
        ValidationErrorKind::Enum { options } => found.push(invalid(format!(
            "expected one of {}, found {}",
            list(options),
            describe(value)
        ))),
        ValidationErrorKind::Constant { expected_value } => found.push(invalid(format!(
            "expected {expected_value}, found {}",
            describe(value)
        ))),
        ValidationErrorKind::Minimum { limit } => {
            found.push(invalid(format!("must be at least {limit}, found {value}")))
        }
        ValidationErrorKind::Maximum { limit } => {
            found.push(invalid(format!("must be at most {limit}, found {value}")))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => found.push(invalid(format!(
            "must be greater than {limit}, found {value}"
        ))),
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            found.push(invalid(format!("must be less than {limit}, found {value}")))
        }
        ValidationErrorKind::MinLength { limit } => found.push(invalid(if *limit == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {limit} characters long")
        })),
        ValidationErrorKind::MaxLength { limit } => {
            found.push(invalid(format!("must be at most {limit} characters long")))
        }
        ValidationErrorKind::MinItems { limit } => found.push(invalid(format!(
            "must have at least {limit} {}",
            if *limit == 1 { "entry" } else { "entries" }
        ))),
        ValidationErrorKind::MaxItems { limit } => {
            found.push(invalid(format!("must have at most {limit} entries")))
        }
        ValidationErrorKind::Pattern { pattern } => {
            found.push(invalid(pattern_message(pattern, value)))
        }
        ValidationErrorKind::Format { format } => {
            found.push(invalid(format_message(format, value)))
        }
        _ => found.push(invalid(error.to_string())),
    }
}

/// A `oneOf` is an enum tagged by `type` (providers, stores); an `anyOf` an `Option`.
/// Naming every branch's failures would bury the one that matters, so: if one branch
/// accepts the tag, its errors are the errors; otherwise the tag itself is wrong.
fn render_alternatives(
    error: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
    root: &Value,
    found: &mut Vec<Found>,
) {
    let path = key_path(error.instance_path());
    let value = error.instance();
    // An enum whose variants are documented is a `oneOf` of `const`s: every branch
    // failed on the value itself.
    let constants: Vec<String> = context
        .iter()
        .filter_map(|branch| {
            branch.iter().find_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value }
                    if key_path(e.instance_path()) == path =>
                {
                    Some(expected_value.to_string())
                }
                _ => None,
            })
        })
        .collect();
    if !constants.is_empty() && constants.len() == context.len() {
        found.push(Found {
            path,
            target: Target::Value,
            kind: ErrorKind::Invalid(format!(
                "expected one of {}, found {}",
                constants.join(", "),
                describe(value)
            )),
        });
        return;
    }
    let tag_path = path.key("type");
    let tag_errors = |branch: &Vec<ValidationError<'static>>| {
        branch.iter().any(|e| {
            let p = key_path(e.instance_path());
            (p == tag_path
                && matches!(
                    e.kind(),
                    ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. }
                ))
                || (p == path
                    && matches!(e.kind(), ValidationErrorKind::Required { property } if property == "type"))
                || (p == path && matches!(e.kind(), ValidationErrorKind::Type { .. }))
        })
    };
    let matching: Vec<_> = context.iter().filter(|b| !tag_errors(b)).collect();
    if let [branch] = matching.as_slice() {
        for e in branch.iter() {
            render(e, root, found);
        }
        return;
    }
    // A value of the wrong kind altogether (a string where a table belongs).
    if !value.is_object() {
        let mut kinds: Vec<String> = Vec::new();
        for branch in context {
            for e in branch {
                if let ValidationErrorKind::Type { kind } = e.kind() {
                    let k = expected_types(kind);
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
            }
        }
        if !kinds.is_empty() {
            found.push(Found {
                path,
                target: Target::Value,
                kind: ErrorKind::Type {
                    expected: kinds.join(" or "),
                    found: describe(value),
                },
            });
            return;
        }
    }
    let tags: Vec<String> = context
        .iter()
        .flatten()
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Constant { expected_value } => Some(expected_value.to_string()),
            _ => None,
        })
        .collect();
    match value.get("type") {
        None if !tags.is_empty() => found.push(Found {
            path: tag_path,
            target: Target::Value,
            kind: ErrorKind::Invalid(format!(
                "missing required key `type` (one of {})",
                tags.join(", ")
            )),
        }),
        Some(tag) if !tags.is_empty() => found.push(Found {
            path: tag_path,
            target: Target::Value,
            kind: ErrorKind::Invalid(format!(
                "expected one of {}, found {}",
                tags.join(", "),
                describe(tag)
            )),
        }),
        _ => found.push(Found {
            path,
            target: Target::Value,
            kind: ErrorKind::Invalid(error.to_string()),
        }),
    }
}

fn expected_types(kind: &TypeKind) -> String {
    let types: Vec<JsonType> = match kind {
        TypeKind::Single(t) => vec![*t],
        TypeKind::Multiple(set) => set.iter().filter(|t| *t != JsonType::Null).collect(),
    };
    let names: Vec<&str> = types.iter().map(|t| article_name(*t)).collect();
    names.join(" or ")
}

/// TOML words for JSON types: a JSON object is a table.
fn article_name(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "nothing",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "an array",
        JsonType::Object => "a table",
    }
}

/// A found value the way the message shows it: `a string "ten"`, `an integer 5`.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("a boolean {b}"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer {n}"),
        Value::Number(n) => format!("a float {n}"),
        Value::String(s) => format!("a string {}", short(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

fn short(s: &str) -> String {
    // Long strings (and secrets pasted in the wrong place) are cut.
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(37).collect();
        format!("{:?}", cut + "...")
    } else {
        format!("{s:?}")
    }
}

fn list(options: &Value) -> String {
    match options {
        Value::Array(items) => items
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn pattern_message(pattern: &str, value: &Value) -> String {
    if pattern == DURATION_PATTERN {
        return format!(
            "expected a duration such as \"30s\", \"15m\" or \"1h 30m\", found {}",
            describe(value)
        );
    }
    if pattern == crate::model::TENANT_ID_PATTERN {
        return format!(
            "may contain only lowercase letters, digits, `-` and `_`, found {}",
            describe(value)
        );
    }
    format!(
        "must match the pattern {pattern}, found {}",
        describe(value)
    )
}

fn format_message(format: &str, value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    match format {
        FORMAT_SOCKET_ADDR => format!(
            "expected an address and port such as \"127.0.0.1:8080\" or \"[::]:8080\", found {}",
            describe(value)
        ),
        FORMAT_API_KEY => match ApiKey::parse(text) {
            Err(e) => e.to_string(),
            Ok(_) => "invalid API key".to_owned(),
        },
        FORMAT_CRON => match parse_cron(text) {
            Err(e) => format!("invalid cron expression {}: {e}", short(text)),
            Ok(_) => "invalid cron expression".to_owned(),
        },
        other => format!("is not a valid {other}: {}", describe(value)),
    }
}

/// The keys the schema allows where `additionalProperties` rejected one: the sibling
/// `properties` of the keyword.
fn allowed_keys(schema_path: &Location) -> Vec<String> {
    let pointer = schema_path.as_str();
    let Some(parent) = pointer
        .strip_suffix("/additionalProperties")
        .or_else(|| pointer.strip_suffix("/unevaluatedProperties"))
    else {
        return Vec::new();
    };
    inlined()
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// The closest allowed key, if it is close enough to be a typo.
fn suggest(key: &str, allowed: &[String]) -> Option<String> {
    let budget = (key.chars().count() / 3).max(1);
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), a))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_near_misses() {
        let allowed = vec!["listen".to_owned(), "body_limit".to_owned()];
        assert_eq!(suggest("lisen", &allowed).as_deref(), Some("listen"));
        assert_eq!(
            suggest("body_limt", &allowed).as_deref(),
            Some("body_limit")
        );
        assert_eq!(suggest("colour", &allowed), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
