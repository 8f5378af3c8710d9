//! What can go wrong talking to Tryton, and which SDK error kind each case is.
//!
//! The kind decides what the hub does next, so the mapping is the contract of this
//! module: a wrong password or a Tryton `UserError` must never be retried (retrying a
//! login storms the server into HTTP 429), while a lock conflict or a restarting server
//! must be.

use erpbridge_provider::{ErrorKind, ProviderError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TrytonError {
    #[error("cannot reach Tryton at {url}: {message}")]
    Transport { url: String, message: String },

    #[error("Tryton did not answer {method} within {timeout:?}")]
    Timeout { method: String, timeout: Duration },

    #[error("Tryton answered HTTP {status} to {method}{}", hint(*status))]
    Http {
        status: u16,
        method: String,
        retry_after: Option<Duration>,
    },

    #[error(
        "Tryton refused the login of user `{user}` on database `{database}`: wrong user or password"
    )]
    LoginRefused { user: String, database: String },

    /// The login was refused a moment ago: not asking Tryton again yet.
    #[error(
        "Tryton refused the login of user `{user}` on database `{database}`: wrong user or password (login circuit open: no new login attempt for {retry_in_s} s)"
    )]
    LoginCircuitOpen {
        user: String,
        database: String,
        retry_in_s: u64,
    },

    #[error("Tryton rejected {method}: {message}")]
    User { method: String, message: String },

    #[error(
        "Tryton does not know `{name}` (an unknown model or field, or a module that is not activated) in {method}"
    )]
    UnknownName { method: String, name: String },

    #[error("Tryton reports a concurrent modification in {method}: {message}")]
    Concurrency { method: String, message: String },

    #[error("Tryton failed {method} with {exception}: {message}")]
    Server {
        method: String,
        exception: String,
        message: String,
        transient: bool,
    },

    #[error("unexpected answer from Tryton to {method}: {detail}")]
    Protocol { method: String, detail: String },

    #[error("{0}")]
    NotFound(String),

    #[error("invalid request: {0}")]
    Invalid(String),

    #[error("invalid Tryton configuration: {0}")]
    Config(String),
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => " (session refused)",
        403 => " (method not exposed over RPC)",
        404 => " (unknown database)",
        422 => " (missing context argument)",
        429 => " (too many requests or failed logins)",
        500..=599 => " (server error)",
        _ => "",
    }
}

impl TrytonError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TrytonError::Transport { .. } | TrytonError::Timeout { .. } => ErrorKind::Transient,
            TrytonError::Http { status, .. } => match status {
                408 | 429 | 500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Fatal,
            },
            TrytonError::Concurrency { .. } => ErrorKind::Transient,
            TrytonError::Server { transient, .. } => {
                if *transient {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Fatal
                }
            }
            TrytonError::NotFound(_) => ErrorKind::NotFound,
            TrytonError::LoginRefused { .. }
            | TrytonError::LoginCircuitOpen { .. }
            | TrytonError::User { .. }
            | TrytonError::UnknownName { .. }
            | TrytonError::Protocol { .. }
            | TrytonError::Invalid(_)
            | TrytonError::Config(_) => ErrorKind::Fatal,
        }
    }

    pub(crate) fn protocol(method: &str, detail: impl Into<String>) -> Self {
        TrytonError::Protocol {
            method: method.to_owned(),
            detail: detail.into(),
        }
    }
}

impl From<TrytonError> for ProviderError {
    fn from(err: TrytonError) -> Self {
        let retry_after = match &err {
            TrytonError::Http { retry_after, .. } => *retry_after,
            _ => None,
        };
        let mut out = ProviderError::new(err.kind(), err.to_string());
        if let Some(after) = retry_after {
            out = out.with_retry_after(after);
        }
        out
    }
}

pub type Result<T, E = TrytonError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_retry_contract() {
        let http = |status| TrytonError::Http {
            status,
            method: "m".into(),
            retry_after: None,
        };
        assert_eq!(http(429).kind(), ErrorKind::Transient);
        assert_eq!(http(503).kind(), ErrorKind::Transient);
        assert_eq!(http(403).kind(), ErrorKind::Fatal);
        assert_eq!(http(404).kind(), ErrorKind::Fatal);
        let login = TrytonError::LoginRefused {
            user: "admin".into(),
            database: "erp".into(),
        };
        assert_eq!(login.kind(), ErrorKind::Fatal);
        assert!(login.to_string().contains("wrong user or password"));
        let unknown = TrytonError::UnknownName {
            method: "model.no.such.search".into(),
            name: "no.such".into(),
        };
        let provider: ProviderError = unknown.into();
        assert_eq!(provider.kind, ErrorKind::Fatal);
        assert!(provider.message.contains("`no.such`"));
    }
}
