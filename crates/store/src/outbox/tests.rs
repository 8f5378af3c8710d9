//! The outbox state machine on both backends. Each scenario runs against a SQLite file
//! and a fresh PostgreSQL database, with a manual clock so due times and leases are
//! checked exactly.

use chrono::{TimeZone, Utc};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::db::SqliteDurability;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
}

async fn sqlite() -> (OutboxStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("outbox.sqlite"), SqliteDurability::Normal)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    (OutboxStore::with_clock(db, Clock::manual(start())), dir)
}

async fn postgres() -> OutboxStore {
    let (db, _) = testing::fresh_postgres("outbox_store").await.unwrap();
    OutboxStore::with_clock(db, Clock::manual(start()))
}

fn saga(tenant: &str, key: &str, payload: serde_json::Value) -> NewSaga {
    NewSaga {
        tenant_id: tenant.into(),
        idempotency_key: key.into(),
        event_type: "order.create".into(),
        payload,
        payload_summary: format!("summary of {key}"),
        run_at: None,
    }
}

fn retry(claim: &Claimed, error: &str, delay: Duration) -> Settle {
    Settle {
        saga_id: claim.saga.saga_id,
        lease_token: claim.lease_token,
        action: SettleAction::Retry {
            phase: Phase::Forward,
            step: 1,
            state: json!({"erp_order_id": "SO1"}),
            error: error.into(),
            delay,
        },
    }
}

fn dead(claim: &Claimed, error: &str) -> Settle {
    Settle {
        saga_id: claim.saga.saga_id,
        lease_token: claim.lease_token,
        action: SettleAction::Dead {
            phase: Phase::Forward,
            step: 0,
            state: serde_json::Value::Null,
            error: error.into(),
        },
    }
}

const LEASE: Duration = Duration::from_secs(60);

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = super::sqlite().await;
                    super::$name(store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::postgres().await).await;
                }
            )*
        }
    };
}

both_backends!(
    idempotent_enqueue,
    claim_respects_due_time_and_leases,
    retry_schedule_and_operator_views,
    dead_letters_and_retries,
    drain_switch_is_shared,
    step_progress_survives_a_new_claim,
    metrics_over_a_window,
);

async fn idempotent_enqueue(store: OutboxStore) {
    let first = store
        .enqueue(saga("t1", "k1", json!({"a": 1, "b": [1, 2]})))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.saga.status, SagaStatus::Pending);
    assert_eq!(first.saga.attempts, 0);

    // Same payload, keys in another order: the same saga.
    let again = store
        .enqueue(saga("t1", "k1", json!({"b": [1, 2], "a": 1})))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.saga.saga_id, first.saga.saga_id);

    // Different payload: a typed conflict naming the existing saga.
    let err = store
        .enqueue(saga("t1", "k1", json!({"a": 2, "b": [1, 2]})))
        .await
        .unwrap_err();
    match err {
        StoreError::IdempotencyConflict { saga_id, .. } => assert_eq!(saga_id, first.saga.saga_id),
        other => panic!("expected a conflict, got {other:?}"),
    }

    // The key is per tenant.
    let other_tenant = store
        .enqueue(saga("t2", "k1", json!({"a": 2})))
        .await
        .unwrap();
    assert!(other_tenant.created);
    assert_ne!(other_tenant.saga.saga_id, first.saga.saga_id);

    // A batch: one new, one duplicate, one conflict; each gets its own outcome.
    let outcomes = store
        .enqueue_many(vec![
            saga("t1", "k2", json!({"x": 1})),
            saga("t1", "k1", json!({"a": 1, "b": [1, 2]})),
            saga("t2", "k1", json!({"a": 3})),
        ])
        .await
        .unwrap();
    assert!(outcomes[0].as_ref().unwrap().created);
    assert!(!outcomes[1].as_ref().unwrap().created);
    assert!(matches!(
        outcomes[2],
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.status().await.unwrap().pending_count, 3);

    let found = store.find(&"t2".into(), "k1").await.unwrap().unwrap();
    assert_eq!(found.saga_id, other_tenant.saga.saga_id);
    assert!(store.find(&"t3".into(), "k1").await.unwrap().is_none());
}

async fn claim_respects_due_time_and_leases(store: OutboxStore) {
    let mut later = saga("t1", "later", json!({}));
    later.run_at = Some(start() + chrono::Duration::seconds(30));
    store.enqueue(later).await.unwrap();
    store.enqueue(saga("t1", "now", json!({}))).await.unwrap();

    let claimed = store.claim(10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1, "the saga due in 30 s is not claimed yet");
    let first = &claimed[0];
    assert_eq!(first.saga.idempotency_key, "now");
    assert_eq!(first.saga.status, SagaStatus::InProgress);
    assert_eq!(first.saga.attempts, 1);
    assert_eq!(first.lease_until, start() + chrono::Duration::seconds(60));

    // Leased: nobody else gets it.
    assert!(store.claim(10, LEASE).await.unwrap().is_empty());

    store.clock().advance(Duration::from_secs(30));
    let due = store.claim(10, LEASE).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].saga.idempotency_key, "later");

    // A heartbeat keeps the first lease alive past its original expiry.
    store.clock().advance(Duration::from_secs(20));
    let kept = store
        .extend_leases(&[(first.saga.saga_id, first.lease_token)], LEASE)
        .await
        .unwrap();
    assert_eq!(kept, vec![true]);
    // t = 91 s: the second lease (until 90 s) ran out, the renewed one (110 s) did not.
    store.clock().advance(Duration::from_secs(41));
    let reclaimed = store.claim(10, LEASE).await.unwrap();
    assert_eq!(
        reclaimed.len(),
        1,
        "only the saga without heartbeat is reclaimed"
    );
    assert_eq!(reclaimed[0].saga.idempotency_key, "later");
    assert_eq!(reclaimed[0].saga.attempts, 2);

    // The first worker stops renewing; its lease runs out and another claim takes over.
    store.clock().advance(Duration::from_secs(61));
    let taken = store.claim(10, LEASE).await.unwrap();
    let taken = taken
        .iter()
        .find(|c| c.saga.saga_id == first.saga.saga_id)
        .expect("stale lease reclaimed without operator action");
    assert_ne!(taken.lease_token, first.lease_token);

    // The old owner is fenced off: its report and its heartbeat are refused.
    let late = Settle {
        saga_id: first.saga.saga_id,
        lease_token: first.lease_token,
        action: SettleAction::Complete {
            result: json!({"late": true}),
        },
    };
    assert!(matches!(
        store.settle_one(late).await,
        Err(StoreError::LeaseLost { .. })
    ));
    let kept = store
        .extend_leases(&[(first.saga.saga_id, first.lease_token)], LEASE)
        .await
        .unwrap();
    assert_eq!(kept, vec![false]);

    // The new owner completes it.
    store
        .settle_one(Settle {
            saga_id: taken.saga.saga_id,
            lease_token: taken.lease_token,
            action: SettleAction::Complete {
                result: json!({"erp_order_id": "SO1"}),
            },
        })
        .await
        .unwrap();
    let done = store.get(first.saga.saga_id).await.unwrap().unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    assert_eq!(done.result_payload, Some(json!({"erp_order_id": "SO1"})));
    assert!(done.processed_at.is_some());
}

async fn retry_schedule_and_operator_views(store: OutboxStore) {
    let enqueued = store
        .enqueue(saga("t1", "k", json!({"n": 1})))
        .await
        .unwrap();
    let claim = store.claim(1, LEASE).await.unwrap().remove(0);
    store
        .settle_one(retry(&claim, "ERP timeout", Duration::from_secs(600)))
        .await
        .unwrap();

    let detail = store.detail(enqueued.saga.saga_id).await.unwrap().unwrap();
    assert_eq!(detail.status, SagaStatus::Pending);
    assert_eq!(detail.backoff_seconds, Some(600));
    assert_eq!(detail.step, 1, "progress kept for the retry");
    assert_eq!(detail.saga_state, json!({"erp_order_id": "SO1"}));
    assert_eq!(detail.last_error.as_deref(), Some("ERP timeout"));
    assert_eq!(detail.next_run_at, start() + chrono::Duration::seconds(600));

    // Not due before its backoff ends.
    store.clock().advance(Duration::from_secs(599));
    assert!(store.claim(1, LEASE).await.unwrap().is_empty());
    let failed = store
        .failed(FailedQuery {
            page: 1,
            page_size: 50,
            include_dead: false,
        })
        .await
        .unwrap();
    assert_eq!(failed.total_count, 1);
    assert_eq!(failed.items[0].payload_summary, "summary of k");
    assert_eq!(failed.items[0].attempts, 1);

    let status = store.status().await.unwrap();
    assert_eq!(status.pending_count, 1);
    assert_eq!(status.total_queue_size, 1);
    assert!((status.backlog_hours - 599.0 / 3600.0).abs() < 0.01);

    // The operator skips the rest of the backoff.
    store.retry(enqueued.saga.saga_id).await.unwrap();
    let claim = store.claim(1, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.saga.step, 1);
    assert_eq!(claim.saga.attempts, 2);
    // Running sagas cannot be retried.
    assert!(matches!(
        store.retry(enqueued.saga.saga_id).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.retry(Uuid::new_v4()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn dead_letters_and_retries(store: OutboxStore) {
    for (tenant, key, event_type) in [
        ("t1", "a", "order.create"),
        ("t1", "b", "bom.sync"),
        ("t2", "c", "order.create"),
    ] {
        let mut new = saga(tenant, key, json!({"k": key}));
        new.event_type = event_type.into();
        store.enqueue(new).await.unwrap();
    }
    let claims = store.claim(10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 3);
    let reports: Vec<Settle> = claims
        .iter()
        .map(|c| {
            dead(
                c,
                &format!("validation failed for {}", c.saga.idempotency_key),
            )
        })
        .collect();
    let outcomes = store.settle(&reports).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok));

    let status = store.status().await.unwrap();
    assert_eq!(status.dead_count, 3);
    assert_eq!(status.total_queue_size, 0);
    let without_dead = store
        .failed(FailedQuery {
            page: 1,
            page_size: 10,
            include_dead: false,
        })
        .await
        .unwrap();
    assert_eq!(without_dead.total_count, 0);
    let with_dead = store
        .failed(FailedQuery {
            page: 2,
            page_size: 2,
            include_dead: true,
        })
        .await
        .unwrap();
    assert_eq!(with_dead.total_count, 3);
    assert_eq!(with_dead.items.len(), 1, "page 2 of size 2 holds the third");

    // Batch retry by filter: type + tenant, then error text.
    let count = store
        .retry_dead(&RetryFilter {
            event_type: Some("order.create".into()),
            tenant_id: Some("t1".into()),
            ..RetryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(count, 1);
    let count = store
        .retry_dead(&RetryFilter {
            error_contains: Some("for c".into()),
            ..RetryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(count, 1);
    let count = store
        .retry_dead(&RetryFilter {
            created_to: Some(start() - chrono::Duration::hours(1)),
            ..RetryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(count, 0, "created before the range: nothing");
    let claims = store.claim(10, LEASE).await.unwrap();
    let keys: HashSet<_> = claims
        .iter()
        .map(|c| c.saga.idempotency_key.as_str())
        .collect();
    assert_eq!(keys, HashSet::from(["a", "c"]));
    assert!(
        claims.iter().all(|c| c.saga.attempts == 1),
        "attempts reset on retry"
    );

    // Retry one from dead.
    let b = store.find(&"t1".into(), "b").await.unwrap().unwrap();
    assert_eq!(b.status, SagaStatus::Dead);
    let revived = store.retry(b.saga_id).await.unwrap();
    assert_eq!(revived.status, SagaStatus::Pending);
    assert!(revived.processed_at.is_none());
}

async fn drain_switch_is_shared(store: OutboxStore) {
    store.enqueue(saga("t1", "k", json!({}))).await.unwrap();
    // Another handle on the same database, as another process would have.
    let other = OutboxStore::with_clock(store.db().clone(), store.clock().clone());
    store.set_draining(true).await.unwrap();
    assert!(other.draining().await.unwrap());
    assert!(other.claim(10, LEASE).await.unwrap().is_empty());
    assert!(store.status().await.unwrap().draining);
    other.set_draining(false).await.unwrap();
    assert_eq!(store.claim(10, LEASE).await.unwrap().len(), 1);
}

async fn step_progress_survives_a_new_claim(store: OutboxStore) {
    store.enqueue(saga("t1", "k", json!({}))).await.unwrap();
    let claim = store.claim(1, LEASE).await.unwrap().remove(0);
    store
        .settle_one(Settle {
            saga_id: claim.saga.saga_id,
            lease_token: claim.lease_token,
            action: SettleAction::Progress {
                phase: Phase::Forward,
                step: 1,
                state: json!({"erp_order_id": "SO7"}),
            },
        })
        .await
        .unwrap();
    // The worker dies here. After the lease, the next claim starts at step 1.
    store.clock().advance(LEASE + Duration::from_millis(1));
    let next = store.claim(1, LEASE).await.unwrap().remove(0);
    assert_eq!(next.saga.step, 1);
    assert_eq!(next.saga.saga_state, json!({"erp_order_id": "SO7"}));
    assert_eq!(next.saga.attempts, 2);

    // Compensation: progress in the compensate phase shows as `compensating`.
    store
        .settle_one(Settle {
            saga_id: next.saga.saga_id,
            lease_token: next.lease_token,
            action: SettleAction::Progress {
                phase: Phase::Compensate,
                step: 1,
                state: json!({"erp_order_id": "SO7"}),
            },
        })
        .await
        .unwrap();
    assert_eq!(
        store.get(next.saga.saga_id).await.unwrap().unwrap().status,
        SagaStatus::Compensating
    );
    store
        .settle_one(Settle {
            saga_id: next.saga.saga_id,
            lease_token: next.lease_token,
            action: SettleAction::Compensated {
                state: json!({"erp_order_id": "SO7", "state": "cancelled"}),
                error: "confirm rejected".into(),
            },
        })
        .await
        .unwrap();
    let done = store.get(next.saga.saga_id).await.unwrap().unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    assert_eq!(done.last_error.as_deref(), Some("confirm rejected"));
}

async fn metrics_over_a_window(store: OutboxStore) {
    for key in ["a", "b", "c", "d"] {
        store.enqueue(saga("t1", key, json!({}))).await.unwrap();
    }
    store.clock().advance(Duration::from_secs(10));
    let claims = store.claim(10, LEASE).await.unwrap();
    // a, b complete after 10 s in queue; c is retried then dies; d stays pending.
    let by_key = |key: &str| {
        claims
            .iter()
            .find(|c| c.saga.idempotency_key == key)
            .unwrap()
    };
    let complete = |c: &Claimed| Settle {
        saga_id: c.saga.saga_id,
        lease_token: c.lease_token,
        action: SettleAction::Complete { result: json!({}) },
    };
    store
        .settle(&[
            complete(by_key("a")),
            complete(by_key("b")),
            retry(by_key("c"), "timeout", Duration::ZERO),
            retry(by_key("d"), "timeout", Duration::from_secs(3600)),
        ])
        .await
        .unwrap();
    let c = store.claim(10, LEASE).await.unwrap();
    assert_eq!(c.len(), 1);
    store.settle_one(dead(&c[0], "gave up")).await.unwrap();

    let metrics = store.metrics(24).await.unwrap();
    assert_eq!(metrics.total_succeeded, 2);
    assert_eq!(metrics.total_failed, 1);
    assert_eq!(metrics.total_processed, 3);
    assert!(
        (metrics.success_rate - 66.67).abs() < 0.01,
        "{}",
        metrics.success_rate
    );
    assert!((metrics.avg_latency_seconds - 10.0).abs() < 0.001);
    assert_eq!(metrics.retry_metrics.total_retries, 1);
    assert_eq!(metrics.retry_metrics.sagas_with_retries, 1);
    assert_eq!(metrics.retry_metrics.max_retries_count, 1);
    assert_eq!(
        metrics.retry_metrics.max_retries_saga_id,
        Some(by_key("c").saga.saga_id)
    );
    assert_eq!(metrics.dead_letter_queue_size, 1);

    // Two days later the window is empty, the dead letter is still there.
    store.clock().advance(Duration::from_secs(48 * 3600));
    let later = store.metrics(24).await.unwrap();
    assert_eq!(later.total_processed, 0);
    assert_eq!(later.success_rate, 100.0);
    assert_eq!(later.dead_letter_queue_size, 1);

    let json = serde_json::to_value(&metrics).unwrap();
    for field in [
        "success_rate",
        "avg_latency_seconds",
        "total_processed",
        "retry_metrics",
        "dead_letter_queue_size",
        "period_start",
    ] {
        assert!(json.get(field).is_some(), "seed 004 field {field}");
    }
}

/// Many claimers at once on PostgreSQL take disjoint sagas (SKIP LOCKED), and every
/// saga is handed out exactly once.
#[tokio::test]
async fn postgres_concurrent_claims_are_disjoint() {
    let store = postgres().await;
    let sagas: Vec<NewSaga> = (0..300)
        .map(|i| saga("t1", &format!("k{i}"), json!({"i": i})))
        .collect();
    store.enqueue_many(sagas).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim(7, LEASE).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                mine.extend(batch.into_iter().map(|c| c.saga.saga_id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 300);
    assert_eq!(unique.len(), 300);
}
