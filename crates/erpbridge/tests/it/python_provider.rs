//! The hub against a provider written in another language: `erpbridge serve` with one
//! tenant whose provider is `remote`, pointing at the example Python provider
//! (`examples/python-provider`, grpcio). Over real HTTP: a full sync whose store and
//! search index hold exactly the Python catalog, a live price equal to what the Python
//! provider computes, and an order that reaches the Python ERP once even when posted
//! twice with the same idempotency key.

use std::path::Path;
use std::time::Duration;

use erpbridge_model::{EntityKind, ErpOrderId, IdempotencyKey, OrderState};
use erpbridge_provider::{OrderLookup, PriceItem, PriceRequest, Provider};
use erpbridge_remote::{RemoteConfig, RemoteProvider};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::{Db, SqliteDurability};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::{
    PythonProvider, assert_catalog_equals, erpbridge, free_port, get, hub_up, post_json, until,
};

/// Spans several catalog pages of the Python provider (1000 per page at most, the hub
/// asks for fewer) without making the test slow.
const ARTICLES: u32 = 250;
const KEY: &str = "py-key";

fn hub_config(dir: &Path, http_port: u16, provider_url: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{http_port}"
operator_key = "op-key"

[store]
type = "sqlite"
path = "{db}"

[outbox]
poll_interval = "50ms"

[[tenants]]
id = "py"
api_keys = ["{KEY}"]
[tenants.provider]
type = "remote"
address = "{provider_url}"
deadline = "10s"
[tenants.cache]
enabled = false
[tenants.sync]
enabled = false
batch_size = 100
"#,
        db = dir.join("hub.sqlite").display(),
    )
}

fn direct(provider: &PythonProvider) -> RemoteProvider {
    RemoteProvider::connect_lazy(RemoteConfig {
        deadline: Duration::from_secs(10),
        ..RemoteConfig::new(provider.url())
    })
    .unwrap()
}

async fn search(client: &reqwest::Client, base: &str, query: &str) -> Value {
    let url = format!("{base}/v1/tenants/py/articles?{query}");
    let (status, body) = get(client, url, KEY).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_syncs_prices_and_orders_against_the_python_provider() {
    let python = PythonProvider::start(ARTICLES).await;
    let reference = direct(&python);
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let base = format!("http://127.0.0.1:{http_port}");
    let config = dir.path().join("hub.toml");
    std::fs::write(&config, hub_config(dir.path(), http_port, &python.url())).unwrap();
    let _hub = erpbridge(
        &["serve", "--config", config.to_str().unwrap()],
        &dir.path().join("hub.log"),
    );
    let client = reqwest::Client::new();
    hub_up(&client, &base).await;

    // Full sync. 409: the hub's own first-start sync (empty catalog) got there first.
    let (status, _, body) = post_json(
        &client,
        format!("{base}/v1/tenants/py/sync"),
        KEY,
        None,
        Some(json!({"mode": "full"})),
    )
    .await;
    assert!(status == 202 || status == 409, "{status}: {body}");
    until("sync succeeded", 120, || async {
        let (_, state) = get(&client, format!("{base}/v1/tenants/py/sync"), KEY).await;
        assert_ne!(state["current"]["status"], "failed", "{state}");
        state["current"]["status"] == "succeeded"
    })
    .await;

    // The store holds exactly the Python catalog, entity by entity.
    let db = Db::open_sqlite(&dir.path().join("hub.sqlite"), SqliteDurability::Full)
        .await
        .unwrap();
    let store = CatalogStore::new(db);
    assert_eq!(
        store.entity_count("py", EntityKind::Article).await.unwrap(),
        u64::from(ARTICLES)
    );
    assert_catalog_equals(&store, "py", &reference).await;
    // And the search index: everything, one category, one article by its number.
    assert_eq!(
        search(&client, &base, "page_size=10").await["total"],
        ARTICLES
    );
    // The provider files article i under CATEGORIES[i % 3]: CAT-2 for i = 1, 4, 7...
    let in_cat2 = (1..=ARTICLES).filter(|i| i % 3 == 1).count();
    assert_eq!(
        search(&client, &base, "category=CAT-2&page_size=10").await["total"],
        in_cat2
    );
    let hits = search(&client, &base, "q=1000-00017&page_size=5").await;
    assert_eq!(hits["items"][0]["id"], "P-00017", "{hits}");
    assert_eq!(hits["items"][0]["names"]["de"], "Artikel 17", "{hits}");

    // A live price through the hub equals the Python provider's own answer, and its
    // formula: (10.00 + 17 x 0.25) less C-2's 5 %, less 5 % from 10 units, rounded.
    let (status, _, body) = post_json(
        &client,
        format!("{base}/v1/tenants/py/prices:query"),
        KEY,
        None,
        Some(json!({"customer": "C-2", "article_ids": ["P-00017", "P-00200"], "quantity": "10"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let prices = body["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 2, "{body}");
    let want = reference
        .prices(PriceRequest {
            customer_id: "C-2".into(),
            items: ["P-00017", "P-00200"]
                .into_iter()
                .map(|id| PriceItem {
                    article_id: id.into(),
                    quantity: Decimal::from(10),
                })
                .collect(),
        })
        .await
        .unwrap();
    for quote in &want {
        let got = prices
            .iter()
            .find(|p| p["article_id"] == quote.article_id.as_str())
            .unwrap();
        assert_eq!(got["unit_price"], quote.unit_price.to_string(), "{got}");
        assert_eq!(got["currency"], quote.currency.as_str(), "{got}");
    }
    let p17 = prices
        .iter()
        .find(|p| p["article_id"] == "P-00017")
        .unwrap();
    assert_eq!(p17["quantity"], "10", "{p17}");
    assert_eq!(p17["unit_price"], "12.86", "{p17}");

    // An order through the outbox: created and confirmed in the Python ERP.
    let order = json!({
        "customer_id": "C-1",
        "lines": [{"article_id": "P-00003", "quantity": "2"}],
        "external_reference": "PO-4711",
    });
    let orders = format!("{base}/v1/tenants/py/orders");
    let (status, _, first) = post_json(
        &client,
        orders.clone(),
        KEY,
        Some("py-order-1"),
        Some(order.clone()),
    )
    .await;
    assert!(status == 202 || status == 201, "{status}: {first}");
    let order_id = first["order_id"].as_str().unwrap().to_owned();
    until("order completed", 60, || async {
        let view = get(&client, format!("{orders}/{order_id}"), KEY).await.1;
        assert_ne!(view["status"], "dead", "{view}");
        view["status"] == "completed"
    })
    .await;
    let (_, view) = get(&client, format!("{orders}/{order_id}"), KEY).await;
    let erp_id = view["erp_order_id"].as_str().unwrap().to_owned();
    let in_erp = reference
        .order_status(OrderLookup::ById(ErpOrderId::new(&erp_id)))
        .await
        .unwrap();
    assert_eq!(in_erp.state, OrderState::Confirmed);
    assert_eq!(in_erp.external_reference.as_deref(), Some("PO-4711"));

    // The same key again: the same order, and still one order in the Python ERP.
    let (status, _, again) = post_json(
        &client,
        orders.clone(),
        KEY,
        Some("py-order-1"),
        Some(order),
    )
    .await;
    assert!(
        status == 200 || status == 202 || status == 201,
        "{status}: {again}"
    );
    assert_eq!(again["order_id"], order_id.as_str());
    let (_, view) = get(&client, format!("{orders}/{order_id}"), KEY).await;
    assert_eq!(view["erp_order_id"], erp_id.as_str());
    // The Python ERP counts its orders in its health report: still one.
    let health = reference.health().await.unwrap();
    assert!(health.detail.contains("orders=1"), "{}", health.detail);
    let by_key = reference
        .order_status(OrderLookup::ByKey(IdempotencyKey::new("py-order-1")))
        .await
        .unwrap();
    assert_eq!(by_key.erp_order_id.as_str(), erp_id);
}
