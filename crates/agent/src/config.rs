//! The agent's configuration: its own TOML file, separate from the hub's, because
//! the agent runs beside services that have no hub config (a connector) and must keep
//! working when the service's config is broken by a bad release.
//!
//! Unknown keys are errors; every error names the key path (`safe_window.max_wait`)
//! and, for syntax, the line. `erpbridge agent schema` prints the JSON Schema.
//!
//! ```toml
//! state_dir = "/var/lib/erpbridge-agent"   # journal, state, backups, staging, audit log
//!
//! [feed]
//! location = "https://releases.example/erpbridge"   # or a directory
//! channel = "stable"
//! public_key = "/etc/erpbridge/release.pub"
//! poll_interval = "5m"
//! jitter = "30s"
//!
//! [service]
//! mode = "process"                    # or "systemd" (then: unit = "erpbridge.service")
//! binary = "/opt/erpbridge/bin/erpbridge"
//! args = ["serve", "--config", "/etc/erpbridge/hub.toml"]
//! base_url = "http://127.0.0.1:8080"
//!
//! [safe_window]
//! max_wait = "10m"
//! maintenance = ["01:00-05:00"]       # UTC; empty = any time
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Directory the agent owns: journal, state, staging, backups, audit log.
    pub state_dir: PathBuf,
    pub feed: FeedConfig,
    pub service: ServiceConfig,
    #[serde(default)]
    pub safe_window: SafeWindowConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub status: StatusConfig,
    /// Audit log (JSON lines); default `<state_dir>/audit.jsonl`.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Directory or http(s) URL of the feed root.
    pub location: String,
    #[serde(default = "default_channel")]
    pub channel: String,
    /// The pinned release public key (`release.pub`).
    pub public_key: PathBuf,
    #[serde(default = "default_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
    /// Up to this much random delay is added to every poll, so a fleet does not hit
    /// the feed in lockstep. Default: a tenth of `poll_interval`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub jitter: Option<Duration>,
    /// Timeout of one feed request.
    #[serde(default = "default_feed_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// After a release is rejected (bad signature, digest), it is not looked at again
    /// for this long, so a tampered feed does not flood the audit log.
    #[serde(default = "default_reject_backoff", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub reject_backoff: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMode {
    /// The agent starts the service as its child and restarts it if it exits.
    Process,
    /// The service is a systemd unit; the agent uses `systemctl stop/start`.
    Systemd,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub mode: ServiceMode,
    /// The installed binary the agent replaces.
    pub binary: PathBuf,
    /// Arguments (process mode).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (process mode).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (process mode); default: the state directory.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// The systemd unit (systemd mode).
    #[serde(default)]
    pub unit: Option<String>,
    /// Where the service's HTTP API listens, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// File with the operator bearer token for the drain switch and status.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// How long a stop may take before the process is killed (process mode).
    #[serde(default = "default_stop_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub stop_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafeWindowConfig {
    /// `POST` here asks the service to stop claiming new work.
    #[serde(default = "default_drain_path")]
    pub drain_path: String,
    /// `undrain_method` here lets it claim work again (used when the wait is
    /// abandoned). The hub's switch is `POST`/`DELETE /api/erp/drain`.
    #[serde(default = "default_drain_path")]
    pub undrain_path: String,
    #[serde(default)]
    pub undrain_method: UndrainMethod,
    #[serde(default = "default_status_path")]
    pub status_path: String,
    /// JSON pointer to the in-flight count in the status document.
    #[serde(default = "default_in_flight_pointer")]
    pub in_flight_pointer: String,
    /// Longest wait for in-flight work to reach 0; then undrain and try later.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max_wait: Duration,
    #[serde(default = "default_status_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll: Duration,
    /// After an abandoned wait, the next attempt is this much later.
    #[serde(default = "default_retry_after", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub retry_after: Duration,
    /// Timeout of one drain or undrain request. Longer than the other probes: the
    /// switch is a store write, and the hub on SQLite can wait up to its 30 s busy
    /// timeout behind a catalog sync's transactions before answering.
    #[serde(default = "default_switch_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub switch_timeout: Duration,
    /// Windows (`HH:MM-HH:MM`, UTC, may wrap midnight) in which updates may start.
    /// Empty: any time.
    #[serde(default)]
    pub maintenance: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum UndrainMethod {
    #[default]
    Delete,
    Post,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    #[serde(default = "default_healthz")]
    pub healthz_path: String,
    #[serde(default = "default_version_path")]
    pub version_path: String,
    /// Time for a started service to answer `/healthz` and report the expected version.
    #[serde(default = "default_health_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    #[serde(default = "default_health_interval", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub interval: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Backups of replaced binaries kept (at least 1: rollback needs it).
    #[serde(default = "default_keep")]
    pub keep: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Loopback address of the status endpoint (`GET /status`); none: no endpoint.
    #[serde(default = "default_status_listen")]
    #[schemars(with = "Option<String>")]
    pub listen: Option<SocketAddr>,
}

fn default_channel() -> String {
    "stable".into()
}
fn default_poll() -> Duration {
    Duration::from_secs(300)
}
fn default_feed_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_reject_backoff() -> Duration {
    Duration::from_secs(3600)
}
fn default_stop_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_drain_path() -> String {
    "/api/erp/drain".into()
}
fn default_status_path() -> String {
    "/api/erp/status".into()
}
fn default_in_flight_pointer() -> String {
    "/in_progress_count".into()
}
fn default_max_wait() -> Duration {
    Duration::from_secs(600)
}
fn default_status_poll() -> Duration {
    Duration::from_millis(500)
}
fn default_retry_after() -> Duration {
    Duration::from_secs(300)
}
fn default_switch_timeout() -> Duration {
    Duration::from_secs(35)
}
fn default_healthz() -> String {
    "/healthz".into()
}
fn default_version_path() -> String {
    "/version".into()
}
fn default_health_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_health_interval() -> Duration {
    Duration::from_millis(100)
}
fn default_keep() -> usize {
    3
}
fn default_status_listen() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 9181)))
}

impl Default for SafeWindowConfig {
    fn default() -> Self {
        Self {
            drain_path: default_drain_path(),
            undrain_path: default_drain_path(),
            undrain_method: UndrainMethod::default(),
            status_path: default_status_path(),
            in_flight_pointer: default_in_flight_pointer(),
            max_wait: default_max_wait(),
            poll: default_status_poll(),
            retry_after: default_retry_after(),
            switch_timeout: default_switch_timeout(),
            maintenance: Vec::new(),
        }
    }
}
impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            healthz_path: default_healthz(),
            version_path: default_version_path(),
            timeout: default_health_timeout(),
            interval: default_health_interval(),
        }
    }
}
impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            keep: default_keep(),
        }
    }
}
impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            listen: default_status_listen(),
        }
    }
}

/// A maintenance window in minutes after midnight UTC, `start..end` (wrapping when
/// `end <= start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

impl Window {
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let hm = |s: &str| -> std::result::Result<u32, String> {
            let (h, m) = s
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("{s:?} is not HH:MM"))?;
            let h: u32 = h.parse().map_err(|_| format!("{s:?} is not HH:MM"))?;
            let m: u32 = m.parse().map_err(|_| format!("{s:?} is not HH:MM"))?;
            if h > 23 || m > 59 {
                return Err(format!("{s:?} is not a time of day"));
            }
            Ok(h * 60 + m)
        };
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not HH:MM-HH:MM"))?;
        Ok(Window {
            start: hm(a)?,
            end: hm(b)?,
        })
    }

    pub fn contains(&self, minute_of_day: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

impl AgentConfig {
    /// Reads and validates `path`. Relative paths in the file are taken relative to
    /// the file's directory, so a config and its key can travel together.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut cfg = Self::parse(&text).map_err(|reason| Error::Config {
            path: path.to_owned(),
            reason,
        })?;
        if let Some(base) = path.parent() {
            cfg.resolve_relative(base);
        }
        Ok(cfg)
    }

    /// Parses and validates TOML text; the error names the key path.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| e.to_string())?;
        let cfg: AgentConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." {
                inner
            } else {
                format!("key `{path}`: {}", inner.trim())
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.feed.poll_interval.is_zero() {
            return Err("key `feed.poll_interval`: must be more than 0".into());
        }
        if self.feed.channel.is_empty() {
            return Err("key `feed.channel`: must not be empty".into());
        }
        if self.service.mode == ServiceMode::Systemd && self.service.unit.is_none() {
            return Err("key `service.unit`: required when service.mode = \"systemd\"".into());
        }
        if !self.service.base_url.starts_with("http://")
            && !self.service.base_url.starts_with("https://")
        {
            return Err(format!(
                "key `service.base_url`: {:?} is not an http(s) URL",
                self.service.base_url
            ));
        }
        if self.backup.keep == 0 {
            return Err("key `backup.keep`: must be at least 1 (rollback needs a backup)".into());
        }
        if let Some(addr) = self.status.listen
            && !addr.ip().is_loopback()
        {
            return Err(format!(
                "key `status.listen`: {addr} is not a loopback address"
            ));
        }
        for (i, w) in self.safe_window.maintenance.iter().enumerate() {
            Window::parse(w).map_err(|e| format!("key `safe_window.maintenance[{i}]`: {e}"))?;
        }
        if !self.safe_window.in_flight_pointer.starts_with('/') {
            return Err(
                "key `safe_window.in_flight_pointer`: a JSON pointer starts with '/'".into(),
            );
        }
        Ok(())
    }

    fn resolve_relative(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.state_dir);
        fix(&mut self.feed.public_key);
        fix(&mut self.service.binary);
        if let Some(p) = &mut self.service.token_file {
            fix(p);
        }
        if let Some(p) = &mut self.service.workdir {
            fix(p);
        }
        if let Some(p) = &mut self.audit_log {
            fix(p);
        }
        let loc = &self.feed.location;
        if !loc.starts_with("http://") && !loc.starts_with("https://") {
            let p = Path::new(loc);
            if p.is_relative() {
                self.feed.location = base.join(p).to_string_lossy().into_owned();
            }
        }
    }

    pub fn windows(&self) -> Vec<Window> {
        self.safe_window
            .maintenance
            .iter()
            .filter_map(|w| Window::parse(w).ok())
            .collect()
    }

    pub fn jitter(&self) -> Duration {
        self.feed.jitter.unwrap_or(self.feed.poll_interval / 10)
    }

    pub fn audit_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| self.state_dir.join("audit.jsonl"))
    }
}

/// The JSON Schema of the agent configuration.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(AgentConfig)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
state_dir = "/tmp/a"
[feed]
location = "/tmp/feed"
public_key = "k.pub"
[service]
mode = "process"
binary = "/tmp/bin"
base_url = "http://127.0.0.1:1"
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = AgentConfig::parse(MIN).unwrap();
        assert_eq!(c.feed.channel, "stable");
        assert_eq!(c.safe_window.in_flight_pointer, "/in_progress_count");
        assert_eq!(c.jitter(), Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_key() {
        let e = AgentConfig::parse(&format!("{MIN}\n[health]\ntimeout = \"soon\"\n")).unwrap_err();
        assert!(e.contains("health.timeout"), "{e}");
        let e = AgentConfig::parse(&format!("{MIN}\n[backup]\nkeep = 3\nkep = 1\n")).unwrap_err();
        assert!(e.contains("kep"), "{e}");
        let e = AgentConfig::parse(&MIN.replace("process", "systemd")).unwrap_err();
        assert!(e.contains("service.unit"), "{e}");
        let e = AgentConfig::parse(&format!(
            "{MIN}\n[safe_window]\nmaintenance = [\"01:00-05:00\", \"25:00-01:00\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("safe_window.maintenance[1]"), "{e}");
        let e =
            AgentConfig::parse(&format!("{MIN}\n[status]\nlisten = \"0.0.0.0:9\"\n")).unwrap_err();
        assert!(e.contains("status.listen"), "{e}");
    }

    #[test]
    fn example_config_is_valid() {
        let c = AgentConfig::parse(include_str!("../agent.example.toml")).unwrap();
        assert_eq!(c.safe_window.undrain_method, UndrainMethod::Delete);
        assert_eq!(
            c.windows(),
            vec![Window {
                start: 60,
                end: 300
            }]
        );
    }

    #[test]
    fn windows_wrap_midnight() {
        let w = Window::parse("22:00-02:00").unwrap();
        assert!(w.contains(23 * 60));
        assert!(w.contains(60));
        assert!(!w.contains(12 * 60));
        let d = Window::parse("01:00-05:00").unwrap();
        assert!(d.contains(60) && !d.contains(5 * 60));
    }

    #[test]
    fn schema_lists_sections() {
        let s = schema().to_string();
        assert!(s.contains("safe_window") && s.contains("poll_interval"));
    }
}
