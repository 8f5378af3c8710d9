//! Opening, writing and querying the per-tenant indexes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, NgramTokenizer, RawTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::SearchError;
use crate::collect::{IdOrders, Page, TotalRelation};
use crate::doc::ArticleDoc;
use crate::erp_ids::ErpIds;
use crate::query::Planner;

const EXACT_TOKENIZER: &str = "raw_lower";
const GRAMS_TOKENIZER: &str = "trigrams_lower";
/// A word gets infix matching only if its rarest trigram is in at most this many
/// documents. Intersecting trigrams that every other article has ("ser", "eri", "rie"
/// of "Serie") means walking most of the catalog, which cost a 1.5M-article search a
/// quarter of a second; and a fragment that common is a common word of the catalog,
/// which whole-word matching already finds.
const INFIX_MAX_DOCS: u64 = 50_000;
/// Totals that need counting are exact up to this many matches (Elasticsearch's default
/// `track_total_hits`).
const TRACK_TOTAL_HITS: u64 = 10_000;
/// Boosts of the fields a word is looked up in: an exact article number first, then
/// number words, then names.
const NUMBER_EXACT_BOOST: f32 = 8.0;
const NUMBER_BOOST: f32 = 3.0;
const NAMES_BOOST: f32 = 2.0;

/// Tuning of index writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Indexing threads per tenant writer.
    pub writer_threads: usize,
    /// Memory budget of a writer, all threads together (tantivy flushes a segment when
    /// it is reached).
    pub writer_memory: usize,
    /// Words whose rarest trigram is in more documents than this get no infix
    /// matching: the intersection would walk much of the catalog. Default 50,000.
    pub infix_max_docs: u64,
    /// Where counting matches is extra work (word queries, whose top hits are found
    /// without visiting every match), the total is exact up to this many matches and a
    /// lower bound beyond ([`TotalRelation::AtLeast`]). Default 10,000; `u64::MAX`
    /// counts everything (and scores every match of several words).
    pub track_total_hits: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            writer_threads: 1,
            writer_memory: 200 * 1024 * 1024,
            infix_max_docs: INFIX_MAX_DOCS,
            track_total_hits: TRACK_TOTAL_HITS,
        }
    }
}

/// The index directory of all tenants.
#[derive(Debug)]
pub struct SearchIndexes {
    root: PathBuf,
    options: IndexOptions,
    open: Mutex<HashMap<String, Arc<TenantIndex>>>,
}

impl SearchIndexes {
    pub fn new(root: impl Into<PathBuf>, options: IndexOptions) -> Self {
        Self {
            root: root.into(),
            options,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The tenant's index, opened (or created) on first use and shared afterwards.
    pub fn tenant(&self, tenant: &str) -> Result<Arc<TenantIndex>, SearchError> {
        let mut open = lock(&self.open);
        if let Some(index) = open.get(tenant) {
            return Ok(index.clone());
        }
        let index = Arc::new(TenantIndex::open(
            &self.tenant_dir(tenant)?,
            tenant,
            self.options,
        )?);
        open.insert(tenant.to_owned(), index.clone());
        Ok(index)
    }

    /// The directory of a tenant's index. Tenant ids become path components, so only
    /// plain ones are accepted.
    pub fn tenant_dir(&self, tenant: &str) -> Result<PathBuf, SearchError> {
        let plain = !tenant.is_empty()
            && tenant.len() <= 128
            && !tenant.starts_with('.')
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return Err(SearchError::InvalidTenant(tenant.to_owned()));
        }
        Ok(self.root.join(tenant))
    }

    /// Deletes a tenant's index from disk (it is rebuilt from the store on next use).
    pub fn drop_tenant(&self, tenant: &str) -> Result<(), SearchError> {
        let dir = self.tenant_dir(tenant)?;
        lock(&self.open).remove(tenant);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|err| SearchError::Directory {
                path: dir.display().to_string(),
                message: err.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Empties an index directory (keeping the directory itself).
fn clear_dir(dir: &Path) -> Result<(), SearchError> {
    let fail = |err: std::io::Error| SearchError::Directory {
        path: dir.display().to_string(),
        message: err.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let path = entry.map_err(fail)?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(fail)?;
        } else {
            std::fs::remove_file(&path).map_err(fail)?;
        }
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the map/writer intact; keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    erp_id: Field,
    number: Field,
    number_exact: Field,
    names: Field,
    descriptions: Field,
    attributes: Field,
    category: Field,
    category_names: Field,
    /// Trigrams of number and names: finds a word inside a compound ("schraube" in
    /// "Sechskantschraube"), which German catalogs are full of, and prefixes as typed.
    grams: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(EXACT_TOKENIZER)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        id: builder.add_u64_field("id", INDEXED | FAST),
        erp_id: builder.add_text_field("erp_id", STRING | FAST),
        number: builder.add_text_field("number", text.clone()),
        number_exact: builder.add_text_field("number_exact", exact),
        names: builder.add_text_field("names", text.clone()),
        descriptions: builder.add_text_field("descriptions", text.clone()),
        attributes: builder.add_text_field("attributes", text.clone()),
        category: builder.add_text_field("category", STRING),
        category_names: builder.add_text_field("category_names", text),
        grams: builder.add_text_field(
            "grams",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(GRAMS_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
    };
    (builder.build(), fields)
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    /// Every store change up to this sequence is in the index.
    seq: i64,
}

/// A search request. `cursor` is the `next_cursor` of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// Words to look for (tantivy query syntax, parsed leniently); empty matches all.
    pub query: String,
    /// Only articles in this category id.
    pub category: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub local_id: u64,
    pub erp_id: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Matches of the query in all pages: all of them when `total_relation` is
    /// [`TotalRelation::Exact`], a lower bound when it is [`TotalRelation::AtLeast`]
    /// (see [`IndexOptions::track_total_hits`]).
    pub total: u64,
    pub total_relation: TotalRelation,
    /// Present when more hits follow this page.
    pub next_cursor: Option<String>,
}

/// One tenant's index: a reader for queries and, once something is written, a writer.
pub struct TenantIndex {
    tenant: String,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    /// The fields a plain word is looked up in, with their boosts, in scoring order.
    text_fields: [(Field, f32); 5],
    options: IndexOptions,
    id_orders: IdOrders,
    erp_ids: ErpIds,
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
}

impl std::fmt::Debug for TenantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantIndex")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl TenantIndex {
    fn open(dir: &Path, tenant: &str, options: IndexOptions) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(|err| SearchError::Directory {
            path: dir.display().to_string(),
            message: err.to_string(),
        })?;
        let directory = MmapDirectory::open(dir).map_err(|err| SearchError::Directory {
            path: dir.display().to_string(),
            message: err.to_string(),
        })?;
        let (schema, fields) = schema();
        let index = match Index::open_or_create(directory, schema.clone()) {
            Err(tantivy::TantivyError::SchemaError(why)) => {
                // An index from an older release: the store is the source of truth, so
                // start empty and let the catch-up rebuild it (its payload seq is 0).
                tracing::warn!(tenant, %why, "search index schema changed: rebuilding it from the store");
                clear_dir(dir)?;
                let directory = MmapDirectory::open(dir).map_err(|err| SearchError::Directory {
                    path: dir.display().to_string(),
                    message: err.to_string(),
                })?;
                Index::create(directory, schema, Default::default())?
            }
            other => other?,
        };
        index.tokenizers().register(
            EXACT_TOKENIZER,
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
        index.tokenizers().register(
            GRAMS_TOKENIZER,
            TextAnalyzer::builder(NgramTokenizer::all_ngrams(3, 3)?)
                .filter(LowerCaser)
                .build(),
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        let mut parser = QueryParser::for_index(
            &index,
            vec![
                fields.number,
                fields.number_exact,
                fields.names,
                fields.descriptions,
                fields.attributes,
                fields.category_names,
            ],
        );
        parser.set_conjunction_by_default();
        parser.set_field_boost(fields.number_exact, NUMBER_EXACT_BOOST);
        parser.set_field_boost(fields.number, NUMBER_BOOST);
        parser.set_field_boost(fields.names, NAMES_BOOST);
        Ok(Self {
            tenant: tenant.to_owned(),
            index,
            reader,
            fields,
            parser,
            text_fields: [
                (fields.number, NUMBER_BOOST),
                (fields.names, NAMES_BOOST),
                (fields.descriptions, 1.0),
                (fields.attributes, 1.0),
                (fields.category_names, 1.0),
            ],
            options,
            id_orders: IdOrders::default(),
            erp_ids: ErpIds::default(),
            writer: Mutex::new(None),
        })
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter<TantivyDocument>, &Fields) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut guard = lock(&self.writer);
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(
                self.options.writer_threads,
                self.options.writer_memory,
            )?);
        }
        match guard.as_mut() {
            Some(writer) => f(writer, &self.fields),
            None => Err(SearchError::Payload("index writer unavailable".to_owned())),
        }
    }

    fn document(&self, doc: &ArticleDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        d.add_u64(f.id, doc.local_id);
        d.add_text(f.erp_id, &doc.erp_id);
        d.add_text(f.number, &doc.number);
        d.add_text(f.number_exact, &doc.number);
        d.add_text(f.names, &doc.names);
        d.add_text(f.descriptions, &doc.descriptions);
        d.add_text(f.attributes, &doc.attributes);
        for category in &doc.categories {
            d.add_text(f.category, category);
        }
        d.add_text(f.category_names, &doc.category_names);
        d.add_text(f.grams, &doc.number);
        d.add_text(f.grams, &doc.names);
        d
    }

    /// Adds documents, replacing any earlier version with the same local id.
    pub fn upsert(&self, docs: &[ArticleDoc]) -> Result<(), SearchError> {
        self.with_writer(|writer, fields| {
            for doc in docs {
                writer.delete_term(Term::from_field_u64(fields.id, doc.local_id));
                writer.add_document(self.document(doc))?;
            }
            Ok(())
        })
    }

    /// Adds documents whose local ids are new to this index (a fresh load); skips the
    /// delete that [`Self::upsert`] pays per document.
    pub fn add_new(&self, docs: &[ArticleDoc]) -> Result<(), SearchError> {
        self.with_writer(|writer, _| {
            for doc in docs {
                writer.add_document(self.document(doc))?;
            }
            Ok(())
        })
    }

    pub fn delete(&self, local_ids: &[u64]) -> Result<(), SearchError> {
        if local_ids.is_empty() {
            return Ok(());
        }
        self.with_writer(|writer, fields| {
            for id in local_ids {
                writer.delete_term(Term::from_field_u64(fields.id, *id));
            }
            Ok(())
        })
    }

    /// Removes every document (before a rebuild from the store).
    pub fn clear(&self) -> Result<(), SearchError> {
        self.with_writer(|writer, _| {
            writer.delete_all_documents()?;
            Ok(())
        })
    }

    /// Makes everything written so far durable and visible, recording that the index now
    /// holds every store change up to `seq`.
    pub fn commit(&self, seq: i64) -> Result<(), SearchError> {
        self.with_writer(|writer, _| {
            let payload = serde_json::to_string(&Payload { seq })
                .map_err(|err| SearchError::Payload(err.to_string()))?;
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// The store sequence of the last commit (0 for a new or never committed index).
    pub fn committed_seq(&self) -> Result<i64, SearchError> {
        let metas = self.index.load_metas()?;
        match metas.payload {
            None => Ok(0),
            Some(text) => serde_json::from_str::<Payload>(&text)
                .map(|p| p.seq)
                .map_err(|err| SearchError::Payload(format!("`{text}`: {err}"))),
        }
    }

    /// Searchable documents in the last reloaded commit.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes the index occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        let searcher = self.reader.searcher();
        searcher
            .segment_readers()
            .iter()
            .map(|s| s.space_usage().map(|u| u.total().get_bytes()).unwrap_or(0))
            .sum()
    }

    fn planner(&self) -> Result<Planner<'_>, SearchError> {
        let analyzer = |name: &str| {
            self.index
                .tokenizers()
                .get(name)
                .ok_or_else(|| SearchError::Read {
                    what: "tokenizer",
                    message: format!("`{name}` is not registered"),
                })
        };
        Ok(Planner {
            parser: &self.parser,
            words: analyzer("default")?,
            exact: analyzer(EXACT_TOKENIZER)?,
            number_exact: self.fields.number_exact,
            text_fields: &self.text_fields,
            grams: self.fields.grams,
            category: self.fields.category,
            number_exact_boost: NUMBER_EXACT_BOOST,
            infix_max_docs: self.options.infix_max_docs,
        })
    }

    /// Every word must match, as a whole word in any text field or (for words of three
    /// letters or more) inside a number or name. Text with query syntax (quotes,
    /// `field:`, `+`/`-`, parentheses, wildcards) goes to the query parser as is.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage, SearchError> {
        let after = request.cursor.as_deref().map(decode_cursor).transpose()?;
        let searcher = self.reader.searcher();
        let plan = self
            .planner()?
            .plan(&searcher, &request.query, request.category.as_deref());
        // One hit more than asked says whether another page follows.
        let page = Page {
            limit: request.limit.saturating_add(1),
            after,
            id_field: "id",
            track_total: self.options.track_total_hits,
            id_orders: self.id_orders.of(&searcher, "id")?,
        };
        let mut fruit = crate::collect::run(&searcher, plan, &page)?;
        let more = fruit.hits.len() > request.limit;
        fruit.hits.truncate(request.limit);
        let next_cursor = more
            .then(|| fruit.hits.last().map(|h| encode_cursor(h.score, h.id)))
            .flatten();
        let erp_ids = self.erp_ids.of(&searcher, &fruit.hits)?;
        Ok(SearchPage {
            hits: fruit
                .hits
                .into_iter()
                .zip(erp_ids)
                .map(|(h, erp_id)| SearchHit {
                    local_id: h.id,
                    erp_id,
                    score: h.score,
                })
                .collect(),
            total: fruit.total,
            total_relation: fruit.relation,
            next_cursor,
        })
    }
}

fn encode_cursor(score: f32, id: u64) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&score.to_bits().to_be_bytes());
    bytes[4..].copy_from_slice(&id.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(cursor: &str) -> Result<(f32, u64), SearchError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| SearchError::InvalidCursor)?;
    let bytes: [u8; 12] = bytes.try_into().map_err(|_| SearchError::InvalidCursor)?;
    let mut score = [0u8; 4];
    score.copy_from_slice(&bytes[..4]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[4..]);
    Ok((
        f32::from_bits(u32::from_be_bytes(score)),
        u64::from_be_bytes(id),
    ))
}

impl Drop for TenantIndex {
    fn drop(&mut self) {
        // Let merges finish so segment files are not left half-written; uncommitted
        // documents are dropped, which the store-driven catch-up repairs.
        if let Some(writer) = lock(&self.writer).take()
            && let Err(err) = writer.wait_merging_threads()
        {
            tracing::warn!(tenant = %self.tenant, %err, "index merge did not finish");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let c = encode_cursor(1.25, 42);
        assert_eq!(decode_cursor(&c).unwrap(), (1.25, 42));
        assert!(decode_cursor("not-a-cursor").is_err());
    }
}
