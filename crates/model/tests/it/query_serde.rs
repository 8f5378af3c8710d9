//! The query descriptor's JSON shape is a wire contract.

use erpbridge_model::query::{Filter, Operator, Query, QueryEntity};
use serde_json::json;

#[test]
fn filter_json_shape_round_trips() {
    let text = r#"{"and":[{"field":"number","op":"like","value":"A1%"}]}"#;
    let filter: Filter = serde_json::from_str(text).unwrap();
    assert_eq!(
        filter,
        Filter::And {
            and: vec![Filter::cond("number", Operator::Like, json!("A1%"))]
        }
    );
    assert_eq!(serde_json::to_string(&filter).unwrap(), text);
}

#[test]
fn nested_or_not_round_trips() {
    let value = json!({"or":[
        {"not":{"field":"names.de","op":"eq","value":"Schraube"}},
        {"field":"row_version","op":"in","value":[1,2,3]}
    ]});
    let filter: Filter = serde_json::from_value(value.clone()).unwrap();
    assert!(matches!(&filter, Filter::Or { or } if or.len() == 2));
    assert_eq!(serde_json::to_value(&filter).unwrap(), value);
}

#[test]
fn query_round_trips_and_rejects_unknown_keys() {
    let value = json!({
        "entity": "article",
        "filter": {"field":"number","op":"ge","value":"A"},
        "sort": [{"field":"number","descending":true}],
        "page_size": 50
    });
    let query: Query = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(query.entity, QueryEntity::Article);
    assert_eq!(serde_json::to_value(&query).unwrap(), value);

    let bad = json!({"entity": "article", "filtr": {}});
    assert!(serde_json::from_value::<Query>(bad).is_err());
}
