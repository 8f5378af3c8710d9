//! Evaluation of filters over JSON records: the reference semantics.
//!
//! Every provider that declares a field/operator as pushable promises to evaluate it
//! exactly as this module does, and the hub post-filters with this module. So the rules
//! below are a contract, not an implementation detail. They are total: every filter and
//! every record give either `Ok(bool)` or a typed [`QueryError`], never a panic.
//!
//! # Records and field paths
//!
//! A record is a JSON value, normally an object (the model types' JSON shapes). A field is
//! a dotted path such as `names.de`: each segment is an object key. Keys that contain a
//! dot cannot be addressed, and there are no array indexes.
//!
//! Walking a path collects a set of *leaf values*:
//! - an **array** met anywhere on the way (or at the end) is looked through: the rest of the
//!   path is applied to every element (nested arrays are flattened the same way). So
//!   `categories` reaches every category id and `attributes.key` every attribute's key;
//! - a **missing key**, **`null`**, or a path that runs into a scalar (`number.x`) reaches
//!   nothing.
//!
//! # Conditions: "any leaf matches", missing is false
//!
//! A condition is true if **any** leaf value satisfies it, and false if there is none. So:
//! - a condition on a missing or `null` field is **false, for every operator, `ne`
//!   included** (SQL-like: `price <> 5` does not select rows without a price);
//! - on an array field the condition asks for *some* element: `categories eq "c1"` means
//!   "contains c1", `categories ne "c1"` means "contains something other than c1" (use
//!   `not(categories eq "c1")` for "does not contain c1").
//!
//! The logic is two-valued: `and`/`or` are the boolean connectives (an empty `and` is
//! true, an empty `or` is false) and `not` is plain negation of its operand's result. In
//! particular `not(price eq 5)` is **true** for a record without a price, whereas
//! `price ne 5` is false. A SQL provider therefore translates a condition `c` as
//! `COALESCE(c, FALSE)` before applying `NOT`.
//!
//! # Comparing a leaf with the condition's value
//!
//! | leaf \ value | number | string | boolean |
//! |---|---|---|---|
//! | number  | numeric | numeric if the string is a decimal literal | mismatch |
//! | string  | numeric if the string is a decimal literal | code-point order | mismatch |
//! | boolean | mismatch | mismatch | equality only |
//! | object  | mismatch | mismatch | mismatch |
//!
//! - **Numbers** compare by exact numeric value across integer and floating-point JSON
//!   numbers (`1 == 1.0`; `18446744073709551615 < 18446744073709551616.0` holds although
//!   both round to the same `f64`).
//! - **Strings** compare lexicographically by Unicode code point, case-sensitively.
//! - **Decimal strings.** The model sends money and numeric attribute values as strings
//!   (`"12.50"`), so a string and a number compare numerically when the string is a
//!   decimal literal `-?[0-9]+(\.[0-9]+)?` (no `+`, exponent or spaces) that fits `rust_decimal` (28 digits). A
//!   floating-point value is first taken at its shortest round-trip decimal form (what its
//!   JSON shows), rounded to 28 fractional digits; floats beyond ±7.9e28 compare by sign.
//!   Two strings always compare as strings: `"12.50" eq "12.5"` is false.
//! - **Booleans** support `eq`, `ne` and `in` only (`false < true` is not defined).
//! - **`like`** matches a string leaf against a pattern in which `%` matches any run of
//!   characters (including none), `_` exactly one character (one Unicode scalar value),
//!   and `\` escapes the next character, which must be `%`, `_` or `\`. Matching is
//!   case-insensitive: two characters are equal when their Unicode lowercase mappings
//!   (Rust's `char::to_lowercase`, no locale or context rules) are equal. The pattern must
//!   match the whole string.
//! - **`in`** takes an array (possibly empty) of at most [`MAX_IN_VALUES`] non-null
//!   scalars of one JSON type; it is true if the leaf is `eq` to any of them, with the
//!   rules above (`in []` is false).
//!
//! Any other pairing is a *type mismatch*: [`QueryError::TypeMismatch`], naming the field,
//! the operator and both types. A malformed condition (e.g. `like` with a number,
//! `in` without an array, a `null` value) is an error too, see [`validate_filter`]. There
//! is deliberately no "is missing" operator: `null` never equals anything.
//!
//! # Errors are independent of evaluation order
//!
//! Evaluation is *strict*: every condition of the tree is evaluated on every record (no
//! short-circuit), and the result is the **first error in depth-first, left-to-right
//! order**, if any. Within one condition every leaf value is compared too (no stop at
//! the first matching array element), so a mismatching element fails the condition. This
//! makes "does this filter fail on this record" a property of the set of conditions, not
//! of how `and`/`or` happen to be nested, which is what lets the planner reorder
//! conjuncts between provider and hub without changing whether a query fails.
//!
//! # Performance
//!
//! [`eval`] walks the filter and the record by reference; the hot path (path lookup,
//! comparisons, `like`) allocates nothing, except when a floating-point value is compared
//! with a decimal string, and on errors.

use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value};

use super::{Condition, Filter, Operator, Query, SortKey};

/// Deepest filter tree accepted; the root is at depth 1.
pub const MAX_DEPTH: usize = 32;
/// Most values one `in` condition may list.
pub const MAX_IN_VALUES: usize = 1000;
/// Most sort keys one query may have.
pub const MAX_SORT_KEYS: usize = 16;

/// Why a query is malformed or could not be evaluated on a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "field `{field}`: cannot apply `{op}` to a {field_type} value in the record and a {value_type} in the query"
    )]
    TypeMismatch {
        field: String,
        op: &'static str,
        field_type: &'static str,
        value_type: &'static str,
    },
    #[error("invalid field path `{field}`: it must be non-empty dot-separated keys")]
    InvalidFieldPath { field: String },
    #[error("field `{field}`: `{op}` needs {expected}, got {found}")]
    InvalidValue {
        field: String,
        op: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field `{field}`: `in` lists {len} values, at most {max} are allowed")]
    TooManyInValues {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("field `{field}`: `in` values must all have one type, found {first} and {other}")]
    MixedInValues {
        field: String,
        first: &'static str,
        other: &'static str,
    },
    #[error("field `{field}`: invalid `like` pattern: {reason}")]
    InvalidLikePattern { field: String, reason: &'static str },
    #[error("filter is nested deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("query has {len} sort keys, at most {max} are allowed")]
    TooManySortKeys { len: usize, max: usize },
    #[error("page_size must be at least 1")]
    ZeroPageSize,
}

/// Evaluates `filter` against `record` with the semantics in the module docs.
pub fn eval(filter: &Filter, record: &Value) -> Result<bool, QueryError> {
    eval_node(filter, record, 1)
}

fn eval_node(filter: &Filter, record: &Value, depth: usize) -> Result<bool, QueryError> {
    if depth > MAX_DEPTH {
        return Err(QueryError::TooDeep { max: MAX_DEPTH });
    }
    // No short-circuit: see "Errors are independent of evaluation order".
    match filter {
        Filter::And { and } => {
            let mut all = true;
            for child in and {
                all &= eval_node(child, record, depth + 1)?;
            }
            Ok(all)
        }
        Filter::Or { or } => {
            let mut any = false;
            for child in or {
                any |= eval_node(child, record, depth + 1)?;
            }
            Ok(any)
        }
        Filter::Not { not } => Ok(!eval_node(not, record, depth + 1)?),
        Filter::Condition(cond) => eval_condition(cond, record),
    }
}

fn eval_condition(cond: &Condition, record: &Value) -> Result<bool, QueryError> {
    check_condition(cond)?;
    let mut any = false;
    visit_leaves(record, Some(&cond.field), &mut |leaf| {
        any |= leaf_matches(cond, leaf)?;
        Ok(())
    })?;
    Ok(any)
}

/// Calls `f` with every leaf value that `path` reaches from `value` (module docs, "Records
/// and field paths"). `path` is `None` once all segments are consumed.
fn visit_leaves<'a>(
    value: &'a Value,
    path: Option<&str>,
    f: &mut dyn FnMut(&'a Value) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| visit_leaves(item, path, f)),
        Value::Object(map) => match path {
            None => f(value),
            Some(path) => {
                // A byte scan: `.` is ASCII, and `str::split_once`'s generic searcher
                // showed up in profiles of the hub's post-filter loop.
                let (key, rest) = match path.bytes().position(|b| b == b'.') {
                    Some(dot) => (&path[..dot], path.get(dot + 1..)),
                    None => (path, None),
                };
                match map.get(key) {
                    Some(child) => visit_leaves(child, rest, f),
                    None => Ok(()),
                }
            }
        },
        Value::Bool(_) | Value::Number(_) | Value::String(_) => match path {
            None => f(value),
            Some(_) => Ok(()),
        },
    }
}

fn leaf_matches(cond: &Condition, leaf: &Value) -> Result<bool, QueryError> {
    let value = &cond.value;
    match cond.op {
        Operator::Like => match (leaf, value) {
            (Value::String(text), Value::String(pattern)) => Ok(like::matches(text, pattern)),
            _ => Err(mismatch(cond, leaf, value)),
        },
        Operator::In => {
            let mut any = false;
            // `check_condition` has ensured an array; a non-array would list nothing.
            for candidate in value.as_array().map(Vec::as_slice).unwrap_or_default() {
                any |= compare(cond, leaf, candidate)? == Ordering::Equal;
            }
            Ok(any)
        }
        Operator::Eq => Ok(compare(cond, leaf, value)?.is_eq()),
        Operator::Ne => Ok(compare(cond, leaf, value)?.is_ne()),
        Operator::Gt => Ok(compare(cond, leaf, value)?.is_gt()),
        Operator::Ge => Ok(compare(cond, leaf, value)?.is_ge()),
        Operator::Lt => Ok(compare(cond, leaf, value)?.is_lt()),
        Operator::Le => Ok(compare(cond, leaf, value)?.is_le()),
    }
}

/// Orders a record's leaf against a query value (module docs, the comparison table).
fn compare(cond: &Condition, leaf: &Value, value: &Value) -> Result<Ordering, QueryError> {
    match (leaf, value) {
        (Value::Number(a), Value::Number(b)) => Ok(cmp_numbers(a, b)),
        (Value::String(a), Value::String(b)) => Ok(a.as_str().cmp(b.as_str())),
        (Value::Bool(a), Value::Bool(b)) => Ok(a.cmp(b)),
        (Value::String(a), Value::Number(b)) => match parse_decimal(a) {
            Some(a) => Ok(cmp_decimal_number(a, b)),
            None => Err(mismatch_with(
                cond,
                "string (not a decimal number)",
                "number",
            )),
        },
        (Value::Number(a), Value::String(b)) => match parse_decimal(b) {
            Some(b) => Ok(cmp_decimal_number(b, a).reverse()),
            None => Err(mismatch_with(
                cond,
                "number",
                "string (not a decimal number)",
            )),
        },
        _ => Err(mismatch(cond, leaf, value)),
    }
}

fn mismatch(cond: &Condition, leaf: &Value, value: &Value) -> QueryError {
    mismatch_with(cond, type_name(leaf), type_name(value))
}

fn mismatch_with(
    cond: &Condition,
    field_type: &'static str,
    value_type: &'static str,
) -> QueryError {
    QueryError::TypeMismatch {
        field: cond.field.clone(),
        op: op_name(cond.op),
        field_type,
        value_type,
    }
}

/// Exact numeric order of two JSON numbers (serde_json numbers are never NaN or infinite).
fn cmp_numbers(a: &Number, b: &Number) -> Ordering {
    match (as_int(a), as_int(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(a), None) => cmp_f64_int(b.as_f64().unwrap_or(0.0), a).reverse(),
        (None, Some(b)) => cmp_f64_int(a.as_f64().unwrap_or(0.0), b),
        (None, None) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
    }
}

fn as_int(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Compares a float with an integer exactly: converting the integer to `f64` would round
/// (2^53 + 1 == 2^53 as f64), so compare integral parts as integers instead.
fn cmp_f64_int(f: f64, i: i128) -> Ordering {
    const LIMIT: f64 = 1.7014118346046923e38; // 2^127, exactly representable
    if f >= LIMIT {
        return Ordering::Greater;
    }
    if f < -LIMIT {
        return Ordering::Less;
    }
    let whole = f.trunc();
    // Exact: `whole` is integral and |whole| < 2^127.
    let whole_int = whole as i128;
    whole_int
        .cmp(&i)
        .then_with(|| f.partial_cmp(&whole).unwrap_or(Ordering::Equal))
}

/// Parses a strict decimal literal `-?[0-9]+(\.[0-9]+)?` without rounding.
fn parse_decimal(s: &str) -> Option<Decimal> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) {
        return None;
    }
    Decimal::from_str_exact(s).ok()
}

/// Orders a decimal (from a string) against a JSON number.
fn cmp_decimal_number(d: Decimal, n: &Number) -> Ordering {
    if let Some(i) = n.as_i64() {
        return d.cmp(&Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return d.cmp(&Decimal::from(u));
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Outside Decimal's range (~7.9e28) the float is beyond every decimal string.
    if f.abs() >= 7.9e28 {
        return if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // `f64`'s Display is its shortest round-trip form; `from_str` rounds excess scale.
    match Decimal::from_str(&f.to_string()) {
        Ok(fd) => d.cmp(&fd),
        // Unreachable for |f| < 7.9e28 (Display never uses exponents and excess scale is
        // rounded); kept total without a panic.
        Err(_) => Ordering::Equal,
    }
}

/// Human name of a JSON value's type, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The operator's wire name (`eq`, `like`, ...).
pub fn op_name(op: Operator) -> &'static str {
    match op {
        Operator::Eq => "eq",
        Operator::Ne => "ne",
        Operator::Gt => "gt",
        Operator::Ge => "ge",
        Operator::Lt => "lt",
        Operator::Le => "le",
        Operator::Like => "like",
        Operator::In => "in",
    }
}

/// Rejects malformed descriptors before anything is sent to a provider: bad field paths,
/// values of the wrong shape for their operator, oversized `in` lists, filters deeper than
/// [`MAX_DEPTH`], too many sort keys, `page_size` 0.
pub fn validate(query: &Query) -> Result<(), QueryError> {
    if let Some(filter) = &query.filter {
        validate_filter(filter)?;
    }
    if query.sort.len() > MAX_SORT_KEYS {
        return Err(QueryError::TooManySortKeys {
            len: query.sort.len(),
            max: MAX_SORT_KEYS,
        });
    }
    for key in &query.sort {
        check_path(&key.field)?;
    }
    if query.page_size == Some(0) {
        return Err(QueryError::ZeroPageSize);
    }
    Ok(())
}

/// The filter part of [`validate`]. [`eval`] reports the same errors, so a filter that
/// passes never fails for reasons other than the record's data (type mismatches).
pub fn validate_filter(filter: &Filter) -> Result<(), QueryError> {
    validate_node(filter, 1)
}

fn validate_node(filter: &Filter, depth: usize) -> Result<(), QueryError> {
    if depth > MAX_DEPTH {
        return Err(QueryError::TooDeep { max: MAX_DEPTH });
    }
    match filter {
        Filter::And { and: children } | Filter::Or { or: children } => children
            .iter()
            .try_for_each(|child| validate_node(child, depth + 1)),
        Filter::Not { not } => validate_node(not, depth + 1),
        Filter::Condition(cond) => check_condition(cond),
    }
}

fn check_path(field: &str) -> Result<(), QueryError> {
    // Same as "some `split('.')` segment is empty", as a byte scan: this runs once per
    // condition per record.
    let bytes = field.as_bytes();
    let empty_segment = bytes.first().is_none_or(|&b| b == b'.')
        || bytes.last() == Some(&b'.')
        || bytes.windows(2).any(|pair| pair == b"..");
    if empty_segment {
        return Err(QueryError::InvalidFieldPath {
            field: field.to_owned(),
        });
    }
    Ok(())
}

/// The record-independent checks of one condition. Runs on every evaluation (it is cheap
/// and allocation-free when the condition is valid) so that `eval` is total on its own.
fn check_condition(cond: &Condition) -> Result<(), QueryError> {
    check_path(&cond.field)?;
    let invalid = |expected: &'static str, found: &Value| QueryError::InvalidValue {
        field: cond.field.clone(),
        op: op_name(cond.op),
        expected,
        found: type_name(found),
    };
    match (cond.op, &cond.value) {
        (Operator::In, Value::Array(items)) => {
            if items.len() > MAX_IN_VALUES {
                return Err(QueryError::TooManyInValues {
                    field: cond.field.clone(),
                    len: items.len(),
                    max: MAX_IN_VALUES,
                });
            }
            let mut first: Option<&'static str> = None;
            for item in items {
                if !matches!(item, Value::Bool(_) | Value::Number(_) | Value::String(_)) {
                    return Err(invalid("an array of strings, numbers or booleans", item));
                }
                let ty = type_name(item);
                match first {
                    None => first = Some(ty),
                    Some(first) if first != ty => {
                        return Err(QueryError::MixedInValues {
                            field: cond.field.clone(),
                            first,
                            other: ty,
                        });
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        (Operator::In, other) => Err(invalid("an array", other)),
        (Operator::Like, Value::String(pattern)) => {
            like::check(pattern).map_err(|reason| QueryError::InvalidLikePattern {
                field: cond.field.clone(),
                reason,
            })
        }
        (Operator::Like, other) => Err(invalid("a string pattern", other)),
        (Operator::Eq | Operator::Ne, Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
            Ok(())
        }
        (Operator::Eq | Operator::Ne, other) => Err(invalid("a string, number or boolean", other)),
        (_, Value::Number(_) | Value::String(_)) => Ok(()),
        (_, other) => Err(invalid("a string or number", other)),
    }
}

/// Orders two records by `keys`, for the hub's sorting when the provider cannot sort.
///
/// A sort key reads the single value at its path (objects only; arrays are not looked
/// through here, an array is a value of its own). Values order by type first —
/// booleans < numbers < strings < arrays < objects < missing/`null` — then within a type:
/// `false < true`, numbers by exact value, strings by code point, arrays element-wise,
/// objects all equal. Missing and `null` are therefore **last when ascending and first
/// when descending**, like PostgreSQL's default `NULLS LAST`/`NULLS FIRST`, so a
/// PostgreSQL-backed provider can sort natively. Note that decimal strings sort as text.
/// This is a total order, safe for `sort_by`; ties keep their order in a stable sort.
pub fn compare_records(a: &Value, b: &Value, keys: &[SortKey]) -> Ordering {
    for key in keys {
        let ord = cmp_sort_values(lookup(a, &key.field), lookup(b, &key.field));
        let ord = if key.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |value, key| value.as_object()?.get(key))
        .filter(|value| !value.is_null())
}

fn cmp_sort_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            Some(Value::Bool(_)) => 0,
            Some(Value::Number(_)) => 1,
            Some(Value::String(_)) => 2,
            Some(Value::Array(_)) => 3,
            Some(Value::Object(_)) => 4,
            Some(Value::Null) | None => 5,
        }
    }
    match (a, b) {
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (Some(Value::Number(a)), Some(Value::Number(b))) => cmp_numbers(a, b),
        (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
        (Some(Value::Array(a)), Some(Value::Array(b))) => a
            .iter()
            .zip(b)
            .map(|(x, y)| cmp_sort_values(Some(x), Some(y)))
            .find(|ord| ord.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// SQL `LIKE` with `%`, `_`, `\` escapes, matched case-insensitively.
mod like {
    /// One element of a pattern.
    enum Token {
        /// `%`: any run of characters.
        Any,
        /// `_`: exactly one character.
        One,
        Literal(char),
    }

    /// Reads the token at byte offset `at` and the offset after it; `None` at the end or
    /// on a malformed escape.
    fn token(pattern: &str, at: usize) -> Option<(Token, usize)> {
        let c = char_at(pattern, at)?;
        let next = at + c.len_utf8();
        Some(match c {
            '%' => (Token::Any, next),
            '_' => (Token::One, next),
            '\\' => {
                let escaped = char_at(pattern, next).filter(|e| matches!(e, '%' | '_' | '\\'))?;
                (Token::Literal(escaped), next + escaped.len_utf8())
            }
            c => (Token::Literal(c), next),
        })
    }

    /// Rejects a trailing `\` and escapes of anything but `%`, `_`, `\`.
    pub(super) fn check(pattern: &str) -> Result<(), &'static str> {
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('%' | '_' | '\\') => {}
                    Some(_) => return Err("`\\` may only escape `%`, `_` or `\\`"),
                    None => return Err("the pattern ends with a lone `\\`"),
                }
            }
        }
        Ok(())
    }

    fn eq_ignore_case(a: char, b: char) -> bool {
        a == b
            || if a.is_ascii() && b.is_ascii() {
                a.eq_ignore_ascii_case(&b)
            } else {
                a.to_lowercase().eq(b.to_lowercase())
            }
    }

    /// The character starting at byte offset `at`. ASCII (most article data) skips the
    /// UTF-8 decoder; a profile of the post-filter loop showed it.
    fn char_at(s: &str, at: usize) -> Option<char> {
        match s.as_bytes().get(at)? {
            b if b.is_ascii() => Some(char::from(*b)),
            _ => s.get(at..)?.chars().next(),
        }
    }

    /// Whole-string match. The classic greedy algorithm with one backtrack point (the last
    /// `%`): on a mismatch, let that `%` swallow one more character and retry. O(n·m)
    /// worst case, no allocation.
    pub(super) fn matches(text: &str, pattern: &str) -> bool {
        let (mut t, mut p) = (0, 0);
        // (pattern offset after the last `%`, text offset that `%` has consumed up to)
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            let step = if p == pattern.len() {
                if t == text.len() {
                    return true;
                }
                None
            } else {
                match token(pattern, p) {
                    Some((Token::Any, next)) => {
                        backtrack = Some((next, t));
                        p = next;
                        continue;
                    }
                    Some((Token::One, next)) => char_at(text, t).map(|c| (next, c)),
                    Some((Token::Literal(lit), next)) => char_at(text, t)
                        .filter(|&c| eq_ignore_case(lit, c))
                        .map(|c| (next, c)),
                    // A malformed escape: `check` rejects these before evaluation.
                    None => return false,
                }
            };
            if let Some((next, c)) = step {
                p = next;
                t += c.len_utf8();
                continue;
            }
            match backtrack {
                Some((after_any, swallowed)) => match char_at(text, swallowed) {
                    Some(c) => {
                        let swallowed = swallowed + c.len_utf8();
                        backtrack = Some((after_any, swallowed));
                        p = after_any;
                        t = swallowed;
                    }
                    None => return false,
                },
                None => return false,
            }
        }
    }
}
