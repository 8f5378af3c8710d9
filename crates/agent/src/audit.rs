//! The audit log: one JSON object per line, appended and fsynced per record, so the
//! story of an update survives the agent's own crash.
//!
//! Every record has `ts` (RFC 3339, UTC), `event` (check, download, verify, reject,
//! drain, undrain, stop, backup, replace, start, health, commit, rollback, recover,
//! service-exit, agent-stop) and `ok`; most also carry `from`/`to` versions, `duration_ms` and a
//! human `detail`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub ts: DateTime<Utc>,
    pub event: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Record {
    pub fn new(event: &str, ok: bool) -> Self {
        Self {
            ts: Utc::now(),
            event: event.to_owned(),
            ok,
            from: None,
            to: None,
            duration_ms: None,
            detail: None,
        }
    }
    pub fn versions(mut self, from: Option<&str>, to: Option<&str>) -> Self {
        self.from = from.map(str::to_owned);
        self.to = to.map(str::to_owned);
        self
    }
    pub fn took(mut self, d: Duration) -> Self {
        self.duration_ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            crate::fsutil::ensure_dir(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends a record. An audit write failure is logged, not raised: losing the
    /// audit line must not abort a half-done swap and leave the service down.
    pub fn write(&self, record: Record) {
        tracing::info!(
            event = %record.event,
            ok = record.ok,
            from = record.from.as_deref().unwrap_or(""),
            to = record.to.as_deref().unwrap_or(""),
            duration_ms = record.duration_ms.unwrap_or(0),
            detail = record.detail.as_deref().unwrap_or(""),
            "audit"
        );
        let Ok(mut line) = serde_json::to_vec(&record) else {
            return;
        };
        line.push(b'\n');
        let mut f = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = f.write_all(&line).and_then(|()| f.sync_data()) {
            tracing::error!(path = %self.path.display(), error = %e, "audit log write failed");
        }
    }

    /// Reads every record of an audit file (for tests, benches and the CLI).
    pub fn read_all(path: &Path) -> Result<Vec<Record>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}
