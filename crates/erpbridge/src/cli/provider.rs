//! `erpbridge provider test ADDR [--json]`: the provider protocol conformance suite
//! against a running provider, in any language. Exits non-zero when a check fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use erpbridge_remote::conformance;
use erpbridge_remote::{ClientTls, RemoteConfig, RemoteProvider};

#[derive(Debug, Args)]
pub struct ProviderArgs {
    #[command(subcommand)]
    command: ProviderCommand,
}

#[derive(Debug, Subcommand)]
enum ProviderCommand {
    /// Run the protocol conformance suite against a provider (writes test orders!).
    Test(TestArgs),
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The provider: `http://host:port`, `https://host:port`, or `host:port` (plain).
    address: String,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Deadline of each call.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    deadline: Duration,
    /// Records per catalog page the suite asks for.
    #[arg(long, default_value_t = 50)]
    page_size: u32,
    /// PEM file of the CA that signed the provider's certificate (https only; the
    /// system roots otherwise).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Name to verify the provider's certificate against.
    #[arg(long)]
    domain: Option<String>,
}

pub fn run(args: ProviderArgs) -> anyhow::Result<ExitCode> {
    let ProviderCommand::Test(args) = args.command;
    let address = if args.address.contains("://") {
        args.address.clone()
    } else {
        format!("http://{}", args.address)
    };
    let tls = if address.starts_with("https://") {
        Some(ClientTls {
            ca_pem: args
                .ca_file
                .as_ref()
                .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
                .transpose()?,
            domain: args.domain.clone(),
        })
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The channel's worker task needs the runtime from the start.
    let _entered = runtime.enter();
    let remote = RemoteProvider::connect_lazy(RemoteConfig {
        tls,
        deadline: args.deadline,
        stream_resumes: 0,
        ..RemoteConfig::new(address)
    })?;
    let options = conformance::Options {
        deadline: args.deadline,
        page_size: args.page_size,
        ..conformance::Options::default()
    };
    let report = runtime.block_on(conformance::run_with(remote, options));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
