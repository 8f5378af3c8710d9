//! Which tenants are served by connectors, which connector is online for each, and
//! what it last reported.
//!
//! The set of connector tenants is fixed when the hub starts (from its config); the
//! sessions come and go. A tenant has at most one session: a connector that registers
//! again (after a network cut the hub has not noticed yet, or a second installation)
//! replaces the old session, whose pending calls fail `unavailable` and are retried by
//! their callers on the new one.
//!
//! A tenant's tokens and configuration version change at run time (the hub's config
//! reload): [`ConnectorRegistry::set_tokens`] closes a session whose token is no longer
//! listed, at once, so revoking a token never waits for the connector to reconnect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

use super::session::Session;
use crate::auth::{TokenDigest, matches};
use crate::proto as pb;

/// How the hub treats one connector tenant.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// SHA-256 digests of the tokens accepted for this tenant. Revoking a token is
    /// removing its digest and reloading the hub ([`ConnectorRegistry::set_tokens`]).
    pub tokens: Vec<TokenDigest>,
    /// How often the connector must send a heartbeat. Default 30 s.
    pub heartbeat_interval: Duration,
    /// Heartbeats missed in a row before the connector counts as offline. Default 3.
    pub missed_heartbeats: u32,
    /// Deadline of one call through the tunnel (and of waiting for one catalog page).
    pub deadline: Duration,
    /// Catalog pages a stream may have in flight (credit). Default 4.
    pub stream_credit: u32,
    /// The tenant's configuration version; a change tells the connector to reload.
    pub config_version: String,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            heartbeat_interval: Duration::from_secs(30),
            missed_heartbeats: 3,
            deadline: Duration::from_secs(30),
            stream_credit: 4,
            config_version: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorStatus {
    Online,
    Offline,
}

/// What operators see about a tenant's connector (`GET /api/erp/connectors`).
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorInfo {
    pub tenant: String,
    pub status: ConnectorStatus,
    /// The last connector that registered (absent: none ever did since start).
    pub connector_id: Option<String>,
    pub version: Option<String>,
    /// The connector's address as the hub saw it.
    pub address: Option<String>,
    pub session_id: Option<String>,
    pub capabilities: Vec<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
    /// Why it went offline last.
    pub last_error: Option<String>,
    pub calls_in_flight: u64,
    /// Sessions accepted since the hub started (1 + reconnects).
    pub sessions: u64,
    pub metrics: Option<ConnectorMetrics>,
}

/// The connector's own counters from its last heartbeat.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectorMetrics {
    pub calls_total: u64,
    pub calls_failed: u64,
    pub calls_in_flight: u32,
    pub uptime_seconds: u64,
    pub sessions: u64,
}

impl From<pb::ConnectorMetrics> for ConnectorMetrics {
    fn from(m: pb::ConnectorMetrics) -> Self {
        Self {
            calls_total: m.calls_total,
            calls_failed: m.calls_failed,
            calls_in_flight: m.calls_in_flight,
            uptime_seconds: m.uptime_seconds,
            sessions: m.sessions,
        }
    }
}

struct Slot {
    /// As configured at start; `tokens` and `config_version` live in the state.
    settings: ConnectorSettings,
    state: Mutex<SlotState>,
}

struct SlotState {
    tokens: Vec<TokenDigest>,
    config_version: String,
    session: Option<Arc<Session>>,
    info: ConnectorInfo,
    last_heartbeat: Option<tokio::time::Instant>,
    /// Sessions accepted since start, for the gauge of reconnects.
    sessions: u64,
}

/// The connector tenants of one hub. Cheap to clone.
#[derive(Clone, Default)]
pub struct ConnectorRegistry {
    slots: Arc<BTreeMap<String, Slot>>,
}

impl std::fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRegistry")
            .field("tenants", &self.slots.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConnectorRegistry {
    pub fn new(tenants: impl IntoIterator<Item = (String, ConnectorSettings)>) -> Self {
        let slots = tenants
            .into_iter()
            .map(|(tenant, settings)| {
                let state = SlotState {
                    tokens: settings.tokens.clone(),
                    config_version: settings.config_version.clone(),
                    session: None,
                    info: ConnectorInfo {
                        tenant: tenant.clone(),
                        status: ConnectorStatus::Offline,
                        connector_id: None,
                        version: None,
                        address: None,
                        session_id: None,
                        capabilities: Vec::new(),
                        connected_at: None,
                        last_heartbeat: None,
                        disconnected_at: None,
                        last_error: None,
                        calls_in_flight: 0,
                        sessions: 0,
                        metrics: None,
                    },
                    last_heartbeat: None,
                    sessions: 0,
                };
                (
                    tenant,
                    Slot {
                        settings,
                        state: Mutex::new(state),
                    },
                )
            })
            .collect();
        Self {
            slots: Arc::new(slots),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.slots.keys().map(String::as_str)
    }

    /// The tenant's settings as they are now (current tokens and config version).
    pub fn settings(&self, tenant: &str) -> Option<ConnectorSettings> {
        let slot = self.slots.get(tenant)?;
        let state = slot.state.lock();
        Some(ConnectorSettings {
            tokens: state.tokens.clone(),
            config_version: state.config_version.clone(),
            ..slot.settings.clone()
        })
    }

    /// The tenant a presented token belongs to. Every digest of every tenant is
    /// compared (no early exit), so timing says nothing about which tenants exist.
    pub fn tenant_for_token(&self, presented: &TokenDigest) -> Option<String> {
        let mut found = None;
        for (tenant, slot) in self.slots.iter() {
            let state = slot.state.lock();
            for want in &state.tokens {
                if matches(want, presented) && found.is_none() {
                    found = Some(tenant.clone());
                }
            }
        }
        found
    }

    /// Replaces the tenant's accepted tokens. A live session that authenticated with a
    /// token no longer listed is closed at once (the connector is told why, and its
    /// reconnect is refused `UNAUTHENTICATED`). Returns whether a session was closed;
    /// `None` when the tenant is not a connector tenant.
    pub fn set_tokens(&self, tenant: &str, tokens: Vec<TokenDigest>) -> Option<bool> {
        let slot = self.slots.get(tenant)?;
        let revoked = {
            let mut state = slot.state.lock();
            state.tokens = tokens;
            let still_valid = |session: &Session| {
                state
                    .tokens
                    .iter()
                    .fold(false, |ok, want| ok | matches(want, &session.token))
            };
            state
                .session
                .clone()
                .filter(|session| !still_valid(session))
        };
        Some(match revoked {
            Some(session) => {
                tracing::warn!(tenant, session = %session.id, "closing the tunnel session of a revoked connector token");
                self.detach(&session, "the connector token was revoked");
                true
            }
            None => false,
        })
    }

    /// The tenant's live session, if its connector is online.
    pub(crate) fn session(&self, tenant: &str) -> Option<Arc<Session>> {
        let slot = self.slots.get(tenant)?;
        let state = slot.state.lock();
        state.session.clone().filter(|s| !s.is_closed())
    }

    pub fn is_online(&self, tenant: &str) -> bool {
        self.session(tenant).is_some()
    }

    pub fn config_version(&self, tenant: &str) -> Option<String> {
        Some(self.slots.get(tenant)?.state.lock().config_version.clone())
    }

    /// Changes the tenant's configuration version; connectors learn it with their next
    /// heartbeat acknowledgement and reload.
    pub fn set_config_version(&self, tenant: &str, version: impl Into<String>) -> bool {
        match self.slots.get(tenant) {
            Some(slot) => {
                slot.state.lock().config_version = version.into();
                true
            }
            None => false,
        }
    }

    /// Makes `session` the tenant's session; an older one is closed.
    pub(crate) fn attach(
        &self,
        session: Arc<Session>,
        register: &pb::Register,
        address: Option<String>,
    ) {
        let Some(slot) = self.slots.get(&session.tenant) else {
            return;
        };
        let old = {
            let mut state = slot.state.lock();
            let now = Utc::now();
            state.sessions += 1;
            state.last_heartbeat = Some(tokio::time::Instant::now());
            let info = &mut state.info;
            info.status = ConnectorStatus::Online;
            info.connector_id = Some(register.connector_id.clone());
            info.version = Some(register.version.clone());
            info.address = address;
            info.session_id = Some(session.id.clone());
            info.capabilities = register.capabilities.clone();
            info.connected_at = Some(now);
            info.last_heartbeat = Some(now);
            info.disconnected_at = None;
            info.metrics = None;
            state.session.replace(session)
        };
        if let Some(old) = old {
            old.close("replaced by a newer session of the same tenant");
        }
    }

    /// Marks the session offline if it is still the tenant's current one.
    pub(crate) fn detach(&self, session: &Arc<Session>, why: &str) {
        session.close(why);
        let Some(slot) = self.slots.get(&session.tenant) else {
            return;
        };
        let mut state = slot.state.lock();
        if state
            .session
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            state.session = None;
            state.info.status = ConnectorStatus::Offline;
            state.info.disconnected_at = Some(Utc::now());
            state.info.last_error = Some(why.to_owned());
            tracing::warn!(tenant = %session.tenant, session = %session.id, "connector offline: {why}");
        }
    }

    /// Records a heartbeat; returns the configuration version for the acknowledgement.
    pub(crate) fn heartbeat(
        &self,
        session: &Arc<Session>,
        metrics: Option<pb::ConnectorMetrics>,
    ) -> Option<String> {
        let slot = self.slots.get(&session.tenant)?;
        let mut state = slot.state.lock();
        if !state
            .session
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            return None;
        }
        state.last_heartbeat = Some(tokio::time::Instant::now());
        state.info.last_heartbeat = Some(Utc::now());
        state.info.metrics = metrics.map(Into::into);
        Some(state.config_version.clone())
    }

    /// Time since the session's last sign of life, if it is the current one.
    pub(crate) fn silence(&self, session: &Arc<Session>) -> Option<Duration> {
        let slot = self.slots.get(&session.tenant)?;
        let state = slot.state.lock();
        if !state
            .session
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            return None;
        }
        state.last_heartbeat.map(|t| t.elapsed())
    }

    /// Every connector tenant's state, by tenant id.
    pub fn list(&self) -> Vec<ConnectorInfo> {
        self.slots
            .values()
            .map(|slot| {
                let state = slot.state.lock();
                let mut info = state.info.clone();
                info.calls_in_flight = state
                    .session
                    .as_ref()
                    .map(|s| s.in_flight() as u64)
                    .unwrap_or(0);
                info.sessions = state.sessions;
                info
            })
            .collect()
    }

    /// Sessions accepted for the tenant since start (1 + reconnects).
    pub fn sessions_accepted(&self, tenant: &str) -> u64 {
        self.slots
            .get(tenant)
            .map(|s| s.state.lock().sessions)
            .unwrap_or(0)
    }
}
