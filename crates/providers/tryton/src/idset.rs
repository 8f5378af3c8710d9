//! A set of record ids as sorted, disjoint ranges, written `1-200,205,207-300`.
//!
//! Tryton ids are sequential integers, so the set of ids a consumer holds compresses to
//! a handful of ranges (one for a catalog nobody deleted from), which is what lets a
//! delta cursor carry it and detect hard deletions by difference.

use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    /// Inclusive, sorted, disjoint and non-adjacent.
    ranges: Vec<(i64, i64)>,
}

impl IdSet {
    pub fn from_ids(mut ids: Vec<i64>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        for id in ids {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == id => *end = id,
                _ => ranges.push((id, id)),
            }
        }
        Self { ranges }
    }

    pub fn union(&self, other: &IdSet) -> IdSet {
        let mut all: Vec<(i64, i64)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut ranges: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match ranges.last_mut() {
                Some((_, last)) if start <= *last + 1 => *last = (*last).max(end),
                _ => ranges.push((start, end)),
            }
        }
        IdSet { ranges }
    }

    /// Up to `limit` ids of `self` that are not in `other` and greater than `after`, in order.
    pub fn missing_from(&self, other: &IdSet, after: i64, limit: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for &(start, end) in &self.ranges {
            if end <= after {
                continue;
            }
            let mut id = start.max(after + 1);
            while id <= end && out.len() < limit {
                if !other.contains(id) {
                    out.push(id);
                }
                id += 1;
            }
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    pub fn contains(&self, id: i64) -> bool {
        self.ranges
            .binary_search_by(|&(start, end)| {
                if end < id {
                    std::cmp::Ordering::Less
                } else if start > id {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(s, e)| u64::try_from(e - s + 1).unwrap_or(0))
            .sum()
    }

    pub fn parse(text: &str) -> Option<IdSet> {
        let mut ids = IdSet::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (start, end) = match part.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let id = part.parse().ok()?;
                    (id, id)
                }
            };
            if start > end {
                return None;
            }
            ids = ids.union(&IdSet {
                ranges: vec![(start, end)],
            });
        }
        Some(ids)
    }
}

impl fmt::Display for IdSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (start, end)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_diff() {
        let known = IdSet::from_ids(vec![5, 1, 2, 3, 9, 10, 11, 3]);
        assert_eq!(known.to_string(), "1-3,5,9-11");
        assert_eq!(IdSet::parse("1-3,5,9-11"), Some(known.clone()));
        assert_eq!(known.len(), 7);
        let now = IdSet::from_ids(vec![1, 3, 5, 9, 11, 12]);
        assert_eq!(known.missing_from(&now, 0, 10), vec![2, 10]);
        assert_eq!(known.missing_from(&now, 2, 10), vec![10]);
        assert_eq!(known.missing_from(&now, 0, 1), vec![2]);
        assert_eq!(known.union(&now).to_string(), "1-3,5,9-12");
        assert!(IdSet::parse("3-1").is_none());
        assert!(IdSet::parse("x").is_none());
        assert_eq!(IdSet::parse(""), Some(IdSet::default()));
    }
}
