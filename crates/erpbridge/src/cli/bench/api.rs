//! `erpbridge bench api`: what the hub's HTTP layer costs on top of what it fronts.
//!
//! The hub is started in this process by the same code as `erpbridge serve`
//! ([`super::super::serve::start`]) on a temporary SQLite store with two sim tenants of
//! one catalog: `bench` with the live cache off (every request reaches the provider, so
//! the comparison is HTTP + auth + JSON + metering against the provider call itself) and
//! `cached` with the cache on (for the hit rate on a Zipf workload). A client pool of
//! `--concurrency` tasks drives it over real loopback HTTP with keep-alive, and the same
//! operations are run against the same kind of backend directly:
//!
//! | scenario | through the hub | directly |
//! |---|---|---|
//! | price    | `POST prices:query`, 1 article | `Provider::prices` on a second provider built from the same config |
//! | bulk100  | `POST prices:query`, 100 articles | the same, 100 items |
//! | detail   | `GET articles/{id}` | `CatalogStore::article` on the hub's own store |
//! | search   | `GET articles?q=..` | the index search + store fetch the handler does |
//! | order    | `POST orders` (202, durable enqueue) | — (absolute goal: p99 < 10 ms) |
//! | zipf     | single prices, Zipf(1.0) articles, cache on | — (hit rate goal > 95 %) |
//!
//! The load generator shares the machine with the hub, as any load generator on a 2-core
//! box does; the direct side runs at the same concurrency so both pay the same.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use erpbridge_config::{ApiKey, CacheConfig, Config, ProviderConfig, Secret, StoreConfig};
use erpbridge_provider::{PriceItem, PriceRequest, Provider};
use erpbridge_search::SearchRequest;
use hdrhistogram::Histogram;
use rand::Rng;
use rand::SeedableRng;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;

const KEY: &str = "bench-api-key";
/// Keys are unique across tenants (the hub refuses a shared one).
const CACHED_KEY: &str = "bench-cached-api-key";
/// Words the sim's generator puts into names (see `erpbridge_sim::words`).
const SEARCH_WORDS: &[&str] = &[
    "sechskantschraube",
    "kugelhahn",
    "hex bolt",
    "ball valve",
    "premium",
    "professionell",
];

#[derive(Debug, Args)]
pub struct ApiBenchArgs {
    /// Articles in the sim catalog.
    #[arg(long, default_value_t = 10_000)]
    articles: u64,
    /// Concurrent clients (and concurrent direct callers).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long each scenario runs, per side.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Side {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

#[derive(Debug, Serialize)]
struct Scenario {
    name: &'static str,
    hub: Side,
    direct: Option<Side>,
    /// Hub p50/p99 minus direct p50/p99: what the HTTP layer adds.
    overhead_p50_ms: Option<f64>,
    overhead_p99_ms: Option<f64>,
    /// Hub p99 / direct p99.
    ratio_p99: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    articles: u64,
    concurrency: usize,
    duration_s: f64,
    scenarios: Vec<Scenario>,
    zipf_cache_hit_rate: f64,
}

pub fn run(args: ApiBenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(bench(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn bench_config(dir: &std::path::Path, articles: u64) -> Config {
    let mut config = Config::embedded_default();
    config.store = StoreConfig::Sqlite {
        path: dir.join("erpbridge.sqlite"),
        pool_size: 8,
    };
    let mut tenant = config.tenants.remove(0);
    tenant.api_keys = vec![ApiKey::Plain(Secret::new(KEY))];
    if let ProviderConfig::Sim(sim) = &mut tenant.provider {
        sim.articles = articles;
        sim.init_delay = Duration::ZERO;
        sim.per_call_latency = Duration::ZERO;
        sim.per_item_cost = Duration::ZERO;
        // The direct side and the hub each get one session per client: the comparison
        // is about the HTTP layer, not about queueing on a serial backend.
        sim.sessions = 8;
    }
    tenant.runtime.max_sessions = 8;
    tenant.rate_limit.enabled = false;
    tenant.sync.enabled = false;
    let mut cached = tenant.clone();
    tenant.id = "bench".into();
    tenant.cache = CacheConfig {
        enabled: false,
        ..CacheConfig::default()
    };
    cached.id = "cached".into();
    cached.api_keys = vec![ApiKey::Plain(Secret::new(CACHED_KEY))];
    cached.cache.enabled = true;
    cached.cache.prices = Duration::from_secs(300);
    config.tenants = vec![tenant, cached];
    config
}

async fn bench(args: &ApiBenchArgs) -> anyhow::Result<Report> {
    if args.concurrency == 0 || args.articles == 0 {
        bail!("--concurrency and --articles must be at least 1");
    }
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let config = bench_config(dir.path(), args.articles);
    let hub = super::super::serve::start(&config, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", hub.addr);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;

    eprintln!(
        "syncing {} articles into the bench tenant ...",
        args.articles
    );
    sync_and_wait(&client, &base, "bench").await?;

    let direct = super::super::providers::provider_for(&config.tenants[0])?.provider;
    let state = hub.state.clone();
    let catalog = state
        .services()
        .catalog()
        .map_err(|p| anyhow::anyhow!("{p:?}"))?
        .clone();
    let indexes = Arc::clone(
        state
            .services()
            .search()
            .map_err(|p| anyhow::anyhow!("{p:?}"))?,
    );
    let articles = args.articles;
    let customers = 50u64;
    let ctx = Arc::new(Ctx {
        client,
        base,
        direct,
        catalog,
        indexes,
        zipf: Zipf::new(articles, 1.0),
        articles,
        customers,
    });
    let d = args.duration;
    let c = args.concurrency;
    let mut scenarios = Vec::new();

    // Warm both sides (sessions, connections, page cache) before measuring.
    let _ = drive(c, Duration::from_millis(500), {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let client = ctx.client.clone();
            let body = price_body(rng, ctx.articles, ctx.customers, 1);
            async move {
                post_ok(
                    &client,
                    &format!("{}/v1/tenants/bench/prices:query", ctx.base),
                    &body,
                )
                .await
            }
        }
    })
    .await;

    for (name, items) in [("price", 1usize), ("bulk100", 100)] {
        let hub_side = drive(c, d, {
            let ctx = Arc::clone(&ctx);
            move |rng: &mut rand::rngs::StdRng| {
                let ctx = Arc::clone(&ctx);
                let client = ctx.client.clone();
                let url = format!("{}/v1/tenants/bench/prices:query", ctx.base);
                let body = price_body(rng, ctx.articles, ctx.customers, items);
                async move { post_ok(&client, &url, &body).await }
            }
        })
        .await;
        let direct_side = drive(c, d, {
            let ctx = Arc::clone(&ctx);
            move |rng: &mut rand::rngs::StdRng| {
                let ctx = Arc::clone(&ctx);
                let direct = Arc::clone(&ctx.direct);
                let request = price_request(rng, ctx.articles, ctx.customers, items);
                async move {
                    direct
                        .prices(request)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            }
        })
        .await;
        scenarios.push(compare(name, hub_side, Some(direct_side)));
    }

    let hub_side = drive(c, d, {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let client = ctx.client.clone();
            let url = format!(
                "{}/v1/tenants/bench/articles/{}",
                ctx.base,
                erpbridge_sim::generate::article_id(rng.random_range(0..ctx.articles))
            );
            async move { get_ok(&client, &url).await }
        }
    })
    .await;
    let direct_side = drive(c, d, {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let catalog = ctx.catalog.clone();
            let id = erpbridge_sim::generate::article_id(rng.random_range(0..ctx.articles));
            async move {
                match catalog.article("bench", id.as_str()).await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(format!("{id} not in the store")),
                    Err(err) => Err(err.to_string()),
                }
            }
        }
    })
    .await;
    scenarios.push(compare("detail", hub_side, Some(direct_side)));

    let hub_side = drive(c, d, {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let client = ctx.client.clone();
            let word = SEARCH_WORDS[rng.random_range(0..SEARCH_WORDS.len())];
            let url = format!(
                "{}/v1/tenants/bench/articles?q={}&page_size=20",
                ctx.base, word
            );
            async move { get_ok(&client, &url).await }
        }
    })
    .await;
    let direct_side = drive(c, d, {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let indexes = Arc::clone(&ctx.indexes);
            let catalog = ctx.catalog.clone();
            let word = SEARCH_WORDS[rng.random_range(0..SEARCH_WORDS.len())];
            async move {
                let index = indexes.tenant("bench").map_err(|e| e.to_string())?;
                let request = SearchRequest {
                    query: word.to_owned(),
                    category: None,
                    limit: 20,
                    cursor: None,
                };
                let page = tokio::task::spawn_blocking(move || index.search(&request))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                let ids: Vec<i64> = page
                    .hits
                    .iter()
                    .filter_map(|h| i64::try_from(h.local_id).ok())
                    .collect();
                catalog
                    .articles_by_local_ids("bench", &ids)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    })
    .await;
    scenarios.push(compare("search", hub_side, Some(direct_side)));

    let hub_side = drive(c, d, { let ctx = Arc::clone(&ctx); move |rng: &mut rand::rngs::StdRng| { let ctx = Arc::clone(&ctx);
        let client = ctx.client.clone();
        let url = format!("{}/v1/tenants/bench/orders", ctx.base);
        let key = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "customer_id": erpbridge_sim::generate::customer_id(rng.random_range(0..ctx.customers)).as_str(),
            "lines": [{
                "article_id": erpbridge_sim::generate::article_id(rng.random_range(0..ctx.articles)).as_str(),
                "quantity": "2"
            }]
        });
        async move {
            let response = client
                .post(&url)
                .bearer_auth(KEY)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if response.status() == reqwest::StatusCode::ACCEPTED
                || response.status() == reqwest::StatusCode::CREATED
            {
                Ok(())
            } else {
                Err(format!("order: HTTP {}", response.status()))
            }
        }
    }})
    .await;
    scenarios.push(compare("order", hub_side, None));

    // Zipf over articles, few customers: what a shop's traffic looks like to the cache.
    let hub_side = drive(c, d, {
        let ctx = Arc::clone(&ctx);
        move |rng: &mut rand::rngs::StdRng| {
            let ctx = Arc::clone(&ctx);
            let client = ctx.client.clone();
            let url = format!("{}/v1/tenants/cached/prices:query", ctx.base);
            let article = ctx.zipf.sample(rng);
            let body = json!({
                "customer": erpbridge_sim::generate::customer_id(rng.random_range(0..5)).as_str(),
                "article_ids": [erpbridge_sim::generate::article_id(article).as_str()],
            });
            async move { post_ok(&client, &url, &body).await }
        }
    })
    .await;
    scenarios.push(compare("zipf", hub_side, None));
    let labels = erpbridge_hub::metrics::CacheLabels {
        tenant: "cached".to_owned(),
        kind: "prices".to_owned(),
    };
    let hits = state.metrics().cache_hits.get_or_create(&labels).get() as f64;
    let misses = state.metrics().cache_misses.get_or_create(&labels).get() as f64;
    let hit_rate = if hits + misses > 0.0 {
        hits / (hits + misses)
    } else {
        0.0
    };

    hub.stop().await?;
    Ok(Report {
        articles,
        concurrency: c,
        duration_s: d.as_secs_f64(),
        scenarios,
        zipf_cache_hit_rate: hit_rate,
    })
}

/// Starts a full sync of `tenant` through the API and waits until it has succeeded.
async fn sync_and_wait(client: &reqwest::Client, base: &str, tenant: &str) -> anyhow::Result<()> {
    let url = format!("{base}/v1/tenants/{tenant}/sync");
    let response = client
        .post(&url)
        .bearer_auth(KEY)
        .json(&json!({ "mode": "full" }))
        .send()
        .await?;
    // 409: the hub already started the first sync of an empty catalog itself.
    if !response.status().is_success() && response.status() != reqwest::StatusCode::CONFLICT {
        bail!(
            "starting the sync: HTTP {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let state: serde_json::Value = client
            .get(&url)
            .bearer_auth(KEY)
            .send()
            .await?
            .json()
            .await?;
        if !state["last_success"].is_null() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the sync did not finish within 10 minutes: {state}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn price_body(
    rng: &mut rand::rngs::StdRng,
    articles: u64,
    customers: u64,
    items: usize,
) -> serde_json::Value {
    let ids: Vec<String> = (0..items)
        .map(|_| {
            erpbridge_sim::generate::article_id(rng.random_range(0..articles))
                .as_str()
                .to_owned()
        })
        .collect();
    json!({
        "customer": erpbridge_sim::generate::customer_id(rng.random_range(0..customers)).as_str(),
        "article_ids": ids,
    })
}

fn price_request(
    rng: &mut rand::rngs::StdRng,
    articles: u64,
    customers: u64,
    items: usize,
) -> PriceRequest {
    PriceRequest {
        customer_id: erpbridge_sim::generate::customer_id(rng.random_range(0..customers)),
        items: (0..items)
            .map(|_| PriceItem {
                article_id: erpbridge_sim::generate::article_id(rng.random_range(0..articles)),
                quantity: Decimal::ONE,
            })
            .collect(),
    }
}

async fn post_ok(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<(), String> {
    let key = if url.contains("/tenants/cached/") {
        CACHED_KEY
    } else {
        KEY
    };
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    // Read the body: the hub's cost includes serialising it, the client's includes reading it.
    let _ = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

async fn get_ok(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client
        .get(url)
        .bearer_auth(KEY)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// Runs `concurrency` loops of `op` for `duration`; latencies in a histogram (µs).
async fn drive<F, Fut>(concurrency: usize, duration: Duration, make: F) -> Side
where
    F: Fn(&mut rand::rngs::StdRng) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let started = Instant::now();
    let end = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(worker as u64 + 1);
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let mut errors = 0u64;
            let mut first_error: Option<String> = None;
            while Instant::now() < end {
                let op = make(&mut rng);
                let t = Instant::now();
                match op.await {
                    Ok(()) => {
                        let _ = histogram.record(t.elapsed().as_micros().max(1) as u64);
                    }
                    Err(err) => {
                        errors += 1;
                        first_error.get_or_insert(err);
                    }
                }
            }
            (histogram, errors, first_error)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut errors = 0;
    for task in tasks {
        if let Ok((histogram, e, first)) = task.await {
            let _ = all.add(&histogram);
            errors += e;
            if let Some(err) = first {
                eprintln!("  (a request failed: {err})");
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Side {
        requests: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_ms: all.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: all.value_at_quantile(0.99) as f64 / 1000.0,
        errors,
    }
}

fn compare(name: &'static str, hub: Side, direct: Option<Side>) -> Scenario {
    let (overhead_p50_ms, overhead_p99_ms, ratio_p99) = match &direct {
        Some(d) => (
            Some(hub.p50_ms - d.p50_ms),
            Some(hub.p99_ms - d.p99_ms),
            Some(hub.p99_ms / d.p99_ms.max(0.001)),
        ),
        None => (None, None, None),
    };
    Scenario {
        name,
        hub,
        direct,
        overhead_p50_ms,
        overhead_p99_ms,
        ratio_p99,
    }
}

/// Zipf(s) over `0..n` by inverse CDF: rank 0 is the most asked-for article.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        for value in &mut cdf {
            *value /= total;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut rand::rngs::StdRng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&p| p < u) as u64
    }
}

fn print_table(report: &Report) {
    println!(
        "erpbridge bench api: {} articles, {} concurrent clients, {:.0} s per side",
        report.articles, report.concurrency, report.duration_s
    );
    println!(
        "{:<9} {:>10} {:>9} {:>9} | {:>10} {:>9} {:>9} | {:>9} {:>9} {:>7}",
        "scenario",
        "hub req/s",
        "p50 ms",
        "p99 ms",
        "direct/s",
        "p50 ms",
        "p99 ms",
        "+p50 ms",
        "+p99 ms",
        "p99 x"
    );
    for s in &report.scenarios {
        let (dps, d50, d99) = s
            .direct
            .as_ref()
            .map(|d| {
                (
                    format!("{:.0}", d.per_second),
                    format!("{:.3}", d.p50_ms),
                    format!("{:.3}", d.p99_ms),
                )
            })
            .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
        let fmt =
            |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
        println!(
            "{:<9} {:>10.0} {:>9.3} {:>9.3} | {:>10} {:>9} {:>9} | {:>9} {:>9} {:>7}",
            s.name,
            s.hub.per_second,
            s.hub.p50_ms,
            s.hub.p99_ms,
            dps,
            d50,
            d99,
            fmt(s.overhead_p50_ms, 3),
            fmt(s.overhead_p99_ms, 3),
            fmt(s.ratio_p99, 2),
        );
        if s.hub.errors > 0 {
            println!("          ({} hub requests failed)", s.hub.errors);
        }
    }
    println!(
        "zipf cache hit rate: {:.1} % (goal > 95 %)",
        report.zipf_cache_hit_rate * 100.0
    );
}

/// What the load loops share.
struct Ctx {
    client: reqwest::Client,
    base: String,
    direct: Arc<dyn Provider>,
    catalog: erpbridge_store::catalog::CatalogStore,
    indexes: Arc<erpbridge_search::SearchIndexes>,
    zipf: Zipf,
    articles: u64,
    customers: u64,
}
