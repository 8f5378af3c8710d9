//! The on-premise connector tunnel (`proto/erpbridge/tunnel/v1/tunnel.proto`).
//!
//! An ERP often lives on the customer's premises behind a firewall that lets nothing in.
//! The connector runs next to it, hosts the tenant's provider locally (sim, Tryton, or
//! a `remote` provider such as a .NET one) and dials **out** to the hub. Over one
//! long-lived bidirectional gRPC stream the hub sends provider calls and the connector
//! answers them:
//!
//! ```text
//!  hub                                              connector (on-prem)
//!  TunnelProvider ── Call{id, deadline, request} ──▶ task per call ─▶ local Provider
//!   (per tenant)  ◀── Reply{id, result|error} ─────
//!                 ── Call{catalog_stream, credit} ▶ pages, one per credit
//!                 ◀── StreamChunk{id, page} … StreamEnd
//!                 ── Credit{id, 1} per page consumed
//!                 ── Cancel{id} when the caller gives up
//!                 ◀── Heartbeat{metrics}   ── HeartbeatAck{config_version} ─▶
//! ```
//!
//! * [`hub`] — the connector registry, the gRPC endpoint connectors dial into, and
//!   [`hub::TunnelProvider`], the SDK `Provider` the hub uses for a connector tenant.
//! * [`connector`] — the dial-out loop with backoff and jitter, heartbeats, reloads.
//! * [`wire`] — provider calls as tunnel frames, reusing the provider protocol's
//!   messages and strict conversions (`erpbridge_remote`).
//! * [`auth`] — token digests (constant-time) and the plaintext-only-on-loopback rule.
//! * [`bench`] — provider figures through a real tunnel on loopback.
//!
//! Invariants: a session's calls are routed by the tenant the *token* proves, never by
//! what the connector claims; a tenant has at most one session; no connector means
//! `unavailable` at once, never a hang; a catalog stream never has more pages in
//! flight than the credit the hub granted.

pub mod auth;
pub mod bench;
pub mod connector;
pub mod hub;
pub mod proto;
pub mod wire;

pub use connector::{Connector, ConnectorError, ConnectorOptions};
pub use hub::{
    ConnectorInfo, ConnectorRegistry, ConnectorSettings, ConnectorStatus, RunningTunnel,
    TunnelProvider,
};
