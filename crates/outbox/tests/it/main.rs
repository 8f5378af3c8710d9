//! Integration tests of the saga engine: in-process against the simulated ERP, and
//! crash tests with real worker processes (the `outbox-crash-fixture` binary) that are
//! SIGKILLed at random points.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod crash;
mod engine;
