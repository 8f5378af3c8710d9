//! The runtime that hosts non-thread-safe backends: it turns a
//! [`SessionFactory`](crate::SessionFactory) into a [`Provider`](crate::Provider)
//! ([`HostedProvider`]) under the constraints real ERP SDKs impose.
//!
//! ```text
//!  callers (async, many)                         session threads (one per session)
//!  ─────────────────────                         ─────────────────────────────────
//!  prices/stock ──► coalescer ─┐                 ┌─► executor 0: owns session 0
//!  other ops ─────────────────┼─► breaker ─► pool┤      (bounded queue, serial)
//!                              │   deadline      └─► executor 1: owns session 1
//!  maintenance task (Tokio timer): keep-alive pings, idle eviction, re-login, min size
//! ```
//!
//! * **One thread per session** ([`executor`]): the session is created on its thread and
//!   never moves; a panic in the SDK is caught there and the session replaced.
//! * **Bounded queues**: a full queue is an immediate `unavailable` ("overloaded") error
//!   with a `retry_after`, never a hang. Work whose caller gave up is skipped.
//! * **Pool** ([`pool`]): `min..=max` sessions, lazily grown under load, warmed at start,
//!   pinged when idle, evicted above `min` after `idle_timeout`; logins take turns.
//! * **Deadlines** on every call (queueing included) and a **circuit breaker** per
//!   provider instance, i.e. per tenant ([`breaker`]).
//! * **Readiness**: true once `min_sessions` sessions are logged in.
//! * **Coalescing** ([`coalesce`]): single-item price/stock lookups queued behind a busy
//!   session are answered by one bulk call.
//! * **Concurrent providers** (an async client, no sessions, e.g. Tryton over HTTP) get
//!   the breaker and readiness without the executors: [`GuardedProvider`].
//!
//! All timers live on the Tokio side (`tokio::time`), never on the session threads, so
//! tests run them with paused time.
//!
//! Using it (inside a Tokio runtime):
//!
//! ```ignore
//! let hosted = HostedProvider::start(factory, RuntimeOptions::default())?;
//! let monitor = hosted.monitor();           // readiness + stats, type-erased
//! let provider: Arc<dyn Provider> = Arc::new(hosted);
//! monitor.wait_ready().await;               // or monitor.readiness() (a watch channel)
//! let quotes = provider.prices(request).await?;
//! let stats = monitor.stats();              // RuntimeStats: gauges and counters
//! ```

pub mod breaker;
mod coalesce;
mod executor;
mod guarded;
mod hosted;
pub mod options;
mod pool;
pub mod stats;

pub use breaker::BreakerState;
pub use guarded::GuardedProvider;
pub use hosted::{HostedProvider, LoginLock, RuntimeMonitor};
pub use options::RuntimeOptions;
pub use stats::RuntimeStats;
