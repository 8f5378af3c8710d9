//! Progress of a run, as reported to a callback (CLI progress bar, hub status, logs).

use erpbridge_model::EntityKind;
use erpbridge_store::catalog::Phase;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A snapshot of a running stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub tenant: String,
    pub stage: EntityKind,
    pub phase: Phase,
    /// Records of this stage processed by this run (upserted, deleted or unchanged).
    pub rows: u64,
    /// Expected records of the stage, when known (the previous sync's count or a hint).
    pub total: Option<u64>,
    pub elapsed: Duration,
    /// Records per second in this stage.
    pub rate: f64,
    /// Time left, when the total is known.
    pub eta: Option<Duration>,
    /// True on the last report of a stage.
    pub done: bool,
}

/// Receives progress reports. Called on the sync task: keep it cheap.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

pub(crate) struct Meter {
    pub tenant: String,
    pub stage: EntityKind,
    pub total: Option<u64>,
    pub started: Instant,
    pub rows: u64,
    pub sink: Option<ProgressFn>,
}

impl Meter {
    pub fn report(&self, phase: Phase, done: bool) {
        let Some(sink) = &self.sink else { return };
        let elapsed = self.started.elapsed();
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        };
        let eta = match self.total {
            Some(total) if rate > 0.0 && !done => Some(Duration::from_secs_f64(
                total.saturating_sub(self.rows) as f64 / rate,
            )),
            Some(_) if done => Some(Duration::ZERO),
            _ => None,
        };
        sink(&Progress {
            tenant: self.tenant.clone(),
            stage: self.stage,
            phase,
            rows: self.rows,
            total: self.total,
            elapsed,
            rate,
            eta,
            done,
        });
    }
}
