//! The document sets of a word query within one segment: a word matches if any field
//! has it (or its trigrams, see [`crate::query`]); a query matches if every word does.
//!
//! tantivy has both (`BufferedUnionScorer`, `Intersection`), but its union is built to
//! be walked, not sought: a `seek` less than 4,096 documents ahead steps through every
//! buffered match (and scores it). Inside an intersection led by a rare word, the union
//! of a word that is in every article ("Serie") was therefore walked completely — most of
//! a full name's 47 ms at 1.5M articles. [`AnyOf::seek`] seeks each field's postings,
//! which skip whole blocks.
//!
//! Scores are summed in a fixed order (fields in query order, then the infix bonus;
//! words in query order). Float addition is not associative, and a page cursor compares
//! scores exactly: the same document must get the same bits on every page, whatever
//! path (pruned or not) scored it.

use std::sync::Arc;

use tantivy::query::Scorer;
use tantivy::{DocId, DocSet, Score, TERMINATED};

/// Score a document gets for matching a word only inside a longer word (its trigrams),
/// below a typical whole-word match so that exact hits rank first.
pub(crate) const INFIX_SCORE: Score = 0.5;

/// One word: the union of its fields' postings, plus the documents that have it inside a
/// longer word.
///
/// Each part's current document is mirrored in `docs` (the infix last): the walk asks
/// for them several times per match, and through `dyn Scorer` every ask was a call the
/// compiler cannot inline (a sixth of a two-common-word search's time in a profile).
pub(crate) struct AnyOf {
    clauses: Vec<Box<dyn Scorer>>,
    infix: Option<Box<dyn Scorer>>,
    /// `docs[i]` is `clauses[i].doc()`; `docs[clauses.len()]` the infix's, if any.
    docs: Vec<DocId>,
    doc: DocId,
}

impl AnyOf {
    pub(crate) fn new(clauses: Vec<Box<dyn Scorer>>, infix: Option<Box<dyn Scorer>>) -> Self {
        let docs = clauses
            .iter()
            .map(|c| c.doc())
            .chain(infix.iter().map(|i| i.doc()))
            .collect();
        let mut any = AnyOf {
            clauses,
            infix,
            docs,
            doc: TERMINATED,
        };
        any.doc = any.min_doc();
        any
    }

    fn min_doc(&self) -> DocId {
        self.docs.iter().copied().min().unwrap_or(TERMINATED)
    }

    /// The part at `at` in `docs`: a clause, or the infix after them.
    fn part(&mut self, at: usize) -> Option<&mut Box<dyn Scorer>> {
        match self.clauses.get_mut(at) {
            Some(clause) => Some(clause),
            None => self.infix.as_mut(),
        }
    }

    pub(crate) fn doc(&self) -> DocId {
        self.doc
    }

    pub(crate) fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let doc = self.doc;
        for at in 0..self.docs.len() {
            if self.docs[at] == doc
                && let Some(part) = self.part(at)
            {
                self.docs[at] = part.advance();
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    /// The first match at or after `target`.
    pub(crate) fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        for at in 0..self.docs.len() {
            if self.docs[at] < target
                && let Some(part) = self.part(at)
            {
                self.docs[at] = part.seek(target);
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    /// The score of the current document.
    pub(crate) fn score(&mut self) -> Score {
        let doc = self.doc;
        let mut score = 0.0;
        for (clause, at) in self.clauses.iter_mut().zip(&self.docs) {
            if *at == doc {
                score += clause.score();
            }
        }
        if self.infix.is_some() && self.docs.last() == Some(&doc) {
            score += INFIX_SCORE;
        }
        score
    }

    /// An upper bound of the current document's score, from the block maxima of the
    /// fields that have it (`maxes` in clause order, see [`crate::bounds`]), without
    /// scoring it: a document that has the word in one field of several is bounded by
    /// that field alone.
    pub(crate) fn present_bound(&self, maxes: &[Score]) -> Score {
        let doc = self.doc;
        let mut bound = 0.0;
        for (at, max) in self.docs.iter().zip(maxes) {
            if *at == doc {
                bound += *max;
            }
        }
        if self.infix.is_some() && self.docs.last() == Some(&doc) {
            bound += INFIX_SCORE;
        }
        bound
    }

    /// Postings to walk: what makes a word a good or bad lead of an intersection.
    pub(crate) fn cost(&self) -> u64 {
        let clauses = self.clauses.iter().map(|c| c.cost());
        clauses.chain(self.infix.iter().map(|i| i.cost())).sum()
    }
}

/// Every word, and the category filter if any. Scores are the words' sum; the filter
/// only restricts.
pub(crate) struct AllOf {
    words: Vec<AnyOf>,
    filter: Option<Box<dyn Scorer>>,
    /// Parts by increasing cost: `None` is the filter. The first leads.
    order: Vec<Option<usize>>,
    doc: DocId,
}

impl AllOf {
    pub(crate) fn new(words: Vec<AnyOf>, filter: Option<Box<dyn Scorer>>) -> Self {
        let mut order: Vec<(u64, Option<usize>)> = words
            .iter()
            .enumerate()
            .map(|(at, w)| (w.cost(), Some(at)))
            .collect();
        if let Some(filter) = &filter {
            order.push((filter.cost(), None));
        }
        order.sort_by_key(|(cost, _)| *cost);
        let mut all = AllOf {
            words,
            filter,
            order: order.into_iter().map(|(_, part)| part).collect(),
            doc: TERMINATED,
        };
        let start = all.part_doc(0);
        all.doc = all.align(start);
        all
    }

    fn part_doc(&self, at: usize) -> DocId {
        match self.order.get(at) {
            None => TERMINATED,
            Some(Some(word)) => self.words[*word].doc(),
            Some(None) => self.filter.as_ref().map_or(TERMINATED, |f| f.doc()),
        }
    }

    fn part_seek(&mut self, at: usize, target: DocId) -> DocId {
        match self.order.get(at) {
            None => TERMINATED,
            Some(Some(word)) => self.words[*word].seek(target),
            Some(None) => match &mut self.filter {
                Some(filter) if filter.doc() < target => filter.seek(target),
                Some(filter) => filter.doc(),
                None => TERMINATED,
            },
        }
    }

    /// The first document at or after `candidate` that every part has.
    fn align(&mut self, mut candidate: DocId) -> DocId {
        'candidates: loop {
            if candidate == TERMINATED {
                return TERMINATED;
            }
            for at in 0..self.order.len() {
                let doc = self.part_seek(at, candidate);
                if doc > candidate {
                    candidate = doc;
                    continue 'candidates;
                }
            }
            return candidate;
        }
    }

    pub(crate) fn doc(&self) -> DocId {
        self.doc
    }

    pub(crate) fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED || self.order.is_empty() {
            self.doc = TERMINATED;
            return TERMINATED;
        }
        let next = self.doc + 1;
        self.doc = self.align(next);
        self.doc
    }

    pub(crate) fn score(&mut self) -> Score {
        self.words.iter_mut().map(AnyOf::score).sum()
    }

    /// The word that leads the intersection (the cheapest part), if a word does (not
    /// the category filter).
    pub(crate) fn lead_word(&self) -> Option<usize> {
        self.order.first().copied().flatten()
    }

    /// The lead word's [`AnyOf::present_bound`] at its current document.
    pub(crate) fn lead_bound(&self, maxes: &[Score]) -> Option<Score> {
        let word = self.lead_word()?;
        Some(self.words[word].present_bound(maxes))
    }

    /// The lead word's score at its current document.
    pub(crate) fn lead_score(&mut self) -> Option<Score> {
        let word = self.lead_word()?;
        Some(self.words[word].score())
    }

    /// Moves the lead to its first document at or after `target`, without checking
    /// the others (the walk of [`AllOf::lead_doc`] candidates).
    pub(crate) fn seek_lead(&mut self, target: DocId) -> DocId {
        self.part_seek(0, target)
    }

    /// The first match at or after `candidate`, every part on it (the lead included).
    pub(crate) fn match_from(&mut self, candidate: DocId) -> DocId {
        self.doc = self.align(candidate);
        self.doc
    }
}

/// Documents already found, in order: a word's infix matches, once intersected.
pub(crate) struct DocList {
    docs: Arc<[DocId]>,
    at: usize,
}

impl DocList {
    pub(crate) fn new(docs: Arc<[DocId]>) -> Self {
        DocList { docs, at: 0 }
    }
}

impl DocSet for DocList {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.docs[self.at..];
        self.at += rest.partition_point(|&d| d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len() - self.at).unwrap_or(u32::MAX)
    }
}

impl Scorer for DocList {
    fn score(&mut self) -> Score {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sorted doc list with one score for all.
    struct Listed {
        docs: Vec<DocId>,
        at: usize,
        score: Score,
    }

    impl DocSet for Listed {
        fn advance(&mut self) -> DocId {
            self.at += 1;
            self.doc()
        }
        fn doc(&self) -> DocId {
            self.docs.get(self.at).copied().unwrap_or(TERMINATED)
        }
        fn size_hint(&self) -> u32 {
            self.docs.len() as u32
        }
    }

    impl Scorer for Listed {
        fn score(&mut self) -> Score {
            self.score
        }
    }

    fn set(docs: &[DocId], score: Score) -> Box<dyn Scorer> {
        Box::new(Listed {
            docs: docs.to_vec(),
            at: 0,
            score,
        })
    }

    fn docs_of(mut all: AllOf) -> Vec<(DocId, Score)> {
        let mut out = Vec::new();
        while all.doc() != TERMINATED {
            out.push((all.doc(), all.score()));
            all.advance();
        }
        out
    }

    #[test]
    fn a_word_is_the_union_of_its_fields_and_scores_add_up() {
        let word = AnyOf::new(
            vec![set(&[1, 5, 9], 2.0), set(&[5, 7], 1.0)],
            Some(set(&[7, 8], 0.0)),
        );
        let got = docs_of(AllOf::new(vec![word], None));
        assert_eq!(
            got,
            vec![
                (1, 2.0),
                (5, 3.0),
                (7, 1.0 + INFIX_SCORE),
                (8, INFIX_SCORE),
                (9, 2.0)
            ]
        );
    }

    #[test]
    fn words_intersect_and_the_filter_only_restricts() {
        let a = AnyOf::new(vec![set(&[1, 2, 3, 4, 5, 6, 100], 1.0)], None);
        let b = AnyOf::new(vec![set(&[2, 4, 6, 100], 2.0), set(&[3], 5.0)], None);
        let filter = set(&[3, 4, 5, 6, 7], 42.0);
        let got = docs_of(AllOf::new(vec![a, b], Some(filter)));
        assert_eq!(got, vec![(3, 6.0), (4, 3.0), (6, 3.0)]);
    }

    #[test]
    fn seeking_a_word_lands_on_its_next_match() {
        let mut word = AnyOf::new(vec![set(&[1, 50, 90], 1.0), set(&[60], 1.0)], None);
        assert_eq!(word.seek(51), 60);
        assert_eq!(word.seek(55), 60, "a seek behind the current match stays");
        assert_eq!(word.advance(), 90);
        assert_eq!(word.advance(), TERMINATED);
    }

    #[test]
    fn a_doc_list_advances_and_seeks() {
        let mut list = DocList::new(Arc::from(vec![2, 4, 8, 16]));
        assert_eq!(list.doc(), 2);
        assert_eq!(list.seek(5), 8);
        assert_eq!(list.seek(8), 8);
        assert_eq!(list.advance(), 16);
        assert_eq!(list.seek(17), TERMINATED);
        assert_eq!(list.advance(), TERMINATED);
    }

    #[test]
    fn a_word_without_postings_matches_nothing() {
        let empty = AnyOf::new(Vec::new(), None);
        let other = AnyOf::new(vec![set(&[1, 2], 1.0)], None);
        assert!(docs_of(AllOf::new(vec![empty, other], None)).is_empty());
        assert!(docs_of(AllOf::new(Vec::new(), None)).is_empty());
    }
}
