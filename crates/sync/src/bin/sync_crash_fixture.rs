//! Test fixture (not a product binary): runs one sync of a simulated ERP into a given
//! store and index directory, so integration tests can SIGKILL it mid-way and check that
//! the next run resumes without gaps or duplicates.
//!
//! `sync-crash-fixture --db URL --index DIR --tenant T --articles N [--ticks K]
//!  [--mode full|delta] [--page-size P] [--latency-ms L] [--seed S]`
//!
//! Prints the run's report as one JSON line on success.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_search::{IndexOptions, SearchIndexes};
use erpbridge_sim::{Sim, SimConfig};
use erpbridge_store::Db;
use erpbridge_store::catalog::CatalogStore;
use erpbridge_sync::{SyncEngine, SyncMode, SyncOptions};

struct Args {
    db: String,
    index: String,
    tenant: String,
    articles: u64,
    ticks: u32,
    mode: SyncMode,
    page_size: u32,
    latency_ms: u64,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        db: String::new(),
        index: String::new(),
        tenant: "crash".to_owned(),
        articles: 1_000,
        ticks: 0,
        mode: SyncMode::Delta,
        page_size: 100,
        latency_ms: 0,
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--index" => args.index = value()?,
            "--tenant" => args.tenant = value()?,
            "--articles" => args.articles = num(value()?)?,
            "--ticks" => args.ticks = num(value()?)? as u32,
            "--page-size" => args.page_size = num(value()?)? as u32,
            "--latency-ms" => args.latency_ms = num(value()?)?,
            "--seed" => args.seed = num(value()?)?,
            "--mode" => {
                args.mode = match value()?.as_str() {
                    "full" => SyncMode::Full,
                    "delta" => SyncMode::Delta,
                    other => return Err(format!("unknown mode {other}")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.db.is_empty() || args.index.is_empty() {
        return Err("--db and --index are required".to_owned());
    }
    Ok(args)
}

async fn run(args: Args) -> Result<String, String> {
    let sim = Sim::new(SimConfig {
        seed: args.seed,
        per_call_latency: Duration::from_millis(args.latency_ms),
        max_catalog_page: args.page_size.max(1),
        ..SimConfig::fast(args.articles)
    })
    .map_err(|e| e.to_string())?;
    sim.advance(args.ticks);
    let provider: Arc<dyn Provider> = Arc::new(
        HostedProvider::start(sim.factory(), RuntimeOptions::default())
            .map_err(|e| e.to_string())?,
    );
    let db = Db::open(&args.db).await.map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let engine = SyncEngine::new(
        CatalogStore::new(db),
        Arc::new(SearchIndexes::new(&args.index, IndexOptions::default())),
        SyncOptions {
            page_size: args.page_size,
            // Commit the index rarely, so a kill usually leaves it behind the store.
            index_commit_docs: 1_000_000,
            ..SyncOptions::default()
        },
    );
    let report = engine
        .run(&args.tenant, provider, "sim", args.mode, None)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&report).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("sync-crash-fixture: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("sync-crash-fixture: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("sync-crash-fixture: {err}");
            ExitCode::FAILURE
        }
    }
}
