//! Sessions of the simulated ERP, with the fragility of a real ERP SDK session: a login
//! that costs `init_delay`, per-call latency, injected faults — and a detector for the
//! one thing such an SDK must never see, two calls at once.
//!
//! Every call marks its session busy with a compare-exchange on entry and sleeps its
//! latency *inside* the busy section, so overlapping calls really overlap. A call that
//! finds the session busy counts a violation on the [`Sim`], logs an error and fails with
//! a fatal "concurrent access to session N detected". Behind a correct executor the
//! counter stays 0; that is what the runtime's tests assert.

use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BlockingSession, BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest,
    InventoryAdjustRequest, OrderActionRequest, OrderLookup, PriceRequest, ProviderDescription,
    ProviderError, ProviderResult, QueryPage, SessionFactory, StockRequest,
};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::rng::Draw;
use crate::sim::Sim;

const SALT_FAULTS: u64 = 0xFA17;

/// Opens [`SimSession`]s; hand it to the provider runtime.
#[derive(Clone, Debug)]
pub struct SimFactory {
    sim: Sim,
}

impl SimFactory {
    pub fn new(config: crate::SimConfig) -> Result<Self, crate::SimError> {
        Ok(Self::from_sim(Sim::new(config)?))
    }

    pub fn from_sim(sim: Sim) -> Self {
        Self { sim }
    }

    /// The simulator behind the sessions (counters, clock, ledger).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }
}

impl SessionFactory for SimFactory {
    type Session = SimSession;

    fn describe(&self) -> ProviderDescription {
        crate::describe::description(self.sim.config())
    }

    fn connect(&self) -> ProviderResult<SimSession> {
        SimSession::connect(self.sim.clone())
    }
}

/// One login to the simulated ERP. The runtime owns it on one thread; for tests that must
/// misuse it, [`SimSession::raw`] hands out a shared handle to the same session.
#[derive(Debug)]
pub struct SimSession {
    core: Arc<SessionCore>,
}

/// A shared handle to one session, callable from several threads at once — exactly what
/// the real SDK forbids, so the detector has something to catch.
#[derive(Debug, Clone)]
pub struct RawSession {
    core: Arc<SessionCore>,
}

#[derive(Debug)]
struct SessionCore {
    sim: Sim,
    number: u64,
    busy: AtomicBool,
    dead: AtomicBool,
    faults: Mutex<Draw>,
}

/// Clears the busy flag however the call ends.
struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How many "items" a result carries, for `per_item_cost`.
trait Items {
    fn items(&self) -> usize;
}

impl<T> Items for Vec<T> {
    fn items(&self) -> usize {
        self.len()
    }
}
impl Items for CatalogPage {
    fn items(&self) -> usize {
        self.records.len()
    }
}
impl Items for QueryPage {
    fn items(&self) -> usize {
        self.records.len()
    }
}
macro_rules! one_item {
    ($($t:ty),*) => { $(impl Items for $t { fn items(&self) -> usize { 1 } })* };
}
one_item!((), OrderStatus, OrderReceipt, BomReceipt, InventoryReceipt);

fn sleep(d: Duration) {
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}

impl SimSession {
    /// Logs in: takes `init_delay`. Overlapping logins are counted as violations too
    /// (enventa's login is not thread-safe either) and fail fatally.
    pub(crate) fn connect(sim: Sim) -> ProviderResult<Self> {
        let inner = &sim.inner;
        if inner
            .logging_in
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            inner.stats.login_violations.fetch_add(1, Ordering::Relaxed);
            tracing::error!("concurrent login to the simulated ERP detected");
            return Err(ProviderError::fatal("concurrent login detected"));
        }
        let _guard = BusyGuard(&inner.logging_in);
        sleep(inner.config.init_delay);
        let number = inner.stats.logins.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(session = number, "sim session opened");
        let faults = Draw::new(inner.config.seed, SALT_FAULTS, number);
        Ok(Self {
            core: Arc::new(SessionCore {
                sim: sim.clone(),
                number,
                busy: AtomicBool::new(false),
                dead: AtomicBool::new(false),
                faults: Mutex::new(faults),
            }),
        })
    }

    /// The session's number (1 for the first login of a [`Sim`]).
    pub fn number(&self) -> u64 {
        self.core.number
    }

    /// Whether an injected disconnect has killed this session.
    pub fn is_dead(&self) -> bool {
        self.core.dead.load(Ordering::Acquire)
    }

    /// A handle that can call this session from any thread, bypassing `&mut` exclusivity.
    /// Only for proving the detector works.
    pub fn raw(&self) -> RawSession {
        RawSession {
            core: self.core.clone(),
        }
    }
}

struct Faults {
    error: bool,
    timeout: bool,
    disconnect: bool,
    lost_reply: bool,
}

impl SessionCore {
    fn draw_faults(&self) -> Faults {
        let c = &self.sim.inner.config;
        let mut d = self.faults.lock();
        // Always draw all four so one knob does not shift the others' sequences.
        Faults {
            error: d.chance(c.error_rate),
            timeout: d.chance(c.timeout_rate),
            disconnect: d.chance(c.disconnect_rate),
            lost_reply: d.chance(c.lost_reply_rate),
        }
    }

    fn call<T: Items>(
        &self,
        operation: &'static str,
        write: bool,
        f: impl FnOnce(&Sim) -> ProviderResult<T>,
    ) -> ProviderResult<T> {
        let inner = &self.sim.inner;
        if self
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            inner.stats.violations.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                session = self.number,
                operation,
                "concurrent access to a sim session detected"
            );
            return Err(ProviderError::fatal(format!(
                "concurrent access to session {} detected (operation `{operation}`)",
                self.number
            )));
        }
        let _busy = BusyGuard(&self.busy);
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        let config = &inner.config;
        if self.dead.load(Ordering::Acquire) {
            return Err(self.disconnected());
        }
        let faults = self.draw_faults();
        sleep(config.per_call_latency);
        if faults.disconnect {
            self.dead.store(true, Ordering::Release);
            tracing::warn!(session = self.number, "sim session disconnected (injected)");
            return Err(self.disconnected());
        }
        if faults.timeout {
            sleep(config.timeout_after);
            return Err(ProviderError::transient(format!(
                "`{operation}` timed out after {:?} (injected)",
                config.timeout_after
            )));
        }
        if faults.error {
            return Err(ProviderError::transient(format!(
                "`{operation}` failed: simulated transient error"
            )));
        }
        let result = f(&self.sim)?;
        let items = result.items().min(u32::MAX as usize) as u32;
        sleep(config.per_item_cost.saturating_mul(items));
        if write && faults.lost_reply {
            return Err(ProviderError::transient(format!(
                "`{operation}`: connection lost before the reply (the write took effect)"
            )));
        }
        Ok(result)
    }

    fn disconnected(&self) -> ProviderError {
        ProviderError::unavailable(format!(
            "session {} is disconnected; log in again",
            self.number
        ))
    }
}

/// The session operations, on `&self` so [`RawSession`] can share them.
macro_rules! session_ops {
    ($target:ident) => {
        impl $target {
            pub fn ping(&self) -> ProviderResult<()> {
                self.core.call("ping", false, |_| Ok(()))
            }
            pub fn catalog_page(
                &self,
                request: &CatalogPageRequest,
            ) -> ProviderResult<CatalogPage> {
                self.core
                    .call("catalog_page", false, |sim| sim.catalog_page(request))
            }
            pub fn query_page(&self, query: &Query) -> ProviderResult<QueryPage> {
                self.core.call("query_page", false, |sim| {
                    crate::query::query_page(sim, query)
                })
            }
            pub fn articles(&self, ids: &[ArticleId]) -> ProviderResult<Vec<Article>> {
                self.core
                    .call("articles", false, |sim| Ok(sim.articles(ids)))
            }
            pub fn prices(&self, request: &PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
                self.core.call("prices", false, |sim| sim.prices(request))
            }
            pub fn stock(&self, request: &StockRequest) -> ProviderResult<Vec<StockLevel>> {
                self.core.call("stock", false, |sim| sim.stock(request))
            }
            pub fn order_status(&self, lookup: &OrderLookup) -> ProviderResult<OrderStatus> {
                self.core
                    .call("order_status", false, |sim| sim.order_status(lookup))
            }
            pub fn create_order(
                &self,
                request: &CreateOrderRequest,
            ) -> ProviderResult<OrderReceipt> {
                self.core
                    .call("create_order", true, |sim| sim.create_order(request))
            }
            pub fn confirm_order(
                &self,
                request: &OrderActionRequest,
            ) -> ProviderResult<OrderStatus> {
                self.core
                    .call("confirm_order", true, |sim| sim.confirm_order(request))
            }
            pub fn cancel_order(
                &self,
                request: &OrderActionRequest,
            ) -> ProviderResult<OrderStatus> {
                self.core
                    .call("cancel_order", true, |sim| sim.cancel_order(request))
            }
            pub fn sync_bom(&self, request: &BomSyncRequest) -> ProviderResult<BomReceipt> {
                self.core
                    .call("sync_bom", true, |sim| sim.sync_bom(request))
            }
            pub fn adjust_inventory(
                &self,
                request: &InventoryAdjustRequest,
            ) -> ProviderResult<InventoryReceipt> {
                self.core.call("adjust_inventory", true, |sim| {
                    sim.adjust_inventory(request)
                })
            }
        }
    };
}

session_ops!(RawSession);

impl RawSession {
    pub fn number(&self) -> u64 {
        self.core.number
    }

    fn of(session: &SimSession) -> Self {
        session.raw()
    }
}

impl BlockingSession for SimSession {
    fn ping(&mut self) -> ProviderResult<()> {
        RawSession::of(self).ping()
    }
    fn catalog_page(&mut self, request: &CatalogPageRequest) -> ProviderResult<CatalogPage> {
        RawSession::of(self).catalog_page(request)
    }
    fn query_page(&mut self, query: &Query) -> ProviderResult<QueryPage> {
        RawSession::of(self).query_page(query)
    }
    fn articles(&mut self, ids: &[ArticleId]) -> ProviderResult<Vec<Article>> {
        RawSession::of(self).articles(ids)
    }
    fn prices(&mut self, request: &PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        RawSession::of(self).prices(request)
    }
    fn stock(&mut self, request: &StockRequest) -> ProviderResult<Vec<StockLevel>> {
        RawSession::of(self).stock(request)
    }
    fn order_status(&mut self, lookup: &OrderLookup) -> ProviderResult<OrderStatus> {
        RawSession::of(self).order_status(lookup)
    }
    fn create_order(&mut self, request: &CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        RawSession::of(self).create_order(request)
    }
    fn confirm_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        RawSession::of(self).confirm_order(request)
    }
    fn cancel_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        RawSession::of(self).cancel_order(request)
    }
    fn sync_bom(&mut self, request: &BomSyncRequest) -> ProviderResult<BomReceipt> {
        RawSession::of(self).sync_bom(request)
    }
    fn adjust_inventory(
        &mut self,
        request: &InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        RawSession::of(self).adjust_inventory(request)
    }
}
