#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the sync engine against real SQLite/PostgreSQL, a real tantivy
//! index, the simulated ERP behind the provider runtime, and real child processes.

mod categories;
mod common;
mod crash;
mod delta;
mod full;
mod isolation;
mod lock;
mod migrations;
mod parts;
mod prewarm;
mod schedule;
