//! `erpbridge bench ...`: the benchmarks behind the figures in `docs/benchmarks.md`.
//!
//! Each prints its figures and, where it compares, the baseline measured in the same run
//! and the ratio, so a number never stands without its reference. `--json` prints one
//! object for scripts.

use clap::{Args, Subcommand};

pub mod agent;
pub mod api;
pub mod live;
pub mod outbox;
pub mod sync;
pub mod tryton;
pub mod tunnel;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Live prices against a serial backend: coalescing ratio and executor overhead.
    Live(live::LiveArgs),
    /// Catalog read throughput and live price latency against a Tryton server.
    Tryton(tryton::TrytonArgs),
    /// Outbox enqueue latency and end-to-end saga throughput with a no-op provider.
    Outbox(outbox::OutboxBenchArgs),
    /// Full sync, delta sync and search latency at catalog scale.
    Sync(sync::SyncBenchArgs),
    /// Provider calls in-process vs over the gRPC provider protocol: latency, streaming.
    Tunnel(tunnel::TunnelArgs),
    /// The hub's HTTP API against the provider and store it fronts: overhead, cache hit rate.
    Api(api::ApiBenchArgs),
    /// Update agent with the real hub: publish to healthy, swap downtime, rollback.
    Agent(agent::AgentBenchArgs),
}

pub fn run(args: BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.which {
        Bench::Live(args) => live::run(args)?,
        Bench::Tryton(args) => tryton::run(args)?,
        Bench::Outbox(args) => outbox::run(args)?,
        Bench::Sync(args) => return sync::run(args),
        Bench::Tunnel(args) => tunnel::run(args)?,
        Bench::Agent(args) => agent::run(args)?,
        Bench::Api(args) => api::run(args)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}
