//! A thin layer that lets each outbox query be written once for both backends.
//!
//! Queries are written in PostgreSQL syntax with `$N` placeholders and `::type` casts.
//! SQLite accepts `$N` (sqlx binds them by number) and has no casts, so its text is the
//! same query with the casts stripped. Values cross as a handful of plain types
//! ([`Arg`], [`RowRead`]); UUIDs and JSON travel as text and PostgreSQL casts them.

use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Postgres, Row, Sqlite};

use crate::error::StoreError;

/// One query in both dialects.
pub(crate) struct Sql {
    pub postgres: &'static str,
    pub sqlite: String,
}

impl Sql {
    pub fn new(postgres: &'static str) -> Self {
        Self {
            postgres,
            sqlite: strip_casts(postgres),
        }
    }
}

/// A `&'static Sql` built once per call site.
macro_rules! sql {
    ($text:expr) => {{
        static SQL: std::sync::LazyLock<$crate::outbox::sql::Sql> =
            std::sync::LazyLock::new(|| $crate::outbox::sql::Sql::new($text));
        &*SQL
    }};
}
pub(crate) use sql;

/// A `static NAME: LazyLock<Sql>`; pass it as `&NAME`.
macro_rules! static_sql {
    ($vis:vis $name:ident, $text:expr) => {
        $vis static $name: std::sync::LazyLock<$crate::outbox::sql::Sql> =
            std::sync::LazyLock::new(|| $crate::outbox::sql::Sql::new($text));
    };
}
pub(crate) use static_sql;

fn strip_casts(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("::") {
        out.push_str(&rest[..at]);
        rest = rest[at + 2..].trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_owned())
    }
}
impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}
impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}
impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::OptText(value)
    }
}
impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Arg::OptInt(value)
    }
}

/// Column access by position, the same on both backends.
pub(crate) trait RowRead {
    fn i64(&self, index: usize) -> Result<i64, StoreError>;
    fn opt_i64(&self, index: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, index: usize) -> Result<String, StoreError>;
    fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError>;
    fn opt_f64(&self, index: usize) -> Result<Option<f64>, StoreError>;
}

macro_rules! impl_row_read {
    ($row:ty) => {
        impl RowRead for $row {
            fn i64(&self, index: usize) -> Result<i64, StoreError> {
                Ok(self.try_get::<i64, _>(index)?)
            }
            fn opt_i64(&self, index: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get::<Option<i64>, _>(index)?)
            }
            fn text(&self, index: usize) -> Result<String, StoreError> {
                Ok(self.try_get::<String, _>(index)?)
            }
            fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
                Ok(self.try_get::<Option<String>, _>(index)?)
            }
            fn opt_f64(&self, index: usize) -> Result<Option<f64>, StoreError> {
                Ok(self.try_get::<Option<f64>, _>(index)?)
            }
        }
    };
}
impl_row_read!(SqliteRow);
impl_row_read!(PgRow);

fn bind_sqlite<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments>,
    args: &[Arg],
) -> Query<'q, Sqlite, SqliteArguments> {
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v.clone()),
            Arg::OptText(v) => query.bind(v.clone()),
            Arg::Int(v) => query.bind(*v),
            Arg::OptInt(v) => query.bind(*v),
        };
    }
    query
}

fn bind_pg<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    args: &[Arg],
) -> Query<'q, Postgres, PgArguments> {
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v.clone()),
            Arg::OptText(v) => query.bind(v.clone()),
            Arg::Int(v) => query.bind(*v),
            Arg::OptInt(v) => query.bind(*v),
        };
    }
    query
}

/// A connection of either backend (a pooled one or an open transaction).
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &'static Sql, args: &[Arg]) -> Result<u64, StoreError> {
        Ok(match self {
            Conn::Sqlite(conn) => bind_sqlite(sqlx::query(sql.sqlite.as_str()), args)
                .execute(&mut **conn)
                .await?
                .rows_affected(),
            Conn::Postgres(conn) => bind_pg(sqlx::query(sql.postgres), args)
                .execute(&mut **conn)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all<T>(
        &mut self,
        sql: &'static Sql,
        args: &[Arg],
        decode: impl Fn(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Sqlite(conn) => bind_sqlite(sqlx::query(sql.sqlite.as_str()), args)
                .fetch_all(&mut **conn)
                .await?
                .iter()
                .map(|row| decode(row))
                .collect(),
            Conn::Postgres(conn) => bind_pg(sqlx::query(sql.postgres), args)
                .fetch_all(&mut **conn)
                .await?
                .iter()
                .map(|row| decode(row))
                .collect(),
        }
    }

    pub async fn fetch_optional<T>(
        &mut self,
        sql: &'static Sql,
        args: &[Arg],
        decode: impl Fn(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Conn::Sqlite(conn) => bind_sqlite(sqlx::query(sql.sqlite.as_str()), args)
                .fetch_optional(&mut **conn)
                .await?
                .map(|row| decode(&row))
                .transpose(),
            Conn::Postgres(conn) => bind_pg(sqlx::query(sql.postgres), args)
                .fetch_optional(&mut **conn)
                .await?
                .map(|row| decode(&row))
                .transpose(),
        }
    }

    pub async fn fetch_one<T>(
        &mut self,
        sql: &'static Sql,
        args: &[Arg],
        decode: impl Fn(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.fetch_optional(sql, args, decode)
            .await?
            .ok_or_else(|| StoreError::Corrupt("query returned no row".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_are_stripped_for_sqlite() {
        assert_eq!(
            strip_casts("SELECT saga_id::text, sum(x)::bigint FROM t WHERE id = $1::uuid"),
            "SELECT saga_id, sum(x) FROM t WHERE id = $1"
        );
    }
}
