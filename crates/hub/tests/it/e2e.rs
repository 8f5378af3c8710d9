//! End to end over HTTP: sync → search → detail with live price → order with an
//! idempotency key → completion; replays; tenant isolation of catalog and orders.

use serde_json::{Value, json};

use crate::support::{ACME_KEY, FullHub, GLOBEX_KEY, Options, problem};

#[tokio::test]
async fn search_detail_order_completion_and_replays() {
    // A low count threshold, so that a common word's total is a lower bound.
    let full = FullHub::start(Options {
        track_total_hits: 50,
        ..Options::default()
    })
    .await;
    let hub = &full.hub;
    full.sync("acme", ACME_KEY).await;

    // Search the synced catalog by an article's number.
    let wanted = hub.acme.article(&"A00000042".into()).expect("sim article");
    let r = hub
        .client
        .get(hub.url(&format!(
            "/v1/tenants/acme/articles?q={}&page_size=5",
            wanted.number
        )))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.unwrap();
    let items = found["items"].as_array().unwrap();
    assert!(
        items.iter().any(|a| a["id"] == "A00000042"),
        "search by number finds the article: {found}"
    );
    assert_eq!(found["total_relation"], "eq", "{found}");

    // A word much of the catalog has: counted up to the threshold, and the pages go on
    // past it to every match, each once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/v1/tenants/acme/articles?q=steel&page_size=40".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = hub
            .client
            .get(hub.url(&url))
            .bearer_auth(ACME_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], 50, "{page}");
        assert_eq!(page["total_relation"], "gte", "{page}");
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "{item}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(seen.len() > 50, "only {} hits", seen.len());

    // Detail: master data from the store, live price and stock from the ERP.
    let r = hub
        .client
        .get(hub.url("/v1/tenants/acme/articles/A00000042?customer=C0000005"))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["article"]["number"], wanted.number);
    assert_eq!(detail["price"]["customer_id"], "C0000005");
    assert!(detail["price"]["fetched_at"].is_string());
    assert!(
        detail["stock"]["levels"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    );
    let unit_price = detail["price"]["unit_price"].clone();

    // Order with a key, waiting for completion.
    let order = json!({
        "customer_id": "C0000005",
        "external_reference": "SHOP-1001",
        "lines": [{"article_id": "A00000042", "quantity": "3", "unit_price": unit_price}]
    });
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "shop-order-1001")
        .header("prefer", "wait=20")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "completed within the wait");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["status"], "completed");
    let order_id = created["order_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/tenants/acme/orders/{order_id}"));
    let erp_order_id = created["erp_order_id"].as_str().unwrap().to_owned();

    let status: Value = hub
        .client
        .get(hub.url(&location))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["erp_status"]["erp_order_id"], erp_order_id);
    assert_eq!(status["erp_status"]["state"], "confirmed");

    // Replay: same key, same body → the same order, nothing new in the ERP.
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "shop-order-1001")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert!(r.status() == 201 || r.status() == 202);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let replay: Value = r.json().await.unwrap();
    assert_eq!(replay["order_id"], order_id.as_str());
    assert_eq!(hub.acme.order_count(&"shop-order-1001".into()), 1);

    // Same key, different body → 409.
    let mut changed = order.clone();
    changed["lines"][0]["quantity"] = json!("4");
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "shop-order-1001")
        .json(&changed)
        .send()
        .await
        .unwrap();
    problem(r, 409).await;

    // Another tenant cannot see the order or the catalog.
    problem(
        hub.client
            .get(hub.url(&location.replace("/acme/", "/globex/")))
            .bearer_auth(GLOBEX_KEY)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        hub.client
            .get(hub.url(&location))
            .bearer_auth(GLOBEX_KEY)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let r = hub
        .client
        .get(hub.url("/v1/tenants/globex/articles/A00000042"))
        .bearer_auth(GLOBEX_KEY)
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    full.stop().await;
}

#[tokio::test]
async fn orders_are_validated_and_need_a_key() {
    let full = FullHub::start(Options::default()).await;
    let hub = &full.hub;
    let order =
        json!({"customer_id": "C0000001", "lines": [{"article_id": "A00000001", "quantity": "1"}]});
    let p = problem(
        hub.client
            .post(hub.url("/v1/tenants/acme/orders"))
            .bearer_auth(ACME_KEY)
            .json(&order)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Idempotency-Key"));
    let bad =
        json!({"customer_id": "C0000001", "lines": [{"article_id": "A00000001", "quantity": "0"}]});
    let p = problem(
        hub.client
            .post(hub.url("/v1/tenants/acme/orders"))
            .bearer_auth(ACME_KEY)
            .header("idempotency-key", "k-0")
            .json(&bad)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    // Without Prefer the answer is 202 at once, with the status location.
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "k-1")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.headers().contains_key("location"));
    full.stop().await;
}
