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
mod prewarm;
mod progress;
mod schedule;

pub use engine::{StageReport, SyncEngine, SyncMode, SyncOptions, SyncReport};
pub use progress::{Progress, ProgressFn};
pub use schedule::{Schedule, ScheduledSync, Scheduler};

use erpbridge_provider::ProviderError;
use erpbridge_search::SearchError;
use erpbridge_store::StoreError;

/// Why a sync failed. The message of a wrapped error is part of this one's (it is what
/// a sync run records), so the wrapped errors are not also reported as `source()`:
/// error reporters that walk the chain would print each message twice.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("a sync of tenant `{0}` is already running")]
    Busy(String),
    #[error("provider: {0}")]
    Provider(ProviderError),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("search index: {0}")]
    Search(SearchError),
    #[error("the sync lock of tenant `{0}` was lost (lease expired); stopped")]
    LockLost(String),
    #[error("invalid schedule `{expression}`: {reason}")]
    Schedule { expression: String, reason: String },
    #[error("{0}")]
    Internal(String),
}

impl From<ProviderError> for SyncError {
    fn from(err: ProviderError) -> Self {
        SyncError::Provider(err)
    }
}

impl From<StoreError> for SyncError {
    fn from(err: StoreError) -> Self {
        SyncError::Store(err)
    }
}

impl From<SearchError> for SyncError {
    fn from(err: SearchError) -> Self {
        SyncError::Search(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_error_is_reported_once() {
        let err = SyncError::from(ProviderError::unavailable("the ERP is down"));
        // Walk the chain as error reporters (anyhow's `{:#}`, tracing) do.
        let mut chain = vec![err.to_string()];
        let mut next = std::error::Error::source(&err);
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        let text = chain.join(": ");
        assert_eq!(text.matches("the ERP is down").count(), 1, "{text}");
    }
}
