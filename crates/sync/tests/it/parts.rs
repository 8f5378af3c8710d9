//! A changed article rewrites only the child rows that differ from what is stored
//! (`write_articles`, by digest per part): whatever mix of parts changes, reading the article back gives
//! exactly the new version, and a neighbour's rows stay untouched.

use erpbridge_model::{Article, ArticleReference, Attribute, Image};
use erpbridge_store::Db;
use erpbridge_store::catalog::CatalogStore;

use crate::common::{Backend, apply_articles as apply, env, sim, tenant};

async fn assert_stored(store: &CatalogStore, tenant: &str, expected: &Article, what: &str) {
    let stored = store.article(tenant, &expected.id.0).await.unwrap();
    assert_eq!(stored.as_ref(), Some(expected), "after {what}");
}

/// The next version of `article`, changed by `edit`.
fn next(article: &Article, edit: impl FnOnce(&mut Article)) -> Article {
    let mut next = article.clone();
    next.row_version += 1;
    edit(&mut next);
    next
}

async fn changed_parts_are_rewritten_and_only_they(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let store = env.store();
    let tenant = tenant("parts");
    let sim = sim(10, 17);
    let mut article = sim.article(&"A00000003".into()).unwrap();
    let neighbour = sim.article(&"A00000004".into()).unwrap();
    assert!(
        !article.images.is_empty()
            && !article.references.is_empty()
            && article.attributes.len() > 2,
        "the fixture article has every part"
    );
    apply(store, &tenant, &[article.clone(), neighbour.clone()]).await;
    assert_stored(store, &tenant, &article, "the first write").await;

    type Edit = Box<dyn FnOnce(&mut Article)>;
    let steps: Vec<(&str, Edit)> = vec![
        (
            "an image change",
            Box::new(|a| {
                a.images.push(Image {
                    url: "https://img.invalid/new.jpg".into(),
                    caption: None,
                    position: 9,
                })
            }),
        ),
        (
            "an attribute change and a shorter attribute list",
            Box::new(|a| {
                a.attributes.truncate(2);
                a.attributes[1] = Attribute {
                    key: "Farbe".into(),
                    value: "blau".into(),
                    unit: None,
                    lang: Some("de".into()),
                };
            }),
        ),
        (
            "references removed and categories changed",
            Box::new(|a| {
                a.references.clear();
                a.categories = vec!["CAT0009".into(), "CAT0001".into()];
            }),
        ),
        (
            "a name change with the same child rows",
            Box::new(|a| {
                a.names.insert("de".into(), "Neuer Name".into());
            }),
        ),
        (
            "text that COPY's format must escape",
            Box::new(|a| {
                a.attributes[0].value = "tab\there\nnew line\r\\N back\\slash ü".into();
                a.attributes[0].unit = Some("\\N".into());
                a.images.push(Image {
                    url: "https://img.invalid/\\x.jpg".into(),
                    caption: Some("\t".into()),
                    position: 1,
                });
            }),
        ),
        (
            "every attribute removed",
            Box::new(|a| a.attributes.clear()),
        ),
        (
            "attributes back",
            Box::new(|a| {
                a.attributes = vec![Attribute {
                    key: "Länge".into(),
                    value: "120".into(),
                    unit: Some("mm".into()),
                    lang: None,
                }];
            }),
        ),
        (
            "references back and images gone",
            Box::new(|a| {
                a.references = vec![ArticleReference {
                    kind: erpbridge_model::ReferenceKind::Successor,
                    target: "A00000009".into(),
                }];
                a.images.clear();
            }),
        ),
    ];
    for (what, edit) in steps {
        article = next(&article, edit);
        apply(store, &tenant, std::slice::from_ref(&article)).await;
        assert_stored(store, &tenant, &article, what).await;
        assert_stored(store, &tenant, &neighbour, what).await;
    }

    // Rows written before part digests existed have none: every part is rewritten.
    let sql = "UPDATE catalog_articles SET part_digests = NULL WHERE tenant = $1";
    match store.db() {
        Db::Sqlite(pool) => {
            sqlx::query(sql).bind(&tenant).execute(pool).await.unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query(sql).bind(&tenant).execute(pool).await.unwrap();
        }
    }
    article = next(&article, |a| a.images = neighbour.images.clone());
    apply(store, &tenant, std::slice::from_ref(&article)).await;
    assert_stored(
        store,
        &tenant,
        &article,
        "a change to an article without digests",
    )
    .await;
    assert_stored(
        store,
        &tenant,
        &neighbour,
        "a change to an article without digests",
    )
    .await;
}

#[tokio::test]
async fn changed_parts_are_rewritten_and_only_they_sqlite() {
    changed_parts_are_rewritten_and_only_they(Backend::Sqlite).await;
}

#[tokio::test]
async fn changed_parts_are_rewritten_and_only_they_postgres() {
    changed_parts_are_rewritten_and_only_they(Backend::Postgres).await;
}
