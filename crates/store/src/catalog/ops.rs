//! The catalog SQL, written once and compiled for each backend.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders (sqlx binds SQLite's `$n` by
//! number), `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING` and multi-row `VALUES`,
//! so one body serves both; only the pool type differs. `include!` instead of generics
//! because sqlx's generic executor bounds would have to be repeated on every function.

pub(crate) mod sqlite {
    type DB = sqlx::Sqlite;
    include!("ops_body.rs");

    /// This file's writer queue ([`crate::db::sqlite_writer`]), held for the transaction.
    async fn write_turn(pool: &Pool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        Some(crate::db::sqlite_writer(pool).lock_owned().await)
    }
}

pub(crate) mod postgres {
    type DB = sqlx::Postgres;
    include!("ops_body.rs");

    /// PostgreSQL queues writers by row locks itself.
    async fn write_turn(_pool: &Pool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        None
    }
}
