//! The session pool: between `min` and `max` executors, each owning one session.
//!
//! * Dispatch goes to the least-loaded logged-in executor. When every session is logged in
//!   and busy and the pool is below `max`, one more executor is started in the background;
//!   the caller is not made to wait for its (slow) login but queues where it would have
//!   anyway.
//! * The maintenance task ([`Pool::maintain`], on a Tokio interval) pings idle sessions,
//!   evicts sessions above `min` that were idle for `idle_timeout`, retries failed logins
//!   every `reconnect_interval`, and replaces executors until `min` exist.
//! * Logins are serialised across the pool by one mutex ([`Pool::login_lock`]).

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use tokio::time::Instant;

use super::executor::{Env, Executor, Job, SubmitError};
use super::options::RuntimeOptions;
use super::stats::Counters;
use crate::error::{ProviderError, ProviderResult};
use crate::traits::SessionFactory;

/// How long an overloaded caller is told to wait before retrying.
const OVERLOAD_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A job the pool could not queue, and why.
pub(crate) struct Refused<S> {
    pub error: ProviderError,
    pub job: Box<dyn Job<S>>,
}

pub(crate) struct Pool<F: SessionFactory> {
    factory: Arc<F>,
    login: Arc<Mutex<()>>,
    pub env: Arc<Env>,
    options: RuntimeOptions,
    pub min: usize,
    pub max: usize,
    executors: Mutex<Vec<Arc<Executor<F::Session>>>>,
    next_id: AtomicUsize,
    /// Set by the first call; until then a non-warm-up pool stays empty (fully lazy).
    used: AtomicBool,
}

impl<F: SessionFactory> Pool<F> {
    pub fn new(
        factory: Arc<F>,
        login: Arc<Mutex<()>>,
        env: Arc<Env>,
        options: RuntimeOptions,
        (min, max): (usize, usize),
    ) -> Self {
        Self {
            factory,
            login,
            env,
            options,
            min,
            max,
            executors: Mutex::new(Vec::new()),
            next_id: AtomicUsize::new(0),
            used: AtomicBool::new(false),
        }
    }

    pub fn size(&self) -> usize {
        self.executors.lock().len()
    }

    /// Start `min` executors now; each logs in on its own thread, one after another.
    pub fn warm_up(&self) -> ProviderResult<()> {
        let mut executors = self.executors.lock();
        while executors.len() < self.min {
            executors.push(self.spawn()?);
        }
        Ok(())
    }

    fn spawn(&self) -> ProviderResult<Arc<Executor<F::Session>>> {
        let id = self.next_id.fetch_add(1, SeqCst);
        Executor::spawn(
            id,
            self.factory.clone(),
            self.login.clone(),
            self.env.clone(),
            self.options.queue_capacity,
            self.options.reconnect_interval,
        )
        .map(Arc::new)
        .map_err(|e| ProviderError::unavailable(format!("cannot start a session thread: {e}")))
    }

    /// Queue a caller's job on the best executor, or refuse at once if all queues are full.
    /// A refused job is handed back so the caller can answer whoever waits on it.
    pub fn submit(&self, job: Box<dyn Job<F::Session>>) -> Result<(), Refused<F::Session>> {
        self.used.store(true, SeqCst);
        let candidates = {
            let mut executors = self.executors.lock();
            if executors.is_empty() {
                match self.spawn() {
                    Ok(e) => executors.push(e),
                    Err(error) => return Err(Refused { error, job }),
                }
            }
            // Logged-in first, then least pending; a disconnected executor still takes work
            // when nothing else can (its first job retries the login). The load is read
            // once per executor: the atomics move while we sort.
            let mut ranked: Vec<_> = executors
                .iter()
                .map(|e| ((!e.connected(), e.pending()), e.clone()))
                .collect();
            ranked.sort_by_key(|(rank, _)| *rank);
            // Grow only when every session is logged in and busy: while a login is under
            // way (or failing) another one would add nothing but load on the ERP.
            let all_busy = ranked
                .iter()
                .all(|((disconnected, pending), _)| !*disconnected && *pending > 0);
            let candidates: Vec<_> = ranked.into_iter().map(|(_, e)| e).collect();
            if all_busy && executors.len() < self.max {
                match self.spawn() {
                    Ok(extra) => executors.push(extra),
                    Err(error) => tracing::warn!(%error, "could not grow the session pool"),
                }
            }
            candidates
        };
        let now = Instant::now();
        let mut job = job;
        for executor in &candidates {
            match executor.try_submit(job, true) {
                Ok(()) => {
                    executor.timers.lock().last_active = now;
                    return Ok(());
                }
                Err(SubmitError::Full(back) | SubmitError::Stopped(back)) => job = back,
            }
        }
        Counters::inc(&self.env.counters.overloaded);
        let error = ProviderError::unavailable(format!(
            "overloaded: queue of {} full",
            self.options.queue_capacity
        ))
        .with_retry_after(OVERLOAD_RETRY_AFTER);
        Err(Refused { error, job })
    }

    /// One maintenance round at Tokio time `now`.
    pub fn maintain(&self, now: Instant) {
        let mut executors = self.executors.lock();
        executors.retain(|e| !e.state.exited.load(SeqCst));
        for e in executors.iter() {
            if e.pending() > 0 {
                e.timers.lock().last_active = now;
            }
        }

        // Evict the longest-idle sessions above `min`.
        while executors.len() > self.min {
            let idlest = executors
                .iter()
                .enumerate()
                .filter(|(_, e)| e.pending() == 0)
                .map(|(i, e)| (i, e.timers.lock().last_active))
                .filter(|(_, last)| {
                    now.saturating_duration_since(*last) >= self.options.idle_timeout
                })
                .min_by_key(|(_, last)| *last);
            let Some((index, _)) = idlest else { break };
            let evicted = executors.swap_remove(index);
            tracing::info!(executor = evicted.state.id, "evicting idle session");
            Counters::inc(&self.env.counters.evictions);
            // Dropping the handle closes its queue; the thread logs out and ends.
        }

        if self.options.warm_up || self.used.load(SeqCst) {
            while executors.len() < self.min {
                match self.spawn() {
                    Ok(e) => executors.push(e),
                    Err(error) => {
                        tracing::warn!(%error, "could not replenish the session pool");
                        break;
                    }
                }
            }
        }

        for e in executors.iter() {
            if e.pending() > 0 {
                continue;
            }
            let mut timers = e.timers.lock();
            if e.connected() {
                let quiet_since = timers.last_active.max(timers.last_ping);
                if now.saturating_duration_since(quiet_since) >= self.options.keepalive_interval {
                    timers.last_ping = now;
                    e.ping();
                }
            } else if !e.state.connecting.load(SeqCst)
                && now.saturating_duration_since(timers.last_reconnect)
                    >= self.options.reconnect_interval
            {
                timers.last_reconnect = now;
                e.reconnect();
            }
        }
    }
}
