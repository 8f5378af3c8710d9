//! A fake non-thread-safe backend for the runtime's tests. The real simulated ERP lives in
//! `erpbridge-sim`; this fake only has what the runtime tests need to observe: counters,
//! an overlap detector, gates to hold a login or a call, and injectable failures.

use erpbridge_model::query::plan::PushdownCapabilities;
use erpbridge_model::*;
use erpbridge_provider::*;
use parking_lot::{Condvar, Mutex};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::thread::ThreadId;
use std::time::Duration;

/// A latch the test opens; threads waiting on it block (for real) until then.
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
    pub waiting: AtomicU32,
}

impl Gate {
    pub fn closed() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn open(&self) {
        *self.open.lock() = true;
        self.changed.notify_all();
    }
    fn pass(&self) {
        let mut open = self.open.lock();
        self.waiting.fetch_add(1, SeqCst);
        while !*open {
            self.changed.wait(&mut open);
        }
        self.waiting.fetch_sub(1, SeqCst);
    }
}

/// What a call of the fake should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    Transient,
    Fatal,
    Unavailable,
    Panic,
}

#[derive(Default)]
pub struct Shared {
    pub connects: AtomicU64,
    pub connect_attempts: AtomicU64,
    pub sessions_dropped: AtomicU64,
    pub pings: AtomicU64,
    pub calls: AtomicU64,
    pub price_calls: AtomicU64,
    pub price_items: AtomicU64,
    /// The largest number of items in one price call.
    pub max_price_items: AtomicU64,
    pub stock_calls: AtomicU64,
    pub article_calls: AtomicU64,
    pub article_ids: AtomicU64,
    /// Calls that found another call running on the same session.
    pub overlaps: AtomicU64,
    /// Calls made on a thread other than the one that logged the session in.
    pub wrong_thread: AtomicU64,
    /// Logins that overlapped another login.
    pub login_overlaps: AtomicU64,
    logging_in: AtomicBool,
    /// Connects to fail before one succeeds.
    pub fail_connects: AtomicU32,
    /// Calls (prices/stock/ping-free ops) to run in `mode` before going back to normal.
    pub mode: Mutex<(Mode, u32)>,
    pub ping_fails: AtomicBool,
    pub connect_gate: Mutex<Option<Arc<Gate>>>,
    pub call_gate: Mutex<Option<Arc<Gate>>>,
    pub call_delay: Mutex<Duration>,
}

#[derive(Clone)]
pub struct FakeErp {
    pub shared: Arc<Shared>,
    /// For a serial backend one flag for all sessions: there must never be two calls at
    /// once, on any session. Pooled sessions each get their own flag.
    serial_busy: Arc<AtomicBool>,
    pub concurrency: ConcurrencyModel,
    pub limits: BatchLimits,
}

impl FakeErp {
    pub fn serial() -> Self {
        Self::with(ConcurrencyModel::Serial)
    }
    pub fn pooled(sessions: u32) -> Self {
        Self::with(ConcurrencyModel::Pooled { sessions })
    }
    fn with(concurrency: ConcurrencyModel) -> Self {
        Self {
            shared: Arc::new(Shared::default()),
            serial_busy: Arc::new(AtomicBool::new(false)),
            concurrency,
            limits: BatchLimits::default(),
        }
    }
    pub fn set_mode(&self, mode: Mode, times: u32) {
        *self.shared.mode.lock() = (mode, times);
    }
    pub fn hold_calls(&self) -> Arc<Gate> {
        let gate = Gate::closed();
        *self.shared.call_gate.lock() = Some(gate.clone());
        gate
    }
    pub fn hold_logins(&self) -> Arc<Gate> {
        let gate = Gate::closed();
        *self.shared.connect_gate.lock() = Some(gate.clone());
        gate
    }
}

impl SessionFactory for FakeErp {
    type Session = FakeSession;

    fn describe(&self) -> ProviderDescription {
        ProviderDescription {
            name: "fake".into(),
            version: "0".into(),
            operations: vec![Operation::Prices, Operation::Stock, Operation::Health],
            pushdown: PushdownCapabilities::default(),
            concurrency: self.concurrency,
            limits: self.limits,
        }
    }

    fn connect(&self) -> ProviderResult<FakeSession> {
        let shared = &self.shared;
        shared.connect_attempts.fetch_add(1, SeqCst);
        if shared.logging_in.swap(true, SeqCst) {
            shared.login_overlaps.fetch_add(1, SeqCst);
        }
        let gate = shared.connect_gate.lock().clone();
        if let Some(gate) = gate {
            gate.pass();
        }
        // Give a concurrent login the chance to show up in the overlap detector.
        std::thread::sleep(Duration::from_millis(2));
        shared.logging_in.store(false, SeqCst);
        let failing = shared
            .fail_connects
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(ProviderError::unavailable("fake login refused"));
        }
        shared.connects.fetch_add(1, SeqCst);
        Ok(FakeSession {
            shared: shared.clone(),
            busy: match self.concurrency {
                ConcurrencyModel::Serial => self.serial_busy.clone(),
                _ => Arc::new(AtomicBool::new(false)),
            },
            owner: std::thread::current().id(),
            _not_send: std::marker::PhantomData,
        })
    }
}

pub struct FakeSession {
    shared: Arc<Shared>,
    busy: Arc<AtomicBool>,
    owner: ThreadId,
    /// Like an SDK handle: must not leave its thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for FakeSession {
    fn drop(&mut self) {
        self.shared.sessions_dropped.fetch_add(1, SeqCst);
    }
}

impl FakeSession {
    /// Wrap a call: detect overlap and thread hopping, apply gate, delay and failure mode.
    fn enter<T>(&mut self, body: impl FnOnce(&Shared) -> T) -> ProviderResult<T> {
        let shared = self.shared.clone();
        shared.calls.fetch_add(1, SeqCst);
        if std::thread::current().id() != self.owner {
            shared.wrong_thread.fetch_add(1, SeqCst);
        }
        if self.busy.swap(true, SeqCst) {
            shared.overlaps.fetch_add(1, SeqCst);
        }
        let gate = shared.call_gate.lock().clone();
        if let Some(gate) = gate {
            gate.pass();
        }
        let delay = *shared.call_delay.lock();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        } else {
            std::thread::yield_now();
        }
        self.busy.store(false, SeqCst);
        let mode = {
            let mut mode = shared.mode.lock();
            let current = mode.0;
            if current != Mode::Normal {
                mode.1 = mode.1.saturating_sub(1);
                if mode.1 == 0 {
                    mode.0 = Mode::Normal;
                }
            }
            current
        };
        match mode {
            Mode::Normal => Ok(body(&shared)),
            Mode::Transient => Err(ProviderError::transient("fake timeout")),
            Mode::Fatal => Err(ProviderError::fatal("fake validation error")),
            Mode::Unavailable => Err(ProviderError::unavailable("fake connection lost")),
            Mode::Panic => panic!("fake SDK crashed"),
        }
    }
}

/// The fake's price: 10 × the number in the article id plus the customer's number.
pub fn expected_price(article: &ArticleId, customer: &CustomerId) -> Decimal {
    let n = |s: &str| -> i64 {
        s.trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0)
    };
    Decimal::from(10 * n(article.as_str()) + n(customer.as_str()))
}

/// Articles whose id starts with `missing` do not exist in the fake.
fn exists(article: &ArticleId) -> bool {
    !article.as_str().starts_with("missing")
}

impl BlockingSession for FakeSession {
    fn ping(&mut self) -> ProviderResult<()> {
        self.shared.pings.fetch_add(1, SeqCst);
        if self.shared.ping_fails.load(SeqCst) {
            return Err(ProviderError::unavailable("fake ping failed"));
        }
        Ok(())
    }

    fn catalog_page(&mut self, request: &CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let limit = request.limit;
        self.enter(|_| CatalogPage {
            records: Vec::new(),
            next: ChangeCursor(format!("limit={limit}")),
            has_more: false,
        })
    }

    fn articles(&mut self, ids: &[ArticleId]) -> ProviderResult<Vec<Article>> {
        self.enter(|shared| {
            shared.article_calls.fetch_add(1, SeqCst);
            shared.article_ids.fetch_add(ids.len() as u64, SeqCst);
            Vec::new()
        })
    }

    fn prices(&mut self, request: &PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.enter(|shared| {
            shared.price_calls.fetch_add(1, SeqCst);
            shared
                .price_items
                .fetch_add(request.items.len() as u64, SeqCst);
            shared
                .max_price_items
                .fetch_max(request.items.len() as u64, SeqCst);
            request
                .items
                .iter()
                .filter(|item| exists(&item.article_id))
                .map(|item| PriceQuote {
                    article_id: item.article_id.clone(),
                    customer_id: request.customer_id.clone(),
                    unit_price: expected_price(&item.article_id, &request.customer_id),
                    currency: "EUR".into(),
                    quantity: item.quantity,
                    breaks: Vec::new(),
                    valid_from: None,
                    valid_until: None,
                })
                .collect()
        })
    }

    fn stock(&mut self, request: &StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.enter(|shared| {
            shared.stock_calls.fetch_add(1, SeqCst);
            let warehouses = if request.warehouse_ids.is_empty() {
                vec![WarehouseId::new("W1"), WarehouseId::new("W2")]
            } else {
                request.warehouse_ids.clone()
            };
            request
                .article_ids
                .iter()
                .filter(|a| exists(a))
                .flat_map(|a| {
                    warehouses.iter().map(move |w| StockLevel {
                        article_id: a.clone(),
                        warehouse_id: w.clone(),
                        available: expected_price(a, &CustomerId::new("0")),
                        reserved: Decimal::ZERO,
                    })
                })
                .collect()
        })
    }

    fn order_status(&mut self, lookup: &OrderLookup) -> ProviderResult<OrderStatus> {
        let _ = lookup;
        self.enter(|_| ())?;
        Err(ProviderError::not_found("the fake has no orders"))
    }

    fn create_order(&mut self, request: &CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.enter(|_| OrderReceipt {
            erp_order_id: ErpOrderId::new(format!("O-{}", request.idempotency_key)),
            idempotency_key: request.idempotency_key.clone(),
            state: OrderState::Draft,
            already_existed: false,
        })
    }

    fn confirm_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        let _ = request;
        Err(unsupported("confirm_order"))
    }

    fn cancel_order(&mut self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        let _ = request;
        Err(unsupported("cancel_order"))
    }
}

pub fn price_request(customer: &str, article: &str) -> PriceRequest {
    PriceRequest {
        customer_id: CustomerId::new(customer),
        items: vec![PriceItem {
            article_id: ArticleId::new(article),
            quantity: Decimal::ONE,
        }],
    }
}
