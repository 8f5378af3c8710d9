//! Per-tenant schedules: run a sync every N, or at the times of a cron expression.
//!
//! Each tenant gets one task, which runs its syncs one after the other, so a slow sync
//! delays the next tick instead of overlapping it; the store's sync lock additionally
//! keeps a manual `erpbridge sync` or another hub process from overlapping it.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use tokio::time::MissedTickBehavior;

use crate::SyncError;
use crate::engine::{SyncEngine, SyncMode};
use crate::progress::ProgressFn;

#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every interval, the first run at once (a hub that starts with an empty catalog
    /// should not wait an hour for it).
    Every(Duration),
    /// At the times of a cron expression (UTC), the first at the next match.
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// Parses a cron expression (5 fields, or 6 with seconds; `@hourly` and friends).
    pub fn cron(expression: &str) -> Result<Self, SyncError> {
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expression)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|err| SyncError::Schedule {
                expression: expression.to_owned(),
                reason: err.to_string(),
            })
    }

    /// Time from `now` to the next run (`first`: no run has happened yet).
    pub fn next_delay(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        first: bool,
    ) -> Result<Duration, SyncError> {
        match self {
            Schedule::Every(_) if first => Ok(Duration::ZERO),
            Schedule::Every(every) => Ok(*every),
            Schedule::Cron(cron) => {
                let next =
                    cron.find_next_occurrence(&now, false)
                        .map_err(|err| SyncError::Schedule {
                            expression: cron.as_str().to_owned(),
                            reason: err.to_string(),
                        })?;
                Ok((next - now).to_std().unwrap_or(Duration::ZERO))
            }
        }
    }
}

/// One tenant's scheduled sync.
#[derive(Clone)]
pub struct ScheduledSync {
    pub tenant: String,
    pub provider: Arc<dyn Provider>,
    pub provider_name: String,
    pub schedule: Schedule,
    pub mode: SyncMode,
}

/// Running schedules; dropping it (or [`Scheduler::stop`]) stops them. A sync in flight
/// is cancelled between statements: its open transaction rolls back and the checkpoint
/// stays at the last committed page.
pub struct Scheduler {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Scheduler {
    pub fn start(
        engine: Arc<SyncEngine>,
        jobs: Vec<ScheduledSync>,
        progress: Option<ProgressFn>,
    ) -> Self {
        let tasks = jobs
            .into_iter()
            .map(|job| tokio::spawn(run_schedule(engine.clone(), job, progress.clone())))
            .collect();
        Self { tasks }
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn run_schedule(engine: Arc<SyncEngine>, job: ScheduledSync, progress: Option<ProgressFn>) {
    let tenant = job.tenant.as_str();
    let mut interval = match job.schedule {
        Schedule::Every(every) => {
            let mut interval = tokio::time::interval(every.max(Duration::from_millis(1)));
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            Some(interval)
        }
        Schedule::Cron(_) => None,
    };
    loop {
        match interval.as_mut() {
            Some(interval) => {
                interval.tick().await;
            }
            None => match job.schedule.next_delay(chrono::Utc::now(), false) {
                Ok(delay) => tokio::time::sleep(delay).await,
                Err(err) => {
                    tracing::error!(tenant, %err, "schedule has no next run; stopping it");
                    return;
                }
            },
        }
        let result = engine
            .run(
                tenant,
                job.provider.clone(),
                &job.provider_name,
                job.mode,
                progress.clone(),
            )
            .await;
        match result {
            Ok(report) => tracing::info!(
                tenant,
                upserted = report.upserted(),
                deleted = report.deleted(),
                elapsed_ms = report.elapsed_ms,
                "scheduled sync finished"
            ),
            Err(SyncError::Busy(_)) => {
                tracing::info!(tenant, "scheduled sync skipped: another sync is running")
            }
            Err(err) => tracing::warn!(tenant, %err, "scheduled sync failed; the next run resumes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_delays_point_at_the_next_match() {
        let schedule = Schedule::cron("0 * * * *").unwrap();
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 10, 15, 0).unwrap();
        assert_eq!(
            schedule.next_delay(now, true).unwrap(),
            Duration::from_secs(45 * 60)
        );
        assert!(Schedule::cron("not a cron").is_err());
        let with_seconds = Schedule::cron("30 0 * * * *").unwrap();
        assert_eq!(
            with_seconds.next_delay(now, false).unwrap(),
            Duration::from_secs(45 * 60 + 30)
        );
    }

    #[test]
    fn intervals_start_at_once() {
        let schedule = Schedule::Every(Duration::from_secs(60));
        let now = chrono::Utc::now();
        assert_eq!(schedule.next_delay(now, true).unwrap(), Duration::ZERO);
        assert_eq!(
            schedule.next_delay(now, false).unwrap(),
            Duration::from_secs(60)
        );
    }
}
