//! `erpbridge sync TENANT [--full] [--config FILE]`: run one sync now.
//!
//! On a terminal it draws a progress bar per stage (rows, rate, ETA when the size is
//! known); otherwise it writes plain progress lines to stderr every few seconds. The
//! exit status is 0 on success, 1 with the reason on stderr otherwise (including "a sync
//! of this tenant is already running").

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use erpbridge_config::Config;
use erpbridge_search::{IndexOptions, SearchIndexes};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_sync::{Progress, ProgressFn, SyncEngine, SyncMode, SyncOptions};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The tenant to sync (its `id` in the configuration).
    pub tenant: String,
    /// Take a new full snapshot (and sweep what the ERP dropped) instead of a delta.
    #[arg(long)]
    pub full: bool,
    /// Configuration file; without it the embedded default (tenant `demo` on the sim).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of the search indexes. Default: `[search] dir` of the configuration
    /// (by default `search` next to the SQLite file, `./erpbridge-data/search` with
    /// PostgreSQL), the directory `serve` uses.
    #[arg(long)]
    pub index_dir: Option<PathBuf>,
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match runtime.block_on(sync(args)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("erpbridge sync: {err:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(file) => Config::load(file).map_err(|errors| {
            anyhow::anyhow!("{}: invalid configuration:\n{errors}", file.display())
        })?,
        None => Config::embedded_default(),
    };
    let tenant = config
        .tenants
        .iter()
        .find(|t| t.id.as_str() == args.tenant)
        .with_context(|| format!("no tenant `{}` in the configuration", args.tenant))?;
    let db = super::serve::open_store(&config.store).await?;
    db.migrate().await.context("migrating the store")?;
    let index_dir = args.index_dir.clone().unwrap_or_else(|| config.index_dir());
    let provider = super::providers::provider_for(tenant)?.provider;
    let engine = SyncEngine::new(
        CatalogStore::new(db),
        Arc::new(SearchIndexes::new(&index_dir, IndexOptions::default())),
        SyncOptions {
            page_size: tenant.sync.batch_size,
            ..SyncOptions::default()
        },
    );
    let mode = if args.full {
        SyncMode::Full
    } else {
        SyncMode::Delta
    };
    let reporter = Reporter::new(std::io::stderr().is_terminal());
    let sink: ProgressFn = {
        let reporter = reporter.clone();
        Arc::new(move |p: &Progress| reporter.report(p))
    };
    let result = engine
        .run(
            &args.tenant,
            provider,
            tenant.provider.kind(),
            mode,
            Some(sink),
        )
        .await;
    reporter.finish();
    let report = result.with_context(|| format!("sync of tenant `{}` failed", args.tenant))?;
    eprintln!(
        "sync {}: {} upserted, {} deleted, {} unchanged in {:.1}s ({} re-indexed first)",
        args.tenant,
        report.upserted(),
        report.deleted(),
        report.skipped(),
        report.elapsed_ms as f64 / 1000.0,
        report.reindexed
    );
    Ok(())
}

/// Progress as a bar (terminal) or as log lines (anything else).
#[derive(Clone)]
struct Reporter {
    inner: Arc<Mutex<ReporterState>>,
}

struct ReporterState {
    bar: Option<ProgressBar>,
    tty: bool,
    stage: String,
    last_line: Instant,
}

impl Reporter {
    fn new(tty: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ReporterState {
                bar: None,
                tty,
                stage: String::new(),
                last_line: Instant::now(),
            })),
        }
    }

    fn report(&self, p: &Progress) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let stage = format!("{:?} {}", p.stage, p.phase.as_str()).to_lowercase();
        if state.tty {
            if state.stage != stage || state.bar.is_none() {
                if let Some(bar) = state.bar.take() {
                    bar.finish();
                }
                state.bar = Some(new_bar(&stage, p.total));
                state.stage = stage;
            }
            if let Some(bar) = &state.bar {
                if let Some(total) = p.total {
                    bar.set_length(total.max(p.rows));
                }
                bar.set_position(p.rows);
                bar.set_message(format!("{:.0} rows/s", p.rate));
                if p.done {
                    bar.finish();
                }
            }
        } else if p.done
            || state.stage != stage
            || state.last_line.elapsed() >= Duration::from_secs(5)
        {
            state.stage = stage.clone();
            state.last_line = Instant::now();
            let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
            let eta = p
                .eta
                .map(|e| format!(", ETA {}s", e.as_secs()))
                .unwrap_or_default();
            eprintln!(
                "sync {}: {stage}: {}{total} rows, {:.0} rows/s{eta}{}",
                p.tenant,
                p.rows,
                p.rate,
                if p.done { ", done" } else { "" }
            );
        }
    }

    fn finish(&self) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = state.bar.take() {
            bar.finish();
        }
    }
}

fn new_bar(stage: &str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{prefix:>18} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ETA {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{prefix:>18} [{elapsed_precise}] {spinner} {pos} rows {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_prefix(stage.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
