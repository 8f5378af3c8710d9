//! `erpbridge sim-erp serve --listen ADDR ...`: the simulated ERP as a separate process
//! behind the gRPC provider protocol, hosted by the same runtime the hub would use
//! in-process (serial executor, session pool), so it behaves like an out-of-process
//! ERP connector: slow logins, one call at a time, faults on demand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_remote::ServerTls;
use erpbridge_sim::{Sim, SimConfig};

#[derive(Debug, Args)]
pub struct SimErpArgs {
    #[command(subcommand)]
    command: SimErpCommand,
}

#[derive(Debug, Subcommand)]
enum SimErpCommand {
    /// Serve the simulator over the provider protocol (erpbridge.provider.v1).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Articles at tick 0.
    #[arg(long, default_value_t = 10_000)]
    articles: u64,
    /// Seed of everything generated.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 1_000)]
    customers: u32,
    #[arg(long, default_value_t = 3)]
    warehouses: u32,
    #[arg(long, default_value_t = 20)]
    attributes_per_article: u32,
    /// Sessions the backend allows at once (1 = serial).
    #[arg(long, default_value_t = 1)]
    sessions: u32,
    /// Login time per session.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    init_delay: Duration,
    /// Fixed cost of every call.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Probability (0..=1) that a call fails transient.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Probability that a call hangs for `--timeout-after`, then fails transient.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout_after: Duration,
    /// Advance the change feed one tick this often (delta syncs find changes).
    #[arg(long, value_parser = humantime::parse_duration)]
    auto_tick: Option<Duration>,
    /// JSON-lines journal of writes, replayed on start.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// PEM certificate chain: serve TLS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

pub fn run(args: SimErpArgs) -> anyhow::Result<ExitCode> {
    let SimErpCommand::Serve(args) = args.command;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        seed: args.seed,
        articles: args.articles,
        customers: args.customers,
        warehouses: args.warehouses,
        attributes_per_article: args.attributes_per_article,
        sessions: args.sessions,
        init_delay: args.init_delay,
        per_call_latency: args.latency,
        error_rate: args.error_rate,
        timeout_rate: args.timeout_rate,
        timeout_after: args.timeout_after,
        auto_tick: args.auto_tick,
        state_file: args.state_file,
        ..SimConfig::default()
    };
    let sim = Sim::new(config).context("configuring the simulator")?;
    let options = RuntimeOptions {
        // The hub in front has its own breaker; a second one here would turn the
        // simulator's injected faults into `unavailable` before the hub saw them.
        breaker_enabled: false,
        ..RuntimeOptions::default()
    };
    let hosted = HostedProvider::start(sim.factory(), options)
        .map_err(|e| anyhow::anyhow!("starting the provider runtime: {e}"))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(ServerTls {
            cert_pem: std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
            key_pem: std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
        }),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Stdout, one line: scripts and tests read the address from it.
    println!("sim-erp: serving erpbridge.provider.v1 on {addr}");
    tracing::info!(%addr, articles = args.articles, seed = args.seed, "sim-erp serving");
    erpbridge_remote::server::serve(Arc::new(hosted), listener, tls, shutdown_signal()).await?;
    tracing::info!("sim-erp stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
