use erpbridge_model::{CatalogRecord, EntityKind};
use erpbridge_provider::{CatalogPageRequest, ErrorKind};
use erpbridge_sim::{Sim, SimConfig};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

use crate::{drain, record_id, sim};

fn checksum(records: &[CatalogRecord]) -> String {
    let mut hasher = Sha256::new();
    for r in records {
        hasher.update(serde_json::to_vec(r).unwrap());
    }
    format!("{:x}", hasher.finalize())
}

fn snapshot(sim: &Sim, entity: EntityKind) -> BTreeMap<String, CatalogRecord> {
    let (records, _) = drain(sim, entity, None, 333).unwrap();
    let map: BTreeMap<_, _> = records.iter().map(|r| (record_id(r), r.clone())).collect();
    assert_eq!(map.len(), records.len(), "snapshot ids are unique");
    map
}

#[test]
fn same_seed_same_catalog_other_seed_other_catalog() {
    let a = drain(&sim(500), EntityKind::Article, None, 100).unwrap().0;
    let b = drain(&sim(500), EntityKind::Article, None, 77).unwrap().0;
    assert_eq!(
        checksum(&a),
        checksum(&b),
        "page size does not change the stream"
    );
    let other = Sim::new(SimConfig {
        seed: 43,
        ..SimConfig::fast(500)
    })
    .unwrap();
    let c = drain(&other, EntityKind::Article, None, 100).unwrap().0;
    assert_ne!(checksum(&a), checksum(&c));
}

#[test]
fn full_snapshot_counts_match_the_config() {
    let sim = Sim::new(SimConfig {
        customers: 120,
        categories: 37,
        ..SimConfig::fast(1234)
    })
    .unwrap();
    let articles = snapshot(&sim, EntityKind::Article);
    assert_eq!(articles.len(), 1234);
    assert_eq!(snapshot(&sim, EntityKind::Customer).len(), 120);
    let categories = snapshot(&sim, EntityKind::Category);
    assert_eq!(categories.len(), 37);
    // Ids come in stable ascending order and every article has 20 attributes in 2 languages.
    let keys: Vec<_> = articles.keys().cloned().collect();
    let streamed: Vec<_> = drain(&sim, EntityKind::Article, None, 1000)
        .unwrap()
        .0
        .iter()
        .map(record_id)
        .collect();
    assert_eq!(keys, streamed);
    for record in articles.values() {
        let CatalogRecord::Article(a) = record else {
            panic!("not an article: {record:?}")
        };
        assert_eq!(a.attributes.len(), 20);
        assert!(a.names.contains_key("de") && a.names.contains_key("en"));
        let category = a.categories[0].0.clone();
        assert!(categories.contains_key(&category), "{category} exists");
    }
}

#[test]
fn delta_after_advance_is_exactly_the_difference_of_two_snapshots() {
    let sim = sim(2000);
    let before = snapshot(&sim, EntityKind::Article);
    let (_, hwm) = drain(&sim, EntityKind::Article, None, 1000).unwrap();
    sim.advance(3);
    let after = snapshot(&sim, EntityKind::Article);

    let mut expected = BTreeMap::new();
    for (id, record) in &after {
        if before.get(id) != Some(record) {
            expected.insert(id.clone(), record.clone());
        }
    }
    for id in before.keys().filter(|id| !after.contains_key(*id)) {
        expected.insert(
            id.clone(),
            CatalogRecord::Deleted {
                entity: EntityKind::Article,
                id: id.clone(),
            },
        );
    }
    // 1% of 2000 per tick, 2 deletes and 5 inserts per tick: the diff is not trivial.
    assert!(expected.len() > 50, "{}", expected.len());
    assert!(
        expected
            .values()
            .any(|r| matches!(r, CatalogRecord::Deleted { .. }))
    );
    assert!(after.len() > before.len());

    let (delta, next) = drain(&sim, EntityKind::Article, Some(hwm.clone()), 25).unwrap();
    let got: BTreeMap<_, _> = delta.iter().map(|r| (record_id(r), r.clone())).collect();
    assert_eq!(got.len(), delta.len(), "no duplicates in a delta");
    assert_eq!(got, expected);
    let listed: BTreeSet<String> = sim
        .changed_article_ids(0, 3)
        .into_iter()
        .map(|id| id.0)
        .collect();
    assert_eq!(listed, expected.keys().cloned().collect());

    // Nothing changed since: an empty delta that keeps the high-water mark.
    let page = sim
        .catalog_page(&CatalogPageRequest {
            entity: EntityKind::Article,
            from: Some(next.clone()),
            limit: 100,
        })
        .unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert_eq!(page.next, next);
    assert_ne!(next, hwm);
}

#[test]
fn a_delta_resumed_from_any_page_has_no_gaps_or_duplicates() {
    let sim = sim(3000);
    let (_, hwm) = drain(&sim, EntityKind::Article, None, 1000).unwrap();
    sim.advance(2);
    let (whole, end) = drain(&sim, EntityKind::Article, Some(hwm.clone()), 1000).unwrap();

    // A consumer that crashes after 3 pages resumes, in another process (a fresh Sim
    // with the same config and clock), from its last committed cursor — while the
    // original simulator has already moved on.
    let mut first = Vec::new();
    let mut request = CatalogPageRequest {
        entity: EntityKind::Article,
        from: Some(hwm),
        limit: 7,
    };
    for _ in 0..3 {
        let page = sim.catalog_page(&request).unwrap();
        assert!(page.has_more);
        first.extend(page.records);
        request.from = Some(page.next);
    }
    sim.advance(1);
    let restarted = crate::sim(3000);
    restarted.advance(2);
    let (rest, end_after_restart) =
        drain(&restarted, EntityKind::Article, request.from.clone(), 11).unwrap();
    first.extend(rest);
    assert_eq!(first, whole);
    assert_eq!(end_after_restart, end);
    // And on the original, the resumed delta still stops at the tick it started from.
    let (rest_on_original, _) = drain(&sim, EntityKind::Article, request.from, 11).unwrap();
    assert_eq!(&whole[21..], rest_on_original.as_slice());
}

#[test]
fn a_full_snapshot_stays_consistent_while_the_clock_moves() {
    let sim = sim(1500);
    let reference = drain(&sim, EntityKind::Article, None, 1000).unwrap();
    let first = sim
        .catalog_page(&CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: 400,
        })
        .unwrap();
    sim.advance(5);
    let (rest, hwm) = drain(&sim, EntityKind::Article, Some(first.next), 400).unwrap();
    let mut all = first.records;
    all.extend(rest);
    assert_eq!(
        all, reference.0,
        "pages after the advance still show tick 0"
    );
    assert_eq!(hwm, reference.1);
    // The delta from that snapshot then brings the five ticks of changes.
    let (delta, _) = drain(&sim, EntityKind::Article, Some(hwm), 1000).unwrap();
    assert_eq!(delta.len(), sim.changed_article_ids(0, 5).len());
}

#[test]
fn customers_change_and_categories_do_not() {
    let sim = sim(100);
    let (_, customers) = drain(&sim, EntityKind::Customer, None, 1000).unwrap();
    let (_, categories) = drain(&sim, EntityKind::Category, None, 1000).unwrap();
    sim.advance(1);
    let (changed, _) = drain(&sim, EntityKind::Customer, Some(customers), 1000).unwrap();
    assert_eq!(changed.len(), 10, "1% of 1000 customers");
    assert!(
        changed
            .iter()
            .all(|r| matches!(r, CatalogRecord::Customer(c) if c.row_version == 2))
    );
    let (none, _) = drain(&sim, EntityKind::Category, Some(categories), 1000).unwrap();
    assert!(none.is_empty());
}

#[test]
fn foreign_and_garbled_cursors_are_fatal() {
    let a = sim(100);
    let (_, hwm) = drain(&a, EntityKind::Article, None, 1000).unwrap();
    let other = Sim::new(SimConfig {
        seed: 1,
        ..SimConfig::fast(100)
    })
    .unwrap();
    let err = drain(&other, EntityKind::Article, Some(hwm.clone()), 10).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    let err = drain(&a, EntityKind::Customer, Some(hwm), 10).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
}

#[test]
fn auto_tick_moves_the_clock() {
    let sim = Sim::new(SimConfig {
        auto_tick: Some(std::time::Duration::from_millis(5)),
        ..SimConfig::fast(100)
    })
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sim.tick() < 3 {
        assert!(std::time::Instant::now() < deadline, "the ticker runs");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(sim.article_count() > 100, "ticks insert articles");
}
