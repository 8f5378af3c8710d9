//! The operator API: auth, seed 004 shapes, drain, tenants.

use serde_json::{Value, json};

use crate::support::{ACME_KEY, FullHub, OPERATOR_KEY, Options, problem};

#[tokio::test]
async fn operator_routes_need_the_operator_key() {
    let full = FullHub::start(Options::default()).await;
    let hub = &full.hub;
    for path in [
        "/api/erp/status",
        "/api/erp/metrics?hours=2",
        "/api/erp/failed",
        "/api/erp/tenants",
        "/api/erp/connectors",
    ] {
        problem(hub.client.get(hub.url(path)).send().await.unwrap(), 401).await;
        problem(
            hub.client
                .get(hub.url(path))
                .bearer_auth("wrong")
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;
        problem(
            hub.client
                .get(hub.url(path))
                .bearer_auth(ACME_KEY)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
        let r = hub
            .client
            .get(hub.url(path))
            .bearer_auth(OPERATOR_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    full.stop().await;
}

#[tokio::test]
async fn status_metrics_failed_saga_and_drain_have_seed_004_shapes() {
    let full = FullHub::start(Options::default()).await;
    let hub = &full.hub;
    let get = |path: &str| {
        hub.client
            .get(hub.url(path))
            .bearer_auth(OPERATOR_KEY)
            .send()
    };
    // An order so there is something to show.
    let order =
        json!({"customer_id": "C0000001", "lines": [{"article_id": "A00000001", "quantity": "1"}]});
    let created: Value = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "op-1")
        .header("prefer", "wait=20")
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let saga_id = created["order_id"].as_str().unwrap();

    let status: Value = get("/api/erp/status").await.unwrap().json().await.unwrap();
    for field in [
        "pending_count",
        "in_progress_count",
        "completed_count",
        "dead_count",
        "oldest_pending_at",
        "newest_pending_at",
        "total_queue_size",
        "backlog_hours",
    ] {
        assert!(
            status.get(field).is_some(),
            "status lacks {field}: {status}"
        );
    }
    assert_eq!(status["completed_count"], 1);

    let metrics: Value = get("/api/erp/metrics?hours=24")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "success_rate",
        "avg_latency_seconds",
        "total_processed",
        "total_succeeded",
        "total_failed",
        "retry_metrics",
        "dead_letter_queue_size",
        "period_start",
        "period_end",
    ] {
        assert!(
            metrics.get(field).is_some(),
            "metrics lacks {field}: {metrics}"
        );
    }
    problem(get("/api/erp/metrics?hours=0").await.unwrap(), 400).await;
    problem(get("/api/erp/metrics?hours=abc").await.unwrap(), 400).await;

    let failed: Value = get("/api/erp/failed?page=1&page_size=10&include_dead=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in ["items", "total_count", "page", "page_size"] {
        assert!(failed.get(field).is_some(), "failed lacks {field}");
    }
    problem(get("/api/erp/failed?page_size=500").await.unwrap(), 400).await;

    let saga: Value = get(&format!("/api/erp/saga/{saga_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "saga_id",
        "tenant_id",
        "idempotency_key",
        "event_type",
        "status",
        "attempts",
        "next_run_at",
        "last_error",
        "payload",
        "result_payload",
        "processing_started_at",
        "processed_at",
        "created_at",
        "updated_at",
        "backoff_seconds",
        "time_in_queue_seconds",
    ] {
        assert!(saga.get(field).is_some(), "saga lacks {field}: {saga}");
    }
    assert_eq!(saga["event_type"], "order.create");
    problem(get("/api/erp/saga/not-a-uuid").await.unwrap(), 404).await;
    problem(
        get("/api/erp/saga/00000000-0000-0000-0000-000000000000")
            .await
            .unwrap(),
        404,
    )
    .await;
    // A completed saga cannot be retried.
    let r = hub
        .client
        .post(hub.url(&format!("/api/erp/saga/{saga_id}/retry")))
        .bearer_auth(OPERATOR_KEY)
        .send()
        .await
        .unwrap();
    problem(r, 409).await;
    let r: Value = hub
        .client
        .post(hub.url("/api/erp/retry"))
        .bearer_auth(OPERATOR_KEY)
        .json(&json!({"event_type": "order.create"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["retried"], 0);

    // Drain: new orders are refused with 503 until drained off.
    let d: Value = hub
        .client
        .post(hub.url("/api/erp/drain"))
        .bearer_auth(OPERATOR_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["draining"], true);
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "op-2")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 503).await;
    let d: Value = hub
        .client
        .delete(hub.url("/api/erp/drain"))
        .bearer_auth(OPERATOR_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["draining"], false);
    let r = hub
        .client
        .post(hub.url("/v1/tenants/acme/orders"))
        .bearer_auth(ACME_KEY)
        .header("idempotency-key", "op-2")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let tenants: Value = get("/api/erp/tenants").await.unwrap().json().await.unwrap();
    let acme = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "acme")
        .unwrap();
    assert_eq!(acme["provider"], "sim");
    assert_eq!(acme["ready"], true);
    assert_eq!(acme["circuit"], "closed");
    full.stop().await;
}
