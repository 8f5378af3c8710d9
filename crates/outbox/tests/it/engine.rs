//! The engine in-process against the simulated ERP: happy paths of every saga type,
//! retries that resume at the failed step, compensation, dead letters, bad payloads,
//! graceful stop.

use erpbridge_model::{
    ArticleId, Bom, BomMaterial, IdempotencyKey, InventoryAdjustment, OrderState,
};
use erpbridge_outbox::*;
use erpbridge_sim::generate;
use erpbridge_store::StoreError;
use erpbridge_store::outbox::{NewSaga, OutboxStore, SagaRecord, SagaStatus};
use rust_decimal_macros::dec;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;

fn fast_options() -> OutboxOptions {
    OutboxOptions {
        workers: 2,
        batch_size: 8,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        retry: testing::fixed_retries(Duration::from_millis(10), 4),
        ..OutboxOptions::default()
    }
}

/// One engine test's world: an outbox store, the faulty sim as tenant `t1`, the intake.
struct Rig {
    store: OutboxStore,
    provider: Arc<Faulty>,
    outbox: Outbox,
    _dir: Option<tempfile::TempDir>,
}

impl Rig {
    fn on(store: OutboxStore) -> Self {
        Self {
            outbox: Outbox::new(store.clone(), SagaCatalog::standard()),
            provider: Faulty::new(sim(None)),
            store,
            _dir: None,
        }
    }

    /// On a SQLite file in a fresh temp dir.
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = sqlite_store(dir.path()).await;
        Self {
            _dir: Some(dir),
            ..Self::on(store)
        }
    }

    fn start(&self, options: OutboxOptions) -> EngineHandle {
        Engine::new(
            self.store.clone(),
            SagaCatalog::standard(),
            Arc::new(StaticProviders::new().with("t1", self.provider.clone())),
            options,
        )
        .start()
    }

    /// Runs an engine with [`fast_options`] until nothing is pending, then stops it.
    async fn run_until_idle(&self) {
        let engine = self.start(fast_options());
        wait_idle(&self.store, Duration::from_secs(30)).await;
        engine.shutdown().await;
    }

    async fn enqueue_orders(&self, n: u64) {
        for i in 0..n {
            self.outbox
                .enqueue_order("t1".into(), format!("order-{i}"), &order(i))
                .await
                .unwrap();
        }
    }

    async fn enqueue_order(&self, key: &str, order: &erpbridge_model::Order) -> SagaRecord {
        self.outbox
            .enqueue_order("t1".into(), key, order)
            .await
            .unwrap()
            .saga
    }

    async fn saga(&self, id: uuid::Uuid) -> SagaRecord {
        self.store.get(id).await.unwrap().unwrap()
    }
}

async fn orders_complete_once_on(rig: Rig) {
    rig.enqueue_orders(40).await;
    rig.run_until_idle().await;
    let Rig {
        store, provider, ..
    } = &rig;

    let status = store.status().await.unwrap();
    assert_eq!(status.completed_count, 40);
    let by_key = provider.sim.orders_by_key();
    assert_eq!(by_key.len(), 40);
    for (key, orders) in &by_key {
        assert_eq!(orders.len(), 1, "{key}: one order per key");
        assert_eq!(orders[0].state, OrderState::Confirmed);
    }
    // Every provider call carried the saga's key.
    let saga = store.find(&"t1".into(), "order-7").await.unwrap().unwrap();
    let erp_order = provider.sim.orders_by_key()[&IdempotencyKey::new("order-7")][0].clone();
    assert_eq!(
        saga.result_payload.unwrap()["erp_order_id"],
        json!(erp_order.erp_order_id)
    );
    assert_eq!(saga.attempts, 1);
}

#[tokio::test]
async fn orders_complete_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    orders_complete_once_on(Rig::on(sqlite_store(dir.path()).await.0)).await;
}

#[tokio::test]
async fn orders_complete_once_postgres() {
    orders_complete_once_on(Rig::on(postgres_store("engine_orders").await.0)).await;
}

#[tokio::test]
async fn transient_confirm_failure_resumes_at_confirm() {
    let rig = Rig::sqlite().await;
    let Rig {
        store, provider, ..
    } = &rig;
    *provider.confirm_fault.lock() = Fault::TransientTimes(10);
    rig.enqueue_orders(5).await;
    rig.run_until_idle().await;

    assert_eq!(store.status().await.unwrap().completed_count, 5);
    // create_order ran once per saga: retries resumed at the confirm step.
    assert_eq!(provider.creates.load(Ordering::SeqCst), 5);
    assert_eq!(provider.confirms.load(Ordering::SeqCst), 15);
    let metrics = store.metrics(1).await.unwrap();
    assert_eq!(metrics.retry_metrics.total_retries, 10);
    for orders in provider.sim.orders_by_key().values() {
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].state, OrderState::Confirmed);
    }
}

#[tokio::test]
async fn fatal_confirm_failure_cancels_the_order() {
    let rig = Rig::sqlite().await;
    *rig.provider.confirm_fault.lock() = Fault::AlwaysFatal;
    let saga = rig.enqueue_order("o1", &order(1)).await;
    rig.run_until_idle().await;

    let done = rig.saga(saga.saga_id).await;
    assert_eq!(done.status, SagaStatus::Compensated);
    assert!(
        done.last_error
            .as_deref()
            .unwrap()
            .contains("credit limit exceeded"),
        "{:?}",
        done.last_error
    );
    assert_eq!(done.attempts, 1, "fatal: no retry");
    let orders = rig.provider.sim.orders_by_key();
    assert_eq!(
        orders[&IdempotencyKey::new("o1")][0].state,
        OrderState::Cancelled
    );
}

#[tokio::test]
async fn fatal_create_failure_is_dead_at_once() {
    let rig = Rig::sqlite().await;
    let mut bad = order(1);
    bad.customer_id = "NO-SUCH-CUSTOMER".into();
    let saga = rig.enqueue_order("o1", &bad).await;
    rig.run_until_idle().await;
    let dead = rig.saga(saga.saga_id).await;
    assert_eq!(dead.status, SagaStatus::Dead);
    assert_eq!(dead.attempts, 1);
    assert!(dead.last_error.unwrap().contains("unknown customer"));
    assert!(rig.provider.sim.orders_by_key().is_empty());
}

#[tokio::test]
async fn exhausted_retries_go_dead_and_can_be_retried() {
    let rig = Rig::sqlite().await;
    let Rig {
        store, provider, ..
    } = &rig;
    *provider.create_fault.lock() = Fault::AlwaysTransient;
    let saga = rig.enqueue_order("o1", &order(1)).await;
    let engine = rig.start(fast_options());
    wait_idle(store, Duration::from_secs(30)).await;

    let dead = rig.saga(saga.saga_id).await;
    assert_eq!(dead.status, SagaStatus::Dead);
    assert_eq!(dead.attempts, 4, "max_attempts = 4");
    assert!(
        dead.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 4 attempts")
    );
    assert_eq!(provider.creates.load(Ordering::SeqCst), 4);

    // The ERP is back; the operator retries the dead saga and it completes.
    *provider.create_fault.lock() = Fault::None;
    store.retry(saga.saga_id).await.unwrap();
    wait_idle(store, Duration::from_secs(30)).await;
    engine.shutdown().await;
    assert_eq!(rig.saga(saga.saga_id).await.status, SagaStatus::Completed);
    assert_eq!(provider.sim.orders_by_key().len(), 1);
}

#[tokio::test]
async fn bad_payloads_die_with_a_clear_error_and_workers_go_on() {
    let rig = Rig::sqlite().await;
    let store = &rig.store;
    // Rows written past the intake validation (an old producer, a manual insert).
    let raw = |key: &str, event_type: &str, payload: serde_json::Value| NewSaga {
        tenant_id: "t1".into(),
        idempotency_key: key.into(),
        event_type: event_type.into(),
        payload,
        payload_summary: String::new(),
        run_at: None,
    };
    let not_an_order = store
        .enqueue(raw("bad-1", "order.create", json!({"lines": "many"})))
        .await
        .unwrap()
        .saga;
    let unknown_type = store
        .enqueue(raw("bad-2", "order.teleport", json!({})))
        .await
        .unwrap()
        .saga;
    let unknown_tenant = store
        .enqueue(NewSaga {
            tenant_id: "nobody".into(),
            ..raw(
                "bad-3",
                "order.create",
                serde_json::to_value(order(1)).unwrap(),
            )
        })
        .await
        .unwrap()
        .saga;
    rig.enqueue_orders(10).await;
    rig.run_until_idle().await;

    let status = store.status().await.unwrap();
    assert_eq!(status.completed_count, 10, "valid sagas unaffected");
    assert_eq!(status.dead_count, 3);
    let rig = &rig;
    let error = |id| async move { rig.saga(id).await.last_error.unwrap() };
    let e1 = error(not_an_order.saga_id).await;
    assert!(e1.contains("invalid order.create payload"), "{e1}");
    assert!(
        e1.contains("customer_id") || e1.contains("invalid type"),
        "{e1}"
    );
    assert_eq!(
        error(unknown_type.saga_id).await,
        "unknown saga type `order.teleport`"
    );
    let e3 = error(unknown_tenant.saga_id).await;
    assert!(e3.contains("tenant `nobody` is not configured"), "{e3}");
}

#[tokio::test]
async fn intake_validates_and_detects_conflicts() {
    let rig = Rig::sqlite().await;
    let outbox = &rig.outbox;
    assert!(matches!(
        outbox
            .enqueue("t1".into(), "k", "order.teleport", json!({}))
            .await,
        Err(OutboxError::UnknownType(_))
    ));
    let mut empty = order(1);
    empty.lines.clear();
    let err = outbox
        .enqueue_order("t1".into(), "k", &empty)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least one line"), "{err}");

    let first = outbox
        .enqueue_order("t1".into(), "k", &order(1))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(
        first.saga.payload_summary,
        "customer C0000002, 1 line, ref shop-1"
    );
    let again = outbox
        .enqueue_order("t1".into(), "k", &order(1))
        .await
        .unwrap();
    assert_eq!(again.saga.saga_id, first.saga.saga_id);
    assert!(matches!(
        outbox.enqueue_order("t1".into(), "k", &order(2)).await,
        Err(OutboxError::Store(StoreError::IdempotencyConflict { .. }))
    ));
}

#[tokio::test]
async fn bom_recipe_and_inventory_sagas_complete() {
    let rig = Rig::sqlite().await;
    let outbox = &rig.outbox;
    let bom = Bom {
        bom_id: None,
        product: generate::article_id(1),
        name: "Kit".into(),
        output_quantity: dec!(1),
        materials: vec![BomMaterial {
            article_id: generate::article_id(2),
            quantity: dec!(3),
            unit: Some("PCE".into()),
        }],
    };
    let b = outbox
        .enqueue(
            "t1".into(),
            "bom-1",
            "bom.sync",
            serde_json::to_value(&bom).unwrap(),
        )
        .await
        .unwrap()
        .saga;
    let recipe = json!({"recipe": {
        "recipe_code": generate::article_id(3).0, "name": "Mix", "version": "1.0",
        "materials": [{"material_code": generate::article_id(4).0, "quantity": "10", "unit_of_measure": "KG"}]
    }});
    let r = outbox
        .enqueue("t1".into(), "recipe-1", "recipe.upsert", recipe)
        .await
        .unwrap()
        .saga;
    assert_eq!(
        r.payload_summary,
        format!("{} v1.0", generate::article_id(3))
    );
    let adjust = json!({"adjustments": [InventoryAdjustment {
        article_id: generate::article_id(5),
        warehouse_id: generate::warehouse_id(0),
        delta: dec!(-2),
        reason: Some("breakage".into()),
    }]});
    let i = outbox
        .enqueue("t1".into(), "inv-1", "inventory.adjust", adjust)
        .await
        .unwrap()
        .saga;

    rig.run_until_idle().await;
    for id in [b.saga_id, r.saga_id, i.saga_id] {
        let saga = rig.saga(id).await;
        assert_eq!(saga.status, SagaStatus::Completed, "{saga:?}");
    }
    rig.provider.sim.with_ledger(|ledger| {
        assert!(ledger.bom_by_key(&IdempotencyKey::new("bom-1")).is_some());
        assert!(
            ledger
                .bom_by_key(&IdempotencyKey::new("recipe-1"))
                .is_some()
        );
        assert!(
            ledger
                .document_by_key(&IdempotencyKey::new("inv-1"))
                .is_some()
        );
    });
    let _ = ArticleId::new("unused");
}

#[tokio::test]
async fn drain_stops_claiming_and_shutdown_finishes_in_flight() {
    let rig = Rig::sqlite().await;
    let Rig {
        store, provider, ..
    } = &rig;
    *provider.delay.lock() = Duration::from_millis(300);
    rig.enqueue_orders(4).await;
    store.set_draining(true).await.unwrap();
    let engine = rig.start(OutboxOptions {
        workers: 1,
        batch_size: 2,
        ..fast_options()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        provider.creates.load(Ordering::SeqCst),
        0,
        "draining: nothing claimed"
    );
    store.set_draining(false).await.unwrap();
    // Wait until a batch is in flight, then stop: it must finish, the rest stays pending.
    while store.status().await.unwrap().in_progress_count == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    engine.shutdown().await;
    let status = store.status().await.unwrap();
    assert_eq!(
        status.in_progress_count, 0,
        "in-flight sagas finished: {status:?}"
    );
    assert_eq!(status.completed_count, 2);
    assert_eq!(status.pending_count, 2);
}
