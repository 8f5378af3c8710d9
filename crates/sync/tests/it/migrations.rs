//! Migrations that convert data: rows written in the schema before a migration read
//! back the same through the store after it.

use erpbridge_model::Attribute;
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::{Db, SqliteDurability};

use crate::common::{Backend, tenant};

/// A database at the schema before `first_new`, on a file or a PostgreSQL database of
/// its own (the shared test database is already migrated), with its clean-up.
struct Fresh {
    db: Db,
    _dir: tempfile::TempDir,
    drop_pg: Option<(String, String)>,
}

impl Fresh {
    async fn open(backend: Backend, first_new: i64) -> Option<Fresh> {
        let dir = tempfile::tempdir().unwrap();
        let (db, drop_pg) = match backend {
            Backend::Sqlite => (
                Db::open_sqlite(&dir.path().join("store.sqlite"), SqliteDurability::Normal)
                    .await
                    .unwrap(),
                None,
            ),
            Backend::Postgres => {
                // `pg_url` skips (or fails under CI) without a server.
                crate::common::pg_url().await?;
                let base = std::env::var("ERPBRIDGE_TEST_PG_URL").unwrap();
                let name = format!(
                    "erpbridge_migration_{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                );
                admin(&base, &format!("CREATE DATABASE {name}")).await;
                let mut url = url::Url::parse(&base).unwrap();
                url.set_path(&format!("/{name}"));
                (
                    Db::open_postgres(url.as_str(), 2).await.unwrap(),
                    Some((base, name)),
                )
            }
        };
        db.migrate_up_to(first_new - 1).await.unwrap();
        Some(Fresh {
            db,
            _dir: dir,
            drop_pg,
        })
    }

    async fn close(self) {
        close(&self.db).await;
        if let Some((base, name)) = self.drop_pg {
            admin(&base, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
        }
    }
}

async fn admin(base: &str, sql: &str) {
    let admin = Db::open_postgres(base, 1).await.unwrap();
    let Db::Postgres(pool) = &admin else {
        unreachable!()
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
    close(&admin).await;
}

async fn close(db: &Db) {
    match db {
        Db::Sqlite(pool) => pool.close().await,
        Db::Postgres(pool) => pool.close().await,
    }
}

async fn execute(db: &Db, sql: String) {
    match db {
        Db::Sqlite(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

fn literal(value: Option<&str>) -> String {
    value.map_or("NULL".to_owned(), |v| {
        format!("'{}'", v.replace('\'', "''"))
    })
}

fn attribute(key: &str, value: &str, unit: Option<&str>, lang: Option<&str>) -> Attribute {
    Attribute {
        key: key.to_owned(),
        value: value.to_owned(),
        unit: unit.map(str::to_owned),
        lang: lang.map(str::to_owned),
    }
}

/// Writes an article with `attributes` the way the 0200 schema stored it: one row per
/// attribute, inserted here in reverse `ord` so the migration must order them itself.
async fn old_article(db: &Db, tenant: &str, local_id: i64, attributes: &[Attribute]) {
    let erp_id = format!("A{local_id:08}");
    execute(
        db,
        format!(
            "INSERT INTO catalog_ids (tenant, entity, erp_id, local_id, provider, erp_row_version, last_synced_ms, seen_gen)
             VALUES ('{tenant}', 'article', '{erp_id}', {local_id}, 'test', 1, 0, 1);
             INSERT INTO catalog_articles (tenant, local_id, erp_id, number, names, descriptions, unit, row_version, updated_at, seq)
             VALUES ('{tenant}', {local_id}, '{erp_id}', 'N-{local_id}', '{{}}', '{{}}', NULL, 1, NULL, {local_id});"
        ),
    )
    .await;
    for (ord, a) in attributes.iter().enumerate().rev() {
        execute(
            db,
            format!(
                "INSERT INTO catalog_attributes (tenant, local_id, ord, key, value, unit, lang)
                 VALUES ('{tenant}', {local_id}, {ord}, {}, {}, {}, {})",
                literal(Some(&a.key)),
                literal(Some(&a.value)),
                literal(a.unit.as_deref()),
                literal(a.lang.as_deref()),
            ),
        )
        .await;
    }
}

async fn attribute_rows_become_one_set_per_article(backend: Backend) {
    let Some(fresh) = Fresh::open(backend, 202).await else {
        return;
    };
    let (t1, t2) = (tenant("mig-a"), tenant("mig-b"));
    let first = vec![
        attribute("length", "120", Some("mm"), None),
        attribute("colour", "rot", None, Some("de")),
        attribute(
            "quote'd \"key\"",
            "back\\slash\ttab\nline",
            Some("µm"),
            Some("en"),
        ),
        attribute("thread", "M8", None, None),
    ];
    let second = vec![attribute("weight", "0.10", Some("kg"), None)];
    old_article(&fresh.db, &t1, 1, &first).await;
    old_article(&fresh.db, &t1, 2, &[]).await;
    old_article(&fresh.db, &t2, 1, &second).await;

    fresh.db.migrate().await.unwrap();
    let store = CatalogStore::new(fresh.db.clone());
    let article = |tenant: String, id: &'static str| {
        let store = store.clone();
        async move { store.article(&tenant, id).await.unwrap().unwrap() }
    };
    assert_eq!(article(t1.clone(), "A00000001").await.attributes, first);
    assert_eq!(article(t1.clone(), "A00000002").await.attributes, vec![]);
    assert_eq!(article(t2.clone(), "A00000001").await.attributes, second);
    assert_eq!(store.counts(&t1).await.unwrap().attributes, 4);
    assert_eq!(store.counts(&t2).await.unwrap().attributes, 1);
    fresh.close().await;
}

#[tokio::test]
async fn attribute_rows_become_one_set_per_article_sqlite() {
    attribute_rows_become_one_set_per_article(Backend::Sqlite).await;
}

#[tokio::test]
async fn attribute_rows_become_one_set_per_article_postgres() {
    attribute_rows_become_one_set_per_article(Backend::Postgres).await;
}

/// Migration 203 replaces the article sequence index and the deletion queue with the
/// index feed: an index at any sequence still finds every later write and delete.
async fn sequences_become_index_feed_entries(backend: Backend) {
    let Some(fresh) = Fresh::open(backend, 203).await else {
        return;
    };
    let t = tenant("mig-feed");
    // Articles 1..=3 written at sequences 5, 7 and 9; article 4 deleted at 8.
    for (local_id, seq) in [(1, 5), (2, 7), (3, 9)] {
        old_article(&fresh.db, &t, local_id, &[]).await;
        execute(
            &fresh.db,
            format!("UPDATE catalog_articles SET seq = {seq} WHERE tenant = '{t}' AND local_id = {local_id}"),
        )
        .await;
    }
    execute(
        &fresh.db,
        format!(
            "INSERT INTO catalog_index_deletions (tenant, seq, local_id) VALUES ('{t}', 8, 4);
             INSERT INTO catalog_tenant_state (tenant, next_local_id, next_seq) VALUES ('{t}', 5, 10);"
        ),
    )
    .await;

    fresh.db.migrate().await.unwrap();
    let store = CatalogStore::new(fresh.db.clone());
    let feed = |after: i64| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let page = store.index_feed(&t, after, 100).await.unwrap();
            let seqs: Vec<(i64, i64)> = page.articles.iter().map(|a| (a.local_id, a.seq)).collect();
            (seqs, page.last_seq)
        }
    };
    assert_eq!(feed(0).await, (vec![(1, 5), (2, 7), (3, 9)], Some(9)));
    assert_eq!(feed(6).await, (vec![(2, 7), (3, 9)], Some(9)));
    assert_eq!(feed(9).await, (vec![], None));
    assert_eq!(
        store.index_deletions(&t, 0, 100).await.unwrap(),
        vec![(8, 4)]
    );
    assert_eq!(store.index_deletions(&t, 8, 100).await.unwrap(), vec![]);
    assert_eq!(store.index_feed_start(&t).await.unwrap(), 0);
    store.prune_index_feed(&t, 8).await.unwrap();
    assert_eq!(feed(0).await, (vec![(3, 9)], Some(9)));
    assert_eq!(store.index_deletions(&t, 0, 100).await.unwrap(), vec![]);
    assert_eq!(store.index_feed_start(&t).await.unwrap(), 8);
    fresh.close().await;
}

#[tokio::test]
async fn sequences_become_index_feed_entries_sqlite() {
    sequences_become_index_feed_entries(Backend::Sqlite).await;
}

#[tokio::test]
async fn sequences_become_index_feed_entries_postgres() {
    sequences_become_index_feed_entries(Backend::Postgres).await;
}
