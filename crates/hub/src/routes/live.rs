//! `prices:query` and `stock:query`: bulk live lookups through the tenant's cache.

use axum::extract::State;
use chrono::{DateTime, Utc};
use erpbridge_model::{ArticleId, CustomerId, PriceQuote, StockLevel};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::live;
use crate::problem::{ApiJson, Problem};
use crate::routes::Tenant;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PricesQuery {
    pub customer: String,
    pub article_ids: Vec<String>,
    /// Quantity to price (quantity breaks); 1 when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PriceOut {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub quote: PriceQuote,
    /// When the ERP computed this price (a cached value keeps its original time).
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PricesResponse {
    pub customer: String,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub prices: Vec<PriceOut>,
    /// Requested articles the ERP does not know.
    pub missing: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    pub article_ids: Vec<String>,
    /// Only these warehouses; all when absent or empty.
    #[serde(default)]
    pub warehouse_ids: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockOut {
    pub article_id: String,
    #[schema(value_type = String)]
    pub total_available: Decimal,
    #[schema(value_type = Vec<Object>)]
    pub levels: Vec<StockLevel>,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockResponse {
    pub stock: Vec<StockOut>,
    pub missing: Vec<String>,
}

pub(crate) fn check_ids(ids: &[String], max: usize) -> Result<Vec<ArticleId>, Problem> {
    if ids.is_empty() {
        return Err(Problem::validation(
            "`article_ids` must list at least one article",
        ));
    }
    if ids.len() > max {
        return Err(Problem::validation(format!(
            "`article_ids` lists {} articles, at most {max} are allowed per request",
            ids.len()
        )));
    }
    if let Some(pos) = ids.iter().position(|id| id.trim().is_empty()) {
        return Err(Problem::validation(format!(
            "`article_ids[{pos}]` is empty"
        )));
    }
    Ok(ids.iter().map(|id| ArticleId::new(id.as_str())).collect())
}

/// Live prices for one customer, cached per (customer, article, quantity).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/prices:query", tag = "live",
    params(("tenant" = String, Path)),
    request_body = PricesQuery,
    responses((status = 200, body = PricesResponse),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn prices_query(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiJson(query): ApiJson<PricesQuery>,
) -> Result<ApiJson<PricesResponse>, Problem> {
    if query.customer.trim().is_empty() {
        return Err(Problem::validation("`customer` must not be empty"));
    }
    let quantity = query.quantity.unwrap_or(Decimal::ONE);
    if quantity <= Decimal::ZERO {
        return Err(Problem::validation("`quantity` must be greater than zero"));
    }
    let ids = check_ids(&query.article_ids, state.options().max_bulk_items)?;
    let customer = CustomerId::new(query.customer.as_str());
    let found = live::prices(&tenant, state.metrics(), &customer, &ids, quantity).await?;
    let mut prices = Vec::new();
    let mut missing = Vec::new();
    for (article, fresh) in found {
        match fresh.value {
            Some(quote) => prices.push(PriceOut {
                quote,
                fetched_at: fresh.fetched_at,
            }),
            None => missing.push(article.to_string()),
        }
    }
    Ok(ApiJson(PricesResponse {
        customer: query.customer,
        quantity,
        prices,
        missing,
    }))
}

/// Live stock per article (all warehouses, or the ones asked for).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/stock:query", tag = "live",
    params(("tenant" = String, Path)),
    request_body = StockQuery,
    responses((status = 200, body = StockResponse),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn stock_query(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiJson(query): ApiJson<StockQuery>,
) -> Result<ApiJson<StockResponse>, Problem> {
    let ids = check_ids(&query.article_ids, state.options().max_bulk_items)?;
    let found = live::stock(&tenant, state.metrics(), &ids).await?;
    let mut stock = Vec::new();
    let mut missing = Vec::new();
    for (article, fresh) in found {
        if fresh.value.is_empty() {
            missing.push(article.to_string());
            continue;
        }
        stock.push(stock_out(&article, fresh, &query.warehouse_ids));
    }
    Ok(ApiJson(StockResponse { stock, missing }))
}

pub(crate) fn stock_out(
    article: &ArticleId,
    fresh: live::Fresh<Vec<StockLevel>>,
    warehouses: &[String],
) -> StockOut {
    let levels: Vec<StockLevel> = fresh
        .value
        .into_iter()
        .filter(|l| {
            warehouses.is_empty() || warehouses.iter().any(|w| w == l.warehouse_id.as_str())
        })
        .collect();
    StockOut {
        article_id: article.to_string(),
        total_available: levels.iter().map(|l| l.available).sum(),
        levels,
        fetched_at: fresh.fetched_at,
    }
}
