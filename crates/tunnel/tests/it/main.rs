//! The tunnel over real sockets on loopback: a hub endpoint, connectors as tasks
//! hosting the sim through the provider runtime, and hand-driven raw tunnel clients
//! for what a well-behaved connector never does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod calls;
mod liveness;
mod reload;
mod support;
mod tls;
