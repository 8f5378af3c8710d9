//! A top-k collector ordered by (score desc, local id asc) that starts after a cursor.
//!
//! tantivy's `TopDocs` breaks score ties by internal doc address, which changes when
//! segments merge; ordering ties by the local id (a fast column) makes pages stable, and
//! filtering on `(score, id)` strictly after the cursor makes the next page continue
//! exactly where the last one stopped.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// A hit with its sort key.
#[derive(Debug, Clone)]
pub(crate) struct Ranked {
    pub score: Score,
    pub id: u64,
    pub erp_id: String,
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
    pub erp_id_field: String,
}

#[derive(Debug, Default)]
pub(crate) struct PageFruit {
    /// Every match, before and after the cursor.
    pub total: u64,
    /// Matches after the cursor.
    pub remaining: u64,
    pub hits: Vec<Ranked>,
}

pub(crate) struct PageSegment {
    limit: usize,
    after: Option<(Score, u64)>,
    ids: Column<u64>,
    erp_ids: Option<StrColumn>,
    heap: BinaryHeap<Entry>,
    total: u64,
    remaining: u64,
}

impl Collector for PageCollector {
    type Fruit = PageFruit;
    type Child = PageSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageSegment> {
        let fast = reader.fast_fields();
        Ok(PageSegment {
            limit: self.limit,
            after: self.after,
            ids: fast.u64(&self.id_field)?,
            erp_ids: fast.str(&self.erp_id_field)?,
            heap: BinaryHeap::with_capacity(self.limit + 1),
            total: 0,
            remaining: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<PageFruit>) -> tantivy::Result<PageFruit> {
        let mut merged = PageFruit::default();
        for fruit in fruits {
            merged.total += fruit.total;
            merged.remaining += fruit.remaining;
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
        let id = self.ids.first(doc).unwrap_or(0);
        if let Some(after) = self.after
            && better((score, id), after) != Ordering::Greater
        {
            return;
        }
        self.remaining += 1;
        if self.limit == 0 {
            return;
        }
        let entry = Entry { score, id, doc };
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if let Some(worst) = self.heap.peek()
            && entry < *worst
        {
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    fn harvest(self) -> PageFruit {
        let mut hits = Vec::with_capacity(self.heap.len());
        let mut text = String::new();
        for entry in self.heap.into_vec() {
            let mut erp_id = String::new();
            if let Some(column) = &self.erp_ids
                && let Some(ord) = column.ords().first(entry.doc)
            {
                text.clear();
                if column.ord_to_str(ord, &mut text).unwrap_or(false) {
                    erp_id.push_str(&text);
                }
            }
            hits.push(Ranked {
                score: entry.score,
                id: entry.id,
                erp_id,
            });
        }
        PageFruit {
            total: self.total,
            remaining: self.remaining,
            hits,
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
