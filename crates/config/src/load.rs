//! From TOML text to a JSON value, keeping the way back.
//!
//! The file is parsed with `toml_edit`, which keeps byte spans, and converted to a
//! `serde_json::Value` (what the schema validator and serde read). `${VAR}` is replaced
//! during the conversion, so a missing variable is reported at its own string. Every
//! later error names a [`KeyPath`]; [`Spans::locate`] walks the same parsed document
//! along that path to find the line and column.

use crate::error::ErrorKind;
use crate::path::{KeyPath, Segment};
use serde_json::{Map, Number, Value};
use std::ops::Range;
use toml_edit::{Document, Item, Table, TableLike};

/// Which part of a `key = value` line an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The key: unknown keys.
    Key,
    /// The value: wrong types and values.
    Value,
}

/// A problem found while converting, with where it is.
pub(crate) struct Found {
    pub path: KeyPath,
    pub target: Target,
    pub kind: ErrorKind,
}

/// Looks up environment variables; injectable so tests need not touch the process
/// environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn to_json(doc: &Document<&str>, env: EnvLookup<'_>, found: &mut Vec<Found>) -> Value {
    table_to_json(doc.as_table(), &KeyPath::root(), env, found)
}

fn table_to_json(
    table: &dyn TableLike,
    at: &KeyPath,
    env: EnvLookup<'_>,
    found: &mut Vec<Found>,
) -> Value {
    let mut map = Map::new();
    for (key, item) in table.iter() {
        if let Some(v) = item_to_json(item, &at.key(key), env, found) {
            map.insert(key.to_owned(), v);
        }
    }
    Value::Object(map)
}

fn item_to_json(
    item: &Item,
    at: &KeyPath,
    env: EnvLookup<'_>,
    found: &mut Vec<Found>,
) -> Option<Value> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(value_to_json(v, at, env, found)),
        Item::Table(t) => Some(table_to_json(t, at, env, found)),
        Item::ArrayOfTables(a) => Some(Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, t)| table_to_json(t, &at.index(i), env, found))
                .collect(),
        )),
    }
}

fn value_to_json(
    value: &toml_edit::Value,
    at: &KeyPath,
    env: EnvLookup<'_>,
    found: &mut Vec<Found>,
) -> Value {
    use toml_edit::Value as V;
    match value {
        V::String(s) => Value::String(substitute(s.value(), at, env, found)),
        V::Integer(i) => Value::Number(Number::from(*i.value())),
        V::Float(f) => match Number::from_f64(*f.value()) {
            Some(n) => Value::Number(n),
            None => {
                found.push(Found {
                    path: at.clone(),
                    target: Target::Value,
                    kind: ErrorKind::Invalid("nan and inf are not accepted here".into()),
                });
                Value::Null
            }
        },
        V::Boolean(b) => Value::Bool(*b.value()),
        // No setting is a date; as a string it gets a precise "expected ..." error.
        V::Datetime(d) => Value::String(d.value().to_string()),
        V::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| value_to_json(v, &at.index(i), env, found))
                .collect(),
        ),
        V::InlineTable(t) => table_to_json(t, at, env, found),
    }
}

/// Replaces `${VAR}` (and `${VAR:-default}`) with the environment; `$${` is a literal
/// `${`. Every missing variable of the string is reported, not just the first.
pub(crate) fn substitute(
    text: &str,
    at: &KeyPath,
    env: EnvLookup<'_>,
    found: &mut Vec<Found>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                found.push(Found {
                    path: at.clone(),
                    target: Target::Value,
                    kind: ErrorKind::BadSubstitution,
                });
                out.push_str(tail);
                return out;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                found.push(Found {
                    path: at.clone(),
                    target: Target::Value,
                    kind: ErrorKind::Invalid(format!(
                        "`${{{inner}}}` is not a variable reference (names are letters, digits and _; write `$${{` for a literal `${{`)"
                    )),
                });
            } else {
                match (env(name), default) {
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => found.push(Found {
                        path: at.clone(),
                        target: Target::Value,
                        kind: ErrorKind::MissingEnv {
                            name: name.to_owned(),
                        },
                    }),
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Finds the source span of a key path in the parsed document.
pub(crate) struct Spans<'d> {
    doc: &'d Document<&'d str>,
}

/// One step of the walk: what the path has reached so far.
#[derive(Clone, Copy)]
enum Node<'d> {
    Item(&'d Item),
    Value(&'d toml_edit::Value),
    Table(&'d Table),
}

impl<'d> Spans<'d> {
    pub(crate) fn new(doc: &'d Document<&'d str>) -> Self {
        Self { doc }
    }

    /// The span to show for `path`. A path into something absent (a missing key) falls
    /// back to the deepest part that exists: the table the key is missing from.
    pub(crate) fn locate(&self, path: &KeyPath, target: Target) -> Option<Range<usize>> {
        let mut node = Node::Table(self.doc.as_table());
        // The best span so far: the deepest existing node's.
        let mut best: Option<Range<usize>> = None;
        let segments = path.segments();
        for (depth, segment) in segments.iter().enumerate() {
            let last = depth + 1 == segments.len();
            let next = match (segment, &node) {
                (Segment::Key(k), _) => {
                    let Some((key, next)) = get_key_value(&node, k) else {
                        break;
                    };
                    if last && target == Target::Key {
                        return key.span().or(best);
                    }
                    // Keys of a table header (`[server]`) have no span of their own in
                    // some forms; the header table's does.
                    best = key.span().or(best);
                    next
                }
                (Segment::Index(i), _) => {
                    let Some(next) = get_index(&node, *i) else {
                        break;
                    };
                    next
                }
            };
            best = span_of(&next).or(best);
            node = next;
        }
        best
    }
}

fn span_of(node: &Node<'_>) -> Option<Range<usize>> {
    match *node {
        Node::Item(Item::Value(v)) | Node::Value(v) => v.span(),
        Node::Item(Item::Table(t)) | Node::Table(t) => t.span(),
        Node::Item(Item::ArrayOfTables(a)) => a.span(),
        Node::Item(Item::None) => None,
    }
}

fn get_key_value<'d>(node: &Node<'d>, key: &str) -> Option<(&'d toml_edit::Key, Node<'d>)> {
    match *node {
        Node::Table(t) | Node::Item(Item::Table(t)) => {
            t.get_key_value(key).map(|(k, i)| (k, Node::Item(i)))
        }
        Node::Item(Item::Value(toml_edit::Value::InlineTable(t)))
        | Node::Value(toml_edit::Value::InlineTable(t)) => {
            t.get_key_value(key).map(|(k, i)| (k, Node::Item(i)))
        }
        _ => None,
    }
}

fn get_index<'d>(node: &Node<'d>, index: usize) -> Option<Node<'d>> {
    match *node {
        Node::Item(Item::ArrayOfTables(a)) => a.get(index).map(Node::Table),
        Node::Item(Item::Value(toml_edit::Value::Array(a)))
        | Node::Value(toml_edit::Value::Array(a)) => a.get(index).map(Node::Value),
        _ => None,
    }
}
