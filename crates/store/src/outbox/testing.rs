//! Test support: a fresh PostgreSQL database per test on the project's throwaway
//! cluster (`scripts/postgres/start.sh`).
//!
//! `ERPBRIDGE_TEST_PG_URL` names the cluster. When it is unset and `CI` is set, this
//! fails loudly: a CI run must never skip PostgreSQL tests silently. Outside CI it
//! starts the cluster itself through the script (idempotent), so a developer's
//! `cargo test` runs the PostgreSQL tests too.

use sqlx::Connection;
use std::process::Command;
use std::sync::OnceLock;

use crate::db::Db;
use crate::error::StoreError;

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidUrl {
        url: "ERPBRIDGE_TEST_PG_URL".into(),
        reason: reason.into(),
    }
}

/// The URL of the test cluster's maintenance database.
pub fn cluster_url() -> Result<String, StoreError> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("ERPBRIDGE_TEST_PG_URL")
            && !url.trim().is_empty()
        {
            return Ok(url);
        }
        if std::env::var_os("CI").is_some() {
            return Err("ERPBRIDGE_TEST_PG_URL is not set, and CI is: PostgreSQL tests must not be skipped. \
                 Run them through scripts/test, or eval \"$(scripts/postgres/start.sh --print-env)\" first"
                .into());
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres/start.sh");
        let output = Command::new("bash")
            .arg(script)
            .arg("--print-env")
            .output()
            .map_err(|err| format!("cannot run {script}: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "{script} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("export ERPBRIDGE_TEST_PG_URL="))
            .map(|value| value.trim_matches('\'').to_owned())
            .ok_or_else(|| format!("{script} printed no ERPBRIDGE_TEST_PG_URL"))
    })
    .clone()
    .map_err(invalid)
}

/// Creates an empty database on the test cluster and returns its URL.
pub async fn fresh_database_url(prefix: &str) -> Result<String, StoreError> {
    let base = cluster_url()?;
    let name = format!(
        "{}_{}",
        prefix
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            })
            .collect::<String>(),
        uuid::Uuid::new_v4().simple()
    );
    let mut admin = sqlx::PgConnection::connect(&base).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let mut url = url::Url::parse(&base).map_err(|err| invalid(err.to_string()))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// A migrated, empty PostgreSQL database.
pub async fn fresh_postgres(prefix: &str) -> Result<(Db, String), StoreError> {
    let url = fresh_database_url(prefix).await?;
    let db = Db::open_postgres(&url, 16).await?;
    db.migrate().await?;
    Ok((db, url))
}
