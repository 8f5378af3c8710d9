//! `erpbridge serve` re-reads its configuration without a restart (SIGHUP, or
//! `POST /api/erp/config/reload`): API keys, a connector tenant's config version (the
//! real `erpbridge connector` process re-reads its own file) and tokens (a revoked
//! token's live session is closed and its connector cannot come back) apply live; an
//! invalid file is refused with its key path and line and changes nothing; what needs a
//! restart is named.

use std::path::PathBuf;

use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{PriceItem, PriceRequest, Provider};
use serde_json::{Value, json};

use crate::support::{Proc, erpbridge, free_port, get, hub_up, post_json, token_digest, until};

const OPERATOR: &str = "op-key";
const ARTICLES: u64 = 300;

struct Setup {
    dir: tempfile::TempDir,
    http_port: u16,
    tunnel_port: u16,
    base: String,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            http_port: free_port(),
            tunnel_port: free_port(),
            base: String::new(),
        }
        .with_base()
    }

    fn with_base(mut self) -> Self {
        self.base = format!("http://127.0.0.1:{}", self.http_port);
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The hub's file: tenant `acme` on a connector, `beta` on the sim.
    fn write_hub(&self, api_key: &str, tokens: &[&str], version: &str, extra: &str) {
        let tokens: Vec<String> = tokens
            .iter()
            .map(|t| format!("\"{}\"", token_digest(t)))
            .collect();
        let text = format!(
            r#"[server]
listen = "127.0.0.1:{http}"
operator_key = "{OPERATOR}"
connector_listen = "127.0.0.1:{tunnel}"

[store]
type = "sqlite"
path = "{db}"

[[tenants]]
id = "acme"
api_keys = ["{api_key}"]
[tenants.provider]
type = "connector"
tokens = [{tokens}]
config_version = "{version}"
heartbeat_interval = "200ms"
deadline = "10s"
[tenants.cache]
enabled = false
[tenants.sync]
enabled = false

[[tenants]]
id = "beta"
api_keys = ["beta-key"]
[tenants.provider]
type = "sim"
articles = 100
init_delay = "0s"
[tenants.sync]
enabled = false
{extra}"#,
            http = self.http_port,
            tunnel = self.tunnel_port,
            db = self.path("hub.sqlite").display(),
            tokens = tokens.join(", "),
        );
        std::fs::write(self.path("hub.toml"), text).unwrap();
    }

    /// The connector's file: acme's ERP is the sim with `seed`.
    fn write_connector(&self, seed: u64) {
        let text = format!(
            r#"[[tenants]]
id = "acme"
api_keys = ["unused"]
[tenants.provider]
type = "sim"
seed = {seed}
articles = {ARTICLES}
attributes_per_article = 2
init_delay = "0s"
"#
        );
        std::fs::write(self.path("connector.toml"), text).unwrap();
    }

    fn hub(&self) -> Proc {
        let config = self.path("hub.toml");
        erpbridge(
            &["serve", "--config", config.to_str().unwrap()],
            &self.path("hub.log"),
        )
    }

    fn connector(&self, token: &str, log: &str) -> Proc {
        let token_file = self.path(&format!("{token}.token"));
        std::fs::write(&token_file, token).unwrap();
        let config = self.path("connector.toml");
        erpbridge(
            &[
                "connector",
                "--hub",
                &format!("http://127.0.0.1:{}", self.tunnel_port),
                "--token-file",
                token_file.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ],
            &self.path(log),
        )
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

async fn reload(client: &reqwest::Client, s: &Setup) -> (u16, String, Value) {
    post_json(
        client,
        format!("{}/api/erp/config/reload", s.base),
        OPERATOR,
        None,
        None,
    )
    .await
}

async fn acme_connector(client: &reqwest::Client, s: &Setup) -> Value {
    let (_, list) = get(client, format!("{}/api/erp/connectors", s.base), OPERATOR).await;
    list.as_array()
        .and_then(|l| l.iter().find(|c| c["tenant"] == "acme").cloned())
        .unwrap_or(Value::Null)
}

/// acme's live price of article 1 for customer 1 through the hub, if it answers 200.
async fn hub_price(client: &reqwest::Client, s: &Setup, key: &str) -> Option<String> {
    let (status, _, body) = post_json(
        client,
        format!("{}/v1/tenants/acme/prices:query", s.base),
        key,
        None,
        Some(json!({"customer": "C0000001", "article_ids": ["A00000001"]})),
    )
    .await;
    (status == 200).then(|| body["prices"][0]["unit_price"].as_str().unwrap().to_owned())
}

/// What the sim with `seed` quotes for that price.
async fn sim_price(seed: u64) -> String {
    let sim = erpbridge_sim::Sim::new(erpbridge_sim::SimConfig {
        seed,
        articles: ARTICLES,
        attributes_per_article: 2,
        ..erpbridge_sim::SimConfig::fast(ARTICLES)
    })
    .unwrap();
    let hosted = HostedProvider::start(sim.factory(), RuntimeOptions::default()).unwrap();
    let quotes = hosted
        .prices(PriceRequest {
            customer_id: erpbridge_sim::generate::customer_id(0),
            items: vec![PriceItem {
                article_id: erpbridge_sim::generate::article_id(0),
                quantity: rust_decimal::Decimal::ONE,
            }],
        })
        .await
        .unwrap();
    quotes[0].unit_price.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_keys_tokens_and_config_versions_live_and_refuses_invalid_files() {
    let s = Setup::new();
    s.write_hub("acme-key", &["token-a"], "1", "");
    s.write_connector(42);
    let (price_42, price_7) = (sim_price(42).await, sim_price(7).await);
    assert_ne!(price_42, price_7, "the two catalogs must price differently");
    let client = reqwest::Client::new();
    let hub = s.hub();
    hub_up(&client, &s.base).await;
    let connector_a = s.connector("token-a", "connector-a.log");
    until("connector online", 30, || async {
        acme_connector(&client, &s).await["status"] == "online"
    })
    .await;
    assert_eq!(
        hub_price(&client, &s, "acme-key").await,
        Some(price_42.clone())
    );

    // 1. New API key and config version, through the API. The connector's own file
    //    now describes another ERP; the new version makes it re-read it.
    s.write_connector(7);
    s.write_hub("acme-key-2", &["token-a"], "2", "");
    let (status, _, report) = reload(&client, &s).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["applied"],
        json!(["tenants[0].api_keys", "tenants[0].provider.config_version"]),
        "{report}"
    );
    assert_eq!(report["restart_required"], json!([]), "{report}");
    assert_eq!(
        hub_price(&client, &s, "acme-key").await,
        None,
        "old key still works"
    );
    until("the connector reloaded its provider", 30, || async {
        hub_price(&client, &s, "acme-key-2").await.as_deref() == Some(price_7.as_str())
    })
    .await;
    assert!(s.log("connector-a.log").contains("configuration reloaded"));
    // Reloaded in place, not reconnected.
    assert_eq!(acme_connector(&client, &s).await["sessions"], 1);

    // 2. Revoke token-a in favour of token-b, by SIGHUP: the live session is closed
    //    at once and connector A, refused on reconnect, exits.
    s.write_hub("acme-key-2", &["token-b"], "2", "");
    hub.signal("HUP");
    until("connector offline", 10, || async {
        acme_connector(&client, &s).await["status"] == "offline"
    })
    .await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), connector_a.exit())
        .await
        .expect("the connector with the revoked token kept running");
    assert!(!status.success());
    assert!(
        s.log("connector-a.log").contains("unknown or revoked"),
        "{}",
        s.log("connector-a.log")
    );
    assert!(s.log("hub.log").contains("SIGHUP: configuration reloaded"));
    let _connector_b = s.connector("token-b", "connector-b.log");
    until("connector B online", 30, || async {
        acme_connector(&client, &s).await["status"] == "online"
    })
    .await;
    assert_eq!(
        hub_price(&client, &s, "acme-key-2").await,
        Some(price_7.clone())
    );

    // 3. An invalid file: 422 naming the key and its line; nothing changes.
    s.write_hub("acme-key-3", &["token-c"], "3", "");
    let text = std::fs::read_to_string(s.path("hub.toml"))
        .unwrap()
        .replace(
            "heartbeat_interval = \"200ms\"",
            "heartbeat_interval = \"soon\"",
        );
    std::fs::write(s.path("hub.toml"), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("heartbeat_interval"))
        .unwrap()
        + 1;
    let (status, content_type, problem) = reload(&client, &s).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["type"], "/problems/invalid-config");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["path"], "tenants[0].provider.heartbeat_interval");
    assert_eq!(errors[0]["line"], line);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("heartbeat_interval")
    );
    // Still the old keys, the old token, the same session.
    assert_eq!(hub_price(&client, &s, "acme-key-3").await, None);
    assert_eq!(
        hub_price(&client, &s, "acme-key-2").await,
        Some(price_7.clone())
    );
    assert_eq!(acme_connector(&client, &s).await["status"], "online");

    // 4. Changes that need a restart are named, and not applied.
    s.write_hub(
        "acme-key-2",
        &["token-b"],
        "2",
        "\n[[tenants]]\nid = \"gamma\"\napi_keys = [\"gamma-key\"]\n[tenants.provider]\ntype = \"sim\"\n",
    );
    let text = std::fs::read_to_string(s.path("hub.toml"))
        .unwrap()
        .replace("articles = 100", "articles = 200");
    std::fs::write(s.path("hub.toml"), text).unwrap();
    let (status, _, report) = reload(&client, &s).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["applied"], json!([]), "{report}");
    assert_eq!(
        report["restart_required"],
        json!([
            "tenants[1].provider.articles",
            "tenants[2] (tenant `gamma` added)"
        ]),
        "{report}"
    );
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("restart required for: tenants[1].provider.articles"),
        "{report}"
    );
    let (status, _) = get(
        &client,
        format!("{}/v1/tenants/gamma/sync", s.base),
        "gamma-key",
    )
    .await;
    assert_eq!(status, 401, "a tenant added by reload must not be served");
    assert_eq!(hub_price(&client, &s, "acme-key-2").await, Some(price_7));

    // Two reloads by API and one by SIGHUP applied, one refused.
    let metrics = client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("erp_config_reloads_total{status=\"applied\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("erp_config_reloads_total{status=\"invalid\"} 1"),
        "{metrics}"
    );
}
