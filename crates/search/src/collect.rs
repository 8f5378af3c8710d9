//! A top-k collector ordered by (score desc, local id asc) that starts after a cursor.
//!
//! tantivy's `TopDocs` breaks score ties by internal doc address, which changes when
//! segments merge; ordering ties by the local id (a fast column) makes pages stable, and
//! filtering on `(score, id)` strictly after the cursor makes the next page continue
//! exactly where the last one stopped.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// A hit with its sort key and where it lives (for looking up stored columns of the
/// final page only: resolving them for every segment's candidates was most of the
/// time of a 1,000-hit page).
#[derive(Debug, Clone)]
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
struct Entry {
    score: Score,
    id: u64,
    doc: DocId,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        better((self.score, self.id), (other.score, other.id)) == Ordering::Equal
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
        better((self.score, self.id), (other.score, other.id))
    }
}

pub(crate) struct PageCollector {
    pub limit: usize,
    pub after: Option<(Score, u64)>,
    pub id_field: String,
}

#[derive(Debug, Default)]
pub(crate) struct PageFruit {
    /// Every match of the query, before and after the cursor.
    pub total: u64,
    /// The best `limit` matches after the cursor.
    pub hits: Vec<Ranked>,
}

pub(crate) struct PageSegment {
    segment: SegmentOrdinal,
    limit: usize,
    after: Option<(Score, u64)>,
    ids: Column<u64>,
    heap: BinaryHeap<Entry>,
    total: u64,
}

impl PageSegment {
    /// Offers a match; it is kept if it comes after the cursor and ranks in the top
    /// `limit` so far.
    fn offer(&mut self, doc: DocId, score: Score) {
        // The id is a column read; most matches of a broad query are decided by their
        // score alone, so read it only on a tie.
        let mut id = None;
        let mut id_of = |doc| *id.get_or_insert_with(|| self.ids.first(doc).unwrap_or(0));
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
        if self.heap.len() < self.limit {
            let id = id_of(doc);
            self.heap.push(Entry { score, id, doc });
            return;
        }
        let Some(worst) = self.heap.peek().copied() else {
            return;
        };
        let beats_worst = match score.total_cmp(&worst.score) {
            Ordering::Less => false,
            Ordering::Greater => true,
            Ordering::Equal => id_of(doc) < worst.id,
        };
        if beats_worst {
            let id = id_of(doc);
            self.heap.pop();
            self.heap.push(Entry { score, id, doc });
        }
    }

    /// Scores at or below this cannot enter the page any more. Just under the worst
    /// kept score, because an equal score with a lower id still can.
    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.limit => worst.score.next_down(),
            _ => Score::MIN,
        }
    }
}

impl Collector for PageCollector {
    type Fruit = PageFruit;
    type Child = PageSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageSegment> {
        Ok(PageSegment {
            segment,
            limit: self.limit,
            after: self.after,
            ids: reader.fast_fields().u64(&self.id_field)?,
            heap: BinaryHeap::with_capacity(self.limit + 1),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    /// Counts without scoring, then scores with pruning: scorers may skip blocks of
    /// documents that cannot beat the page's worst kept hit (block-max WAND), which
    /// is what keeps a query matching most of 1.5M articles fast. Scoring every match
    /// (the default) was the cost of broad queries.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageFruit> {
        let mut child = self.for_segment(segment, reader)?;
        child.total = u64::from(weight.count(reader)?);
        if self.limit > 0 {
            let alive = reader.alive_bitset();
            weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
                if !alive.is_some_and(|a| a.is_deleted(doc)) {
                    child.offer(doc, score);
                }
                child.threshold()
            })?;
        }
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<PageFruit>) -> tantivy::Result<PageFruit> {
        let mut merged = PageFruit::default();
        for fruit in fruits {
            merged.total += fruit.total;
            merged.hits.extend(fruit.hits);
        }
        merged
            .hits
            .sort_by(|a, b| better((a.score, a.id), (b.score, b.id)));
        merged.hits.truncate(self.limit);
        Ok(merged)
    }
}

impl SegmentCollector for PageSegment {
    type Fruit = PageFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        self.offer(doc, score);
    }

    fn harvest(self) -> PageFruit {
        let segment = self.segment;
        PageFruit {
            total: self.total,
            hits: self
                .heap
                .into_vec()
                .into_iter()
                .map(|e| Ranked {
                    score: e.score,
                    id: e.id,
                    segment,
                    doc: e.doc,
                })
                .collect(),
        }
    }
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
