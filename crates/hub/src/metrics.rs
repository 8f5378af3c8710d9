//! Prometheus metrics (`/metrics`, OpenMetrics text via `prometheus-client`).
//!
//! Counters and histograms are updated on the request path; gauges that mirror state
//! held elsewhere (provider readiness, circuit state, outbox depth, sync lag) are
//! refreshed right before each scrape by [`crate::routes::health::metrics`], so they are
//! never stale and cost nothing between scrapes. Every series carries a `tenant` label
//! and only ever one tenant's data.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderCallLabels {
    pub operation: String,
    pub tenant: String,
    pub status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
    pub tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub tenant: String,
    pub kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

/// The outbox's status counts are store-wide (one outbox serves every tenant).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s: ERP calls range from cached-session microseconds to slow logins.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

/// All metric families of one hub.
pub struct Metrics {
    registry: Registry,
    pub provider_requests: Family<ProviderCallLabels, Counter>,
    pub provider_duration: HistogramFamily<OperationLabels>,
    pub cache_hits: Family<CacheLabels, Counter>,
    pub cache_misses: Family<CacheLabels, Counter>,
    pub outbox_sagas: Family<StatusLabels, Gauge>,
    pub sync_lag: Family<TenantLabels, Gauge<f64, AtomicU64>>,
    pub provider_ready: Family<TenantLabels, Gauge>,
    pub circuit_open: Family<TenantLabels, Gauge>,
    pub provider_queue_depth: Family<TenantLabels, Gauge>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily<HttpLabels>,
    pub rate_limited: Family<TenantLabels, Counter>,
    pub connector_online: Family<TenantLabels, Gauge>,
    pub connector_heartbeat_age: Family<TenantLabels, Gauge<f64, AtomicU64>>,
    pub connector_calls_in_flight: Family<TenantLabels, Gauge>,
    pub connector_sessions: Family<TenantLabels, Gauge>,
    /// Configuration reloads by outcome (`applied`, `invalid`, `rejected`); not per
    /// tenant: a reload concerns the whole hub.
    pub config_reloads: Family<StatusLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let provider_requests = Family::<ProviderCallLabels, Counter>::default();
        registry.register(
            "erp_provider_requests",
            "Calls to a tenant's ERP provider by operation and outcome",
            provider_requests.clone(),
        );
        let provider_duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "erp_provider_request_duration",
            "Duration of calls to a tenant's ERP provider, queueing included",
            Unit::Seconds,
            provider_duration.clone(),
        );
        let cache_hits = Family::<CacheLabels, Counter>::default();
        registry.register(
            "erp_cache_hits",
            "Live lookups answered from the hub's TTL cache",
            cache_hits.clone(),
        );
        let cache_misses = Family::<CacheLabels, Counter>::default();
        registry.register(
            "erp_cache_misses",
            "Live lookups the TTL cache could not answer",
            cache_misses.clone(),
        );
        let outbox_sagas = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "erp_outbox_sagas",
            "Sagas in the outbox by status (queue depth)",
            outbox_sagas.clone(),
        );
        let sync_lag = Family::<TenantLabels, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "erp_sync_lag",
            "Time since the last successful catalog sync of a tenant",
            Unit::Seconds,
            sync_lag.clone(),
        );
        let provider_ready = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_provider_ready",
            "1 when the tenant's provider has its warm sessions",
            provider_ready.clone(),
        );
        let circuit_open = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_provider_circuit_open",
            "1 when the tenant's circuit breaker is open or half-open",
            circuit_open.clone(),
        );
        let provider_queue_depth = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_provider_queue_depth",
            "Calls waiting for a session of the tenant's provider",
            provider_queue_depth.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "erp_http_requests",
            "HTTP requests served by route template and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "erp_http_request_duration",
            "Time to the response head of HTTP requests",
            Unit::Seconds,
            http_duration.clone(),
        );
        let rate_limited = Family::<TenantLabels, Counter>::default();
        registry.register(
            "erp_rate_limited_requests",
            "Requests refused with 429 by the tenant's rate limit",
            rate_limited.clone(),
        );
        let connector_online = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_connector_online",
            "1 while the tenant's on-premise connector is connected and heartbeating",
            connector_online.clone(),
        );
        let connector_heartbeat_age = Family::<TenantLabels, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "erp_connector_heartbeat_age",
            "Time since the tenant's connector last sent a heartbeat",
            Unit::Seconds,
            connector_heartbeat_age.clone(),
        );
        let connector_calls_in_flight = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_connector_calls_in_flight",
            "Calls sent through the tenant's connector tunnel and not answered yet",
            connector_calls_in_flight.clone(),
        );
        let connector_sessions = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "erp_connector_sessions",
            "Tunnel sessions accepted for the tenant since the hub started (1 + reconnects)",
            connector_sessions.clone(),
        );
        let config_reloads = Family::<StatusLabels, Counter>::default();
        registry.register(
            "erp_config_reloads",
            "Configuration reloads (SIGHUP or POST /api/erp/config/reload) by outcome",
            config_reloads.clone(),
        );
        Metrics {
            registry,
            config_reloads,
            connector_online,
            connector_heartbeat_age,
            connector_calls_in_flight,
            connector_sessions,
            provider_requests,
            provider_duration,
            cache_hits,
            cache_misses,
            outbox_sagas,
            sync_lag,
            provider_ready,
            circuit_open,
            provider_queue_depth,
            http_requests,
            http_duration,
            rate_limited,
        }
    }

    pub fn cache_hit(&self, tenant: &str, kind: &str, n: u64) {
        if n > 0 {
            self.cache_hits
                .get_or_create(&CacheLabels {
                    tenant: tenant.to_owned(),
                    kind: kind.to_owned(),
                })
                .inc_by(n);
        }
    }

    pub fn cache_miss(&self, tenant: &str, kind: &str, n: u64) {
        if n > 0 {
            self.cache_misses
                .get_or_create(&CacheLabels {
                    tenant: tenant.to_owned(),
                    kind: kind.to_owned(),
                })
                .inc_by(n);
        }
    }

    /// Every family in the Prometheus text format (what `promtool check metrics`
    /// validates). prometheus-client writes OpenMetrics, where a counter's HELP/TYPE
    /// name lacks the `_total` of its samples; the classic format wants them equal, so
    /// those two lines are renamed.
    pub fn encode(&self) -> String {
        let mut open = String::new();
        // Writing into a String cannot fail; an error here would be a bug in a label.
        if prometheus_client::encoding::text::encode(&mut open, &self.registry).is_err() {
            return String::new();
        }
        let counters: std::collections::HashSet<String> = open
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" counter"))
            .map(str::to_owned)
            .collect();
        let mut out = String::with_capacity(open.len() + 64);
        for line in open.lines() {
            if line == "# EOF" || line.starts_with("# UNIT ") {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            match renamed {
                Some(line) => out.push_str(&line),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }
}
