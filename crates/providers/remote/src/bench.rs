//! Figures for `erpbridge bench tunnel`: the same live and streaming work measured
//! against any [`Provider`], so a path (in-process, over gRPC, through the connector
//! tunnel) is compared with the in-process baseline measured in the same run.
//!
//! Each path runs the same sequence: single-article prices one after the other, bulk
//! prices of `bulk_size` articles one after the other (latency p50/p99 and calls/s),
//! then one full catalog stream of articles (articles/s).

use std::time::{Duration, Instant};

use erpbridge_model::{ArticleId, CustomerId, EntityKind};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider, ProviderError};
use futures::StreamExt;
use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use serde::Serialize;

/// What to measure; article and customer ids must exist in the provider's catalog.
#[derive(Debug, Clone)]
pub struct Workload {
    pub customer: CustomerId,
    /// Articles the price calls cycle through.
    pub articles: Vec<ArticleId>,
    pub single_calls: usize,
    pub bulk_calls: usize,
    pub bulk_size: usize,
    /// Catalog page size for the stream.
    pub page_size: u32,
    /// Stop the stream after this many articles (`None`: the whole catalog).
    pub stream_limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub calls: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub throughput_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathFigures {
    /// e.g. `in_process`, `grpc`, `tunnel`.
    pub path: String,
    pub single_price: Latency,
    pub bulk_prices: Latency,
    pub stream_articles: u64,
    pub stream_articles_per_s: f64,
}

/// A path's figures against the baseline's: > 1 means slower (latency) or faster
/// (throughput) than the baseline, as labelled.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    pub path: String,
    pub single_p50: f64,
    pub single_p99: f64,
    pub single_p50_added_us: i64,
    pub bulk_p50: f64,
    pub bulk_p99: f64,
    pub bulk_p50_added_us: i64,
    /// Streaming rate of this path divided by the baseline's.
    pub stream_rate: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the workload has no articles")]
    NoArticles,
    #[error("{path}: {operation} failed: {source}")]
    Call {
        path: String,
        operation: &'static str,
        source: ProviderError,
    },
    #[error("{path}: {what}")]
    Unexpected { path: String, what: String },
    #[error("histogram: {0}")]
    Histogram(String),
}

fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| BenchError::Histogram(e.to_string()))
}

fn latency(h: &Histogram<u64>, elapsed: Duration) -> Latency {
    Latency {
        calls: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p99_us: h.value_at_quantile(0.99),
        throughput_per_s: h.len() as f64 / elapsed.as_secs_f64().max(1e-9),
    }
}

fn record(h: &mut Histogram<u64>, since: Instant) -> Result<(), BenchError> {
    h.record(since.elapsed().as_micros().max(1) as u64)
        .map_err(|e| BenchError::Histogram(e.to_string()))
}

/// Measures one path.
pub async fn measure(
    path: &str,
    provider: &dyn Provider,
    work: &Workload,
) -> Result<PathFigures, BenchError> {
    if work.articles.is_empty() {
        return Err(BenchError::NoArticles);
    }
    let call_error = |operation, source| BenchError::Call {
        path: path.to_owned(),
        operation,
        source,
    };
    let price = |from: usize, n: usize| PriceRequest {
        customer_id: work.customer.clone(),
        items: (0..n)
            .map(|i| PriceItem {
                article_id: work.articles[(from + i) % work.articles.len()].clone(),
                quantity: Decimal::ONE,
            })
            .collect(),
    };

    // Warm-up: connections, sessions, caches of the allocator.
    for i in 0..50 {
        provider
            .prices(price(i, 1))
            .await
            .map_err(|e| call_error("prices (warm-up)", e))?;
    }

    let mut single = histogram()?;
    let started = Instant::now();
    for i in 0..work.single_calls {
        let t0 = Instant::now();
        let quotes = provider
            .prices(price(i, 1))
            .await
            .map_err(|e| call_error("prices", e))?;
        record(&mut single, t0)?;
        if quotes.len() != 1 {
            return Err(BenchError::Unexpected {
                path: path.to_owned(),
                what: format!("one price asked, {} returned", quotes.len()),
            });
        }
    }
    let single = latency(&single, started.elapsed());

    let mut bulk = histogram()?;
    let started = Instant::now();
    for i in 0..work.bulk_calls {
        let t0 = Instant::now();
        provider
            .prices(price(i * work.bulk_size, work.bulk_size))
            .await
            .map_err(|e| call_error("bulk prices", e))?;
        record(&mut bulk, t0)?;
    }
    let bulk = latency(&bulk, started.elapsed());

    let started = Instant::now();
    let mut streamed = 0u64;
    let mut stream = provider.catalog_stream(CatalogPageRequest {
        entity: EntityKind::Article,
        from: None,
        limit: work.page_size,
    });
    while let Some(page) = stream.next().await {
        let page = page.map_err(|e| call_error("catalog stream", e))?;
        streamed += page.records.len() as u64;
        if !page.has_more || work.stream_limit.is_some_and(|limit| streamed >= limit) {
            break;
        }
    }
    let elapsed = started.elapsed();

    Ok(PathFigures {
        path: path.to_owned(),
        single_price: single,
        bulk_prices: bulk,
        stream_articles: streamed,
        stream_articles_per_s: streamed as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}

/// `path` relative to `baseline`.
pub fn ratios(baseline: &PathFigures, path: &PathFigures) -> Ratios {
    let r = |a: u64, b: u64| a.max(1) as f64 / b.max(1) as f64;
    Ratios {
        path: path.path.clone(),
        single_p50: r(path.single_price.p50_us, baseline.single_price.p50_us),
        single_p99: r(path.single_price.p99_us, baseline.single_price.p99_us),
        single_p50_added_us: path.single_price.p50_us as i64 - baseline.single_price.p50_us as i64,
        bulk_p50: r(path.bulk_prices.p50_us, baseline.bulk_prices.p50_us),
        bulk_p99: r(path.bulk_prices.p99_us, baseline.bulk_prices.p99_us),
        bulk_p50_added_us: path.bulk_prices.p50_us as i64 - baseline.bulk_prices.p50_us as i64,
        stream_rate: path.stream_articles_per_s / baseline.stream_articles_per_s.max(1e-9),
    }
}
