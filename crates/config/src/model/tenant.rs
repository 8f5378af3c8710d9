//! `[[tenants]]`: one ERP connection context each, with how its provider is hosted
//! (runtime), cached, synchronised and rate limited.

use super::provider::ProviderConfig;
use crate::path::KeyPath;
use crate::types::{ApiKey, CronSchema, DurationSchema, parse_cron};
use crate::validate::Issues;
use erpbridge_model::TenantId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The pattern of a tenant id: it appears in URLs, metric labels and file names.
pub const TENANT_ID_PATTERN: &str = "^[a-z0-9_-]+$";
/// The longest tenant id.
pub const TENANT_ID_MAX_LEN: usize = 64;

/// One `[[tenants]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's id in URLs (`/v1/tenants/{id}`), metrics and storage: lowercase
    /// letters, digits, `-` and `_`, at most 64 characters.
    #[schemars(
        with = "String",
        regex(pattern = "^[a-z0-9_-]+$"),
        length(min = 1, max = 64)
    )]
    pub id: TenantId,
    /// Bearer keys accepted for this tenant's API. At least one.
    #[schemars(length(min = 1))]
    pub api_keys: Vec<ApiKey>,
    /// The ERP behind this tenant; `type` selects the provider.
    pub provider: ProviderConfig,
    /// How the provider is hosted: executor queue, session pool, deadlines, breaker.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Time-to-live of cached live answers.
    #[serde(default)]
    pub cache: CacheConfig,
    /// When master data is synchronised.
    #[serde(default)]
    pub sync: SyncConfig,
    /// Requests per second this tenant's API keys may make.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
}

impl TenantConfig {
    pub(crate) fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        self.provider.validate(&at.key("provider"), issues);
        self.runtime.validate(&at.key("runtime"), issues);
        self.cache.validate(&at.key("cache"), issues);
        self.sync.validate(&at.key("sync"), issues);
        self.rate_limit.validate(&at.key("rate_limit"), issues);
    }
}

/// `[tenants.runtime]`: the provider runtime of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Calls that may wait for a busy session; one more is refused as "overloaded"
    /// rather than queued without bound. Default 1024.
    #[schemars(range(min = 1))]
    pub queue_capacity: u32,
    /// Sessions opened (and warmed up) at start and kept open. Default 1.
    pub min_sessions: u32,
    /// Most sessions at once; a serial backend's sessions each get their own thread.
    /// Default 1; the provider's declared concurrency may lower it.
    #[schemars(range(min = 1, max = 256))]
    pub max_sessions: u32,
    /// Open `min_sessions` before the hub reports ready. Default true.
    pub warm_up: bool,
    /// A session unused this long is closed (down to `min_sessions`). Default 30 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub idle_timeout: Duration,
    /// An idle session is pinged this often so the ERP keeps it. Default 5 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub keepalive: Duration,
    /// After a failed login, the next attempt waits this long; calls in between fail
    /// fast with the login's error instead of each paying a slow, doomed login.
    /// Default 5 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub reconnect_interval: Duration,
    /// Deadline of one provider call, queueing included. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub call_timeout: Duration,
    /// The circuit breaker in front of the provider.
    pub breaker: BreakerConfig,
    /// Single live lookups answered together by one bulk call while the backend is busy.
    pub coalescing: CoalescingConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            min_sessions: 1,
            max_sessions: 1,
            warm_up: true,
            idle_timeout: Duration::from_secs(30 * 60),
            keepalive: Duration::from_secs(5 * 60),
            reconnect_interval: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            breaker: BreakerConfig::default(),
            coalescing: CoalescingConfig::default(),
        }
    }
}

impl RuntimeConfig {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.min_sessions > self.max_sessions {
            issues.add(
                at.key("min_sessions"),
                format!(
                    "min_sessions ({}) is larger than max_sessions ({})",
                    self.min_sessions, self.max_sessions
                ),
            );
        }
        if self.call_timeout.is_zero() {
            issues.add(at.key("call_timeout"), "must be longer than 0s");
        }
        if self.keepalive.is_zero() {
            issues.add(at.key("keepalive"), "must be longer than 0s");
        }
        if self.reconnect_interval.is_zero() {
            issues.add(at.key("reconnect_interval"), "must be longer than 0s");
        }
        if self.keepalive >= self.idle_timeout {
            issues.add(
                at.key("keepalive"),
                format!(
                    "keepalive ({}) must be shorter than idle_timeout ({})",
                    humantime::format_duration(self.keepalive),
                    humantime::format_duration(self.idle_timeout)
                ),
            );
        }
        if self.breaker.open_for.is_zero() {
            issues.add(at.key("breaker").key("open_for"), "must be longer than 0s");
        }
    }
}

/// `[tenants.runtime.breaker]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Off: calls always go through. Default on.
    pub enabled: bool,
    /// Consecutive failures (transient or unavailable) that open the breaker. Default 5.
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before one half-open probe. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// `[tenants.runtime.coalescing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CoalescingConfig {
    /// Default on.
    pub enabled: bool,
    /// Most single lookups merged into one bulk call. Default 100.
    #[schemars(range(min = 1, max = 10000))]
    pub max_batch: u32,
}

impl Default for CoalescingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_batch: 100,
        }
    }
}

/// `[tenants.cache]`: live answers are cached briefly (seed 002: prices and stock
/// 30 s–5 min, order status 1–2 min). Master data is never cached here: it is synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Off: every live lookup asks the ERP. Default on.
    pub enabled: bool,
    /// Customer prices. Default 60 s; 30 s to 5 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub prices: Duration,
    /// Stock levels. Default 60 s; 30 s to 5 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub stock: Duration,
    /// Order status. Default 90 s; 1 to 2 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub order_status: Duration,
    /// Most entries held per data kind. Default 100,000.
    #[schemars(range(min = 1))]
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            prices: Duration::from_secs(60),
            stock: Duration::from_secs(60),
            order_status: Duration::from_secs(90),
            max_entries: 100_000,
        }
    }
}

impl CacheConfig {
    /// The allowed TTL range of each data kind.
    pub const RANGES: [(&'static str, Duration, Duration); 3] = [
        ("prices", Duration::from_secs(30), Duration::from_secs(300)),
        ("stock", Duration::from_secs(30), Duration::from_secs(300)),
        (
            "order_status",
            Duration::from_secs(60),
            Duration::from_secs(120),
        ),
    ];

    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        for (kind, min, max) in Self::RANGES {
            let ttl = match kind {
                "prices" => self.prices,
                "stock" => self.stock,
                _ => self.order_status,
            };
            if ttl < min || ttl > max {
                issues.add(
                    at.key(kind),
                    format!(
                        "TTL {} is out of range: must be between {} and {}",
                        humantime::format_duration(ttl),
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    ),
                );
            }
        }
    }
}

/// A resolved schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Interval(Duration),
    /// A cron expression (seconds optional), checked at load.
    Cron(String),
}

/// `[tenants.sync]`. Delta sync runs on `interval` or `cron` (at most one; neither
/// means every 15 min); full sync on `full_interval` or `full_cron` (neither: only
/// when the catalog is empty, or on demand).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Off: only syncs started by hand run. Default on.
    pub enabled: bool,
    /// Delta sync every this long, e.g. "15m".
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DurationSchema>")]
    pub interval: Option<Duration>,
    /// Delta sync on this cron schedule, e.g. "0 */15 * * * *".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<CronSchema>")]
    pub cron: Option<String>,
    /// Full sync every this long, e.g. "7d".
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DurationSchema>")]
    pub full_interval: Option<Duration>,
    /// Full sync on this cron schedule, e.g. "0 0 3 * * Sun".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<CronSchema>")]
    pub full_cron: Option<String>,
    /// Records written per store transaction. Default 1000.
    #[schemars(range(min = 1, max = 100000))]
    pub batch_size: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: None,
            cron: None,
            full_interval: None,
            full_cron: None,
            batch_size: 1000,
        }
    }
}

impl SyncConfig {
    /// The default delta sync interval.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);

    /// When delta sync runs.
    pub fn delta_schedule(&self) -> Schedule {
        match (&self.cron, self.interval) {
            (Some(cron), _) => Schedule::Cron(cron.clone()),
            (None, Some(every)) => Schedule::Interval(every),
            (None, None) => Schedule::Interval(Self::DEFAULT_INTERVAL),
        }
    }

    /// When full sync runs, if on a schedule at all.
    pub fn full_schedule(&self) -> Option<Schedule> {
        match (&self.full_cron, self.full_interval) {
            (Some(cron), _) => Some(Schedule::Cron(cron.clone())),
            (None, Some(every)) => Some(Schedule::Interval(every)),
            (None, None) => None,
        }
    }

    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        for (interval_key, interval, cron_key, cron) in [
            ("interval", self.interval, "cron", &self.cron),
            (
                "full_interval",
                self.full_interval,
                "full_cron",
                &self.full_cron,
            ),
        ] {
            if interval.is_some() && cron.is_some() {
                issues.add(
                    at.key(cron_key),
                    format!("set either `{interval_key}` or `{cron_key}`, not both"),
                );
            }
            if interval.is_some_and(|d| d < Duration::from_secs(1)) {
                issues.add(at.key(interval_key), "must be at least 1s");
            }
            if let Some(Err(e)) = cron.as_deref().map(parse_cron) {
                issues.add(at.key(cron_key), format!("invalid cron expression: {e}"));
            }
        }
    }
}

/// `[tenants.rate_limit]`: a token bucket per tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Off: no limit. Default on.
    pub enabled: bool,
    /// Sustained requests per second. Default 200.
    pub requests_per_second: f64,
    /// Requests allowed in a burst above the sustained rate. Default 400.
    #[schemars(range(min = 1))]
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_second: 200.0,
            burst: 400,
        }
    }
}

impl RateLimitConfig {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if !(self.requests_per_second > 0.0 && self.requests_per_second.is_finite()) {
            issues.add(at.key("requests_per_second"), "must be greater than 0");
        }
    }
}
