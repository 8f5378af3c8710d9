//! Per-tenant configuration of a Tryton connection.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::error::TrytonError;

/// One Tryton database as one tenant sees it. Secrets come in already resolved: the
/// config loader replaces `${VAR}` before this is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrytonConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:8000/`.
    pub url: String,
    /// The database name (the first path segment of `/<db>/rpc/`).
    pub database: String,
    pub user: String,
    pub password: String,
    /// The company id to work in; the user's current company when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<i64>,
    /// Warehouse location ids (`stock.location` of type `warehouse`) that stock answers
    /// and orders use; all warehouses when empty. The first one ships orders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warehouses: Vec<i64>,
    /// The price list for customers that have none; `sale.configuration`'s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_price_list: Option<i64>,
    /// The language Tryton's translatable fields are read in (article names, ...).
    #[serde(default = "default_language")]
    pub language: String,
    /// Only salable products are articles (template `salable`).
    #[serde(default = "yes")]
    pub salable_only: bool,
    /// Ask Tryton for the price at every quantity threshold of the customer's price
    /// list, so quotes carry their quantity breaks (one extra call per threshold).
    #[serde(default = "yes")]
    pub quote_breaks: bool,
    /// Deadline of one HTTP call.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub request_timeout: Duration,
    /// Deadline of opening a connection (within `request_timeout`).
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// TCP keep-alive on pooled connections, so a NAT or firewall that drops quiet
    /// connections leaves no dead one in the pool. Zero turns it off.
    #[serde(default = "default_tcp_keepalive", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub tcp_keepalive: Duration,
    /// Calls in flight at once: Tryton's HTTP API is safe to call concurrently, but its
    /// threaded development server and SQLite are not made for many.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    /// A session idle this long is pinged so Tryton's inactivity timeout never ends it.
    /// Zero turns the pings off.
    #[serde(default = "default_keepalive", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub keepalive: Duration,
    /// Delta reads start this much before the last high-water mark: a transaction that
    /// stamped its rows before the mark but committed after it is still seen. Duplicates
    /// are harmless (row versions), misses are not.
    #[serde(default = "default_delta_overlap", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub delta_overlap: Duration,
    /// After Tryton refused the login (wrong user or password), every call fails at once
    /// with that error for this long instead of logging in again (the login circuit is
    /// open): retrying a wrong password only locks the user out, since Tryton answers
    /// HTTP 429 after a few failed logins. `0s` turns the circuit off.
    #[serde(default = "default_login_retry_after", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub login_retry_after: Duration,
}

fn default_language() -> String {
    "en".to_owned()
}
fn yes() -> bool {
    true
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_tcp_keepalive() -> Duration {
    Duration::from_secs(30)
}
fn default_max_concurrency() -> u32 {
    4
}
fn default_keepalive() -> Duration {
    Duration::from_secs(120)
}
fn default_delta_overlap() -> Duration {
    Duration::from_secs(2)
}
fn default_login_retry_after() -> Duration {
    Duration::from_secs(60)
}

impl TrytonConfig {
    /// A configuration with every optional knob at its default.
    pub fn new(
        url: impl Into<String>,
        database: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            database: database.into(),
            user: user.into(),
            password: password.into(),
            company: None,
            warehouses: Vec::new(),
            default_price_list: None,
            language: default_language(),
            salable_only: true,
            quote_breaks: true,
            request_timeout: default_request_timeout(),
            connect_timeout: default_connect_timeout(),
            tcp_keepalive: default_tcp_keepalive(),
            max_concurrency: default_max_concurrency(),
            keepalive: default_keepalive(),
            delta_overlap: default_delta_overlap(),
            login_retry_after: default_login_retry_after(),
        }
    }

    pub fn validate(&self) -> Result<(), TrytonError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(TrytonError::Config(format!(
                "url `{}` must start with http:// or https://",
                self.url
            )));
        }
        if self.database.is_empty() || self.database.contains('/') {
            return Err(TrytonError::Config(format!(
                "database `{}` must be a plain name",
                self.database
            )));
        }
        if self.user.is_empty() {
            return Err(TrytonError::Config("user must not be empty".into()));
        }
        for (key, value) in [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() {
                return Err(TrytonError::Config(format!("{key} must be longer than 0s")));
            }
        }
        if self.max_concurrency == 0 {
            return Err(TrytonError::Config(
                "max_concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// `<url>/<database>/rpc/`: where logins and model calls go.
    pub(crate) fn rpc_url(&self) -> String {
        format!("{}/{}/rpc/", self.url.trim_end_matches('/'), self.database)
    }

    /// `<url>/rpc/`: the database-less endpoint (`common.server.version`).
    pub(crate) fn root_rpc_url(&self) -> String {
        format!("{}/rpc/", self.url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let config: TrytonConfig = serde_json::from_value(serde_json::json!({
            "url": "http://127.0.0.1:8000/", "database": "erp", "user": "admin",
            "password": "secret-pw", "request_timeout": "10s", "warehouses": [5]
        }))
        .unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.max_concurrency, 4);
        assert_eq!(config.rpc_url(), "http://127.0.0.1:8000/erp/rpc/");
        config.validate().unwrap();

        let err = serde_json::from_value::<TrytonConfig>(serde_json::json!({
            "url": "http://x/", "database": "erp", "user": "a", "password": "b", "pasword": "c"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("pasword"), "{err}");

        assert_eq!(config.tcp_keepalive, Duration::from_secs(30));

        let mut bad = config.clone();
        bad.url = "127.0.0.1:8000".into();
        assert!(bad.validate().is_err());
        let mut bad = config.clone();
        bad.connect_timeout = Duration::ZERO;
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("connect_timeout"), "{err}");
    }
}
