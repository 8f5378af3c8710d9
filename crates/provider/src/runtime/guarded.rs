//! [`GuardedProvider`]: the runtime's circuit breaker and readiness for a provider that
//! needs no session threads.
//!
//! [`HostedProvider`](super::HostedProvider) hosts a [`SessionFactory`](crate::SessionFactory):
//! blocking sessions on their own threads. A backend whose client is already async and
//! safe to call concurrently (Tryton over HTTP) implements [`Provider`] itself, so it
//! cannot go through the executors and pool, but it needs the rest of the runtime just
//! as much: when the ERP is down, callers should not each wait out a connect timeout,
//! and `/readyz` and the operator API should show the tenant's circuit.
//!
//! So this wraps any `Arc<dyn Provider>` with:
//! * the same [`CircuitBreaker`] (`breaker_enabled`, `breaker_threshold`,
//!   `breaker_cooldown`): consecutive transient/unavailable answers open it, calls then
//!   fail at once as `unavailable` with a `retry_after`, one probe goes through after the
//!   cool-down and its answer closes or re-opens the circuit;
//! * readiness: true after a call succeeded, false again while the circuit is open.
//!   With `warm_up` a background task asks `describe` (which logs in) every
//!   `reconnect_interval` until it succeeds, as the pool warms its sessions;
//! * the counters of [`RuntimeStats`] that apply (calls, failures, breaker rejections).
//!
//! No deadline is added: such providers carry their own request timeouts, and a long
//! catalog page must not be cut at the runtime's `call_timeout`.

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use std::future::Future;
use std::sync::{Arc, Weak};
use tokio::sync::watch;

use super::breaker::{BreakerState, CircuitBreaker, Permit};
use super::hosted::{Introspect, RuntimeMonitor};
use super::options::RuntimeOptions;
use super::stats::{Counters, RuntimeStats};
use crate::api::*;
use crate::describe::ProviderDescription;
use crate::error::{ProviderError, ProviderResult};
use crate::traits::Provider;

/// A concurrent provider behind the runtime's circuit breaker. Cheap to clone.
#[derive(Clone)]
pub struct GuardedProvider {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<dyn Provider>,
    breaker: CircuitBreaker,
    counters: Counters,
    ready: watch::Sender<bool>,
}

impl GuardedProvider {
    /// Wraps `provider`. Of the options it uses the breaker settings, `warm_up` and
    /// `reconnect_interval`. With `warm_up` it must be called inside a Tokio runtime.
    pub fn start(provider: Arc<dyn Provider>, options: RuntimeOptions) -> ProviderResult<Self> {
        options.validate()?;
        let guarded = Self {
            inner: Arc::new(Inner {
                provider,
                breaker: if options.breaker_enabled {
                    CircuitBreaker::new(options.breaker_threshold, options.breaker_cooldown)
                } else {
                    CircuitBreaker::disabled()
                },
                counters: Counters::default(),
                ready: watch::channel(false).0,
            }),
        };
        if options.warm_up {
            let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                ProviderError::fatal("GuardedProvider::start must run inside a Tokio runtime")
            })?;
            let weak = Arc::downgrade(&guarded.inner);
            runtime.spawn(warm_up(weak, options.reconnect_interval));
        }
        Ok(guarded)
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    pub fn stats(&self) -> RuntimeStats {
        Introspect::stats(&*self.inner)
    }

    /// Readiness and stats for the hub, as for a hosted provider.
    pub fn monitor(&self) -> RuntimeMonitor {
        RuntimeMonitor::from_source(self.inner.clone())
    }

    async fn guard<T>(&self, call: impl Future<Output = ProviderResult<T>>) -> ProviderResult<T> {
        self.inner.guard(call, |_| true).await
    }
}

/// Asks `describe` until it works; ends early when the provider is dropped.
async fn warm_up(weak: Weak<Inner>, every: std::time::Duration) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        match inner.guard(inner.provider.describe(), |_| true).await {
            Ok(_) => return,
            Err(error) => tracing::warn!(%error, "provider not ready yet"),
        }
        drop(inner);
        tokio::time::sleep(every).await;
    }
}

impl Inner {
    /// Admit through the breaker, run, record. `healthy` tells whether a successful
    /// answer also means the backend is well (a health report can say it is not).
    async fn guard<T>(
        &self,
        call: impl Future<Output = ProviderResult<T>>,
        healthy: impl FnOnce(&T) -> bool,
    ) -> ProviderResult<T> {
        Counters::inc(&self.counters.calls);
        let permit = self.admit()?;
        let result = call.await;
        self.finish(permit, &result, healthy);
        result
    }

    fn admit(&self) -> ProviderResult<Permit<'_>> {
        self.breaker.try_acquire().inspect_err(|_| {
            Counters::inc(&self.counters.breaker_rejections);
            Counters::inc(&self.counters.failures);
        })
    }

    fn finish<T>(
        &self,
        permit: Permit<'_>,
        result: &ProviderResult<T>,
        healthy: impl FnOnce(&T) -> bool,
    ) {
        Counters::inc(&self.counters.backend_calls);
        match result {
            Ok(value) if healthy(value) => permit.record::<()>(&Ok(())),
            Ok(_) => permit.record::<()>(&Err(ProviderError::unavailable("unhealthy"))),
            Err(_) => {
                Counters::inc(&self.counters.failures);
                permit.record(result);
            }
        }
        // Ready after an answer, not ready while the circuit is open: `/readyz` follows
        // the backend without a poller of its own.
        let ready = match self.breaker.state() {
            BreakerState::Open => false,
            _ => result.is_ok() || *self.ready.borrow(),
        };
        self.ready.send_if_modified(|current| {
            let changed = *current != ready;
            *current = ready;
            changed
        });
    }
}

impl Introspect for Inner {
    fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            ready: *self.ready.borrow(),
            breaker: self.breaker.state(),
            ..self.counters.snapshot()
        }
    }
    fn readiness(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }
}

#[async_trait]
impl Provider for GuardedProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        self.guard(self.inner.provider.describe()).await
    }

    /// A call the open circuit refuses is an unhealthy report, not an error: health is
    /// asked to learn the state, and "circuit open" is the state.
    async fn health(&self) -> ProviderResult<HealthReport> {
        Counters::inc(&self.inner.counters.calls);
        let permit = match self.inner.admit() {
            Ok(permit) => permit,
            Err(refused) => {
                return Ok(HealthReport {
                    ok: false,
                    detail: refused.to_string(),
                });
            }
        };
        let report = self.inner.provider.health().await;
        self.inner.finish(permit, &report, |report| report.ok);
        report
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        self.guard(self.inner.provider.catalog_page(request)).await
    }

    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        self.guard(self.inner.provider.query_page(query)).await
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        self.guard(self.inner.provider.articles(ids)).await
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.guard(self.inner.provider.prices(request)).await
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.guard(self.inner.provider.stock(request)).await
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.guard(self.inner.provider.order_status(lookup)).await
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.guard(self.inner.provider.create_order(request)).await
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.guard(self.inner.provider.confirm_order(request)).await
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.guard(self.inner.provider.cancel_order(request)).await
    }

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.guard(self.inner.provider.sync_bom(request)).await
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.guard(self.inner.provider.adjust_inventory(request))
            .await
    }
}
