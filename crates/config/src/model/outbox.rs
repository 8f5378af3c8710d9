//! `[outbox]`: the saga workers and when a failed saga is tried again.

use crate::path::KeyPath;
use crate::types::DurationSchema;
use crate::validate::Issues;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[outbox]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Concurrent workers in this process. Default 4.
    #[schemars(range(min = 1, max = 1024))]
    pub workers: u32,
    /// How long a claimed saga stays invisible to other workers (visibility timeout):
    /// a worker that crashes loses its claim after this. Default 60 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub lease: Duration,
    /// How often an idle worker looks for due sagas. Default 500 ms.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub poll_interval: Duration,
    /// Sagas one worker claims per poll. Default 32.
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: u32,
    /// When a failed saga runs again, and when it is given up (`dead`).
    pub retry: RetryPolicy,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            batch_size: 32,
            retry: RetryPolicy::default(),
        }
    }
}

impl OutboxConfig {
    pub(crate) fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.lease.is_zero() {
            issues.add(at.key("lease"), "must be longer than 0s");
        }
        if self.poll_interval.is_zero() {
            issues.add(at.key("poll_interval"), "must be longer than 0s");
        }
        self.retry.validate(&at.key("retry"), issues);
    }
}

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryStrategy {
    /// `base_delay × multiplier^(n-1)`, capped at `max_delay`.
    Exponential,
    /// `base_delay × n`, capped at `max_delay`.
    Linear,
    /// Always `base_delay`.
    Fixed,
    /// The `delays` list in order; the last one repeats if `max_attempts` asks for more.
    Explicit,
}

/// `[outbox.retry]`. The default is seed 004's schedule: 30 s, 2 min, 10 min, 30 min,
/// 1 h, then `dead`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Default `explicit`.
    pub strategy: RetryStrategy,
    /// First delay of `exponential`/`linear`, every delay of `fixed`. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub base_delay: Duration,
    /// No computed delay exceeds this. Default 1 h.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub max_delay: Duration,
    /// Growth factor of `exponential`. Default 4.0 (30 s, 2 min, 8 min, 32 min, ...).
    #[schemars(range(min = 1.0, max = 100.0))]
    pub multiplier: f64,
    /// The delays of `explicit`, in order. Default `["30s", "2m", "10m", "30m", "1h"]`.
    #[serde(with = "humantime_list")]
    #[schemars(with = "Vec<DurationSchema>")]
    pub delays: Vec<Duration>,
    /// Attempts in all, the first one included, before a saga is `dead`. Default: one
    /// more than there are `delays` for `explicit` (6), else 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_attempts: Option<u32>,
    /// Random spread of each delay, as a fraction: 0.1 means ±10 %. Keeps many failed
    /// sagas from retrying in lockstep. Default 0.1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            strategy: RetryStrategy::Explicit,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            multiplier: 4.0,
            delays: [30, 120, 600, 1800, 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            max_attempts: None,
            jitter: 0.1,
        }
    }
}

impl RetryPolicy {
    /// Attempts in all before `dead`, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(match self.strategy {
            RetryStrategy::Explicit => u32::try_from(self.delays.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            _ => 6,
        })
    }

    /// The delay before the next attempt after `failed` attempts have failed (1 after
    /// the first failure), without jitter; `None` when the saga is to go `dead`.
    pub fn delay_after(&self, failed: u32) -> Option<Duration> {
        if failed == 0 || failed >= self.max_attempts() {
            return None;
        }
        let n = failed;
        let delay = match self.strategy {
            RetryStrategy::Fixed => self.base_delay,
            RetryStrategy::Linear => self.base_delay.saturating_mul(n),
            RetryStrategy::Exponential => {
                let factor = self
                    .multiplier
                    .powi(i32::try_from(n - 1).unwrap_or(i32::MAX));
                let secs = self.base_delay.as_secs_f64() * factor;
                // Overflow and NaN both mean "very long": the cap decides.
                Duration::try_from_secs_f64(secs).unwrap_or(self.max_delay)
            }
            RetryStrategy::Explicit => {
                let i = usize::try_from(n - 1).unwrap_or(usize::MAX);
                let last = self.delays.last().copied().unwrap_or(self.base_delay);
                self.delays.get(i).copied().unwrap_or(last)
            }
        };
        Some(delay.min(self.max_delay))
    }

    /// Spreads `delay` by the configured jitter. `unit` is a random number in [0, 1)
    /// supplied by the caller, so this stays deterministic and testable.
    pub fn jittered(&self, delay: Duration, unit: f64) -> Duration {
        let spread = self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::try_from_secs_f64(delay.as_secs_f64() * (1.0 + spread)).unwrap_or(delay)
    }

    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.strategy == RetryStrategy::Explicit && self.delays.is_empty() {
            issues.add(
                at.key("delays"),
                "strategy \"explicit\" needs at least one delay",
            );
        }
        if self.strategy != RetryStrategy::Explicit && self.base_delay > self.max_delay {
            issues.add(
                at.key("base_delay"),
                format!(
                    "base_delay ({}) is longer than max_delay ({})",
                    humantime::format_duration(self.base_delay),
                    humantime::format_duration(self.max_delay)
                ),
            );
        }
    }
}

/// `Vec<Duration>` as a list of humantime strings.
mod humantime_list {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for d in list {
            seq.serialize_element(&humantime::format_duration(*d).to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| humantime::parse_duration(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
