//! Reading ahead (`CatalogStore::prewarm`) is read-only: whatever ids it is given,
//! stored ones, unknown ones, hostile text, more than one statement's worth, for every
//! entity, the store answers the same afterwards.

use erpbridge_model::EntityKind;

use crate::common::{Backend, apply_articles, env, sim, tenant};

async fn prewarm_reads_and_changes_nothing(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let store = env.store();
    let tenant = tenant("prewarm");
    let sim = sim(300, 5);
    let articles: Vec<_> = (1..=300)
        .map(|i| sim.article(&format!("A{i:08}").into()).unwrap())
        .collect();
    apply_articles(store, &tenant, &articles).await;
    let counts = store.counts(&tenant).await.unwrap();
    let sample = store.article(&tenant, "A00000150").await.unwrap();
    assert!(sample.is_some());

    let mut ids: Vec<String> = (1..=300).map(|i| format!("A{i:08}")).collect();
    ids.extend((0..600).map(|i| format!("UNKNOWN-{i}")));
    ids.extend(["'; DROP TABLE catalog_ids; --", "", "ü€😀", "\u{0}"].map(str::to_owned));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for entity in [
        EntityKind::Article,
        EntityKind::Category,
        EntityKind::Customer,
    ] {
        store.prewarm(&tenant, entity, &ids).await.unwrap();
    }
    store
        .prewarm(&tenant, EntityKind::Article, &[])
        .await
        .unwrap();

    assert_eq!(store.counts(&tenant).await.unwrap(), counts);
    assert_eq!(store.article(&tenant, "A00000150").await.unwrap(), sample);
}

#[tokio::test]
async fn prewarm_reads_and_changes_nothing_sqlite() {
    prewarm_reads_and_changes_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn prewarm_reads_and_changes_nothing_postgres() {
    prewarm_reads_and_changes_nothing(Backend::Postgres).await;
}
