//! How a hosted backend is run: queue size, pool bounds, timers, breaker, coalescing.
//!
//! The config crate embeds [`RuntimeOptions`] per tenant, so every field has a default and
//! durations are humantime strings (`"500ms"`, `"30s"`, `"30m"`).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::describe::ConcurrencyModel;
use crate::error::ProviderError;

/// Runtime settings of one hosted provider (one tenant). All fields are optional in
/// configuration; the defaults are listed on each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeOptions {
    /// Jobs that may wait per session before callers get an "overloaded" error
    /// (kind `unavailable`). Default 256.
    pub queue_capacity: usize,
    /// Sessions kept open (and warm) even when idle; readiness waits for this many.
    /// 0 means fully lazy: the first call pays the login. Default 1.
    pub min_sessions: u32,
    /// Upper bound of sessions. Unset: what the provider declares (`serial` = 1,
    /// `pooled` = its `sessions`, `concurrent` = 4). Never more than the provider declares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// Sessions above `min_sessions` unused this long are logged out. Default `30m`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub idle_timeout: Duration,
    /// An idle session is pinged this often so the ERP does not drop it. Default `5m`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub keepalive_interval: Duration,
    /// How often a failed login is retried. In between, calls fail fast with the login
    /// error (kind as the backend said, `retry_after` = this) instead of each paying a
    /// slow, doomed login. Default `5s`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub reconnect_interval: Duration,
    /// Deadline of one call, queueing included; exceeding it is a `transient` error.
    /// Default `30s`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub call_timeout: Duration,
    /// Off: the circuit never opens and every call goes to the backend. Default true.
    pub breaker_enabled: bool,
    /// Consecutive transient/unavailable failures that open the circuit. Default 5.
    pub breaker_threshold: u32,
    /// How long an open circuit fails fast before one probe call is let through.
    /// Default `30s`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub breaker_cooldown: Duration,
    /// Merge concurrent price lookups (per customer) and stock lookups (per warehouse set)
    /// that queue behind a busy session into one bulk call. Default true.
    pub coalescing: bool,
    /// Most items in one coalesced bulk call. Unset: the provider's batch limit (which
    /// also caps this). Default unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coalescing_max_batch: Option<u32>,
    /// Open `min_sessions` sessions at start instead of on first use. Default true.
    pub warm_up: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            min_sessions: 1,
            max_sessions: None,
            idle_timeout: Duration::from_secs(30 * 60),
            keepalive_interval: Duration::from_secs(5 * 60),
            reconnect_interval: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            breaker_enabled: true,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            coalescing: true,
            coalescing_max_batch: None,
            warm_up: true,
        }
    }
}

/// Sessions a `concurrent` backend gets when hosted through sessions anyway.
const CONCURRENT_DEFAULT_SESSIONS: u32 = 4;

impl RuntimeOptions {
    /// Rejects settings that cannot work (a zero-sized queue, zero timers).
    pub fn validate(&self) -> Result<(), ProviderError> {
        let mut problems = Vec::new();
        if self.queue_capacity == 0 {
            problems.push("queue_capacity must be at least 1");
        }
        if self.max_sessions == Some(0) {
            problems.push("max_sessions must be at least 1");
        }
        if self.idle_timeout.is_zero() {
            problems.push("idle_timeout must be positive");
        }
        if self.keepalive_interval.is_zero() {
            problems.push("keepalive_interval must be positive");
        }
        if self.reconnect_interval.is_zero() {
            problems.push("reconnect_interval must be positive");
        }
        if self.call_timeout.is_zero() {
            problems.push("call_timeout must be positive");
        }
        if self.coalescing_max_batch == Some(0) {
            problems.push("coalescing_max_batch must be at least 1");
        }
        if self.breaker_threshold == 0 {
            problems.push("breaker_threshold must be at least 1");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ProviderError::fatal(format!(
                "invalid runtime options: {}",
                problems.join("; ")
            )))
        }
    }

    /// The (min, max) session bounds for a backend with this concurrency model.
    /// `min` is clamped to `max` so a serial backend configured with `min_sessions = 2`
    /// still works (with one session).
    pub fn session_bounds(&self, model: ConcurrencyModel) -> (usize, usize) {
        let declared = match model {
            ConcurrencyModel::Serial => 1,
            ConcurrencyModel::Pooled { sessions } => sessions.max(1),
            ConcurrencyModel::Concurrent => CONCURRENT_DEFAULT_SESSIONS,
        };
        let max = self.max_sessions.map_or(declared, |m| m.clamp(1, declared)) as usize;
        let min = (self.min_sessions as usize).min(max);
        (min, max)
    }

    /// Items per coalesced bulk call, given the provider's own limit for the operation.
    pub(crate) fn batch_limit(&self, provider_limit: u32) -> usize {
        let limit = provider_limit.max(1);
        self.coalescing_max_batch
            .map_or(limit, |cap| cap.clamp(1, limit)) as usize
    }

    /// The period of the maintenance task: fine enough for the keep-alive and idle timers
    /// to be accurate to a quarter of the shorter one, coarse enough to cost nothing.
    pub(crate) fn tick(&self) -> Duration {
        let shortest = self
            .keepalive_interval
            .min(self.idle_timeout)
            .min(self.reconnect_interval);
        (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(15))
    }
}
