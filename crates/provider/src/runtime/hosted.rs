//! [`HostedProvider`]: a [`SessionFactory`] turned into a [`Provider`].
//!
//! Every call takes the same path: count it, ask the circuit breaker, queue a job on the
//! pool, await the answer under the call deadline, tell the breaker how it went. Prices and
//! stock go through the coalescers instead of plain jobs. Catalog and query pages are
//! ordinary jobs, so live lookups interleave between the pages of a long sync.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::breaker::{BreakerState, CircuitBreaker, Permit};
use super::coalesce::{BulkLookup, Coalescer, Delivery, Prices, Stock};
use super::executor::{CallJob, Env};
use super::options::RuntimeOptions;
use super::pool::{Pool, Refused};
use super::stats::{Counters, RuntimeStats};
use crate::api::*;
use crate::describe::ProviderDescription;
use crate::error::{ProviderError, ProviderResult};
use crate::traits::{BlockingSession, Provider, SessionFactory};

/// The lock that serialises logins. Each hosted provider gets its own unless one is
/// shared: share one across tenants when the SDK's login is not even safe across
/// independent connections of one process.
#[derive(Debug, Clone, Default)]
pub struct LoginLock(Arc<Mutex<()>>);

impl LoginLock {
    pub fn new() -> Self {
        Self::default()
    }
}

/// A non-thread-safe backend hosted on dedicated session threads, seen as a [`Provider`].
/// Cheap to clone (all clones share one runtime). Dropping the last clone closes the
/// queues; the session threads finish their queued work, log out and end.
pub struct HostedProvider<F: SessionFactory> {
    inner: Arc<Inner<F>>,
}

impl<F: SessionFactory> Clone for HostedProvider<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<F: SessionFactory> {
    description: ProviderDescription,
    options: RuntimeOptions,
    pool: Pool<F>,
    breaker: CircuitBreaker,
    prices: Arc<Coalescer<Prices>>,
    stock: Arc<Coalescer<Stock>>,
}

impl<F: SessionFactory> HostedProvider<F> {
    /// Start the runtime for `factory`: validate the options, start the maintenance task
    /// and, with `warm_up`, begin logging in `min_sessions` sessions in the background.
    /// Must be called inside a Tokio runtime. Returns at once; use [`Self::wait_ready`] or
    /// [`Self::readiness`] to know when the sessions are warm.
    pub fn start(factory: F, options: RuntimeOptions) -> ProviderResult<Self> {
        Self::start_with_login_lock(Arc::new(factory), options, LoginLock::new())
    }

    /// [`Self::start`] with a factory shared elsewhere and a login lock shared with other
    /// hosted providers.
    pub fn start_with_login_lock(
        factory: Arc<F>,
        options: RuntimeOptions,
        login: LoginLock,
    ) -> ProviderResult<Self> {
        options.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ProviderError::fatal("HostedProvider::start must run inside a Tokio runtime")
        })?;
        let description = factory.describe();
        let (min, max) = options.session_bounds(description.concurrency);
        let env = Arc::new(Env::new(description.name.clone(), min));
        let limits = description.limits;
        let inner = Arc::new(Inner {
            prices: Arc::new(Coalescer::new(
                options.batch_limit(limits.max_prices_per_call),
                env.clone(),
            )),
            stock: Arc::new(Coalescer::new(
                options.batch_limit(limits.max_stock_per_call),
                env.clone(),
            )),
            pool: Pool::new(factory, login.0, env, options.clone(), (min, max)),
            breaker: if options.breaker_enabled {
                CircuitBreaker::new(options.breaker_threshold, options.breaker_cooldown)
            } else {
                CircuitBreaker::disabled()
            },
            description,
            options,
        });
        if inner.options.warm_up {
            inner.pool.warm_up()?;
        }
        let weak = Arc::downgrade(&inner);
        let tick = inner.options.tick();
        runtime.spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                inner.pool.maintain(tokio::time::Instant::now());
            }
        });
        Ok(Self { inner })
    }

    /// Whether at least `min_sessions` sessions are logged in.
    pub fn is_ready(&self) -> bool {
        self.inner.pool.env.is_ready()
    }

    /// Readiness as a watch channel (for `/readyz` and start-up gating).
    pub fn readiness(&self) -> watch::Receiver<bool> {
        self.inner.pool.env.readiness()
    }

    /// Wait until ready. Never returns if logins keep failing; put a timeout around it.
    pub async fn wait_ready(&self) {
        wait_ready(self.readiness()).await;
    }

    pub fn stats(&self) -> RuntimeStats {
        self.inner.stats()
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    pub fn options(&self) -> &RuntimeOptions {
        &self.inner.options
    }

    /// A type-erased handle on readiness and stats, for code that holds the provider as
    /// `Arc<dyn Provider>`.
    pub fn monitor(&self) -> RuntimeMonitor {
        RuntimeMonitor {
            source: self.inner.clone(),
        }
    }

    /// Run any closure on a session, with the same queueing, deadline and breaker as the
    /// provider operations (for backend-specific calls, and to measure the executor).
    pub async fn call<R, C>(&self, job: C) -> ProviderResult<R>
    where
        C: FnOnce(&mut F::Session) -> ProviderResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.observe(self.run_job(job)).await
    }

    /// Count a provider operation and its failure.
    async fn observe<T>(
        &self,
        operation: impl Future<Output = ProviderResult<T>>,
    ) -> ProviderResult<T> {
        let counters = &self.inner.pool.env.counters;
        Counters::inc(&counters.calls);
        let result = operation.await;
        if result.is_err() {
            Counters::inc(&counters.failures);
        }
        result
    }

    fn admit(&self) -> ProviderResult<Permit<'_>> {
        self.inner.breaker.try_acquire().inspect_err(|_| {
            Counters::inc(&self.inner.pool.env.counters.breaker_rejections);
        })
    }

    fn deadline_exceeded(&self) -> ProviderError {
        Counters::inc(&self.inner.pool.env.counters.deadline_exceeded);
        ProviderError::transient(format!(
            "deadline exceeded after {:?}",
            self.inner.options.call_timeout
        ))
    }

    async fn run_job<R, C>(&self, job: C) -> ProviderResult<R>
    where
        C: FnOnce(&mut F::Session) -> ProviderResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self.admit()?;
        let (tx, rx) = oneshot::channel();
        if let Err(Refused { error, .. }) = self.inner.pool.submit(Box::new(CallJob { f: job, tx }))
        {
            permit.release();
            return Err(error);
        }
        // Dropping `rx` on timeout is what tells the executor to skip the job if it has
        // not started yet.
        let result = match tokio::time::timeout(self.inner.options.call_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(lost_in_session()),
            Err(_) => Err(self.deadline_exceeded()),
        };
        permit.record(&result);
        result
    }

    /// Split a bulk request at the provider's batch limit and run the parts in turn.
    async fn chunked<I, O, C>(&self, items: Vec<I>, limit: u32, call: C) -> ProviderResult<Vec<O>>
    where
        I: Clone + Send + 'static,
        O: Send + 'static,
        C: Fn(&mut F::Session, Vec<I>) -> ProviderResult<Vec<O>> + Clone + Send + 'static,
    {
        let mut out = Vec::new();
        for chunk in items.chunks(limit.max(1) as usize) {
            let chunk = chunk.to_vec();
            let call = call.clone();
            out.extend(self.run_job(move |session| call(session, chunk)).await?);
        }
        Ok(out)
    }

    /// Answer a bulk lookup through the coalescer: join or open batches, await them all.
    async fn coalesced<L: BulkLookup>(
        &self,
        coalescer: &Arc<Coalescer<L>>,
        key: L::Key,
        items: Vec<L::Item>,
    ) -> ProviderResult<Vec<L::Output>> {
        let permit = self.admit()?;
        let mut receivers = Vec::new();
        for chunk in items.chunks(coalescer.limit()) {
            let (rx, job) = coalescer.join(key.clone(), chunk.to_vec());
            if let Some(job) = job
                && let Err(Refused { error, job }) = self.inner.pool.submit(Box::new(job))
            {
                job.reject(error);
            }
            receivers.push(rx);
        }
        let deliveries = tokio::time::timeout(
            self.inner.options.call_timeout,
            futures::future::join_all(receivers),
        )
        .await;
        let Ok(deliveries) = deliveries else {
            let result = Err(self.deadline_exceeded());
            permit.record::<()>(&result);
            return result.map(|()| Vec::new());
        };
        let mut report = false;
        let mut outputs = Vec::new();
        let mut error = None;
        for delivery in deliveries {
            match delivery {
                Ok(Delivery {
                    result,
                    report: reporter,
                }) => {
                    report |= reporter;
                    match result {
                        Ok(part) => outputs.extend(part),
                        Err(e) => {
                            error.get_or_insert(e);
                        }
                    }
                }
                Err(_) => {
                    error.get_or_insert_with(lost_in_session);
                }
            }
        }
        let result = match error {
            Some(e) => Err(e),
            None => Ok(outputs),
        };
        if report {
            permit.record(&result);
        } else {
            permit.release();
        }
        result
    }
}

fn lost_in_session() -> ProviderError {
    ProviderError::transient(
        "the session failed while running this call (it panicked); it is being replaced",
    )
}

fn distinct<T: Eq + Hash + Clone>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

async fn wait_ready(mut readiness: watch::Receiver<bool>) {
    let _ = readiness.wait_for(|ready| *ready).await;
}

impl<F: SessionFactory> Inner<F> {
    fn stats(&self) -> RuntimeStats {
        let env = &self.pool.env;
        RuntimeStats {
            sessions: self.pool.size(),
            sessions_warm: env.warm(),
            min_sessions: self.pool.min,
            max_sessions: self.pool.max,
            ready: env.is_ready(),
            breaker: self.breaker.state(),
            ..env.counters.snapshot()
        }
    }
}

/// What [`RuntimeMonitor`] needs from a hosted provider, without its factory type.
pub(crate) trait Introspect: Send + Sync {
    fn stats(&self) -> RuntimeStats;
    fn readiness(&self) -> watch::Receiver<bool>;
}

impl<F: SessionFactory> Introspect for Inner<F> {
    fn stats(&self) -> RuntimeStats {
        Inner::stats(self)
    }
    fn readiness(&self) -> watch::Receiver<bool> {
        self.pool.env.readiness()
    }
}

/// Readiness and stats of one hosted provider, for the hub's `/readyz`, operator API and
/// metrics. Clone freely. Keeps the runtime alive while held.
#[derive(Clone)]
pub struct RuntimeMonitor {
    source: Arc<dyn Introspect>,
}

impl std::fmt::Debug for RuntimeMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMonitor")
            .field("stats", &self.source.stats())
            .finish()
    }
}

impl RuntimeMonitor {
    pub(crate) fn from_source(source: Arc<dyn Introspect>) -> Self {
        Self { source }
    }
    pub fn is_ready(&self) -> bool {
        *self.source.readiness().borrow()
    }
    pub fn readiness(&self) -> watch::Receiver<bool> {
        self.source.readiness()
    }
    pub async fn wait_ready(&self) {
        wait_ready(self.readiness()).await;
    }
    pub fn stats(&self) -> RuntimeStats {
        self.source.stats()
    }
    pub fn breaker_state(&self) -> BreakerState {
        self.source.stats().breaker
    }
}

#[async_trait]
impl<F: SessionFactory> Provider for HostedProvider<F> {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        Ok(self.inner.description.clone())
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        let ping = self.call(|session| session.ping()).await;
        let stats = self.stats();
        let detail = format!(
            "{} of {} sessions warm (min {}), circuit {:?}",
            stats.sessions_warm, stats.sessions, stats.min_sessions, stats.breaker
        );
        Ok(match ping {
            Ok(()) => HealthReport { ok: true, detail },
            Err(error) => HealthReport {
                ok: false,
                detail: format!("{detail}; ping: {error}"),
            },
        })
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let max = self.inner.description.limits.max_catalog_page.max(1);
        let request = CatalogPageRequest {
            limit: request.limit.clamp(1, max),
            ..request
        };
        self.call(move |session| session.catalog_page(&request))
            .await
    }

    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        self.call(move |session| session.query_page(&query)).await
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        let ids = distinct(ids);
        let limit = self.inner.description.limits.max_articles_per_call;
        self.observe(self.chunked(ids, limit, |session: &mut F::Session, chunk| {
            session.articles(&chunk)
        }))
        .await
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let PriceRequest { customer_id, items } = request;
        let items = distinct(items);
        self.observe(async {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            if self.inner.options.coalescing {
                return self.coalesced(&self.inner.prices, customer_id, items).await;
            }
            let limit = self.inner.description.limits.max_prices_per_call;
            self.chunked(items, limit, move |session: &mut F::Session, items| {
                session.prices(&PriceRequest {
                    customer_id: customer_id.clone(),
                    items,
                })
            })
            .await
        })
        .await
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        let StockRequest {
            article_ids,
            mut warehouse_ids,
        } = request;
        warehouse_ids.sort();
        warehouse_ids.dedup();
        let article_ids = distinct(article_ids);
        self.observe(async {
            if article_ids.is_empty() {
                return Ok(Vec::new());
            }
            if self.inner.options.coalescing {
                return self
                    .coalesced(&self.inner.stock, warehouse_ids, article_ids)
                    .await;
            }
            let limit = self.inner.description.limits.max_stock_per_call;
            self.chunked(article_ids, limit, move |session: &mut F::Session, ids| {
                session.stock(&StockRequest {
                    article_ids: ids,
                    warehouse_ids: warehouse_ids.clone(),
                })
            })
            .await
        })
        .await
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.call(move |session| session.order_status(&lookup))
            .await
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.call(move |session| session.create_order(&request))
            .await
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.call(move |session| session.confirm_order(&request))
            .await
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.call(move |session| session.cancel_order(&request))
            .await
    }

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.call(move |session| session.sync_bom(&request)).await
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.call(move |session| session.adjust_inventory(&request))
            .await
    }
}
