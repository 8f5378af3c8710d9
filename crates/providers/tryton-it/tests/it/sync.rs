//! The sync engine over the Tryton provider, into a real SQLite catalog store and a real
//! tantivy index: after every run the store must hold exactly what Tryton holds (asked
//! of Tryton directly, not of the provider), and the index must find it.

use erpbridge_model::EntityKind;
use erpbridge_provider::Provider;
use erpbridge_search::{IndexOptions, SearchIndexes, SearchRequest};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_sync::checksum::{provider_checksum, store_checksum};
use erpbridge_sync::{SyncEngine, SyncMode, SyncOptions, SyncReport};
use erpbridge_tryton::TrytonProvider;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::harness::{self, Client};

const TENANT: &str = "tryton-sync";

async fn engine(dir: &std::path::Path) -> SyncEngine {
    let db = Db::open_sqlite(&dir.join("store.sqlite"), SqliteDurability::Normal)
        .await
        .expect("open sqlite");
    db.migrate().await.expect("migrate");
    let indexes = Arc::new(SearchIndexes::new(
        dir.join("search"),
        IndexOptions {
            writer_threads: 1,
            writer_memory: 50 * 1024 * 1024,
            ..IndexOptions::default()
        },
    ));
    SyncEngine::new(
        CatalogStore::new(db),
        indexes,
        SyncOptions {
            // Several pages per stage even on the small CI seed.
            page_size: 60,
            ..SyncOptions::default()
        },
    )
}

/// One article as both sides can state it: number, English name, list price.
type Row = (String, String, String);

/// Tryton's own view: every salable active variant (what an article is).
async fn tryton_articles(tryton: &Client) -> BTreeMap<String, Row> {
    tryton
        .search_read(
            "product.product",
            json!([["salable", "=", true]]),
            &["id", "code", "name", "template.list_price"],
            json!({}),
        )
        .await
        .iter()
        .map(|row| {
            let price = harness::decimal(&row["template."]["list_price"]).normalize();
            (
                row["id"].to_string(),
                (
                    row["code"].as_str().unwrap_or_default().to_owned(),
                    row["name"].as_str().unwrap_or_default().to_owned(),
                    price.to_string(),
                ),
            )
        })
        .collect()
}

async fn store_articles(store: &CatalogStore) -> BTreeMap<String, Row> {
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .articles_page(TENANT, after.as_deref(), 500)
            .await
            .unwrap();
        let Some(last) = page.last() else {
            return out;
        };
        after = Some(last.id.0.clone());
        for article in page {
            let price = article
                .attributes
                .iter()
                .find(|a| a.key == "list_price")
                .map(|a| {
                    a.value
                        .parse::<rust_decimal::Decimal>()
                        .unwrap()
                        .normalize()
                        .to_string()
                })
                .unwrap_or_default();
            out.insert(
                article.id.0.clone(),
                (
                    article.number,
                    article.names.get("en").cloned().unwrap_or_default(),
                    price,
                ),
            );
        }
    }
}

/// The store equals Tryton: the same articles with the same number, name and price,
/// the same category and customer counts, and content checksums equal to the
/// provider's current snapshot for every entity.
async fn assert_store_equals_tryton(
    store: &CatalogStore,
    tryton: &Client,
    provider: &TrytonProvider,
) {
    let theirs = tryton_articles(tryton).await;
    let ours = store_articles(store).await;
    assert!(!theirs.is_empty());
    assert_eq!(ours.len(), theirs.len(), "article count");
    assert_eq!(ours, theirs, "articles differ from Tryton's");

    let counts = store.counts(TENANT).await.unwrap();
    assert_eq!(counts.articles as usize, theirs.len());
    let categories = tryton
        .search(
            "product.category",
            json!([["accounting", "=", false]]),
            json!({}),
        )
        .await;
    assert_eq!(counts.categories as usize, categories.len(), "categories");
    let company_parties: Vec<Value> = tryton
        .search_read("company.company", json!([]), &["party"], json!({}))
        .await
        .iter()
        .map(|c| c["party"].clone())
        .collect();
    let parties = tryton
        .search(
            "party.party",
            json!([["id", "not in", company_parties]]),
            json!({}),
        )
        .await;
    assert_eq!(counts.customers as usize, parties.len(), "customers");

    for entity in [
        EntityKind::Category,
        EntityKind::Article,
        EntityKind::Customer,
    ] {
        let expected = provider_checksum(provider, entity).await.unwrap();
        let actual = store_checksum(store, TENANT, entity).await.unwrap();
        assert_eq!(actual, expected, "{entity:?}: store checksum");
    }
}

fn search(engine: &SyncEngine, query: &str) -> Vec<String> {
    engine
        .indexes()
        .tenant(TENANT)
        .unwrap()
        .search(&SearchRequest {
            query: query.to_owned(),
            limit: 1_000,
            ..SearchRequest::default()
        })
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.erp_id)
        .collect()
}

fn article_stage(report: &SyncReport) -> &erpbridge_sync::StageReport {
    report
        .stages
        .iter()
        .find(|s| s.stage == erpbridge_store::catalog::entity_name(EntityKind::Article))
        .unwrap_or_else(|| panic!("no article stage in {report:?}"))
}

/// A salable template with `variants` variants; returns (template, variant ids).
async fn make_template(
    tryton: &Client,
    code: &str,
    name: &str,
    variants: usize,
) -> (i64, Vec<i64>) {
    let unit = tryton
        .search("product.uom", json!([["name", "=", "Unit"]]), json!({}))
        .await[0];
    let suffixes: Vec<Value> = (0..variants)
        .map(|i| json!({"suffix_code": format!("-V{i}")}))
        .collect();
    let template = tryton
        .call(
            "product.template",
            "create",
            vec![json!([{
                "name": name, "code": code, "type": "goods",
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
    assert_eq!(ids.len(), variants);
    (template, ids)
}

async fn code_of(tryton: &Client, id: i64) -> String {
    tryton
        .search_read(
            "product.product",
            json!([["id", "=", id]]),
            &["code"],
            json!({"active_test": false}),
        )
        .await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_then_delta_and_sweep_keep_store_and_index_equal_to_tryton() {
    let Some(server) = harness::server() else {
        return;
    };
    let tryton = server.client().await;
    let run = std::process::id();
    // Records of this test's own (other tests on a shared server use the seeded ones).
    let (_, variant) =
        make_template(&tryton, &format!("SV{run}"), &format!("Sprocket{run}"), 2).await;
    let (template, via_template) =
        make_template(&tryton, &format!("ST{run}"), &format!("Gearbox{run}"), 2).await;
    let (_, deactivated) =
        make_template(&tryton, &format!("SA{run}"), &format!("Flange{run}"), 1).await;
    let (removed_template, removed) =
        make_template(&tryton, &format!("SD{run}"), &format!("Gasket{run}"), 1).await;
    let (_, swept) = make_template(&tryton, &format!("SS{run}"), &format!("Bushing{run}"), 1).await;

    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let provider = server.provider().await;
    let dyn_provider: Arc<dyn Provider> = Arc::new(provider.clone());

    // ---- Full sync: the store is Tryton's catalog, the index finds it.
    let report = engine
        .run(TENANT, dyn_provider.clone(), "tryton", SyncMode::Full, None)
        .await
        .expect("full sync");
    let expected = tryton_articles(&tryton).await;
    assert_eq!(article_stage(&report).upserted as usize, expected.len());
    assert!(
        article_stage(&report).pages > 1,
        "several pages: {report:?}"
    );
    assert_store_equals_tryton(engine.store(), &tryton, &provider).await;

    let seeded = server.seed.product_ids[11].to_string();
    let (code, name, _) = expected[&seeded].clone();
    assert_eq!(
        search(&engine, &code).first(),
        Some(&seeded),
        "search by the product code `{code}`"
    );
    assert!(
        search(&engine, &name).contains(&seeded),
        "search by the product name `{name}`"
    );
    let old_variant_code = code_of(&tryton, variant[0]).await;
    assert_eq!(
        search(&engine, &old_variant_code).first(),
        Some(&variant[0].to_string())
    );
    for id in &via_template {
        assert!(search(&engine, &format!("Gearbox{run}")).contains(&id.to_string()));
    }

    // ---- Changes in Tryton: a variant's own field (its code), a template's name and
    // list price (which leaves its variants' write_date alone), a deactivation and a
    // deletion.
    tryton
        .call(
            "product.product",
            "write",
            vec![json!([variant[0]]), json!({"suffix_code": "-NEW"})],
            json!({}),
        )
        .await;
    let new_variant_code = code_of(&tryton, variant[0]).await;
    assert_ne!(
        new_variant_code, old_variant_code,
        "Tryton recomputed the code"
    );
    tryton
        .call(
            "product.template",
            "write",
            vec![
                json!([template]),
                json!({
                    "name": format!("Renamed{run} gearbox"),
                    "list_price": {"__class__": "Decimal", "decimal": "23.45"},
                }),
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
            vec![json!([removed_template])],
            json!({}),
        )
        .await;

    let report = engine
        .run(
            TENANT,
            dyn_provider.clone(),
            "tryton",
            SyncMode::Delta,
            None,
        )
        .await
        .expect("delta sync");
    let stage = article_stage(&report);
    assert!(
        stage.upserted >= 3,
        "the changed variant and both variants of the changed template: {stage:?}"
    );
    assert!(
        (stage.upserted as usize) < expected.len() / 2,
        "a delta, not a re-read: {stage:?}"
    );
    assert_eq!(
        stage.deleted, 2,
        "the deactivated and the deleted variant: {stage:?}"
    );
    assert_store_equals_tryton(engine.store(), &tryton, &provider).await;
    for id in deactivated.iter().chain(&removed) {
        assert!(
            engine
                .store()
                .article(TENANT, &id.to_string())
                .await
                .unwrap()
                .is_none(),
            "{id} left the store"
        );
    }
    let article = engine
        .store()
        .article(TENANT, &via_template[1].to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(article.names["en"], format!("Renamed{run} gearbox"));

    // The index follows: the new code and the new name find them, the old ones do not,
    // and the removed variants are gone.
    let variant_id = variant[0].to_string();
    assert_eq!(
        search(&engine, &new_variant_code).first(),
        Some(&variant_id)
    );
    assert!(!search(&engine, &old_variant_code).contains(&variant_id));
    let renamed = search(&engine, &format!("Renamed{run}"));
    for id in &via_template {
        assert!(
            renamed.contains(&id.to_string()),
            "{id} found by its new name"
        );
    }
    assert!(search(&engine, &format!("Gearbox{run}")).is_empty());
    assert!(search(&engine, &format!("Flange{run}")).is_empty());
    assert!(search(&engine, &format!("Gasket{run}")).is_empty());

    // ---- Sweep: a full sync removes what the snapshot no longer has.
    tryton
        .call(
            "product.product",
            "write",
            vec![json!(swept), json!({"active": false})],
            json!({}),
        )
        .await;
    let report = engine
        .run(TENANT, dyn_provider.clone(), "tryton", SyncMode::Full, None)
        .await
        .expect("second full sync");
    let stage = article_stage(&report);
    assert_eq!(
        stage.swept, 1,
        "the deactivated variant is swept: {stage:?}"
    );
    assert_eq!(stage.deleted, 0, "{stage:?}");
    assert_eq!(stage.upserted, 0, "nothing else changed: {stage:?}");
    assert!(
        engine
            .store()
            .article(TENANT, &swept[0].to_string())
            .await
            .unwrap()
            .is_none()
    );
    assert!(search(&engine, &format!("Bushing{run}")).is_empty());
    assert_store_equals_tryton(engine.store(), &tryton, &provider).await;
}
