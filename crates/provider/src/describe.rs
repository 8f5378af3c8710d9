//! What a provider says about itself at runtime. The hub never assumes a capability: it
//! reads this, plans queries with [`PushdownCapabilities`], and sizes batches and
//! concurrency from it.

use erpbridge_model::query::plan::PushdownCapabilities;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProviderDescription {
    /// Provider type, e.g. `sim`, `tryton`, `enventa`.
    pub name: String,
    pub version: String,
    pub operations: Vec<Operation>,
    /// Per queryable entity, what the backend can filter itself.
    pub pushdown: PushdownCapabilities,
    pub concurrency: ConcurrencyModel,
    pub limits: BatchLimits,
}

impl ProviderDescription {
    pub fn supports(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Health,
    Catalog,
    Query,
    ArticlesByIds,
    Prices,
    Stock,
    OrderStatus,
    CreateOrder,
    ConfirmOrder,
    CancelOrder,
    SyncBom,
    AdjustInventory,
}

/// How many calls the backend can take at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConcurrencyModel {
    /// One session, one call at a time (enventa Trade): the runtime runs every call on one
    /// dedicated thread.
    Serial,
    /// Up to `sessions` independent sessions, each serial.
    Pooled { sessions: u32 },
    /// The backend is safe to call concurrently (an HTTP API such as Tryton's).
    Concurrent,
}

/// The largest batches the backend accepts in one call. The runtime splits bigger ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchLimits {
    pub max_articles_per_call: u32,
    pub max_prices_per_call: u32,
    pub max_stock_per_call: u32,
    pub max_catalog_page: u32,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_articles_per_call: 500,
            max_prices_per_call: 500,
            max_stock_per_call: 500,
            max_catalog_page: 1000,
        }
    }
}
