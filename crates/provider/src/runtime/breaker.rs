//! A circuit breaker per hosted provider (= per tenant).
//!
//! A backend that keeps timing out should not collect a queue of callers who each wait the
//! full deadline: after `threshold` consecutive transient/unavailable failures the circuit
//! opens and calls fail at once with `unavailable` and a `retry_after` hint. After the
//! cool-down exactly one caller is let through as a probe; its success closes the circuit,
//! its failure opens it for another cool-down.
//!
//! Only answers of the backend count. `fatal` and `not_found` are answers too (the ERP
//! is up and said no), so they reset the count like a success. The runtime's own refusals
//! (queue full, circuit open) are not recorded: they say nothing new about the backend.
//!
//! Time is `tokio::time::Instant`, read only on the async side, so tests drive the
//! cool-down with paused time.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

use crate::error::{ErrorKind, ProviderError};

/// What the operator API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// Cool-down over; `probing` while the one probe call is out.
    HalfOpen {
        probing: bool,
    },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    enabled: bool,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// Permission to make one call. Report the outcome with [`Permit::record`]; a permit
/// dropped without a record (the caller gave up) frees the probe slot so another caller
/// can probe.
#[must_use]
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            enabled: true,
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// A breaker that never opens (configuration switched it off).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new(1, Duration::ZERO)
        }
    }

    pub fn state(&self) -> BreakerState {
        match *self.state.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Ask to make a call: `Err(unavailable)` while the circuit is open or a probe is out.
    pub fn try_acquire(&self) -> Result<Permit<'_>, ProviderError> {
        let mut state = self.state.lock();
        let now = Instant::now();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => {
                return Err(ProviderError::unavailable(format!(
                    "circuit open after {} consecutive failures; failing fast",
                    self.threshold
                ))
                .with_retry_after(until - now));
            }
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::HalfOpen { probing: true } => {
                return Err(ProviderError::unavailable(
                    "circuit half-open; a probe call is deciding whether the backend is back",
                )
                .with_retry_after(Duration::from_secs(1).min(self.cooldown)));
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    fn record_outcome(&self, failure: bool) {
        if !self.enabled {
            return;
        }
        let mut state = self.state.lock();
        *state = match (&*state, failure) {
            (_, false) => State::Closed { failures: 0 },
            (State::Closed { failures }, true) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            // An open circuit only sees outcomes of calls admitted before it opened; they
            // must not extend the cool-down indefinitely.
            (State::Open { until }, true) => State::Open { until: *until },
            (_, true) => {
                tracing::warn!(cooldown = ?self.cooldown, "circuit breaker opened");
                State::Open {
                    until: Instant::now() + self.cooldown,
                }
            }
        };
    }
}

/// Whether an error says the backend is unwell (counts towards opening the circuit).
pub fn counts_as_failure(error: &ProviderError) -> bool {
    matches!(error.kind, ErrorKind::Transient | ErrorKind::Unavailable)
}

impl Permit<'_> {
    /// Record the backend's answer. `None` means "no verdict" (e.g. the call was refused
    /// locally before reaching the backend).
    pub fn record<T>(mut self, result: &Result<T, ProviderError>) {
        self.recorded = true;
        match result {
            Ok(_) => self.breaker.record_outcome(false),
            Err(e) => self.breaker.record_outcome(counts_as_failure(e)),
        }
    }

    /// Give the permit back without a verdict.
    pub fn release(self) {}
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            let mut state = self.breaker.state.lock();
            if let State::HalfOpen { probing: true } = *state {
                *state = State::HalfOpen { probing: false };
            }
        }
    }
}
