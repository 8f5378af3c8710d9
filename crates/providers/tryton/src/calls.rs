//! Typed wrappers of the model methods the provider uses (`search`, `search_read`, ...).
//! Positional parameters, context last, as Tryton's RPC dispatcher wants them.

use serde_json::{Map, Value, json};

use crate::error::{Result, TrytonError};
use crate::rpc::Rpc;

pub(crate) type Record = Map<String, Value>;

/// A context overlay such as `{"active_test": false}`.
pub(crate) fn ctx(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Rpc {
    pub(crate) async fn search(
        &self,
        model: &str,
        domain: Value,
        limit: Option<u32>,
        order: Value,
        extra: Option<&Map<String, Value>>,
    ) -> Result<Vec<i64>> {
        let result = self
            .model(
                model,
                "search",
                vec![domain, json!(0), json!(limit), order],
                extra,
            )
            .await?;
        ids(&format!("model.{model}.search"), &result)
    }

    pub(crate) async fn search_read(
        &self,
        model: &str,
        domain: Value,
        limit: Option<u32>,
        order: Value,
        fields: &[&str],
        extra: Option<&Map<String, Value>>,
    ) -> Result<Vec<Record>> {
        let result = self
            .model(
                model,
                "search_read",
                vec![domain, json!(0), json!(limit), order, json!(fields)],
                extra,
            )
            .await?;
        records(&format!("model.{model}.search_read"), result)
    }

    pub(crate) async fn create(
        &self,
        model: &str,
        values: Vec<Value>,
        extra: Option<&Map<String, Value>>,
    ) -> Result<Vec<i64>> {
        let result = self
            .model(model, "create", vec![Value::Array(values)], extra)
            .await?;
        ids(&format!("model.{model}.create"), &result)
    }

    pub(crate) async fn button(&self, model: &str, method: &str, ids: &[i64]) -> Result<()> {
        self.model(model, method, vec![json!(ids)], None).await?;
        Ok(())
    }
}

fn ids(method: &str, result: &Value) -> Result<Vec<i64>> {
    result
        .as_array()
        .and_then(|items| items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
        .ok_or_else(|| TrytonError::protocol(method, "expected a list of ids"))
}

fn records(method: &str, result: Value) -> Result<Vec<Record>> {
    match result {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                _ => Err(TrytonError::protocol(method, "expected a list of records")),
            })
            .collect(),
        _ => Err(TrytonError::protocol(method, "expected a list of records")),
    }
}

/// `record["a."]["b"]`: Tryton answers a dotted field `a.b` as an object under `a.`.
pub(crate) fn dotted<'a>(record: &'a Record, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return record.get(first);
    }
    let mut current = record.get(&format!("{first}."))?;
    for (i, part) in rest.iter().enumerate() {
        current = if i + 1 == rest.len() {
            current.get(*part)?
        } else {
            current.get(format!("{part}."))?
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotted_answers() {
        let record: Record = serde_json::from_value(json!({
            "id": 5,
            "template.": {"id": 2, "code": "T1", "sale_uom.": {"symbol": "u"}}
        }))
        .unwrap();
        assert_eq!(dotted(&record, "id"), Some(&json!(5)));
        assert_eq!(dotted(&record, "template.code"), Some(&json!("T1")));
        assert_eq!(
            dotted(&record, "template.sale_uom.symbol"),
            Some(&json!("u"))
        );
        assert_eq!(dotted(&record, "template.nope"), None);
    }
}
