//! Tests of the `erpbridge` binary as a user runs it: a real process, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_upgrade;
mod config;
mod connector;
mod connector_tls;
mod log_format;
mod python_provider;
mod reload;
mod sim_erp;
mod support;
