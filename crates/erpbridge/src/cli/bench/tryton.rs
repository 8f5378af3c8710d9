//! `erpbridge bench tryton`: catalog read throughput of the Tryton provider against a plain
//! keyset `search_read` loop in the same run (the ratio is the provider's own cost), and
//! live price latency. The throughput measuring lives in `erpbridge_tryton::bench`.
//!
//! The live-price comparison is here because it needs the hub: the same sequence of
//! single price lookups (a working set of articles × quantities, asked round-robin) goes
//! once straight to the provider and once through the hub's live path
//! (`erpbridge_hub::live::prices`: the tenant's metered provider behind its `KindCache`
//! with the default price TTL and single-flight), and both latency distributions are
//! reported together with the Tryton requests each side caused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use erpbridge_hub::{AppState, CacheTtls, KeyHash, TenantSpec};
use erpbridge_model::{ArticleId, CatalogRecord, CustomerId, EntityKind, TenantId};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider};
use erpbridge_tryton::{TrytonConfig, TrytonProvider, bench};
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct TrytonArgs {
    /// The Tryton server, e.g. the URL `scripts/tryton/start.sh` prints.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "erp")]
    database: String,
    #[arg(long, default_value = "admin")]
    user: String,
    /// The environment variable holding the password (never a command-line argument,
    /// where `ps` would show it).
    #[arg(long, default_value = "ERPBRIDGE_TRYTON_ADMIN_PASSWORD")]
    password_env: String,
    /// Rows per catalog page.
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// Live price calls to time.
    #[arg(long, default_value_t = 200)]
    price_calls: usize,
    /// Distinct (article, quantity) price lookups the cache comparison cycles through.
    #[arg(long, default_value_t = 40)]
    working_set: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One side of the cache comparison.
#[derive(Debug, Serialize)]
struct PricePhase {
    calls: usize,
    p50_ms: f64,
    p99_ms: f64,
    /// HTTP requests the phase sent to Tryton.
    tryton_requests: u64,
}

#[derive(Debug, Serialize)]
struct CacheComparison {
    working_set: usize,
    cache_ttl_s: f64,
    without_cache: PricePhase,
    with_hub_cache: PricePhase,
}

#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    throughput: bench::BenchReport,
    live_price_cache: CacheComparison,
}

pub fn run(args: TrytonArgs) -> anyhow::Result<()> {
    let password = std::env::var(&args.password_env)
        .with_context(|| format!("environment variable {} is not set", args.password_env))?;
    let config = TrytonConfig::new(
        args.url.as_str(),
        args.database.as_str(),
        args.user.as_str(),
        password,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let throughput = runtime
        .block_on(bench::run(config.clone(), args.page_size, args.price_calls))
        .context("running the Tryton benchmark")?;
    let cache = runtime
        .block_on(compare_cache(config, args.price_calls, args.working_set))
        .context("running the live-price cache comparison")?;
    let report = Report {
        throughput,
        live_price_cache: cache,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let t = &report.throughput;
        println!(
            "catalog stream: {} articles, page {}: provider {:.0}/s, plain search_read loop {:.0}/s, ratio {:.2}",
            t.articles, t.page_size, t.provider_articles_per_s, t.baseline_rows_per_s, t.ratio
        );
        println!(
            "live price ({} calls over all articles, no cache): p50 {:.1} ms, p99 {:.1} ms",
            t.price_calls, t.price_p50_ms, t.price_p99_ms
        );
        let c = &report.live_price_cache;
        for (label, phase) in [
            ("without cache", &c.without_cache),
            ("with the hub's cache", &c.with_hub_cache),
        ] {
            println!(
                "live price, working set {} (TTL {:.0} s), {label}: {} calls, p50 {:.3} ms, p99 {:.3} ms, {} Tryton requests",
                c.working_set,
                c.cache_ttl_s,
                phase.calls,
                phase.p50_ms,
                phase.p99_ms,
                phase.tryton_requests
            );
        }
    }
    Ok(())
}

async fn compare_cache(
    config: TrytonConfig,
    calls: usize,
    working_set: usize,
) -> anyhow::Result<CacheComparison> {
    let provider = TrytonProvider::connect(config)
        .await
        .context("connecting to Tryton")?;
    let (customer, articles) = workload_ids(&provider, working_set.max(1)).await?;
    // Two quantities per article: quantity breaks make them different prices.
    let keys: Vec<(ArticleId, Decimal)> = articles
        .iter()
        .flat_map(|a| [(a.clone(), Decimal::ONE), (a.clone(), Decimal::from(10))])
        .take(working_set.max(1))
        .collect();

    let before = provider.request_count();
    let mut direct = Vec::with_capacity(calls);
    for i in 0..calls {
        let (article, quantity) = &keys[i % keys.len()];
        let started = Instant::now();
        provider
            .prices(PriceRequest {
                customer_id: customer.clone(),
                items: vec![PriceItem {
                    article_id: article.clone(),
                    quantity: *quantity,
                }],
            })
            .await
            .context("a direct price call")?;
        direct.push(started.elapsed());
    }
    let direct_requests = provider.request_count() - before;

    let ttls = CacheTtls::default();
    let state = AppState::builder()
        .tenant(TenantSpec {
            id: TenantId::new("bench"),
            provider: Arc::new(provider.clone()),
            monitor: None,
            provider_kind: "tryton".into(),
            api_keys: vec![KeyHash::of("bench-only-key")],
            cache: ttls.clone(),
            rate_limit: None,
        })
        .build()
        .context("building the hub state")?;
    let tenant = state
        .tenant("bench")
        .context("the bench tenant is missing")?;
    let before = provider.request_count();
    let mut cached = Vec::with_capacity(calls);
    for i in 0..calls {
        let (article, quantity) = &keys[i % keys.len()];
        let started = Instant::now();
        erpbridge_hub::live::prices(
            tenant,
            state.metrics(),
            &customer,
            std::slice::from_ref(article),
            *quantity,
        )
        .await
        .context("a price call through the hub's cache")?;
        cached.push(started.elapsed());
    }
    let cached_requests = provider.request_count() - before;

    Ok(CacheComparison {
        working_set: keys.len(),
        cache_ttl_s: ttls.prices.as_secs_f64(),
        without_cache: phase(direct, direct_requests),
        with_hub_cache: phase(cached, cached_requests),
    })
}

fn phase(mut latencies: Vec<Duration>, tryton_requests: u64) -> PricePhase {
    latencies.sort();
    let pct = |p: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    PricePhase {
        calls: latencies.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        tryton_requests,
    }
}

/// The first customer and the first `n` articles of the catalog.
async fn workload_ids(
    provider: &TrytonProvider,
    n: usize,
) -> anyhow::Result<(CustomerId, Vec<ArticleId>)> {
    let first = |entity, limit| {
        provider.catalog_page(CatalogPageRequest {
            entity,
            from: None,
            limit,
        })
    };
    let customer = first(EntityKind::Customer, 1)
        .await?
        .records
        .into_iter()
        .find_map(|r| match r {
            CatalogRecord::Customer(c) => Some(c.id),
            _ => None,
        })
        .context("Tryton has no customer to price for")?;
    let articles: Vec<ArticleId> = first(EntityKind::Article, n.min(1000) as u32)
        .await?
        .records
        .into_iter()
        .filter_map(|r| match r {
            CatalogRecord::Article(a) => Some(a.id),
            _ => None,
        })
        .collect();
    anyhow::ensure!(!articles.is_empty(), "Tryton has no article to price");
    Ok((customer, articles))
}
