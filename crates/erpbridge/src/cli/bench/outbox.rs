//! `erpbridge bench outbox --store sqlite|postgres --sagas N --workers W [--json]`.
//!
//! Two phases on a fresh database: (1) enqueue N `order.create` sagas from
//! `--concurrency` concurrent callers, each call a durable commit, recording every
//! call's latency; (2) start W workers against a provider that answers instantly and
//! time until all N sagas completed. The durability setting is part of the report:
//! SQLite runs with `synchronous=FULL` unless `--durability normal`.

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::{Args, ValueEnum};
use erpbridge_model::{
    Article, ArticleId, ErpOrderId, Order, OrderLine, OrderReceipt, OrderState, OrderStatus,
    PriceQuote, StockLevel,
};
use erpbridge_outbox::{Engine, Outbox, OutboxOptions, SagaCatalog, StaticProviders};
use erpbridge_provider::*;
use erpbridge_store::outbox::{OutboxStore, testing};
use erpbridge_store::{Db, SqliteDurability};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct OutboxBenchArgs {
    /// `sqlite` (a temp file), `postgres` (a fresh database on ERPBRIDGE_TEST_PG_URL or
    /// the throwaway cluster of scripts/postgres/start.sh), or a `postgres://` URL.
    #[arg(long, default_value = "sqlite")]
    store: String,
    #[arg(long, default_value_t = 20_000)]
    sagas: u64,
    #[arg(long, default_value_t = 4)]
    workers: u32,
    /// Sagas a worker claims at once.
    #[arg(long, default_value_t = 256)]
    batch: u32,
    /// Concurrent callers in the enqueue phase.
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// SQLite `synchronous` setting.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    durability: Durability,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum Durability {
    Full,
    Normal,
}

#[derive(Debug, Serialize)]
struct Report {
    store: String,
    durability: String,
    sagas: u64,
    workers: u32,
    batch: u32,
    enqueue: EnqueueReport,
    process: ProcessReport,
}

#[derive(Debug, Serialize)]
struct EnqueueReport {
    concurrency: u32,
    seconds: f64,
    rate_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct ProcessReport {
    seconds: f64,
    rate_per_second: f64,
    provider_calls: u64,
}

pub fn run(args: OutboxBenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(bench(&args))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            out,
            "outbox bench: {} ({}), {} sagas, {} workers, batch {}",
            report.store, report.durability, report.sagas, report.workers, report.batch
        )?;
        let e = &report.enqueue;
        writeln!(
            out,
            "enqueue: {:.0} sagas/s ({} callers), latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            e.rate_per_second, e.concurrency, e.p50_ms, e.p99_ms, e.max_ms
        )?;
        writeln!(
            out,
            "process: {:.0} sagas/s end to end ({:.2} s)",
            report.process.rate_per_second, report.process.seconds
        )?;
    }
    Ok(())
}

async fn bench(args: &OutboxBenchArgs) -> anyhow::Result<Report> {
    if args.sagas == 0 || args.workers == 0 || args.concurrency == 0 {
        bail!("--sagas, --workers and --concurrency must be at least 1");
    }
    let _dir; // keeps a SQLite temp dir alive for the run
    let (db, store_name, durability) = match args.store.as_str() {
        "sqlite" => {
            let dir = tempfile::tempdir().context("creating a temp dir")?;
            let path = dir.path().join("bench.sqlite");
            let sync = match args.durability {
                Durability::Full => SqliteDurability::Full,
                Durability::Normal => SqliteDurability::Normal,
            };
            let db = Db::open_sqlite(&path, sync).await?;
            _dir = Some(dir);
            let durability = match args.durability {
                Durability::Full => "synchronous=FULL, WAL",
                Durability::Normal => "synchronous=NORMAL, WAL",
            };
            (db, "sqlite".to_owned(), durability.to_owned())
        }
        "postgres" => {
            _dir = None;
            let url = testing::fresh_database_url("bench_outbox").await?;
            let db = Db::open_postgres(&url, 32).await?;
            (
                db,
                "postgres".to_owned(),
                "server defaults (fsync on)".to_owned(),
            )
        }
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            _dir = None;
            let db = Db::open_postgres(url, 32).await?;
            (
                db,
                "postgres".to_owned(),
                "as configured on the server".to_owned(),
            )
        }
        other => bail!("--store must be sqlite, postgres or a postgres:// URL, not `{other}`"),
    };
    db.migrate().await?;
    let store = OutboxStore::new(db);
    let run_id = uuid::Uuid::new_v4().simple().to_string();

    let enqueue = enqueue_phase(&store, args, &run_id).await?;
    let process = process_phase(&store, args).await?;
    Ok(Report {
        store: store_name,
        durability,
        sagas: args.sagas,
        workers: args.workers,
        batch: args.batch,
        enqueue,
        process,
    })
}

fn bench_order(n: u64) -> Order {
    Order {
        customer_id: format!("C{:07}", n % 1000 + 1).into(),
        external_reference: Some(format!("bench-{n}")),
        lines: vec![OrderLine {
            article_id: format!("A{:08}", n % 10_000 + 1).into(),
            quantity: rust_decimal::Decimal::ONE,
            unit_price: None,
        }],
        currency: None,
        comment: None,
    }
}

async fn enqueue_phase(
    store: &OutboxStore,
    args: &OutboxBenchArgs,
    run_id: &str,
) -> anyhow::Result<EnqueueReport> {
    let outbox = Outbox::new(store.clone(), SagaCatalog::standard());
    let callers = u64::from(args.concurrency);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let outbox = outbox.clone();
        let run_id = run_id.to_owned();
        let total = args.sagas;
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3)?;
            let mut n = caller;
            while n < total {
                let order = bench_order(n);
                let at = Instant::now();
                outbox
                    .enqueue_order("bench".into(), format!("{run_id}-{n}"), &order)
                    .await?;
                histogram.record(at.elapsed().as_micros() as u64)?;
                n += callers;
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for task in tasks {
        histogram.add(task.await??)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(EnqueueReport {
        concurrency: args.concurrency,
        seconds,
        rate_per_second: args.sagas as f64 / seconds,
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    })
}

async fn process_phase(
    store: &OutboxStore,
    args: &OutboxBenchArgs,
) -> anyhow::Result<ProcessReport> {
    let provider = Arc::new(NoopProvider::default());
    let options = OutboxOptions {
        workers: args.workers,
        batch_size: args.batch,
        poll_interval: Duration::from_millis(5),
        settle_batch: 4096,
        ..OutboxOptions::default()
    };
    let started = Instant::now();
    let engine = Engine::new(
        store.clone(),
        SagaCatalog::standard(),
        Arc::new(StaticProviders::new().with("bench", provider.clone())),
        options,
    )
    .start();
    let stats = engine.stats_handle();
    let deadline = Instant::now() + Duration::from_secs(600);
    while stats.completed.load(Ordering::Relaxed) + stats.dead.load(Ordering::Relaxed) < args.sagas
    {
        if Instant::now() > deadline {
            bail!(
                "processing did not finish within 10 minutes: {:?}",
                stats.snapshot()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    engine.shutdown().await;
    let status = store.status().await?;
    if status.completed_count != args.sagas {
        bail!(
            "expected {} completed sagas, the store says {status:?}",
            args.sagas
        );
    }
    Ok(ProcessReport {
        seconds,
        rate_per_second: args.sagas as f64 / seconds,
        provider_calls: provider.calls.load(Ordering::Relaxed),
    })
}

/// A provider that answers order calls at once: the benchmark measures the outbox.
#[derive(Default)]
struct NoopProvider {
    calls: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl Provider for NoopProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        Err(unsupported("describe"))
    }
    async fn health(&self) -> ProviderResult<HealthReport> {
        Ok(HealthReport {
            ok: true,
            detail: "no-op".into(),
        })
    }
    async fn catalog_page(&self, _request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        Err(unsupported("catalog_page"))
    }
    async fn articles(&self, _ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        Ok(Vec::new())
    }
    async fn prices(&self, _request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        Ok(Vec::new())
    }
    async fn stock(&self, _request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        Ok(Vec::new())
    }
    async fn order_status(&self, _lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        Err(unsupported("order_status"))
    }
    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(OrderReceipt {
            erp_order_id: ErpOrderId::new(format!("NOOP-{}", request.idempotency_key)),
            idempotency_key: request.idempotency_key,
            state: OrderState::Draft,
            already_existed: false,
        })
    }
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(OrderStatus {
            erp_order_id: request.erp_order_id,
            state: OrderState::Confirmed,
            shipment_state: None,
            external_reference: None,
            updated_at: None,
        })
    }
    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(OrderStatus {
            erp_order_id: request.erp_order_id,
            state: OrderState::Cancelled,
            shipment_state: None,
            external_reference: None,
            updated_at: None,
        })
    }
}
