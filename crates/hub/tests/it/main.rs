//! The hub over real HTTP on loopback ports, in front of in-process simulated ERPs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod e2e;
mod live;
mod metrics;
mod openapi;
mod operator;
mod problems;
mod query;
mod reload;
mod support;
