//! SIGKILL a real sync process at several points, resume, and compare with the
//! provider's catalog: no gaps (everything is there), no duplicates (counts and the
//! index's document count are exact).

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use erpbridge_model::EntityKind;
use erpbridge_search::{IndexOptions, SearchIndexes, SearchRequest};
use erpbridge_store::catalog::{CatalogStore, Phase, RunStatus};

use crate::common::*;

const ARTICLES: u64 = 3_000;
const SEED: u64 = 31;

struct Fixture<'a> {
    db: String,
    index: &'a Path,
    tenant: &'a str,
}

impl Fixture<'_> {
    fn spawn(&self, mode: &str, ticks: u32, latency_ms: u64) -> Child {
        Command::new(env!("CARGO_BIN_EXE_sync-crash-fixture"))
            .args(["--db", &self.db])
            .args(["--index", &self.index.display().to_string()])
            .args(["--tenant", self.tenant])
            .args(["--articles", &ARTICLES.to_string()])
            .args(["--seed", &SEED.to_string()])
            .args(["--ticks", &ticks.to_string()])
            .args(["--mode", mode])
            .args(["--page-size", "50"])
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the fixture")
    }

    fn run_to_end(&self, mode: &str, ticks: u32) {
        let out = self.spawn(mode, ticks, 0).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "fixture failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Waits until the article stage has committed `pages` more pages than at the start
/// (its checkpoint cursor moved that often), then kills the child with SIGKILL.
async fn kill_after_pages(store: &CatalogStore, tenant: &str, mut child: Child, pages: usize) {
    let mut seen = store
        .checkpoint(tenant, EntityKind::Article)
        .await
        .unwrap()
        .and_then(|c| c.cursor);
    let mut moved = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while moved < pages {
        assert!(Instant::now() < deadline, "the fixture made no progress");
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("the fixture ended before it could be killed ({status}): {err}");
        }
        let now = store
            .checkpoint(tenant, EntityKind::Article)
            .await
            .unwrap()
            .and_then(|c| c.cursor);
        if now != seen {
            moved += 1;
            seen = now;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
}

async fn sigkill_then_resume_equals_an_uninterrupted_sync(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("crash");
    let db = match backend {
        Backend::Sqlite => env.dir.path().join("store.sqlite").display().to_string(),
        Backend::Postgres => pg_url().await.unwrap(),
    };
    let index_dir = env.dir.path().join("search");
    let fixture = Fixture {
        db,
        index: &index_dir,
        tenant: &tenant,
    };

    // Full sync, killed twice in the article stage, then finished.
    kill_after_pages(env.store(), &tenant, fixture.spawn("full", 0, 15), 3).await;
    let cp = env
        .store()
        .checkpoint(&tenant, EntityKind::Article)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.phase, Phase::Full, "killed inside the snapshot");
    kill_after_pages(env.store(), &tenant, fixture.spawn("full", 0, 15), 5).await;
    fixture.run_to_end("full", 0);

    let sim = sim_like_fixture(0);
    let provider = provider(&sim);
    assert_store_equals_provider(env.store(), &tenant, provider.as_ref()).await;
    let counts = env.store().counts(&tenant).await.unwrap();
    assert_eq!(counts.articles, ARTICLES);
    assert_eq!(counts.attributes, ARTICLES * 20);
    let index = fresh_index(&index_dir, &tenant);
    assert_eq!(
        index.num_docs(),
        ARTICLES,
        "index documents: none missing, none twice"
    );
    let runs = env.store().runs(&tenant, 10).await.unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Running)
            .count(),
        2,
        "the killed runs never finished"
    );
    assert_eq!(runs[0].status, RunStatus::Succeeded);

    // A delta, killed once, then finished.
    kill_after_pages(env.store(), &tenant, fixture.spawn("delta", 20, 40), 2).await;
    fixture.run_to_end("delta", 20);
    let sim = sim_like_fixture(20);
    let provider = crate::common::provider(&sim);
    assert_store_equals_provider(env.store(), &tenant, provider.as_ref()).await;
    let index = fresh_index(&index_dir, &tenant);
    assert_eq!(index.num_docs(), sim.article_count());
    let changed = sim.changed_article_ids(0, 20);
    let article = changed.iter().find_map(|id| sim.article(id)).unwrap();
    let hits = index
        .search(&SearchRequest {
            query: article.number.clone(),
            limit: 3,
            ..SearchRequest::default()
        })
        .unwrap();
    assert_eq!(
        hits.hits.first().map(|h| h.erp_id.as_str()),
        Some(article.id.as_str())
    );
}

/// The index as another process sees it now (the engine's reader may not have reloaded).
fn fresh_index(dir: &Path, tenant: &str) -> std::sync::Arc<erpbridge_search::TenantIndex> {
    SearchIndexes::new(dir, IndexOptions::default())
        .tenant(tenant)
        .unwrap()
}

/// The simulator as the fixture builds it (same seed and size), advanced `ticks`.
fn sim_like_fixture(ticks: u32) -> erpbridge_sim::Sim {
    let sim = erpbridge_sim::Sim::new(erpbridge_sim::SimConfig {
        seed: SEED,
        max_catalog_page: 50,
        ..erpbridge_sim::SimConfig::fast(ARTICLES)
    })
    .unwrap();
    sim.advance(ticks);
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_resume_equals_an_uninterrupted_sync_sqlite() {
    sigkill_then_resume_equals_an_uninterrupted_sync(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_resume_equals_an_uninterrupted_sync_postgres() {
    sigkill_then_resume_equals_an_uninterrupted_sync(Backend::Postgres).await;
}
