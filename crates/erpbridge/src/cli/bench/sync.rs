//! `erpbridge bench sync`: the master-data sync benchmark.
//!
//! A simulated ERP with N articles × M attributes is synced into a fresh store (SQLite
//! file in a temp directory, or a fresh PostgreSQL database) and search index; then one
//! change-feed tick touches ~10,000 articles and a delta sync applies it; then a fixed
//! query set is searched repeatedly, including queries with 1,000-hit pages. Reported:
//! full sync time and rows/s, peak RSS (`VmHWM`), store and index size, delta time,
//! search p50/p95.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use erpbridge_model::EntityKind;
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_search::{IndexOptions, SearchIndexes, SearchRequest};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_sync::{SyncEngine, SyncMode, SyncOptions, SyncReport};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Args)]
pub struct SyncBenchArgs {
    /// Articles in the simulated catalog.
    #[arg(long, default_value_t = 100_000)]
    pub articles: u64,
    /// Attributes per article.
    #[arg(long, default_value_t = 20)]
    pub attributes_per_article: u32,
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// PostgreSQL server for `--store postgres` (a fresh database is created on it and
    /// dropped afterwards). Default: `ERPBRIDGE_TEST_PG_URL`, then `DATABASE_URL`.
    #[arg(long)]
    pub pg_url: Option<String>,
    /// Articles the delta changes (one change-feed tick).
    #[arg(long, default_value_t = 10_000)]
    pub delta_articles: u64,
    /// Working directory (SQLite file, indexes). Default: a temp directory, removed after.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the store and index in `--dir` and, when they already hold a finished full
    /// sync of this catalog (same articles and attributes), skip the full sync and go
    /// straight to the delta: for iterating on delta and search at 1.5M articles, whose
    /// full sync takes minutes. Each run applies the sim's next change-feed tick.
    #[arg(long, requires = "dir")]
    pub reuse: bool,
    /// Search iterations per query (0: no search).
    #[arg(long, default_value_t = 30)]
    pub search_rounds: u32,
    /// Records asked per provider page: one store transaction each.
    #[arg(long, default_value_t = SyncOptions::default().page_size)]
    pub page_size: u32,
    /// Index writer threads.
    #[arg(long, default_value_t = 1)]
    pub index_threads: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    store: StoreKind,
    articles: u64,
    attributes_per_article: u32,
    full_sync_secs: f64,
    full_sync_rows: u64,
    full_sync_rows_per_sec: f64,
    full_sync_articles_per_sec: f64,
    peak_rss_mib: f64,
    store_size_mib: Option<f64>,
    index_size_mib: f64,
    delta_articles_changed: u64,
    delta_secs: f64,
    search_queries: usize,
    search_samples: usize,
    search_p50_ms: f64,
    search_p95_ms: f64,
    search_max_ms: f64,
    search_1000_p95_ms: f64,
    queries: Vec<QueryFigure>,
}

#[derive(Debug, Serialize)]
struct QueryFigure {
    query: String,
    category: Option<String>,
    limit: usize,
    total: u64,
    /// "eq", or "gte" when `total` is a lower bound (single words past 10,000 hits).
    total_relation: &'static str,
    returned: usize,
    p50_ms: f64,
    p95_ms: f64,
}

pub fn run(args: SyncBenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let figures = runtime.block_on(bench(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print_table(&figures);
    }
    Ok(ExitCode::SUCCESS)
}

const TENANT: &str = "bench";

async fn bench(args: &SyncBenchArgs) -> anyhow::Result<Figures> {
    let temp;
    let dir: PathBuf = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temp directory")?;
            temp.path().to_owned()
        }
    };
    anyhow::ensure!(
        !(args.reuse && args.store == StoreKind::Postgres),
        "--reuse keeps a SQLite store; the PostgreSQL bench database is dropped after each run"
    );
    let (db, pg_cleanup) = open_store(args, &dir).await?;
    let reused = match args.reuse {
        true => ReuseState::load(&dir, args),
        false => None,
    };
    db.migrate().await.context("migrating the store")?;

    let change_percent =
        (args.delta_articles as f64 / args.articles.max(1) as f64 * 100.0).min(100.0);
    let sim = erpbridge_sim::Sim::new(erpbridge_sim::SimConfig {
        attributes_per_article: args.attributes_per_article,
        change_percent_per_tick: change_percent,
        ..erpbridge_sim::SimConfig::fast(args.articles)
    })
    .map_err(|err| anyhow::anyhow!("{err}"))?;
    let categories = u64::from(sim.config().categories);
    let customers = u64::from(sim.config().customers);
    let provider: Arc<dyn Provider> = Arc::new(
        HostedProvider::start(sim.factory(), RuntimeOptions::default())
            .map_err(|err| anyhow::anyhow!("{err}"))?,
    );
    let index_dir = dir.join("search");
    let indexes = Arc::new(SearchIndexes::new(
        &index_dir,
        IndexOptions {
            writer_threads: args.index_threads.max(1),
            ..IndexOptions::default()
        },
    ));
    let engine = SyncEngine::new(
        CatalogStore::new(db.clone()),
        indexes.clone(),
        SyncOptions {
            total_hints: HashMap::from([
                (EntityKind::Article, args.articles),
                (EntityKind::Category, categories),
                (EntityKind::Customer, customers),
            ]),
            page_size: args.page_size,
            ..SyncOptions::default()
        },
    );

    let full_rows =
        args.articles * (1 + u64::from(args.attributes_per_article)) + categories + customers;
    let (full_secs, mut state) = match reused {
        Some(state) => {
            eprintln!(
                "bench sync: reusing the store in {} (full sync {:.1} s, {} change ticks applied)",
                dir.display(),
                state.full_sync_secs,
                state.ticks
            );
            sim.advance(state.ticks);
            (state.full_sync_secs, state)
        }
        None => {
            eprintln!(
                "bench sync: full sync of {} articles × {} attributes into {:?}...",
                args.articles, args.attributes_per_article, args.store
            );
            let started = Instant::now();
            let full = engine
                .run(
                    TENANT,
                    provider.clone(),
                    "sim",
                    SyncMode::Full,
                    Some(log_progress()),
                )
                .await
                .context("full sync")?;
            let full_secs = started.elapsed().as_secs_f64();
            check_full(&full, args)?;
            let state = ReuseState {
                articles: args.articles,
                attributes_per_article: args.attributes_per_article,
                full_sync_secs: full_secs,
                ticks: 0,
            };
            state.save(&dir)?;
            (full_secs, state)
        }
    };

    // Scheduled syncs of a tenant are minutes apart, and the store's background
    // checkpointer copies the WAL once writes pause; without this the delta would start
    // on the full sync's uncheckpointed WAL, which no hub delta does.
    checkpoint_wal(&db).await?;
    let tick = state.ticks;
    sim.advance(1);
    let changed = sim.changed_article_ids(tick, tick + 1).len() as u64;
    eprintln!("bench sync: delta of {changed} changed articles...");
    let started = Instant::now();
    let delta = engine
        .run(TENANT, provider.clone(), "sim", SyncMode::Delta, None)
        .await
        .context("delta sync")?;
    let delta_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        delta.stages[1].upserted + delta.stages[1].deleted == changed,
        "the delta applied {} + {} changes, the feed has {changed}",
        delta.stages[1].upserted,
        delta.stages[1].deleted
    );
    state.ticks += 1;
    state.save(&dir)?;

    eprintln!("bench sync: searching...");
    let index = indexes.tenant(TENANT)?;
    let queries = match args.search_rounds {
        0 => Vec::new(),
        _ => query_set(&sim),
    };
    let mut all = Vec::new();
    let mut big = Vec::new();
    let mut figures_q = Vec::new();
    for request in &queries {
        // One warm-up, as a running hub is warm.
        let page = index.search(request)?;
        let mut samples = Vec::with_capacity(args.search_rounds as usize);
        for _ in 0..args.search_rounds {
            let t = Instant::now();
            let page = index.search(request)?;
            samples.push(t.elapsed());
            std::hint::black_box(page);
        }
        samples.sort();
        all.extend(samples.iter().copied());
        if request.limit >= 1_000 {
            big.extend(samples.iter().copied());
        }
        figures_q.push(QueryFigure {
            query: request.query.clone(),
            category: request.category.clone(),
            limit: request.limit,
            total: page.total,
            total_relation: page.total_relation.as_str(),
            returned: page.hits.len(),
            p50_ms: ms(percentile(&samples, 0.50)),
            p95_ms: ms(percentile(&samples, 0.95)),
        });
    }
    all.sort();
    big.sort();

    let store_size = match args.store {
        StoreKind::Sqlite => {
            Some(dir_size(&dir.join("store.sqlite-wal")) + dir_size(&dir.join("store.sqlite")))
        }
        StoreKind::Postgres => None,
    };
    let figures = Figures {
        store: args.store,
        articles: args.articles,
        attributes_per_article: args.attributes_per_article,
        full_sync_secs: full_secs,
        full_sync_rows: full_rows,
        full_sync_rows_per_sec: full_rows as f64 / full_secs,
        full_sync_articles_per_sec: args.articles as f64 / full_secs,
        peak_rss_mib: peak_rss_kib() as f64 / 1024.0,
        store_size_mib: store_size.map(|b| b as f64 / 1_048_576.0),
        index_size_mib: dir_size(&index_dir) as f64 / 1_048_576.0,
        delta_articles_changed: changed,
        delta_secs,
        search_queries: queries.len(),
        search_samples: all.len(),
        search_p50_ms: ms(percentile(&all, 0.50)),
        search_p95_ms: ms(percentile(&all, 0.95)),
        search_max_ms: ms(all.last().copied().unwrap_or_default()),
        search_1000_p95_ms: ms(percentile(&big, 0.95)),
        queries: figures_q,
    };
    drop(engine);
    drop(index);
    drop(indexes);
    // Before exiting, as between the runs: a `--reuse` run starts from a checkpointed file.
    checkpoint_wal(&db).await?;
    db_close(db).await;
    if let Some(cleanup) = pg_cleanup {
        cleanup.await;
    }
    Ok(figures)
}

/// What `--reuse` finds in the directory: the catalog that was synced there and how many
/// change-feed ticks have been applied since (the sim is deterministic, so advancing a
/// fresh one by as many ticks reproduces the ERP the store last synced from).
#[derive(Debug, Serialize, serde::Deserialize)]
struct ReuseState {
    articles: u64,
    attributes_per_article: u32,
    full_sync_secs: f64,
    ticks: u32,
}

impl ReuseState {
    const FILE: &str = "bench-sync.json";

    fn load(dir: &Path, args: &SyncBenchArgs) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(Self::FILE)).ok()?;
        let state: Self = serde_json::from_str(&text).ok()?;
        (state.articles == args.articles
            && state.attributes_per_article == args.attributes_per_article)
            .then_some(state)
    }

    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(dir.join(Self::FILE), serde_json::to_vec_pretty(self)?)
            .context("writing the bench state file")
    }
}

fn check_full(report: &SyncReport, args: &SyncBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        report.stages[1].upserted == args.articles,
        "the full sync wrote {} articles, expected {}",
        report.stages[1].upserted,
        args.articles
    );
    Ok(())
}

type Cleanup = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

async fn open_store(args: &SyncBenchArgs, dir: &Path) -> anyhow::Result<(Db, Option<Cleanup>)> {
    match args.store {
        StoreKind::Sqlite => {
            // The catalog can always be re-synced from the ERP: `Normal` durability (WAL,
            // survives a process crash) is what a catalog store should run with.
            let db = Db::open_sqlite(&dir.join("store.sqlite"), SqliteDurability::Normal).await?;
            Ok((db, None))
        }
        StoreKind::Postgres => {
            let base = args
                .pg_url
                .clone()
                .or_else(|| std::env::var("ERPBRIDGE_TEST_PG_URL").ok())
                .or_else(|| std::env::var("DATABASE_URL").ok())
                .context(
                    "--store postgres needs --pg-url (or ERPBRIDGE_TEST_PG_URL / DATABASE_URL)",
                )?;
            let name = format!("erpbridge_bench_{}", std::process::id());
            let admin = Db::open_postgres(&base, 1).await?;
            let Db::Postgres(pool) = &admin else {
                anyhow::bail!("not a PostgreSQL URL")
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await
                .context("creating the bench database")?;
            let mut url = url::Url::parse(&base).context("parsing the PostgreSQL URL")?;
            url.set_path(&format!("/{name}"));
            let db = Db::open_postgres(url.as_str(), 8).await?;
            let cleanup: Cleanup = Box::pin(async move {
                if let Db::Postgres(pool) = &admin {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name}"
                    )))
                    .execute(pool)
                    .await;
                }
            });
            Ok((db, Some(cleanup)))
        }
    }
}

/// Copies a SQLite WAL into the database file and empties it (no-op on PostgreSQL).
async fn checkpoint_wal(db: &Db) -> anyhow::Result<()> {
    if let Db::Sqlite(pool) = db {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .context("checkpointing the SQLite WAL")?;
    }
    Ok(())
}

async fn db_close(db: Db) {
    match db {
        Db::Sqlite(pool) => pool.close().await,
        Db::Postgres(pool) => pool.close().await,
    }
}

/// The fixed query set: common words (thousands of hits, 20- and 1,000-hit pages),
/// two-word queries, an exact article number, a name, and category-filtered queries.
fn query_set(sim: &erpbridge_sim::Sim) -> Vec<SearchRequest> {
    let sample = sim
        .article(&"A00000042".into())
        .or_else(|| sim.article(&"A00000001".into()));
    let mut requests = Vec::new();
    let mut add = |query: &str, category: Option<String>, limit: usize| {
        requests.push(SearchRequest {
            query: query.to_owned(),
            category,
            limit,
            cursor: None,
        });
    };
    if let Some(article) = &sample {
        add(&article.number, None, 20);
        if let Some(name) = article.names.get("de") {
            add(name, None, 20);
        }
        let noun = article
            .names
            .get("de")
            .and_then(|n| n.split_whitespace().next())
            .unwrap_or("Schraube")
            .to_owned();
        add(&noun, None, 20);
        add(&noun, None, 1_000);
        let category = article.categories.first().map(|c| c.0.clone());
        add(&noun, category.clone(), 20);
        add("", category, 1_000);
        if let Some(desc) = article.descriptions.get("en") {
            let two: Vec<&str> = desc.split_whitespace().take(2).collect();
            add(&two.join(" "), None, 1_000);
        }
    }
    add("stahl", None, 20);
    add("steel", None, 1_000);
    // Two common words together: an intersection of two long posting lists (one
    // article in eight is stainless, most of the rest is other steel).
    add("stainless steel", None, 20);
    add("series", None, 1_000);
    requests
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| dir_size(&e.path()))
                    .sum()
            })
            .unwrap_or(0),
        _ => 0,
    }
}

fn log_progress() -> erpbridge_sync::ProgressFn {
    let last = std::sync::Mutex::new(Instant::now());
    Arc::new(move |p: &erpbridge_sync::Progress| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if p.done || last.elapsed() >= Duration::from_secs(10) {
            *last = Instant::now();
            eprintln!(
                "  {:?} {}: {} rows, {:.0} rows/s{}",
                p.stage,
                p.phase.as_str(),
                p.rows,
                p.rate,
                p.eta
                    .map(|e| format!(", ETA {}s", e.as_secs()))
                    .unwrap_or_default()
            );
        }
    })
}

fn print_table(f: &Figures) {
    println!(
        "erpbridge bench sync ({:?}, {} articles × {} attributes)",
        f.store, f.articles, f.attributes_per_article
    );
    println!(
        "  full sync            {:>10.1} s   ({:.0} rows/s, {:.0} articles/s)",
        f.full_sync_secs, f.full_sync_rows_per_sec, f.full_sync_articles_per_sec
    );
    println!("  peak RSS             {:>10.0} MiB", f.peak_rss_mib);
    if let Some(size) = f.store_size_mib {
        println!("  store size           {size:>10.0} MiB");
    }
    println!("  index size           {:>10.0} MiB", f.index_size_mib);
    println!(
        "  delta ({} changed) {:>10.2} s",
        f.delta_articles_changed, f.delta_secs
    );
    println!(
        "  search p50 / p95     {:>10.2} / {:.2} ms  (max {:.2} ms, {} samples)",
        f.search_p50_ms, f.search_p95_ms, f.search_max_ms, f.search_samples
    );
    println!(
        "  search p95, 1000-hit pages {:>4.2} ms",
        f.search_1000_p95_ms
    );
    for q in &f.queries {
        println!(
            "    {:<40} cat={:<8} limit={:<5} total={:<8} p50={:.2}ms p95={:.2}ms",
            format!("{:?}", q.query),
            q.category.as_deref().unwrap_or("-"),
            q.limit,
            format!(
                "{}{}",
                q.total,
                if q.total_relation == "gte" { "+" } else { "" }
            ),
            q.p50_ms,
            q.p95_ms
        );
    }
}
