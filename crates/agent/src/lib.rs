//! Safe, automatic upgrades of an erpbridge service, and the publishing side that
//! feeds them.
//!
//! # Publishing
//!
//! [`publish::publish`] copies a binary into a feed directory ([`feed`] describes the
//! layout) beside a manifest (version, channel, sha256, size, created, minimum agent
//! version, notes) signed with an ed25519 key ([`keys`] describes the key files,
//! [`manifest`] exactly which bytes are signed). A feed is plain files: a share, or
//! any static HTTP server.
//!
//! # The agent
//!
//! [`agent::Agent`] runs beside the managed service. Each poll (interval plus random
//! jitter) it reads the channel's index and picks the highest version above the
//! installed one that is neither marked bad nor recently rejected. Then, in this
//! order, and stopping at the first failure:
//!
//! 1. **verify**, before touching anything: manifest signature against the pinned
//!    public key, manifest bound to the listed version and channel, agent new enough,
//!    artifact downloaded into staging with its sha256 and size equal to the manifest's.
//!    A failure is audited and the release left alone for `feed.reject_backoff`.
//! 2. **prepare**: back up the installed binary (a copy; keep N), stage the new one
//!    beside it (temp file, fsync) and a ready copy of the old one
//!    (`<binary>.rollback`), while the service runs undisturbed; journalled.
//! 3. **safe window**: inside a maintenance window (if any are configured), POST the
//!    service's drain switch (asking again while a busy service refuses it) and poll
//!    `/api/erp/status` until the in-flight count is 0; after `safe_window.max_wait`
//!    undrain, drop the staged file and try again `retry_after` later. A drained hub
//!    refuses new orders, so nothing slow happens inside this window.
//! 4. **swap**: stop, rename over the old binary, fsync the directory, start. Only
//!    stop, rename and start (and the health check) are downtime.
//! 5. **health**: `/healthz` ok and `/version` equal to the new version within
//!    `health.timeout`; then commit. Otherwise **roll back**: mark the version bad (it is
//!    never retried), restore the old binary (a rename of the ready copy, or a copy of
//!    the backup if it is missing), start, check the old version is healthy.
//!
//! Every step is journalled on disk first ([`state`]); a restarted agent completes or
//! rolls back what it finds, and because the binary is only ever replaced by an
//! atomic rename and the backup is a copy, a complete runnable binary is always
//! installed. Every step writes a JSON line to the [`audit`] log. A loopback
//! [`status`] endpoint shows the current version, last check and result, and any
//! pending release.
//!
//! The service is controlled in one of two modes ([`service`]): `process` (the agent
//! runs it as its child and restarts it if it dies) or `systemd` (`systemctl`).

pub mod agent;
pub mod audit;
pub mod config;
pub mod error;
pub mod feed;
pub mod fsutil;
pub mod keys;
pub mod manifest;
pub mod publish;
pub mod service;
pub mod state;
pub mod status;

pub use agent::{AGENT_VERSION, Agent, Outcome, Status, TEST_KILL_AT_ENV};
pub use config::AgentConfig;
pub use error::{Error, Result};

/// Loads `config` and runs the agent until the process is stopped.
pub async fn run(config: &std::path::Path) -> Result<()> {
    let cfg = AgentConfig::load(config)?;
    Agent::new(cfg)?.run().await
}
