//! Splitting a filter into what the provider can evaluate and what the hub must.
//! (The planner is being built; the capability types are the contract.)

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::{Operator, QueryEntity};

/// What a provider can filter itself, per entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushdownCapabilities {
    #[serde(default)]
    pub entities: BTreeMap<QueryEntity, EntityPushdown>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EntityPushdown {
    /// Field path → operators the backend evaluates with the hub's semantics.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeSet<Operator>>,
    #[serde(default)]
    pub or: bool,
    #[serde(default)]
    pub not: bool,
    /// Whether the backend can sort by these fields (others are sorted by the hub).
    #[serde(default)]
    pub sortable: BTreeSet<String>,
}
