//! Liveness, readiness, version and the Prometheus scrape.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use erpbridge_provider::runtime::BreakerState;
use serde::Serialize;

use crate::metrics::TenantLabels;
use crate::problem::{ApiJson, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantReadiness {
    pub tenant: String,
    pub ready: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub tenants: Vec<TenantReadiness>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub name: &'static str,
    /// The release version: the compiled one, or `ERPBRIDGE_VERSION_OVERRIDE`.
    pub version: &'static str,
    /// The compiled version, always; differs from `version` only under the override.
    pub build: &'static str,
}

/// Names the release version the process reports at `/version` instead of the compiled
/// one. A packaging and test hook: one build can stand in for two releases, which is
/// how the update agent's test with the real binary gets a "v2" without a second
/// build. `build` in the answer keeps the compiled version visible.
pub const VERSION_OVERRIDE_ENV: &str = "ERPBRIDGE_VERSION_OVERRIDE";

fn reported_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        std::env::var(VERSION_OVERRIDE_ENV)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
    })
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

/// Ready to take traffic: every tenant's provider is warm and the hub is not shutting
/// down. 503 (a problem listing the tenants) otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let tenants: Vec<TenantReadiness> = state
        .tenants()
        .map(|t| TenantReadiness {
            tenant: t.id.to_string(),
            ready: t.is_ready(),
        })
        .collect();
    let ready = tenants.iter().all(|t| t.ready) && !state.is_shutting_down();
    if ready {
        ApiJson(Readiness { ready, tenants }).into_response()
    } else {
        let detail = if state.is_shutting_down() {
            "the hub is shutting down".to_owned()
        } else {
            let cold: Vec<&str> = tenants
                .iter()
                .filter(|t| !t.ready)
                .map(|t| t.tenant.as_str())
                .collect();
            format!("tenants not warm yet: {}", cold.join(", "))
        };
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", detail)
            .with("tenants", &tenants)
            .into_response()
    }
}

#[utoipa::path(get, path = "/version", tag = "health", responses((status = 200, body = Version)))]
pub async fn version() -> ApiJson<Version> {
    ApiJson(Version {
        name: "erpbridge",
        version: reported_version(),
        build: env!("CARGO_PKG_VERSION"),
    })
}

/// Prometheus/OpenMetrics text. Gauges mirroring runtime state are refreshed here.
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    refresh_gauges(&state).await;
    let body = state.metrics().encode();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn refresh_gauges(state: &AppState) {
    let metrics = state.metrics();
    for tenant in state.tenants() {
        let labels = TenantLabels {
            tenant: tenant.id.to_string(),
        };
        metrics
            .provider_ready
            .get_or_create(&labels)
            .set(i64::from(tenant.is_ready()));
        if let Some(monitor) = &tenant.monitor {
            let stats = monitor.stats();
            metrics
                .circuit_open
                .get_or_create(&labels)
                .set(i64::from(stats.breaker != BreakerState::Closed));
            metrics
                .provider_queue_depth
                .get_or_create(&labels)
                .set(i64::try_from(stats.queue_depth).unwrap_or(i64::MAX));
        }
    }
    for connector in state.connectors() {
        let labels = TenantLabels {
            tenant: connector.tenant.clone(),
        };
        metrics
            .connector_online
            .get_or_create(&labels)
            .set(i64::from(connector.is_online()));
        if let Some(at) = connector.last_heartbeat {
            let age = (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics
                .connector_heartbeat_age
                .get_or_create(&labels)
                .set(age);
        }
        metrics
            .connector_calls_in_flight
            .get_or_create(&labels)
            .set(i64::try_from(connector.calls_in_flight).unwrap_or(i64::MAX));
        metrics
            .connector_sessions
            .get_or_create(&labels)
            .set(i64::try_from(connector.sessions).unwrap_or(i64::MAX));
    }
    crate::services::refresh_gauges(state).await;
}
