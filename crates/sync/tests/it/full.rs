use erpbridge_model::EntityKind;
use erpbridge_store::catalog::Phase;
use erpbridge_sync::SyncMode;

use crate::common::*;

async fn full_sync_copies_the_catalog(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("full");
    let sim = sim(1_500, 7);
    let provider = provider(&sim);

    let report = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .expect("full sync");
    assert_eq!(report.stages.len(), 3);
    assert_eq!(report.stages[1].upserted, 1_500);

    let counts = env.store().counts(&tenant).await.unwrap();
    assert_eq!(counts.articles, 1_500);
    assert_eq!(counts.attributes, 1_500 * 20);
    assert_eq!(counts.categories, 20);
    assert_eq!(counts.customers, 50);
    assert_eq!(counts.mappings, 1_500 + 20 + 50);
    assert_store_equals_provider(env.store(), &tenant, provider.as_ref()).await;

    // Every stage ends in delta with the snapshot's high-water cursor.
    for entity in [
        EntityKind::Category,
        EntityKind::Article,
        EntityKind::Customer,
    ] {
        let cp = env
            .store()
            .checkpoint(&tenant, entity)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cp.phase, Phase::Delta, "{entity:?}");
        assert!(cp.cursor.is_some());
    }

    // The search index finds an article by its number and by its name.
    let article = sim
        .article(&"A00000777".into())
        .expect("article 777 exists");
    assert_eq!(
        search_ids(&env.engine, &tenant, &article.number, 5).first(),
        Some(&article.id.0),
        "search by number {}",
        article.number
    );
    let name = article.names.get("en").expect("english name").clone();
    let hits = search_ids(&env.engine, &tenant, &name, 1_000);
    assert!(
        hits.contains(&article.id.0),
        "search by name `{name}` misses it"
    );

    // A second full sync of an unchanged ERP rewrites nothing and deletes nothing.
    let again = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .unwrap();
    assert_eq!(again.upserted(), 0);
    assert_eq!(again.deleted(), 0);
    assert_eq!(again.skipped(), 1_500 + 20 + 50);
    let runs = env.store().runs(&tenant, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r.finished_ms.is_some() && r.error.is_none())
    );
    assert_eq!(runs[1].upserted, 1_570);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_copies_the_catalog_sqlite() {
    full_sync_copies_the_catalog(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_copies_the_catalog_postgres() {
    full_sync_copies_the_catalog(Backend::Postgres).await;
}

async fn the_index_is_rebuilt_from_the_store(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("rebuild");
    let sim = sim(600, 3);
    let provider = provider(&sim);
    env.engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .unwrap();
    let article = sim.article(&"A00000123".into()).unwrap();

    // The index directory is lost (or was never committed): the store brings it back.
    env.engine.indexes().drop_tenant(&tenant).unwrap();
    assert!(search_ids(&env.engine, &tenant, &article.number, 5).is_empty());
    let reindexed = env.engine.catch_up_index(&tenant).await.unwrap();
    assert_eq!(reindexed, 600);
    assert_eq!(
        search_ids(&env.engine, &tenant, &article.number, 5).first(),
        Some(&article.id.0)
    );
    // Caught up: nothing more to do.
    assert_eq!(env.engine.catch_up_index(&tenant).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_rebuilt_from_the_store_sqlite() {
    the_index_is_rebuilt_from_the_store(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_rebuilt_from_the_store_postgres() {
    the_index_is_rebuilt_from_the_store(Backend::Postgres).await;
}
