//! The catalog store: master data copied from each tenant's ERP (articles with their
//! attributes, category links, images and references; categories; customers), the id
//! mapping between ERP ids and local ids (seed 002's `SyncRecord`), sync checkpoints,
//! sync runs and the per-tenant sync lock.
//!
//! # Shape
//!
//! * Every table is keyed by tenant first; every function takes the tenant.
//! * ERP ids map to per-tenant integer local ids in `catalog_ids`. Child rows hang off
//!   the local id, so 30 million attribute rows carry an integer, not an ERP id string.
//! * A sync writes through [`CatalogStore::apply_batch`]: one transaction per batch that
//!   upserts the records, applies tombstones, and advances the stage's checkpoint. The
//!   checkpoint therefore never runs ahead of the data it describes, and never lags it.
//! * Each article write or delete takes the tenant's next *change sequence* and appends
//!   an entry to the search index's feed (`catalog_index_feed`). The index records how
//!   far it got in its own commits and reads the feed past that point
//!   ([`CatalogStore::index_feed`], [`CatalogStore::index_deletions`]), so an index that
//!   fell behind (crash, lost directory) catches up from the store; entries it has
//!   committed are pruned ([`CatalogStore::prune_index_feed`]).
//! * Bulk writes are multi-row `INSERT ... ON CONFLICT` statements of fixed row counts,
//!   so the prepared statement is reused from the connection's cache. The SQL is written
//!   once ([`ops`]) with `$n` placeholders, which both SQLite and PostgreSQL accept, and
//!   compiled for each backend.

mod attribute_sets;
mod lock;
mod ops;
mod parts;
mod types;

pub use lock::SyncLock;
pub use types::*;

use erpbridge_model::{Article, Category, Customer, EntityKind};

use crate::Db;
use crate::error::StoreError;

/// The catalog half of the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    db: Db,
}

macro_rules! dispatch {
    ($self:ident, $f:ident ( $($arg:expr),* )) => {
        match &$self.db {
            Db::Sqlite(pool) => ops::sqlite::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => ops::postgres::$f(pool, $($arg),*).await,
        }
    };
}

impl CatalogStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes one page of a catalog stream and the checkpoint after it, atomically.
    pub async fn apply_batch(&self, batch: &Batch<'_>) -> Result<BatchOutcome, StoreError> {
        dispatch!(self, apply_batch(batch))
    }

    /// Reads what writing the records `ids` of `entity` will touch, so that a batch
    /// about to be applied finds its pages cached (SQLite; a no-op on PostgreSQL). Best
    /// effort and read-only: call it beside the writer, for the next batch.
    pub async fn prewarm(
        &self,
        tenant: &str,
        entity: EntityKind,
        ids: &[&str],
    ) -> Result<(), StoreError> {
        dispatch!(self, prewarm(tenant, entity, ids))
    }

    /// Deletes up to `limit` records of `entity` that the full sync of `generation` did
    /// not see. Returns what it deleted; an empty outcome means the sweep is done.
    pub async fn sweep_step(
        &self,
        tenant: &str,
        entity: EntityKind,
        generation: i64,
        limit: u32,
    ) -> Result<SweepOutcome, StoreError> {
        dispatch!(self, sweep_step(tenant, entity, generation, limit))
    }

    pub async fn checkpoint(
        &self,
        tenant: &str,
        stage: EntityKind,
    ) -> Result<Option<Checkpoint>, StoreError> {
        dispatch!(self, checkpoint(tenant, stage))
    }

    /// Sets a stage's checkpoint outside a batch (starting a full sync, finishing a sweep).
    pub async fn save_checkpoint(
        &self,
        tenant: &str,
        stage: EntityKind,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        dispatch!(self, save_checkpoint(tenant, stage, checkpoint))
    }

    /// The highest full-sync generation any stage of the tenant has used.
    pub async fn max_generation(&self, tenant: &str) -> Result<i64, StoreError> {
        dispatch!(self, max_generation(tenant))
    }

    /// Articles by local id (search hits), in the order asked; unknown ids are left out.
    pub async fn articles_by_local_ids(
        &self,
        tenant: &str,
        local_ids: &[i64],
    ) -> Result<Vec<StoredArticle>, StoreError> {
        dispatch!(self, articles_by_local_ids(tenant, local_ids))
    }

    /// One article by its ERP id.
    pub async fn article(&self, tenant: &str, erp_id: &str) -> Result<Option<Article>, StoreError> {
        dispatch!(self, article(tenant, erp_id))
    }

    /// Articles in ERP id order after `after` (exclusive): for exports and checksums.
    pub async fn articles_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        dispatch!(self, articles_page(tenant, after, limit))
    }

    pub async fn categories(&self, tenant: &str) -> Result<Vec<Category>, StoreError> {
        dispatch!(self, categories(tenant))
    }

    /// Customers in ERP id order after `after` (exclusive).
    pub async fn customers_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        dispatch!(self, customers_page(tenant, after, limit))
    }

    /// Row counts of every catalog table for one tenant.
    pub async fn counts(&self, tenant: &str) -> Result<CatalogCounts, StoreError> {
        dispatch!(self, counts(tenant))
    }

    /// How many records of `entity` the tenant has (from the id mapping).
    pub async fn entity_count(&self, tenant: &str, entity: EntityKind) -> Result<u64, StoreError> {
        dispatch!(self, entity_count(tenant, entity))
    }

    /// The id mapping of one record.
    pub async fn mapping(
        &self,
        tenant: &str,
        entity: EntityKind,
        erp_id: &str,
    ) -> Result<Option<SyncMapping>, StoreError> {
        dispatch!(self, mapping(tenant, entity, erp_id))
    }

    /// The latest change sequence taken by the tenant (0 when nothing was written).
    pub async fn current_seq(&self, tenant: &str) -> Result<i64, StoreError> {
        dispatch!(self, current_seq(tenant))
    }

    /// The search index's feed after change sequence `after` (at most `limit` entries):
    /// the articles written since, as stored now, ascending by their last entry's
    /// sequence. Page on with [`IndexFeedPage::last_seq`]; deleted articles are left out
    /// (see [`CatalogStore::index_deletions`]).
    pub async fn index_feed(
        &self,
        tenant: &str,
        after: i64,
        limit: u32,
    ) -> Result<IndexFeedPage, StoreError> {
        dispatch!(self, index_feed(tenant, after, limit))
    }

    /// Articles deleted after change sequence `after`: `(seq, local_id)` ascending.
    pub async fn index_deletions(
        &self,
        tenant: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        dispatch!(self, index_deletions(tenant, after, limit))
    }

    /// Forgets the feed entries the index has durably applied (up to and including
    /// `upto`), so the feed holds only what an index that fell behind still needs.
    pub async fn prune_index_feed(&self, tenant: &str, upto: i64) -> Result<(), StoreError> {
        dispatch!(self, prune_index_feed(tenant, upto))
    }

    /// The feed holds every entry after this sequence (what was pruned ends here). An
    /// index that committed less cannot catch up from the feed: rebuild it with
    /// [`CatalogStore::stored_articles_page`].
    pub async fn index_feed_start(&self, tenant: &str) -> Result<i64, StoreError> {
        dispatch!(self, index_feed_start(tenant))
    }

    /// Every article of the tenant in local id order after `after_local_id`: for
    /// rebuilding a search index.
    pub async fn stored_articles_page(
        &self,
        tenant: &str,
        after_local_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredArticle>, StoreError> {
        dispatch!(self, stored_articles_page(tenant, after_local_id, limit))
    }

    /// Records the start of a sync run.
    pub async fn start_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        dispatch!(self, start_run(run))
    }

    /// Records the end of a sync run (status, counts, error).
    pub async fn finish_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        dispatch!(self, finish_run(run))
    }

    /// The latest runs of a tenant, newest first.
    pub async fn runs(&self, tenant: &str, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        dispatch!(self, runs(tenant, limit))
    }

    /// Takes the tenant's sync lock, or returns `None` when another sync holds it (in this
    /// process or another). See [`SyncLock`].
    pub async fn try_lock_sync(&self, tenant: &str) -> Result<Option<SyncLock>, StoreError> {
        SyncLock::try_acquire(&self.db, tenant, lock::DEFAULT_LEASE).await
    }

    /// As [`Self::try_lock_sync`] with an explicit lease (SQLite; tests shorten it).
    pub async fn try_lock_sync_with_lease(
        &self,
        tenant: &str,
        lease: std::time::Duration,
    ) -> Result<Option<SyncLock>, StoreError> {
        SyncLock::try_acquire(&self.db, tenant, lease).await
    }
}
