use erpbridge_model::ArticleId;
use erpbridge_sync::SyncMode;

use crate::common::*;

async fn delta_applies_updates_and_deletions(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("delta");
    let sim = sim(2_000, 11);
    let provider = provider(&sim);
    env.engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Delta, None)
        .await
        .expect("first run is a full sync");

    sim.advance(3);
    let changed: Vec<ArticleId> = sim.changed_article_ids(0, 3);
    let (alive, gone): (Vec<ArticleId>, Vec<ArticleId>) = changed
        .into_iter()
        .partition(|id| sim.article(id).is_some());
    assert!(
        !gone.is_empty() && alive.len() > 10,
        "the feed changed too little"
    );
    // Deleted articles that the store holds now (some of `gone` were inserted and deleted
    // within the window and never reached it).
    let mut gone_numbers = Vec::new();
    for id in &gone {
        if let Some(a) = env.store().article(&tenant, id.as_str()).await.unwrap() {
            assert!(search_ids(&env.engine, &tenant, &a.number, 10).contains(&id.0));
            gone_numbers.push((id.clone(), a.number));
        }
    }
    assert!(!gone_numbers.is_empty());

    let report = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Delta, None)
        .await
        .expect("delta sync");
    let articles = &report.stages[1];
    assert_eq!(articles.started_in, "delta");
    assert_eq!(articles.upserted, alive.len() as u64);
    assert_eq!(articles.deleted, gone_numbers.len() as u64);
    assert_store_equals_provider(env.store(), &tenant, provider.as_ref()).await;

    for id in &gone {
        assert!(
            env.store()
                .article(&tenant, id.as_str())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            env.store()
                .mapping(&tenant, erpbridge_model::EntityKind::Article, id.as_str())
                .await
                .unwrap()
                .is_none()
        );
    }
    // The index follows: deleted articles are not found, updated ones by their new name.
    for (id, number) in &gone_numbers {
        assert!(
            !search_ids(&env.engine, &tenant, number, 10).contains(&id.0),
            "deleted article {id} is still in the index"
        );
    }
    let updated = sim.article(&alive[0]).unwrap();
    let stored = env
        .store()
        .article(&tenant, alive[0].as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, updated);
    let mapping = env
        .store()
        .mapping(
            &tenant,
            erpbridge_model::EntityKind::Article,
            alive[0].as_str(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mapping.erp_row_version, updated.row_version);
    assert_eq!(mapping.provider, "sim");
    let name = updated.names.get("de").unwrap();
    assert!(search_ids(&env.engine, &tenant, name, 1_000).contains(&updated.id.0));

    // Nothing changed since: an empty delta.
    let idle = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Delta, None)
        .await
        .unwrap();
    assert_eq!(idle.upserted() + idle.deleted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_applies_updates_and_deletions_sqlite() {
    delta_applies_updates_and_deletions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_applies_updates_and_deletions_postgres() {
    delta_applies_updates_and_deletions(Backend::Postgres).await;
}

async fn sweep_removes_what_the_erp_dropped(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("sweep");
    let sim = sim(1_000, 5);
    let provider = provider(&sim);
    env.engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .unwrap();

    // The ERP drops articles; a full sync (no tombstones in a snapshot) must notice.
    sim.advance(4);
    let dropped: Vec<ArticleId> = sim
        .changed_article_ids(0, 4)
        .into_iter()
        .filter(|id| sim.article(id).is_none())
        .collect();
    let mut numbers = Vec::new();
    for id in &dropped {
        if let Some(a) = env.store().article(&tenant, id.as_str()).await.unwrap() {
            numbers.push((id.clone(), a.number));
        }
    }
    assert!(!numbers.is_empty(), "no stored article was dropped");
    let report = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .unwrap();
    assert_eq!(report.stages[1].swept, numbers.len() as u64);
    assert_eq!(
        report.stages[1].deleted, 0,
        "a snapshot carries no tombstones"
    );
    for (id, number) in &numbers {
        assert!(
            env.store()
                .article(&tenant, id.as_str())
                .await
                .unwrap()
                .is_none()
        );
        assert!(!search_ids(&env.engine, &tenant, number, 10).contains(&id.0));
    }
    let after = env.store().counts(&tenant).await.unwrap().articles;
    assert_eq!(after, sim.article_count());
    assert_store_equals_provider(env.store(), &tenant, provider.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_what_the_erp_dropped_sqlite() {
    sweep_removes_what_the_erp_dropped(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_what_the_erp_dropped_postgres() {
    sweep_removes_what_the_erp_dropped(Backend::Postgres).await;
}
