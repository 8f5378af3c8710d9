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

impl ProviderSection for TrytonSettings {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            issues.add(at.key("url"), "must be an http:// or https:// URL");
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
