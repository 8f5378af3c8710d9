//! `bom.sync` (a [`Bom`] as the model has it) and `recipe.upsert` (seed 004's recipe
//! shape, mapped onto a BOM): one idempotent provider call each.

use async_trait::async_trait;
use erpbridge_model::{ArticleId, Bom, BomMaterial};
use erpbridge_provider::{BomSyncRequest, ProviderError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::put;
use crate::saga::{PayloadError, SagaState, SagaType, StepContext, StepSpec, parse_payload};

const STEPS: &[StepSpec] = &[StepSpec {
    name: "sync_bom",
    compensable: false,
}];

fn invalid(event_type: &str, reason: impl Into<String>) -> PayloadError {
    PayloadError {
        event_type: event_type.to_owned(),
        reason: reason.into(),
    }
}

fn check_bom(event_type: &str, bom: &Bom) -> Result<(), PayloadError> {
    if bom.product.as_str().trim().is_empty() {
        return Err(invalid(event_type, "product is empty"));
    }
    if bom.materials.is_empty() {
        return Err(invalid(event_type, "a BOM needs at least one material"));
    }
    if bom.output_quantity <= Decimal::ZERO {
        return Err(invalid(
            event_type,
            "output_quantity must be greater than zero",
        ));
    }
    for (index, material) in bom.materials.iter().enumerate() {
        if material.quantity <= Decimal::ZERO {
            return Err(invalid(
                event_type,
                format!("material {}: quantity must be greater than zero", index + 1),
            ));
        }
    }
    Ok(())
}

async fn sync(cx: &StepContext<'_>, bom: Bom, state: &mut SagaState) -> Result<(), ProviderError> {
    let receipt = cx
        .provider
        .sync_bom(BomSyncRequest {
            idempotency_key: cx.idempotency_key.clone(),
            bom,
        })
        .await?;
    put(state, "bom_id", &receipt.bom_id);
    put(state, "already_existed", receipt.already_existed);
    Ok(())
}

/// `bom.sync`: the payload is a [`Bom`].
pub struct BomSync;

impl BomSync {
    pub const EVENT_TYPE: &'static str = "bom.sync";

    fn bom(payload: &Value) -> Result<Bom, PayloadError> {
        let bom: Bom = parse_payload(Self::EVENT_TYPE, payload)?;
        check_bom(Self::EVENT_TYPE, &bom)?;
        Ok(bom)
    }
}

#[async_trait]
impl SagaType for BomSync {
    fn event_type(&self) -> &'static str {
        Self::EVENT_TYPE
    }
    fn steps(&self) -> &'static [StepSpec] {
        STEPS
    }
    fn check(&self, payload: &Value) -> Result<String, PayloadError> {
        let bom = Self::bom(payload)?;
        Ok(format!(
            "{} ({} materials)",
            bom.product,
            bom.materials.len()
        ))
    }
    async fn run(
        &self,
        _step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        let bom = Self::bom(cx.payload).map_err(|e| ProviderError::fatal(e.to_string()))?;
        sync(cx, bom, state).await
    }
}

/// A recipe as seed 004's `RecipeSyncCommand` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub recipe_code: String,
    pub name: String,
    pub version: String,
    /// Units the materials make; 1 when absent.
    #[serde(default)]
    pub output_quantity: Option<Decimal>,
    pub materials: Vec<RecipeMaterial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeMaterial {
    pub material_code: String,
    #[serde(default)]
    pub description: Option<String>,
    pub quantity: Decimal,
    #[serde(default)]
    pub unit_of_measure: Option<String>,
}

/// `recipe.upsert`: the payload is `{"recipe": Recipe}`; the recipe goes to the ERP as
/// a BOM of product `recipe_code`.
pub struct RecipeUpsert;

#[derive(Deserialize)]
struct RecipePayload {
    recipe: Recipe,
}

impl RecipeUpsert {
    pub const EVENT_TYPE: &'static str = "recipe.upsert";

    fn recipe(payload: &Value) -> Result<(Recipe, Bom), PayloadError> {
        let RecipePayload { recipe } = parse_payload(Self::EVENT_TYPE, payload)?;
        if recipe.recipe_code.trim().is_empty() {
            return Err(invalid(Self::EVENT_TYPE, "recipe_code is empty"));
        }
        let bom = Bom {
            bom_id: None,
            product: ArticleId::new(recipe.recipe_code.clone()),
            name: format!("{} v{}", recipe.name, recipe.version),
            output_quantity: recipe.output_quantity.unwrap_or(Decimal::ONE),
            materials: recipe
                .materials
                .iter()
                .map(|m| BomMaterial {
                    article_id: ArticleId::new(m.material_code.clone()),
                    quantity: m.quantity,
                    unit: m.unit_of_measure.clone(),
                })
                .collect(),
        };
        check_bom(Self::EVENT_TYPE, &bom)?;
        Ok((recipe, bom))
    }
}

#[async_trait]
impl SagaType for RecipeUpsert {
    fn event_type(&self) -> &'static str {
        Self::EVENT_TYPE
    }
    fn steps(&self) -> &'static [StepSpec] {
        STEPS
    }
    fn check(&self, payload: &Value) -> Result<String, PayloadError> {
        let (recipe, _) = Self::recipe(payload)?;
        Ok(format!("{} v{}", recipe.recipe_code, recipe.version))
    }
    async fn run(
        &self,
        _step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        let (_, bom) = Self::recipe(cx.payload).map_err(|e| ProviderError::fatal(e.to_string()))?;
        sync(cx, bom, state).await
    }
}
