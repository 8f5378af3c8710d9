//! Bad input gets the right problem+json, never a 500.

use erpbridge_hub::HubOptions;

use crate::support::{ACME_KEY, Hub, Options, problem};

async fn post_raw(
    hub: &Hub,
    path: &str,
    body: impl Into<reqwest::Body>,
    json: bool,
) -> reqwest::Response {
    let mut request = hub
        .client
        .post(hub.url(path))
        .bearer_auth(ACME_KEY)
        .body(body);
    if json {
        request = request.header("content-type", "application/json");
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_4xx_problems() {
    let hub = Hub::start(Options {
        hub: HubOptions {
            body_limit: 64 * 1024,
            ..HubOptions::default()
        },
        ..Options::default()
    })
    .await;
    hub.wait_ready().await;
    let path = "/v1/tenants/acme/prices:query";

    let p = problem(post_raw(&hub, path, "{\"customer\": ", true).await, 400).await;
    assert_eq!(p["type"], "/problems/malformed-json");

    let p = problem(
        post_raw(
            &hub,
            path,
            r#"{"customer": 5, "article_ids": ["A00000001"]}"#,
            true,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["type"], "/problems/invalid-body");
    assert!(p["detail"].as_str().unwrap().contains("customer"), "{p}");

    let p = problem(
        post_raw(
            &hub,
            path,
            r#"{"customer": "C1", "article_ids": "A1"}"#,
            true,
        )
        .await,
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("article_ids"), "{p}");

    // Unknown fields are refused rather than silently ignored.
    problem(
        post_raw(
            &hub,
            path,
            r#"{"customer": "C1", "article_ids": ["A1"], "qty": 2}"#,
            true,
        )
        .await,
        422,
    )
    .await;

    // Semantic validation.
    let p = problem(
        post_raw(&hub, path, r#"{"customer": "C1", "article_ids": []}"#, true).await,
        422,
    )
    .await;
    assert_eq!(p["type"], "/problems/validation");
    problem(
        post_raw(
            &hub,
            path,
            r#"{"customer": "C1", "article_ids": ["A1"], "quantity": "-1"}"#,
            true,
        )
        .await,
        422,
    )
    .await;

    let p = problem(
        post_raw(&hub, path, r#"{"customer": "C1"}"#, false).await,
        415,
    )
    .await;
    assert_eq!(p["type"], "/problems/unsupported-media-type");

    let huge = format!(
        r#"{{"customer": "C1", "article_ids": ["{}"]}}"#,
        "A".repeat(100 * 1024)
    );
    let p = problem(post_raw(&hub, path, huge, true).await, 413).await;
    assert_eq!(p["type"], "/problems/body-too-large");

    // Too many ids in one bulk request.
    let ids: Vec<String> = (0..1001).map(|i| format!("A{i:08}")).collect();
    let body = serde_json::json!({"customer": "C1", "article_ids": ids}).to_string();
    problem(post_raw(&hub, path, body, true).await, 422).await;
    hub.stop().await;
}

#[tokio::test]
async fn unknown_routes_tenants_and_methods_are_problems() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let p = problem(hub.client.get(hub.url("/nope")).send().await.unwrap(), 404).await;
    assert_eq!(p["type"], "/problems/not-found");
    problem(
        post_raw(
            &hub,
            "/v1/tenants/unknown/prices:query",
            r#"{"customer":"C1","article_ids":["A1"]}"#,
            true,
        )
        .await,
        404,
    )
    .await;
    let r = hub
        .client
        .get(hub.url("/v1/tenants/acme/prices:query"))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().contains_key("allow"),
        "405 keeps its Allow header"
    );
    let p = problem(r, 405).await;
    assert_eq!(p["type"], "/problems/method-not-allowed");
    hub.stop().await;
}
