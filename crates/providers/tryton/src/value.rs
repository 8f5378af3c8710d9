//! Tryton's JSON-RPC value encoding: decimals, dates and datetimes travel as tagged
//! objects (`{"__class__":"Decimal","decimal":"12.50"}`), datetimes as naive UTC.
//! SQLite hands booleans back as `0`/`1`, so readers accept both.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

pub(crate) fn decimal(value: Decimal) -> Value {
    json!({"__class__": "Decimal", "decimal": value.to_string()})
}

pub(crate) fn datetime(value: NaiveDateTime) -> Value {
    json!({
        "__class__": "datetime",
        "year": value.year(), "month": value.month(), "day": value.day(),
        "hour": value.hour(), "minute": value.minute(), "second": value.second(),
        "microsecond": value.nanosecond() / 1000,
    })
}

fn class(value: &Value) -> Option<&str> {
    value.get("__class__").and_then(Value::as_str)
}

/// A decimal from a tagged Decimal, a JSON number (stock quantities are floats) or a
/// numeric string.
pub(crate) fn as_decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Object(_) if class(value) == Some("Decimal") => {
            Decimal::from_str(value.get("decimal")?.as_str()?).ok()
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Decimal::from(i))
            } else {
                // The shortest round-trip text of the float, so 37.0 becomes 37, not
                // 36.99999999999999...
                Decimal::from_str(&n.to_string()).ok()
            }
        }
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

pub(crate) fn as_datetime(value: &Value) -> Option<NaiveDateTime> {
    if class(value) != Some("datetime") {
        return None;
    }
    let field = |name: &str| value.get(name).and_then(Value::as_u64);
    let d = NaiveDate::from_ymd_opt(
        i32::try_from(value.get("year")?.as_i64()?).ok()?,
        u32::try_from(field("month")?).ok()?,
        u32::try_from(field("day")?).ok()?,
    )?;
    d.and_hms_micro_opt(
        u32::try_from(field("hour")?).ok()?,
        u32::try_from(field("minute")?).ok()?,
        u32::try_from(field("second")?).ok()?,
        u32::try_from(field("microsecond").unwrap_or(0)).ok()?,
    )
}

pub(crate) fn as_utc(value: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(value, Utc)
}

pub(crate) fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

pub(crate) fn as_id(value: &Value) -> Option<i64> {
    value.as_i64()
}

pub(crate) fn as_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// Ids from a list of integers (a many2many/one2many field).
pub(crate) fn as_ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// The micro-seconds since the epoch of a naive-UTC timestamp: the row version.
pub(crate) fn micros(value: NaiveDateTime) -> u64 {
    u64::try_from(value.and_utc().timestamp_micros()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn round_trips_tagged_values() {
        let ts = NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_micro_opt(6, 44, 15, 496_574)
            .unwrap();
        assert_eq!(as_datetime(&datetime(ts)), Some(ts));
        assert_eq!(as_decimal(&decimal(dec!(12.50))), Some(dec!(12.50)));
        assert_eq!(as_decimal(&json!(37.0)), Some(dec!(37)));
        assert_eq!(as_decimal(&json!(2.5)), Some(dec!(2.5)));
        assert_eq!(as_bool(&json!(1)), Some(true));
        assert_eq!(as_bool(&json!(false)), Some(false));
        assert_eq!(as_datetime(&json!(null)), None);
    }
}
