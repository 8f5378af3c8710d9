//! `erpbridge bench tryton`: catalog read throughput of the Tryton provider against a plain
//! keyset `search_read` loop in the same run (the ratio is the provider's own cost), and
//! live price latency. The measuring lives in `erpbridge_tryton::bench`; this is its CLI.

use anyhow::Context;
use clap::Args;
use erpbridge_tryton::{TrytonConfig, bench};

#[derive(Debug, Args)]
pub struct TrytonArgs {
    /// The Tryton server, e.g. the URL `scripts/tryton/start.sh` prints.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "erp")]
    database: String,
    #[arg(long, default_value = "admin")]
    user: String,
    /// The environment variable holding the password (never a command-line argument,
    /// where `ps` would show it).
    #[arg(long, default_value = "ERPBRIDGE_TRYTON_ADMIN_PASSWORD")]
    password_env: String,
    /// Rows per catalog page.
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// Live price calls to time.
    #[arg(long, default_value_t = 200)]
    price_calls: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: TrytonArgs) -> anyhow::Result<()> {
    let password = std::env::var(&args.password_env)
        .with_context(|| format!("environment variable {} is not set", args.password_env))?;
    let config = TrytonConfig::new(
        args.url.as_str(),
        args.database.as_str(),
        args.user.as_str(),
        password,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime
        .block_on(bench::run(config, args.page_size, args.price_calls))
        .context("running the Tryton benchmark")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "catalog stream: {} articles, page {}: provider {:.0}/s, plain search_read loop {:.0}/s, ratio {:.2}",
            report.articles,
            report.page_size,
            report.provider_articles_per_s,
            report.baseline_rows_per_s,
            report.ratio
        );
        println!(
            "live price ({} calls, no cache): p50 {:.1} ms, p99 {:.1} ms",
            report.price_calls, report.price_p50_ms, report.price_p99_ms
        );
    }
    Ok(())
}
