//! `erpbridge jobs status | failed [--dead] | show ID | retry ID | retry --all-dead
//! [--type T] [--tenant T] | drain on|off`: the outbox from the command line.
//!
//! It talks to the database directly (the same store the hub uses), so it works while
//! the hub is down — which is when an operator most needs it.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use erpbridge_store::Db;
use erpbridge_store::outbox::{FailedQuery, OutboxStore, RetryFilter, SagaDetail};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// The store: a SQLite file path (or `sqlite://PATH`) or a `postgres://` URL.
    /// Default: the store of `--config`, else `./erpbridge-data/erpbridge.sqlite`.
    #[arg(long, global = true, env = "ERPBRIDGE_STORE")]
    store: Option<String>,
    /// Read the store from this configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print JSON (the operator API's shapes) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Counts per status, oldest/newest pending, backlog.
    Status,
    /// Sagas that failed and wait for a retry; with --dead also dead and compensated.
    Failed {
        #[arg(long)]
        dead: bool,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        page_size: u32,
    },
    /// One saga in full.
    Show { id: uuid::Uuid },
    /// Run one saga again now, or every dead saga matching the filters.
    Retry {
        /// The saga to retry.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<uuid::Uuid>,
        /// Retry every dead saga (narrow with --type, --tenant, --error).
        #[arg(long)]
        all_dead: bool,
        #[arg(long = "type", requires = "all_dead")]
        event_type: Option<String>,
        #[arg(long, requires = "all_dead")]
        tenant: Option<String>,
        /// Only sagas whose last error contains this text.
        #[arg(long, requires = "all_dead")]
        error: Option<String>,
    },
    /// The drain switch: `on` stops every worker sharing this store from claiming new
    /// sagas (in-flight ones finish); `off` resumes.
    Drain { state: DrainState },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DrainState {
    On,
    Off,
}

pub fn run(args: JobsArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

/// The store URL from `--store`, the config file, or the embedded default.
pub fn store_url(
    store: Option<String>,
    config: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    if let Some(url) = store {
        return Ok(url);
    }
    if let Some(path) = config {
        let config = erpbridge_config::Config::load(path)
            .map_err(|errors| anyhow::anyhow!("{errors}"))
            .with_context(|| format!("loading {}", path.display()))?;
        return Ok(match config.store {
            erpbridge_config::StoreConfig::Sqlite { path, .. } => path.display().to_string(),
            erpbridge_config::StoreConfig::Postgres { url, .. } => url.expose().to_owned(),
        });
    }
    Ok("./erpbridge-data/erpbridge.sqlite".to_owned())
}

async fn open(args: &JobsArgs) -> anyhow::Result<OutboxStore> {
    let url = store_url(args.store.clone(), args.config.as_deref())?;
    let is_sqlite = !url.starts_with("postgres://") && !url.starts_with("postgresql://");
    if is_sqlite && !std::path::Path::new(url.trim_start_matches("sqlite://")).exists() {
        bail!("no store at {url} (pass --store or --config)");
    }
    let db = Db::open(&url).await.context("opening the store")?;
    db.migrate().await.context("migrating the store")?;
    Ok(OutboxStore::new(db))
}

async fn run_async(args: JobsArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args).await?;
    let mut out = std::io::stdout().lock();
    match &args.command {
        JobsCommand::Status => {
            let status = store.status().await?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
            } else {
                writeln!(out, "pending       {}", status.pending_count)?;
                writeln!(out, "in_progress   {}", status.in_progress_count)?;
                writeln!(out, "compensating  {}", status.compensating_count)?;
                writeln!(out, "completed     {}", status.completed_count)?;
                writeln!(out, "compensated   {}", status.compensated_count)?;
                writeln!(out, "dead          {}", status.dead_count)?;
                writeln!(out, "queue size    {}", status.total_queue_size)?;
                let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
                    at.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339())
                };
                writeln!(out, "oldest pending {}", when(status.oldest_pending_at))?;
                writeln!(out, "newest pending {}", when(status.newest_pending_at))?;
                writeln!(out, "backlog hours {:.2}", status.backlog_hours)?;
                writeln!(out, "draining      {}", status.draining)?;
            }
        }
        JobsCommand::Failed {
            dead,
            page,
            page_size,
        } => {
            let page = store
                .failed(FailedQuery {
                    page: *page,
                    page_size: *page_size,
                    include_dead: *dead,
                })
                .await?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
            } else {
                writeln!(
                    out,
                    "{:<36}  {:<12}  {:<16}  {:>3}  {:<10}  ERROR",
                    "SAGA", "STATUS", "TYPE", "ATT", "TENANT"
                )?;
                for item in &page.items {
                    writeln!(
                        out,
                        "{:<36}  {:<12}  {:<16}  {:>3}  {:<10}  {}",
                        item.saga_id,
                        item.status.as_str(),
                        item.event_type,
                        item.attempts,
                        item.tenant_id,
                        item.last_error.as_deref().unwrap_or("")
                    )?;
                }
                writeln!(
                    out,
                    "page {} of {} failed saga(s), {} per page",
                    page.page, page.total_count, page.page_size
                )?;
            }
        }
        JobsCommand::Show { id } => {
            let Some(detail) = store.detail(*id).await? else {
                bail!("no saga {id}");
            };
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&detail)?)?;
            } else {
                show(&mut out, &detail)?;
            }
        }
        JobsCommand::Retry {
            id: Some(id),
            all_dead: false,
            ..
        } => {
            let saga = store.retry(*id).await?;
            writeln!(
                out,
                "saga {} is {} again (step {}), due {}",
                saga.saga_id,
                saga.status,
                saga.step,
                saga.next_run_at.to_rfc3339()
            )?;
        }
        JobsCommand::Retry {
            event_type,
            tenant,
            error,
            ..
        } => {
            let count = store
                .retry_dead(&RetryFilter {
                    event_type: event_type.clone(),
                    tenant_id: tenant.clone().map(Into::into),
                    error_contains: error.clone(),
                    ..RetryFilter::default()
                })
                .await?;
            writeln!(out, "{count} dead saga(s) queued again")?;
        }
        JobsCommand::Drain { state } => {
            let on = matches!(state, DrainState::On);
            store.set_draining(on).await?;
            let status = store.status().await?;
            writeln!(
                out,
                "draining {}; {} saga(s) in flight",
                if on { "on" } else { "off" },
                status.in_progress_count + status.compensating_count
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(out: &mut impl Write, detail: &SagaDetail) -> anyhow::Result<()> {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339())
    };
    writeln!(out, "saga            {}", detail.saga_id)?;
    writeln!(out, "tenant          {}", detail.tenant_id)?;
    writeln!(out, "type            {}", detail.event_type)?;
    writeln!(out, "idempotency key {}", detail.idempotency_key)?;
    writeln!(out, "summary         {}", detail.payload_summary)?;
    writeln!(
        out,
        "status          {} ({:?}, step {})",
        detail.status, detail.phase, detail.step
    )?;
    writeln!(out, "attempts        {}", detail.attempts)?;
    writeln!(out, "next run        {}", detail.next_run_at.to_rfc3339())?;
    if let Some(backoff) = detail.backoff_seconds {
        writeln!(out, "backoff         {backoff} s")?;
    }
    writeln!(
        out,
        "last error      {}",
        detail.last_error.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "created         {}", detail.created_at.to_rfc3339())?;
    writeln!(
        out,
        "started         {}",
        time(detail.processing_started_at)
    )?;
    writeln!(out, "processed       {}", time(detail.processed_at))?;
    if let Some(seconds) = detail.time_in_queue_seconds {
        writeln!(out, "time in queue   {seconds:.1} s")?;
    }
    writeln!(out, "state           {}", detail.saga_state)?;
    if let Some(result) = &detail.result_payload {
        writeln!(out, "result          {result}")?;
    }
    writeln!(out, "payload         {}", detail.payload)?;
    Ok(())
}
