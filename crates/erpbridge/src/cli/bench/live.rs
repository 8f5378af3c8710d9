//! `erpbridge bench live`: what the provider runtime buys in front of a serial backend.
//!
//! Two questions, each answered against a baseline measured in the same run:
//!
//! 1. **Coalescing.** 64 callers ask single customer prices of a serial sim (one session,
//!    2 ms per call). Without coalescing the runtime can do no better than the serial bound
//!    (one call per 2 ms); with it, the lookups that queue behind a busy session leave as
//!    one bulk call. The ratio of the two throughputs is the figure (goal ≥ 10).
//! 2. **Executor overhead.** One caller, backend latency 0: the same price lookup called
//!    on a session directly and through the runtime (queue hop to the session thread,
//!    deadline, breaker, oneshot back). Reported as p50/p99 of both and their ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{BlockingSession, PriceItem, PriceRequest, Provider, SessionFactory};
use erpbridge_sim::{SimConfig, SimFactory};
use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Concurrent callers asking single prices.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// How long each throughput phase runs.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The serial backend's latency per call.
    #[arg(long, default_value = "2ms", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// The serial backend's extra cost per item in a bulk call.
    #[arg(long, default_value = "10us", value_parser = humantime::parse_duration)]
    item_cost: Duration,
    /// Calls per side in the executor-overhead comparison.
    #[arg(long, default_value_t = 20_000)]
    overhead_calls: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Phase {
    calls: u64,
    throughput_per_s: f64,
    p50_us: u64,
    p99_us: u64,
    backend_calls: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    callers: usize,
    backend_latency_us: u64,
    item_cost_us: u64,
    serial_bound_per_s: f64,
    without_coalescing: Phase,
    with_coalescing: Phase,
    coalescing_ratio: f64,
    overhead_direct: Phase,
    overhead_runtime: Phase,
    overhead_p50_ratio: f64,
    overhead_p99_ratio: f64,
    overhead_p50_added_us: i64,
}

const ARTICLES: u64 = 10_000;

pub fn run(args: LiveArgs) -> anyhow::Result<()> {
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

async fn measure(args: &LiveArgs) -> anyhow::Result<Report> {
    let serial = SimConfig {
        per_call_latency: args.latency,
        per_item_cost: args.item_cost,
        ..SimConfig::fast(ARTICLES)
    };
    let without_coalescing = concurrent_phase(args, serial.clone(), false).await?;
    let with_coalescing = concurrent_phase(args, serial, true).await?;

    let instant = SimConfig::fast(ARTICLES);
    let overhead_direct = direct_phase(args, instant.clone()).await?;
    let overhead_runtime = hosted_single_caller_phase(args, instant).await?;

    Ok(Report {
        callers: args.callers,
        backend_latency_us: args.latency.as_micros() as u64,
        item_cost_us: args.item_cost.as_micros() as u64,
        serial_bound_per_s: 1.0 / (args.latency + args.item_cost).as_secs_f64(),
        coalescing_ratio: with_coalescing.throughput_per_s / without_coalescing.throughput_per_s,
        overhead_p50_ratio: overhead_runtime.p50_us.max(1) as f64
            / overhead_direct.p50_us.max(1) as f64,
        overhead_p99_ratio: overhead_runtime.p99_us.max(1) as f64
            / overhead_direct.p99_us.max(1) as f64,
        overhead_p50_added_us: overhead_runtime.p50_us as i64 - overhead_direct.p50_us as i64,
        without_coalescing,
        with_coalescing,
        overhead_direct,
        overhead_runtime,
    })
}

/// A single-price request for caller `caller`'s `n`-th lookup: spread over articles and
/// a few customers, so coalescing has to group by customer as it would in production.
fn single_price(caller: usize, n: u64) -> PriceRequest {
    let article = (caller as u64 * 7919 + n * 104_729) % ARTICLES;
    PriceRequest {
        customer_id: erpbridge_sim::generate::customer_id((caller % 4) as u64),
        items: vec![PriceItem {
            article_id: erpbridge_sim::generate::article_id(article),
            quantity: Decimal::ONE,
        }],
    }
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("creating a latency histogram")
}

fn phase(histogram: &Histogram<u64>, elapsed: Duration, backend_calls: u64) -> Phase {
    Phase {
        calls: histogram.len(),
        throughput_per_s: histogram.len() as f64 / elapsed.as_secs_f64(),
        p50_us: histogram.value_at_quantile(0.50),
        p99_us: histogram.value_at_quantile(0.99),
        backend_calls,
    }
}

async fn start_hosted(
    config: SimConfig,
    coalescing: bool,
) -> anyhow::Result<(Arc<HostedProvider<SimFactory>>, SimFactory)> {
    let factory = SimFactory::new(config).context("configuring the sim")?;
    let options = RuntimeOptions {
        coalescing,
        // 64 callers must fit in the queue, or the baseline would measure rejections.
        queue_capacity: 4096,
        ..RuntimeOptions::default()
    };
    let hosted = HostedProvider::start(factory.clone(), options)
        .map_err(|err| anyhow::anyhow!("starting the runtime: {err}"))?;
    hosted.wait_ready().await;
    Ok((Arc::new(hosted), factory))
}

async fn concurrent_phase(
    args: &LiveArgs,
    config: SimConfig,
    coalescing: bool,
) -> anyhow::Result<Phase> {
    let (hosted, factory) = start_hosted(config, coalescing).await?;
    let calls_before = factory.sim().stats().calls;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.callers);
    for caller in 0..args.callers {
        let hosted = hosted.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = new_histogram()?;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let request = single_price(caller, n);
                let t0 = Instant::now();
                let quotes = hosted
                    .prices(request)
                    .await
                    .map_err(|err| anyhow::anyhow!("price lookup failed: {err}"))?;
                anyhow::ensure!(
                    quotes.len() == 1,
                    "expected one quote, got {}",
                    quotes.len()
                );
                histogram.record(t0.elapsed().as_micros().max(1) as u64)?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(histogram)
        }));
    }
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = new_histogram()?;
    for task in tasks {
        total.add(task.await??)?;
    }
    let elapsed = started.elapsed();
    let backend_calls = factory.sim().stats().calls - calls_before;
    anyhow::ensure!(
        factory.sim().concurrency_violations() == 0,
        "the sim saw concurrent use of a session"
    );
    Ok(phase(&total, elapsed, backend_calls))
}

/// The baseline for executor overhead: a session called directly on this thread.
async fn direct_phase(args: &LiveArgs, config: SimConfig) -> anyhow::Result<Phase> {
    let factory = SimFactory::new(config).context("configuring the sim")?;
    let calls = args.overhead_calls;
    tokio::task::spawn_blocking(move || {
        let mut session = factory
            .connect()
            .map_err(|err| anyhow::anyhow!("sim login: {err}"))?;
        let mut histogram = new_histogram()?;
        let started = Instant::now();
        for n in 0..calls as u64 {
            let request = single_price(0, n);
            let t0 = Instant::now();
            let quotes = session
                .prices(&request)
                .map_err(|err| anyhow::anyhow!("price lookup failed: {err}"))?;
            std::hint::black_box(quotes);
            histogram.record(t0.elapsed().as_nanos().div_ceil(1000).max(1) as u64)?;
        }
        let backend_calls = factory.sim().stats().calls;
        Ok(phase(&histogram, started.elapsed(), backend_calls))
    })
    .await?
}

async fn hosted_single_caller_phase(args: &LiveArgs, config: SimConfig) -> anyhow::Result<Phase> {
    let (hosted, factory) = start_hosted(config, true).await?;
    let calls_before = factory.sim().stats().calls;
    let mut histogram = new_histogram()?;
    let started = Instant::now();
    for n in 0..args.overhead_calls as u64 {
        let t0 = Instant::now();
        let quotes = hosted
            .prices(single_price(0, n))
            .await
            .map_err(|err| anyhow::anyhow!("price lookup failed: {err}"))?;
        std::hint::black_box(quotes);
        histogram.record(t0.elapsed().as_nanos().div_ceil(1000).max(1) as u64)?;
    }
    let backend_calls = factory.sim().stats().calls - calls_before;
    Ok(phase(&histogram, started.elapsed(), backend_calls))
}

fn print_table(r: &Report) {
    println!(
        "live prices: {} callers, serial sim backend {} µs/call + {} µs/item (serial bound {:.0}/s)",
        r.callers, r.backend_latency_us, r.item_cost_us, r.serial_bound_per_s
    );
    println!(
        "{:<28} {:>10} {:>12} {:>9} {:>9} {:>13}",
        "phase", "calls", "calls/s", "p50 µs", "p99 µs", "backend calls"
    );
    for (name, p) in [
        ("without coalescing", &r.without_coalescing),
        ("with coalescing", &r.with_coalescing),
        ("direct session, 1 caller", &r.overhead_direct),
        ("through runtime, 1 caller", &r.overhead_runtime),
    ] {
        println!(
            "{:<28} {:>10} {:>12.0} {:>9} {:>9} {:>13}",
            name, p.calls, p.throughput_per_s, p.p50_us, p.p99_us, p.backend_calls
        );
    }
    println!(
        "coalescing ratio (throughput with / without): {:.1}x (goal >= 10x)",
        r.coalescing_ratio
    );
    println!(
        "executor overhead: p50 {:.2}x (+{} µs), p99 {:.2}x",
        r.overhead_p50_ratio, r.overhead_p50_added_us, r.overhead_p99_ratio
    );
}
