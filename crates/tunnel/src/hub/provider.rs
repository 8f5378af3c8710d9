//! [`TunnelProvider`]: a connector tenant's provider on the hub.

use std::time::Duration;

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest, HealthReport,
    InventoryAdjustRequest, OrderActionRequest, OrderLookup, PriceRequest, Provider,
    ProviderDescription, ProviderError, ProviderResult, StockRequest,
};
use erpbridge_remote::convert;
use erpbridge_remote::proto as ppb;
use futures::stream::BoxStream;

use super::registry::ConnectorRegistry;
use super::session::StreamHandle;
use crate::proto::{call::Request as Q, reply::Result as R};
use crate::wire::{bad_reply, unexpected_reply};

/// The provider of a tenant whose ERP sits behind a connector. Every call goes down
/// the tenant's tunnel session with the configured deadline; while no connector is
/// online it fails at once with `unavailable` (HTTP 503 for live calls, a transient
/// failure for sagas, a failed run for syncs, which resume from their checkpoint).
#[derive(Debug, Clone)]
pub struct TunnelProvider {
    registry: ConnectorRegistry,
    tenant: String,
    deadline: Duration,
    stream_credit: u32,
    retry_after: Duration,
}

impl TunnelProvider {
    pub fn new(registry: ConnectorRegistry, tenant: impl Into<String>) -> Self {
        let tenant = tenant.into();
        let settings = registry.settings(&tenant).unwrap_or_default();
        Self {
            registry,
            tenant,
            deadline: settings.deadline,
            stream_credit: settings.stream_credit,
            retry_after: settings.heartbeat_interval,
        }
    }

    fn offline(&self) -> ProviderError {
        ProviderError::unavailable(format!(
            "no connector is online for tenant `{}`",
            self.tenant
        ))
        .with_retry_after(self.retry_after)
    }

    async fn unary(&self, request: Q) -> ProviderResult<R> {
        let session = self
            .registry
            .session(&self.tenant)
            .ok_or_else(|| self.offline())?;
        session.call(request, self.deadline).await
    }
}

/// Takes the one reply variant an operation expects.
macro_rules! expect_reply {
    ($reply:expr, $op:literal, $variant:path) => {
        match $reply {
            $variant(value) => Ok(value),
            _ => Err(unexpected_reply($op)),
        }
    };
}

#[async_trait]
impl Provider for TunnelProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        let reply = self.unary(Q::Describe(ppb::DescribeRequest {})).await?;
        let d = expect_reply!(reply, "describe", R::Description)?;
        ProviderDescription::try_from(d).map_err(|e| bad_reply("describe", e))
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        let reply = self.unary(Q::Health(ppb::HealthRequest {})).await?;
        Ok(expect_reply!(reply, "health", R::Health)?.into())
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let reply = self.unary(Q::CatalogPage(request.into())).await?;
        let page = expect_reply!(reply, "catalog_page", R::CatalogPage)?;
        CatalogPage::try_from(page).map_err(|e| bad_reply("catalog_page", e))
    }

    /// Pages arrive as stream chunks under credit-based flow control: the connector
    /// runs at most `stream_credit` pages ahead of the consumer. Dropping the stream
    /// cancels it on the connector. A broken tunnel ends the stream with `unavailable`;
    /// the sync engine's checkpoint is where the next run resumes.
    fn catalog_stream(
        &self,
        request: CatalogPageRequest,
    ) -> BoxStream<'_, ProviderResult<CatalogPage>> {
        enum State {
            Start(CatalogPageRequest),
            Open(StreamHandle),
            Done,
        }
        Box::pin(futures::stream::unfold(
            State::Start(request),
            move |state| async move {
                let mut handle = match state {
                    State::Done => return None,
                    State::Open(handle) => handle,
                    State::Start(request) => {
                        let opened = match self.registry.session(&self.tenant) {
                            Some(session) => {
                                session
                                    .open_stream(request.into(), self.stream_credit, self.deadline)
                                    .await
                            }
                            None => Err(self.offline()),
                        };
                        match opened {
                            Ok(handle) => handle,
                            Err(err) => return Some((Err(err), State::Done)),
                        }
                    }
                };
                match handle.next(self.deadline).await {
                    Some(Ok(page)) => match CatalogPage::try_from(page) {
                        Ok(page) => {
                            let next = if page.has_more {
                                State::Open(handle)
                            } else {
                                State::Done
                            };
                            Some((Ok(page), next))
                        }
                        Err(e) => Some((Err(bad_reply("catalog_stream", e)), State::Done)),
                    },
                    Some(Err(err)) => Some((Err(err), State::Done)),
                    None => Some((
                        Err(ProviderError::transient(
                            "the connector ended the catalog stream before its last page",
                        )),
                        State::Done,
                    )),
                }
            },
        ))
    }

    async fn query_page(&self, query: Query) -> ProviderResult<erpbridge_provider::QueryPage> {
        let query = ppb::Query::try_from(query).map_err(ProviderError::from)?;
        let reply = self
            .unary(Q::Query(ppb::QueryPageRequest { query: Some(query) }))
            .await?;
        let page = expect_reply!(reply, "query", R::QueryPage)?;
        erpbridge_provider::QueryPage::try_from(page).map_err(|e| bad_reply("query", e))
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        let ids = ids.into_iter().map(|id| id.0).collect();
        let reply = self
            .unary(Q::Articles(ppb::GetArticlesRequest { ids }))
            .await?;
        let r = expect_reply!(reply, "articles", R::Articles)?;
        convert::from_wire_list(r.articles).map_err(|e| bad_reply("articles", e))
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let reply = self.unary(Q::Prices(request.into())).await?;
        let r = expect_reply!(reply, "prices", R::Prices)?;
        convert::from_wire_list(r.quotes).map_err(|e| bad_reply("prices", e))
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        let reply = self.unary(Q::Stock(request.into())).await?;
        let r = expect_reply!(reply, "stock", R::Stock)?;
        convert::from_wire_list(r.levels).map_err(|e| bad_reply("stock", e))
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        let reply = self.unary(Q::OrderStatus(lookup.into())).await?;
        let s = expect_reply!(reply, "order_status", R::OrderStatus)?;
        OrderStatus::try_from(s).map_err(|e| bad_reply("order_status", e))
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        let reply = self.unary(Q::CreateOrder(request.into())).await?;
        let r = expect_reply!(reply, "create_order", R::OrderReceipt)?;
        OrderReceipt::try_from(r).map_err(|e| bad_reply("create_order", e))
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        let reply = self.unary(Q::ConfirmOrder(request.into())).await?;
        let s = expect_reply!(reply, "confirm_order", R::OrderStatus)?;
        OrderStatus::try_from(s).map_err(|e| bad_reply("confirm_order", e))
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        let reply = self.unary(Q::CancelOrder(request.into())).await?;
        let s = expect_reply!(reply, "cancel_order", R::OrderStatus)?;
        OrderStatus::try_from(s).map_err(|e| bad_reply("cancel_order", e))
    }

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        let reply = self.unary(Q::SyncBom(request.into())).await?;
        let r = expect_reply!(reply, "sync_bom", R::BomReceipt)?;
        BomReceipt::try_from(r).map_err(|e| bad_reply("sync_bom", e))
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        let reply = self.unary(Q::AdjustInventory(request.into())).await?;
        let r = expect_reply!(reply, "adjust_inventory", R::InventoryReceipt)?;
        InventoryReceipt::try_from(r).map_err(|e| bad_reply("adjust_inventory", e))
    }
}
