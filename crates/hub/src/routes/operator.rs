//! The operator API (`/api/erp/...`, seed 004's monitoring endpoints and field names),
//! plus batch retry, the drain switch and the tenant overview.

use axum::extract::State;
use chrono::{DateTime, Utc};
use erpbridge_model::TenantId;
use erpbridge_provider::runtime::BreakerState;
use erpbridge_store::outbox::{
    FailedPage, FailedQuery, OutboxMetrics, OutboxStatus, RetryFilter, SagaDetail,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem};
use crate::routes::orders::store_problem;
use crate::services::{SyncActivity, last_successful_sync};
use crate::state::AppState;

/// Queue status (seed 004 `GET /api/erp/status`).
#[utoipa::path(get, path = "/api/erp/status", tag = "operator",
    responses((status = 200, body = Object, description = "pending_count, in_progress_count, completed_count, dead_count, oldest_pending_at, newest_pending_at, total_queue_size, backlog_hours, draining"),
        (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn status(State(state): State<AppState>) -> Result<ApiJson<OutboxStatus>, Problem> {
    let outbox = state.services().outbox()?;
    Ok(ApiJson(
        outbox.store().status().await.map_err(store_problem)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    /// 1 to 168; default 24.
    pub hours: Option<u32>,
}

/// Performance over the last N hours (seed 004 `GET /api/erp/metrics?hours=N`).
#[utoipa::path(get, path = "/api/erp/metrics", tag = "operator", params(MetricsParams),
    responses((status = 200, body = Object, description = "success_rate, avg_latency_seconds, total_processed, total_succeeded, total_failed, retry_metrics, dead_letter_queue_size, period_start, period_end"),
        (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn metrics(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<MetricsParams>,
) -> Result<ApiJson<OutboxMetrics>, Problem> {
    let hours = params.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(Problem::bad_request("`hours` must be between 1 and 168"));
    }
    let outbox = state.services().outbox()?;
    Ok(ApiJson(
        outbox.store().metrics(hours).await.map_err(store_problem)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FailedParams {
    /// 1-based; default 1.
    pub page: Option<u32>,
    /// 1 to 200; default 50.
    pub page_size: Option<u32>,
    /// Also list dead-lettered sagas.
    pub include_dead: Option<bool>,
}

/// Failed sync attempts, paginated (seed 004 `GET /api/erp/failed`).
#[utoipa::path(get, path = "/api/erp/failed", tag = "operator", params(FailedParams),
    responses((status = 200, body = Object, description = "items[], total_count, page, page_size"),
        (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn failed(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<FailedParams>,
) -> Result<ApiJson<FailedPage>, Problem> {
    let page = params.page.unwrap_or(1);
    let page_size = params.page_size.unwrap_or(50);
    if page == 0 {
        return Err(Problem::bad_request("`page` starts at 1"));
    }
    if !(1..=FailedQuery::MAX_PAGE_SIZE).contains(&page_size) {
        return Err(Problem::bad_request(format!(
            "`page_size` must be between 1 and {}",
            FailedQuery::MAX_PAGE_SIZE
        )));
    }
    let outbox = state.services().outbox()?;
    let query = FailedQuery {
        page,
        page_size,
        include_dead: params.include_dead.unwrap_or(false),
    };
    Ok(ApiJson(
        outbox.store().failed(query).await.map_err(store_problem)?,
    ))
}

fn saga_id(id: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| Problem::not_found(format!("no saga `{id}`")))
}

/// One saga in detail (seed 004 `GET /api/erp/saga/{id}`).
#[utoipa::path(get, path = "/api/erp/saga/{id}", tag = "operator",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Object, description = "saga_id, tenant_id, idempotency_key, event_type, status, attempts, next_run_at, last_error, payload, result_payload, processing_started_at, processed_at, created_at, updated_at, backoff_seconds, time_in_queue_seconds"),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("operator_key" = [])))]
pub async fn saga(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<SagaDetail>, Problem> {
    let id = saga_id(&id)?;
    let outbox = state.services().outbox()?;
    outbox
        .store()
        .detail(id)
        .await
        .map_err(store_problem)?
        .map(ApiJson)
        .ok_or_else(|| Problem::not_found(format!("no saga `{id}`")))
}

/// Retry one saga now (from dead, or ahead of its backoff).
#[utoipa::path(post, path = "/api/erp/saga/{id}/retry", tag = "operator",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Object, description = "The saga's detail after the reset"),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("operator_key" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<SagaDetail>, Problem> {
    let id = saga_id(&id)?;
    let outbox = state.services().outbox()?;
    match outbox.store().retry(id).await {
        Ok(_) => {}
        Err(erpbridge_store::StoreError::NotFound(_)) => {
            return Err(Problem::not_found(format!("no saga `{id}`")));
        }
        Err(erpbridge_store::StoreError::Conflict(reason)) => {
            return Err(Problem::conflict(reason));
        }
        Err(other) => return Err(store_problem(other)),
    }
    let detail = outbox
        .store()
        .detail(id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no saga `{id}`")))?;
    Ok(ApiJson(detail))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRetry {
    pub event_type: Option<String>,
    pub tenant_id: Option<String>,
    /// Substring of `last_error`.
    pub error_contains: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchRetryResult {
    pub retried: u64,
}

/// Retry every dead saga matching the filter.
#[utoipa::path(post, path = "/api/erp/retry", tag = "operator", request_body = BatchRetry,
    responses((status = 200, body = BatchRetryResult), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("operator_key" = [])))]
pub async fn batch_retry(
    State(state): State<AppState>,
    ApiJson(filter): ApiJson<BatchRetry>,
) -> Result<ApiJson<BatchRetryResult>, Problem> {
    let outbox = state.services().outbox()?;
    let filter = RetryFilter {
        event_type: filter.event_type,
        tenant_id: filter.tenant_id.map(TenantId::new),
        error_contains: filter.error_contains,
        created_from: filter.created_from,
        created_to: filter.created_to,
    };
    let retried = outbox
        .store()
        .retry_dead(&filter)
        .await
        .map_err(store_problem)?;
    Ok(ApiJson(BatchRetryResult { retried }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrainState {
    /// While true, workers claim nothing new and the hub accepts no new orders.
    pub draining: bool,
    pub total_queue_size: u64,
}

async fn set_drain(state: &AppState, on: bool) -> Result<ApiJson<DrainState>, Problem> {
    let outbox = state.services().outbox()?;
    outbox
        .store()
        .set_draining(on)
        .await
        .map_err(store_problem)?;
    state.set_draining(on);
    let status = outbox.store().status().await.map_err(store_problem)?;
    Ok(ApiJson(DrainState {
        draining: on,
        total_queue_size: status.total_queue_size,
    }))
}

/// Start draining (before an upgrade): no new work is claimed or accepted.
#[utoipa::path(post, path = "/api/erp/drain", tag = "operator",
    responses((status = 200, body = DrainState), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn drain_on(State(state): State<AppState>) -> Result<ApiJson<DrainState>, Problem> {
    set_drain(&state, true).await
}

/// Stop draining.
#[utoipa::path(delete, path = "/api/erp/drain", tag = "operator",
    responses((status = 200, body = DrainState), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn drain_off(State(state): State<AppState>) -> Result<ApiJson<DrainState>, Problem> {
    set_drain(&state, false).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantOverview {
    pub tenant: String,
    /// Provider type (`sim`, `tryton`, `remote`...).
    pub provider: String,
    pub ready: bool,
    /// `closed`, `open`, `half_open`, or `unknown` for providers outside the runtime.
    pub circuit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_warm: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<usize>,
    pub last_sync: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncActivity>,
}

/// Every tenant's provider, readiness, circuit state and last sync.
#[utoipa::path(get, path = "/api/erp/tenants", tag = "operator",
    responses((status = 200, body = Vec<TenantOverview>), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn tenants(State(state): State<AppState>) -> ApiJson<Vec<TenantOverview>> {
    let mut out = Vec::new();
    for tenant in state.tenants() {
        let stats = tenant.monitor.as_ref().map(|m| m.stats());
        out.push(TenantOverview {
            tenant: tenant.id.to_string(),
            provider: tenant.provider_kind.clone(),
            ready: tenant.is_ready(),
            circuit: match stats.as_ref().map(|s| s.breaker) {
                Some(BreakerState::Closed) => "closed",
                Some(BreakerState::Open) => "open",
                Some(BreakerState::HalfOpen) => "half_open",
                None => "unknown",
            }
            .to_owned(),
            sessions_warm: stats.as_ref().map(|s| s.sessions_warm),
            queue_depth: stats.as_ref().map(|s| s.queue_depth),
            last_sync: last_successful_sync(&state, tenant.id.as_str()).await,
            sync: state.services().syncs.get(tenant.id.as_str()),
        });
    }
    ApiJson(out)
}

/// On-premise connectors: tenant, id, version, address, last heartbeat, status.
#[utoipa::path(get, path = "/api/erp/connectors", tag = "operator",
    responses((status = 200, body = Vec<crate::connectors::ConnectorView>), (status = 401, body = Problem)),
    security(("operator_key" = [])))]
pub async fn connectors(
    State(state): State<AppState>,
) -> ApiJson<Vec<crate::connectors::ConnectorView>> {
    ApiJson(state.connectors())
}

/// Re-read the configuration file and apply what can change live: API keys, the
/// operator key, connector tokens (a revoked token's tunnel session is closed at once)
/// and connector configuration versions. Other changes are listed under
/// `restart_required`. An invalid file changes nothing: 422 with every error's key
/// path and line in `errors`.
#[utoipa::path(post, path = "/api/erp/config/reload", tag = "operator",
    responses((status = 200, body = crate::reload::ReloadReport),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "The hub runs without a configuration file"),
        (status = 422, body = Problem, description = "Invalid configuration: `errors` lists path, line, column, message")),
    security(("operator_key" = [])))]
pub async fn reload_config(
    State(state): State<AppState>,
) -> Result<ApiJson<crate::reload::ReloadReport>, Problem> {
    let for_reload = state.clone();
    let result = tokio::task::spawn_blocking(move || crate::reload::reload(&for_reload))
        .await
        .map_err(|_| Problem::internal("the configuration reload failed unexpectedly"))?
        .ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::CONFLICT,
                "not-reloadable",
                "this hub runs without a configuration file (the embedded default): there is nothing to reload",
            )
        })?;
    match result {
        Ok(report) => {
            tracing::info!(applied = ?report.applied, restart_required = ?report.restart_required, "configuration reloaded: {}", report.message);
            Ok(ApiJson(report))
        }
        Err(crate::reload::ReloadError::Invalid { file, errors }) => {
            let err = crate::reload::ReloadError::Invalid {
                file,
                errors: errors.clone(),
            };
            let first = errors
                .first()
                .map(|e| match e.line {
                    Some(line) => format!(": {} (line {line}): {}", e.path, e.message),
                    None => format!(": {}: {}", e.path, e.message),
                })
                .unwrap_or_default();
            tracing::warn!("configuration reload refused: {err}{first}");
            Err(Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-config",
                format!("{err}{first}"),
            )
            .with("errors", &errors))
        }
        Err(err @ crate::reload::ReloadError::Rejected(_)) => {
            tracing::warn!("configuration reload refused: {err}");
            Err(Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "config-not-applicable",
                err.to_string(),
            ))
        }
    }
}
