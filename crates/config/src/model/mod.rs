//! The typed configuration. Every section has documented defaults (`#[serde(default)]`),
//! so a file only names what it changes; `deny_unknown_fields` everywhere turns a typo
//! into an error instead of a silently ignored setting.

mod outbox;
mod provider;
mod tenant;

pub use outbox::{OutboxConfig, RetryPolicy, RetryStrategy};
pub use provider::{
    ConnectorSettings, ProviderConfig, ProviderSection, RemoteSettings, RemoteTls, SimSettings,
    TrytonSettings,
};
pub use tenant::{
    BreakerConfig, CacheConfig, CoalescingConfig, RateLimitConfig, RuntimeConfig, Schedule,
    SyncConfig, TENANT_ID_MAX_LEN, TENANT_ID_PATTERN, TenantConfig,
};

use crate::path::KeyPath;
use crate::types::{DurationSchema, Secret, SocketAddrSchema};
use crate::validate::Issues;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration of one hub process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "erpbridge configuration")]
pub struct Config {
    /// The HTTP server: listen address, limits, operator key.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where catalog, outbox, checkpoints and audit live.
    #[serde(default)]
    pub store: StoreConfig,
    /// The durable outbox: workers, leases and the retry policy.
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// The full-text catalog index: where it lives on disk.
    #[serde(default)]
    pub search: SearchConfig,
    /// The tenants: one ERP connection context each. At least one.
    #[schemars(length(min = 1))]
    pub tenants: Vec<TenantConfig>,
}

impl Config {
    /// Semantic checks the schema cannot express, collected into `issues`.
    pub(crate) fn validate(&self, issues: &mut Issues) {
        let root = KeyPath::root();
        self.server.validate(&root.key("server"), issues);
        self.store.validate(&root.key("store"), issues);
        self.outbox.validate(&root.key("outbox"), issues);
        self.search.validate(&root.key("search"), issues);
        let tenants = root.key("tenants");
        let mut seen = std::collections::HashMap::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            let at = tenants.index(i);
            if let Some(first) = seen.insert(tenant.id.as_str(), i) {
                issues.add(
                    at.key("id"),
                    format!(
                        "duplicate tenant id \"{}\" (also tenants[{first}].id)",
                        tenant.id
                    ),
                );
            }
            tenant.validate(&at, issues);
            if matches!(tenant.provider, ProviderConfig::Connector(_))
                && self.server.connector_listen.is_none()
            {
                issues.add(
                    at.key("provider").key("type"),
                    "a connector tenant needs [server] connector_listen, where its connector dials in",
                );
            }
        }
    }

    /// The tenant with this id.
    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.id.as_str() == id)
    }

    /// Where the search indexes live: `[search] dir`, else `search` next to the SQLite
    /// file, else (PostgreSQL) `./erpbridge-data/search`. `serve` and `sync` both ask
    /// here, so a sync run from the command line updates the index the hub reads.
    pub fn index_dir(&self) -> PathBuf {
        if let Some(dir) = &self.search.dir {
            return dir.clone();
        }
        match &self.store {
            StoreConfig::Sqlite { path, .. } => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
                .join("search"),
            StoreConfig::Postgres { .. } => PathBuf::from(DEFAULT_POSTGRES_INDEX_DIR),
        }
    }
}

/// The index directory with PostgreSQL when `[search] dir` is not set.
pub const DEFAULT_POSTGRES_INDEX_DIR: &str = "./erpbridge-data/search";

/// `[search]`: the full-text catalog index (on local disk, one directory per tenant).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Directory of the search indexes; created when missing. Default: `search` next to
    /// the SQLite file, or `./erpbridge-data/search` with PostgreSQL. The index is local
    /// to a hub: hubs sharing one PostgreSQL database each keep their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

impl SearchConfig {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.dir.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
            issues.add(at.key("dir"), "must not be empty");
        }
    }
}

/// `[server]`: the HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port the API listens on. Default `127.0.0.1:8080`.
    #[schemars(with = "SocketAddrSchema")]
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger gets 413. Default 2 MiB.
    #[schemars(range(min = 1024))]
    pub body_limit: u64,
    /// A request that takes longer is answered 503 and its work cancelled. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "DurationSchema")]
    pub request_timeout: Duration,
    /// Bearer key of the operator API (`/api/erp/...`). Absent: the operator API is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_key: Option<Secret>,
    /// Where on-premise connectors dial in (gRPC tunnel), e.g. `0.0.0.0:7443`. Needed
    /// when a tenant's provider is `type = "connector"`. Absent: no tunnel endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SocketAddrSchema>")]
    pub connector_listen: Option<SocketAddr>,
    /// TLS of the tunnel endpoint. Required unless `connector_listen` is a loopback
    /// address: connector tokens and ERP data cross that connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_tls: Option<ConnectorTls>,
}

/// `[server.connector_tls]`: the tunnel endpoint's certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorTls {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            operator_key: None,
            connector_listen: None,
            connector_tls: None,
        }
    }
}

impl ServerConfig {
    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        if self.request_timeout.is_zero() {
            issues.add(at.key("request_timeout"), "must be longer than 0s");
        }
        if let Some(listen) = self.connector_listen
            && !listen.ip().is_loopback()
            && self.connector_tls.is_none()
        {
            issues.add(
                at.key("connector_listen"),
                "a tunnel endpoint off loopback needs [server.connector_tls] (tokens and ERP data cross it)",
            );
        }
    }
}

/// `[store]`: SQLite (embedded, the default) or PostgreSQL (scale-out), chosen by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// One SQLite file; nothing to install or start.
    Sqlite {
        /// The database file; its directory is created. Default
        /// `./erpbridge-data/erpbridge.sqlite`.
        #[serde(default = "default_sqlite_path")]
        path: PathBuf,
        /// Connections in the pool (one writer at a time regardless). Default 8.
        #[serde(default = "default_sqlite_pool")]
        #[schemars(range(min = 1))]
        pool_size: u32,
    },
    /// A PostgreSQL database; many hubs can share it.
    Postgres {
        /// Connection URL, e.g. `postgres://erpbridge:${PGPASSWORD}@db:5432/erpbridge`.
        url: Secret,
        /// Connections in the pool. Default 16.
        #[serde(default = "default_postgres_pool")]
        #[schemars(range(min = 1))]
        pool_size: u32,
    },
}

fn default_sqlite_path() -> PathBuf {
    PathBuf::from("./erpbridge-data/erpbridge.sqlite")
}
fn default_sqlite_pool() -> u32 {
    // Readers (API, outbox claims) share these; writers queue per file anyway.
    8
}
fn default_postgres_pool() -> u32 {
    16
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sqlite {
            path: default_sqlite_path(),
            pool_size: default_sqlite_pool(),
        }
    }
}

impl StoreConfig {
    pub fn pool_size(&self) -> u32 {
        match self {
            StoreConfig::Sqlite { pool_size, .. } | StoreConfig::Postgres { pool_size, .. } => {
                *pool_size
            }
        }
    }

    fn validate(&self, at: &KeyPath, issues: &mut Issues) {
        match self {
            StoreConfig::Sqlite { path, .. } => {
                if path.as_os_str().is_empty() {
                    issues.add(at.key("path"), "must not be empty");
                }
            }
            StoreConfig::Postgres { url, .. } => {
                let u = url.expose();
                if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                    issues.add(
                        at.key("url"),
                        "must be a URL starting with postgres:// or postgresql://",
                    );
                }
            }
        }
    }
}
