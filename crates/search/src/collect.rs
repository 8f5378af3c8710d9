//! A page of hits: the top `limit` ordered by (score desc, local id asc) after a cursor,
//! and how many documents match in all.
//!
//! tantivy's `TopDocs` breaks score ties by internal doc address, which changes when
//! segments merge; ordering ties by the local id (a fast column) makes pages stable, and
//! filtering on `(score, id)` strictly after the cursor makes the next page continue
//! exactly where the last one stopped.
//!
//! # Totals
//!
//! Counting every match of a word that most articles have is a walk over hundreds of
//! thousands of postings (a third of a 60 ms search for `steel` at 1.5M articles), which
//! the top hits do not need: block-max WAND skips most of them. As search engines do
//! (Elasticsearch's `track_total_hits`), a word query counts exactly up to
//! [`Page::track_total`] matches and then reports that many as a lower bound
//! ([`TotalRelation::AtLeast`]); past it, matches that cannot enter the page are skipped
//! unscored (block-max WAND for one word, block-max pruning of the intersection for
//! several words or a category filter). Totals stay exact where they cost nothing
//! extra: a listing (one postings list), a word found in one field only, and words
//! without block maxima (phrases), whose matches are all visited anyway.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use tantivy::columnar::{Cardinality, Column};
use tantivy::fastfield::AliveBitSet;
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query, Scorer, Weight};
use tantivy::{
    DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED, index::SegmentId,
};

use crate::bounds::{WordBound, WordBoundWeights};
use crate::matching::{AllOf, AnyOf, DocList, INFIX_SCORE};
use crate::query::{Plan, Word};

/// A hit with its sort key and where it lives (for looking up stored columns of the
/// final page only: resolving them for every segment's candidates was most of the
/// time of a 1,000-hit page).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked {
    pub score: Score,
    pub id: u64,
    pub segment: SegmentOrdinal,
    pub doc: DocId,
}

/// Total order: better first (higher score, then lower id).
pub(crate) fn better(a: (Score, u64), b: (Score, u64)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The heap keeps the worst kept hit on top, so it is the one to evict.
#[derive(Debug, Clone, Copy)]
struct Entry(Ranked);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        better((self.0.score, self.0.id), (other.0.score, other.0.id))
    }
}

/// Whether a total is every match or a lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotalRelation {
    /// `total` is the number of matches.
    #[default]
    Exact,
    /// At least `total` documents match: counting stopped there.
    AtLeast,
}

impl TotalRelation {
    /// `eq` or `gte`, as Elasticsearch's `hits.total.relation` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            TotalRelation::Exact => "eq",
            TotalRelation::AtLeast => "gte",
        }
    }

    /// `""` or `"+"`, for showing a total ("10000+").
    pub fn symbol(self) -> &'static str {
        match self {
            TotalRelation::Exact => "",
            TotalRelation::AtLeast => "+",
        }
    }
}

/// What page to compute.
pub(crate) struct Page<'a> {
    pub limit: usize,
    pub after: Option<(Score, u64)>,
    pub id_field: &'a str,
    /// Count matches exactly up to this many where counting is extra work.
    pub track_total: u64,
    /// By segment ordinal.
    pub id_orders: Vec<IdOrder>,
}

#[derive(Debug, Default)]
pub(crate) struct PageFruit {
    /// Matches of the query, before and after the cursor (see `relation`).
    pub total: u64,
    pub relation: TotalRelation,
    /// The best `limit` matches after the cursor, best first.
    pub hits: Vec<Ranked>,
}

/// How local ids run in a segment's doc order.
///
/// A page breaks score ties by local id, so block-max WAND may skip a block whose best
/// score only ties the page's worst hit only if no document of it can have a lower id.
/// When ids ascend with doc ids — the usual case: a sync adds articles in id order and a
/// merge keeps each segment's order — that holds for everything after the worst hit, and
/// for a whole segment whose ids all exceed it. Without this, a word that most articles
/// have with the same score (`series`: 1.5M names of one length class) had every block
/// of every segment scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdOrder {
    pub min_id: u64,
    pub ascending: bool,
}

impl IdOrder {
    /// Unknown order: ties are never pruned.
    const UNKNOWN: IdOrder = IdOrder {
        min_id: 0,
        ascending: false,
    };

    fn of(reader: &SegmentReader, id_field: &str) -> tantivy::Result<IdOrder> {
        let ids = reader.fast_fields().u64(id_field)?;
        if ids.get_cardinality() != Cardinality::Full {
            return Ok(IdOrder::UNKNOWN);
        }
        let mut values = ids.values.iter();
        let Some(mut last) = values.next() else {
            return Ok(IdOrder::UNKNOWN);
        };
        let min_id = last;
        for id in values {
            if id <= last {
                return Ok(IdOrder::UNKNOWN);
            }
            last = id;
        }
        Ok(IdOrder {
            min_id,
            ascending: true,
        })
    }
}

/// [`IdOrder`]s by segment: a segment never changes (deletes aside, which do not move
/// documents), so each is computed once, on the first search that sees it.
#[derive(Debug, Default)]
pub(crate) struct IdOrders(Mutex<HashMap<SegmentId, IdOrder>>);

impl IdOrders {
    /// The order of each of `searcher`'s segments, by segment ordinal.
    pub(crate) fn of(&self, searcher: &Searcher, id_field: &str) -> tantivy::Result<Vec<IdOrder>> {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let readers = searcher.segment_readers();
        let mut out = Vec::with_capacity(readers.len());
        for reader in readers {
            let order = match known.get(&reader.segment_id()) {
                Some(order) => *order,
                None => {
                    let order = IdOrder::of(reader, id_field)?;
                    known.insert(reader.segment_id(), order);
                    order
                }
            };
            out.push(order);
        }
        // Forget merged-away segments (a newer searcher re-adds what it still uses).
        if known.len() > readers.len() * 2 {
            known.retain(|id, _| readers.iter().any(|r| r.segment_id() == *id));
        }
        Ok(out)
    }
}

/// The best `limit` hits after the cursor, over all segments: one heap, so that the
/// pruning threshold a segment reached carries over to the next.
struct Top {
    limit: usize,
    after: Option<(Score, u64)>,
    heap: BinaryHeap<Entry>,
    segment: SegmentOrdinal,
    ids: Option<Column<u64>>,
    order: IdOrder,
}

impl Top {
    fn new(page: &Page<'_>) -> Self {
        Top {
            limit: page.limit,
            after: page.after,
            // Capped: `limit` comes from a request.
            heap: BinaryHeap::with_capacity(page.limit.min(10_000)),
            segment: 0,
            ids: None,
            order: IdOrder::UNKNOWN,
        }
    }

    fn enter(&mut self, segment: SegmentOrdinal, ids: Column<u64>, order: IdOrder) {
        self.segment = segment;
        self.ids = Some(ids);
        self.order = order;
    }

    fn id_of(&self, doc: DocId) -> u64 {
        self.ids
            .as_ref()
            .and_then(|ids| ids.first(doc))
            .unwrap_or(0)
    }

    /// Offers a match of the current segment; it is kept if it comes after the cursor
    /// and ranks in the top `limit` so far.
    fn offer(&mut self, doc: DocId, score: Score) {
        // The id is a column read; most matches of a broad query are decided by their
        // score alone, so read it only on a tie.
        let mut id = None;
        let mut id_of = |doc| *id.get_or_insert_with(|| self.id_of(doc));
        if let Some((after_score, after_id)) = self.after {
            // Pages run from high scores to low: a higher score was served already.
            match score.total_cmp(&after_score) {
                Ordering::Greater => return,
                Ordering::Equal if id_of(doc) <= after_id => return,
                _ => {}
            }
        }
        if self.limit == 0 {
            return;
        }
        let full = self.heap.len() >= self.limit;
        if full {
            let Some(worst) = self.heap.peek() else {
                return;
            };
            let beats_worst = match score.total_cmp(&worst.0.score) {
                Ordering::Less => false,
                Ordering::Greater => true,
                Ordering::Equal => id_of(doc) < worst.0.id,
            };
            if !beats_worst {
                return;
            }
        }
        let ranked = Ranked {
            score,
            id: id_of(doc),
            segment: self.segment,
            doc,
        };
        if full {
            self.heap.pop();
        }
        self.heap.push(Entry(ranked));
    }

    /// Documents of the current segment after `visited` (all of it if `None`) with a
    /// score at or below this cannot enter the page. The worst kept score itself, if no
    /// such document can tie it with a lower id ([`IdOrder`]); otherwise just under it.
    fn threshold(&self, visited: Option<DocId>) -> Score {
        let Some(worst) = self.heap.peek().filter(|_| self.heap.len() >= self.limit) else {
            return Score::MIN;
        };
        let worst = worst.0;
        let ties_lose = self.order.ascending
            && (worst.id < self.order.min_id
                || (worst.segment == self.segment && visited.is_some_and(|d| worst.doc <= d)));
        if ties_lose {
            worst.score
        } else {
            worst.score.next_down()
        }
    }

    fn into_hits(self) -> Vec<Ranked> {
        // Ascending by `Ord`, which is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }
}

/// Counts matches, exactly or up to a budget.
struct Count {
    total: u64,
    budget: u64,
    relation: TotalRelation,
}

impl Count {
    /// Counts the alive documents of `docs` until the budget is spent.
    fn walk(
        &mut self,
        mut doc: DocId,
        mut next: impl FnMut() -> DocId,
        alive: Option<&AliveBitSet>,
    ) {
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                if self.total >= self.budget {
                    self.relation = TotalRelation::AtLeast;
                    return;
                }
                self.total += 1;
            }
            doc = next();
        }
    }
}

/// Weights of a plan, built once per search (they hold the index-wide statistics).
enum Weights {
    /// `everything`: the match-all listing, whose count is the segment's alive docs.
    Listing {
        weight: Box<dyn Weight>,
        everything: bool,
    },
    Parsed(Box<dyn Weight>),
    Words {
        words: Vec<WordWeights>,
        category: Option<Box<dyn Weight>>,
    },
}

struct WordWeights {
    clauses: Vec<Box<dyn Weight>>,
    /// For bounding the word's score by block ([`crate::bounds`]); `None` for a phrase.
    bounds: Option<WordBoundWeights>,
    infix: Option<Box<dyn Weight>>,
    /// The clauses as one boolean union, whose pruned walk is block-max WAND; `Some`
    /// when the query is this one word, without a filter, of plain term clauses.
    wand: Option<Box<dyn Weight>>,
}

impl WordWeights {
    fn scorers(&self, reader: &SegmentReader) -> tantivy::Result<Vec<Box<dyn Scorer>>> {
        self.clauses.iter().map(|w| w.scorer(reader, 1.0)).collect()
    }

    fn any_of(&self, reader: &SegmentReader, infix: bool) -> tantivy::Result<AnyOf> {
        let infix = match (&self.infix, infix) {
            (Some(w), true) => Some(w.scorer(reader, 1.0)?),
            _ => None,
        };
        Ok(AnyOf::new(self.scorers(reader)?, infix))
    }
}

fn weights(searcher: &Searcher, plan: Plan) -> tantivy::Result<Weights> {
    let scoring = EnableScoring::enabled_from_searcher(searcher);
    Ok(match plan {
        Plan::Listing { query, everything } => Weights::Listing {
            weight: query.weight(scoring)?,
            everything,
        },
        Plan::Parsed(query) => Weights::Parsed(query.weight(scoring)?),
        Plan::Words { words, category } => {
            let single = words.len() == 1 && category.is_none();
            let words = words
                .into_iter()
                .map(
                    |Word {
                         clauses,
                         terms_only,
                         bound_terms,
                         infix,
                     }| {
                        let wand = if single && terms_only && !clauses.is_empty() {
                            // At least 0 required: `BooleanQuery::new` would require 1, and
                            // tantivy turns a lone required clause into a plain scorer
                            // without WAND.
                            let union = BooleanQuery::with_minimum_required_clauses(
                                clauses
                                    .iter()
                                    .map(|c| (Occur::Should, c.box_clone()))
                                    .collect(),
                                0,
                            );
                            Some(union.weight(scoring)?)
                        } else {
                            None
                        };
                        let bounds = bound_terms
                            .map(|terms| WordBoundWeights::new(searcher, &terms))
                            .transpose()?;
                        Ok(WordWeights {
                            bounds,
                            clauses: clauses
                                .iter()
                                .map(|c| c.weight(scoring))
                                .collect::<tantivy::Result<_>>()?,
                            infix: infix.map(|q| q.weight(scoring)).transpose()?,
                            wand,
                        })
                    },
                )
                .collect::<tantivy::Result<_>>()?;
            let category = category
                .map(|term| {
                    tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic)
                        .weight(scoring)
                })
                .transpose()?;
            Weights::Words { words, category }
        }
    })
}

/// Runs a plan over every segment of `searcher`.
pub(crate) fn run(searcher: &Searcher, plan: Plan, page: &Page<'_>) -> tantivy::Result<PageFruit> {
    let weights = weights(searcher, plan)?;
    let mut top = Top::new(page);
    let mut count = Count {
        total: 0,
        budget: page.track_total,
        relation: TotalRelation::Exact,
    };
    let readers = searcher.segment_readers();
    let order_of = |segment: usize| {
        page.id_orders
            .get(segment)
            .copied()
            .unwrap_or(IdOrder::UNKNOWN)
    };
    // Lowest ids first: the page fills with the hits that win score ties, and a later
    // segment whose ids are all higher can then skip blocks that only tie ([`IdOrder`]).
    let mut segments: Vec<usize> = (0..readers.len()).collect();
    segments.sort_by_key(|&s| {
        let order = order_of(s);
        (!order.ascending, order.min_id)
    });
    for segment in segments {
        let reader = &readers[segment];
        let order = order_of(segment);
        let segment = segment as SegmentOrdinal;
        top.enter(segment, reader.fast_fields().u64(page.id_field)?, order);
        let alive = reader.alive_bitset();
        match &weights {
            Weights::Listing { weight, everything } => {
                count.total += u64::from(if *everything {
                    reader.num_docs()
                } else {
                    weight.count(reader)?
                });
                pruned(weight.as_ref(), reader, &mut top)?;
            }
            Weights::Parsed(weight) => {
                let mut docs = weight.scorer(reader, 1.0)?;
                let first = docs.doc();
                count.walk(first, || docs.advance(), alive);
                pruned(weight.as_ref(), reader, &mut top)?;
            }
            Weights::Words { words, category } => match (words.as_slice(), category) {
                ([word], None) if word.wand.is_some() => {
                    one_word(word, reader, &mut top, &mut count)?;
                }
                _ => {
                    let parts = words
                        .iter()
                        .map(|w| w.any_of(reader, true))
                        .collect::<tantivy::Result<Vec<_>>>()?;
                    let filter = category
                        .as_ref()
                        .map(|w| w.scorer(reader, 1.0))
                        .transpose()?;
                    // Bounds only where pruning may start: past the count budget.
                    let bounds = words
                        .iter()
                        .map(|w| {
                            let infix = || w.infix.as_ref().map(|i| i.scorer(reader, 1.0));
                            let bounds = w.bounds.as_ref()?;
                            Some(infix().transpose().and_then(|i| bounds.cursors(reader, i)))
                        })
                        .collect::<Option<tantivy::Result<Vec<WordBound>>>>()
                        .transpose()?;
                    let all = AllOf::new(parts, filter);
                    all_words(all, bounds, alive, &mut top, &mut count);
                }
            },
        }
    }
    Ok(PageFruit {
        total: count.total,
        relation: count.relation,
        hits: top.into_hits(),
    })
}

/// Several words (or a word under a category filter): their intersection, counted
/// exactly up to the budget and scored match by match. Once the budget is spent the
/// total is a lower bound anyway, and the walk prunes what cannot enter the page, as
/// Lucene's `BlockMaxConjunctionScorer` does:
///
/// * a window of documents whose block-max bound ([`crate::bounds`]) is not above the
///   page's threshold is skipped whole;
/// * inside a window, a candidate of the lead word (the rarest part) whose own score
///   plus the other words' bounds is not above it is dropped before the other words
///   are even sought to it.
///
/// Two words that most articles have ("stainless steel": 470k matches at 1.5M
/// articles) were otherwise aligned and scored one match at a time.
///
/// `bounds` (one per word; `None` when a word is a phrase, which has no block maxima):
/// without them every match is visited and counted exactly.
fn all_words(
    mut all: AllOf,
    bounds: Option<Vec<WordBound>>,
    alive: Option<&AliveBitSet>,
    top: &mut Top,
    count: &mut Count,
) {
    let Some(mut bounds) = bounds else {
        while all.doc() != TERMINATED {
            let doc = all.doc();
            if alive.is_none_or(|a| a.is_alive(doc)) {
                count.total += 1;
                let score = all.score();
                top.offer(doc, score);
            }
            all.advance();
        }
        return;
    };
    // Up to the budget: every match, counted and scored.
    while all.doc() != TERMINATED && count.relation == TotalRelation::Exact {
        let doc = all.doc();
        if alive.is_none_or(|a| a.is_alive(doc)) {
            if count.total < count.budget {
                count.total += 1;
            } else {
                count.relation = TotalRelation::AtLeast;
            }
            let score = all.score();
            top.offer(doc, score);
        }
        all.advance();
    }
    if all.doc() == TERMINATED || top.limit == 0 {
        return;
    }
    let lead = all.lead_word();
    let mut word_bounds: Vec<Score> = vec![Score::MAX; bounds.len()];
    // The bound of the words other than the lead, for the window up to `window_end`.
    let mut others: Score = Score::MAX;
    let mut window_end: Option<DocId> = None;
    let mut candidate = all.doc();
    while candidate != TERMINATED {
        let threshold = top.threshold(candidate.checked_sub(1));
        if threshold > Score::MIN && window_end.is_none_or(|end| candidate > end) {
            // Words in order, as `AllOf::score` sums them.
            let mut bound: Score = 0.0;
            let mut end = TERMINATED;
            for (word, slot) in bounds.iter_mut().zip(word_bounds.iter_mut()) {
                let (score, word_end) = word.at(candidate);
                *slot = score;
                bound += score;
                end = end.min(word_end);
            }
            if bound <= threshold {
                candidate = match end.checked_add(1) {
                    Some(next) if end != TERMINATED => all.seek_lead(next),
                    _ => TERMINATED,
                };
                continue;
            }
            window_end = Some(end);
            others = word_bounds
                .iter()
                .enumerate()
                .filter(|(word, _)| Some(*word) != lead)
                .map(|(_, bound)| *bound)
                .sum();
        }
        // Summed in another order than the exact score: a hair of slack for the
        // rounding, so that only a clear loser is dropped.
        let loses = |lead: Score| (lead + others) * (1.0 + 1e-6) <= threshold;
        if window_end.is_some() {
            // First by the block maxima of the lead's fields that have the candidate
            // (most candidates of a common word have it in one field of several), then
            // by its score.
            let lead_maxes = lead.and_then(|w| bounds.get(w)).map(WordBound::field_maxes);
            if lead_maxes
                .and_then(|m| all.lead_bound(m))
                .is_some_and(loses)
                || all.lead_score().is_some_and(loses)
            {
                candidate = all.seek_lead(candidate + 1);
                continue;
            }
        }
        let doc = all.match_from(candidate);
        if doc != candidate {
            candidate = doc; // The others were past it: their next common match.
            continue;
        }
        if alive.is_none_or(|a| a.is_alive(doc)) {
            let score = all.score();
            top.offer(doc, score);
        }
        candidate = all.seek_lead(doc + 1);
    }
}

/// The top hits of `weight` in one segment, skipping what cannot beat the page.
fn pruned(weight: &dyn Weight, reader: &SegmentReader, top: &mut Top) -> tantivy::Result<()> {
    if top.limit == 0 {
        return Ok(());
    }
    let alive = reader.alive_bitset();
    weight.for_each_pruning(top.threshold(None), reader, &mut |doc, score| {
        if alive.is_none_or(|a| a.is_alive(doc)) {
            top.offer(doc, score);
        }
        top.threshold(Some(doc))
    })
}

/// One word without a filter: a word that most articles have is the case where pruning
/// pays. Documents that have it inside a longer word are scored first, one by one (there
/// are at most `infix_max_docs` of them); the whole-word matches are then walked with
/// block-max WAND, which skips blocks of postings whose best score cannot enter the
/// page. WAND sums term scores in whatever order its pivoting left them, so each
/// candidate is rescored in the fixed order of [`AnyOf`].
fn one_word(
    word: &WordWeights,
    reader: &SegmentReader,
    top: &mut Top,
    count: &mut Count,
) -> tantivy::Result<()> {
    let alive = reader.alive_bitset();
    // The trigram intersection is walked once: counting and scoring use its list.
    let mut infix_docs = Vec::new();
    if let Some(infix) = &word.infix {
        let mut docs = infix.scorer(reader, 1.0)?;
        let mut doc = docs.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                infix_docs.push(doc);
            }
            doc = docs.advance();
        }
    }
    let infix_docs: Arc<[DocId]> = infix_docs.into();
    let exact_single_term = word.clauses.len() == 1 && word.infix.is_none();
    if exact_single_term {
        // One postings list: counting it exactly is a plain walk, no union.
        count.total += u64::from(word.clauses[0].count(reader)?);
    } else {
        let infix = word
            .infix
            .is_some()
            .then(|| Box::new(DocList::new(infix_docs.clone())) as Box<dyn Scorer>);
        let mut docs = AnyOf::new(word.scorers(reader)?, infix);
        let first = docs.doc();
        count.walk(first, || docs.advance(), alive);
    }
    if top.limit == 0 {
        return Ok(());
    }
    // The same sum as `AnyOf::score` with the infix: the fields in order, then the bonus.
    let mut fields = AnyOf::new(word.scorers(reader)?, None);
    for &doc in infix_docs.iter() {
        let score = if fields.seek(doc) == doc {
            fields.score()
        } else {
            0.0
        };
        top.offer(doc, score + INFIX_SCORE);
    }
    let Some(wand) = &word.wand else {
        return Ok(());
    };
    let mut rescore = word.any_of(reader, false)?;
    let mut infix_at = 0;
    // With several terms, WAND's own sum may differ from the canonical one in the last
    // bits: let candidates through with a hair of slack so that the canonical score
    // decides (this gives up pruning exact ties, see `IdOrder`). A single term's score
    // is the canonical one.
    let several = word.clauses.len() > 1;
    let slack = |t: Score| {
        if t == Score::MIN || !several {
            t
        } else {
            t - t.abs() * 1e-6
        }
    };
    wand.for_each_pruning(slack(top.threshold(None)), reader, &mut |doc, score| {
        while infix_docs.get(infix_at).is_some_and(|&d| d < doc) {
            infix_at += 1;
        }
        let scored_already = infix_docs.get(infix_at) == Some(&doc);
        if !scored_already && alive.is_none_or(|a| a.is_alive(doc)) {
            // Candidates come in doc order, so the rescorer only moves forward.
            let score = if rescore.seek(doc) == doc {
                rescore.score()
            } else {
                score
            };
            top.offer(doc, score);
        }
        slack(top.threshold(Some(doc)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_scores_then_lower_ids_come_first() {
        assert_eq!(better((2.0, 9), (1.0, 1)), Ordering::Less);
        assert_eq!(better((1.0, 1), (1.0, 2)), Ordering::Less);
        assert_eq!(better((1.0, 2), (1.0, 2)), Ordering::Equal);
        assert_eq!(better((1.0, 3), (1.0, 2)), Ordering::Greater);
    }
}
