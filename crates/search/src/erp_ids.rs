//! The ERP ids of a page's hits.
//!
//! The ERP id is a string fast column: a per-document term ordinal and a term dictionary
//! (an sstable of zstd-compressed blocks, a few hundred ids each). Looking up 1,000 hits
//! spread over a 1.5M-article catalog decompressed and scanned about one block per hit:
//! 6–8 ms of a 1,000-hit page, a quarter of a broad search. A segment never changes, so
//! its dictionary is decoded once, on the first page that needs it, into one buffer
//! (about 13 bytes per article: 1.5M articles, 20 MB) and every later lookup is an
//! index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{Searcher, SegmentOrdinal};

use crate::SearchError;
use crate::collect::Ranked;

/// One segment's ERP ids by term ordinal.
#[derive(Debug)]
struct Terms {
    /// Term `i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<u32>,
    bytes: Vec<u8>,
}

impl Terms {
    fn get(&self, ord: u64) -> Option<&[u8]> {
        let at = usize::try_from(ord).ok()?;
        let end = *self.ends.get(at)? as usize;
        let start = match at {
            0 => 0,
            _ => self.ends[at - 1] as usize,
        };
        self.bytes.get(start..end)
    }
}

/// Decoded dictionaries by segment.
#[derive(Debug, Default)]
pub(crate) struct ErpIds(Mutex<HashMap<SegmentId, Arc<Terms>>>);

const COLUMN: &str = "erp_id";

fn read_error(err: impl std::fmt::Display) -> SearchError {
    SearchError::Read {
        what: "erp id column",
        message: err.to_string(),
    }
}

impl ErpIds {
    /// The ERP ids of `hits`, in order (empty for a document without one).
    pub(crate) fn of(
        &self,
        searcher: &Searcher,
        hits: &[Ranked],
    ) -> Result<Vec<String>, SearchError> {
        let mut out = vec![String::new(); hits.len()];
        let mut by_segment: HashMap<SegmentOrdinal, Vec<usize>> = HashMap::new();
        for (at, hit) in hits.iter().enumerate() {
            by_segment.entry(hit.segment).or_default().push(at);
        }
        for (segment, wanted) in by_segment {
            let reader = searcher.segment_reader(segment);
            let Some(column) = reader.fast_fields().str(COLUMN)? else {
                continue;
            };
            let terms = self.terms(reader.segment_id(), &column)?;
            for at in wanted {
                if let Some(term) = column.ords().first(hits[at].doc).and_then(|o| terms.get(o)) {
                    out[at] = String::from_utf8_lossy(term).into_owned();
                }
            }
        }
        // Forget merged-away segments.
        let mut known = self.lock();
        let readers = searcher.segment_readers();
        if known.len() > readers.len() * 2 {
            known.retain(|id, _| readers.iter().any(|r| r.segment_id() == *id));
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<Terms>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn terms(
        &self,
        segment: SegmentId,
        column: &tantivy::columnar::StrColumn,
    ) -> Result<Arc<Terms>, SearchError> {
        if let Some(terms) = self.lock().get(&segment) {
            return Ok(terms.clone());
        }
        // Decoded outside the lock: two first searches may both decode, one wins.
        let dictionary = column.dictionary();
        let mut terms = Terms {
            ends: Vec::with_capacity(dictionary.num_terms()),
            bytes: Vec::new(),
        };
        let mut stream = dictionary.stream().map_err(read_error)?;
        while stream.advance() {
            terms.bytes.extend_from_slice(stream.key());
            let end = u32::try_from(terms.bytes.len())
                .map_err(|_| read_error("more than 4 GiB of ERP ids in a segment"))?;
            terms.ends.push(end);
        }
        terms.ends.shrink_to_fit();
        terms.bytes.shrink_to_fit();
        let terms = Arc::new(terms);
        self.lock().insert(segment, terms.clone());
        Ok(terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_found_by_ordinal() {
        let terms = Terms {
            ends: vec![3, 3, 7],
            bytes: b"A01B002".to_vec(),
        };
        assert_eq!(terms.get(0), Some(&b"A01"[..]));
        assert_eq!(terms.get(1), Some(&b""[..]));
        assert_eq!(terms.get(2), Some(&b"B002"[..]));
        assert_eq!(terms.get(3), None);
    }
}
