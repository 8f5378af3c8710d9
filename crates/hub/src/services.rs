//! The hub's back-end services: catalog store and search index, sync engine, outbox.
//!
//! The live path and query streaming need only providers, so every service is optional:
//! a route that needs a missing one answers `503` with a problem naming it. `erpbridge
//! serve` starts all of them; tests start what they exercise.

use chrono::{DateTime, Utc};
use erpbridge_outbox::Outbox;
use erpbridge_search::SearchIndexes;
use erpbridge_store::catalog::CatalogStore;
use erpbridge_sync::{SyncEngine, SyncMode};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{StatusLabels, TenantLabels};
use crate::problem::Problem;
use crate::state::AppState;

/// The services the hub was started with.
#[derive(Clone, Default)]
pub struct Services {
    pub outbox: Option<Outbox>,
    pub catalog: Option<CatalogStore>,
    pub search: Option<Arc<SearchIndexes>>,
    pub sync: Option<Arc<SyncEngine>>,
    /// Syncs started through the API, per tenant.
    pub syncs: Arc<SyncTracker>,
}

impl Services {
    pub fn outbox(&self) -> Result<&Outbox, Problem> {
        self.outbox.as_ref().ok_or_else(|| missing("the outbox"))
    }
    pub fn catalog(&self) -> Result<&CatalogStore, Problem> {
        self.catalog
            .as_ref()
            .ok_or_else(|| missing("the catalog store"))
    }
    pub fn search(&self) -> Result<&Arc<SearchIndexes>, Problem> {
        self.search
            .as_ref()
            .ok_or_else(|| missing("the search index"))
    }
    pub fn sync(&self) -> Result<&Arc<SyncEngine>, Problem> {
        self.sync.as_ref().ok_or_else(|| missing("the sync engine"))
    }
}

fn missing(what: &str) -> Problem {
    Problem::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "service-not-configured",
        format!("{what} is not configured in this hub"),
    )
}

/// A sync started through the API, as `GET .../sync` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncActivity {
    pub mode: String,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upserted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The latest API-started sync per tenant. At most one runs per tenant: the engine's
/// store lock guarantees it across processes, this map answers `409` without a
/// round trip for the common case.
#[derive(Default)]
pub struct SyncTracker {
    runs: Mutex<HashMap<String, SyncActivity>>,
}

impl SyncTracker {
    pub fn get(&self, tenant: &str) -> Option<SyncActivity> {
        self.runs.lock().get(tenant).cloned()
    }

    /// Records a start; `false` if one is already running for the tenant.
    pub fn try_start(&self, tenant: &str, mode: SyncMode) -> bool {
        let mut runs = self.runs.lock();
        if runs.get(tenant).is_some_and(|r| r.status == "running") {
            return false;
        }
        runs.insert(
            tenant.to_owned(),
            SyncActivity {
                mode: mode.as_str().to_owned(),
                started_at: Utc::now(),
                finished_at: None,
                status: "running".into(),
                upserted: None,
                deleted: None,
                error: None,
            },
        );
        true
    }

    pub fn finish(&self, tenant: &str, result: Result<(u64, u64), String>) {
        if let Some(run) = self.runs.lock().get_mut(tenant) {
            run.finished_at = Some(Utc::now());
            match result {
                Ok((upserted, deleted)) => {
                    run.status = "succeeded".into();
                    run.upserted = Some(upserted);
                    run.deleted = Some(deleted);
                }
                Err(error) => {
                    run.status = "failed".into();
                    run.error = Some(error);
                }
            }
        }
    }
}

/// Starts a sync of `tenant` in the background; `Err` if one is running.
pub fn start_sync(state: &AppState, tenant: &str, mode: SyncMode) -> Result<SyncActivity, Problem> {
    let engine = Arc::clone(state.services().sync()?);
    let Some(ctx) = state.tenant(tenant).cloned() else {
        return Err(Problem::not_found(format!("no tenant `{tenant}`")));
    };
    let tracker = Arc::clone(&state.services().syncs);
    if !tracker.try_start(tenant, mode) {
        return Err(Problem::conflict(format!(
            "a sync of tenant `{tenant}` is already running"
        )));
    }
    let activity = tracker
        .get(tenant)
        .ok_or_else(|| Problem::internal("sync state lost"))?;
    let tenant = tenant.to_owned();
    tokio::spawn(async move {
        let result = engine
            .run(
                &tenant,
                Arc::clone(&ctx.provider),
                &ctx.provider_kind,
                mode,
                None,
            )
            .await;
        match result {
            Ok(report) => {
                tracing::info!(tenant = %tenant, upserted = report.upserted(), deleted = report.deleted(), elapsed_ms = report.elapsed_ms, "sync finished");
                tracker.finish(&tenant, Ok((report.upserted(), report.deleted())));
            }
            Err(error) => {
                tracing::warn!(tenant = %tenant, %error, "sync failed");
                tracker.finish(&tenant, Err(error.to_string()));
            }
        }
    });
    Ok(activity)
}

/// When the tenant's catalog last synced successfully (from the store's run log).
pub async fn last_successful_sync(state: &AppState, tenant: &str) -> Option<DateTime<Utc>> {
    let catalog = state.services().catalog.as_ref()?;
    let runs = catalog.runs(tenant, 20).await.ok()?;
    runs.iter()
        .filter(|r| r.status == erpbridge_store::catalog::RunStatus::Succeeded)
        .filter_map(|r| r.finished_ms)
        .max()
        .and_then(DateTime::from_timestamp_millis)
}

/// Refreshes the gauges that mirror service state (outbox depth, sync lag).
pub async fn refresh_gauges(state: &AppState) {
    let metrics = state.metrics();
    if let Some(outbox) = &state.services().outbox
        && let Ok(status) = outbox.store().status().await
    {
        for (name, count) in [
            ("pending", status.pending_count),
            ("in_progress", status.in_progress_count),
            ("completed", status.completed_count),
            ("dead", status.dead_count),
            ("compensating", status.compensating_count),
            ("compensated", status.compensated_count),
        ] {
            metrics
                .outbox_sagas
                .get_or_create(&StatusLabels {
                    status: name.to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
    if state.services().catalog.is_some() {
        for tenant in state.tenants() {
            if let Some(at) = last_successful_sync(state, tenant.id.as_str()).await {
                let lag = (Utc::now() - at)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64();
                metrics
                    .sync_lag
                    .get_or_create(&TenantLabels {
                        tenant: tenant.id.to_string(),
                    })
                    .set(lag);
            }
        }
    }
}
