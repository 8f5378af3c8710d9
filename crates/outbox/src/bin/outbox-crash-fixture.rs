//! TEST FIXTURE, not a product binary: a worker process for the outbox crash tests.
//!
//! It runs the saga engine over a real database (a SQLite file or PostgreSQL) against
//! the simulated ERP hosted by the provider runtime, whose order journal (`--journal`)
//! is fsynced before every acknowledged write, so orders survive the SIGKILLs the tests
//! deal out. Options:
//!
//! * `--store URL` (sqlite path or postgres URL), `--journal FILE`, `--tenant T`
//! * `--workers N`, `--batch N`, `--lease-ms N`, `--retry-ms N`
//! * `--kill-after-creates K`: SIGKILL itself right after the K-th `create_order` call
//!   returned from the ERP and before the engine recorded it — the window idempotency
//!   keys exist for.
//! * `--exclusive-dir DIR`: mark every saga step with a lock file; a step that finds
//!   its saga's file already present (another process runs it) appends to
//!   `DIR/violations`.
//! * `--until-idle`: exit 0 once no saga is pending, running or compensating.
//!
//! Prints `ready` on stdout when its workers run.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_outbox::{
    Engine, OutboxOptions, RetryPolicy, RetryStrategy, SagaCatalog, StaticProviders,
};
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::*;
use erpbridge_sim::{SimConfig, SimFactory};
use erpbridge_store::Db;
use erpbridge_store::outbox::OutboxStore;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Args {
    store: String,
    journal: PathBuf,
    tenant: String,
    workers: u32,
    batch: u32,
    lease_ms: u64,
    retry_ms: u64,
    kill_after_creates: Option<u64>,
    exclusive_dir: Option<PathBuf>,
    until_idle: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        store: String::new(),
        journal: PathBuf::new(),
        tenant: "t1".into(),
        workers: 2,
        batch: 16,
        lease_ms: 1500,
        retry_ms: 50,
        kill_after_creates: None,
        exclusive_dir: None,
        until_idle: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text}: {e}"));
        match flag.as_str() {
            "--store" => args.store = value()?,
            "--journal" => args.journal = PathBuf::from(value()?),
            "--tenant" => args.tenant = value()?,
            "--workers" => args.workers = number(value()?)? as u32,
            "--batch" => args.batch = number(value()?)? as u32,
            "--lease-ms" => args.lease_ms = number(value()?)?,
            "--retry-ms" => args.retry_ms = number(value()?)?,
            "--kill-after-creates" => args.kill_after_creates = Some(number(value()?)?),
            "--exclusive-dir" => args.exclusive_dir = Some(PathBuf::from(value()?)),
            "--until-idle" => args.until_idle = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.store.is_empty() || args.journal.as_os_str().is_empty() {
        return Err("--store and --journal are required".into());
    }
    Ok(args)
}

/// Wraps the hosted sim with the fixture's fault and observation hooks.
struct Instrumented {
    inner: Arc<dyn Provider>,
    creates: AtomicU64,
    kill_after_creates: Option<u64>,
    exclusive_dir: Option<PathBuf>,
}

impl Instrumented {
    fn enter(&self, key: &str) -> Option<PathBuf> {
        let dir = self.exclusive_dir.as_ref()?;
        let marker = dir.join(key);
        if OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .is_err()
        {
            let line = format!("{key} ran concurrently (pid {})\n", std::process::id());
            if let Ok(mut file) = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("violations"))
            {
                let _ = file.write_all(line.as_bytes());
            }
            return None;
        }
        Some(marker)
    }

    fn leave(marker: Option<PathBuf>) {
        if let Some(marker) = marker {
            let _ = std::fs::remove_file(marker);
        }
    }
}

#[async_trait]
impl Provider for Instrumented {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        self.inner.describe().await
    }
    async fn health(&self) -> ProviderResult<HealthReport> {
        self.inner.health().await
    }
    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        self.inner.catalog_page(request).await
    }
    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        self.inner.query_page(query).await
    }
    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        self.inner.articles(ids).await
    }
    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.inner.prices(request).await
    }
    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.inner.stock(request).await
    }
    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.inner.order_status(lookup).await
    }
    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        let marker = self.enter(request.idempotency_key.as_str());
        let result = self.inner.create_order(request).await;
        Self::leave(marker);
        let done = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        if self.kill_after_creates == Some(done) {
            // The ERP has the order; the engine has not recorded it. Die right here.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGKILL);
        }
        result
    }
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        let marker = self.enter(request.idempotency_key.as_str());
        let result = self.inner.confirm_order(request).await;
        Self::leave(marker);
        result
    }
    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.inner.cancel_order(request).await
    }
    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.inner.sync_bom(request).await
    }
    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.inner.adjust_inventory(request).await
    }
}

async fn run(args: Args) -> Result<(), String> {
    let db = Db::open(&args.store).await.map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let store = OutboxStore::new(db);

    let sim = SimConfig {
        state_file: Some(args.journal.clone()),
        ..SimConfig::fast(200)
    };
    let factory = SimFactory::new(sim).map_err(|e| e.to_string())?;
    let hosted =
        HostedProvider::start(factory, RuntimeOptions::default()).map_err(|e| e.to_string())?;
    let provider = Arc::new(Instrumented {
        inner: Arc::new(hosted),
        creates: AtomicU64::new(0),
        kill_after_creates: args.kill_after_creates,
        exclusive_dir: args.exclusive_dir.clone(),
    });
    let options = OutboxOptions {
        workers: args.workers,
        batch_size: args.batch,
        lease: Duration::from_millis(args.lease_ms),
        poll_interval: Duration::from_millis(20),
        retry: RetryPolicy {
            strategy: RetryStrategy::Fixed,
            base_delay: Duration::from_millis(args.retry_ms),
            max_delay: Duration::from_millis(args.retry_ms),
            max_attempts: Some(1000),
            ..RetryPolicy::default()
        },
        ..OutboxOptions::default()
    };
    let engine = Engine::new(
        store.clone(),
        SagaCatalog::standard(),
        Arc::new(StaticProviders::new().with(args.tenant.as_str(), provider)),
        options,
    )
    .start();
    println!("ready");
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if args.until_idle {
            let status = store.status().await.map_err(|e| e.to_string())?;
            if status.total_queue_size == 0 {
                break;
            }
        }
    }
    engine.shutdown().await;
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("outbox-crash-fixture: {err}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("outbox-crash-fixture: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("outbox-crash-fixture: {err}");
        std::process::exit(1);
    }
}
