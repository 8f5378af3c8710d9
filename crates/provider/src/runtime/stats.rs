//! Counters and gauges of one hosted provider, kept as plain atomics so the hot path pays
//! a relaxed increment. The hub reads a [`RuntimeStats`] snapshot and exports it (e.g. to
//! Prometheus); this crate does not depend on a metrics library.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::breaker::BreakerState;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub overloaded: AtomicU64,
    pub deadline_exceeded: AtomicU64,
    pub breaker_rejections: AtomicU64,
    pub abandoned: AtomicU64,
    pub backend_calls: AtomicU64,
    pub coalesced_batches: AtomicU64,
    pub coalesced_requests: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub panics: AtomicU64,
    pub pings: AtomicU64,
    pub ping_failures: AtomicU64,
    pub sessions_recycled: AtomicU64,
    pub evictions: AtomicU64,
    pub in_flight: AtomicUsize,
    pub queued: AtomicUsize,
    pub coalescing_waiting: AtomicUsize,
}

impl Counters {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// A snapshot of a hosted provider's runtime. Counters are totals since start; gauges
/// are current values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuntimeStats {
    /// Gauge: executors (sessions, connected or not) in the pool.
    pub sessions: usize,
    /// Gauge: sessions logged in and usable.
    pub sessions_warm: usize,
    /// Gauge: the pool's lower bound; readiness needs this many warm sessions.
    pub min_sessions: usize,
    pub max_sessions: usize,
    /// Gauge: jobs waiting in executor queues.
    pub queue_depth: usize,
    /// Gauge: jobs running on a session right now.
    pub in_flight: usize,
    /// Gauge: price/stock requests waiting in a batch that has not started yet.
    pub coalescing_waiting: usize,
    pub ready: bool,
    pub breaker: BreakerState,
    /// Calls made to this provider (before any refusal).
    pub calls: u64,
    /// Calls that ended in an error of any kind.
    pub failures: u64,
    /// Calls refused because a queue was full.
    pub overloaded: u64,
    pub deadline_exceeded: u64,
    /// Calls refused because the circuit was open.
    pub breaker_rejections: u64,
    /// Jobs skipped because their caller had given up before they started.
    pub abandoned: u64,
    /// Calls that reached a session (bulk calls count once).
    pub backend_calls: u64,
    /// Bulk calls that answered more than one request.
    pub coalesced_batches: u64,
    /// Requests answered by such a bulk call.
    pub coalesced_requests: u64,
    pub connects: u64,
    pub connect_failures: u64,
    pub panics: u64,
    /// Keep-alive pings done (successful or not).
    pub pings: u64,
    pub ping_failures: u64,
    /// Sessions thrown away after a panic or a failed ping.
    pub sessions_recycled: u64,
    /// Sessions logged out after the idle timeout.
    pub evictions: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RuntimeStats {
        RuntimeStats {
            sessions: 0,
            sessions_warm: 0,
            min_sessions: 0,
            max_sessions: 0,
            queue_depth: self.queued.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            coalescing_waiting: self.coalescing_waiting.load(Relaxed),
            ready: false,
            breaker: BreakerState::Closed,
            calls: self.calls.load(Relaxed),
            failures: self.failures.load(Relaxed),
            overloaded: self.overloaded.load(Relaxed),
            deadline_exceeded: self.deadline_exceeded.load(Relaxed),
            breaker_rejections: self.breaker_rejections.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
            backend_calls: self.backend_calls.load(Relaxed),
            coalesced_batches: self.coalesced_batches.load(Relaxed),
            coalesced_requests: self.coalesced_requests.load(Relaxed),
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            panics: self.panics.load(Relaxed),
            pings: self.pings.load(Relaxed),
            ping_failures: self.ping_failures.load(Relaxed),
            sessions_recycled: self.sessions_recycled.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
        }
    }
}
