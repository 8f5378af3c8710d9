//! What a saga is: an ordered list of steps, each optionally undoable, over one tenant's
//! provider. A saga type is code ([`SagaType`]); a saga is a row (its payload and the
//! state its finished steps left behind). The engine persists the step counter and the
//! state after every step, so a retry (or another worker after a crash) resumes at the
//! first unfinished step with the outputs of the earlier ones.

use async_trait::async_trait;
use erpbridge_model::{IdempotencyKey, TenantId};
use erpbridge_provider::{Provider, ProviderError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One step of a saga type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSpec {
    pub name: &'static str,
    /// Whether [`SagaType::compensate`] can undo this step.
    pub compensable: bool,
}

/// What a step sees. Every provider call must pass `idempotency_key`, so a step repeated
/// after a crash finds the effect of its first run instead of causing a second one.
pub struct StepContext<'a> {
    pub tenant_id: &'a TenantId,
    pub idempotency_key: &'a IdempotencyKey,
    pub payload: &'a Value,
    pub provider: &'a dyn Provider,
}

/// The outputs of finished steps, persisted with the saga (a JSON object).
pub type SagaState = Map<String, Value>;

/// Why a payload cannot become a saga.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {event_type} payload: {reason}")]
pub struct PayloadError {
    pub event_type: String,
    pub reason: String,
}

#[async_trait]
pub trait SagaType: Send + Sync + 'static {
    /// The `event_type` stored with the saga, e.g. `order.create`.
    fn event_type(&self) -> &'static str;

    fn steps(&self) -> &'static [StepSpec];

    /// Validates a payload and returns its one-line summary for operator lists. Called
    /// at enqueue (so bad input is refused up front) and again before running (so a
    /// row written by an older or foreign producer dies with a clear error).
    fn check(&self, payload: &Value) -> Result<String, PayloadError>;

    /// Runs step `step`, recording its outputs in `state`.
    async fn run(
        &self,
        step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError>;

    /// Undoes step `step` (only called for compensable steps that finished).
    async fn compensate(
        &self,
        step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        let _ = (step, cx, state);
        Ok(())
    }

    /// The `result_payload` of a completed saga.
    fn result(&self, state: &SagaState) -> Value {
        Value::Object(state.clone())
    }
}

/// Parses a payload into its typed form, as a [`PayloadError`] naming the saga type.
pub fn parse_payload<T: serde::de::DeserializeOwned>(
    event_type: &str,
    payload: &Value,
) -> Result<T, PayloadError> {
    T::deserialize(payload).map_err(|err| PayloadError {
        event_type: event_type.to_owned(),
        reason: err.to_string(),
    })
}

/// The saga types an engine knows, by `event_type`.
#[derive(Clone, Default)]
pub struct SagaCatalog {
    types: BTreeMap<&'static str, Arc<dyn SagaType>>,
}

impl std::fmt::Debug for SagaCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.types.keys()).finish()
    }
}

impl SagaCatalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// The saga types the product ships: `order.create`, `bom.sync`, `recipe.upsert`,
    /// `inventory.adjust`.
    pub fn standard() -> Self {
        let mut catalog = Self::new();
        catalog.register(Arc::new(crate::sagas::OrderCreate));
        catalog.register(Arc::new(crate::sagas::BomSync));
        catalog.register(Arc::new(crate::sagas::RecipeUpsert));
        catalog.register(Arc::new(crate::sagas::InventoryAdjust));
        catalog
    }

    pub fn register(&mut self, saga: Arc<dyn SagaType>) {
        self.types.insert(saga.event_type(), saga);
    }

    pub fn get(&self, event_type: &str) -> Option<&Arc<dyn SagaType>> {
        self.types.get(event_type)
    }

    pub fn event_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.keys().copied()
    }
}
