//! Crash safety with real processes: worker processes (the `outbox-crash-fixture`
//! binary: the engine over a real database and the simulated ERP with its fsynced order
//! journal) are SIGKILLed at random points, including right between the ERP call and
//! the commit that records it, and restarted. At the end every saga has completed,
//! none is lost, and the ERP holds exactly one order per idempotency key.

use erpbridge_model::OrderState;
use erpbridge_outbox::testing::{wait_exit, wait_ready};
use erpbridge_outbox::{Outbox, SagaCatalog};
use erpbridge_store::outbox::OutboxStore;
use rand::Rng;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

const FIXTURE: &str = env!("CARGO_BIN_EXE_outbox-crash-fixture");

fn spawn(store_url: &str, journal: &Path, extra: &[String]) -> Child {
    Command::new(FIXTURE)
        .arg("--store")
        .arg(store_url)
        .arg("--journal")
        .arg(journal)
        .args(["--workers", "2", "--batch", "8", "--lease-ms", "1000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the fixture")
}

/// Orders created per idempotency key, and state changes per (journal, ERP order id).
struct JournalCounts {
    created: HashMap<String, usize>,
    final_state: HashMap<String, OrderState>,
    confirms: HashMap<(usize, String), usize>,
}

fn read_journals(paths: &[PathBuf]) -> JournalCounts {
    let mut counts = JournalCounts {
        created: HashMap::new(),
        final_state: HashMap::new(),
        confirms: HashMap::new(),
    };
    for (index, path) in paths.iter().enumerate() {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let mut key_of_id = HashMap::new();
        for line in BufReader::new(file).lines() {
            let line = line.unwrap();
            // A SIGKILL can cut the last line short; the sim ignores such a tail too.
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            match entry["op"].as_str() {
                Some("order_created") => {
                    let key = entry["key"].as_str().unwrap().to_owned();
                    key_of_id.insert(
                        entry["erp_order_id"].as_str().unwrap().to_owned(),
                        key.clone(),
                    );
                    *counts.created.entry(key.clone()).or_default() += 1;
                    counts.final_state.insert(key, OrderState::Draft);
                }
                Some("order_state_changed") => {
                    let id = entry["erp_order_id"].as_str().unwrap().to_owned();
                    let state: OrderState = serde_json::from_value(entry["state"].clone()).unwrap();
                    if state == OrderState::Confirmed {
                        *counts.confirms.entry((index, id.clone())).or_default() += 1;
                    }
                    if let Some(key) = key_of_id.get(&id) {
                        counts.final_state.insert(key.clone(), state);
                    }
                }
                _ => {}
            }
        }
    }
    counts
}

async fn enqueue(store: &OutboxStore, n: u64) {
    let outbox = Outbox::new(store.clone(), SagaCatalog::standard());
    for i in 0..n {
        outbox
            .enqueue_order("t1".into(), format!("order-{i}"), &order(i))
            .await
            .unwrap();
    }
}

async fn assert_all_done_once(store: &OutboxStore, journals: &[PathBuf], n: u64) {
    let status = store.status().await.unwrap();
    assert_eq!(
        status.completed_count, n,
        "every saga completed: {status:?}"
    );
    assert_eq!(status.total_queue_size, 0);
    assert_eq!(status.dead_count, 0);
    let counts = read_journals(journals);
    assert_eq!(counts.created.len() as u64, n, "an order for every key");
    for (key, created) in &counts.created {
        assert_eq!(*created, 1, "{key}: exactly one order in the ERP");
        assert_eq!(counts.final_state[key], OrderState::Confirmed, "{key}");
    }
    for ((_, id), confirms) in &counts.confirms {
        assert_eq!(*confirms, 1, "{id} confirmed once");
    }
}

async fn kill_and_restart(store: OutboxStore, store_url: String, dir: PathBuf) {
    const SAGAS: u64 = 600;
    const ROUNDS: usize = 12;
    let journal = dir.join("erp-journal.jsonl");
    enqueue(&store, SAGAS).await;
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        // Every third round the child kills itself right after an ERP create returned
        // and before the engine recorded it; the others die at a random moment.
        let extra = if round % 3 == 0 {
            vec![
                "--kill-after-creates".to_owned(),
                rng.random_range(1..40).to_string(),
            ]
        } else {
            vec![]
        };
        let mut child = spawn(&store_url, &journal, &extra);
        wait_ready(&mut child);
        std::thread::sleep(Duration::from_millis(rng.random_range(30..600)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let mut last = spawn(&store_url, &journal, &["--until-idle".to_owned()]);
    let status = wait_exit(&mut last, Duration::from_secs(120));
    assert!(status.success(), "final run failed: {status:?}");
    assert_all_done_once(&store, &[journal], SAGAS).await;
    // Round 0 died right after an ERP create it had not recorded: the saga that took it
    // over found the order by its key instead of creating a second one.
    let failed = store
        .failed(erpbridge_store::outbox::FailedQuery {
            page: 1,
            page_size: 1,
            include_dead: true,
        })
        .await
        .unwrap();
    assert_eq!(failed.total_count, 0, "nothing failed or died");
    let mut recovered = 0;
    for i in 0..SAGAS {
        let saga = store
            .find(&"t1".into(), &format!("order-{i}"))
            .await
            .unwrap()
            .unwrap();
        if saga.result_payload.as_ref().unwrap()["already_existed"] == serde_json::json!(true) {
            assert!(saga.attempts >= 2, "{saga:?}");
            recovered += 1;
        }
    }
    assert!(
        recovered >= 1,
        "no saga resumed after a crash between ERP call and commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_processing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = sqlite_store(dir.path()).await;
    kill_and_restart(store, url, dir.path().to_path_buf()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_processing_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = postgres_store("crash_sigkill").await;
    kill_and_restart(store, url, dir.path().to_path_buf()).await;
}

/// Two worker processes on one PostgreSQL database: every saga completes, no saga runs
/// in both at once (lock files per key), every effect happens once (separate ERP
/// journals per process, so a saga split across processes would show up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_on_one_postgres() {
    const SAGAS: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = postgres_store("crash_two_procs").await;
    enqueue(&store, SAGAS).await;
    let exclusive = dir.path().join("running");
    std::fs::create_dir_all(&exclusive).unwrap();
    let journals = [
        dir.path().join("erp-a.jsonl"),
        dir.path().join("erp-b.jsonl"),
    ];
    let extra = [
        "--until-idle".to_owned(),
        "--exclusive-dir".to_owned(),
        exclusive.display().to_string(),
        "--lease-ms".to_owned(),
        "3000".to_owned(),
    ];
    let mut a = spawn(&url, &journals[0], &extra);
    let mut b = spawn(&url, &journals[1], &extra);
    assert!(wait_exit(&mut a, Duration::from_secs(120)).success());
    assert!(wait_exit(&mut b, Duration::from_secs(120)).success());

    let violations = exclusive.join("violations");
    assert!(
        !violations.exists(),
        "sagas ran in two processes at once: {}",
        std::fs::read_to_string(&violations).unwrap_or_default()
    );
    assert_all_done_once(&store, &journals, SAGAS).await;
    // Both processes did work (SKIP LOCKED shares the queue instead of serialising it).
    let counts_a = read_journals(&journals[..1]).created.len();
    let counts_b = read_journals(&journals[1..]).created.len();
    assert!(counts_a > 0 && counts_b > 0, "a: {counts_a}, b: {counts_b}");
}
