//! The router: route table, authentication, and the layers every request passes.

pub mod catalog;
pub mod health;
pub mod live;
pub mod openapi;
pub mod operator;
pub mod orders;
pub mod query;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, RawPathParams, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{any_matches, bearer};
use crate::metrics::HttpLabels;
use crate::problem::{Problem, problemize, route_not_found};
use crate::state::{AppState, TenantContext};

/// What tenant-scoped handlers take: the context [`tenant_auth`] resolved.
pub type Tenant = axum::Extension<Arc<TenantContext>>;

/// The whole HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    let tenant_routes = Router::new()
        .route(
            "/v1/tenants/{tenant}/prices:query",
            post(live::prices_query),
        )
        .route("/v1/tenants/{tenant}/stock:query", post(live::stock_query))
        .route("/v1/tenants/{tenant}/query", post(query::query))
        .route("/v1/tenants/{tenant}/articles", get(catalog::search))
        .route("/v1/tenants/{tenant}/articles/{id}", get(catalog::detail))
        .route(
            "/v1/tenants/{tenant}/sync",
            post(catalog::start).get(catalog::state),
        )
        .route("/v1/tenants/{tenant}/orders", post(orders::create_order))
        .route("/v1/tenants/{tenant}/orders/{id}", get(orders::get_order))
        .route_layer(middleware::from_fn_with_state(state.clone(), tenant_auth));

    let operator_routes = Router::new()
        .route("/api/erp/status", get(operator::status))
        .route("/api/erp/metrics", get(operator::metrics))
        .route("/api/erp/failed", get(operator::failed))
        .route("/api/erp/saga/{id}", get(operator::saga))
        .route("/api/erp/saga/{id}/retry", post(operator::retry))
        .route("/api/erp/retry", post(operator::batch_retry))
        .route(
            "/api/erp/drain",
            post(operator::drain_on).delete(operator::drain_off),
        )
        .route("/api/erp/tenants", get(operator::tenants))
        .route("/api/erp/connectors", get(operator::connectors))
        .route("/api/erp/config/reload", post(operator::reload_config))
        .route_layer(middleware::from_fn_with_state(state.clone(), operator_auth));

    let open_routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/version", get(health::version))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::serve));

    let body_limit = state.options().body_limit;
    Router::new()
        .merge(tenant_routes)
        .merge(operator_routes)
        .merge(open_routes)
        .fallback(route_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), http_metrics))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::map_response(problemize))
        .layer(CatchPanicLayer::custom(|_| {
            Problem::internal("the request handler failed unexpectedly").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(make_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

fn make_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        tenant = tracing::field::Empty,
    )
}

/// Resolves `{tenant}` and checks the Bearer key against that tenant's keys.
///
/// A key that belongs to no tenant is a 401. A valid key used on another tenant, or on a
/// tenant that does not exist, is the same 404: a key holder learns nothing about other
/// tenants, not even whether they exist.
pub async fn tenant_auth(
    State(state): State<AppState>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(name) = params
        .iter()
        .find(|(key, _)| *key == "tenant")
        .map(|(_, value)| value.to_owned())
    else {
        return Problem::not_found("no tenant in the path").into_response();
    };
    let presented = match bearer(request.headers()) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    let tenant = match state.tenant(&name) {
        Some(ctx) if any_matches(&ctx.keys(), &presented) => Arc::clone(ctx),
        _ => {
            let known = state.tenants().any(|t| any_matches(&t.keys(), &presented));
            return if known {
                Problem::not_found(format!("no tenant `{name}`")).into_response()
            } else {
                Problem::unauthorized("the API key is not valid").into_response()
            };
        }
    };
    tracing::Span::current().record("tenant", name.as_str());
    if let Err(wait) = tenant.check_rate() {
        state
            .metrics()
            .rate_limited
            .get_or_create(&crate::metrics::TenantLabels {
                tenant: name.clone(),
            })
            .inc();
        return Problem::rate_limited(
            format!("tenant `{name}` is over its request rate limit"),
            wait,
        )
        .into_response();
    }
    request.extensions_mut().insert(tenant);
    next.run(request).await
}

/// Operator API: only the configured operator keys.
pub async fn operator_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = match bearer(request.headers()) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    if !any_matches(&state.operator_keys(), &presented) {
        let tenant_key = state.tenants().any(|t| any_matches(&t.keys(), &presented));
        return if tenant_key {
            Problem::forbidden("tenant API keys cannot use the operator API").into_response()
        } else {
            Problem::unauthorized("the operator key is not valid").into_response()
        };
    }
    next.run(request).await
}

async fn http_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let mut response = next.run(request).await;
    let labels = HttpLabels {
        method,
        route,
        status: response.status().as_u16().to_string(),
    };
    let metrics = state.metrics();
    metrics.http_requests.get_or_create(&labels).inc();
    metrics
        .http_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
        .headers_mut()
        .entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
