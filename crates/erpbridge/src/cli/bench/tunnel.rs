//! `erpbridge bench tunnel`: what a process boundary costs a provider call.
//!
//! The same sim, hosted by the same runtime, measured through each path in one run:
//! (a) in-process, the baseline; (b) over the gRPC provider protocol on loopback
//! (`erpbridge sim-erp serve` in miniature); (c) through the connector tunnel (a hub
//! tunnel endpoint and a connector hosting the sim, on loopback). Figures: single live price and bulk prices
//! (p50/p99, calls/s, one caller), and the article catalog stream (articles/s), each
//! path also as a ratio against (a). Goal from the design brief: the boundary adds
//! < 1 ms p50 on loopback, and streams ≥ 100k articles/s.
//!
//! A path is a `Provider`, so every path is measured by the same code.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_remote::bench::{self, PathFigures, Ratios, Workload};
use erpbridge_remote::{RemoteConfig, RemoteProvider, RunningServer};
use erpbridge_sim::SimConfig;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// Articles in the sim's catalog (all of them are streamed).
    #[arg(long, default_value_t = 100_000)]
    articles: u64,
    /// Sequential single-price calls per path.
    #[arg(long, default_value_t = 5_000)]
    single_calls: usize,
    /// Sequential bulk-price calls per path.
    #[arg(long, default_value_t = 500)]
    bulk_calls: usize,
    /// Articles per bulk-price call.
    #[arg(long, default_value_t = 100)]
    bulk_size: usize,
    /// Catalog page size of the stream.
    #[arg(long, default_value_t = 1_000)]
    page_size: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    articles: u64,
    bulk_size: usize,
    baseline: PathFigures,
    paths: Vec<PathFigures>,
    ratios: Vec<Ratios>,
}

pub fn run(args: TunnelArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(measure(&args))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

async fn measure(args: &TunnelArgs) -> anyhow::Result<Report> {
    let factory = erpbridge_sim::SimFactory::new(SimConfig::fast(args.articles))
        .context("configuring the sim")?;
    let options = RuntimeOptions {
        breaker_enabled: false,
        ..RuntimeOptions::default()
    };
    let hosted = HostedProvider::start(factory, options)
        .map_err(|e| anyhow::anyhow!("starting the runtime: {e}"))?;
    hosted.wait_ready().await;
    let in_process: Arc<dyn Provider> = Arc::new(hosted);

    let work = Workload {
        customer: erpbridge_sim::generate::customer_id(1),
        articles: (0..args.articles.min(10_000))
            .map(erpbridge_sim::generate::article_id)
            .collect(),
        single_calls: args.single_calls,
        bulk_calls: args.bulk_calls,
        bulk_size: args.bulk_size,
        page_size: args.page_size,
        stream_limit: None,
    };

    let baseline = bench::measure("in_process", in_process.as_ref(), &work).await?;

    let server = RunningServer::start(
        in_process.clone(),
        "127.0.0.1:0".parse().context("loopback address")?,
        None,
    )
    .await?;
    let remote = RemoteProvider::connect_lazy(RemoteConfig {
        deadline: Duration::from_secs(60),
        ..RemoteConfig::new(server.url())
    })?;
    let grpc = bench::measure("grpc", &remote, &work).await?;
    server.stop().await?;

    // (c) the connector tunnel: a real tunnel endpoint and a connector hosting the same
    // provider, both on loopback in this process.
    let tunnel = erpbridge_tunnel::bench::run_tunnel_mode(in_process.clone(), &work).await?;

    let paths = vec![grpc, tunnel];
    Ok(Report {
        articles: args.articles,
        bulk_size: args.bulk_size,
        ratios: paths.iter().map(|p| bench::ratios(&baseline, p)).collect(),
        baseline,
        paths,
    })
}

fn print_table(report: &Report) {
    println!(
        "provider paths, sim with {} articles (one caller; ratios against in_process)",
        report.articles
    );
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>14} {:>14} {:>12} {:>14}",
        "path",
        "single p50",
        "single p99",
        "single/s",
        "bulk p50",
        "bulk p99",
        "bulk/s",
        "stream art/s"
    );
    for p in std::iter::once(&report.baseline).chain(&report.paths) {
        println!(
            "{:<12} {:>9} µs {:>9} µs {:>12.0} {:>11} µs {:>11} µs {:>12.0} {:>14.0}",
            p.path,
            p.single_price.p50_us,
            p.single_price.p99_us,
            p.single_price.throughput_per_s,
            p.bulk_prices.p50_us,
            p.bulk_prices.p99_us,
            p.bulk_prices.throughput_per_s,
            p.stream_articles_per_s
        );
    }
    for r in &report.ratios {
        println!(
            "{}: single p50 ×{:.2} (+{} µs), p99 ×{:.2}; bulk {} p50 ×{:.2} (+{} µs), p99 ×{:.2}; stream rate ×{:.2}",
            r.path,
            r.single_p50,
            r.single_p50_added_us,
            r.single_p99,
            report.bulk_size,
            r.bulk_p50,
            r.bulk_p50_added_us,
            r.bulk_p99,
            r.stream_rate
        );
    }
}
