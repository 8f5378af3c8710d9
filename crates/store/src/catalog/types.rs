//! The values the catalog store takes and returns.

use erpbridge_model::{Article, CatalogRecord, ChangeCursor, EntityKind};
use serde::{Deserialize, Serialize};

/// The stages of a sync in the order they run. Categories come first so articles can be
/// indexed with their category names; customers are independent and come last.
pub const STAGES: [EntityKind; 3] = [
    EntityKind::Category,
    EntityKind::Article,
    EntityKind::Customer,
];

pub fn entity_name(entity: EntityKind) -> &'static str {
    match entity {
        EntityKind::Category => "category",
        EntityKind::Article => "article",
        EntityKind::Customer => "customer",
    }
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Inside a full snapshot; the cursor continues it (none: not started yet).
    Full,
    /// The snapshot is complete; what it did not see is being deleted.
    Sweep,
    /// Up to date as of the cursor (a high-water mark); the next run is a delta.
    Delta,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Full => "full",
            Phase::Sweep => "sweep",
            Phase::Delta => "delta",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(Phase::Full),
            "sweep" => Some(Phase::Sweep),
            "delta" => Some(Phase::Delta),
            _ => None,
        }
    }
}

/// A stage's checkpoint: phase, provider cursor, and the generation of the full sync
/// that the phase belongs to (the sweep deletes rows seen by an older generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub phase: Phase,
    pub cursor: Option<ChangeCursor>,
    pub generation: i64,
    /// The run that wrote it last.
    pub run_id: Option<String>,
}

/// One page of a catalog stream to write, with the checkpoint that follows it.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    pub tenant: &'a str,
    /// Which provider the records came from (kept in the id mapping).
    pub provider: &'a str,
    pub stage: EntityKind,
    pub records: &'a [CatalogRecord],
    /// Full-sync generation stamped on every record seen (see [`Checkpoint`]).
    pub generation: i64,
    /// Unix milliseconds recorded as "last synced".
    pub now_ms: i64,
    pub checkpoint: Checkpoint,
}

/// What one batch did. `upserted` lists `(index into records, local id)` of the articles
/// (or categories, customers) whose content was written; `deleted` the local ids removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub upserted: Vec<(usize, i64)>,
    pub deleted: Vec<i64>,
    /// Local ids among `upserted` that existed before (their old index document must go).
    pub replaced: Vec<i64>,
    /// Records whose row version was unchanged: only their mapping was touched.
    pub skipped: u64,
    /// The tenant's change sequence after the batch.
    pub seq: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    pub deleted: Vec<i64>,
    pub seq: i64,
}

/// An article as stored, with its local id and change sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredArticle {
    pub local_id: i64,
    /// The change sequence of the article's last write (from the index feed: of the
    /// entry that listed it).
    pub seq: i64,
    pub article: Article,
}

/// One page of the search index's feed ([`crate::catalog::CatalogStore::index_feed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFeedPage {
    pub articles: Vec<StoredArticle>,
    /// The sequence of the page's last entry, to read on after; `None`: the feed has
    /// nothing past `after`. (Not the last article's: entries of articles deleted since
    /// are skipped, and a page may even list none.)
    pub last_seq: Option<i64>,
}

/// Seed 002's `SyncRecord`: how one ERP record maps to a local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMapping {
    pub tenant: String,
    pub provider: String,
    pub entity: EntityKind,
    pub local_id: i64,
    pub erp_id: String,
    pub erp_row_version: u64,
    pub last_synced_ms: i64,
    pub seen_generation: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogCounts {
    pub articles: u64,
    pub attributes: u64,
    pub category_links: u64,
    pub images: u64,
    pub references: u64,
    pub categories: u64,
    pub customers: u64,
    pub mappings: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// One sync run as recorded: start, end, counts, error. A run that never finished (the
/// process died) stays `running` with no end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: String,
    pub tenant: String,
    /// `full` or `delta` (what was asked; stages may differ, e.g. a first delta is full).
    pub mode: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub status: RunStatus,
    pub upserted: u64,
    pub deleted: u64,
    pub skipped: u64,
    pub error: Option<String>,
}
