//! Orders through the outbox: `POST /v1/tenants/{t}/orders` with `Idempotency-Key`,
//! `GET /v1/tenants/{t}/orders/{id}`.
//!
//! Accepting an order is one durable enqueue (the saga row), then `202 Accepted` with a
//! `Location`. `Prefer: wait=N` holds the answer up to N seconds (capped) and returns
//! `201 Created` if the saga completed by then. The order id is the saga id.
//!
//! Idempotency is the outbox's: the same key with the same body is the same saga (the
//! answer says `Idempotent-Replayed: true`), the same key with another body is `409`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use erpbridge_model::{ErpOrderId, Order};
use erpbridge_outbox::OutboxError;
use erpbridge_store::StoreError;
use erpbridge_store::outbox::{SagaRecord, SagaStatus};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

use crate::live;
use crate::problem::{ApiJson, ApiPath, Problem};
use crate::routes::Tenant;
use crate::state::{AppState, TenantContext};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    /// The order's id in the hub (its saga id).
    pub order_id: Uuid,
    pub idempotency_key: String,
    /// Saga status: `pending`, `in_progress`, `completed`, `dead`, `compensating`, `compensated`.
    pub status: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub next_run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The ERP's order id, once the ERP created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erp_order_id: Option<String>,
    /// What the saga recorded when it finished (`erp_order_id`, `state`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The ERP's current status of the order (live, cached for the order-status TTL).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub erp_status: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erp_status_fetched_at: Option<DateTime<Utc>>,
    pub links: OrderLinks,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderLinks {
    #[serde(rename = "self")]
    pub self_: String,
}

fn location(tenant: &TenantContext, id: Uuid) -> String {
    format!("/v1/tenants/{}/orders/{id}", tenant.id)
}

fn erp_order_id(saga: &SagaRecord) -> Option<String> {
    saga.saga_state
        .get("erp_order_id")
        .or_else(|| {
            saga.result_payload
                .as_ref()
                .and_then(|r| r.get("erp_order_id"))
        })
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn view(tenant: &TenantContext, saga: &SagaRecord) -> OrderView {
    OrderView {
        order_id: saga.saga_id,
        idempotency_key: saga.idempotency_key.clone(),
        status: saga.status.as_str().to_owned(),
        attempts: saga.attempts,
        last_error: saga.last_error.clone(),
        next_run_at: saga.next_run_at,
        created_at: saga.created_at,
        updated_at: saga.updated_at,
        erp_order_id: erp_order_id(saga),
        result: saga.result_payload.clone(),
        erp_status: None,
        erp_status_fetched_at: None,
        links: OrderLinks {
            self_: location(tenant, saga.saga_id),
        },
    }
}

/// `Prefer: wait=N` (RFC 7240), N in seconds.
fn prefer_wait(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| {
            let (name, value) = pref.trim().split_once('=')?;
            (name.trim().eq_ignore_ascii_case("wait"))
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .next()
        .map(Duration::from_secs)
}

pub(crate) fn store_problem(error: StoreError) -> Problem {
    match error {
        StoreError::IdempotencyConflict { .. } => Problem::conflict(format!(
            "{error}; use a new Idempotency-Key for a different order"
        )),
        other => {
            tracing::error!(error = %other, "store error");
            Problem::unavailable(
                "the hub's store is not available right now",
                Duration::from_secs(1),
            )
        }
    }
}

/// Accept an order: validated, enqueued durably, then written to the ERP by the outbox.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/orders", tag = "orders",
    params(("tenant" = String, Path),
        ("Idempotency-Key" = String, Header, description = "1 to 128 characters; the same key with the same body is the same order"),
        ("Prefer" = Option<String>, Header, description = "`wait=N`: wait up to N seconds for completion")),
    request_body(content = Object, description = "An order: customer_id, lines[{article_id, quantity, unit_price?}], external_reference?, currency?, comment?"),
    responses((status = 202, body = OrderView, description = "Accepted; see Location"),
        (status = 201, body = OrderView, description = "Completed within the Prefer wait"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn create_order(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    ApiJson(order): ApiJson<Order>,
) -> Result<Response, Problem> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| Problem::bad_request("an `Idempotency-Key` header is required for orders"))?
        .to_str()
        .map_err(|_| Problem::bad_request("`Idempotency-Key` must be visible ASCII"))?
        .trim()
        .to_owned();
    if key.is_empty() || key.len() > 128 {
        return Err(Problem::bad_request(
            "`Idempotency-Key` must be 1 to 128 characters",
        ));
    }
    order
        .validate()
        .map_err(|e| Problem::validation(format!("the order is not valid: {e}")))?;
    let outbox = state.services().outbox()?;
    if state.is_draining() {
        return Err(Problem::unavailable(
            "the hub is draining its outbox for maintenance; no new orders are accepted",
            Duration::from_secs(30),
        ));
    }
    let enqueued = outbox
        .enqueue_order(tenant.id.clone(), key, &order)
        .await
        .map_err(|e| match e {
            OutboxError::Store(store) => store_problem(store),
            OutboxError::InvalidPayload(p) => Problem::validation(p.to_string()),
            OutboxError::UnknownType(t) => Problem::internal(format!("saga type `{t}` missing")),
        })?;
    let mut saga = enqueued.saga;
    let wait = prefer_wait(&headers).map(|w| w.min(state.options().max_prefer_wait));
    if let Some(wait) = wait {
        saga = wait_for(&state, saga, wait).await?;
    }
    let completed = saga.status == SagaStatus::Completed;
    let status = if completed {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = (status, ApiJson(view(&tenant, &saga))).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location(&tenant, saga.saga_id)) {
        headers.insert(header::LOCATION, value);
    }
    if !enqueued.created {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Some(wait) = wait
        && let Ok(value) = HeaderValue::from_str(&format!("wait={}", wait.as_secs()))
    {
        headers.insert("preference-applied", value);
    }
    Ok(response)
}

/// Polls the saga until it leaves the active states or `wait` is over. Polling (every
/// 10–100 ms) keeps this independent of which process runs the workers.
async fn wait_for(
    state: &AppState,
    saga: SagaRecord,
    wait: Duration,
) -> Result<SagaRecord, Problem> {
    let outbox = state.services().outbox()?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut current = saga;
    let mut pause = Duration::from_millis(10);
    while current.status.is_active() {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(100));
        match outbox.store().get(current.saga_id).await {
            Ok(Some(saga)) => current = saga,
            Ok(None) => break,
            Err(e) => return Err(store_problem(e)),
        }
    }
    Ok(current)
}

/// An order's saga state and the ERP's live status of it.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders/{id}", tag = "orders",
    params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = OrderView),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn get_order(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiPath((_, id)): ApiPath<(String, String)>,
) -> Result<ApiJson<OrderView>, Problem> {
    let not_found = || Problem::not_found(format!("no order `{id}` for this tenant"));
    let saga_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let outbox = state.services().outbox()?;
    let saga = outbox
        .store()
        .get(saga_id)
        .await
        .map_err(store_problem)?
        // Another tenant's saga is as absent as a saga that does not exist.
        .filter(|s| s.tenant_id == tenant.id)
        .ok_or_else(not_found)?;
    let mut out = view(&tenant, &saga);
    if let Some(erp_id) = &out.erp_order_id {
        match live::order_status(&tenant, state.metrics(), &ErpOrderId::new(erp_id.as_str())).await
        {
            Ok(fresh) => {
                out.erp_status = fresh.value.and_then(|s| serde_json::to_value(s).ok());
                out.erp_status_fetched_at = Some(fresh.fetched_at);
            }
            // The saga state is the hub's own and always answerable; the ERP's view is
            // a bonus that may be missing while the ERP is down.
            Err(error) => tracing::debug!(%error, "order status lookup failed"),
        }
    }
    Ok(ApiJson(out))
}
