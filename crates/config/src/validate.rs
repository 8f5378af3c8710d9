//! Semantic validation: the rules a JSON Schema cannot express (duplicate tenant ids,
//! `interval` and `cron` both set, TTLs out of range...). Each rule reports against a
//! key path; the loader turns paths into lines.

use crate::path::KeyPath;

/// Problems found by semantic validation, each with the key path it concerns.
#[derive(Debug, Default)]
pub struct Issues {
    list: Vec<(KeyPath, String)>,
}

impl Issues {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the value at `path` is unacceptable, and why.
    pub fn add(&mut self, path: KeyPath, message: impl Into<String>) {
        self.list.push((path, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(KeyPath, String)> {
        self.list.iter()
    }

    pub(crate) fn into_vec(self) -> Vec<(KeyPath, String)> {
        self.list
    }
}
