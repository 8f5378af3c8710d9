//! `order.create` sagas through the outbox against Tryton: exactly one confirmed sale per
//! idempotency key (also across a SIGKILL between Tryton's create and the outbox's
//! commit), a wrong password dead-letters at once behind an open login circuit, and a
//! stopped Tryton means transient retries until it is back.

use erpbridge_model::{CustomerId, Order, OrderLine, TenantId};
use erpbridge_outbox::testing::{fixed_retries, wait_exit, wait_ready};
use erpbridge_outbox::{Engine, Outbox, OutboxOptions, RetryPolicy, SagaCatalog, StaticProviders};
use erpbridge_provider::Provider;
use erpbridge_store::outbox::{OutboxStore, SagaRecord, SagaStatus};
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_tryton::TrytonProvider;
use rust_decimal_macros::dec;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{self, Client, Server};

const FIXTURE: &str = env!("CARGO_BIN_EXE_tryton-outbox-fixture");
const TENANT: &str = "tryton";

fn order(server: &Server, n: usize) -> Order {
    let products = &server.seed.product_ids;
    Order {
        customer_id: CustomerId(
            server.seed.customers[n % server.seed.customers.len()]
                .id
                .to_string(),
        ),
        external_reference: Some(format!("SHOP-{n}")),
        lines: vec![
            OrderLine {
                article_id: erpbridge_model::ArticleId(products[n % products.len()].to_string()),
                quantity: dec!(2),
                unit_price: None,
            },
            OrderLine {
                article_id: erpbridge_model::ArticleId(
                    products[(n + 7) % products.len()].to_string(),
                ),
                quantity: dec!(1),
                unit_price: Some(dec!(4.50)),
            },
        ],
        currency: None,
        comment: None,
    }
}

async fn open_store(path: &Path) -> OutboxStore {
    let db = Db::open_sqlite(path, SqliteDurability::Full)
        .await
        .expect("open the outbox");
    db.migrate().await.expect("migrate");
    OutboxStore::new(db)
}

fn fast_retries(delay: Duration) -> RetryPolicy {
    fixed_retries(delay, 1000)
}

async fn saga(store: &OutboxStore, key: &str) -> SagaRecord {
    store
        .find(&TenantId::from(TENANT), key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no saga for {key}"))
}

/// Every sale Tryton holds for the key: (id, state).
async fn sales(tryton: &Client, key: &str) -> Vec<(i64, String)> {
    tryton
        .search_read(
            "sale.sale",
            json!([["reference", "=", key]]),
            &["id", "state"],
            json!({}),
        )
        .await
        .iter()
        .map(|s| {
            (
                s["id"].as_i64().unwrap(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Each key has completed, and Tryton has exactly one confirmed sale for it, the one the
/// saga recorded.
async fn assert_one_confirmed_sale_each(store: &OutboxStore, tryton: &Client, keys: &[String]) {
    for key in keys {
        let record = saga(store, key).await;
        assert_eq!(record.status, SagaStatus::Completed, "{key}: {record:?}");
        let found = sales(tryton, key).await;
        assert_eq!(
            found.len(),
            1,
            "{key}: exactly one sale in Tryton: {found:?}"
        );
        let (id, state) = &found[0];
        assert!(
            ["confirmed", "processing"].contains(&state.as_str()),
            "{key}: sale {id} is {state}"
        );
        assert_eq!(
            record.saga_state["erp_order_id"],
            json!(id.to_string()),
            "{key}: the saga recorded Tryton's sale"
        );
    }
}

async fn wait_until<F, Fut>(what: &str, within: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn_fixture(server: &Server, store: &Path, extra: &[&str]) -> Child {
    let mut child = Command::new(FIXTURE)
        .arg("--store")
        .arg(store)
        .args(["--url", &server.url, "--database", &server.database])
        .args([
            "--tenant",
            TENANT,
            "--lease-ms",
            "1500",
            "--retry-ms",
            "200",
        ])
        .args(extra)
        .env("ERPBRIDGE_TRYTON_ADMIN_PASSWORD", &server.password)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the fixture");
    wait_ready(&mut child);
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_confirmed_sale_per_key_even_when_the_worker_is_killed_after_trytons_create() {
    let Some(server) = harness::server() else {
        return;
    };
    let tryton = server.client().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let store = open_store(&path).await;
    let outbox = Outbox::new(store.clone(), SagaCatalog::standard());
    let run = std::process::id();
    let keys: Vec<String> = (0..5).map(|i| format!("it-saga-{run}-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        let enqueued = outbox
            .enqueue_order(TENANT.into(), key.clone(), &order(&server, i))
            .await
            .unwrap();
        assert!(enqueued.created);
    }
    // The same key and order again: the same saga, not a second one.
    let again = outbox
        .enqueue_order(TENANT.into(), keys[0].clone(), &order(&server, 0))
        .await
        .unwrap();
    assert!(!again.created);

    // A worker that dies right after Tryton created its second sale.
    let mut child = spawn_fixture(
        &server,
        &path,
        &[
            "--workers",
            "1",
            "--batch",
            "1",
            "--kill-after-creates",
            "2",
        ],
    );
    let status = wait_exit(&mut child, Duration::from_secs(180));
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(9), "killed itself: {status:?}");

    // The window was hit: Tryton has a sale the outbox never heard of.
    let mut unrecorded = Vec::new();
    for key in &keys {
        let record = saga(&store, key).await;
        if record.saga_state.get("erp_order_id").is_none() && !sales(&tryton, key).await.is_empty()
        {
            unrecorded.push(key.clone());
        }
    }
    // (At least the one the kill cut off; reports are group-committed, so an earlier
    // saga's progress may have died with the process too.)
    assert!(!unrecorded.is_empty(), "a sale created but not recorded");

    // A new worker takes over once the dead one's lease ran out, and finishes.
    let mut child = spawn_fixture(&server, &path, &["--workers", "2", "--until-idle"]);
    let status = wait_exit(&mut child, Duration::from_secs(300));
    assert!(status.success(), "{status:?}");

    assert_one_confirmed_sale_each(&store, &tryton, &keys).await;
    for key in &unrecorded {
        let found = saga(&store, key).await;
        assert_eq!(
            found.saga_state["already_existed"],
            json!(true),
            "{key}: the retry found the sale by its key instead of making another"
        );
    }
    let status = store.status().await.unwrap();
    assert_eq!(status.completed_count, keys.len() as u64);
    assert_eq!(status.dead_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_dead_letters_at_once_behind_an_open_login_circuit() {
    let Some(server) = harness::server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("outbox.sqlite")).await;
    let mut config = server.config();
    config.password = "not-the-password".into();
    let provider = TrytonProvider::new(config).unwrap();
    let engine = Engine::new(
        store.clone(),
        SagaCatalog::standard(),
        Arc::new(
            StaticProviders::new().with(TENANT, Arc::new(provider.clone()) as Arc<dyn Provider>),
        ),
        OutboxOptions {
            workers: 2,
            poll_interval: Duration::from_millis(20),
            // Were the error retried, these would be hundreds of attempts.
            retry: fast_retries(Duration::from_millis(20)),
            ..OutboxOptions::default()
        },
    )
    .start();
    let outbox = Outbox::new(store.clone(), SagaCatalog::standard());
    let run = std::process::id();
    let keys: Vec<String> = (0..6).map(|i| format!("it-badpw-{run}-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        outbox
            .enqueue_order(TENANT.into(), key.clone(), &order(&server, i))
            .await
            .unwrap();
    }
    wait_until("every saga settled", Duration::from_secs(60), || async {
        store.status().await.unwrap().total_queue_size == 0
    })
    .await;
    // Well past the retry delay: nothing comes back to life.
    tokio::time::sleep(Duration::from_millis(500)).await;
    engine.shutdown().await;

    for key in &keys {
        let record = saga(&store, key).await;
        assert_eq!(record.status, SagaStatus::Dead, "{key}: {record:?}");
        assert_eq!(record.attempts, 1, "{key}: no retries");
        let error = record.last_error.unwrap_or_default();
        assert!(error.contains("wrong user or password"), "{error}");
        assert!(error.contains("`admin`"), "{error}");
    }
    assert_eq!(provider.login_count(), 1, "six sagas, one login attempt");
    assert!(provider.login_circuit_open());

    // Tryton did not lock the user out: the right password works.
    assert!(server.provider().await.health().await.unwrap().ok);
    let tryton = server.client().await;
    for key in &keys {
        assert!(sales(&tryton, key).await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_tryton_means_transient_retries_then_recovery() {
    let Some(server) = harness::own_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("outbox.sqlite")).await;
    let mut config = server.config();
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(30);
    let provider = TrytonProvider::connect(config).await.unwrap();
    let engine = Engine::new(
        store.clone(),
        SagaCatalog::standard(),
        Arc::new(StaticProviders::new().with(TENANT, Arc::new(provider) as Arc<dyn Provider>)),
        OutboxOptions {
            workers: 1,
            poll_interval: Duration::from_millis(50),
            retry: fast_retries(Duration::from_millis(300)),
            ..OutboxOptions::default()
        },
    )
    .start();
    let outbox = Outbox::new(store.clone(), SagaCatalog::standard());
    let run = std::process::id();
    let keys: Vec<String> = (0..3).map(|i| format!("it-down-{run}-{i}")).collect();

    outbox
        .enqueue_order(TENANT.into(), keys[0].clone(), &order(&server, 0))
        .await
        .unwrap();
    wait_until(
        "the first saga completed",
        Duration::from_secs(120),
        || async { saga(&store, &keys[0]).await.status == SagaStatus::Completed },
    )
    .await;

    let restarted = server
        .with_server_stopped(|| async {
            for (i, key) in keys.iter().enumerate().skip(1) {
                outbox
                    .enqueue_order(TENANT.into(), key.clone(), &order(&server, i))
                    .await
                    .unwrap();
            }
            wait_until(
                "retries while Tryton is down",
                Duration::from_secs(60),
                || async {
                    let mut all = true;
                    for key in &keys[1..] {
                        all &= saga(&store, key).await.attempts >= 3;
                    }
                    all
                },
            )
            .await;
            for key in &keys[1..] {
                let record = saga(&store, key).await;
                assert!(
                    matches!(record.status, SagaStatus::Pending | SagaStatus::InProgress),
                    "{key}: still retrying: {record:?}"
                );
                let error = record.last_error.unwrap_or_default();
                assert!(error.contains("cannot reach Tryton"), "{key}: {error}");
            }
        })
        .await;
    assert!(restarted.is_some(), "a private server can be restarted");

    wait_until(
        "recovery after the restart",
        Duration::from_secs(180),
        || async { store.status().await.unwrap().total_queue_size == 0 },
    )
    .await;
    engine.shutdown().await;
    let tryton = server.client().await;
    assert_one_confirmed_sale_each(&store, &tryton, &keys).await;
}
