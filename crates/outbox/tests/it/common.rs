//! Shared helpers: stores on both backends, the simulated ERP, a fault-injecting wrapper.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, Order, OrderLine, OrderReceipt, OrderStatus,
    PriceQuote, StockLevel,
};
use erpbridge_provider::*;
use erpbridge_sim::{Sim, SimConfig, generate};
use erpbridge_store::outbox::{OutboxStore, testing};
use erpbridge_store::{Db, SqliteDurability};
use parking_lot::Mutex;
use rust_decimal_macros::dec;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub async fn sqlite_store(dir: &Path) -> (OutboxStore, String) {
    let path = dir.join("outbox.sqlite");
    let db = Db::open_sqlite(&path, SqliteDurability::Normal)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    (OutboxStore::new(db), path.display().to_string())
}

pub async fn postgres_store(prefix: &str) -> (OutboxStore, String) {
    let (db, url) = testing::fresh_postgres(prefix).await.unwrap();
    (OutboxStore::new(db), url)
}

pub fn sim(state_file: Option<&Path>) -> Sim {
    Sim::new(SimConfig {
        state_file: state_file.map(Path::to_path_buf),
        ..SimConfig::fast(200)
    })
    .unwrap()
}

/// An order the simulated ERP accepts.
pub fn order(n: u64) -> Order {
    Order {
        customer_id: generate::customer_id(n % 10),
        external_reference: Some(format!("shop-{n}")),
        lines: vec![OrderLine {
            article_id: generate::article_id(n % 50),
            quantity: dec!(2),
            unit_price: None,
        }],
        currency: None,
        comment: None,
    }
}

/// Waits until no saga is pending, running or compensating.
pub async fn wait_idle(store: &OutboxStore, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = store.status().await.unwrap();
        if status.total_queue_size == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not idle within {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the fault wrapper does to a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    None,
    /// The first N calls fail transiently, then calls pass.
    TransientTimes(u64),
    AlwaysTransient,
    AlwaysFatal,
}

/// FAKE FAULTS around the real simulated ERP: passes every call through to the sim,
/// except that `create_order` / `confirm_order` fail as configured. Counts calls.
pub struct Faulty {
    pub sim: Sim,
    pub create_fault: Mutex<Fault>,
    pub confirm_fault: Mutex<Fault>,
    pub creates: AtomicU64,
    pub confirms: AtomicU64,
    pub keys_seen: Mutex<Vec<String>>,
    /// Slept before every order call (a slow ERP).
    pub delay: Mutex<Duration>,
}

impl Faulty {
    pub fn new(sim: Sim) -> Arc<Self> {
        Arc::new(Self {
            sim,
            create_fault: Mutex::new(Fault::None),
            confirm_fault: Mutex::new(Fault::None),
            creates: AtomicU64::new(0),
            confirms: AtomicU64::new(0),
            keys_seen: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
        })
    }

    fn check(fault: &Mutex<Fault>, calls: u64) -> ProviderResult<()> {
        match *fault.lock() {
            Fault::None => Ok(()),
            Fault::TransientTimes(n) if calls <= n => Err(ProviderError::transient(format!(
                "injected timeout #{calls}"
            ))),
            Fault::TransientTimes(_) => Ok(()),
            Fault::AlwaysTransient => Err(ProviderError::transient("injected: ERP unreachable")),
            Fault::AlwaysFatal => Err(ProviderError::fatal("injected: credit limit exceeded")),
        }
    }
}

#[async_trait]
impl Provider for Faulty {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        Err(unsupported("describe"))
    }
    async fn health(&self) -> ProviderResult<HealthReport> {
        Ok(HealthReport {
            ok: true,
            detail: String::new(),
        })
    }
    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        self.sim.catalog_page(&request)
    }
    async fn query_page(&self, _query: Query) -> ProviderResult<QueryPage> {
        Err(unsupported("query"))
    }
    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        Ok(self.sim.articles(&ids))
    }
    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.sim.prices(&request)
    }
    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.sim.stock(&request)
    }
    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.sim.order_status(&lookup)
    }
    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.keys_seen
            .lock()
            .push(request.idempotency_key.to_string());
        let delay = *self.delay.lock();
        tokio::time::sleep(delay).await;
        let calls = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        Self::check(&self.create_fault, calls)?;
        self.sim.create_order(&request)
    }
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        let delay = *self.delay.lock();
        tokio::time::sleep(delay).await;
        let calls = self.confirms.fetch_add(1, Ordering::SeqCst) + 1;
        Self::check(&self.confirm_fault, calls)?;
        self.sim.confirm_order(&request)
    }
    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.sim.cancel_order(&request)
    }
    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.sim.sync_bom(&request)
    }
    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.sim.adjust_inventory(&request)
    }
}
