//! Read and live-price throughput against a Tryton server, next to a baseline in the
//! same run: a plain keyset `search_read` loop over the same fields through the same
//! HTTP client, which is what any hand-written integration would do. The ratio
//! (provider / baseline) is the cost of the provider's mapping and cursor bookkeeping.
//!
//! Used by `cargo run -p erpbridge-tryton --example tryton-bench` and meant for the CLI's
//! `erpbridge bench tryton`.

use erpbridge_model::{ArticleId, CatalogRecord, CustomerId, EntityKind};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider};
use futures::TryStreamExt as _;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use crate::catalog::{ARTICLE_FIELDS, MAX_PAGE};
use crate::config::TrytonConfig;
use crate::error::{Result, TrytonError};
use crate::provider::TrytonProvider;
use crate::rpc::Rpc;

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub articles: usize,
    pub page_size: u32,
    /// The provider's catalog stream, articles per second.
    pub provider_articles_per_s: f64,
    /// A plain keyset `search_read` loop over the same fields, rows per second.
    pub baseline_rows_per_s: f64,
    /// provider / baseline: 1.0 means the provider costs nothing on top.
    pub ratio: f64,
    pub price_calls: usize,
    pub price_p50_ms: f64,
    pub price_p99_ms: f64,
}

pub async fn run(config: TrytonConfig, page_size: u32, price_calls: usize) -> Result<BenchReport> {
    let page_size = page_size.clamp(1, MAX_PAGE);
    let provider = TrytonProvider::connect(config.clone()).await?;

    let started = Instant::now();
    let pages: Vec<_> = provider
        .catalog_stream(CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: page_size,
        })
        .try_collect()
        .await
        .map_err(|err| TrytonError::Invalid(err.to_string()))?;
    let provider_time = started.elapsed();
    let article_ids: Vec<ArticleId> = pages
        .iter()
        .flat_map(|p| &p.records)
        .filter_map(|r| match r {
            CatalogRecord::Article(a) => Some(a.id.clone()),
            _ => None,
        })
        .collect();
    let articles = article_ids.len();

    let rpc = Rpc::new(config)?;
    let started = Instant::now();
    let rows = baseline(&rpc, page_size).await?;
    let baseline_time = started.elapsed();

    let customer = first_customer(&provider).await?;
    let mut latencies = Vec::with_capacity(price_calls);
    for i in 0..price_calls {
        let Some(article) = article_ids.get(i % articles.max(1)) else {
            break;
        };
        let started = Instant::now();
        provider
            .prices(PriceRequest {
                customer_id: customer.clone(),
                items: vec![PriceItem {
                    article_id: article.clone(),
                    quantity: Decimal::from(1 + (i % 12) as u32),
                }],
            })
            .await
            .map_err(|err| TrytonError::Invalid(err.to_string()))?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let per_s = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let provider_rate = per_s(articles, provider_time);
    let baseline_rate = per_s(rows, baseline_time);
    Ok(BenchReport {
        articles,
        page_size,
        provider_articles_per_s: provider_rate,
        baseline_rows_per_s: baseline_rate,
        ratio: provider_rate / baseline_rate.max(1e-9),
        price_calls: latencies.len(),
        price_p50_ms: pct(0.5),
        price_p99_ms: pct(0.99),
    })
}

async fn baseline(rpc: &Rpc, page_size: u32) -> Result<usize> {
    // Same context as the provider (company, language), so the same fields compute.
    let preferences = rpc
        .call(
            "model.res.user.get_preferences",
            vec![json!(true), json!({})],
        )
        .await?;
    let company = preferences.get("company").cloned().unwrap_or(Value::Null);
    rpc.set_context(crate::calls::ctx(json!({
        "company": company, "companies": [company], "language": rpc.config().language,
    })));
    let mut after = 0;
    let mut total = 0;
    loop {
        let rows = rpc
            .search_read(
                "product.product",
                json!([["salable", "=", true], ["id", ">", after]]),
                Some(page_size),
                json!([["id", "ASC"]]),
                ARTICLE_FIELDS,
                None,
            )
            .await?;
        total += rows.len();
        match rows
            .last()
            .and_then(|r| r.get("id"))
            .and_then(Value::as_i64)
        {
            Some(last) if rows.len() == page_size as usize => after = last,
            _ => return Ok(total),
        }
    }
}

async fn first_customer(provider: &TrytonProvider) -> Result<CustomerId> {
    let page = provider
        .catalog_page(CatalogPageRequest {
            entity: EntityKind::Customer,
            from: None,
            limit: 1,
        })
        .await
        .map_err(|err| TrytonError::Invalid(err.to_string()))?;
    page.records
        .iter()
        .find_map(|r| match r {
            CatalogRecord::Customer(c) => Some(c.id.clone()),
            _ => None,
        })
        .ok_or_else(|| TrytonError::NotFound("no customer to price for".into()))
}
