//! `[tenants.provider]`: which ERP a tenant talks to, selected by `type`.
//!
//! Each provider's settings are their own type implementing [`ProviderSection`], so a
//! provider crate can own its settings (and their checks) and this enum only names it:
//! swapping `SimSettings` for the sim crate's own config type is a one-line change plus
//! a `ProviderSection` impl.

use crate::path::KeyPath;
use crate::types::{ApiKey, DurationSchema, Secret};
use crate::validate::Issues;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::PathBuf;
use std::time::Duration;

/// What a provider's settings type gives the loader: serde for loading, a JSON Schema
/// for `config check` and `config schema`, and the semantic checks the schema cannot
/// express, reported against `at` (the section's key path).
pub trait ProviderSection:
    Serialize + DeserializeOwned + JsonSchema + Clone + std::fmt::Debug + PartialEq
{
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        let _ = (at, issues);
    }
}

/// The provider of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ProviderConfig {
    /// The simulated ERP, in process.
    Sim(SimSettings),
    /// A Tryton server over JSON-RPC.
    Tryton(TrytonSettings),
    /// An out-of-process provider over the gRPC provider protocol.
    Remote(RemoteSettings),
    /// An on-premise connector that dials out to this hub (`erpbridge connector`) and
    /// hosts the tenant's real provider next to the ERP.
    Connector(ConnectorSettings),
}

impl ProviderConfig {
    /// The `type` as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Sim(_) => "sim",
            ProviderConfig::Tryton(_) => "tryton",
            ProviderConfig::Remote(_) => "remote",
            ProviderConfig::Connector(_) => "connector",
        }
    }

    pub(crate) fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        match self {
            ProviderConfig::Sim(s) => s.validate(at, issues),
            ProviderConfig::Tryton(s) => s.validate(at, issues),
            ProviderConfig::Remote(s) => s.validate(at, issues),
            ProviderConfig::Connector(s) => s.validate(at, issues),
        }
    }
}

/// `type = "sim"`: the simulated ERP. Field names follow the sim crate's own config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Seed of everything generated: same seed and sizes, same catalog. Default 42.
    pub seed: u64,
    /// Articles at start (100 to 1.5 million are sensible). Default 10,000.
    #[schemars(range(min = 1, max = 100_000_000))]
    pub articles: u64,
    /// Attributes (Merkmale) per article. Default 20.
    pub attributes_per_article: u32,
    /// Categories. Default 200.
    pub categories: u32,
    /// Customers. Default 1,000.
    pub customers: u32,
    /// Warehouses with stock. Default 3.
    #[schemars(range(min = 1))]
    pub warehouses: u32,
    /// Time a login takes. Default 2 s (enventa's business-unit initialisation).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub init_delay: Duration,
    /// Fixed cost of every call. Default 0s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub per_call_latency: Duration,
    /// Extra cost per item in a call. Default 0s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub per_item_cost: Duration,
    /// Probability (0 to 1) that a call fails transiently. Default 0.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: f64,
    /// Probability (0 to 1) that a call hangs and times out. Default 0.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub timeout_rate: f64,
    /// Probability (0 to 1) that a call kills its session. Default 0.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub disconnect_rate: f64,
    /// Percentage of articles changed per change-feed tick. Default 1.0.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub change_percent_per_tick: f64,
    /// Sessions the backend allows at once: 1 is serial. Default 1.
    #[schemars(range(min = 1))]
    pub sessions: u32,
    /// Journal of writes, replayed on start; absent keeps writes in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            seed: 42,
            articles: 10_000,
            attributes_per_article: 20,
            categories: 200,
            customers: 1_000,
            warehouses: 3,
            init_delay: Duration::from_secs(2),
            per_call_latency: Duration::ZERO,
            per_item_cost: Duration::ZERO,
            error_rate: 0.0,
            timeout_rate: 0.0,
            disconnect_rate: 0.0,
            change_percent_per_tick: 1.0,
            sessions: 1,
            state_file: None,
        }
    }
}

impl ProviderSection for SimSettings {}

/// `type = "tryton"`: a Tryton server. Field names follow the tryton crate's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrytonSettings {
    /// The server's base URL, e.g. `http://127.0.0.1:8000/`.
    pub url: String,
    /// The database name.
    #[schemars(length(min = 1))]
    pub database: String,
    #[schemars(length(min = 1))]
    pub user: String,
    /// Use `${VAR}` to take it from the environment.
    pub password: Secret,
    /// Company id; the user's current company when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<i64>,
    /// Warehouse location ids used for stock and orders; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warehouses: Vec<i64>,
    /// Price list id for customers without one; the sale configuration's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_price_list: Option<i64>,
    /// Language of translatable fields. Default "en".
    #[serde(default = "default_language")]
    pub language: String,
    /// Deadline of one HTTP call. Default 60 s.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub request_timeout: Duration,
    /// HTTP calls in flight at once. Default 4.
    #[serde(default = "default_max_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub max_concurrency: u32,
    /// Deadline of opening a TCP (and TLS) connection; a Tryton host that is down is
    /// noticed this fast instead of after `request_timeout`. At most `request_timeout`.
    /// Default 5 s.
    #[serde(default = "default_tryton_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub connect_timeout: Duration,
    /// TCP keep-alive probes on idle pooled connections, so a firewall or NAT that drops
    /// quiet connections does not leave a dead one in the pool. `0s` turns them off.
    /// Default 30 s.
    #[serde(default = "default_tcp_keepalive", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub tcp_keepalive: Duration,
    /// An idle Tryton session is pinged this often so Tryton's `[session] timeout`
    /// (300 s by default) never ends it. `0s` turns the pings off. Default 120 s.
    #[serde(default = "default_session_keepalive", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub keepalive: Duration,
    /// Delta syncs re-read records stamped this long before the last high-water mark:
    /// Tryton stamps `write_date` when a transaction starts, so a row written by a
    /// transaction that committed after the previous delta read would otherwise be
    /// missed. Re-reads are harmless. At most 1 h. Default 2 s.
    #[serde(default = "default_delta_overlap", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub delta_overlap: Duration,
    /// Only salable products (template `salable`) are articles. Default true.
    #[serde(default = "default_true")]
    pub salable_only: bool,
    /// Quotes carry the customer's quantity breaks (one extra Tryton call per price-list
    /// threshold). Default true.
    #[serde(default = "default_true")]
    pub quote_breaks: bool,
    /// After Tryton refused the login (wrong user or password), calls fail at once for
    /// this long instead of logging in again: Tryton locks a user out (HTTP 429) after a
    /// few failed logins. `0s` retries the login on every call. Default 60 s.
    #[serde(default = "default_login_retry_after", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub login_retry_after: Duration,
}

fn default_language() -> String {
    "en".to_owned()
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_concurrency() -> u32 {
    4
}
fn default_tryton_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_tcp_keepalive() -> Duration {
    Duration::from_secs(30)
}
fn default_session_keepalive() -> Duration {
    Duration::from_secs(120)
}
fn default_delta_overlap() -> Duration {
    Duration::from_secs(2)
}
fn default_true() -> bool {
    true
}
fn default_login_retry_after() -> Duration {
    Duration::from_secs(60)
}

/// Longer overlaps re-read most of a busy catalog on every delta.
const MAX_DELTA_OVERLAP: Duration = Duration::from_secs(3600);

impl ProviderSection for TrytonSettings {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            issues.add(at.key("url"), "must be an http:// or https:// URL");
        }
        if self.request_timeout.is_zero() {
            issues.add(at.key("request_timeout"), "must be longer than 0s");
        }
        if self.connect_timeout.is_zero() {
            issues.add(at.key("connect_timeout"), "must be longer than 0s");
        } else if self.connect_timeout > self.request_timeout {
            issues.add(
                at.key("connect_timeout"),
                format!(
                    "must not be longer than request_timeout ({}): the request deadline includes connecting",
                    humantime::format_duration(self.request_timeout)
                ),
            );
        }
        if self.delta_overlap > MAX_DELTA_OVERLAP {
            issues.add(
                at.key("delta_overlap"),
                "must be at most 1h (every delta re-reads what changed in the overlap)",
            );
        }
    }
}

/// `type = "remote"`: a provider in another process (any language) speaking the gRPC
/// provider protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteSettings {
    /// The provider's endpoint, e.g. `http://10.0.0.5:50051`.
    pub address: String,
    /// TLS to the provider; absent is plain HTTP/2 (loopback or a trusted network only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RemoteTls>,
    /// Deadline of one call. Default 30 s.
    #[serde(default = "default_remote_deadline", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub deadline: Duration,
    /// Deadline of connecting. Default 5 s.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub connect_timeout: Duration,
}

/// `[tenants.provider.tls]` of a remote provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteTls {
    /// PEM file of the CA that signed the provider's certificate; the system roots
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The name to verify the certificate against; the address's host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

fn default_remote_deadline() -> Duration {
    Duration::from_secs(30)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

impl ProviderSection for RemoteSettings {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if !(self.address.starts_with("http://") || self.address.starts_with("https://")) {
            issues.add(
                at.key("address"),
                "must be an http:// or https:// URL, e.g. \"http://127.0.0.1:50051\"",
            );
        }
        if self.tls.is_some() && self.address.starts_with("http://") {
            issues.add(at.key("tls"), "TLS needs an https:// address");
        }
        if self.deadline.is_zero() {
            issues.add(at.key("deadline"), "must be longer than 0s");
        }
    }
}

/// `type = "connector"`: the tenant's provider runs in an on-premise connector that
/// dials out to the hub's tunnel endpoint (`[server] connector_listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// Tokens the tenant's connectors authenticate with, each bound to this tenant.
    /// Write `"sha256:<64 hex digits>"` so the file does not hold the token; remove an
    /// entry to revoke it. At least one.
    #[schemars(length(min = 1))]
    pub tokens: Vec<ApiKey>,
    /// How often the connector sends a heartbeat. Default 30 s.
    #[serde(default = "default_heartbeat_interval", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub heartbeat_interval: Duration,
    /// Heartbeats missed in a row before the connector counts as offline. Default 3.
    #[serde(default = "default_missed_heartbeats")]
    #[schemars(range(min = 1, max = 100))]
    pub missed_heartbeats: u32,
    /// Deadline of one call through the tunnel, and of one catalog page. Default 30 s.
    #[serde(default = "default_remote_deadline", with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub deadline: Duration,
    /// Catalog pages a sync may have in flight through the tunnel. Default 4.
    #[serde(default = "default_stream_credit")]
    #[schemars(range(min = 1, max = 64))]
    pub stream_credit: u32,
    /// The tenant's configuration version. Connectors learn it with every heartbeat and
    /// re-read their own configuration file when it changes. Default "".
    #[serde(default)]
    pub config_version: String,
}

fn default_heartbeat_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_missed_heartbeats() -> u32 {
    3
}
fn default_stream_credit() -> u32 {
    4
}

impl ProviderSection for ConnectorSettings {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.heartbeat_interval < Duration::from_millis(100) {
            issues.add(at.key("heartbeat_interval"), "must be at least 100ms");
        }
        if self.deadline.is_zero() {
            issues.add(at.key("deadline"), "must be longer than 0s");
        }
    }
}

#[cfg(test)]
mod tryton_tests {
    use crate::{Config, ProviderConfig};

    fn tryton(extra: &str) -> String {
        format!(
            r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]

[tenants.provider]
type = "tryton"
url = "http://127.0.0.1:8000/"
database = "erp"
user = "admin"
password = "pw-123456"
{extra}
"#
        )
    }

    fn settings(extra: &str) -> super::TrytonSettings {
        let config = Config::from_toml(&tryton(extra), "t.toml").expect("valid");
        match &config.tenants[0].provider {
            ProviderConfig::Tryton(s) => s.clone(),
            other => panic!("not tryton: {other:?}"),
        }
    }

    /// (key path, line, message) of every error.
    fn errors(extra: &str) -> Vec<(String, Option<usize>, String)> {
        match Config::from_toml(&tryton(extra), "t.toml") {
            Ok(_) => panic!("loaded:\n{extra}"),
            Err(errors) => errors
                .into_iter()
                .map(|e| {
                    (
                        e.path.to_string(),
                        e.position.map(|p| p.line),
                        e.to_string(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn connection_and_delta_knobs_default_and_parse() {
        let s = settings("");
        assert_eq!(s.connect_timeout.as_secs(), 5);
        assert_eq!(s.tcp_keepalive.as_secs(), 30);
        assert_eq!(s.keepalive.as_secs(), 120);
        assert_eq!(s.delta_overlap.as_secs(), 2);
        assert!(s.salable_only && s.quote_breaks);
        assert_eq!(s.login_retry_after.as_secs(), 60);

        let s = settings(
            "connect_timeout = \"750ms\"\ntcp_keepalive = \"0s\"\nkeepalive = \"4m\"\n\
             delta_overlap = \"10s\"\nsalable_only = false\nquote_breaks = false\n\
             login_retry_after = \"0s\"",
        );
        assert_eq!(s.connect_timeout.as_millis(), 750);
        assert!(s.tcp_keepalive.is_zero());
        assert_eq!(s.keepalive.as_secs(), 240);
        assert_eq!(s.delta_overlap.as_secs(), 10);
        assert!(!s.salable_only && !s.quote_breaks);
        assert!(s.login_retry_after.is_zero());
    }

    #[test]
    fn bad_knobs_name_their_key_and_line() {
        let found = errors(
            "connect_timeout = \"2m\"\nrequest_timeout = \"0s\"\ndelta_overlap = \"2h\"\nkeepalive = \"0s\"",
        );
        let at = |key: &str| {
            found
                .iter()
                .find(|(path, ..)| path == &format!("tenants[0].provider.{key}"))
                .unwrap_or_else(|| panic!("no error at {key}: {found:?}"))
        };
        assert_eq!(at("connect_timeout").1, Some(12));
        assert!(at("connect_timeout").2.contains("request_timeout (0s)"));
        assert_eq!(at("request_timeout").1, Some(13));
        assert!(at("request_timeout").2.contains("longer than 0s"));
        assert_eq!(at("delta_overlap").1, Some(14));
        assert!(at("delta_overlap").2.contains("at most 1h"));
        assert_eq!(found.len(), 3, "{found:?}");

        let found = errors("connect_timeout = \"0s\"");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "tenants[0].provider.connect_timeout");
        assert!(found[0].2.contains("longer than 0s"), "{found:?}");

        // A misspelt knob is an unknown key with a hint, not a silently ignored line.
        let found = errors("tcp_keep_alive = \"1s\"");
        let typo = &found[0];
        assert!(typo.2.contains("did you mean `tcp_keepalive`"), "{typo:?}");
        assert_eq!(typo.1, Some(12), "{typo:?}");
    }
}
