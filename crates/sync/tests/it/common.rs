//! Shared set-up: real SQLite files and (when configured) a real PostgreSQL, a simulated
//! ERP hosted by the provider runtime, an engine over both.

use std::sync::Arc;

use erpbridge_model::{Article, CatalogRecord, EntityKind};
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_search::{IndexOptions, SearchIndexes, SearchRequest};
use erpbridge_sim::{Sim, SimConfig};
use erpbridge_store::catalog::{Batch, CatalogStore, Checkpoint, Phase};
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_sync::checksum::{provider_checksum, store_checksum};
use erpbridge_sync::{SyncEngine, SyncOptions};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub dir: TempDir,
    pub engine: Arc<SyncEngine>,
}

impl Env {
    pub fn store(&self) -> &CatalogStore {
        self.engine.store()
    }
}

/// A unique tenant id, so tests sharing one PostgreSQL database never see each other.
pub fn tenant(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// The PostgreSQL URL for tests: `ERPBRIDGE_TEST_PG_URL`, with a database of this crate's
/// own created on first use. Unset: skip, or fail when `CI` is set.
pub async fn pg_url() -> Option<String> {
    let Ok(base) = std::env::var("ERPBRIDGE_TEST_PG_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ERPBRIDGE_TEST_PG_URL is not: start scripts/postgres/start.sh"
        );
        eprintln!("ERPBRIDGE_TEST_PG_URL is not set: skipping the PostgreSQL variant");
        return None;
    };
    let db_name = "erpbridge_sync_tests";
    let admin = Db::open_postgres(&base, 2)
        .await
        .expect("connect to PostgreSQL");
    let Db::Postgres(pool) = &admin else {
        unreachable!()
    };
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(db_name)
            .fetch_one(pool)
            .await
            .expect("query pg_database");
    if !exists {
        // Two test processes may race here; the loser's "already exists" is fine.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(pool)
            .await;
    }
    let mut url = url::Url::parse(&base).expect("ERPBRIDGE_TEST_PG_URL is a URL");
    url.set_path(&format!("/{db_name}"));
    Some(url.to_string())
}

pub async fn env(backend: Backend) -> Option<Env> {
    env_with(backend, SyncOptions::default()).await
}

pub async fn env_with(backend: Backend, options: SyncOptions) -> Option<Env> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = match backend {
        Backend::Sqlite => {
            Db::open_sqlite(&dir.path().join("store.sqlite"), SqliteDurability::Normal)
                .await
                .expect("open sqlite")
        }
        Backend::Postgres => Db::open_postgres(&pg_url().await?, 8)
            .await
            .expect("open postgres"),
    };
    db.migrate().await.expect("migrate");
    let indexes = Arc::new(SearchIndexes::new(
        dir.path().join("search"),
        IndexOptions {
            writer_threads: 1,
            writer_memory: 50 * 1024 * 1024,
            ..IndexOptions::default()
        },
    ));
    let engine = Arc::new(SyncEngine::new(
        CatalogStore::new(db.clone()),
        indexes,
        options,
    ));
    Some(Env { dir, engine })
}

pub fn sim(articles: u64, seed: u64) -> Sim {
    Sim::new(SimConfig {
        seed,
        categories: 20,
        customers: 50,
        ..SimConfig::fast(articles)
    })
    .expect("sim config")
}

pub fn provider(sim: &Sim) -> Arc<dyn Provider> {
    Arc::new(HostedProvider::start(sim.factory(), RuntimeOptions::default()).expect("runtime"))
}

/// Asserts the store holds exactly the provider's current catalog, entity by entity.
pub async fn assert_store_equals_provider(
    store: &CatalogStore,
    tenant: &str,
    provider: &dyn Provider,
) {
    for entity in [
        EntityKind::Category,
        EntityKind::Article,
        EntityKind::Customer,
    ] {
        let expected = provider_checksum(provider, entity)
            .await
            .expect("provider checksum");
        let actual = store_checksum(store, tenant, entity)
            .await
            .expect("store checksum");
        assert!(
            expected.count > 0,
            "{entity:?}: the provider has no records"
        );
        assert_eq!(
            actual, expected,
            "{entity:?}: store differs from the provider"
        );
    }
}

/// Hits of a search, as ERP ids.
pub fn search_ids(engine: &SyncEngine, tenant: &str, query: &str, limit: usize) -> Vec<String> {
    let index = engine.indexes().tenant(tenant).expect("index");
    index
        .search(&SearchRequest {
            query: query.to_owned(),
            limit,
            ..SearchRequest::default()
        })
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.erp_id)
        .collect()
}

/// Writes `articles` as one delta batch of the article stage.
pub async fn apply_articles(store: &CatalogStore, tenant: &str, articles: &[Article]) {
    let records: Vec<CatalogRecord> = articles
        .iter()
        .cloned()
        .map(CatalogRecord::Article)
        .collect();
    store
        .apply_batch(&Batch {
            tenant,
            provider: "test",
            stage: EntityKind::Article,
            records: &records,
            generation: 1,
            now_ms: 0,
            checkpoint: Checkpoint {
                phase: Phase::Delta,
                cursor: None,
                generation: 1,
                run_id: None,
            },
        })
        .await
        .unwrap();
}
