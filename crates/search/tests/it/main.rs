#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the per-tenant index on a real directory.

use std::collections::HashSet;

use erpbridge_search::{ArticleDoc, IndexOptions, SearchIndexes, SearchRequest, TotalRelation};

fn doc(id: u64, number: &str, name: &str, category: &str) -> ArticleDoc {
    ArticleDoc {
        local_id: id,
        erp_id: format!("A{id:05}"),
        number: number.to_owned(),
        names: name.to_owned(),
        descriptions: format!("{name} made of steel"),
        attributes: "120 mm M8".to_owned(),
        categories: vec![category.to_owned()],
        category_names: format!("{category} tools"),
    }
}

fn indexes() -> (tempfile::TempDir, SearchIndexes) {
    let dir = tempfile::tempdir().unwrap();
    let indexes = SearchIndexes::new(
        dir.path(),
        IndexOptions {
            writer_threads: 1,
            writer_memory: 15_000_000,
            ..IndexOptions::default()
        },
    );
    (dir, indexes)
}

fn request(query: &str, limit: usize) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        limit,
        ..SearchRequest::default()
    }
}

#[test]
fn paging_is_stable_complete_and_ordered() {
    let (_dir, indexes) = indexes();
    let index = indexes.tenant("t1").unwrap();
    // Names of different lengths give different scores; many ties too.
    let docs: Vec<ArticleDoc> = (1..=203)
        .map(|i| {
            let name = if i % 3 == 0 {
                "hammer"
            } else {
                "hammer claw heavy duty long handle"
            };
            doc(i, &format!("N-{i}"), name, "tools")
        })
        .collect();
    index.add_new(&docs).unwrap();
    index.commit(203).unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .search(&SearchRequest {
                cursor: cursor.clone(),
                ..request("hammer", 17)
            })
            .unwrap();
        assert_eq!(page.total, 203);
        assert!(page.hits.len() <= 17);
        seen.extend(page.hits.iter().map(|h| (h.score, h.local_id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 203, "every hit exactly once");
    let unique: HashSet<u64> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(unique.len(), 203);
    for pair in seen.windows(2) {
        let ((s0, i0), (s1, i1)) = (pair[0], pair[1]);
        assert!(s0 > s1 || (s0 == s1 && i0 < i1), "order broken at {pair:?}");
    }
    // Shorter names score higher: the first hits are the short "hammer" ones.
    assert_eq!(seen[0].1 % 3, 0);
    assert!(
        index
            .search(&SearchRequest {
                cursor: Some("junk!".into()),
                ..request("hammer", 5)
            })
            .is_err()
    );
}

#[test]
fn numbers_match_exactly_and_categories_filter() {
    let (_dir, indexes) = indexes();
    let index = indexes.tenant("t1").unwrap();
    index
        .add_new(&[
            doc(1, "001-0000042", "Schraube", "CAT1"),
            doc(2, "001-0000043", "Schraube", "CAT2"),
            doc(3, "002-0000042", "Mutter", "CAT1"),
        ])
        .unwrap();
    index.commit(3).unwrap();
    let page = index.search(&request("001-0000042", 10)).unwrap();
    assert_eq!(page.hits[0].erp_id, "A00001");
    let page = index
        .search(&SearchRequest {
            category: Some("CAT1".into()),
            ..request("schraube", 10)
        })
        .unwrap();
    let ids: Vec<u64> = page.hits.iter().map(|h| h.local_id).collect();
    assert_eq!(ids, vec![1]);
    let page = index
        .search(&SearchRequest {
            category: Some("CAT1".into()),
            ..request("", 10)
        })
        .unwrap();
    assert_eq!(page.total, 2);
    // Unbalanced syntax does not fail a search box.
    index.search(&request("\"schraube (", 10)).unwrap();
}

#[test]
fn upserts_replace_and_deletes_remove() {
    let (_dir, indexes) = indexes();
    let index = indexes.tenant("t1").unwrap();
    index
        .add_new(&[doc(1, "N1", "anvil", "c"), doc(2, "N2", "anvil", "c")])
        .unwrap();
    index.commit(2).unwrap();
    index.upsert(&[doc(1, "N1", "chisel", "c")]).unwrap();
    index.delete(&[2]).unwrap();
    index.commit(4).unwrap();
    assert_eq!(index.num_docs(), 1);
    assert_eq!(index.search(&request("anvil", 10)).unwrap().total, 0);
    assert_eq!(
        index.search(&request("chisel", 10)).unwrap().hits[0].local_id,
        1
    );
    assert_eq!(index.committed_seq().unwrap(), 4);
}

#[test]
fn uncommitted_work_is_not_durable_and_the_payload_says_where_the_index_is() {
    let (dir, indexes) = indexes();
    {
        let index = indexes.tenant("t1").unwrap();
        index.add_new(&[doc(1, "N1", "anvil", "c")]).unwrap();
        index.commit(10).unwrap();
        index.add_new(&[doc(2, "N2", "anvil", "c")]).unwrap();
    }
    drop(indexes);
    let reopened = SearchIndexes::new(dir.path(), IndexOptions::default());
    let index = reopened.tenant("t1").unwrap();
    assert_eq!(index.committed_seq().unwrap(), 10);
    assert_eq!(index.num_docs(), 1);
}

#[test]
fn tenants_have_separate_indexes() {
    let (_dir, indexes) = indexes();
    let a = indexes.tenant("tenant-a").unwrap();
    let b = indexes.tenant("tenant-b").unwrap();
    a.add_new(&[doc(1, "N1", "anvil", "c")]).unwrap();
    a.commit(1).unwrap();
    b.add_new(&[doc(1, "N1", "bellows", "c")]).unwrap();
    b.commit(1).unwrap();
    assert_eq!(a.search(&request("bellows", 10)).unwrap().total, 0);
    assert_eq!(b.search(&request("anvil", 10)).unwrap().total, 0);
    assert_eq!(a.search(&request("", 10)).unwrap().total, 1);
    assert!(indexes.tenant("../escape").is_err());
    assert!(indexes.tenant("").is_err());
}

#[test]
fn words_inside_compounds_and_prefixes_are_found() {
    let (_dir, indexes) = indexes();
    let index = indexes.tenant("t1").unwrap();
    index
        .add_new(&[
            doc(1, "100-0000001", "Sechskantschraube M8", "CAT1"),
            doc(2, "100-0000002", "Holzschraube", "CAT1"),
        ])
        .unwrap();
    // A second commit puts the next documents in another segment.
    index.commit(2).unwrap();
    index
        .add_new(&[
            doc(3, "100-0000003", "Schraubendreher", "CAT2"),
            doc(4, "100-0000004", "Schraube", "CAT2"),
            doc(5, "100-0000005", "Mutter", "CAT2"),
        ])
        .unwrap();
    index.commit(5).unwrap();

    let page = index.search(&request("schraube", 10)).unwrap();
    let ids: Vec<u64> = page.hits.iter().map(|h| h.local_id).collect();
    assert_eq!(
        ids[0], 4,
        "the whole word ranks above words that contain it"
    );
    assert_eq!(
        ids.iter().copied().collect::<HashSet<_>>(),
        HashSet::from([1, 2, 3, 4])
    );
    for hit in &page.hits {
        assert_eq!(hit.erp_id, format!("A{:05}", hit.local_id), "{hit:?}");
    }
    // A prefix as typed, every word required, case does not matter.
    let ids = |q: &str| -> Vec<u64> {
        let mut ids: Vec<u64> = index
            .search(&request(q, 10))
            .unwrap()
            .hits
            .iter()
            .map(|h| h.local_id)
            .collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids("SECHSK"), vec![1]);
    assert_eq!(ids("kant schraube"), vec![1]);
    assert_eq!(ids("holz m8"), vec![2], "words may match different fields");
    assert_eq!(ids("holz mutter"), Vec::<u64>::new());
    assert_eq!(ids("0000003"), vec![3]);
    // Two letters are too short for an infix match: only whole words.
    assert_eq!(ids("ut"), Vec::<u64>::new());
    // Query syntax still goes to the parser (a required and an excluded word).
    assert_eq!(ids("+schraubendreher -mutter"), vec![3]);
}

#[test]
fn an_index_of_another_schema_is_rebuilt_empty() {
    let dir = tempfile::tempdir().unwrap();
    let tenant_dir = dir.path().join("t1");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    {
        let mut builder = tantivy::schema::Schema::builder();
        let title = builder.add_text_field("title", tantivy::schema::TEXT);
        let old = tantivy::Index::create_in_dir(&tenant_dir, builder.build()).unwrap();
        let mut writer: tantivy::IndexWriter = old.writer(15_000_000).unwrap();
        writer
            .add_document(tantivy::doc!(title => "from an older release"))
            .unwrap();
        writer.commit().unwrap();
    }
    let indexes = SearchIndexes::new(
        dir.path(),
        IndexOptions {
            writer_threads: 1,
            writer_memory: 15_000_000,
            ..IndexOptions::default()
        },
    );
    let index = indexes.tenant("t1").unwrap();
    assert_eq!(index.num_docs(), 0);
    assert_eq!(
        index.committed_seq().unwrap(),
        0,
        "so the store catch-up refills it"
    );
    index
        .add_new(&[doc(1, "100-0000001", "Holzschraube", "CAT1")])
        .unwrap();
    index.commit(1).unwrap();
    assert_eq!(index.search(&request("schraube", 5)).unwrap().total, 1);
}

#[test]
fn fragments_too_common_for_infix_matching_are_whole_words_only() {
    let docs = [
        doc(1, "100-0000001", "Holzschraube", "CAT1"),
        doc(2, "100-0000002", "Sechskantschraube", "CAT1"),
        doc(3, "100-0000003", "Flachschraube", "CAT1"),
    ];
    let found = |infix_max_docs: u64| {
        let dir = tempfile::tempdir().unwrap();
        let indexes = SearchIndexes::new(
            dir.path(),
            IndexOptions {
                writer_threads: 1,
                writer_memory: 15_000_000,
                infix_max_docs,
                ..IndexOptions::default()
            },
        );
        let index = indexes.tenant("t1").unwrap();
        index.add_new(&docs).unwrap();
        index.commit(3).unwrap();
        index.search(&request("schraube", 10)).unwrap().total
    };
    // Every trigram of "schraube" is in all three documents.
    assert_eq!(found(3), 3);
    assert_eq!(found(2), 0, "no whole word `schraube`, and no infix for it");
}

/// A hit's (score, local id).
type Ranked = (f32, u64);
/// A page's total and its relation.
type Total = (u64, TotalRelation);

/// Every page of `query`, in order: (score, local id) of each hit, and each page's total.
fn all_pages(
    index: &erpbridge_search::TenantIndex,
    query: &str,
    category: Option<&str>,
    limit: usize,
) -> (Vec<Ranked>, Vec<Total>) {
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .search(&SearchRequest {
                query: query.to_owned(),
                category: category.map(str::to_owned),
                limit,
                cursor: cursor.take(),
            })
            .unwrap();
        assert!(page.hits.len() <= limit);
        totals.push((page.total, page.total_relation));
        seen.extend(page.hits.iter().map(|h| (h.score, h.local_id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    (seen, totals)
}

/// Best first: higher score, then lower id; every id once.
fn assert_ranked(seen: &[(f32, u64)]) {
    for pair in seen.windows(2) {
        let ((s0, i0), (s1, i1)) = (pair[0], pair[1]);
        assert!(s0 > s1 || (s0 == s1 && i0 < i1), "order broken at {pair:?}");
    }
    let unique: HashSet<u64> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(unique.len(), seen.len(), "a hit came twice");
}

fn with_options(track_total_hits: u64, infix_max_docs: u64) -> (tempfile::TempDir, SearchIndexes) {
    let dir = tempfile::tempdir().unwrap();
    let indexes = SearchIndexes::new(
        dir.path(),
        IndexOptions {
            writer_threads: 1,
            writer_memory: 15_000_000,
            track_total_hits,
            infix_max_docs,
        },
    );
    (dir, indexes)
}

#[test]
fn totals_are_exact_up_to_the_threshold_then_a_lower_bound_and_paging_goes_on() {
    // "hammer" is in names and descriptions (a union of two fields); "steel" only in
    // descriptions; "claw" in every other name.
    let docs: Vec<ArticleDoc> = (1..=130)
        .map(|i| {
            let name = if i % 2 == 0 { "hammer claw" } else { "hammer" };
            doc(
                i,
                &format!("N-{i}"),
                name,
                if i <= 40 { "small" } else { "big" },
            )
        })
        .collect();
    // With and without infix matching: without, "hammer" is found by block-max WAND
    // alone.
    for infix_max_docs in [0, IndexOptions::default().infix_max_docs] {
        let (_dir, indexes) = with_options(50, infix_max_docs);
        let index = indexes.tenant("t1").unwrap();
        index.add_new(&docs[..70]).unwrap();
        index.commit(1).unwrap();
        index.add_new(&docs[70..]).unwrap();
        index.delete(&[3, 4]).unwrap();
        index.commit(2).unwrap();

        // Counting stops at the threshold: a lower bound, on every page, and paging
        // still reaches every hit, in order.
        let (seen, totals) = all_pages(&index, "hammer", None, 9);
        assert_eq!(seen.len(), 128);
        assert_ranked(&seen);
        assert!(!seen.iter().any(|(_, id)| *id == 3 || *id == 4), "deleted");
        let lower_bound = (50, TotalRelation::AtLeast);
        assert!(totals.iter().all(|t| *t == lower_bound), "{totals:?}");

        // Exact where it is cheap: one field's postings, a listing.
        let total = |query: &str, category: Option<&str>| {
            let page = index
                .search(&SearchRequest {
                    query: query.to_owned(),
                    category: category.map(str::to_owned),
                    limit: 5,
                    cursor: None,
                })
                .unwrap();
            (page.total, page.total_relation)
        };
        assert_eq!(total("steel", None), (128, TotalRelation::Exact));
        // Several words and a filtered word count up to the threshold too: past it
        // their matches are pruned, not all visited.
        assert_eq!(total("hammer claw", None), (50, TotalRelation::AtLeast));
        assert_eq!(total("hammer", Some("big")), (50, TotalRelation::AtLeast));
        assert_eq!(total("hammer", Some("small")), (38, TotalRelation::Exact));
        assert_eq!(total("", Some("small")), (38, TotalRelation::Exact));
        assert_eq!(total("", None), (128, TotalRelation::Exact));
    }

    // Under the threshold a count is exact.
    let (_dir, indexes) = with_options(1_000, 0);
    let index = indexes.tenant("t1").unwrap();
    index.add_new(&docs).unwrap();
    index.commit(1).unwrap();
    let (seen, totals) = all_pages(&index, "hammer", None, 50);
    assert_eq!(seen.len(), 130);
    assert!(
        totals.iter().all(|t| *t == (130, TotalRelation::Exact)),
        "{totals:?}"
    );
    assert_eq!(TotalRelation::AtLeast.as_str(), "gte");
    assert_eq!(TotalRelation::Exact.as_str(), "eq");
}

#[test]
fn score_ties_page_by_id_whatever_order_segments_and_documents_have() {
    // All hits score the same; segments hold id ranges out of order, one of them with
    // ids descending in document order. The lowest ids must still come first. Without
    // infix matching the word is scored by block-max WAND, which skips ties.
    for infix_max_docs in [0, IndexOptions::default().infix_max_docs] {
        let (_dir, indexes) = with_options(10_000, infix_max_docs);
        let index = indexes.tenant("t1").unwrap();
        // In names only: one term, whose WAND scores are the canonical ones.
        let same = |id: u64| ArticleDoc {
            descriptions: "plain".to_owned(),
            ..doc(id, "N", "spanner", "c")
        };
        let batches: [Vec<u64>; 4] = [
            (201..=500).collect(),
            (1..=150).rev().collect(),
            (151..=200).collect(),
            vec![1000, 5, 2000],
        ];
        let mut seq = 0;
        for batch in &batches {
            let docs: Vec<ArticleDoc> = batch.iter().map(|&id| same(id)).collect();
            index.upsert(&docs).unwrap();
            seq += 1;
            index.commit(seq).unwrap();
        }
        for limit in [7, 1, 200] {
            let (seen, _) = all_pages(&index, "spanner", None, limit);
            assert_eq!(seen.len(), 502, "id 5 was replaced, not duplicated");
            assert_ranked(&seen);
            let ids: Vec<u64> = seen.iter().map(|(_, id)| *id).collect();
            assert_eq!(&ids[..4], &[1, 2, 3, 4], "infix_max_docs {infix_max_docs}");
            assert_eq!(seen[0].0, seen[501].0, "every hit ties");
        }
    }
}

#[test]
fn whole_words_and_words_inside_compounds_page_together() {
    let (_dir, indexes) = indexes();
    let index = indexes.tenant("t1").unwrap();
    let docs: Vec<ArticleDoc> = (1..=150)
        .map(|i| {
            let name = match i % 3 {
                0 => "Schraube",
                1 => "Holzschraube lang",
                _ => "Mutter",
            };
            doc(i, &format!("N-{i}"), name, "c")
        })
        .collect();
    index.add_new(&docs[..80]).unwrap();
    index.commit(1).unwrap();
    index.add_new(&docs[80..]).unwrap();
    index.commit(2).unwrap();
    let (seen, totals) = all_pages(&index, "schraube", None, 11);
    assert_eq!(seen.len(), 100);
    assert_ranked(&seen);
    assert!(totals.iter().all(|t| *t == (100, TotalRelation::Exact)));
    // Whole words first, then the compounds at the infix score.
    let first: HashSet<u64> = seen[..50].iter().map(|(_, id)| id % 3).collect();
    assert_eq!(first, HashSet::from([0]));
    let rest: HashSet<u64> = seen[50..].iter().map(|(_, id)| id % 3).collect();
    assert_eq!(rest, HashSet::from([1]));
}

#[test]
fn pruned_intersections_page_exactly_like_scoring_every_match() {
    // Two words most documents have, with scores spread by field lengths, over three
    // segments (the last re-adds low ids, so its ids run out of order) with deletes,
    // and one word under a category filter. Past the count threshold the intersection
    // skips postings blocks by their block-max bound; pages must not change.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut draw = |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    let filler = [
        "bolt", "nut", "washer", "pin", "rivet", "clip", "plug", "ring",
    ];
    let mut make = |id: u64| {
        let words = |n: u64, draw: &mut dyn FnMut(u64) -> u64| {
            (0..n)
                .map(|_| filler[draw(filler.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let name_len = 1 + draw(6);
        let name = match draw(5) {
            0 => format!("stainless steel {}", words(name_len, &mut draw)),
            1 => format!("steel {}", words(name_len, &mut draw)),
            // Both words only inside longer ones: infix matches.
            2 => format!("steelwire stainlessclip {}", words(name_len, &mut draw)),
            _ => words(name_len, &mut draw),
        };
        let desc_len = draw(12);
        let material = ["stainless steel", "steel", "brass steel stainless"][draw(3) as usize];
        ArticleDoc {
            local_id: id,
            erp_id: format!("A{id:05}"),
            number: format!("N-{id}"),
            descriptions: format!("{material} {}", words(desc_len, &mut draw)),
            attributes: if draw(2) == 0 {
                "stainless".to_owned()
            } else {
                "zinc".to_owned()
            },
            categories: vec![if id.is_multiple_of(3) { "c0" } else { "c1" }.to_owned()],
            category_names: "fasteners".to_owned(),
            names: name,
        }
    };
    let batches: Vec<Vec<ArticleDoc>> = vec![
        (1..=1_500).map(&mut make).collect(),
        (1_501..=3_000).map(&mut make).collect(),
        (1..=400).step_by(3).map(&mut make).collect(),
    ];
    let build = |track_total_hits: u64, infix_max_docs: u64| {
        let (dir, indexes) = with_options(track_total_hits, infix_max_docs);
        let index = indexes.tenant("t1").unwrap();
        for (seq, batch) in batches.iter().enumerate() {
            index.upsert(batch).unwrap();
            if seq == 1 {
                index.delete(&[2, 50, 1_600, 2_999]).unwrap();
            }
            index.commit(seq as i64 + 1).unwrap();
        }
        (dir, indexes, index)
    };
    // With and without infix matching (its bonus is part of a word's bound).
    for infix_max_docs in [0, IndexOptions::default().infix_max_docs] {
        let (_d1, _i1, pruned) = build(100, infix_max_docs);
        let (_d2, _i2, every) = build(u64::MAX, infix_max_docs);
        check_pruned_against_every_match(&pruned, &every);
    }
}

fn check_pruned_against_every_match(
    pruned: &erpbridge_search::TenantIndex,
    every: &erpbridge_search::TenantIndex,
) {
    for (query, category) in [
        ("stainless steel", None),
        ("steel stainless", None),
        ("steel", Some("c0")),
        ("stainless steel", Some("c1")),
    ] {
        for limit in [5, 64] {
            let (want, want_totals) = all_pages(every, query, category, limit);
            let (got, got_totals) = all_pages(pruned, query, category, limit);
            assert!(want.len() > 500, "{query}: {} matches", want.len());
            assert_ranked(&want);
            assert_eq!(got, want, "{query} {category:?} limit {limit}");
            let matches = want.len() as u64;
            assert!(
                want_totals
                    .iter()
                    .all(|t| *t == (matches, TotalRelation::Exact))
            );
            assert!(
                got_totals
                    .iter()
                    .all(|t| *t == (100, TotalRelation::AtLeast)),
                "{got_totals:?}"
            );
        }
    }
}
