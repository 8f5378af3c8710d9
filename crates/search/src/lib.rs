//! Full-text search over the synced catalog: one embedded tantivy index per tenant.
//!
//! # Shape
//!
//! * [`SearchIndexes`] owns a directory (`<data dir>/search`) with one sub-directory per
//!   tenant and hands out one shared [`TenantIndex`] per tenant. Tenants never share an
//!   index, so a query of tenant A cannot see a document of tenant B.
//! * A document is an article: its number (as words and as one exact token), names,
//!   descriptions, attribute values, category ids (filter) and category names. Nothing is
//!   stored in the index's document store: a hit carries the local id and ERP id from
//!   fast columns, and callers load the article from the catalog store. That keeps the
//!   index small and a 1,000-hit page free of document-store reads.
//! * Paging is stable: hits are ordered by score, then local id, and the cursor is the
//!   last `(score, id)` pair, so a page never repeats or skips a hit of the same index
//!   snapshot ([`collect`]).
//!
//! # Matching and its cost
//!
//! A plain query is a list of words that must all match ([`query`]): each word as a
//! whole word in any text field (the parser's tokens and boosts), or inside a number or
//! name by its trigrams. Queries with syntax go to tantivy's query parser as they are.
//! What keeps a 1.5M-article catalog within a 30 ms p95:
//!
//! * a word's union holds only the fields that have it, as plain term postings, so a
//!   one-word query is scored by block-max WAND, which skips blocks that cannot enter
//!   the page — including blocks that would only tie the page's worst hit, when local
//!   ids ascend in the segment ([`collect::IdOrder`]);
//! * several words intersect, led by the rarest, through unions that seek their
//!   postings instead of walking them ([`matching`]);
//! * the total of a word query is counted exactly only up to
//!   [`IndexOptions::track_total_hits`] (10,000): beyond, [`SearchPage::total`] is a
//!   lower bound, said by [`SearchPage::total_relation`] ([`TotalRelation::AtLeast`]),
//!   and an intersection skips windows of matches whose block-max bound cannot enter
//!   the page. Listings, one-field words and phrases stay exact;
//! * a hit's ERP id comes from a per-segment decoded dictionary ([`erp_ids`]).
//!
//! `examples/search_bench.rs` runs the benchmark's query set against an index directory.
//!
//! # Consistency with the store
//!
//! The catalog store is the source of truth and gives every article write a per-tenant
//! change sequence. The index records, in each commit's payload, the sequence up to
//! which it contains every change ([`TenantIndex::committed_seq`]). The sync engine may
//! therefore commit the index less often than the store (a tantivy commit per batch
//! would dominate a 1.5M-article sync): after a crash the index is behind, never ahead,
//! and catching up is "re-index every change after the committed sequence" — the store
//! keeps deletions until the index has committed past them. An index whose payload is
//! ahead of the store belongs to another store and is rebuilt from scratch.

mod bounds;
mod collect;
mod doc;
mod erp_ids;
mod index;
mod matching;
mod query;

pub use collect::TotalRelation;
pub use doc::ArticleDoc;
pub use index::{IndexOptions, SearchHit, SearchIndexes, SearchPage, SearchRequest, TenantIndex};

/// Why a search or index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error("invalid tenant id `{0}` for an index directory")]
    InvalidTenant(String),
    #[error("invalid search cursor")]
    InvalidCursor,
    #[error("search index payload: {0}")]
    Payload(String),
    #[error("reading the search index ({what}): {message}")]
    Read { what: &'static str, message: String },
}
