//! Fakes, for behaviour the sim cannot be made to show on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use erpbridge_model::{
    Article, ArticleId, CatalogRecord, ChangeCursor, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BatchLimits, CatalogPage, CatalogPageRequest, ConcurrencyModel, CreateOrderRequest, ErrorKind,
    HealthReport, OrderActionRequest, OrderLookup, PriceRequest, Provider, ProviderDescription,
    ProviderError, ProviderResult, StockRequest, unsupported,
};

/// A fake provider: `prices` fails with the kind named by the customer id (`transient`,
/// `fatal`, `not_found`, `unavailable`, each with a retry hint), or never answers
/// (`hang`); `catalog_page` serves an endless catalog of fat articles and counts the
/// pages it produced.
#[derive(Default)]
pub struct FakeProvider {
    pub pages_produced: Arc<AtomicU64>,
}

pub const RETRY_AFTER: Duration = Duration::from_millis(1500);

pub fn kind_named(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "transient" => ErrorKind::Transient,
        "fatal" => ErrorKind::Fatal,
        "not_found" => ErrorKind::NotFound,
        "unavailable" => ErrorKind::Unavailable,
        _ => return None,
    })
}

#[async_trait]
impl Provider for FakeProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        Ok(ProviderDescription {
            name: "fake".into(),
            version: "0".into(),
            operations: vec![],
            pushdown: Default::default(),
            concurrency: ConcurrencyModel::Concurrent,
            limits: BatchLimits::default(),
        })
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        Ok(HealthReport {
            ok: true,
            detail: String::new(),
        })
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let n = self.pages_produced.fetch_add(1, Ordering::SeqCst);
        let description = "x".repeat(64 * 1024);
        let records = (0..request.limit.min(4))
            .map(|i| {
                CatalogRecord::Article(Article {
                    id: ArticleId::new(format!("A{n}-{i}")),
                    number: format!("N{n}-{i}"),
                    names: Default::default(),
                    descriptions: [("en".to_owned(), description.clone())].into(),
                    categories: vec![],
                    unit: None,
                    attributes: vec![],
                    images: vec![],
                    references: vec![],
                    row_version: 1,
                    updated_at: None,
                })
            })
            .collect();
        Ok(CatalogPage {
            records,
            next: ChangeCursor(format!("page-{}", n + 1)),
            has_more: true,
        })
    }

    async fn articles(&self, _ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        Err(unsupported("articles"))
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let name = request.customer_id.as_str();
        if name == "hang" {
            std::future::pending::<()>().await;
        }
        match kind_named(name) {
            Some(kind) => Err(ProviderError::new(kind, format!("fake {name} failure"))
                .with_retry_after(RETRY_AFTER)),
            None => Ok(vec![]),
        }
    }

    async fn stock(&self, _request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        Err(unsupported("stock"))
    }

    async fn order_status(&self, _lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        Err(unsupported("order_status"))
    }

    async fn create_order(&self, _request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        Err(unsupported("create_order"))
    }

    async fn confirm_order(&self, _request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        Err(unsupported("confirm_order"))
    }

    async fn cancel_order(&self, _request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        Err(unsupported("cancel_order"))
    }
}
