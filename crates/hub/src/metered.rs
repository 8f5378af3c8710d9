//! A [`Provider`] wrapper that counts and times every call for `/metrics`.
//!
//! The hub hands the *metered* provider to everything in the process (live path, query
//! streaming, outbox workers, sync), so `erp_provider_requests_total` counts every call
//! that reaches a tenant's ERP, whoever made it.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest, ErrorKind, HealthReport,
    InventoryAdjustRequest, OrderActionRequest, OrderLookup, PriceRequest, Provider,
    ProviderDescription, ProviderResult, QueryPage, StockRequest,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::{Metrics, OperationLabels, ProviderCallLabels};

pub struct MeteredProvider {
    inner: Arc<dyn Provider>,
    tenant: String,
    metrics: Arc<Metrics>,
}

impl MeteredProvider {
    pub fn new(inner: Arc<dyn Provider>, tenant: &str, metrics: Arc<Metrics>) -> Self {
        MeteredProvider {
            inner,
            tenant: tenant.to_owned(),
            metrics,
        }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = ProviderResult<T>>,
    ) -> ProviderResult<T> {
        let started = Instant::now();
        let result = call.await;
        self.record(operation, status_of(&result), started.elapsed());
        result
    }

    fn record(&self, operation: &'static str, status: &'static str, took: Duration) {
        self.metrics
            .provider_requests
            .get_or_create(&ProviderCallLabels {
                operation: operation.to_owned(),
                tenant: self.tenant.clone(),
                status: status.to_owned(),
            })
            .inc();
        self.metrics
            .provider_duration
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
                tenant: self.tenant.clone(),
            })
            .observe(took.as_secs_f64());
    }
}

fn status_of<T>(result: &ProviderResult<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => match e.kind {
            ErrorKind::Transient => "transient",
            ErrorKind::Fatal => "fatal",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unavailable => "unavailable",
        },
    }
}

#[async_trait]
impl Provider for MeteredProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        // Not an ERP round trip worth a series: the hub asks it once per tenant.
        self.inner.describe().await
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        self.observe("health", self.inner.health()).await
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        self.observe("catalog_page", self.inner.catalog_page(request))
            .await
    }

    fn catalog_stream(
        &self,
        request: CatalogPageRequest,
    ) -> BoxStream<'_, ProviderResult<CatalogPage>> {
        // Keep the inner provider's own stream (a remote provider's server stream) and
        // count each page as it arrives, timed from the previous one.
        let mut last = Instant::now();
        Box::pin(self.inner.catalog_stream(request).map(move |page| {
            self.record("catalog_page", status_of(&page), last.elapsed());
            last = Instant::now();
            page
        }))
    }

    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        self.observe("query_page", self.inner.query_page(query))
            .await
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        self.observe("articles", self.inner.articles(ids)).await
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.observe("prices", self.inner.prices(request)).await
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.observe("stock", self.inner.stock(request)).await
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.observe("order_status", self.inner.order_status(lookup))
            .await
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.observe("create_order", self.inner.create_order(request))
            .await
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.observe("confirm_order", self.inner.confirm_order(request))
            .await
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.observe("cancel_order", self.inner.cancel_order(request))
            .await
    }

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.observe("sync_bom", self.inner.sync_bom(request)).await
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.observe("adjust_inventory", self.inner.adjust_inventory(request))
            .await
    }
}
