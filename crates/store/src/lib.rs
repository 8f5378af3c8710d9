//! Persistence for erpbridge, on SQLite (the embedded default: one file, nothing to run)
//! or PostgreSQL (scale-out: many hub processes share one database).
//!
//! One [`Db`] handle, one migration set per backend, and one module per concern
//! (`outbox`, `catalog`, ...). Every table is keyed by tenant first: no query in this
//! crate may read or write rows without naming the tenant, so cross-tenant leaks cannot
//! start here.

pub mod catalog;
mod db;
mod error;
mod migrations;
pub mod outbox;

pub use db::{Backend, Db, SqliteDurability};
pub use error::StoreError;
