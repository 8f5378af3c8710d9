//! The hub's side of the tunnel.
//!
//! * [`ConnectorRegistry`] — per connector tenant: its token digests, its settings, the
//!   connected [`session`] if any, and what operators see about it ([`ConnectorInfo`]).
//! * [`service`] — the `TunnelService` gRPC server connectors dial into: authenticates
//!   the token, checks the registration, runs the session's reader and heartbeat
//!   watchdog.
//! * [`TunnelProvider`] — the SDK `Provider` of a connector tenant: each call goes down
//!   the tenant's session; no session means `unavailable` at once.

mod provider;
mod registry;
pub(crate) mod service;
pub(crate) mod session;

pub use provider::TunnelProvider;
pub use registry::{ConnectorInfo, ConnectorRegistry, ConnectorSettings, ConnectorStatus};
pub use service::{HubTls, RunningTunnel, TunnelServeError, serve};
