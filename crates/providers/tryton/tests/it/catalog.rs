//! The catalog stream against Tryton's own answers: full sync, paging, deltas.

use erpbridge_model::{CatalogRecord, ChangeCursor, EntityKind};
use erpbridge_provider::{CatalogPageRequest, Provider};
use erpbridge_tryton::TrytonProvider;
use futures::TryStreamExt as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::harness::{self, Client};

/// Every page of one pass: the records and the cursor to continue from.
async fn pass(
    provider: &TrytonProvider,
    entity: EntityKind,
    from: Option<ChangeCursor>,
    limit: u32,
) -> (Vec<CatalogRecord>, ChangeCursor) {
    let pages: Vec<_> = provider
        .catalog_stream(CatalogPageRequest {
            entity,
            from,
            limit,
        })
        .try_collect()
        .await
        .expect("catalog pass");
    let last = pages.last().expect("at least one page").next.clone();
    (pages.into_iter().flat_map(|p| p.records).collect(), last)
}

fn articles(records: &[CatalogRecord]) -> BTreeMap<i64, &erpbridge_model::Article> {
    records
        .iter()
        .filter_map(|r| match r {
            CatalogRecord::Article(a) => Some((a.id.as_str().parse().unwrap(), a)),
            _ => None,
        })
        .collect()
}

fn deleted(records: &[CatalogRecord]) -> BTreeSet<i64> {
    records
        .iter()
        .filter_map(|r| match r {
            CatalogRecord::Deleted { id, .. } => Some(id.parse().unwrap()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_equals_trytons_own_search_read() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let tryton = server.client().await;
    let seed = &server.seed;

    let (records, _) = pass(&provider, EntityKind::Article, None, 1000).await;
    let got = articles(&records);
    assert!(
        deleted(&records).is_empty(),
        "a full pass has no tombstones"
    );

    // Tryton's own view of the seeded products (other tests only touch what they create).
    let rows = tryton
        .search_read(
            "product.product",
            json!([["id", "in", seed.product_ids], ["salable", "=", true]]),
            &[
                "id",
                "code",
                "name",
                "categories",
                "template.list_price",
                "sale_uom.symbol",
            ],
            json!({}),
        )
        .await;
    assert_eq!(
        rows.len(),
        seed.products,
        "the seed's products are all in Tryton"
    );
    for row in &rows {
        let id = row["id"].as_i64().unwrap();
        let article = got
            .get(&id)
            .unwrap_or_else(|| panic!("product {id} missing"));
        assert_eq!(article.number, row["code"].as_str().unwrap());
        assert_eq!(article.names["en"], row["name"].as_str().unwrap());
        let categories: Vec<String> = row["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let ours: Vec<String> = article.categories.iter().map(|c| c.0.clone()).collect();
        assert_eq!(ours, categories);
        assert_eq!(article.unit.as_deref(), row["sale_uom."]["symbol"].as_str());
        let list_price = article
            .attributes
            .iter()
            .find(|a| a.key == "list_price")
            .expect("list price attribute");
        assert_eq!(
            list_price.value.parse::<rust_decimal::Decimal>().unwrap(),
            harness::decimal(&row["template."]["list_price"])
        );
        assert!(article.row_version > 0);
    }

    // Articles by id: the same records as the stream; unknown ids are left out.
    let mut wanted: Vec<erpbridge_model::ArticleId> = seed.product_ids[..5]
        .iter()
        .map(|id| erpbridge_model::ArticleId(id.to_string()))
        .collect();
    wanted.push(erpbridge_model::ArticleId("99999999".into()));
    wanted.push(erpbridge_model::ArticleId("not-an-id".into()));
    let by_id = provider.articles(wanted).await.unwrap();
    assert_eq!(by_id.len(), 5);
    for article in &by_id {
        let id: i64 = article.id.as_str().parse().unwrap();
        assert_eq!(&article, &got[&id]);
    }

    // Small pages give the same records as one big page (keyset paging, no gaps/dups).
    let (small, _) = pass(&provider, EntityKind::Article, None, 37).await;
    // Other tests may add articles meanwhile (a shared server): compare the seeded range.
    let seeded_max = *seed.product_ids.iter().max().unwrap();
    let small_ids: Vec<i64> = articles(&small)
        .keys()
        .copied()
        .filter(|id| *id <= seeded_max)
        .collect();
    let big_ids: Vec<i64> = got.keys().copied().filter(|id| *id <= seeded_max).collect();
    assert_eq!(small_ids, big_ids);
    assert_eq!(small_ids.len(), seed.products);
    assert_eq!(
        articles(&small).len(),
        small.len(),
        "no duplicates across pages"
    );

    // Categories: Tryton's minus accounting ones; customers: parties minus the company.
    let (cats, _) = pass(&provider, EntityKind::Category, None, 1000).await;
    // Other tests only create records, with ids above the seed's: compare the seeded range.
    let cat_max = *seed.categories.iter().max().unwrap();
    let tryton_cats = tryton
        .search(
            "product.category",
            json!([["accounting", "=", false], ["id", "<=", cat_max]]),
            json!({}),
        )
        .await;
    let ours: Vec<i64> = cats
        .iter()
        .map(|r| match r {
            CatalogRecord::Category(c) => c.id.as_str().parse().unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .filter(|id| *id <= cat_max)
        .collect();
    assert_eq!(ours, tryton_cats);
    for leaf in &seed.categories {
        assert!(ours.contains(leaf));
    }

    let (customers, _) = pass(&provider, EntityKind::Customer, None, 1000).await;
    let company_party = tryton
        .search_read("company.company", json!([]), &["party"], json!({}))
        .await[0]["party"]
        .as_i64()
        .unwrap();
    let party_max = seed.customers.iter().map(|c| c.id).max().unwrap();
    let parties = tryton
        .search_read(
            "party.party",
            json!([["id", "!=", company_party], ["id", "<=", party_max]]),
            &["id", "code", "name", "email"],
            json!({}),
        )
        .await;
    let ours: BTreeMap<i64, &erpbridge_model::Customer> = customers
        .iter()
        .filter_map(|r| match r {
            CatalogRecord::Customer(c) => Some((c.id.as_str().parse().unwrap(), c)),
            _ => None,
        })
        .filter(|(id, _)| *id <= party_max)
        .collect();
    assert_eq!(ours.len(), parties.len());
    assert_eq!(ours.len(), seed.customers.len());
    for party in &parties {
        let customer = ours[&party["id"].as_i64().unwrap()];
        assert_eq!(customer.number, party["code"].as_str().unwrap());
        assert_eq!(customer.name, party["name"].as_str().unwrap());
        assert_eq!(customer.email.as_deref(), party["email"].as_str());
        assert_eq!(customer.currency, seed.currency_code);
    }
    for seeded in &seed.customers {
        assert_eq!(ours[&seeded.id].number, seeded.code);
    }
}

/// Creates a template with `variants` salable variants; returns (template, variant ids).
async fn make_template(tryton: &Client, code: &str, variants: usize) -> (i64, Vec<i64>) {
    let unit = tryton
        .search("product.uom", json!([["name", "=", "Unit"]]), json!({}))
        .await[0];
    let suffixes: Vec<Value> = (0..variants)
        .map(|i| json!({"suffix_code": format!("-{i}")}))
        .collect();
    let template = tryton
        .call(
            "product.template",
            "create",
            vec![json!([{
                "name": format!("Delta test {code}"), "code": code, "type": "goods",
                "default_uom": unit, "sale_uom": unit, "salable": true,
                "list_price": {"__class__": "Decimal", "decimal": "10.00"},
                "products": [["create", suffixes]],
            }])],
            json!({}),
        )
        .await[0]
        .as_i64()
        .unwrap();
    let ids = tryton
        .search(
            "product.product",
            json!([["template", "=", template]]),
            json!({}),
        )
        .await;
    (template, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_sees_variant_and_template_changes_deactivations_and_deletions() {
    let Some(server) = harness::server() else {
        return;
    };
    let tryton = server.client().await;
    let run = std::process::id();
    let (_, changed) = make_template(&tryton, &format!("DV{run}"), 2).await;
    let (template_b, via_template) = make_template(&tryton, &format!("DT{run}"), 2).await;
    let (_, deactivated) = make_template(&tryton, &format!("DA{run}"), 1).await;
    let (template_d, removed) = make_template(&tryton, &format!("DD{run}"), 1).await;
    let (_, untouched) = make_template(&tryton, &format!("DU{run}"), 1).await;

    // No overlap, so "nothing changed" is exactly empty.
    let mut config = server.config();
    config.delta_overlap = std::time::Duration::ZERO;
    let provider = TrytonProvider::connect(config).await.unwrap();
    let (full, cursor) = pass(&provider, EntityKind::Article, None, 500).await;
    let full = articles(&full);
    for id in changed
        .iter()
        .chain(&via_template)
        .chain(&deactivated)
        .chain(&removed)
    {
        assert!(full.contains_key(id), "{id} in the full pass");
    }

    // Nothing changed yet: an empty delta.
    let (quiet, cursor) = pass(&provider, EntityKind::Article, Some(cursor), 500).await;
    assert!(quiet.is_empty(), "no change, no delta: {quiet:?}");

    // Change a variant, a template (not its variants), deactivate one, delete one.
    tryton
        .call(
            "product.product",
            "write",
            vec![
                json!([changed[0]]),
                json!({"description": "changed variant"}),
            ],
            json!({}),
        )
        .await;
    tryton
        .call(
            "product.template",
            "write",
            vec![
                json!([template_b]),
                json!({"list_price": {"__class__": "Decimal", "decimal": "12.34"}}),
            ],
            json!({}),
        )
        .await;
    tryton
        .call(
            "product.product",
            "write",
            vec![json!(deactivated), json!({"active": false})],
            json!({}),
        )
        .await;
    tryton
        .call(
            "product.template",
            "delete",
            vec![json!([template_d])],
            json!({}),
        )
        .await;
    assert!(
        tryton
            .search(
                "product.product",
                json!([["id", "in", removed]]),
                json!({"active_test": false})
            )
            .await
            .is_empty(),
        "Tryton deleted the variant with its template"
    );

    let (delta, cursor) = pass(&provider, EntityKind::Article, Some(cursor), 2).await;
    let updated = articles(&delta);
    let gone = deleted(&delta);
    assert!(updated.contains_key(&changed[0]), "changed variant");
    assert_eq!(
        updated[&changed[0]].descriptions["en"], "changed variant",
        "the delta carries the new value"
    );
    assert!(
        updated[&changed[0]].row_version > full[&changed[0]].row_version,
        "row version grows"
    );
    for id in &via_template {
        let article = updated
            .get(id)
            .unwrap_or_else(|| panic!("variant {id} of the changed template is in the delta"));
        let price = article
            .attributes
            .iter()
            .find(|a| a.key == "list_price")
            .unwrap();
        assert_eq!(price.value, "12.34");
    }
    assert_eq!(
        gone,
        deactivated
            .iter()
            .chain(&removed)
            .copied()
            .collect::<BTreeSet<_>>(),
        "tombstones for the deactivated and the deleted variant, nothing else"
    );
    for id in untouched.iter().chain(&server.seed.product_ids) {
        assert!(
            !updated.contains_key(id),
            "unchanged {id} is not in the delta"
        );
    }
    assert!(
        !updated.contains_key(&changed[1]),
        "the sibling variant did not change"
    );

    // And after the delta, quiet again: tombstones are not repeated.
    let (again, _) = pass(&provider, EntityKind::Article, Some(cursor), 500).await;
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_another_entity_or_provider_is_rejected() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let page = provider
        .catalog_page(CatalogPageRequest {
            entity: EntityKind::Category,
            from: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert!(page.has_more);
    let err = provider
        .catalog_page(CatalogPageRequest {
            entity: EntityKind::Article,
            from: Some(page.next),
            limit: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, erpbridge_provider::ErrorKind::Fatal);
    assert!(err.message.contains("Category"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_category_deltas_report_changes_and_tombstones() {
    let Some(server) = harness::server() else {
        return;
    };
    let tryton = server.client().await;
    let run = std::process::id();
    let parties: Vec<i64> = tryton
        .call(
            "party.party",
            "create",
            vec![json!((0..3)
                .map(|i| json!({"name": format!("Delta party {run}-{i}"), "code": format!("DP{run}-{i}")}))
                .collect::<Vec<_>>())],
            json!({}),
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let category = tryton
        .call(
            "product.category",
            "create",
            vec![json!([{"name": format!("Delta category {run}")}])],
            json!({}),
        )
        .await[0]
        .as_i64()
        .unwrap();

    let mut config = server.config();
    config.delta_overlap = std::time::Duration::ZERO;
    let provider = TrytonProvider::connect(config).await.unwrap();
    let (_, customers) = pass(&provider, EntityKind::Customer, None, 100).await;
    let (_, categories) = pass(&provider, EntityKind::Category, None, 100).await;

    tryton
        .call(
            "party.party",
            "write",
            vec![json!([parties[0]]), json!({"name": "Renamed party"})],
            json!({}),
        )
        .await;
    tryton
        .call(
            "party.party",
            "write",
            vec![json!([parties[1]]), json!({"active": false})],
            json!({}),
        )
        .await;
    tryton
        .call(
            "party.party",
            "delete",
            vec![json!([parties[2]])],
            json!({}),
        )
        .await;
    tryton
        .call(
            "product.category",
            "write",
            vec![json!([category]), json!({"name": "Renamed category"})],
            json!({}),
        )
        .await;

    let (delta, _) = pass(&provider, EntityKind::Customer, Some(customers), 100).await;
    let renamed: Vec<&erpbridge_model::Customer> = delta
        .iter()
        .filter_map(|r| match r {
            CatalogRecord::Customer(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(renamed.len(), 1, "{delta:?}");
    assert_eq!(renamed[0].id.as_str(), parties[0].to_string());
    assert_eq!(renamed[0].name, "Renamed party");
    assert_eq!(deleted(&delta), BTreeSet::from([parties[1], parties[2]]));

    let (delta, _) = pass(&provider, EntityKind::Category, Some(categories), 100).await;
    match delta.as_slice() {
        [CatalogRecord::Category(c)] => {
            assert_eq!(c.id.as_str(), category.to_string());
            assert_eq!(c.names["en"], "Renamed category");
        }
        other => panic!("expected the renamed category only, got {other:?}"),
    }
}
