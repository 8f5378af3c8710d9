#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the per-tenant index on a real directory.

use std::collections::HashSet;

use erpbridge_search::{ArticleDoc, IndexOptions, SearchIndexes, SearchRequest};

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
