//! The on-premise connector with the real binary: `erpbridge serve` with a connector
//! tenant, `erpbridge connector` processes hosting the sim, HTTP through the hub, and a
//! SIGKILL of the connector in the middle of a sync.

use std::path::{Path, PathBuf};
use std::time::Duration;

use erpbridge_model::EntityKind;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::{Db, SqliteDurability};
use serde_json::{Value, json};

use crate::support::{Proc, assert_catalog_equals, erpbridge, free_port, get, hub_up, until};

const ARTICLES: u64 = 12_000;
const ACME_TOKEN: &str = "acme-connector-token";
const OPERATOR: &str = "op-key";

struct Setup {
    dir: tempfile::TempDir,
    http: String,
    tunnel: String,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http_port = free_port();
        let tunnel_port = free_port();
        let token_digest: String = erpbridge_tunnel::auth::digest(ACME_TOKEN)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hub = format!(
            r#"
[server]
listen = "127.0.0.1:{http_port}"
operator_key = "{OPERATOR}"
connector_listen = "127.0.0.1:{tunnel_port}"

[store]
type = "sqlite"
path = "{db}"

[outbox]
poll_interval = "50ms"

[[tenants]]
id = "acme"
api_keys = ["acme-key"]
[tenants.provider]
type = "connector"
tokens = ["sha256:{token_digest}"]
heartbeat_interval = "200ms"
missed_heartbeats = 3
deadline = "10s"
[tenants.cache]
enabled = false
[tenants.sync]
enabled = false

[[tenants]]
id = "beta"
api_keys = ["beta-key"]
[tenants.provider]
type = "connector"
tokens = ["beta-connector-token"]
[tenants.sync]
enabled = false
"#,
            db = dir.path().join("hub.sqlite").display(),
        );
        std::fs::write(dir.path().join("hub.toml"), hub).unwrap();
        // The connector's side: the ERP (here the sim) the tenant really runs on.
        let connector = format!(
            r#"
[[tenants]]
id = "acme"
api_keys = ["unused-by-the-connector"]
[tenants.provider]
type = "sim"
articles = {ARTICLES}
attributes_per_article = 4
init_delay = "0s"
per_call_latency = "120ms"
"#
        );
        std::fs::write(dir.path().join("connector.toml"), connector).unwrap();
        std::fs::write(dir.path().join("acme.token"), format!("{ACME_TOKEN}\n")).unwrap();
        std::fs::write(dir.path().join("wrong.token"), "not-a-token\n").unwrap();
        Self {
            dir,
            http: format!("http://127.0.0.1:{http_port}"),
            tunnel: format!("http://127.0.0.1:{tunnel_port}"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn hub(&self) -> Proc {
        let config = self.path("hub.toml");
        erpbridge(
            &["serve", "--config", config.to_str().unwrap()],
            &self.path("hub.log"),
        )
    }

    fn connector(&self, token: &str, log: &str) -> Proc {
        let token = self.path(token);
        let config = self.path("connector.toml");
        erpbridge(
            &[
                "connector",
                "--hub",
                &self.tunnel,
                "--token-file",
                token.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--id",
                "plant-1",
            ],
            &self.path(log),
        )
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

async fn post(
    client: &reqwest::Client,
    url: String,
    key: &str,
    body: Value,
) -> (u16, Option<String>, Value) {
    let r = client
        .post(url)
        .bearer_auth(key)
        .header("Idempotency-Key", "order-through-tunnel-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, r.json().await.unwrap_or(Value::Null))
}

async fn connector_status(client: &reqwest::Client, s: &Setup, tenant: &str) -> Value {
    let (_, list) = get(client, format!("{}/api/erp/connectors", s.http), OPERATOR).await;
    list.as_array()
        .and_then(|l| l.iter().find(|c| c["tenant"] == tenant).cloned())
        .unwrap_or(Value::Null)
}

async fn sync_state(client: &reqwest::Client, s: &Setup) -> Value {
    get(
        client,
        format!("{}/v1/tenants/acme/sync", s.http),
        "acme-key",
    )
    .await
    .1
}

async fn article_count(db: &Path) -> u64 {
    let db = Db::open_sqlite(db, SqliteDurability::Full).await.unwrap();
    CatalogStore::new(db)
        .entity_count("acme", EntityKind::Article)
        .await
        .unwrap()
}

/// The sim the connector runs, in this process: the reference an uninterrupted sync
/// copies exactly.
fn reference_sim() -> HostedProvider<erpbridge_sim::SimFactory> {
    let sim = erpbridge_sim::Sim::new(erpbridge_sim::SimConfig {
        articles: ARTICLES,
        attributes_per_article: 4,
        ..erpbridge_sim::SimConfig::fast(ARTICLES)
    })
    .unwrap();
    HostedProvider::start(sim.factory(), RuntimeOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_price_and_order_through_the_tunnel_survive_a_killed_connector() {
    let s = Setup::new();
    let client = reqwest::Client::new();
    let _hub = s.hub();
    hub_up(&client, &s.http).await;

    // No connector yet: live calls are 503 problem+json, and the operator sees it.
    let prices = json!({"customer": "C0000001", "article_ids": ["A00000001", "A00000002"]});
    let url = format!("{}/v1/tenants/acme/prices:query", s.http);
    let (status, content_type, _) = post(&client, url.clone(), "acme-key", prices.clone()).await;
    assert_eq!(status, 503);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(
        connector_status(&client, &s, "acme").await["status"],
        "offline"
    );

    let connector = s.connector("acme.token", "connector-1.log");
    until("connector online", 30, || async {
        connector_status(&client, &s, "acme").await["status"] == "online"
    })
    .await;
    let info = connector_status(&client, &s, "acme").await;
    assert_eq!(info["connector_id"], "plant-1");
    assert!(info["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        connector_status(&client, &s, "beta").await["status"],
        "offline"
    );

    // Live price through hub -> tunnel -> connector -> sim, equal to the sim's own.
    let (status, _, body) = post(&client, url.clone(), "acme-key", prices.clone()).await;
    assert_eq!(status, 200, "{body}");
    let reference = reference_sim();
    let want = erpbridge_provider::Provider::prices(
        &reference,
        erpbridge_provider::PriceRequest {
            customer_id: erpbridge_sim::generate::customer_id(0),
            items: vec![erpbridge_provider::PriceItem {
                article_id: erpbridge_sim::generate::article_id(0),
                quantity: rust_decimal::Decimal::ONE,
            }],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        want[0].customer_id.0, "C0000001",
        "the test's ids match the sim's"
    );
    let got = body["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["article_id"] == want[0].article_id.0.as_str())
        .unwrap();
    assert_eq!(got["unit_price"], want[0].unit_price.to_string());

    // Full sync, killed (SIGKILL) part-way.
    let (status, _, body) = post(
        &client,
        format!("{}/v1/tenants/acme/sync", s.http),
        "acme-key",
        json!({"mode": "full"}),
    )
    .await;
    // 409: the hub's own first-start full sync (empty catalog) got there first and is
    // running now that the connector is online; either way one full sync runs.
    assert!(status == 202 || status == 409, "{status}: {body}");
    let db = s.path("hub.sqlite");
    let mut at_kill = 0;
    for _ in 0..1200 {
        at_kill = article_count(&db).await;
        if at_kill >= 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(at_kill >= 2_000, "no articles committed in 60 s");
    // std's Child::kill is SIGKILL on Unix: no goodbye frame, the socket just dies.
    let mut connector = connector;
    connector.0.kill().unwrap();
    drop(connector);
    assert!(at_kill < ARTICLES, "the sync finished before the kill");

    until("connector offline", 10, || async {
        connector_status(&client, &s, "acme").await["status"] == "offline"
    })
    .await;
    let (status, content_type, _) = post(&client, url.clone(), "acme-key", prices.clone()).await;
    assert_eq!(status, 503);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    until("sync failed", 120, || async {
        sync_state(&client, &s).await["current"]["status"] == "failed"
    })
    .await;
    let committed = article_count(&db).await;
    assert!(
        committed >= at_kill && committed < ARTICLES,
        "{committed} committed"
    );

    // Restart: the connector comes back, the next sync resumes from the checkpoint.
    let _connector = s.connector("acme.token", "connector-2.log");
    until("connector online again", 30, || async {
        connector_status(&client, &s, "acme").await["status"] == "online"
    })
    .await;
    let (status, _, body) = post(
        &client,
        format!("{}/v1/tenants/acme/sync", s.http),
        "acme-key",
        json!({"mode": "delta"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    until("sync succeeded", 120, || async {
        sync_state(&client, &s).await["current"]["status"] == "succeeded"
    })
    .await;
    let run = sync_state(&client, &s).await;
    let upserted = run["current"]["upserted"].as_u64().unwrap();
    assert!(
        upserted <= ARTICLES - committed + 1_000 + 200,
        "the second run re-fetched committed pages: {upserted} upserted after {committed} committed"
    );
    let store = CatalogStore::new(Db::open_sqlite(&db, SqliteDurability::Full).await.unwrap());
    assert_catalog_equals(&store, "acme", &reference).await;

    // The order saga through the tunnel.
    let order = json!({
        "customer_id": "C0000001",
        "lines": [{"article_id": "A00000003", "quantity": "2"}],
    });
    let (status, _, body) = post(
        &client,
        format!("{}/v1/tenants/acme/orders", s.http),
        "acme-key",
        order,
    )
    .await;
    assert!(status == 202 || status == 201, "{status}: {body}");
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    for _ in 0..1200 {
        let url = format!("{}/v1/tenants/acme/orders/{order_id}", s.http);
        last = get(&client, url, "acme-key").await.1;
        if last["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last["status"], "completed", "{last}");
    assert!(last["erp_order_id"].is_string(), "{last}");

    // The connector's heartbeats reached the hub's metrics.
    let metrics = client
        .get(format!("{}/metrics", s.http))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("erp_connector_online{tenant=\"acme\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("erp_connector_online{tenant=\"beta\"} 0"));
    assert!(metrics.contains("erp_connector_sessions{tenant=\"acme\"} 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_with_a_wrong_token_or_another_tenant_are_refused() {
    let s = Setup::new();
    let client = reqwest::Client::new();
    let _hub = s.hub();
    hub_up(&client, &s.http).await;

    let mut wrong = s.connector("wrong.token", "wrong.log");
    let status = tokio::task::spawn_blocking(move || {
        let status = wrong.0.wait().unwrap();
        std::mem::forget(wrong);
        status
    })
    .await
    .unwrap();
    assert!(!status.success());
    assert!(
        s.log("wrong.log")
            .contains("unknown or revoked connector token"),
        "{}",
        s.log("wrong.log")
    );

    // Acme's token used for tenant beta: refused, and beta stays without a connector.
    let config = s.path("beta-connector.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(s.path("connector.toml"))
            .unwrap()
            .replace("id = \"acme\"", "id = \"beta\""),
    )
    .unwrap();
    let token = s.path("acme.token");
    let mut cross = erpbridge(
        &[
            "connector",
            "--hub",
            &s.tunnel,
            "--token-file",
            token.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &s.path("cross.log"),
    );
    let status = tokio::task::spawn_blocking(move || {
        let status = cross.0.wait().unwrap();
        std::mem::forget(cross);
        status
    })
    .await
    .unwrap();
    assert!(!status.success());
    assert!(s.log("cross.log").contains("not valid for tenant `beta`"));
    for tenant in ["acme", "beta"] {
        assert_eq!(
            connector_status(&client, &s, tenant).await["status"],
            "offline",
            "{tenant}"
        );
    }
    let (status, _, _) = post(
        &client,
        format!("{}/v1/tenants/beta/prices:query", s.http),
        "beta-key",
        json!({"customer": "C0000001", "article_ids": ["A00000001"]}),
    )
    .await;
    assert_eq!(status, 503);

    // Plain HTTP/2 to a hub off loopback is refused before any connection is made.
    let mut plain = erpbridge(
        &[
            "connector",
            "--hub",
            "http://hub.example.invalid:7443",
            "--token-file",
            token.to_str().unwrap(),
            "--config",
            s.path("connector.toml").to_str().unwrap(),
        ],
        &s.path("plain.log"),
    );
    let status = tokio::task::spawn_blocking(move || {
        let status = plain.0.wait().unwrap();
        std::mem::forget(plain);
        status
    })
    .await
    .unwrap();
    assert!(!status.success());
    assert!(s.log("plain.log").contains("refusing plain HTTP/2"));
}
