use erpbridge_model::query::eval::eval;
use erpbridge_model::query::{Filter, Operator, Query, QueryEntity, SortKey};
use erpbridge_provider::{ErrorKind, SessionFactory};
use erpbridge_sim::Sim;
use serde_json::{Value, json};

fn query(filter: Option<Filter>, page_size: u32) -> Query {
    Query {
        entity: QueryEntity::Article,
        filter,
        sort: vec![],
        page_size: Some(page_size),
        cursor: None,
        include: vec![],
    }
}

fn all_pages(sim: &Sim, mut q: Query) -> Vec<Value> {
    let mut out = Vec::new();
    let mut session = sim.connect().unwrap();
    loop {
        let page = erpbridge_provider::BlockingSession::query_page(&mut session, &q).unwrap();
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn pushed_filters_return_exactly_what_the_reference_evaluator_selects() {
    let sim = crate::sim(400);
    sim.advance(2);
    let every: Vec<Value> = all_pages(&sim, query(None, 1000));
    assert_eq!(every.len() as u64, sim.article_count());
    let filters = [
        Filter::cond("number", Operator::Like, json!("%-000001_")),
        Filter::And {
            and: vec![
                Filter::cond(
                    "id",
                    Operator::In,
                    json!(["A00000003", "A00000100", "A00000999", "A00000007"]),
                ),
                Filter::cond("row_version", Operator::Ge, json!(1)),
            ],
        },
        Filter::cond("row_version", Operator::Gt, json!(1)),
        Filter::cond("id", Operator::Eq, json!("A00000050")),
        Filter::cond("id", Operator::Like, json!("a000001%")),
    ];
    for filter in filters {
        let expected: Vec<&Value> = every.iter().filter(|r| eval(&filter, r).unwrap()).collect();
        assert!(!expected.is_empty(), "{filter:?} selects something");
        let got = all_pages(&sim, query(Some(filter.clone()), 3));
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{filter:?}");
    }
}

#[test]
fn the_description_is_honest_about_what_is_pushed() {
    let sim = crate::sim(50);
    let description = sim.factory().describe();
    assert_eq!(description.name, "sim");
    assert_eq!(
        description.concurrency,
        erpbridge_provider::ConcurrencyModel::Serial
    );
    let caps = &description.pushdown.entities[&QueryEntity::Article];
    assert!(caps.supports("number", Operator::Like) && !caps.or && !caps.not);

    let mut session = sim.connect().unwrap();
    let or = Filter::Or {
        or: vec![Filter::cond("id", Operator::Eq, json!("A00000001"))],
    };
    let not_declared = Filter::cond("names.de", Operator::Like, json!("%"));
    for filter in [or, not_declared] {
        let err =
            erpbridge_provider::BlockingSession::query_page(&mut session, &query(Some(filter), 10))
                .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
    }
    let mut sorted = query(None, 10);
    sorted.sort = vec![SortKey {
        field: "number".into(),
        descending: false,
    }];
    assert!(erpbridge_provider::BlockingSession::query_page(&mut session, &sorted).is_err());
}

#[test]
fn include_narrows_the_returned_parts() {
    let sim = crate::sim(20);
    let mut q = query(None, 5);
    let full = all_pages(&sim, q.clone());
    assert!(full[0].get("attributes").is_some());
    q.include = vec!["images".into()];
    let narrow = all_pages(&sim, q);
    assert!(narrow[0].get("attributes").is_none());
    assert!(narrow[0].get("images").is_some());
}
