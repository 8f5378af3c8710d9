//! The outbox's vocabulary: rows, what a worker reports back, and the operator views.
//! The operator views serialise with seed 004's field names, so the HTTP API can return
//! them as they are.

use chrono::{DateTime, Utc};
use erpbridge_model::TenantId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use crate::error::StoreError;

/// Where a saga is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    /// Waiting until `next_run_at` (new, or retrying after a transient failure).
    Pending,
    /// Claimed by a worker that runs its steps forward.
    InProgress,
    /// Done; `result_payload` holds what the ERP answered.
    Completed,
    /// Given up: fatal error, retries exhausted, or compensation failed. Retry on demand.
    Dead,
    /// A step failed fatally after earlier steps took effect; those are being undone.
    Compensating,
    /// Every completed step was undone (e.g. the ERP order was cancelled). Terminal.
    Compensated,
}

impl SagaStatus {
    pub const ALL: [SagaStatus; 6] = [
        SagaStatus::Pending,
        SagaStatus::InProgress,
        SagaStatus::Completed,
        SagaStatus::Dead,
        SagaStatus::Compensating,
        SagaStatus::Compensated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Pending => "pending",
            SagaStatus::InProgress => "in_progress",
            SagaStatus::Completed => "completed",
            SagaStatus::Dead => "dead",
            SagaStatus::Compensating => "compensating",
            SagaStatus::Compensated => "compensated",
        }
    }

    /// Whether a worker may still pick the saga up.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            SagaStatus::Pending | SagaStatus::InProgress | SagaStatus::Compensating
        )
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SagaStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SagaStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown saga status `{s}`")))
    }
}

/// Which way a saga's steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Steps run in order; `step` counts the completed ones.
    Forward,
    /// Completed steps are undone in reverse; `step` counts the ones still to undo.
    Compensate,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::Compensate => "compensate",
        }
    }
}

impl FromStr for Phase {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "forward" => Ok(Phase::Forward),
            "compensate" => Ok(Phase::Compensate),
            other => Err(StoreError::Corrupt(format!("unknown saga phase `{other}`"))),
        }
    }
}

/// A saga to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSaga {
    pub tenant_id: TenantId,
    /// Unique per tenant; the same key with the same payload returns the existing saga.
    pub idempotency_key: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// One line for operator lists (e.g. `RECIPE-001 v1.0`).
    pub payload_summary: String,
    /// Not before this time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
}

/// One saga row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SagaRecord {
    pub saga_id: Uuid,
    pub tenant_id: TenantId,
    pub idempotency_key: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub payload_summary: String,
    pub status: SagaStatus,
    pub phase: Phase,
    pub step: u32,
    /// Outputs of completed steps (e.g. the ERP order id), so a retry resumes with them.
    pub saga_state: serde_json::Value,
    pub attempts: u32,
    pub next_run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub backoff_ms: Option<u64>,
    pub result_payload: Option<serde_json::Value>,
    pub processing_started_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What [`super::OutboxStore::enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub saga: SagaRecord,
    /// False when the key was known with the same payload and the existing saga is returned.
    pub created: bool,
}

/// A saga a worker now holds. Every write about it must present `lease_token`; once the
/// lease expired and another worker claimed the saga, those writes fail with
/// [`StoreError::LeaseLost`], so a stalled worker cannot overwrite newer progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub saga: SagaRecord,
    pub lease_token: Uuid,
    pub lease_until: DateTime<Utc>,
}

/// A worker's report about a saga it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Settle {
    pub saga_id: Uuid,
    pub lease_token: Uuid,
    pub action: SettleAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SettleAction {
    /// A step finished (or a compensation); keep the lease and go on.
    Progress {
        phase: Phase,
        step: u32,
        state: serde_json::Value,
    },
    /// Every step finished.
    Complete { result: serde_json::Value },
    /// Failed transiently: release the lease and run again after `delay`.
    Retry {
        phase: Phase,
        step: u32,
        state: serde_json::Value,
        error: String,
        delay: Duration,
    },
    /// Failed for good.
    Dead {
        phase: Phase,
        step: u32,
        state: serde_json::Value,
        error: String,
    },
    /// Compensation finished; `error` is the failure that made it necessary.
    Compensated {
        state: serde_json::Value,
        error: String,
    },
}

/// `GET /api/erp/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboxStatus {
    pub pending_count: u64,
    pub in_progress_count: u64,
    pub completed_count: u64,
    pub dead_count: u64,
    pub compensating_count: u64,
    pub compensated_count: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub newest_pending_at: Option<DateTime<Utc>>,
    /// Sagas not finished yet: pending + in progress + compensating.
    pub total_queue_size: u64,
    /// Age of the oldest pending saga, in hours (0 when nothing is pending).
    pub backlog_hours: f64,
    /// Whether the drain switch is on (workers claim nothing new).
    pub draining: bool,
}

/// `GET /api/erp/metrics?hours=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboxMetrics {
    /// Percent of the sagas finished in the period that completed (100 when none finished).
    pub success_rate: f64,
    /// Mean time from enqueue to completion of the sagas completed in the period.
    pub avg_latency_seconds: f64,
    /// Sagas that reached a final state in the period.
    pub total_processed: u64,
    pub total_succeeded: u64,
    /// Dead or compensated in the period.
    pub total_failed: u64,
    pub retry_metrics: RetryMetrics,
    /// Dead sagas now, regardless of the period.
    pub dead_letter_queue_size: u64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetryMetrics {
    /// Executions beyond the first, over sagas touched in the period.
    pub total_retries: u64,
    pub avg_retries_per_saga: f64,
    #[schemars(with = "Option<String>")]
    pub max_retries_saga_id: Option<Uuid>,
    pub max_retries_count: u64,
    pub sagas_with_retries: u64,
}

/// `GET /api/erp/failed` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedQuery {
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
    /// Also list dead and compensated sagas, not only those still retrying.
    pub include_dead: bool,
}

impl FailedQuery {
    pub const MAX_PAGE_SIZE: u32 = 200;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedPage {
    pub items: Vec<FailedItem>,
    pub total_count: u64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedItem {
    #[schemars(with = "String")]
    pub saga_id: Uuid,
    pub tenant_id: String,
    pub event_type: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: SagaStatus,
    pub payload_summary: String,
}

/// `GET /api/erp/saga/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SagaDetail {
    #[schemars(with = "String")]
    pub saga_id: Uuid,
    pub tenant_id: String,
    pub idempotency_key: String,
    pub event_type: String,
    pub status: SagaStatus,
    pub phase: Phase,
    /// Forward: steps completed; compensating: steps still to undo.
    pub step: u32,
    pub attempts: u32,
    pub next_run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub payload: serde_json::Value,
    pub payload_summary: String,
    pub saga_state: serde_json::Value,
    pub result_payload: Option<serde_json::Value>,
    pub processing_started_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The delay chosen after the last failure, while the saga waits for its retry.
    pub backoff_seconds: Option<u64>,
    /// Enqueue to final state for finished sagas; enqueue to now for the others.
    pub time_in_queue_seconds: Option<f64>,
}

/// Which sagas a batch retry resets. Only dead sagas are retried in batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryFilter {
    pub event_type: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// Case-sensitive substring of `last_error`.
    pub error_contains: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}
