//! Query descriptor pushdown into Tryton domains.
//!
//! Tryton's domain operators do not mean exactly what the hub's do: `ilike` folds only
//! ASCII case on SQLite and strips accents on PostgreSQL (`search_unaccented`), a Char
//! column compares NULL as `''`, ids are integers where the hub sees strings. So the
//! pushdown is built in two halves that together are exact:
//!
//! 1. [`to_domain`] translates each pushed condition into a Tryton domain that selects a
//!    **superset** of the matching records (non-ASCII pattern characters widen to `_`,
//!    a missing code is always let through, ...). AND and OR of supersets are supersets;
//!    NOT is never pushed, so monotonicity holds.
//! 2. [`matches`] re-checks each record the domain returned against the pushed filter
//!    with the hub's reference evaluator (`erpbridge_model::query::eval`), over the
//!    record's JSON as the hub sees it. So the provider declares itself `exact`.
//!
//! Only the fields and operators in [`capabilities`] are accepted; anything else is an
//! error, since the hub promised to keep it for itself.

use erpbridge_model::query::plan::{EntityPushdown, PushdownCapabilities};
use erpbridge_model::query::{Condition, Filter, Operator, QueryEntity};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Result, TrytonError};

/// A pushed field: the Tryton field it maps to, and how values are converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The record id: a string on the hub's side, an integer in Tryton.
    Id,
    /// A relation by id (categories, parent): many ids or one, strings vs integers.
    Ref,
    /// A Char column that may be empty or NULL (codes): NULL rows are always let through.
    OptionalText,
    /// A required Char column (names).
    Text,
}

fn fields(entity: QueryEntity, language: &str) -> Vec<(String, &'static str, Kind)> {
    let names = format!("names.{language}");
    match entity {
        QueryEntity::Article => vec![
            ("id".into(), "id", Kind::Id),
            ("number".into(), "code", Kind::OptionalText),
            (names, "name", Kind::Text),
            ("categories".into(), "categories", Kind::Ref),
        ],
        QueryEntity::Category => vec![
            ("id".into(), "id", Kind::Id),
            (names, "name", Kind::Text),
            ("parent".into(), "parent", Kind::Ref),
        ],
        QueryEntity::Customer => vec![
            ("id".into(), "id", Kind::Id),
            ("number".into(), "code", Kind::OptionalText),
            ("name".into(), "name", Kind::Text),
        ],
    }
}

fn operators(kind: Kind) -> BTreeSet<Operator> {
    use Operator::*;
    match kind {
        Kind::Id => BTreeSet::from([Eq, Ne, In]),
        Kind::Ref => BTreeSet::from([Eq, In]),
        Kind::OptionalText | Kind::Text => BTreeSet::from([Eq, Ne, In, Like]),
    }
}

/// What the provider evaluates itself: equality, `in`, `like` and (where NULLs cannot
/// confuse it) `ne` on ids, numbers and names; AND and OR, never NOT; no sorting (Tryton
/// orders ids as integers and text by collation, the hub by code point).
pub fn capabilities(language: &str) -> PushdownCapabilities {
    let mut entities = BTreeMap::new();
    for entity in [
        QueryEntity::Article,
        QueryEntity::Category,
        QueryEntity::Customer,
    ] {
        let fields = fields(entity, language)
            .into_iter()
            .map(|(path, _, kind)| (path, operators(kind)))
            .collect();
        entities.insert(
            entity,
            EntityPushdown {
                fields,
                or: true,
                not: false,
                sortable: BTreeSet::new(),
                exact: true,
            },
        );
    }
    PushdownCapabilities { entities }
}

fn lookup(entity: QueryEntity, language: &str, path: &str) -> Result<(&'static str, Kind)> {
    fields(entity, language)
        .into_iter()
        .find(|(p, _, _)| p == path)
        .map(|(_, field, kind)| (field, kind))
        .ok_or_else(|| {
            TrytonError::Invalid(format!(
                "field `{path}` of {entity:?} cannot be pushed down to Tryton"
            ))
        })
}

const TRUE: fn() -> Value = || json!(["id", "!=", -1]);
const FALSE: fn() -> Value = || json!(["id", "=", -1]);

/// The filter as a Tryton domain selecting a superset of its matches.
pub fn to_domain(entity: QueryEntity, language: &str, filter: &Filter) -> Result<Value> {
    match filter {
        Filter::And { and } => {
            let mut out = vec![json!("AND")];
            for part in and {
                out.push(to_domain(entity, language, part)?);
            }
            Ok(Value::Array(out))
        }
        Filter::Or { or } => {
            if or.is_empty() {
                return Ok(FALSE());
            }
            let mut out = vec![json!("OR")];
            for part in or {
                out.push(to_domain(entity, language, part)?);
            }
            Ok(Value::Array(out))
        }
        Filter::Not { .. } => Err(TrytonError::Invalid(
            "`not` cannot be pushed down to Tryton".into(),
        )),
        Filter::Condition(cond) => condition(entity, language, cond),
    }
}

/// An integer id when `value` can equal the string form of one (`"12"` or `12`).
fn as_tryton_id(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => s.parse::<i64>().ok().filter(|i| i.to_string() == *s),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

fn values(cond: &Condition) -> Result<Vec<&Value>> {
    match (&cond.op, &cond.value) {
        (Operator::In, Value::Array(items)) => Ok(items.iter().collect()),
        (Operator::In, other) => Err(TrytonError::Invalid(format!(
            "`in` on `{}` needs an array, got {other}",
            cond.field
        ))),
        (_, value) => Ok(vec![value]),
    }
}

fn condition(entity: QueryEntity, language: &str, cond: &Condition) -> Result<Value> {
    let (field, kind) = lookup(entity, language, &cond.field)?;
    if !operators(kind).contains(&cond.op) {
        return Err(TrytonError::Invalid(format!(
            "operator {:?} on `{}` cannot be pushed down to Tryton",
            cond.op, cond.field
        )));
    }
    let items = values(cond)?;
    match kind {
        Kind::Id | Kind::Ref => {
            let ids: Vec<i64> = items.iter().filter_map(|v| as_tryton_id(v)).collect();
            Ok(match cond.op {
                Operator::Ne => match ids.first() {
                    Some(id) => json!([field, "!=", id]),
                    None => TRUE(),
                },
                _ if ids.is_empty() => FALSE(),
                _ => json!([field, "in", ids]),
            })
        }
        Kind::OptionalText | Kind::Text => {
            // A number compares numerically with a decimal-literal string on the hub's
            // side ("5.0" eq 5): let such conditions through and re-check locally.
            let texts: Option<Vec<&str>> = items.iter().map(|v| v.as_str()).collect();
            let Some(texts) = texts else {
                return Ok(TRUE());
            };
            let narrowed = match cond.op {
                Operator::Eq | Operator::In => json!([field, "in", texts]),
                Operator::Ne => json!([field, "!=", texts[0]]),
                Operator::Like => json!([field, "ilike", widen(texts[0])]),
                _ => TRUE(),
            };
            Ok(if kind == Kind::OptionalText {
                // A record without a code shows the hub a stand-in number (`#<id>`):
                // never filter those out in Tryton.
                json!(["OR", narrowed, [field, "=", null]])
            } else {
                narrowed
            })
        }
    }
}

/// The pattern with every non-ASCII character turned into `_`: SQLite folds only ASCII
/// case and PostgreSQL unaccents, so only ASCII can be trusted to Tryton.
fn widen(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(c);
            if let Some(next) = chars.next() {
                out.push(if next.is_ascii() { next } else { '_' });
            }
        } else if c.is_ascii() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

/// The hub's semantics: the reference evaluator decides over the record's JSON.
pub fn matches(filter: &Filter, record: &Value) -> Result<bool> {
    erpbridge_model::query::eval::eval(filter, record)
        .map_err(|err| TrytonError::Invalid(format!("query filter: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, op: Operator, value: Value) -> Filter {
        Filter::cond(field, op, value)
    }

    #[test]
    fn translates_or_and_like_into_a_superset_domain() {
        let filter = Filter::Or {
            or: vec![
                cond("number", Operator::Like, json!("T0001%")),
                cond("names.en", Operator::Like, json!("%Ärger%")),
                cond("id", Operator::In, json!(["7", "x", 9])),
            ],
        };
        let domain = to_domain(QueryEntity::Article, "en", &filter).unwrap();
        assert_eq!(
            domain,
            json!([
                "OR",
                ["OR", ["code", "ilike", "T0001%"], ["code", "=", null]],
                ["name", "ilike", "%_rger%"],
                ["id", "in", [7, 9]]
            ])
        );
        assert!(
            to_domain(
                QueryEntity::Article,
                "en",
                &Filter::Not {
                    not: Box::new(cond("id", Operator::Eq, json!("1")))
                }
            )
            .is_err()
        );
        assert!(
            to_domain(
                QueryEntity::Article,
                "en",
                &cond("unit", Operator::Eq, json!("u"))
            )
            .is_err()
        );
    }

    #[test]
    fn local_check_uses_hub_semantics() {
        let record =
            json!({"id": "12", "number": "T1", "names": {"en": "Ärger"}, "categories": ["3", "4"]});
        assert!(matches(&cond("names.en", Operator::Like, json!("ä%")), &record).unwrap());
        assert!(matches(&cond("categories", Operator::Eq, json!("4")), &record).unwrap());
        assert!(matches(&cond("id", Operator::Eq, json!(12)), &record).unwrap());
        assert!(!matches(&cond("id", Operator::Eq, json!("012")), &record).unwrap());
        assert!(!matches(&cond("names.de", Operator::Ne, json!("x")), &record).unwrap());
        let caps = capabilities("en");
        assert!(caps.entities[&QueryEntity::Article].or);
        assert!(!caps.entities[&QueryEntity::Article].not);
    }
}
