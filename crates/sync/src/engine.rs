//! One sync run: lock, catch the index up, run the stages, record the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erpbridge_model::{CatalogRecord, ChangeCursor, EntityKind};
use erpbridge_provider::{CatalogPage, CatalogPageRequest, Provider, ProviderError};
use erpbridge_search::{ArticleDoc, SearchIndexes, TenantIndex};
use erpbridge_store::catalog::{
    Batch, CatalogStore, Checkpoint, Phase, RunStatus, STAGES, SyncLock, SyncRun, entity_name,
};
use futures::StreamExt as _;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::SyncError;
use crate::indexer::{CommitPolicy, IndexMsg, Indexer};
use crate::prewarm::Prewarm;
use crate::progress::{Meter, ProgressFn};

/// What a run is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// A new full snapshot of every stage, then a sweep. (A stage whose previous full
    /// sync was interrupted resumes that one instead of starting over.)
    Full,
    /// Changes since each stage's checkpoint; a stage without one gets a full sync.
    Delta,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Delta => "delta",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Records asked per provider page (the provider may cap it).
    pub page_size: u32,
    /// Pages fetched ahead while the store writes the current one.
    pub prefetch_pages: usize,
    /// Records deleted per sweep transaction.
    pub sweep_batch: u32,
    /// Commit the index after this many changed documents...
    pub index_commit_docs: u64,
    /// ...or this much time, whichever comes first (and at the end of every run).
    pub index_commit_interval: Duration,
    /// Retries of a failed page fetch (transient errors only), with doubling backoff.
    pub page_retries: u32,
    pub retry_backoff: Duration,
    /// Lease of the SQLite sync lock (renewed while the run lasts).
    pub lock_lease: Duration,
    /// Expected record counts per stage for progress ETAs (otherwise: the last sync's).
    pub total_hints: HashMap<EntityKind, u64>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            page_size: 1_000,
            prefetch_pages: 2,
            sweep_batch: 5_000,
            index_commit_docs: 500_000,
            index_commit_interval: Duration::from_secs(60),
            page_retries: 3,
            retry_backoff: Duration::from_millis(500),
            lock_lease: Duration::from_secs(60),
            total_hints: HashMap::new(),
        }
    }
}

/// What happened to one stage in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StageReport {
    pub stage: String,
    /// The phase the stage was in when the run reached it.
    pub started_in: String,
    pub pages: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub skipped: u64,
    /// Rows removed by the sweep after a full snapshot.
    pub swept: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub run_id: String,
    pub tenant: String,
    pub mode: SyncMode,
    pub stages: Vec<StageReport>,
    /// Articles re-indexed from the store before the run (the index had fallen behind).
    pub reindexed: u64,
    pub elapsed_ms: u64,
}

impl SyncReport {
    pub fn upserted(&self) -> u64 {
        self.stages.iter().map(|s| s.upserted).sum()
    }
    pub fn deleted(&self) -> u64 {
        self.stages.iter().map(|s| s.deleted + s.swept).sum()
    }
    pub fn skipped(&self) -> u64 {
        self.stages.iter().map(|s| s.skipped).sum()
    }
}

/// Runs syncs into one store and one set of indexes. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct SyncEngine {
    store: CatalogStore,
    indexes: Arc<SearchIndexes>,
    options: SyncOptions,
}

/// Aborts the fetch task when the run ends early.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct RunCtx<'a> {
    tenant: &'a str,
    provider: Arc<dyn Provider>,
    provider_name: &'a str,
    mode: SyncMode,
    run_id: &'a str,
    lock: &'a SyncLock,
    indexer: &'a Indexer,
    progress: Option<ProgressFn>,
}

impl SyncEngine {
    pub fn new(store: CatalogStore, indexes: Arc<SearchIndexes>, options: SyncOptions) -> Self {
        Self {
            store,
            indexes,
            options,
        }
    }

    pub fn store(&self) -> &CatalogStore {
        &self.store
    }

    pub fn indexes(&self) -> &Arc<SearchIndexes> {
        &self.indexes
    }

    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// Runs one sync of `tenant` against `provider` (named `provider_name` in the id
    /// mapping). Fails with [`SyncError::Busy`] when the tenant is already syncing.
    pub async fn run(
        &self,
        tenant: &str,
        provider: Arc<dyn Provider>,
        provider_name: &str,
        mode: SyncMode,
        progress: Option<ProgressFn>,
    ) -> Result<SyncReport, SyncError> {
        let lock = self
            .store
            .try_lock_sync_with_lease(tenant, self.options.lock_lease)
            .await?
            .ok_or_else(|| SyncError::Busy(tenant.to_owned()))?;
        let mut run = SyncRun {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.to_owned(),
            mode: mode.as_str().to_owned(),
            started_ms: now_ms(),
            finished_ms: None,
            status: RunStatus::Running,
            upserted: 0,
            deleted: 0,
            skipped: 0,
            error: None,
        };
        if let Err(err) = self.store.start_run(&run).await {
            let _ = lock.release().await;
            return Err(err.into());
        }
        let started = Instant::now();
        let result = self
            .run_locked(
                tenant,
                provider,
                provider_name,
                mode,
                progress,
                &lock,
                &run.id,
            )
            .await;
        run.finished_ms = Some(now_ms());
        match &result {
            Ok(stages) => {
                run.status = RunStatus::Succeeded;
                run.upserted = stages.0.iter().map(|s| s.upserted).sum();
                run.deleted = stages.0.iter().map(|s| s.deleted + s.swept).sum();
                run.skipped = stages.0.iter().map(|s| s.skipped).sum();
            }
            Err(err) => {
                run.status = RunStatus::Failed;
                run.error = Some(err.to_string());
            }
        }
        if let Err(err) = self.store.finish_run(&run).await {
            tracing::warn!(tenant, %err, "could not record the end of the sync run");
        }
        if let Err(err) = lock.release().await {
            tracing::warn!(tenant, %err, "could not release the sync lock");
        }
        let (stages, reindexed) = result?;
        Ok(SyncReport {
            run_id: run.id,
            tenant: tenant.to_owned(),
            mode,
            stages,
            reindexed,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_locked(
        &self,
        tenant: &str,
        provider: Arc<dyn Provider>,
        provider_name: &str,
        mode: SyncMode,
        progress: Option<ProgressFn>,
        lock: &SyncLock,
        run_id: &str,
    ) -> Result<(Vec<StageReport>, u64), SyncError> {
        let index = self.indexes.tenant(tenant)?;
        let reindexed = self.catch_up(tenant, &index).await?;
        let indexer = Indexer::start(
            index,
            CommitPolicy {
                every_docs: self.options.index_commit_docs,
                every: self.options.index_commit_interval,
            },
        );
        let ctx = RunCtx {
            tenant,
            provider,
            provider_name,
            mode,
            run_id,
            lock,
            indexer: &indexer,
            progress,
        };
        let result = self.stages(&ctx).await;
        // Commit whatever reached the index, also after a failure: every batch it holds
        // is committed in the store, so the committed sequence stays truthful.
        let flushed = match self.store.current_seq(tenant).await {
            Ok(seq) => match indexer.flush(seq).await {
                Ok(()) => self
                    .store
                    .prune_index_feed(tenant, seq)
                    .await
                    .map_err(SyncError::from),
                Err(err) => Err(SyncError::Internal(format!("index commit: {err}"))),
            },
            Err(err) => Err(err.into()),
        };
        indexer.stop().await;
        let stages = result?;
        flushed?;
        Ok((stages, reindexed))
    }

    async fn stages(&self, ctx: &RunCtx<'_>) -> Result<Vec<StageReport>, SyncError> {
        ctx.indexer
            .send(IndexMsg::Categories(Arc::new(
                self.category_names(ctx.tenant).await?,
            )))
            .await
            .map_err(SyncError::Internal)?;
        let mut reports = Vec::with_capacity(STAGES.len());
        for stage in STAGES {
            let seq_before = self.store.current_seq(ctx.tenant).await?;
            reports.push(self.stage(ctx, stage).await?);
            if stage == EntityKind::Category {
                ctx.indexer
                    .send(IndexMsg::Categories(Arc::new(
                        self.category_names(ctx.tenant).await?,
                    )))
                    .await
                    .map_err(SyncError::Internal)?;
                self.reindex_touched(ctx, seq_before).await?;
            }
        }
        Ok(reports)
    }

    /// Re-indexes the articles the category stage touched: the store gives every
    /// article of a renamed or deleted category a new sequence (their documents carry
    /// category names). Goes through the indexer so it stays in order with the batches.
    async fn reindex_touched(&self, ctx: &RunCtx<'_>, mut after: i64) -> Result<(), SyncError> {
        loop {
            let page = self.store.index_feed(ctx.tenant, after, 2_000).await?;
            let Some(last) = page.last_seq else {
                return Ok(());
            };
            after = last;
            let articles = page
                .articles
                .into_iter()
                .map(|r| (r.local_id, r.article))
                .collect();
            ctx.indexer
                .send(IndexMsg::Reindex {
                    articles,
                    seq: after,
                })
                .await
                .map_err(SyncError::Internal)?;
        }
    }

    async fn category_names(&self, tenant: &str) -> Result<HashMap<String, String>, SyncError> {
        Ok(self
            .store
            .categories(tenant)
            .await?
            .into_iter()
            .map(|c| {
                let names: Vec<String> = c.names.into_values().collect();
                (c.id.0, names.join(" "))
            })
            .collect())
    }

    async fn stage(&self, ctx: &RunCtx<'_>, stage: EntityKind) -> Result<StageReport, SyncError> {
        let tenant = ctx.tenant;
        let checkpoint = self.store.checkpoint(tenant, stage).await?;
        let resume =
            checkpoint.filter(|cp| cp.phase != Phase::Delta || ctx.mode == SyncMode::Delta);
        let Checkpoint {
            phase,
            cursor,
            generation,
            ..
        } = match resume {
            Some(cp) => cp,
            None => {
                let fresh = Checkpoint {
                    phase: Phase::Full,
                    cursor: None,
                    generation: self.store.max_generation(tenant).await? + 1,
                    run_id: Some(ctx.run_id.to_owned()),
                };
                self.store.save_checkpoint(tenant, stage, &fresh).await?;
                fresh
            }
        };
        let mut report = StageReport {
            stage: entity_name(stage).to_owned(),
            started_in: phase.as_str().to_owned(),
            ..StageReport::default()
        };
        let total = match self.options.total_hints.get(&stage) {
            Some(hint) => Some(*hint),
            None if phase == Phase::Full => match self.store.entity_count(tenant, stage).await? {
                0 => None,
                n => Some(n),
            },
            None => None,
        };
        let mut meter = Meter {
            tenant: tenant.to_owned(),
            stage,
            total,
            started: Instant::now(),
            rows: 0,
            sink: ctx.progress.clone(),
        };
        let mut hwm = cursor.clone();
        if phase != Phase::Sweep {
            hwm = self
                .stream(
                    ctx,
                    stage,
                    phase,
                    cursor,
                    generation,
                    &mut report,
                    &mut meter,
                )
                .await?;
        }
        if phase != Phase::Delta {
            let mut swept = 0;
            loop {
                if !ctx.lock.is_held() {
                    return Err(SyncError::LockLost(tenant.to_owned()));
                }
                let out = self
                    .store
                    .sweep_step(tenant, stage, generation, self.options.sweep_batch)
                    .await?;
                let n = out.deleted.len() as u64;
                swept += n;
                if stage == EntityKind::Article && n > 0 {
                    ctx.indexer
                        .send(IndexMsg::Delete {
                            local_ids: out.deleted,
                            seq: out.seq,
                        })
                        .await
                        .map_err(SyncError::Internal)?;
                }
                meter.report(Phase::Sweep, false);
                if n < u64::from(self.options.sweep_batch) {
                    break;
                }
            }
            report.swept = swept;
            self.store
                .save_checkpoint(
                    tenant,
                    stage,
                    &Checkpoint {
                        phase: Phase::Delta,
                        cursor: hwm,
                        generation,
                        run_id: Some(ctx.run_id.to_owned()),
                    },
                )
                .await?;
        }
        meter.report(Phase::Delta, true);
        Ok(report)
    }

    /// Streams pages from `cursor` to the end, each written with the checkpoint after it.
    /// Returns the last cursor (the high-water mark).
    #[allow(clippy::too_many_arguments)]
    async fn stream(
        &self,
        ctx: &RunCtx<'_>,
        stage: EntityKind,
        phase: Phase,
        cursor: Option<ChangeCursor>,
        generation: i64,
        report: &mut StageReport,
        meter: &mut Meter,
    ) -> Result<Option<ChangeCursor>, SyncError> {
        let (tx, mut rx) = mpsc::channel(self.options.prefetch_pages.max(1));
        // A delta's records are scattered over the store; a full sync's are mostly new.
        let prewarm = (phase == Phase::Delta)
            .then(|| Prewarm::new(self.store.clone(), ctx.tenant.to_owned(), stage));
        let _fetch = AbortOnDrop(tokio::spawn(fetch(
            ctx.provider.clone(),
            CatalogPageRequest {
                entity: stage,
                from: cursor.clone(),
                limit: self.options.page_size,
            },
            self.options.page_retries,
            self.options.retry_backoff,
            prewarm,
            tx,
        )));
        let mut last = cursor;
        let mut finished = false;
        while let Some(page) = rx.recv().await {
            let page: CatalogPage = page?;
            if !ctx.lock.is_held() {
                return Err(SyncError::LockLost(ctx.tenant.to_owned()));
            }
            let next_phase = if phase == Phase::Full && !page.has_more {
                Phase::Sweep
            } else {
                phase
            };
            let records: Arc<Vec<CatalogRecord>> = Arc::new(page.records);
            let outcome = self
                .store
                .apply_batch(&Batch {
                    tenant: ctx.tenant,
                    provider: ctx.provider_name,
                    stage,
                    records: &records,
                    generation,
                    now_ms: now_ms(),
                    checkpoint: Checkpoint {
                        phase: next_phase,
                        cursor: Some(page.next.clone()),
                        generation,
                        run_id: Some(ctx.run_id.to_owned()),
                    },
                })
                .await?;
            report.pages += 1;
            report.upserted += outcome.upserted.len() as u64;
            report.deleted += outcome.deleted.len() as u64;
            report.skipped += outcome.skipped;
            meter.rows += records.len() as u64;
            if stage == EntityKind::Article
                && (!outcome.upserted.is_empty() || !outcome.deleted.is_empty())
            {
                ctx.indexer
                    .send(IndexMsg::Batch {
                        records: records.clone(),
                        upserted: outcome.upserted,
                        replaced: outcome.replaced,
                        deleted: outcome.deleted,
                        seq: outcome.seq,
                    })
                    .await
                    .map_err(SyncError::Internal)?;
            }
            meter.report(phase, false);
            last = Some(page.next);
            if !page.has_more {
                finished = true;
                break;
            }
        }
        if !finished {
            return Err(SyncError::Internal(format!(
                "the provider's {} stream ended before its last page; the next run resumes",
                entity_name(stage)
            )));
        }
        Ok(last)
    }

    /// Brings the tenant's index up to the store: re-indexes every article written after
    /// the index's last commit and applies the deletions since. Returns the number of
    /// articles re-indexed. Runs at the start of every sync; call it at startup too.
    pub async fn catch_up_index(&self, tenant: &str) -> Result<u64, SyncError> {
        let index = self.indexes.tenant(tenant)?;
        self.catch_up(tenant, &index).await
    }

    async fn catch_up(&self, tenant: &str, index: &Arc<TenantIndex>) -> Result<u64, SyncError> {
        let store_seq = self.store.current_seq(tenant).await?;
        let mut from = index.committed_seq()?;
        if from > store_seq {
            tracing::warn!(
                tenant,
                index_seq = from,
                store_seq,
                "the search index is ahead of the store (another database?): rebuilding it"
            );
            let index = index.clone();
            blocking(move || index.clear()).await?;
            from = 0;
        }
        if from == store_seq {
            return Ok(0);
        }
        let categories = Arc::new(self.category_names(tenant).await?);
        let feed_start = self.store.index_feed_start(tenant).await?;
        if from < feed_start {
            return self
                .rebuild(tenant, index, from, store_seq, categories)
                .await;
        }
        tracing::info!(tenant, from, to = store_seq, "catching the search index up");
        let mut after = from;
        let mut reindexed = 0u64;
        loop {
            let page = self.store.index_feed(tenant, after, 2_000).await?;
            let Some(last) = page.last_seq else { break };
            after = last;
            let rows = page.articles;
            reindexed += rows.len() as u64;
            let index = index.clone();
            let categories = categories.clone();
            blocking(move || {
                let docs: Vec<ArticleDoc> = rows
                    .iter()
                    .map(|r| ArticleDoc::from_article(r.local_id as u64, &r.article, &categories))
                    .collect();
                index.upsert(&docs)
            })
            .await?;
        }
        let mut after = from;
        loop {
            let deletions = self.store.index_deletions(tenant, after, 10_000).await?;
            let Some(last) = deletions.last() else { break };
            after = last.0;
            let ids: Vec<u64> = deletions.iter().map(|(_, id)| *id as u64).collect();
            let index = index.clone();
            blocking(move || index.delete(&ids)).await?;
        }
        let committer = index.clone();
        blocking(move || committer.commit(store_seq)).await?;
        self.store.prune_index_feed(tenant, store_seq).await?;
        Ok(reindexed)
    }
}

impl SyncEngine {
    /// Re-indexes every article of the tenant into an emptied index: for an index
    /// behind the start of the feed (pruned past it), which the feed cannot bring up.
    async fn rebuild(
        &self,
        tenant: &str,
        index: &Arc<TenantIndex>,
        from: i64,
        store_seq: i64,
        categories: Arc<HashMap<String, String>>,
    ) -> Result<u64, SyncError> {
        tracing::info!(
            tenant,
            index_seq = from,
            store_seq,
            "the search index is behind the store's index feed: rebuilding it"
        );
        let cleared = index.clone();
        blocking(move || cleared.clear()).await?;
        let mut after = 0;
        let mut reindexed = 0u64;
        loop {
            let rows = self
                .store
                .stored_articles_page(tenant, after, 2_000)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.local_id;
            reindexed += rows.len() as u64;
            let index = index.clone();
            let categories = categories.clone();
            blocking(move || {
                let docs: Vec<ArticleDoc> = rows
                    .iter()
                    .map(|r| ArticleDoc::from_article(r.local_id as u64, &r.article, &categories))
                    .collect();
                index.upsert(&docs)
            })
            .await?;
        }
        let committer = index.clone();
        blocking(move || committer.commit(store_seq)).await?;
        self.store.prune_index_feed(tenant, store_seq).await?;
        Ok(reindexed)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, erpbridge_search::SearchError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| SyncError::Internal(format!("index task: {err}")))?
        .map_err(SyncError::from)
}

/// Fetches pages ahead into `tx`. A transient failure restarts the stream from the last
/// cursor received, after a backoff, up to `retries` times in a row.
async fn fetch(
    provider: Arc<dyn Provider>,
    request: CatalogPageRequest,
    retries: u32,
    backoff: Duration,
    prewarm: Option<Prewarm>,
    tx: mpsc::Sender<Result<CatalogPage, ProviderError>>,
) {
    let mut from = request.from.clone();
    let mut failures = 0u32;
    loop {
        let mut stream = provider.catalog_stream(CatalogPageRequest {
            from: from.clone(),
            ..request.clone()
        });
        loop {
            match stream.next().await {
                None => return,
                Some(Ok(page)) => {
                    failures = 0;
                    if let Some(prewarm) = &prewarm {
                        prewarm.start(&page);
                    }
                    from = Some(page.next.clone());
                    let more = page.has_more;
                    if tx.send(Ok(page)).await.is_err() || !more {
                        return;
                    }
                }
                Some(Err(err)) if err.is_retryable() && failures < retries => {
                    failures += 1;
                    let wait = backoff * 2u32.saturating_pow(failures - 1);
                    tracing::warn!(%err, attempt = failures, ?wait, "catalog page failed; retrying");
                    tokio::time::sleep(err.retry_after.unwrap_or(wait)).await;
                    break;
                }
                Some(Err(err)) => {
                    let _ = tx.send(Err(err)).await;
                    return;
                }
            }
        }
    }
}
