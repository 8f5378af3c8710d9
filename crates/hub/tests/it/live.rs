//! Live prices and stock: cache, freshness, bulk misses, overload, rate limits.

use erpbridge_hub::{CacheTtls, RateLimit};
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::{ACME_KEY, Hub, Options, problem};

async fn prices(hub: &Hub, body: Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/v1/tenants/acme/prices:query"))
        .bearer_auth(ACME_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bulk_prices_come_back_with_freshness_and_missing_articles() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let r = prices(
        &hub,
        json!({"customer": "C0000003", "article_ids": ["A00000001", "A00000002", "NOPE"], "quantity": "5"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["missing"], json!(["NOPE"]));
    let list = body["prices"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for price in list {
        assert_eq!(price["customer_id"], "C0000003");
        assert!(
            price["unit_price"].is_string(),
            "money is a string: {price}"
        );
        let fetched = price["fetched_at"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(fetched).expect("fetched_at is RFC 3339");
    }
    // The hub answers what the ERP says, for the quantity asked.
    let direct = hub
        .acme
        .prices(&erpbridge_provider::PriceRequest {
            customer_id: "C0000003".into(),
            items: vec![erpbridge_provider::PriceItem {
                article_id: "A00000001".into(),
                quantity: rust_decimal_macros::dec!(5),
            }],
        })
        .unwrap();
    assert_eq!(list[0]["unit_price"], direct[0].unit_price.to_string());
    hub.stop().await;
}

#[tokio::test]
async fn a_repeated_query_inside_the_ttl_does_not_reach_the_erp_and_after_it_does() {
    let hub = Hub::start(Options {
        cache: CacheTtls {
            // Short enough to pass in a test, long enough that the two first queries
            // certainly fall inside it.
            prices: Duration::from_millis(1500),
            ..CacheTtls::default()
        },
        ..Options::default()
    })
    .await;
    hub.wait_ready().await;
    let body = json!({"customer": "C0000001", "article_ids": ["A00000010", "A00000011"]});
    let calls = || hub.acme.stats().calls;

    let c0 = calls();
    let first: Value = prices(&hub, body.clone()).await.json().await.unwrap();
    let c1 = calls();
    assert_eq!(c1 - c0, 1, "one bulk ERP call for two misses");
    let second: Value = prices(&hub, body.clone()).await.json().await.unwrap();
    assert_eq!(
        calls(),
        c1,
        "second identical query inside the TTL reached the ERP"
    );
    assert_eq!(
        first["prices"], second["prices"],
        "cached answer, same fetched_at"
    );

    // A query overlapping the cached set fetches only the new article.
    let mixed: Value = prices(
        &hub,
        json!({"customer": "C0000001", "article_ids": ["A00000010", "A00000012"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(calls(), c1 + 1);
    assert_eq!(mixed["prices"].as_array().unwrap().len(), 2);

    tokio::time::sleep(Duration::from_millis(1600)).await;
    let third: Value = prices(&hub, body).await.json().await.unwrap();
    assert_eq!(calls(), c1 + 2, "after the TTL the ERP is asked again");
    assert_ne!(
        third["prices"][0]["fetched_at"],
        first["prices"][0]["fetched_at"]
    );

    // Hits and misses are visible in the metrics.
    let text = hub
        .client
        .get(hub.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("erp_cache_hits_total{tenant=\"acme\",kind=\"prices\"} 3"),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn concurrent_identical_queries_share_one_erp_call() {
    let hub = Hub::start(Options {
        sim: erpbridge_sim::SimConfig {
            per_call_latency: Duration::from_millis(200),
            ..erpbridge_sim::SimConfig::fast(500)
        },
        ..Options::default()
    })
    .await;
    hub.wait_ready().await;
    let c0 = hub.acme.stats().calls;
    let body =
        json!({"customer": "C0000002", "article_ids": ["A00000020", "A00000021", "A00000022"]});
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = hub.client.clone();
        let url = hub.url("/v1/tenants/acme/prices:query");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(ACME_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        hub.acme.stats().calls - c0,
        1,
        "20 identical lookups, one ERP call"
    );
    hub.stop().await;
}

#[tokio::test]
async fn stock_is_summed_per_article_and_filtered_by_warehouse() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/stock:query"))
        .bearer_auth(ACME_KEY)
        .json(&json!({"article_ids": ["A00000001", "GONE"], "warehouse_ids": ["W1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["missing"], json!(["GONE"]));
    let item = &body["stock"][0];
    let levels = item["levels"].as_array().unwrap();
    assert!(levels.iter().all(|l| l["warehouse_id"] == "W1"));
    assert_eq!(levels.len(), 1);
    assert_eq!(item["total_available"], levels[0]["available"]);
    hub.stop().await;
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let hub = Hub::start(Options {
        rate_limit: Some(RateLimit {
            per_second: 1,
            burst: 2,
        }),
        ..Options::default()
    })
    .await;
    hub.wait_ready().await;
    let body = json!({"customer": "C0000001", "article_ids": ["A00000001"]});
    assert_eq!(prices(&hub, body.clone()).await.status(), 200);
    assert_eq!(prices(&hub, body.clone()).await.status(), 200);
    let r = prices(&hub, body.clone()).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    problem(r, 429).await;
    // Another tenant has its own budget.
    let r = hub
        .client
        .post(hub.url("/v1/tenants/globex/prices:query"))
        .bearer_auth(crate::support::GLOBEX_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    hub.stop().await;
}

#[tokio::test]
async fn an_overloaded_serial_backend_answers_503_with_retry_after() {
    // One session, a queue of one, slow calls: the runtime refuses what does not fit,
    // and the hub turns that into 503 + Retry-After instead of making callers hang.
    let sim = erpbridge_sim::Sim::new(erpbridge_sim::SimConfig {
        per_call_latency: Duration::from_millis(300),
        ..erpbridge_sim::SimConfig::fast(500)
    })
    .unwrap();
    let provider = erpbridge_provider::runtime::HostedProvider::start(
        erpbridge_sim::SimFactory::from_sim(sim.clone()),
        erpbridge_provider::runtime::RuntimeOptions {
            queue_capacity: 1,
            coalescing: false,
            ..Default::default()
        },
    )
    .unwrap();
    let monitor = provider.monitor();
    let state = erpbridge_hub::AppState::builder()
        .tenant(erpbridge_hub::TenantSpec {
            id: "acme".into(),
            provider: std::sync::Arc::new(provider),
            monitor: Some(monitor),
            provider_kind: "sim".into(),
            api_keys: vec![erpbridge_hub::KeyHash::of(ACME_KEY)],
            cache: CacheTtls::default(),
            rate_limit: None,
        })
        .build()
        .unwrap();
    let hub = Hub::serve(state, sim.clone(), sim).await;
    hub.wait_ready().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = hub.client.clone();
        let url = hub.url("/v1/tenants/acme/prices:query");
        // Different articles: no single-flight sharing, each needs its own ERP call.
        let body = json!({"customer": "C0000001", "article_ids": [format!("A{:08}", 100 + i)]});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(ACME_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
        }));
    }
    let mut refused = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status().as_u16() {
            200 => {}
            503 => {
                assert!(r.headers().contains_key("retry-after"));
                problem(r, 503).await;
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        refused > 0,
        "an overloaded serial backend must refuse, not queue forever"
    );
    hub.stop().await;
}
