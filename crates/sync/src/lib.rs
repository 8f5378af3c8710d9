//! The master-data sync engine: copies each tenant's catalog out of its ERP into the
//! catalog store ([`erpbridge_store::catalog`]) and the search index
//! ([`erpbridge_search`]), fully or by delta, resumably.
//!
//! # A run
//!
//! ```text
//!  provider ──pages──► [bounded channel] ──► store: one transaction per page ──► indexer thread
//!  (fetch task)          (prefetch N)          records + checkpoint together      (tantivy, commits
//!                                                                                   every N docs / s)
//! ```
//!
//! * **Staged**: categories, then articles (each article with its attributes, category
//!   links, images and references, written in that order in the page's transaction),
//!   then customers ([`erpbridge_store::catalog::STAGES`]). Categories go first so that
//!   article documents carry their category names.
//! * **Checkpoint never ahead of data**: the cursor after a page is written in the same
//!   transaction as the page. A crash (SIGKILL included) loses either both or neither;
//!   the next run asks the provider for the records after the committed cursor, so
//!   nothing is skipped and nothing applied twice.
//! * **Full sync and sweep**: a full sync stamps every record it sees with a new
//!   generation; when the snapshot is complete the stage moves to `sweep`, which deletes
//!   what the snapshot did not contain (the ERP dropped it), then to `delta` with the
//!   snapshot's high-water cursor. An interrupted full sync resumes with its generation.
//! * **Delta**: continues from the high-water cursor; tombstones delete.
//! * **Index invariant** (the one this crate relies on): the index may lag the store, but
//!   it is rebuildable from it. Each index commit records the store change sequence it
//!   covers; at the start of every run (and from [`SyncEngine::catch_up_index`]) the
//!   engine re-indexes every article changed after that sequence and applies the
//!   deletions the store kept for it. So tantivy commits need not follow every page
//!   (which would dominate a 1.5M-article sync), and a crash costs re-indexing at most
//!   one commit interval.
//! * **One sync per tenant**: the store's sync lock (advisory lock on PostgreSQL, lease row
//!   on SQLite) is held for the whole run; a second run gets [`SyncError::Busy`].
//! * Every run is recorded (`sync_runs`: start, end, counts, error) and reports
//!   [`Progress`] through a callback.
//!
//! [`Scheduler`] starts runs per tenant on an interval or a cron expression.

pub mod checksum;
mod engine;
mod indexer;
mod progress;
mod schedule;

pub use engine::{StageReport, SyncEngine, SyncMode, SyncOptions, SyncReport};
pub use progress::{Progress, ProgressFn};
pub use schedule::{Schedule, ScheduledSync, Scheduler};

use erpbridge_provider::ProviderError;
use erpbridge_search::SearchError;
use erpbridge_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("a sync of tenant `{0}` is already running")]
    Busy(String),
    #[error("provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Search(#[from] SearchError),
    #[error("the sync lock of tenant `{0}` was lost (lease expired); stopped")]
    LockLost(String),
    #[error("invalid schedule `{expression}`: {reason}")]
    Schedule { expression: String, reason: String },
    #[error("{0}")]
    Internal(String),
}
