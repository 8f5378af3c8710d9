//! `/metrics` is valid for Prometheus (checked by `promtool`), and health endpoints.

use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{ACME_KEY, Hub, Options};

#[tokio::test]
async fn metrics_pass_promtool_and_carry_the_seed_names() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    // Produce some traffic: a success, a cache hit, an ERP-side miss.
    for _ in 0..2 {
        let r = hub
            .client
            .post(hub.url("/v1/tenants/acme/prices:query"))
            .bearer_auth(ACME_KEY)
            .json(&json!({"customer": "C0000001", "article_ids": ["A00000001", "X"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = hub.client.get(hub.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    for needle in [
        "erp_provider_requests_total{operation=\"prices\",tenant=\"acme\",status=\"ok\"} 1",
        "erp_provider_request_duration_seconds_bucket{",
        "erp_cache_hits_total{tenant=\"acme\",kind=\"prices\"} 2",
        "erp_cache_misses_total{tenant=\"acme\",kind=\"prices\"} 2",
        "erp_provider_ready{tenant=\"acme\"} 1",
        "erp_provider_ready{tenant=\"globex\"} 1",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    assert!(
        !text.contains("tenant=\"globex\",status"),
        "globex made no ERP call"
    );

    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package `prometheus`)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    hub.stop().await;
}

#[tokio::test]
async fn health_readiness_and_version() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let r = hub.client.get(hub.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = hub.client.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["tenants"].as_array().unwrap().len(), 2);
    let v: serde_json::Value = hub
        .client
        .get(hub.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "erpbridge");
    assert!(r_has_request_id(&hub).await);
    hub.stop().await;
}

async fn r_has_request_id(hub: &Hub) -> bool {
    let r = hub.client.get(hub.url("/healthz")).send().await.unwrap();
    r.headers().get("x-request-id").is_some()
}

#[tokio::test]
async fn readyz_is_503_until_every_tenant_is_warm() {
    // A slow login keeps the tenant cold for a while.
    let hub = Hub::start(Options {
        sim: erpbridge_sim::SimConfig {
            init_delay: std::time::Duration::from_millis(800),
            ..erpbridge_sim::SimConfig::fast(100)
        },
        ..Options::default()
    })
    .await;
    let r = hub.client.get(hub.url("/readyz")).send().await.unwrap();
    let body = crate::support::problem(r, 503).await;
    assert_eq!(body["type"], "/problems/not-ready");
    hub.wait_ready().await;
    let r = hub.client.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    hub.stop().await;
}
