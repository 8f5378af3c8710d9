//! erpbridge's saga engine: reliable writes to ERPs through the durable outbox.
//!
//! A write (an order, a BOM, a stock booking) is *enqueued* as a saga row in one
//! transaction and acknowledged; workers then run its steps against the tenant's
//! provider until it completes, is compensated, or is dead-lettered for an operator.
//!
//! * [`Outbox`] is the intake: it validates a payload against its saga type and
//!   enqueues it (same idempotency key + same payload → the existing saga; different
//!   payload → a conflict).
//! * [`SagaType`] defines steps; [`sagas`] holds the shipped ones (`order.create`,
//!   `bom.sync`, `recipe.upsert`, `inventory.adjust`).
//! * [`Engine`] runs N workers that claim due sagas with a lease, persist progress
//!   after every step (so a retry resumes at the failed step) and apply the
//!   [`RetryPolicy`]: transient errors retry on a schedule, fatal ones go to `dead` at
//!   once or trigger compensation of completed steps.
//! * The external effect happens once because every provider call carries the saga's
//!   idempotency key: a step repeated after a crash between "the ERP did it" and "we
//!   recorded it" finds the first effect instead of making a second.
//!
//! State lives in `erpbridge_store::outbox`; this crate holds no state of its own, so
//! any number of engines in any number of processes can share one PostgreSQL database.

pub mod engine;
pub mod options;
pub mod policy;
pub mod registry;
pub mod saga;
pub mod sagas;
pub mod testing;

pub use engine::{Engine, EngineHandle, EngineStats, StatsSnapshot};
pub use options::OutboxOptions;
pub use policy::{PolicyError, RetryPolicy, RetryStrategy};
pub use registry::{ProviderRegistry, StaticProviders};
pub use saga::{PayloadError, SagaCatalog, SagaState, SagaType, StepContext, StepSpec};

use erpbridge_model::{Order, TenantId};
use erpbridge_store::StoreError;
use erpbridge_store::outbox::{Enqueued, NewSaga, OutboxStore};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("unknown saga type `{0}`")]
    UnknownType(String),
    #[error(transparent)]
    InvalidPayload(#[from] PayloadError),
    /// Includes [`StoreError::IdempotencyConflict`] (HTTP 409).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The intake side of the outbox.
#[derive(Clone)]
pub struct Outbox {
    store: OutboxStore,
    sagas: Arc<SagaCatalog>,
    wake: Option<Arc<Notify>>,
}

impl Outbox {
    pub fn new(store: OutboxStore, sagas: SagaCatalog) -> Self {
        Self {
            store,
            sagas: Arc::new(sagas),
            wake: None,
        }
    }

    /// Wakes a local engine's idle workers after each enqueue ([`EngineHandle::waker`]).
    pub fn with_waker(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    pub fn store(&self) -> &OutboxStore {
        &self.store
    }

    /// Validates and enqueues a saga; durable when this returns.
    pub async fn enqueue(
        &self,
        tenant_id: TenantId,
        idempotency_key: impl Into<String>,
        event_type: &str,
        payload: serde_json::Value,
    ) -> Result<Enqueued, OutboxError> {
        let saga = self.new_saga(tenant_id, idempotency_key.into(), event_type, payload)?;
        let enqueued = self.store.enqueue(saga).await?;
        if let Some(wake) = &self.wake {
            wake.notify_waiters();
        }
        Ok(enqueued)
    }

    /// Enqueues many sagas in one transaction; each has its own outcome.
    pub async fn enqueue_many(
        &self,
        items: Vec<(TenantId, String, String, serde_json::Value)>,
    ) -> Result<Vec<Result<Enqueued, OutboxError>>, OutboxError> {
        let mut outcomes: Vec<Option<Result<Enqueued, OutboxError>>> = Vec::new();
        let mut valid = Vec::new();
        for (tenant, key, event_type, payload) in items {
            match self.new_saga(tenant, key, &event_type, payload) {
                Ok(saga) => {
                    valid.push(saga);
                    outcomes.push(None);
                }
                Err(err) => outcomes.push(Some(Err(err))),
            }
        }
        let mut stored = self.store.enqueue_many(valid).await?.into_iter();
        let result = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Some(err) => err,
                None => stored
                    .next()
                    .map(|r| r.map_err(OutboxError::from))
                    .unwrap_or_else(|| {
                        Err(StoreError::Corrupt("missing enqueue outcome".into()).into())
                    }),
            })
            .collect();
        if let Some(wake) = &self.wake {
            wake.notify_waiters();
        }
        Ok(result)
    }

    /// `order.create` for `order`.
    pub async fn enqueue_order(
        &self,
        tenant_id: TenantId,
        idempotency_key: impl Into<String>,
        order: &Order,
    ) -> Result<Enqueued, OutboxError> {
        let payload = serde_json::to_value(order).map_err(|err| PayloadError {
            event_type: sagas::OrderCreate::EVENT_TYPE.into(),
            reason: err.to_string(),
        })?;
        self.enqueue(
            tenant_id,
            idempotency_key,
            sagas::OrderCreate::EVENT_TYPE,
            payload,
        )
        .await
    }

    fn new_saga(
        &self,
        tenant_id: TenantId,
        idempotency_key: String,
        event_type: &str,
        payload: serde_json::Value,
    ) -> Result<NewSaga, OutboxError> {
        let saga_type = self
            .sagas
            .get(event_type)
            .ok_or_else(|| OutboxError::UnknownType(event_type.to_owned()))?;
        let summary = saga_type.check(&payload)?;
        if idempotency_key.trim().is_empty() || idempotency_key.len() > 128 {
            return Err(PayloadError {
                event_type: event_type.to_owned(),
                reason: "idempotency key must be 1 to 128 characters".into(),
            }
            .into());
        }
        Ok(NewSaga {
            tenant_id,
            idempotency_key,
            event_type: event_type.to_owned(),
            payload,
            payload_summary: summary,
            run_at: None,
        })
    }
}
