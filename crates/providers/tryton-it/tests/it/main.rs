//! The Tryton provider inside erpbridge's engines, against a real Tryton server:
//! `sync` (full, delta and sweep into the SQLite catalog store and the tantivy index) and
//! `outbox` (order sagas, SIGKILL between Tryton's create and the outbox's commit, wrong
//! password, Tryton stopped mid-run).
//!
//! The server comes from the provider crate's own test harness (shared by path, so both
//! crates start, seed and skip-or-fail identically): `ERPBRIDGE_TRYTON_URL` when set,
//! otherwise `scripts/tryton/start.sh` starts one per test process from the cached seeded
//! database. With `CI` set, a Tryton that cannot be set up fails the tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Some of the harness's helpers are only used by the provider crate's own tests.
#[allow(dead_code)]
#[path = "../../../tryton/tests/it/harness.rs"]
mod harness;

mod outbox;
mod sync;
