//! The erpbridge provider protocol over gRPC (`proto/erpbridge/provider/v1`), and what
//! speaks it.
//!
//! A provider is an ERP backend behind the SDK's `Provider` trait. This crate moves that
//! trait across a process (and language) boundary:
//!
//! * [`proto`] — the generated messages and tonic stubs, built from the `.proto` with
//!   protox at compile time (no system `protoc`).
//! * [`convert`] — SDK values to wire messages and back. Inbound conversion is strict
//!   and typed ([`convert::WireError`]): the peer may be any program in any language.
//! * [`status`] — provider errors as gRPC statuses with a structured detail, and back.
//! * [`client`] — [`RemoteProvider`], the SDK `Provider` over a lazy, reconnecting
//!   channel, with deadlines, resumable server-streamed catalogs and optional TLS.
//! * [`server`] — [`ProviderGrpc`], a tonic service that serves any `Arc<dyn Provider>`
//!   (the sim in `erpbridge sim-erp serve`, the connector's local provider).
//! * [`conformance`] — the protocol checks any provider implementation must pass,
//!   runnable against an address (`erpbridge provider test ADDR`).
//! * [`bench`] — in-process versus over-gRPC latency and streaming figures.
//!
//! The specification a provider author works from is `docs/provider-protocol.md`.

pub mod bench;
pub mod client;
pub mod conformance;
pub mod convert;
pub mod proto;
pub mod server;
pub mod status;

pub use client::{ClientTls, RemoteConfig, RemoteError, RemoteProvider};
pub use server::{ProviderGrpc, RunningServer, ServeError, ServerTls};
