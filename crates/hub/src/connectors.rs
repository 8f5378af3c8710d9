//! On-premise connectors as the operator sees them (`GET /api/erp/connectors`,
//! `erp_connector_*` in `/metrics`).
//!
//! The hub does not own the tunnel (that is `erpbridge-tunnel`, wired in by the binary);
//! it only reads a [`ConnectorDirectory`], so this crate stays free of gRPC.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One connector tenant's state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectorView {
    pub tenant: String,
    /// `online` or `offline`.
    pub status: String,
    /// The installation's name (absent: no connector registered since the hub started).
    pub connector_id: Option<String>,
    pub version: Option<String>,
    /// The connector's address as the hub saw it.
    pub address: Option<String>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    /// Why it went offline last.
    pub last_error: Option<String>,
    /// Calls sent through the tunnel and not answered yet.
    pub calls_in_flight: u64,
    /// Sessions accepted since the hub started (1 + reconnects).
    pub sessions: u64,
}

impl ConnectorView {
    pub fn is_online(&self) -> bool {
        self.status == "online"
    }
}

/// Where the hub reads connector state from.
pub trait ConnectorDirectory: Send + Sync + 'static {
    /// Every connector tenant, by tenant id.
    fn connectors(&self) -> Vec<ConnectorView>;
}
