//! The catalog SQL, written once and compiled for each backend.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders (sqlx binds SQLite's `$n` by
//! number), `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING` and multi-row `VALUES`,
//! so one body serves both; only the pool type and the placeholders of generated bulk
//! statements differ (see `push_placeholder`). `include!` instead of generics
//! because sqlx's generic executor bounds would have to be repeated on every function.

pub(crate) mod sqlite {
    type DB = sqlx::Sqlite;
    include!("ops_body.rs");

    /// Anonymous `?`, not `$n`: for every bound value sqlx asks SQLite for the
    /// parameter's name, and SQLite finds a name by walking the list of all named
    /// parameters of the statement. With thousands of `$n` in one multi-row insert that
    /// is quadratic and was 85 % of a full sync's CPU time; anonymous parameters have no
    /// names to walk. Callers bind in placeholder order and never reuse one.
    fn push_placeholder(sql: &mut String, _n: usize) {
        sql.push('?');
    }

    /// This file's writer queue ([`crate::db::sqlite_writer`]), held for the transaction.
    async fn write_turn(pool: &Pool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        Some(crate::db::sqlite_writer(pool).lock_owned().await)
    }
}

pub(crate) mod postgres {
    type DB = sqlx::Postgres;
    include!("ops_body.rs");

    fn push_placeholder(sql: &mut String, n: usize) {
        use std::fmt::Write as _;
        let _ = write!(sql, "${n}");
    }

    /// PostgreSQL queues writers by row locks itself.
    async fn write_turn(_pool: &Pool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        None
    }
}
