//! The serialisable query descriptor.
//!
//! Queries cross process and language boundaries as data (never raw SQL): the hub receives
//! one over HTTP, plans it against the provider's declared pushdown capabilities, sends the
//! pushed-down part to the provider (possibly over gRPC), and post-filters the rest with
//! [`eval`], which defines the one semantics every part of the system must agree on.

pub mod eval;
pub mod plan;

use serde::{Deserialize, Serialize};

/// What to query. Records are JSON objects with the entity's fields (the model types'
/// JSON shapes), addressed by dotted paths such as `names.de`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub entity: QueryEntity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<SortKey>,
    /// Records per page; `None` lets the provider choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// An opaque continuation token from a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Related data to include (e.g. `attributes`, `images`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QueryEntity {
    Article,
    Category,
    Customer,
}

/// A boolean filter tree. JSON shape: `{"and":[...]}`, `{"or":[...]}`, `{"not":{...}}`, or
/// a condition `{"field":"number","op":"like","value":"A1%"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Filter {
    And { and: Vec<Filter> },
    Or { or: Vec<Filter> },
    Not { not: Box<Filter> },
    Condition(Condition),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A dotted path into the record, e.g. `number` or `names.de`.
    pub field: String,
    pub op: Operator,
    /// A JSON scalar; for `in`, an array of scalars.
    pub value: serde_json::Value,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    In,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SortKey {
    pub field: String,
    #[serde(default)]
    pub descending: bool,
}

impl Filter {
    pub fn cond(field: impl Into<String>, op: Operator, value: serde_json::Value) -> Self {
        Filter::Condition(Condition {
            field: field.into(),
            op,
            value,
        })
    }
}
