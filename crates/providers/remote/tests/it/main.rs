//! Integration tests of the gRPC provider protocol: real servers and clients on
//! 127.0.0.1 (port 0), the sim behind the server, fakes only where a behaviour must be
//! forced (each error kind, a hang, hostile replies) — named as fakes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod fakes;
mod hostile;
mod parity;
mod python;
mod resilience;
mod support;
mod tls;
