//! Integration tests of the provider runtime against a fake non-thread-safe backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod breaker;
mod coalescing;
mod executor;
mod fake;
mod guarded;
mod maintenance;
mod readiness;
mod recovery;
mod support;
mod surface;
