//! TEST FIXTURE, not a product binary: an outbox worker process whose tenant is a real
//! Tryton server, for the SIGKILL tests of `order.create` (the sim's twin is
//! `erpbridge-outbox`'s `outbox-crash-fixture`).
//!
//! It runs the saga engine over a SQLite outbox file against the Tryton provider.
//! Tryton is the durable side here: what it created survives the kill, so the tests
//! count sales in Tryton itself. Options:
//!
//! * `--store FILE` (the SQLite outbox), `--url URL`, `--database DB`, `--user U`; the
//!   password comes from the environment variable named by `--password-env` (default
//!   `ERPBRIDGE_TRYTON_ADMIN_PASSWORD`), never from the command line
//! * `--tenant T`, `--workers N`, `--batch N`, `--lease-ms N`, `--retry-ms N`
//! * `--kill-after-creates K`: SIGKILL itself right after the K-th `create_order` call
//!   returned from Tryton with a sale and before the engine recorded it: the window the
//!   idempotency key (the sale's `reference`) exists for.
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
use erpbridge_provider::*;
use erpbridge_store::outbox::OutboxStore;
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_tryton::{TrytonConfig, TrytonProvider};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Args {
    store: PathBuf,
    url: String,
    database: String,
    user: String,
    password_env: String,
    tenant: String,
    workers: u32,
    batch: u32,
    lease_ms: u64,
    retry_ms: u64,
    kill_after_creates: Option<u64>,
    until_idle: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        store: PathBuf::new(),
        url: String::new(),
        database: "erp".into(),
        user: "admin".into(),
        password_env: "ERPBRIDGE_TRYTON_ADMIN_PASSWORD".into(),
        tenant: "tryton".into(),
        workers: 2,
        batch: 4,
        lease_ms: 1500,
        retry_ms: 100,
        kill_after_creates: None,
        until_idle: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text}: {e}"));
        match flag.as_str() {
            "--store" => args.store = PathBuf::from(value()?),
            "--url" => args.url = value()?,
            "--database" => args.database = value()?,
            "--user" => args.user = value()?,
            "--password-env" => args.password_env = value()?,
            "--tenant" => args.tenant = value()?,
            "--workers" => args.workers = number(value()?)? as u32,
            "--batch" => args.batch = number(value()?)? as u32,
            "--lease-ms" => args.lease_ms = number(value()?)?,
            "--retry-ms" => args.retry_ms = number(value()?)?,
            "--kill-after-creates" => args.kill_after_creates = Some(number(value()?)?),
            "--until-idle" => args.until_idle = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.store.as_os_str().is_empty() || args.url.is_empty() {
        return Err("--store and --url are required".into());
    }
    Ok(args)
}

/// The Tryton provider with the kill point after `create_order`.
struct KillPoint {
    inner: TrytonProvider,
    creates: AtomicU64,
    kill_after_creates: Option<u64>,
}

#[async_trait]
impl Provider for KillPoint {
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
        let result = self.inner.create_order(request).await;
        if result.is_ok() {
            let done = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
            if self.kill_after_creates == Some(done) {
                // Tryton committed the sale; the outbox has not recorded it. Die here.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGKILL);
            }
        }
        result
    }
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.inner.confirm_order(request).await
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
    let password = std::env::var(&args.password_env)
        .map_err(|_| format!("environment variable {} is not set", args.password_env))?;
    let db = Db::open_sqlite(&args.store, SqliteDurability::Full)
        .await
        .map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let store = OutboxStore::new(db);

    let mut config = TrytonConfig::new(args.url, args.database, args.user, password);
    config.request_timeout = Duration::from_secs(120);
    let tryton = TrytonProvider::new(config).map_err(|e| e.to_string())?;
    let provider = Arc::new(KillPoint {
        inner: tryton,
        creates: AtomicU64::new(0),
        kill_after_creates: args.kill_after_creates,
    });
    let options = OutboxOptions {
        workers: args.workers,
        batch_size: args.batch,
        lease: Duration::from_millis(args.lease_ms),
        poll_interval: Duration::from_millis(50),
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
            eprintln!("tryton-outbox-fixture: {err}");
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
            eprintln!("tryton-outbox-fixture: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("tryton-outbox-fixture: {err}");
        std::process::exit(1);
    }
}
