//! Deterministic examples of the planner's rules.

use erpbridge_model::query::plan::{EntityPushdown, plan};
use erpbridge_model::query::{Filter, Operator};
use serde_json::json;

fn caps(fields: &[(&str, &[Operator])], or: bool, not: bool) -> EntityPushdown {
    EntityPushdown {
        fields: fields
            .iter()
            .map(|(f, ops)| (f.to_string(), ops.iter().copied().collect()))
            .collect(),
        or,
        not,
        ..EntityPushdown::default()
    }
}

fn c(field: &str, op: Operator, v: serde_json::Value) -> Filter {
    Filter::cond(field, op, v)
}

fn not(f: Filter) -> Filter {
    Filter::Not { not: Box::new(f) }
}

#[test]
fn flattens_nested_ands_and_splits_by_field_and_operator() {
    let a = c("number", Operator::Like, json!("A%"));
    let b = c("number", Operator::Eq, json!("A1"));
    let x = c("price", Operator::Gt, json!(5));
    let filter = Filter::And {
        and: vec![
            a.clone(),
            Filter::And {
                and: vec![x.clone(), b.clone()],
            },
        ],
    };
    let p = plan(
        &filter,
        &caps(&[("number", &[Operator::Like])], false, false),
    );
    assert_eq!(p.pushed, Some(a));
    assert_eq!(p.residual, Some(Filter::And { and: vec![x, b] }));
    assert!(p.exact);
}

#[test]
fn or_and_not_need_their_capability() {
    let a = c("number", Operator::Eq, json!("A"));
    let b = c("number", Operator::Eq, json!("B"));
    let either = Filter::Or {
        or: vec![a.clone(), b.clone()],
    };
    let full = [("number", &[Operator::Eq][..])];

    let p = plan(&either, &caps(&full, false, false));
    assert_eq!((p.pushed, p.residual), (None, Some(either.clone())));
    let p = plan(&either, &caps(&full, true, false));
    assert_eq!((p.pushed, p.residual), (Some(either.clone()), None));

    let neither = not(a.clone());
    let p = plan(&neither, &caps(&full, true, false));
    assert_eq!((p.pushed, p.residual), (None, Some(neither.clone())));
    let p = plan(&neither, &caps(&full, false, true));
    assert_eq!((p.pushed, p.residual), (Some(neither), None));
}

#[test]
fn de_morgan_splits_not_or_into_conjuncts_and_removes_double_negation() {
    let a = c("number", Operator::Eq, json!("A"));
    let x = c("price", Operator::Eq, json!(1));
    let filter = not(Filter::Or {
        or: vec![a.clone(), not(not(x.clone()))],
    });
    let p = plan(&filter, &caps(&[("number", &[Operator::Eq])], false, true));
    assert_eq!(p.pushed, Some(not(a)));
    assert_eq!(p.residual, Some(not(x)));
}

#[test]
fn not_and_is_not_split() {
    let a = c("number", Operator::Eq, json!("A"));
    let x = c("price", Operator::Eq, json!(1));
    let filter = not(Filter::And { and: vec![a, x] });
    let p = plan(&filter, &caps(&[("number", &[Operator::Eq])], true, true));
    assert_eq!((p.pushed, p.residual), (None, Some(filter)));
}

#[test]
fn inexact_provider_makes_the_hub_recheck_pushed() {
    let a = c("number", Operator::Like, json!("A%"));
    let x = c("price", Operator::Gt, json!(5));
    let filter = Filter::And {
        and: vec![a.clone(), x.clone()],
    };
    let mut inexact = caps(&[("number", &[Operator::Like])], false, false);
    inexact.exact = false;
    let p = plan(&filter, &inexact);
    assert!(!p.exact);
    assert_eq!(
        p.hub_filter(),
        Some(Filter::And {
            and: vec![a, x.clone()]
        })
    );
    // A record the provider over-fetched: fails `pushed`, passes the residual.
    let stray = json!({"number": "B1", "price": "9"});
    assert_eq!(p.post_filter(&stray), Ok(false));

    let mut exact = inexact.clone();
    exact.exact = true;
    let p = plan(&filter, &exact);
    assert_eq!(p.hub_filter(), Some(x));
    assert_eq!(
        p.post_filter(&stray),
        Ok(true),
        "exact: trusts the provider"
    );
}

#[test]
fn exact_defaults_to_true_when_absent_from_json() {
    let caps: EntityPushdown =
        serde_json::from_value(json!({"fields": {"number": ["eq"]}})).unwrap();
    assert!(caps.exact);
    assert!(EntityPushdown::default().exact);
}

#[test]
fn hub_filter_of_an_inexact_plan_stays_within_the_depth_limit() {
    use erpbridge_model::query::eval::{MAX_DEPTH, validate_filter};
    // A conjunct of exactly MAX_DEPTH - 1 levels under the root `and`.
    let mut deep = c("price", Operator::Eq, json!(1));
    for _ in 2..MAX_DEPTH {
        // `or` of one: the planner leaves it alone (it would fold `not(not(..))`).
        deep = Filter::Or { or: vec![deep] };
    }
    let filter = Filter::And {
        and: vec![
            c("number", Operator::Eq, json!("A")),
            c("number", Operator::Eq, json!("B")),
            deep,
            // Two residual conjuncts: the residual is an `and` of its own.
            c("price", Operator::Eq, json!(2)),
        ],
    };
    assert_eq!(validate_filter(&filter), Ok(()));
    let mut inexact = caps(&[("number", &[Operator::Eq])], false, false);
    inexact.exact = false;
    let hub = plan(&filter, &inexact).hub_filter().unwrap();
    assert_eq!(validate_filter(&hub), Ok(()));
    assert_eq!(hub, filter, "same conjuncts, same order");
}
