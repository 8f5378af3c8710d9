//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.
//! A test checks that every route of the router is documented and vice versa.

use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{catalog, health, live, operator, orders, query};

#[derive(OpenApi)]
#[openapi(
    info(title = "erpbridge hub", description = "ERP integration hub: catalog, live prices and stock, orders through a durable outbox, operator API. Errors are RFC 9457 application/problem+json."),
    paths(
        health::healthz, health::readyz, health::version, health::metrics,
        live::prices_query, live::stock_query, query::query,
        catalog::search, catalog::detail, catalog::start, catalog::state,
        orders::create_order, orders::get_order,
        operator::status, operator::metrics, operator::failed, operator::saga,
        operator::retry, operator::batch_retry, operator::drain_on, operator::drain_off,
        operator::tenants, operator::connectors, operator::reload_config,
    ),
    modifiers(&Security),
    tags((name = "live", description = "Live prices and stock, always from the ERP (short TTL cache)"),
        (name = "catalog", description = "The synced catalog: search, detail, sync"),
        (name = "orders", description = "Orders through the outbox"),
        (name = "operator", description = "Operator API (operator key)"),
        (name = "health", description = "Health, readiness, version, metrics"))
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["tenant_key", "operator_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}
