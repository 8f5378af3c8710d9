//! Query descriptors pushed down into Tryton domains, compared with Tryton's own search.

use erpbridge_model::query::{Filter, Operator, Query, QueryEntity};
use erpbridge_provider::{ErrorKind, Provider};
use erpbridge_tryton::TrytonProvider;
use serde_json::{Value, json};

use crate::harness;

async fn all_ids(provider: &TrytonProvider, filter: Filter, entity: QueryEntity) -> Vec<i64> {
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let page = provider
            .query_page(Query {
                entity,
                filter: Some(filter.clone()),
                sort: vec![],
                page_size: Some(25),
                cursor,
                include: vec![],
            })
            .await
            .unwrap();
        ids.extend(
            page.records
                .iter()
                .map(|r| r["id"].as_str().unwrap().parse::<i64>().unwrap()),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn or_and_like_return_what_trytons_own_search_returns() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let tryton = server.client().await;

    // number LIKE 't0001%' OR (name LIKE '%PLUMBING' AND id IN [...])
    let some: Vec<String> = server.seed.product_ids[..60]
        .iter()
        .map(|i| i.to_string())
        .collect();
    let filter = Filter::Or {
        or: vec![
            Filter::cond("number", Operator::Like, json!("t0001%")),
            Filter::And {
                and: vec![
                    Filter::cond("names.en", Operator::Like, json!("%PLUMBING")),
                    Filter::cond("id", Operator::In, json!(some)),
                ],
            },
        ],
    };
    let ours = all_ids(&provider, filter, QueryEntity::Article).await;
    let some_ids: Vec<i64> = server.seed.product_ids[..60].to_vec();
    let theirs = tryton
        .search(
            "product.product",
            json!([
                ["salable", "=", true],
                [
                    "OR",
                    ["code", "ilike", "t0001%"],
                    [["name", "ilike", "%PLUMBING"], ["id", "in", some_ids]]
                ]
            ]),
            json!({}),
        )
        .await;
    assert!(
        !theirs.is_empty() && theirs.len() < server.seed.products,
        "a selective query"
    );
    assert_eq!(ours, theirs);

    // Equality on the number, and IN on names: exact matches.
    let code = tryton
        .search_read(
            "product.product",
            json!([["id", "=", server.seed.product_ids[7]]]),
            &["code", "name"],
            json!({}),
        )
        .await;
    let by_number = all_ids(
        &provider,
        Filter::cond("number", Operator::Eq, code[0]["code"].clone()),
        QueryEntity::Article,
    )
    .await;
    assert_eq!(by_number, vec![server.seed.product_ids[7]]);

    // Customers by name, case-insensitively.
    let customers = all_ids(
        &provider,
        Filter::cond("name", Operator::Like, json!("customer 000%")),
        QueryEntity::Customer,
    )
    .await;
    let theirs = tryton
        .search(
            "party.party",
            json!([["name", "ilike", "customer 000%"]]),
            json!({}),
        )
        .await;
    assert_eq!(customers, theirs);
    assert!(!customers.is_empty());

    // A field that is not pushable is refused, not silently ignored.
    let err = provider
        .query_page(Query {
            entity: QueryEntity::Article,
            filter: Some(Filter::cond("unit", Operator::Eq, Value::from("u"))),
            sort: vec![],
            page_size: None,
            cursor: None,
            include: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("`unit`"), "{}", err.message);

    // The declared capabilities are what was exercised.
    let description = provider.describe().await.unwrap();
    let article = &description.pushdown.entities[&QueryEntity::Article];
    assert!(article.or && !article.not);
    assert!(article.fields["number"].contains(&Operator::Like));
    assert!(!article.fields.contains_key("unit"));
}

/// Every record of the entity as the hub sees it (JSON), filtered by the hub's own
/// evaluator: what a pushed-down query must return.
async fn hub_side(provider: &TrytonProvider, entity: QueryEntity, filter: &Filter) -> Vec<i64> {
    let everything = Filter::And { and: vec![] };
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let page = provider
            .query_page(Query {
                entity,
                filter: Some(everything.clone()),
                sort: vec![],
                page_size: Some(1000),
                cursor,
                include: vec![],
            })
            .await
            .unwrap();
        for record in &page.records {
            if erpbridge_model::query::eval::eval(filter, record).unwrap() {
                ids.push(record["id"].as_str().unwrap().parse::<i64>().unwrap());
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_and_id_pushdown_equals_the_hubs_own_evaluation() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let seed = &server.seed;
    let leaf = seed.categories[1].to_string();
    let other = seed.categories[4].to_string();
    let cases = [
        (
            QueryEntity::Article,
            Filter::cond("categories", Operator::Eq, json!(leaf)),
        ),
        (
            QueryEntity::Article,
            Filter::Or {
                or: vec![
                    Filter::cond("categories", Operator::In, json!([leaf, other])),
                    Filter::cond("number", Operator::Ne, json!("T00000")),
                ],
            },
        ),
        (
            QueryEntity::Article,
            Filter::And {
                and: vec![
                    Filter::cond("categories", Operator::In, json!([other])),
                    Filter::cond("id", Operator::Ne, json!(seed.product_ids[3].to_string())),
                    Filter::cond("number", Operator::Like, json!("T000%\\_%")),
                ],
            },
        ),
        (
            QueryEntity::Category,
            Filter::cond("parent", Operator::In, json!([leaf, "1", "2"])),
        ),
        (
            QueryEntity::Customer,
            Filter::cond("number", Operator::In, json!(["C0001", "C0003", "nope"])),
        ),
    ];
    // Other tests may create articles meanwhile (a shared server): stay on seeded ones.
    let seeded: Vec<String> = seed.product_ids.iter().map(|i| i.to_string()).collect();
    for (entity, filter) in cases {
        let filter = if entity == QueryEntity::Article {
            Filter::And {
                and: vec![filter, Filter::cond("id", Operator::In, json!(seeded))],
            }
        } else {
            filter
        };
        let pushed = all_ids(&provider, filter.clone(), entity).await;
        let expected = hub_side(&provider, entity, &filter).await;
        assert_eq!(pushed, expected, "{entity:?} {filter:?}");
    }
    // The first case is selective: it is not vacuously equal.
    let some = all_ids(
        &provider,
        Filter::cond("categories", Operator::Eq, json!(leaf)),
        QueryEntity::Article,
    )
    .await;
    assert!(!some.is_empty() && some.len() < seed.products);
}
