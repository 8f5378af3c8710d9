//! When to try a failed saga again, and when to give up.
//!
//! The default is seed 004's schedule: retries after 30 s, 2 min, 10 min, 30 min and 1 h,
//! and a saga whose sixth execution fails goes to `dead`. Other shapes (exponential,
//! linear, fixed) are for tenants whose ERP needs gentler or faster handling. Jitter
//! spreads retries of sagas that failed together (an ERP outage) so they do not all
//! come back in the same second.

use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetryStrategy {
    /// `base_delay × multiplier^(n-1)`, capped at `max_delay`.
    Exponential,
    /// `base_delay × n`, capped at `max_delay`.
    Linear,
    /// Always `base_delay`.
    Fixed,
    /// The n-th entry of `delays` (the last one repeats if `max_attempts` allows more).
    #[default]
    #[serde(alias = "custom")]
    Explicit,
}

/// Retry policy of the outbox (config: `[outbox.retry]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    pub strategy: RetryStrategy,
    /// Delays for `explicit`, e.g. `["30s", "2m", "10m", "30m", "1h"]`.
    #[serde(with = "humantime_serde_vec")]
    #[schemars(with = "Vec<String>")]
    pub delays: Vec<Duration>,
    /// First delay of `exponential`/`linear`, every delay of `fixed`. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub base_delay: Duration,
    /// Upper bound of any computed delay. Default 1 h.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max_delay: Duration,
    /// Growth factor for `exponential`. Default 4 (30 s, 2 min, 8 min, 32 min, ...).
    pub multiplier: f64,
    /// Executions before a saga goes to `dead` (the first run counts). Default: one more
    /// than the number of `delays` for `explicit` (6 with the default schedule), else 6.
    pub max_attempts: Option<u32>,
    /// Random spread as a fraction of the delay: 0.2 makes a 10 min delay 8–12 min.
    /// Default 0.1.
    pub jitter: f64,
}

pub const DEFAULT_DELAYS: [Duration; 5] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
];

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            strategy: RetryStrategy::Explicit,
            delays: DEFAULT_DELAYS.to_vec(),
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            multiplier: 4.0,
            max_attempts: None,
            jitter: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbox: {field}: {reason}")]
pub struct PolicyError {
    pub field: &'static str,
    pub reason: String,
}

impl RetryPolicy {
    /// Executions allowed before `dead`.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(match self.strategy {
            RetryStrategy::Explicit => u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1,
            _ => 6,
        })
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, reason: &str| {
            Err(PolicyError {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.strategy == RetryStrategy::Explicit && self.delays.is_empty() {
            return bad("delays", "the explicit strategy needs at least one delay");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad("jitter", "must be between 0 and 1");
        }
        if self.strategy == RetryStrategy::Exponential
            && (self.multiplier.is_nan() || self.multiplier < 1.0)
        {
            return bad("multiplier", "must be at least 1");
        }
        if self.max_attempts == Some(0) {
            return bad("max_attempts", "must be at least 1");
        }
        if self.max_delay < self.base_delay {
            return bad("max_delay", "must not be shorter than base_delay");
        }
        Ok(())
    }

    /// The delay before the next execution, after `attempts` executions have failed
    /// (the first failure is `attempts = 1`), or `None` when the saga should die.
    pub fn delay_after(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts() {
            return None;
        }
        let base = self.delay_for(attempts.max(1));
        Some(self.jittered(base))
    }

    fn delay_for(&self, retry: u32) -> Duration {
        let n = retry - 1;
        match self.strategy {
            RetryStrategy::Explicit => {
                let index = usize::try_from(n).unwrap_or(usize::MAX);
                self.delays
                    .get(index)
                    .or(self.delays.last())
                    .copied()
                    .unwrap_or(self.base_delay)
            }
            RetryStrategy::Fixed => self.base_delay,
            RetryStrategy::Linear => self.base_delay.saturating_mul(retry).min(self.max_delay),
            RetryStrategy::Exponential => {
                let factor = self.multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX));
                let secs = self.base_delay.as_secs_f64() * factor;
                if secs.is_finite() && secs < self.max_delay.as_secs_f64() {
                    Duration::from_secs_f64(secs)
                } else {
                    self.max_delay
                }
            }
        }
    }

    fn jittered(&self, base: Duration) -> Duration {
        if self.jitter <= 0.0 || base.is_zero() {
            return base;
        }
        let factor = rand::rng().random_range((1.0 - self.jitter)..=(1.0 + self.jitter));
        Duration::from_secs_f64(base.as_secs_f64() * factor)
    }
}

/// humantime strings for a list of durations.
mod humantime_serde_vec {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(value.len()))?;
        for d in value {
            seq.serialize_element(&humantime::format_duration(*d).to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| humantime::parse_duration(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn default_is_the_seed_schedule_then_dead() {
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = (1..=6).map(|n| policy.delay_after(n)).collect();
        assert_eq!(
            delays,
            vec![
                Some(secs(30)),
                Some(secs(120)),
                Some(secs(600)),
                Some(secs(1800)),
                Some(secs(3600)),
                None
            ]
        );
        assert_eq!(policy.max_attempts(), 6);
    }

    #[test]
    fn exponential_linear_fixed_shapes() {
        let exp = RetryPolicy {
            strategy: RetryStrategy::Exponential,
            jitter: 0.0,
            base_delay: secs(10),
            max_delay: secs(60),
            multiplier: 3.0,
            max_attempts: Some(10),
            ..RetryPolicy::default()
        };
        assert_eq!(exp.delay_after(1), Some(secs(10)));
        assert_eq!(exp.delay_after(2), Some(secs(30)));
        assert_eq!(exp.delay_after(3), Some(secs(60)), "capped");
        assert_eq!(exp.delay_after(10), None);

        let linear = RetryPolicy {
            strategy: RetryStrategy::Linear,
            jitter: 0.0,
            base_delay: secs(10),
            max_delay: secs(25),
            ..RetryPolicy::default()
        };
        assert_eq!(linear.delay_after(1), Some(secs(10)));
        assert_eq!(linear.delay_after(2), Some(secs(20)));
        assert_eq!(linear.delay_after(3), Some(secs(25)));
        assert_eq!(linear.delay_after(6), None, "default max 6 attempts");

        let fixed = RetryPolicy {
            strategy: RetryStrategy::Fixed,
            jitter: 0.0,
            base_delay: secs(7),
            max_attempts: Some(3),
            ..RetryPolicy::default()
        };
        assert_eq!(fixed.delay_after(2), Some(secs(7)));
        assert_eq!(fixed.delay_after(3), None);
    }

    #[test]
    fn explicit_repeats_last_delay_when_more_attempts_allowed() {
        let policy = RetryPolicy {
            jitter: 0.0,
            delays: vec![secs(1), secs(2)],
            max_attempts: Some(5),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay_after(2), Some(secs(2)));
        assert_eq!(policy.delay_after(4), Some(secs(2)));
        assert_eq!(policy.delay_after(5), None);
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let policy = RetryPolicy {
            strategy: RetryStrategy::Fixed,
            base_delay: secs(100),
            jitter: 0.2,
            ..RetryPolicy::default()
        };
        let samples: Vec<Duration> = (0..200).filter_map(|_| policy.delay_after(1)).collect();
        assert!(samples.iter().all(|d| *d >= secs(80) && *d <= secs(120)));
        assert!(samples.iter().any(|d| *d != samples[0]), "jitter must vary");
    }

    #[test]
    fn toml_shape_and_validation() {
        let policy: RetryPolicy = toml::from_str(
            r#"strategy = "custom"
               delays = ["1s", "5m"]
               jitter = 0.1"#,
        )
        .unwrap();
        assert_eq!(policy.strategy, RetryStrategy::Explicit);
        assert_eq!(policy.delays, vec![secs(1), secs(300)]);
        assert!(policy.validate().is_ok());
        let bad = RetryPolicy {
            jitter: 1.5,
            ..RetryPolicy::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "jitter");
        assert!(toml::from_str::<RetryPolicy>("strategy = \"sometimes\"").is_err());
    }
}
