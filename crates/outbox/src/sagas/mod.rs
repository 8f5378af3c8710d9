//! The saga types the product ships (seed 004 and DESIGN.md).

mod bom;
mod inventory;
mod order;

pub use bom::{BomSync, Recipe, RecipeMaterial, RecipeUpsert};
pub use inventory::{InventoryAdjust, InventoryAdjustPayload};
pub use order::OrderCreate;

use serde_json::Value;

use crate::saga::SagaState;

fn put(state: &mut SagaState, key: &str, value: impl serde::Serialize) {
    state.insert(
        key.to_owned(),
        serde_json::to_value(value).unwrap_or(Value::Null),
    );
}

fn get_str<'a>(state: &'a SagaState, key: &str) -> Option<&'a str> {
    state.get(key).and_then(Value::as_str)
}
