//! `/openapi.json` documents exactly the routes the server has.

use std::collections::BTreeSet;

use crate::support::{Hub, Options};

/// The router's routes, as (method, path template). Kept next to the test so a new
/// route without documentation (or documentation without a route) fails here.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/version"),
    ("get", "/metrics"),
    ("post", "/v1/tenants/{tenant}/prices:query"),
    ("post", "/v1/tenants/{tenant}/stock:query"),
    ("post", "/v1/tenants/{tenant}/query"),
    ("get", "/v1/tenants/{tenant}/articles"),
    ("get", "/v1/tenants/{tenant}/articles/{id}"),
    ("post", "/v1/tenants/{tenant}/sync"),
    ("get", "/v1/tenants/{tenant}/sync"),
    ("post", "/v1/tenants/{tenant}/orders"),
    ("get", "/v1/tenants/{tenant}/orders/{id}"),
    ("get", "/api/erp/status"),
    ("get", "/api/erp/metrics"),
    ("get", "/api/erp/failed"),
    ("get", "/api/erp/saga/{id}"),
    ("post", "/api/erp/saga/{id}/retry"),
    ("post", "/api/erp/retry"),
    ("post", "/api/erp/drain"),
    ("delete", "/api/erp/drain"),
    ("get", "/api/erp/tenants"),
    ("get", "/api/erp/connectors"),
    ("post", "/api/erp/config/reload"),
];

#[tokio::test]
async fn openapi_documents_every_route_and_the_routes_exist() {
    let hub = Hub::start(Options::default()).await;
    let doc: serde_json::Value = hub
        .client
        .get(hub.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);
    // Every documented route exists: a request to it is never the router's 404/405.
    for (method, path) in ROUTES {
        let concrete = path.replace("{tenant}", "acme").replace("{id}", "x");
        let r = hub
            .client
            .request(method.to_uppercase().parse().unwrap(), hub.url(&concrete))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 405, "{method} {path}");
        if r.status() == 404 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(
                !body["detail"].as_str().unwrap().starts_with("no route"),
                "{method} {path}"
            );
        }
    }
    hub.stop().await;
}
