//! Tests of the Tryton provider against a real Tryton server (see `harness`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod breaker;
mod catalog;
mod errors;
mod live;
mod orders;
mod query;
