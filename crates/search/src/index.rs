//! Opening, writing and querying the per-tenant indexes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::SearchError;
use crate::collect::PageCollector;
use crate::doc::ArticleDoc;

const EXACT_TOKENIZER: &str = "raw_lower";

/// Tuning of index writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Indexing threads per tenant writer.
    pub writer_threads: usize,
    /// Memory budget of a writer, all threads together (tantivy flushes a segment when
    /// it is reached).
    pub writer_memory: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            writer_threads: 1,
            writer_memory: 200 * 1024 * 1024,
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
    /// All matches of the query (not only this page).
    pub total: u64,
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
    options: IndexOptions,
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
        let index = Index::open_or_create(directory, schema)?;
        index.tokenizers().register(
            EXACT_TOKENIZER,
            TextAnalyzer::builder(RawTokenizer::default())
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
        parser.set_field_boost(fields.number_exact, 8.0);
        parser.set_field_boost(fields.number, 3.0);
        parser.set_field_boost(fields.names, 2.0);
        Ok(Self {
            tenant: tenant.to_owned(),
            index,
            reader,
            fields,
            parser,
            options,
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

    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage, SearchError> {
        let after = request.cursor.as_deref().map(decode_cursor).transpose()?;
        let text = request.query.trim();
        let matched: Box<dyn Query> = if text.is_empty() {
            Box::new(AllQuery)
        } else {
            // Lenient: a shop's search box must not fail on a stray quote or colon.
            self.parser.parse_query_lenient(text).0
        };
        let query: Box<dyn Query> = match &request.category {
            Some(category) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, matched),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(self.fields.category, category),
                            IndexRecordOption::Basic,
                        )),
                        0.0,
                    )) as Box<dyn Query>,
                ),
            ])),
            None => matched,
        };
        let collector = PageCollector {
            limit: request.limit,
            after,
            id_field: "id".to_owned(),
            erp_id_field: "erp_id".to_owned(),
        };
        let fruit = self.reader.searcher().search(&query, &collector)?;
        let next_cursor = (fruit.remaining > fruit.hits.len() as u64)
            .then(|| fruit.hits.last().map(|h| encode_cursor(h.score, h.id)))
            .flatten();
        Ok(SearchPage {
            hits: fruit
                .hits
                .into_iter()
                .map(|h| SearchHit {
                    local_id: h.id,
                    erp_id: h.erp_id,
                    score: h.score,
                })
                .collect(),
            total: fruit.total,
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
