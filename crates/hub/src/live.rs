//! The live path: prices, stock and order status asked of the ERP through the tenant's
//! [`KindCache`]s. Handlers and the article-detail merge both come through here, so the
//! cache, single-flight and metrics apply to every live lookup.

use chrono::{DateTime, Utc};
use erpbridge_model::{ArticleId, CustomerId, ErpOrderId, OrderStatus, PriceQuote, StockLevel};
use erpbridge_provider::{
    OrderLookup, PriceItem, PriceRequest, Provider, ProviderError, StockRequest,
};
use futures::FutureExt;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;

use crate::cache::{KindCache, LookupStats};
use crate::metrics::Metrics;
use crate::state::{CacheTtls, TenantContext};

/// A price lookup key: the same article costs different amounts for different customers
/// and quantities (quantity breaks).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PriceKey {
    pub customer: CustomerId,
    pub article: ArticleId,
    pub quantity: Decimal,
}

pub struct LiveCaches {
    pub prices: KindCache<PriceKey, Option<PriceQuote>>,
    pub stock: KindCache<ArticleId, Vec<StockLevel>>,
    pub order_status: KindCache<ErpOrderId, Option<OrderStatus>>,
}

impl LiveCaches {
    pub fn new(ttls: &CacheTtls) -> Self {
        LiveCaches {
            prices: KindCache::new(ttls.prices, ttls.max_entries),
            stock: KindCache::new(ttls.stock, ttls.max_entries),
            order_status: KindCache::new(ttls.order_status, ttls.max_entries / 10 + 1),
        }
    }
}

/// One live value and when the ERP produced it.
#[derive(Debug, Clone)]
pub struct Fresh<T> {
    pub value: T,
    pub fetched_at: DateTime<Utc>,
}

fn record(metrics: &Metrics, tenant: &TenantContext, kind: &str, stats: LookupStats) {
    metrics.cache_hit(tenant.id.as_str(), kind, stats.hits);
    metrics.cache_miss(tenant.id.as_str(), kind, stats.misses);
}

/// Prices of `articles` for `customer` at `quantity`, in request order; `None` for
/// articles the ERP does not know.
pub async fn prices(
    tenant: &TenantContext,
    metrics: &Metrics,
    customer: &CustomerId,
    articles: &[ArticleId],
    quantity: Decimal,
) -> Result<Vec<(ArticleId, Fresh<Option<PriceQuote>>)>, ProviderError> {
    let keys: Vec<PriceKey> = articles
        .iter()
        .map(|article| PriceKey {
            customer: customer.clone(),
            article: article.clone(),
            quantity,
        })
        .collect();
    let provider: Arc<dyn Provider> = Arc::clone(&tenant.provider);
    let (found, stats) = tenant
        .live
        .prices
        .get_many(&keys, move |missing: Vec<PriceKey>| {
            async move {
                let Some(first) = missing.first() else {
                    return Ok(HashMap::new());
                };
                let request = PriceRequest {
                    customer_id: first.customer.clone(),
                    items: missing
                        .iter()
                        .map(|k| PriceItem {
                            article_id: k.article.clone(),
                            quantity: k.quantity,
                        })
                        .collect(),
                };
                let customer = first.customer.clone();
                let quotes = provider.prices(request).await?;
                Ok(quotes
                    .into_iter()
                    .map(|q| {
                        let key = PriceKey {
                            customer: customer.clone(),
                            article: q.article_id.clone(),
                            quantity,
                        };
                        (key, Some(q))
                    })
                    .collect())
            }
            .boxed()
        })
        .await?;
    record(metrics, tenant, "prices", stats);
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, fetched_at) = match found.get(&key) {
            Some(entry) => (entry.value.clone(), entry.fetched_at),
            None => (None, Utc::now()),
        };
        out.push((key.article, Fresh { value, fetched_at }));
    }
    Ok(out)
}

/// Stock of `articles` in every warehouse, in request order; an empty list for articles
/// the ERP does not know.
pub async fn stock(
    tenant: &TenantContext,
    metrics: &Metrics,
    articles: &[ArticleId],
) -> Result<Vec<(ArticleId, Fresh<Vec<StockLevel>>)>, ProviderError> {
    let provider: Arc<dyn Provider> = Arc::clone(&tenant.provider);
    let (found, stats) = tenant
        .live
        .stock
        .get_many(articles, move |missing: Vec<ArticleId>| {
            async move {
                let levels = provider
                    .stock(StockRequest {
                        article_ids: missing,
                        warehouse_ids: Vec::new(),
                    })
                    .await?;
                let mut by_article: HashMap<ArticleId, Vec<StockLevel>> = HashMap::new();
                for level in levels {
                    by_article
                        .entry(level.article_id.clone())
                        .or_default()
                        .push(level);
                }
                Ok(by_article)
            }
            .boxed()
        })
        .await?;
    record(metrics, tenant, "stock", stats);
    Ok(articles
        .iter()
        .map(|article| {
            let (value, fetched_at) = match found.get(article) {
                Some(entry) => (entry.value.clone(), entry.fetched_at),
                None => (Vec::new(), Utc::now()),
            };
            (article.clone(), Fresh { value, fetched_at })
        })
        .collect())
}

/// The ERP's status of one order, cached for the order-status TTL.
pub async fn order_status(
    tenant: &TenantContext,
    metrics: &Metrics,
    order: &ErpOrderId,
) -> Result<Fresh<Option<OrderStatus>>, ProviderError> {
    let provider: Arc<dyn Provider> = Arc::clone(&tenant.provider);
    let (found, stats) = tenant
        .live
        .order_status
        .get_many(
            std::slice::from_ref(order),
            move |missing: Vec<ErpOrderId>| {
                async move {
                    let mut out = HashMap::new();
                    for id in missing {
                        match provider.order_status(OrderLookup::ById(id.clone())).await {
                            Ok(status) => {
                                out.insert(id, Some(status));
                            }
                            Err(e) if e.kind == erpbridge_provider::ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(out)
                }
                .boxed()
            },
        )
        .await?;
    record(metrics, tenant, "order_status", stats);
    Ok(match found.get(order) {
        Some(entry) => Fresh {
            value: entry.value.clone(),
            fetched_at: entry.fetched_at,
        },
        None => Fresh {
            value: None,
            fetched_at: Utc::now(),
        },
    })
}
