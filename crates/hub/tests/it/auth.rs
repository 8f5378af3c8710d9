//! Tenant isolation and authentication failures, per route family.

use serde_json::json;

use crate::support::{ACME_KEY, FullHub, GLOBEX_KEY, Hub, OPERATOR_KEY, Options, problem};

/// One representative request per tenant-scoped route family.
fn tenant_requests(tenant: &str) -> Vec<(reqwest::Method, String, Option<serde_json::Value>)> {
    use reqwest::Method;
    vec![
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/prices:query"),
            Some(json!({"customer": "C0000001", "article_ids": ["A00000001"]})),
        ),
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/stock:query"),
            Some(json!({"article_ids": ["A00000001"]})),
        ),
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/query"),
            Some(
                json!({"entity": "article", "page_size": 1, "filter": {"field": "id", "op": "eq", "value": "A00000001"}}),
            ),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{tenant}/articles?q=x"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/tenants/{tenant}/articles/A00000001"),
            None,
        ),
        (Method::GET, format!("/v1/tenants/{tenant}/sync"), None),
        (
            Method::POST,
            format!("/v1/tenants/{tenant}/orders"),
            Some(
                json!({"customer_id": "C0000001", "lines": [{"article_id": "A00000001", "quantity": "1"}]}),
            ),
        ),
        (
            Method::GET,
            format!("/v1/tenants/{tenant}/orders/00000000-0000-0000-0000-000000000000"),
            None,
        ),
    ]
}

async fn send(
    hub: &Hub,
    method: reqwest::Method,
    path: &str,
    body: &Option<serde_json::Value>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = hub
        .client
        .request(method, hub.url(path))
        .header("idempotency-key", "auth-test");
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn tenant_routes_need_the_tenants_own_key() {
    let full = FullHub::start(Options::default()).await;
    let hub = &full.hub;
    for (method, path, body) in tenant_requests("acme") {
        // No key, a malformed header, an unknown key: 401 with a Bearer challenge.
        let r = send(hub, method.clone(), &path, &body, None).await;
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer realm=\"erpbridge\""
        );
        problem(r, 401).await;
        let r = hub
            .client
            .request(method.clone(), hub.url(&path))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap();
        problem(r, 401).await;
        problem(
            send(hub, method.clone(), &path, &body, Some("nope")).await,
            401,
        )
        .await;
        // The operator key is not a tenant key.
        problem(
            send(hub, method.clone(), &path, &body, Some(OPERATOR_KEY)).await,
            401,
        )
        .await;
        // Another tenant's key: 404, exactly as for a tenant that does not exist.
        let other = problem(
            send(hub, method.clone(), &path, &body, Some(GLOBEX_KEY)).await,
            404,
        )
        .await;
        let missing_path = path.replace("/acme/", "/initech/");
        let missing = problem(
            send(hub, method.clone(), &missing_path, &body, Some(GLOBEX_KEY)).await,
            404,
        )
        .await;
        assert_eq!(other["type"], missing["type"]);
        assert!(other.get("prices").is_none() && other.get("stock").is_none());
        // The right key gets through to the handler: success, or the handler's own
        // 404 for a thing that does not exist (not the tenant-level one).
        let ok = send(hub, method.clone(), &path, &body, Some(ACME_KEY)).await;
        let status = ok.status().as_u16();
        if status == 404 {
            let p = problem(ok, 404).await;
            assert!(!p["detail"].as_str().unwrap().contains("no tenant"), "{p}");
        } else {
            assert!(matches!(status, 200 | 202), "{method} {path}: {status}");
        }
    }
    full.stop().await;
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_erp() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let body = json!({"customer": "C0000001", "article_ids": ["A00000001"]});
    let before_globex = hub.globex.stats().calls;
    let acme: serde_json::Value = hub
        .client
        .post(hub.url("/v1/tenants/acme/prices:query"))
        .bearer_auth(ACME_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        hub.globex.stats().calls,
        before_globex,
        "acme's lookup reached globex's ERP"
    );
    let globex: serde_json::Value = hub
        .client
        .post(hub.url("/v1/tenants/globex/prices:query"))
        .bearer_auth(GLOBEX_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Different seeds, different ERPs: the same lookup is answered by each tenant's own
    // backend (and not from the other tenant's cache entry).
    assert_ne!(acme["prices"], globex["prices"]);
    hub.stop().await;
}
