//! Integration tests of the update agent with real processes and real files: the
//! agent binary is started, killed and restarted; the managed service is the fixture
//! service binary (distinct versions are distinct files); releases are published into
//! a real feed directory (or served over HTTP).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod harness;
mod scenarios;
