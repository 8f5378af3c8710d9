//! What the agent remembers across restarts: the installed version and the versions
//! that failed (never retried), plus the journal of an update in progress.
//!
//! # The journal and why it makes crashes safe
//!
//! Before each step of a swap the agent writes `journal.json` (atomically) with the
//! phase it is entering. The binary is only ever changed by an atomic rename of a
//! complete, fsynced file, and the backup is a *copy*: so at every instant the
//! installed path holds a complete runnable binary, either the old or the new one,
//! and the journal says which:
//!
//! | phase when the agent died | installed binary | recovery |
//! |---|---|---|
//! | `prepared`, `backed_up`, `stopped` | old | drop the journal, start the old one, retry the update later |
//! | `replaced`, `started` | new | start it and health-check it: commit, or roll back from the backup |
//! | `rolling_back` | old or new | restore the backup again (idempotent), start, mark the new version bad |

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

pub const STATE_FILE: &str = "state.json";
pub const JOURNAL_FILE: &str = "journal.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub current_version: Option<String>,
    #[serde(default)]
    pub bad_versions: Vec<String>,
}

impl State {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Config {
                path,
                reason: format!("agent state does not parse: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        fsutil::atomic_write(&dir.join(STATE_FILE), &bytes)
    }

    pub fn is_bad(&self, version: &str) -> bool {
        self.bad_versions.iter().any(|v| v == version)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Prepared,
    BackedUp,
    Stopped,
    Replaced,
    Started,
    RollingBack,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub phase: Phase,
    pub from: String,
    pub to: String,
    /// The verified new binary, in the staging directory.
    pub staged: PathBuf,
    /// Copy of the old binary (set from `backed_up` on).
    pub backup: Option<PathBuf>,
    pub started_at: DateTime<Utc>,
}

impl Journal {
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(JOURNAL_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Config {
                    path,
                    reason: format!("update journal does not parse: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        fsutil::atomic_write(&dir.join(JOURNAL_FILE), &bytes)
    }

    pub fn clear(dir: &Path) -> Result<()> {
        let path = dir.join(JOURNAL_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => fsutil::fsync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}
