//! Engine settings (config: `[outbox]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::policy::{PolicyError, RetryPolicy};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxOptions {
    /// Worker tasks per process. Default 4.
    pub workers: u32,
    /// Sagas one worker claims (and runs concurrently) at a time. Default 32.
    pub batch_size: u32,
    /// Visibility timeout: how long a claim lasts without a heartbeat. A worker renews
    /// it every third of this while it runs; a crashed worker's sagas become claimable
    /// again when it runs out. Default 60 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub lease: Duration,
    /// How often an idle worker looks for due sagas. Default 250 ms.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
    /// Longest one step may take before it counts as a transient failure. Default 2 min.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub step_timeout: Duration,
    /// Most worker reports committed in one transaction (group commit). Default 1024.
    pub settle_batch: u32,
    pub retry: RetryPolicy,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            workers: 4,
            batch_size: 32,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            step_timeout: Duration::from_secs(120),
            settle_batch: 1024,
            retry: RetryPolicy::default(),
        }
    }
}

impl OutboxOptions {
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, reason: &str| {
            Err(PolicyError {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.settle_batch == 0 {
            return bad("settle_batch", "must be at least 1");
        }
        if self.lease < Duration::from_millis(300) {
            return bad("lease", "must be at least 300ms");
        }
        self.retry.validate()
    }
}
