//! Upper bounds of a word's score over windows of documents, from the block maxima of
//! its fields' postings: what lets an intersection of common words skip the matches
//! that cannot enter the page ([`crate::collect`]).
//!
//! tantivy keeps, per block of 128 postings, the (field length, term frequency) pair
//! with the highest BM25 score, and its own block-max WAND reads it through its term
//! scorer. That scorer is private to tantivy, so each field of a word gets a second,
//! block-level cursor over the same postings ([`BlockSegmentPostings`]) with the same
//! BM25 weight the term query computes (same statistics, same boost): its block maximum
//! is then the very function that scores the field, maximised over the block. The
//! cursor decodes one block per seek, which is cheap next to scoring the ~128 matches a
//! skipped window holds.
//!
//! As in tantivy's WAND, the stored pair maximises the score under the segment's own
//! average field length; with several segments the index-wide average may in rare
//! cases make another pair of the block score higher (tantivy documents this).

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::{Bm25Weight, Scorer};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet as _, Score, Searcher, SegmentReader, TERMINATED, Term};

use crate::matching::INFIX_SCORE;

/// A word's fields as scored: term, postings detail and boost (the query's clauses).
#[derive(Clone)]
pub(crate) struct BoundTerm {
    pub term: Term,
    pub option: IndexRecordOption,
    pub boost: Score,
}

/// A word's bound terms with their index-wide BM25 weights, built once per search.
pub(crate) struct WordBoundWeights {
    terms: Vec<(BoundTerm, Bm25Weight)>,
}

impl WordBoundWeights {
    pub(crate) fn new(searcher: &Searcher, terms: &[BoundTerm]) -> tantivy::Result<Self> {
        let terms = terms
            .iter()
            .map(|t| {
                let weight = Bm25Weight::for_terms(searcher, std::slice::from_ref(&t.term))?;
                Ok((t.clone(), weight.boost_by(t.boost)))
            })
            .collect::<tantivy::Result<_>>()?;
        Ok(WordBoundWeights { terms })
    }

    /// The word's cursors in one segment; `infix`: the documents that have the word
    /// inside a longer one (for [`INFIX_SCORE`] more).
    pub(crate) fn cursors(
        &self,
        reader: &SegmentReader,
        infix: Option<Box<dyn Scorer>>,
    ) -> tantivy::Result<WordBound> {
        let mut fields = Vec::with_capacity(self.terms.len());
        for (bound, weight) in &self.terms {
            let field = bound.term.field();
            let Some(postings) = reader
                .inverted_index(field)?
                .read_block_postings(&bound.term, bound.option)?
            else {
                fields.push(None); // Not in this segment: adds nothing.
                continue;
            };
            // As tantivy's term weight: a field without norms scores as length 1.
            let norms = reader
                .fieldnorms_readers()
                .get_field(field)?
                .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
            fields.push(Some(FieldBound {
                postings,
                norms,
                weight: weight.clone(),
            }));
        }
        Ok(WordBound {
            maxes: vec![0.0; fields.len()],
            fields,
            infix,
        })
    }
}

struct FieldBound {
    postings: BlockSegmentPostings,
    norms: FieldNormReader,
    weight: Bm25Weight,
}

/// One word's block-level cursors in a segment. Targets must not decrease.
pub(crate) struct WordBound {
    /// In the word's clause order; `None`: the term is not in this segment.
    fields: Vec<Option<FieldBound>>,
    /// Each field's block maximum at the last [`WordBound::at`] (0 where it has no
    /// posting in the window).
    maxes: Vec<Score>,
    infix: Option<Box<dyn Scorer>>,
}

impl WordBound {
    /// An upper bound of the word's score for every document from `target` up to the
    /// returned document (inclusive). Each field's first posting at or after `target`
    /// lies in one block; up to that block's last document the field adds at most the
    /// block's maximum, so the window ends at the earliest such block end.
    ///
    /// Fields are summed in the clauses' order, as [`crate::matching::AnyOf::score`]
    /// sums them: every term of the bound is at least the score's (or the score has
    /// none there), and float addition of larger non-negative terms never rounds to
    /// less, so the bound holds exactly.
    pub(crate) fn at(&mut self, target: DocId) -> (Score, DocId) {
        let mut bound = 0.0;
        let mut end = TERMINATED;
        for (field, max) in self.fields.iter_mut().zip(self.maxes.iter_mut()) {
            *max = 0.0;
            let Some(field) = field else { continue };
            let at = field.postings.seek(target);
            let len = field.postings.block_len();
            if at >= len {
                continue; // No posting at or after `target`.
            }
            *max = field.postings.block_max_score(&field.norms, &field.weight);
            bound += *max;
            end = end.min(field.postings.doc(len - 1));
        }
        // The infix bonus only where the word is inside a longer word: a word whose
        // trigrams are in some names would otherwise lift every window's bound.
        if let Some(infix) = &mut self.infix {
            let next = match infix.doc() {
                doc if doc >= target => doc,
                _ => infix.seek(target),
            };
            if next == target {
                bound += INFIX_SCORE;
            } else if next != TERMINATED {
                end = end.min(next - 1);
            }
        }
        (bound, end)
    }

    /// Each field's block maximum over the window of the last [`WordBound::at`], in
    /// the word's clause order.
    pub(crate) fn field_maxes(&self) -> &[Score] {
        &self.maxes
    }
}
