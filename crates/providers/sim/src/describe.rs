//! What the simulator says about itself. The pushdown it declares is what
//! [`crate::query`] really evaluates (with the hub's own evaluator), nothing more: AND of
//! conditions on `id`, `number` and `row_version`.

use erpbridge_model::query::plan::{EntityPushdown, PushdownCapabilities};
use erpbridge_model::query::{Operator, QueryEntity};
use erpbridge_provider::{BatchLimits, ConcurrencyModel, Operation, ProviderDescription};
use std::collections::{BTreeMap, BTreeSet};

use crate::SimConfig;

/// Fields of an article the simulator filters itself, with their operators.
pub fn article_pushdown() -> EntityPushdown {
    use Operator::*;
    let text: BTreeSet<Operator> = [Eq, In, Like].into_iter().collect();
    let version: BTreeSet<Operator> = [Eq, Gt, Ge, Lt, Le].into_iter().collect();
    let mut fields = BTreeMap::new();
    fields.insert("id".to_owned(), text.clone());
    fields.insert("number".to_owned(), text);
    fields.insert("row_version".to_owned(), version);
    EntityPushdown {
        fields,
        or: false,
        not: false,
        sortable: ["id".to_owned()].into_iter().collect(),
        ..EntityPushdown::default()
    }
}

pub fn description(config: &SimConfig) -> ProviderDescription {
    let mut pushdown = PushdownCapabilities::default();
    pushdown
        .entities
        .insert(QueryEntity::Article, article_pushdown());
    ProviderDescription {
        name: "sim".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        operations: vec![
            Operation::Health,
            Operation::Catalog,
            Operation::Query,
            Operation::ArticlesByIds,
            Operation::Prices,
            Operation::Stock,
            Operation::OrderStatus,
            Operation::CreateOrder,
            Operation::ConfirmOrder,
            Operation::CancelOrder,
            Operation::SyncBom,
            Operation::AdjustInventory,
        ],
        pushdown,
        concurrency: if config.sessions <= 1 {
            ConcurrencyModel::Serial
        } else {
            ConcurrencyModel::Pooled {
                sessions: config.sessions,
            }
        },
        limits: BatchLimits {
            max_catalog_page: config.max_catalog_page,
            ..BatchLimits::default()
        },
    }
}
