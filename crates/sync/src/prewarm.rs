//! Reading ahead, during a delta, the stored rows that the next pages will rewrite.
//!
//! A delta's changed articles are scattered over the whole store file. Once the OS has
//! let the file go cold, the writer pays several synchronous random reads per article
//! (id mapping, article row, attribute row and its key): 10k changed articles of a
//! 1.5M-article SQLite store took 4.7–5.9 s cold against ~1.0 s warm. While the writer
//! works on one page, [`CatalogStore::prewarm`] reads the next page's rows on pooled
//! read connections, several at once, so the writer finds them in the page cache.
//!
//! On a warm file the same reads are pure CPU that the writer and the indexer need (two
//! cores here): +0.3–0.5 s on a 1.0 s delta. So each page's read is timed; once reads
//! run at page-cache speed the next pages are left alone, and every
//! [`PROBE_EVERY`]th page is read again to notice a file that went cold.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use erpbridge_model::{CatalogRecord, EntityKind};
use erpbridge_provider::CatalogPage;
use erpbridge_store::catalog::CatalogStore;
use tokio::sync::Semaphore;

/// Per id, a read slower than this came from the disk: keep reading ahead. Measured at
/// 1.5M articles: 40–60 µs per id from the page cache (beside a busy writer and
/// indexer), 230–480 µs from the disk.
const COLD_PER_ID: Duration = Duration::from_micros(120);

/// While warm, one page in this many is read anyway.
pub(crate) const PROBE_EVERY: u32 = 8;

pub(crate) struct Prewarm {
    store: CatalogStore,
    tenant: String,
    entity: EntityKind,
    state: Arc<State>,
}

struct State {
    /// One page's read at a time: reads of several pages at once only compete with
    /// each other and with the writer, and their timing no longer says cold or warm.
    turn: Semaphore,
    /// Whether the last timed read ran at page-cache speed (1) or not (0).
    warm: AtomicU32,
    /// Pages let go since the last read.
    skipped: AtomicU32,
}

impl Prewarm {
    pub(crate) fn new(store: CatalogStore, tenant: String, entity: EntityKind) -> Self {
        Prewarm {
            store,
            tenant,
            entity,
            state: Arc::new(State {
                turn: Semaphore::new(1),
                warm: AtomicU32::new(0),
                skipped: AtomicU32::new(0),
            }),
        }
    }

    /// Starts reading `page`'s stored rows beside the writer, which is still busy with
    /// the pages before it, unless the file is warm. Not awaited nor aborted: it is
    /// read-only and short, and it must not die with the fetch task that sent the
    /// stream's last page. A failure only leaves the writer to read cold pages itself.
    pub(crate) fn start(&self, page: &CatalogPage) {
        let ids: Vec<String> = page
            .records
            .iter()
            .map(|r| record_id(r).to_owned())
            .collect();
        if ids.is_empty() {
            return;
        }
        let store = self.store.clone();
        let tenant = self.tenant.clone();
        let entity = self.entity;
        let state = self.state.clone();
        tokio::spawn(async move {
            let Ok(_turn) = state.turn.acquire().await else {
                return;
            };
            // Decided at its turn, not when fetched: the read before it has timed the
            // file by then (the fetch runs several pages ahead of the reads).
            if !state.due() {
                return;
            }
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let started = Instant::now();
            match store.prewarm(&tenant, entity, &ids).await {
                Ok(()) => {
                    let per_id = started.elapsed() / ids.len() as u32;
                    let warm = u32::from(per_id < COLD_PER_ID);
                    state.warm.store(warm, Ordering::Relaxed);
                }
                Err(err) => tracing::debug!(tenant, %err, "reading a page's rows ahead failed"),
            }
        });
    }
}

impl State {
    /// Whether this page is to be read ahead: always while the file reads cold; while
    /// warm, one page in [`PROBE_EVERY`].
    fn due(&self) -> bool {
        if self.warm.load(Ordering::Relaxed) == 0 {
            return true;
        }
        let skipped = self.skipped.fetch_add(1, Ordering::Relaxed) + 1;
        if skipped >= PROBE_EVERY {
            self.skipped.store(0, Ordering::Relaxed);
            return true;
        }
        false
    }
}

fn record_id(record: &CatalogRecord) -> &str {
    match record {
        CatalogRecord::Article(a) => a.id.as_str(),
        CatalogRecord::Category(c) => c.id.as_str(),
        CatalogRecord::Customer(c) => c.id.as_str(),
        CatalogRecord::Deleted { id, .. } => id,
    }
}
