//! Provider calls as tunnel frames, both ways: the connector turns a [`pb::call::Request`]
//! into a provider call and its result into a [`pb::reply::Result`]; the hub turns a
//! reply back into the SDK's types. Decoding is `erpbridge_remote::convert`'s strict
//! conversion: the peer is another process, possibly another vendor's.

use std::time::Duration;

use erpbridge_model::query::Query;
use erpbridge_provider::{
    BomSyncRequest, CatalogPageRequest, CreateOrderRequest, ErrorKind, InventoryAdjustRequest,
    OrderActionRequest, OrderLookup, PriceRequest, Provider, ProviderError, ProviderResult,
    StockRequest,
};
use erpbridge_remote::convert::{self, WireError};
use erpbridge_remote::proto as ppb;

use crate::proto::{call::Request as Q, reply::Result as R};

/// A provider error as the wire's detail.
pub fn error_detail(err: &ProviderError) -> ppb::ErrorDetail {
    ppb::ErrorDetail {
        kind: convert::error_kind_to_wire(err.kind),
        message: err.message.clone(),
        retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
    }
}

/// A wire error detail as the SDK error. An unknown kind counts as transient: retrying
/// is bounded by the caller's policy, dead-lettering an order for a newer peer's enum
/// value is not.
pub fn provider_error(detail: ppb::ErrorDetail) -> ProviderError {
    let kind = convert::error_kind(detail.kind).unwrap_or(ErrorKind::Transient);
    let mut err = ProviderError::new(kind, detail.message);
    if let Some(ms) = detail.retry_after_ms {
        err = err.with_retry_after(Duration::from_millis(ms));
    }
    err
}

/// The operation a request names (logs, metrics, errors).
pub fn operation(request: &Q) -> &'static str {
    match request {
        Q::Describe(_) => "describe",
        Q::Health(_) => "health",
        Q::CatalogPage(_) => "catalog_page",
        Q::CatalogStream(_) => "catalog_stream",
        Q::Query(_) => "query",
        Q::Articles(_) => "articles",
        Q::Prices(_) => "prices",
        Q::Stock(_) => "stock",
        Q::OrderStatus(_) => "order_status",
        Q::CreateOrder(_) => "create_order",
        Q::ConfirmOrder(_) => "confirm_order",
        Q::CancelOrder(_) => "cancel_order",
        Q::SyncBom(_) => "sync_bom",
        Q::AdjustInventory(_) => "adjust_inventory",
    }
}

/// Runs one unary request against the local provider (connector side). Never fails:
/// every error, including a request that does not decode, becomes an error reply.
pub async fn answer(provider: &dyn Provider, request: Q) -> R {
    match dispatch(provider, request).await {
        Ok(result) => result,
        Err(err) => R::Error(error_detail(&err)),
    }
}

async fn dispatch(provider: &dyn Provider, request: Q) -> ProviderResult<R> {
    Ok(match request {
        Q::Describe(_) => R::Description(provider.describe().await?.into()),
        Q::Health(_) => R::Health(provider.health().await?.into()),
        Q::CatalogPage(r) => {
            let r = CatalogPageRequest::try_from(r)?;
            R::CatalogPage(provider.catalog_page(r).await?.into())
        }
        Q::CatalogStream(_) => {
            return Err(ProviderError::fatal(
                "catalog_stream is a streaming call, not a unary one",
            ));
        }
        Q::Query(r) => {
            let query = r.query.ok_or(WireError::Missing {
                field: "QueryPageRequest.query",
            })?;
            let page = provider.query_page(Query::try_from(query)?).await?;
            R::QueryPage(ppb::QueryPage::try_from(page)?)
        }
        Q::Articles(r) => {
            let articles = provider.articles(convert::article_ids(r.ids)?).await?;
            R::Articles(ppb::GetArticlesResponse {
                articles: convert::to_wire_list(articles),
            })
        }
        Q::Prices(r) => {
            let quotes = provider.prices(PriceRequest::try_from(r)?).await?;
            R::Prices(ppb::PriceResponse {
                quotes: convert::to_wire_list(quotes),
            })
        }
        Q::Stock(r) => {
            let levels = provider.stock(StockRequest::try_from(r)?).await?;
            R::Stock(ppb::StockResponse {
                levels: convert::to_wire_list(levels),
            })
        }
        Q::OrderStatus(r) => R::OrderStatus(
            provider
                .order_status(OrderLookup::try_from(r)?)
                .await?
                .into(),
        ),
        Q::CreateOrder(r) => R::OrderReceipt(
            provider
                .create_order(CreateOrderRequest::try_from(r)?)
                .await?
                .into(),
        ),
        Q::ConfirmOrder(r) => R::OrderStatus(
            provider
                .confirm_order(OrderActionRequest::try_from(r)?)
                .await?
                .into(),
        ),
        Q::CancelOrder(r) => R::OrderStatus(
            provider
                .cancel_order(OrderActionRequest::try_from(r)?)
                .await?
                .into(),
        ),
        Q::SyncBom(r) => R::BomReceipt(
            provider
                .sync_bom(BomSyncRequest::try_from(r)?)
                .await?
                .into(),
        ),
        Q::AdjustInventory(r) => R::InventoryReceipt(
            provider
                .adjust_inventory(InventoryAdjustRequest::try_from(r)?)
                .await?
                .into(),
        ),
    })
}

/// A reply the hub could not use: the connector is broken, retrying will not fix it.
pub fn bad_reply(operation: &str, err: WireError) -> ProviderError {
    ProviderError::fatal(format!(
        "connector sent an invalid `{operation}` reply: {err}"
    ))
}

/// A reply of the wrong kind for the call it answers.
pub fn unexpected_reply(operation: &str) -> ProviderError {
    ProviderError::fatal(format!(
        "connector answered `{operation}` with a reply of another operation"
    ))
}
