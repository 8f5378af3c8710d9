//! Configuration reload without a restart (`POST /api/erp/config/reload`; SIGHUP in
//! `erpbridge serve`).
//!
//! The hub does not read configuration files: the binary installs a
//! [`ConfigReloader`] that re-reads its file, applies what can change while requests
//! run (API keys through [`crate::AppState::replace_keys`], connector tokens and
//! configuration versions in the tunnel), and names every other change as needing a
//! restart. A file that does not load changes nothing: the hub keeps serving the
//! configuration it has, and the answer lists each error with its key path and line.

use serde::Serialize;

use crate::state::AppState;

/// Re-reads the configuration and applies it to a running hub.
pub trait ConfigReloader: Send + Sync + 'static {
    /// Blocking (reads a file): the HTTP handler calls it on a blocking thread. Reloads
    /// are serialised by the implementation.
    fn reload(&self, state: &AppState) -> Result<ReloadReport, ReloadError>;
}

/// What a reload did. Values are never echoed (they may be keys or tokens), only key
/// paths.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// The configuration file that was read.
    pub file: String,
    /// Key paths whose new values now apply.
    pub applied: Vec<String>,
    /// Key paths that changed but apply only after a restart (the hub keeps running
    /// with their old values).
    pub restart_required: Vec<String>,
    /// Tenants whose connector session was closed because its token was revoked.
    pub connectors_disconnected: Vec<String>,
    /// One line for people: what was applied, and "restart required for: ..." if so.
    pub message: String,
}

/// One problem in the configuration file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConfigIssue {
    /// Key path, e.g. `tenants[0].provider.tokens[1]`.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    /// The file does not load; nothing changed.
    #[error("{file}: the configuration is invalid ({} problem(s)); nothing was changed", errors.len())]
    Invalid {
        file: String,
        errors: Vec<ConfigIssue>,
    },
    /// The file loads but cannot be applied as a whole (e.g. one API key given to two
    /// tenants); nothing changed.
    #[error("{0}; nothing was changed")]
    Rejected(String),
}

/// Runs the installed reloader (blocking: call it off the async workers) and counts the
/// outcome in `erp_config_reloads_total{status}`. `None` when the hub has no reloader
/// (it runs without a configuration file). The HTTP route and SIGHUP both come here.
pub fn reload(state: &AppState) -> Option<Result<ReloadReport, ReloadError>> {
    let reloader = state.reloader()?;
    let result = reloader.reload(state);
    let status = match &result {
        Ok(_) => "applied",
        Err(ReloadError::Invalid { .. }) => "invalid",
        Err(ReloadError::Rejected(_)) => "rejected",
    };
    state
        .metrics()
        .config_reloads
        .get_or_create(&crate::metrics::StatusLabels {
            status: status.to_owned(),
        })
        .inc();
    Some(result)
}
