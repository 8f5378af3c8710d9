//! The catalog SQL, written once and compiled for each backend.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders (sqlx binds SQLite's `$n` by
//! number), `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING` and multi-row `VALUES`,
//! so one body serves both; only the pool type differs. `include!` instead of generics
//! because sqlx's generic executor bounds would have to be repeated on every function.

pub(crate) mod sqlite {
    type DB = sqlx::Sqlite;
    include!("ops_body.rs");
}

pub(crate) mod postgres {
    type DB = sqlx::Postgres;
    include!("ops_body.rs");
}
