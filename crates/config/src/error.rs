//! The errors of loading a configuration. Every problem is one [`ConfigError`] with the
//! key path it concerns and, when the source is a file, the line and column; a failed
//! load returns all of them together as [`ConfigErrors`].

use crate::path::KeyPath;
use std::fmt;

/// Where in the source text a problem is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The line and column of a byte offset in `source`. Columns count characters, as
    /// editors do, not bytes.
    pub fn of_offset(source: &str, offset: usize) -> Self {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before
            .get(line_start..)
            .map_or(1, |l| l.chars().count() + 1);
        Self { line, column }
    }
}

/// What is wrong. The variants are what tests and tools match on; `Display` is the text
/// a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file is not TOML at all; nothing else can be checked.
    #[error("TOML syntax error: {0}")]
    Syntax(String),
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("expected {expected}, found {found}")]
    Type { expected: String, found: String },
    #[error("unknown key `{key}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("missing required key `{key}`")]
    MissingKey { key: String },
    #[error("environment variable {name} is not set")]
    MissingEnv { name: String },
    #[error("unterminated `${{` (write `$${{` for a literal `${{`)")]
    BadSubstitution,
    /// A value of the right type that is not acceptable (out of range, malformed,
    /// contradicting another setting).
    #[error("{0}")]
    Invalid(String),
}

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given to the loader (`erpbridge.toml`), or a label such as
    /// `<embedded default>`.
    pub origin: String,
    /// The key the problem concerns; the root for file-level problems.
    pub path: KeyPath,
    /// Line and column in the source, when it has one.
    pub position: Option<Position>,
    pub kind: ErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if self.path.is_root() {
            write!(f, ": {}", self.kind)
        } else {
            write!(f, ": {}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one configuration, in source order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    pub(crate) fn new(mut errors: Vec<ConfigError>) -> Self {
        // Source order reads best; errors without a position (rare) go last.
        errors.sort_by_key(|e| {
            e.position
                .map_or((usize::MAX, usize::MAX), |p| (p.line, p.column))
        });
        errors.dedup();
        Self(errors)
    }

    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
