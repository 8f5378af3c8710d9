//! The synced catalog: search and detail from the local store and index (never the ERP),
//! the detail merged with live price and stock when a customer is given; and the sync
//! trigger.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use erpbridge_model::{Article, ArticleId, CustomerId};
use erpbridge_search::SearchRequest;
use erpbridge_sync::SyncMode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::live;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem};
use crate::routes::Tenant;
use crate::routes::live::{PriceOut, StockOut, stock_out};
use crate::services::{SyncActivity, start_sync};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to look for; empty lists everything.
    pub q: Option<String>,
    pub category: Option<String>,
    /// 1 to 1000; default 50.
    pub page_size: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Article>,
    /// Matches in all pages: exactly (`total_relation` `eq`) or at least (`gte`). Words
    /// that much of the catalog has are counted up to a threshold (10,000 by default),
    /// as Elasticsearch's `hits.total` is; paging goes on past it.
    pub total: u64,
    pub total_relation: TotalRelation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Search the tenant's synced catalog.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/articles", tag = "catalog",
    params(("tenant" = String, Path), SearchParams),
    responses((status = 200, body = SearchResponse),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn search(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<ApiJson<SearchResponse>, Problem> {
    let page_size = params.page_size.unwrap_or(50);
    if !(1..=1000).contains(&page_size) {
        return Err(Problem::bad_request(
            "`page_size` must be between 1 and 1000",
        ));
    }
    let index = state
        .services()
        .search()?
        .tenant(tenant.id.as_str())
        .map_err(|e| Problem::internal(format!("search index: {e}")))?;
    let request = SearchRequest {
        query: params.q.unwrap_or_default(),
        category: params.category,
        limit: page_size,
        cursor: params.cursor,
    };
    // tantivy searches block; keep them off the async workers.
    let page = tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(|_| Problem::internal("search task failed"))?
        .map_err(|e| Problem::bad_request(format!("search failed: {e}")))?;
    let ids: Vec<i64> = page
        .hits
        .iter()
        .filter_map(|h| i64::try_from(h.local_id).ok())
        .collect();
    let stored = state
        .services()
        .catalog()?
        .articles_by_local_ids(tenant.id.as_str(), &ids)
        .await
        .map_err(crate::routes::orders::store_problem)?;
    Ok(ApiJson(SearchResponse {
        items: stored.into_iter().map(|s| s.article).collect(),
        total: page.total,
        total_relation: match page.total_relation {
            erpbridge_search::TotalRelation::Exact => TotalRelation::Eq,
            erpbridge_search::TotalRelation::AtLeast => TotalRelation::Gte,
        },
        next_cursor: page.next_cursor,
    }))
}

/// Whether a search's `total` is every match or a lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TotalRelation {
    /// `total` matches.
    Eq,
    /// At least `total` matches.
    Gte,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailParams {
    /// Merge this customer's live price and the live stock.
    pub customer: Option<String>,
    /// Quantity to price; default 1.
    #[param(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleDetail {
    #[schema(value_type = Object)]
    pub article: Article,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockOut>,
    /// Why live data is missing (the ERP is down...), when it is. The master data is
    /// local and still served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_error: Option<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_checked_at: Option<DateTime<Utc>>,
}

/// One article's master data, with live price and stock when `customer` is given.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/articles/{id}", tag = "catalog",
    params(("tenant" = String, Path), ("id" = String, Path), DetailParams),
    responses((status = 200, body = ArticleDetail),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiPath((_, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<DetailParams>,
) -> Result<ApiJson<ArticleDetail>, Problem> {
    let article = state
        .services()
        .catalog()?
        .article(tenant.id.as_str(), &id)
        .await
        .map_err(crate::routes::orders::store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no article `{id}` in the catalog")))?;
    let mut out = ArticleDetail {
        article,
        price: None,
        stock: None,
        live_error: None,
        live_checked_at: None,
    };
    if let Some(customer) = params.customer.filter(|c| !c.trim().is_empty()) {
        let quantity = params.quantity.unwrap_or(Decimal::ONE);
        if quantity <= Decimal::ZERO {
            return Err(Problem::bad_request("`quantity` must be greater than zero"));
        }
        let ids = [ArticleId::new(id.as_str())];
        let customer = CustomerId::new(customer);
        let metrics = Arc::clone(state.metrics());
        let (prices, stock) = tokio::join!(
            live::prices(&tenant, &metrics, &customer, &ids, quantity),
            live::stock(&tenant, &metrics, &ids)
        );
        out.live_checked_at = Some(Utc::now());
        match prices {
            Ok(mut found) => {
                if let Some((_, fresh)) = found.pop()
                    && let Some(quote) = fresh.value
                {
                    out.price = Some(PriceOut {
                        quote,
                        fetched_at: fresh.fetched_at,
                    });
                }
            }
            Err(e) => out.live_error = Some(Problem::from(e)),
        }
        match stock {
            Ok(mut found) => {
                if let Some((article, fresh)) = found.pop() {
                    out.stock = Some(stock_out(&article, fresh, &[]));
                }
            }
            Err(e) => out.live_error = Some(Problem::from(e)),
        }
    }
    Ok(ApiJson(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncStart {
    /// `delta` (default) or `full`.
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncState {
    pub tenant: String,
    /// The latest sync started through the API in this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<SyncActivity>,
    /// When the catalog last synced successfully (any process).
    pub last_success: Option<DateTime<Utc>>,
}

/// Start a sync of the tenant's catalog now.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/sync", tag = "catalog",
    params(("tenant" = String, Path)), request_body = SyncStart,
    responses((status = 202, body = SyncState), (status = 409, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn start(
    State(state): State<AppState>,
    tenant: Tenant,
    ApiJson(body): ApiJson<SyncStart>,
) -> Result<Response, Problem> {
    let mode = match body.mode.as_deref().unwrap_or("delta") {
        "delta" => SyncMode::Delta,
        "full" => SyncMode::Full,
        other => {
            return Err(Problem::validation(format!(
                "`mode` must be `delta` or `full`, not `{other}`"
            )));
        }
    };
    let activity = start_sync(&state, tenant.id.as_str(), mode)?;
    let out = SyncState {
        tenant: tenant.id.to_string(),
        current: Some(activity),
        last_success: crate::services::last_successful_sync(&state, tenant.id.as_str()).await,
    };
    Ok((StatusCode::ACCEPTED, ApiJson(out)).into_response())
}

/// The tenant's sync state.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/sync", tag = "catalog",
    params(("tenant" = String, Path)),
    responses((status = 200, body = SyncState), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn state(State(state): State<AppState>, tenant: Tenant) -> ApiJson<SyncState> {
    ApiJson(SyncState {
        tenant: tenant.id.to_string(),
        current: state.services().syncs.get(tenant.id.as_str()),
        last_success: crate::services::last_successful_sync(&state, tenant.id.as_str()).await,
    })
}
