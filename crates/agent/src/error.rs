//! The crate's error type. Variants say which step failed, so the audit log and the
//! status endpoint can name it without string matching.

use std::path::PathBuf;

/// Everything that can go wrong in publishing or in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("feed: {0}")]
    Feed(String),
    /// The release failed verification (signature, digest, size, binding). Such a
    /// release is never installed.
    #[error("release {version} rejected: {reason}")]
    Rejected { version: String, reason: String },
    #[error("publish: {0}")]
    Publish(String),
    #[error("service: {0}")]
    Service(String),
    #[error("invalid version {text:?}: {source}")]
    Version {
        text: String,
        #[source]
        source: semver::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses a semantic version, naming the text on failure.
pub fn parse_version(text: &str) -> Result<semver::Version> {
    semver::Version::parse(text).map_err(|source| Error::Version {
        text: text.to_owned(),
        source,
    })
}
