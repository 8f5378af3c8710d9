//! Helpers for waiting on the session threads without letting Tokio's paused clock run.
//!
//! With paused time, Tokio advances the clock whenever the runtime is idle, even while a
//! session thread (a real OS thread) is still working. These helpers keep the runtime busy
//! (yielding in a loop) while they wait for real work, so the clock only moves where a test
//! sleeps on purpose. They give up after 20 real seconds instead of hanging.

use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions, RuntimeStats};
use std::future::Future;
use std::time::{Duration, Instant};

use crate::fake::FakeErp;

const PATIENCE: Duration = Duration::from_secs(20);

/// Await `future` while keeping the clock still.
pub async fn settle<T>(future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    tokio::pin!(future);
    loop {
        tokio::select! {
            biased;
            value = &mut future => return value,
            () = tokio::task::yield_now() => {}
        }
        assert!(started.elapsed() < PATIENCE, "gave up waiting");
    }
}

/// Wait until `condition` holds, keeping the clock still.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting for {what}");
        tokio::task::yield_now().await;
    }
}

/// Wait until the provider's stats satisfy `condition`.
pub async fn until_stats(
    provider: &HostedProvider<FakeErp>,
    what: &str,
    condition: impl Fn(&RuntimeStats) -> bool,
) {
    until(what, || condition(&provider.stats())).await;
}

pub fn options() -> RuntimeOptions {
    RuntimeOptions {
        call_timeout: Duration::from_secs(60),
        ..RuntimeOptions::default()
    }
}
