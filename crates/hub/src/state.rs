//! The hub's shared state: one [`TenantContext`] per tenant, built once at start. The
//! set of tenants never changes; only their API keys and the operator keys can be
//! replaced by a configuration reload, each behind its own read-mostly lock, so request
//! handling takes no global lock.

use erpbridge_model::TenantId;
use erpbridge_provider::runtime::RuntimeMonitor;
use erpbridge_provider::{Provider, ProviderDescription, ProviderResult};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::{RwLock, RwLockReadGuard};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::OnceCell;

use crate::auth::KeyHash;
use crate::live::LiveCaches;
use crate::metered::MeteredProvider;
use crate::metrics::Metrics;
use crate::services::Services;

/// Cache TTLs of one tenant (seed 002: prices/stock 30 s–5 min, order status 1–2 min).
#[derive(Debug, Clone)]
pub struct CacheTtls {
    pub prices: Duration,
    pub stock: Duration,
    pub order_status: Duration,
    /// Entries per kind before least-recently-used ones are evicted.
    pub max_entries: u64,
}

impl Default for CacheTtls {
    fn default() -> Self {
        CacheTtls {
            prices: Duration::from_secs(60),
            stock: Duration::from_secs(30),
            order_status: Duration::from_secs(60),
            max_entries: 200_000,
        }
    }
}

/// A token bucket: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Everything the hub needs to serve one tenant.
pub struct TenantSpec {
    pub id: TenantId,
    /// The provider as built by the runtime (not yet metered).
    pub provider: Arc<dyn Provider>,
    /// Readiness and stats when the provider runs in the hosting runtime.
    pub monitor: Option<RuntimeMonitor>,
    /// Provider type for the operator API (`sim`, `tryton`...).
    pub provider_kind: String,
    pub api_keys: Vec<KeyHash>,
    pub cache: CacheTtls,
    pub rate_limit: Option<RateLimit>,
}

pub struct TenantContext {
    pub id: TenantId,
    /// Metered: every call shows up in `/metrics`.
    pub provider: Arc<dyn Provider>,
    pub monitor: Option<RuntimeMonitor>,
    pub provider_kind: String,
    keys: RwLock<Vec<KeyHash>>,
    pub live: LiveCaches,
    limiter: Option<DefaultDirectRateLimiter>,
    description: OnceCell<ProviderDescription>,
}

impl TenantContext {
    /// The tenant's API key hashes (replaced by a configuration reload).
    pub fn keys(&self) -> RwLockReadGuard<'_, Vec<KeyHash>> {
        self.keys.read()
    }

    /// Ready when the hosted runtime has its warm sessions; a provider outside the
    /// runtime (concurrent HTTP backends) is ready once it has described itself.
    pub fn is_ready(&self) -> bool {
        match &self.monitor {
            Some(monitor) => monitor.is_ready(),
            None => self.description.initialized(),
        }
    }

    /// The provider's self-description, asked once and kept.
    pub async fn describe(&self) -> ProviderResult<&ProviderDescription> {
        self.description
            .get_or_try_init(|| self.provider.describe())
            .await
    }

    /// `Err(wait)` when the tenant is over its rate limit.
    pub fn check_rate(&self) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(limiter) => limiter
                .check()
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        }
    }
}

/// Limits and switches of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a `Prefer: wait=N` may hold a request.
    pub max_prefer_wait: Duration,
    /// Most article ids in one `prices:query`/`stock:query`.
    pub max_bulk_items: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            body_limit: 1024 * 1024,
            max_prefer_wait: Duration::from_secs(30),
            max_bulk_items: 1000,
        }
    }
}

pub(crate) struct Inner {
    pub tenants: BTreeMap<TenantId, Arc<TenantContext>>,
    pub operator_keys: RwLock<Vec<KeyHash>>,
    pub metrics: Arc<Metrics>,
    pub options: HubOptions,
    pub services: Services,
    pub draining: AtomicBool,
    pub shutting_down: AtomicBool,
    pub connectors: Option<Arc<dyn crate::connectors::ConnectorDirectory>>,
    pub reloader: OnceLock<Arc<dyn crate::reload::ConfigReloader>>,
}

/// Cheap to clone; what every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl AppState {
    pub fn builder() -> AppStateBuilder {
        AppStateBuilder::default()
    }

    pub fn tenant(&self, id: &str) -> Option<&Arc<TenantContext>> {
        self.inner.tenants.get(&TenantId::new(id))
    }

    pub fn tenants(&self) -> impl Iterator<Item = &Arc<TenantContext>> {
        self.inner.tenants.values()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    pub fn operator_keys(&self) -> RwLockReadGuard<'_, Vec<KeyHash>> {
        self.inner.operator_keys.read()
    }

    /// Replaces API keys as a whole: the operator keys, and the keys of every tenant
    /// named in `tenants` (others keep theirs). Checked first with the rules of
    /// [`AppStateBuilder::build`] (every tenant has a key, no key opens two tenants);
    /// on error nothing changes.
    pub fn replace_keys(
        &self,
        tenants: &BTreeMap<TenantId, Vec<KeyHash>>,
        operator: Vec<KeyHash>,
    ) -> Result<(), BuildError> {
        let mut next: Vec<(&TenantId, Vec<KeyHash>)> = Vec::new();
        for (id, ctx) in &self.inner.tenants {
            let keys = match tenants.get(id) {
                Some(keys) => keys.clone(),
                None => ctx.keys().clone(),
            };
            if keys.is_empty() {
                return Err(BuildError::NoKeys(id.to_string()));
            }
            for (other, other_keys) in &next {
                if keys.iter().any(|k| crate::auth::any_matches(other_keys, k)) {
                    return Err(BuildError::SharedKey(other.to_string(), id.to_string()));
                }
            }
            next.push((id, keys));
        }
        for (id, keys) in next {
            if let Some(ctx) = self.inner.tenants.get(id) {
                *ctx.keys.write() = keys;
            }
        }
        *self.inner.operator_keys.write() = operator;
        Ok(())
    }

    /// Installs what `POST /api/erp/config/reload` runs (once; later calls are ignored).
    pub fn set_reloader(&self, reloader: Arc<dyn crate::reload::ConfigReloader>) {
        let _ = self.inner.reloader.set(reloader);
    }

    pub fn reloader(&self) -> Option<Arc<dyn crate::reload::ConfigReloader>> {
        self.inner.reloader.get().cloned()
    }

    /// Operator drain: no new orders are accepted while set.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    pub fn set_draining(&self, on: bool) {
        self.inner.draining.store(on, Ordering::SeqCst);
    }

    /// Set on SIGTERM: `/readyz` turns 503 so load balancers stop sending traffic.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// On-premise connector state, when the hub has a tunnel endpoint.
    pub fn connectors(&self) -> Vec<crate::connectors::ConnectorView> {
        self.inner
            .connectors
            .as_ref()
            .map(|d| d.connectors())
            .unwrap_or_default()
    }
}

#[derive(Default)]
pub struct AppStateBuilder {
    tenants: Vec<TenantSpec>,
    operator_keys: Vec<KeyHash>,
    options: HubOptions,
    metrics: Option<Arc<Metrics>>,
    services: Services,
    connectors: Option<Arc<dyn crate::connectors::ConnectorDirectory>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("tenant `{0}` is configured twice")]
    DuplicateTenant(String),
    #[error("tenant `{0}` has no API key")]
    NoKeys(String),
    #[error("tenant `{0}`: a rate limit needs per_second and burst of at least 1")]
    BadRateLimit(String),
    #[error("one API key is configured for tenants `{0}` and `{1}`; keys must be unique")]
    SharedKey(String, String),
}

impl AppStateBuilder {
    pub fn tenant(mut self, spec: TenantSpec) -> Self {
        self.tenants.push(spec);
        self
    }
    pub fn operator_key(mut self, key: KeyHash) -> Self {
        self.operator_keys.push(key);
        self
    }
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }
    /// Share a registry with the rest of the process (outbox workers, sync).
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
    pub fn services(mut self, services: Services) -> Self {
        self.services = services;
        self
    }
    /// Where `/api/erp/connectors` and the `erp_connector_*` gauges read from.
    pub fn connectors(mut self, directory: Arc<dyn crate::connectors::ConnectorDirectory>) -> Self {
        self.connectors = Some(directory);
        self
    }

    pub fn build(self) -> Result<AppState, BuildError> {
        let metrics = self.metrics.unwrap_or_else(|| Arc::new(Metrics::new()));
        let mut tenants: BTreeMap<TenantId, Arc<TenantContext>> = BTreeMap::new();
        for spec in self.tenants {
            let name = spec.id.to_string();
            if tenants.contains_key(&spec.id) {
                return Err(BuildError::DuplicateTenant(name));
            }
            if spec.api_keys.is_empty() {
                return Err(BuildError::NoKeys(name));
            }
            for (other, ctx) in &tenants {
                let ctx: &Arc<TenantContext> = ctx;
                if spec
                    .api_keys
                    .iter()
                    .any(|k| crate::auth::any_matches(&ctx.keys(), k))
                {
                    return Err(BuildError::SharedKey(other.to_string(), name));
                }
            }
            let limiter = match spec.rate_limit {
                None => None,
                Some(limit) => {
                    let (Some(rate), Some(burst)) = (
                        NonZeroU32::new(limit.per_second),
                        NonZeroU32::new(limit.burst),
                    ) else {
                        return Err(BuildError::BadRateLimit(name));
                    };
                    Some(RateLimiter::direct(
                        Quota::per_second(rate).allow_burst(burst),
                    ))
                }
            };
            let provider: Arc<dyn Provider> = Arc::new(MeteredProvider::new(
                spec.provider,
                &name,
                Arc::clone(&metrics),
            ));
            let ctx = TenantContext {
                id: spec.id.clone(),
                provider,
                monitor: spec.monitor,
                provider_kind: spec.provider_kind,
                keys: RwLock::new(spec.api_keys),
                live: LiveCaches::new(&spec.cache),
                limiter,
                description: OnceCell::new(),
            };
            tenants.insert(spec.id, Arc::new(ctx));
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                tenants,
                operator_keys: RwLock::new(self.operator_keys),
                metrics,
                options: self.options,
                services: self.services,
                draining: AtomicBool::new(false),
                shutting_down: AtomicBool::new(false),
                connectors: self.connectors,
                reloader: OnceLock::new(),
            }),
        })
    }
}
