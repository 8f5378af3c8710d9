//! The two ways to implement a backend.
//!
//! * [`Provider`] is what the hub calls: async, `Send + Sync`, one instance per tenant.
//!   Backends that are safe to call concurrently (HTTP APIs such as Tryton's, a gRPC
//!   remote) implement it directly.
//! * [`BlockingSession`] is for SDKs that are neither thread-safe nor async (enventa
//!   Trade and its kin). Such a backend only says how to open a session
//!   ([`SessionFactory`]) and what one session can do; the runtime
//!   ([`crate::runtime`]) owns each session on a dedicated thread and turns it into a
//!   [`Provider`]. That split keeps the "nothing else touches the session" rule in one
//!   place instead of in every backend.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use futures::stream::BoxStream;

use crate::api::*;
use crate::describe::ProviderDescription;
use crate::error::{ProviderError, ProviderResult};

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    async fn describe(&self) -> ProviderResult<ProviderDescription>;

    async fn health(&self) -> ProviderResult<HealthReport>;

    /// One page of the catalog of one entity kind; see [`CatalogPageRequest`].
    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage>;

    /// The catalog as a stream of pages. The default pages through [`Self::catalog_page`];
    /// a remote provider overrides it with a server stream.
    fn catalog_stream(
        &self,
        request: CatalogPageRequest,
    ) -> BoxStream<'_, ProviderResult<CatalogPage>> {
        Box::pin(futures::stream::try_unfold(
            (Some(request), self),
            |(next, provider)| async move {
                let Some(request) = next else {
                    return Ok(None);
                };
                let page = provider.catalog_page(request.clone()).await?;
                let follow = page.has_more.then(|| CatalogPageRequest {
                    from: Some(page.next.clone()),
                    ..request
                });
                Ok(Some((page, (follow, provider))))
            },
        ))
    }

    /// One page of a query. The filter in `query` is only the part the provider declared
    /// it can push down; the hub post-filters the rest.
    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        let _ = query;
        Err(unsupported("query"))
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>>;

    /// Prices for the items that exist; unknown articles are left out of the answer.
    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>>;

    /// Stock for the articles that exist, one entry per article and warehouse.
    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>>;

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus>;

    /// Create an order (unconfirmed), or return the one already created for the key.
    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt>;

    /// Confirm an order; confirming a confirmed order succeeds.
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus>;

    /// Cancel an order (saga compensation); cancelling a cancelled order succeeds.
    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus>;

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        let _ = request;
        Err(unsupported("sync_bom"))
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        let _ = request;
        Err(unsupported("adjust_inventory"))
    }
}

pub fn unsupported(operation: &str) -> ProviderError {
    ProviderError::fatal(format!(
        "operation `{operation}` is not supported by this provider"
    ))
}

/// Opens sessions of a non-thread-safe backend. Shared across threads; the sessions it
/// makes are not.
pub trait SessionFactory: Send + Sync + 'static {
    type Session: BlockingSession;

    fn describe(&self) -> ProviderDescription;

    /// Log in. Called on the thread that will own the session, may take seconds, and is
    /// never called concurrently for one factory (logins are serialised).
    fn connect(&self) -> ProviderResult<Self::Session>;
}

/// One session of a backend that must only ever be used by one thread at a time. It need
/// not be `Send`: the runtime creates it on its executor thread and never moves it.
pub trait BlockingSession: 'static {
    /// A cheap call that proves the session is alive (keep-alive and health).
    fn ping(&mut self) -> ProviderResult<()>;
    fn catalog_page(&mut self, request: &CatalogPageRequest) -> ProviderResult<CatalogPage>;
    fn query_page(&mut self, query: &Query) -> ProviderResult<QueryPage> {
        let _ = query;
        Err(unsupported("query"))
    }
    fn articles(&mut self, ids: &[ArticleId]) -> ProviderResult<Vec<Article>>;
    fn prices(&mut self, request: &PriceRequest) -> ProviderResult<Vec<PriceQuote>>;
    fn stock(&mut self, request: &StockRequest) -> ProviderResult<Vec<StockLevel>>;
    fn order_status(&mut self, lookup: &OrderLookup) -> ProviderResult<OrderStatus>;
    fn create_order(&mut self, request: &CreateOrderRequest) -> ProviderResult<OrderReceipt>;
    fn confirm_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus>;
    fn cancel_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus>;
    fn sync_bom(&mut self, request: &BomSyncRequest) -> ProviderResult<BomReceipt> {
        let _ = request;
        Err(unsupported("sync_bom"))
    }
    fn adjust_inventory(
        &mut self,
        request: &InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        let _ = request;
        Err(unsupported("adjust_inventory"))
    }
}
