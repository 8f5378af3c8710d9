//! Support for crash-test fixtures and tests; not used by the product.
//!
//! The crash tests run the saga engine in *worker processes* that they SIGKILL, so each
//! provider under test has a small fixture binary (`outbox-crash-fixture` for the
//! simulated ERP in this crate, `tryton-outbox-fixture` for Tryton). Everything except
//! "which store, which provider" is the same for all of them and lives here, so the
//! kill point and the exit protocol cannot drift apart between fixtures:
//!
//! * [`FixtureOptions`]: the shared flags (`--tenant`, `--workers`, `--batch`,
//!   `--lease-ms`, `--retry-ms`, `--kill-after-creates K`, `--exclusive-dir DIR`,
//!   `--until-idle`); a fixture parses its own flags in the callback.
//! * [`CrashProbe`]: the provider wrapper with the kill point (SIGKILL right after the
//!   K-th `create_order` the ERP answered, before the engine recorded it: the window
//!   idempotency keys exist for) and the exclusivity check (a lock file per saga key
//!   while a step runs; a second holder is appended to `DIR/violations`).
//! * [`FixtureOptions::run`]: starts the engine, prints `ready` on stdout, and with
//!   `--until-idle` returns once no saga is pending, running or compensating.
//! * [`fixture_main`]: exit status 2 for bad arguments, 1 for a failed run.
//!
//! The test side gets [`wait_ready`] and [`wait_exit`] for the child processes.
//!
//! It is a public module (like `erpbridge_store::outbox::testing`) rather than a cargo
//! feature because the crate's own fixture binary needs it in every build of the tests;
//! nothing in the crate root re-exports it.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::*;
use erpbridge_store::outbox::OutboxStore;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Engine, OutboxOptions, RetryPolicy, RetryStrategy, SagaCatalog, StaticProviders};

/// A retry policy with a fixed delay and a high attempt cap: tests want retries fast and
/// many, never a saga dead from exhaustion unless they ask for it.
pub fn fixed_retries(delay: Duration, max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        strategy: RetryStrategy::Fixed,
        base_delay: delay,
        max_delay: delay,
        max_attempts: Some(max_attempts),
        ..RetryPolicy::default()
    }
}

/// The flags every worker fixture shares, with the fixture's defaults.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    pub tenant: String,
    pub workers: u32,
    pub batch: u32,
    pub lease: Duration,
    pub retry: Duration,
    pub poll_interval: Duration,
    pub kill_after_creates: Option<u64>,
    pub exclusive_dir: Option<PathBuf>,
    pub until_idle: bool,
}

impl FixtureOptions {
    /// Defaults: 2 workers, batch 16, lease 1.5 s, retry every 50 ms, poll every 20 ms.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            workers: 2,
            batch: 16,
            lease: Duration::from_millis(1500),
            retry: Duration::from_millis(50),
            poll_interval: Duration::from_millis(20),
            kill_after_creates: None,
            exclusive_dir: None,
            until_idle: false,
        }
    }

    /// Parses `args` (without the program name). The shared flags are taken here; every
    /// other flag must take a value and goes to `other(flag, value)`, which rejects what
    /// it does not know.
    pub fn parse(
        mut self,
        args: impl IntoIterator<Item = String>,
        mut other: impl FnMut(&str, String) -> Result<(), String>,
    ) -> Result<Self, String> {
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "--until-idle" {
                self.until_idle = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            let small = || {
                number().and_then(|n| u32::try_from(n).map_err(|e| format!("{flag} {value}: {e}")))
            };
            match flag.as_str() {
                "--tenant" => self.tenant = value,
                "--workers" => self.workers = small()?,
                "--batch" => self.batch = small()?,
                "--lease-ms" => self.lease = Duration::from_millis(number()?),
                "--retry-ms" => self.retry = Duration::from_millis(number()?),
                "--kill-after-creates" => self.kill_after_creates = Some(number()?),
                "--exclusive-dir" => self.exclusive_dir = Some(PathBuf::from(value)),
                _ => other(&flag, value)?,
            }
        }
        Ok(self)
    }

    pub fn outbox_options(&self) -> OutboxOptions {
        OutboxOptions {
            workers: self.workers,
            batch_size: self.batch,
            lease: self.lease,
            poll_interval: self.poll_interval,
            retry: fixed_retries(self.retry, 1000),
            ..OutboxOptions::default()
        }
    }

    /// Runs the engine with `provider` (behind a [`CrashProbe`]) for the tenant: prints
    /// `ready`, then runs until killed, or with `--until-idle` until the queue is empty.
    pub async fn run(&self, store: OutboxStore, provider: Arc<dyn Provider>) -> Result<(), String> {
        let probe = Arc::new(CrashProbe::new(provider, self));
        let engine = Engine::new(
            store.clone(),
            SagaCatalog::standard(),
            Arc::new(StaticProviders::new().with(self.tenant.as_str(), probe)),
            self.outbox_options(),
        )
        .start();
        println!("ready");
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.until_idle {
                let status = store.status().await.map_err(|e| e.to_string())?;
                if status.total_queue_size == 0 {
                    break;
                }
            }
        }
        engine.shutdown().await;
        Ok(())
    }
}

/// The `main` of a fixture binary: `parse` the arguments (failure: exit 2), then `run`
/// them on a two-thread Tokio runtime (failure: exit 1). Errors go to stderr prefixed
/// with `name`.
pub fn fixture_main<A, Fut>(
    name: &str,
    parse: impl FnOnce() -> Result<A, String>,
    run: impl FnOnce(A) -> Fut,
) where
    Fut: Future<Output = Result<(), String>>,
{
    let args = match parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{name}: {err}");
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
            eprintln!("{name}: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("{name}: {err}");
        std::process::exit(1);
    }
}

/// A provider with the fixture's fault and observation hooks around the real one.
pub struct CrashProbe {
    inner: Arc<dyn Provider>,
    creates: AtomicU64,
    kill_after_creates: Option<u64>,
    exclusive_dir: Option<PathBuf>,
}

impl CrashProbe {
    pub fn new(inner: Arc<dyn Provider>, options: &FixtureOptions) -> Self {
        Self {
            inner,
            creates: AtomicU64::new(0),
            kill_after_creates: options.kill_after_creates,
            exclusive_dir: options.exclusive_dir.clone(),
        }
    }

    /// Takes the saga's lock file; `None` (and a line in `violations`) when another
    /// process holds it, or when exclusivity is not checked.
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
impl Provider for CrashProbe {
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
        if result.is_ok() {
            let done = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
            if self.kill_after_creates == Some(done) {
                // The ERP has the order; the engine has not recorded it. Die right here.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGKILL);
            }
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

/// Blocks until the fixture printed its `ready` line (or ended: then the caller's
/// [`wait_exit`] tells how).
pub fn wait_ready(child: &mut Child) {
    if let Some(stdout) = child.stdout.take() {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
}

/// Waits for the fixture to exit; kills it and panics (this is test code) when it runs
/// longer than `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) => {}
            Err(err) => panic!("waiting for the fixture: {err}"),
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the fixture did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
