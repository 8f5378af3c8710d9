use erpbridge_model::EntityKind;
use erpbridge_sync::SyncMode;

use crate::common::*;

async fn tenants_never_see_each_other(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let (a, b) = (tenant("iso-a"), tenant("iso-b"));
    // Different seeds and sizes: the same ids exist in both with different content, and
    // B has ids A lacks.
    let sim_a = sim(300, 1);
    let sim_b = sim(500, 2);
    let (pa, pb) = (provider(&sim_a), provider(&sim_b));
    let (ra, rb) = tokio::join!(
        env.engine.run(&a, pa.clone(), "sim", SyncMode::Full, None),
        env.engine.run(&b, pb.clone(), "sim", SyncMode::Full, None),
    );
    ra.unwrap();
    rb.unwrap();

    assert_eq!(env.store().counts(&a).await.unwrap().articles, 300);
    assert_eq!(env.store().counts(&b).await.unwrap().articles, 500);
    assert_store_equals_provider(env.store(), &a, pa.as_ref()).await;
    assert_store_equals_provider(env.store(), &b, pb.as_ref()).await;

    let only_b = sim_b.article(&"A00000400".into()).unwrap();
    assert!(
        env.store()
            .article(&a, only_b.id.as_str())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store()
            .mapping(&a, EntityKind::Article, only_b.id.as_str())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        search_ids(&env.engine, &b, &only_b.number, 5).first(),
        Some(&only_b.id.0)
    );
    assert!(search_ids(&env.engine, &a, &only_b.number, 5).is_empty());

    // A shared id resolves to each tenant's own content.
    let shared = "A00000010";
    let in_a = env.store().article(&a, shared).await.unwrap().unwrap();
    let in_b = env.store().article(&b, shared).await.unwrap().unwrap();
    assert_eq!(Some(in_a.clone()), sim_a.article(&shared.into()));
    assert_eq!(Some(in_b.clone()), sim_b.article(&shared.into()));
    assert_ne!(in_a, in_b);

    // Every hit of an all-matching query in A is one of A's articles.
    let all_a = search_ids(&env.engine, &a, "", 10_000);
    assert_eq!(all_a.len(), 300);
    for id in all_a {
        assert!(sim_a.article(&id.as_str().into()).is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other_sqlite() {
    tenants_never_see_each_other(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other_postgres() {
    tenants_never_see_each_other(Backend::Postgres).await;
}
