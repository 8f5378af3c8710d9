//! One test per documented rule of `query::eval`.

use std::cmp::Ordering;

use erpbridge_model::query::eval::{
    MAX_DEPTH, MAX_IN_VALUES, QueryError, compare_records, eval, validate, validate_filter,
};
use erpbridge_model::query::{Filter, Operator, Query, QueryEntity, SortKey};
use serde_json::{Value, json};

fn rec() -> Value {
    json!({
        "number": "A100-x",
        "names": {"de": "Schraube M8", "en": "Screw"},
        "row_version": 42,
        "price": "12.50",
        "active": true,
        "unit": null,
        "categories": ["c1", "c2"],
        "attributes": [
            {"key": "length", "value": "120"},
            {"key": "colour", "value": "Grün"}
        ],
        "dims": [[1, 2], [3]]
    })
}

fn check(field: &str, op: Operator, value: Value) -> Result<bool, QueryError> {
    eval(&Filter::cond(field, op, value), &rec())
}

fn like(text: &str, pattern: &str) -> bool {
    eval(
        &Filter::cond("t", Operator::Like, json!(pattern)),
        &json!({ "t": text }),
    )
    .unwrap()
}

#[test]
fn like_percent_and_underscore() {
    assert!(like("A100-x", "A1%"));
    assert!(like("A100-x", "%"));
    assert!(like("", "%"));
    assert!(like("A100-x", "%-x"));
    assert!(like("A100-x", "A%0%x"));
    assert!(
        !like("A100-x", "A1"),
        "the pattern must match the whole string"
    );
    assert!(like("abc", "a_c"));
    assert!(!like("ac", "a_c"), "`_` is exactly one character");
    assert!(!like("abbc", "a_c"));
    assert!(
        like("aäc", "a_c"),
        "`_` is one Unicode scalar, not one byte"
    );
    assert!(!like("", "_"));
    assert!(
        like("mississippi", "%iss%ppi"),
        "needs backtracking over `%`"
    );
    assert!(!like("mississippi", "%iss%ppx"));
}

#[test]
fn like_escapes() {
    assert!(like("100%", "100\\%"));
    assert!(!like("1000", "100\\%"), "escaped `%` is literal");
    assert!(like("a_b", "a\\_b"));
    assert!(!like("axb", "a\\_b"), "escaped `_` is literal");
    assert!(like("a\\b", "a\\\\b"));
    let bad = Filter::cond("t", Operator::Like, json!("ab\\"));
    assert!(matches!(
        eval(&bad, &json!({"t": "ab\\"})),
        Err(QueryError::InvalidLikePattern { field, .. }) if field == "t"
    ));
    let bad = Filter::cond("t", Operator::Like, json!("a\\bc"));
    assert!(matches!(
        validate_filter(&bad),
        Err(QueryError::InvalidLikePattern { .. })
    ));
}

#[test]
fn like_is_case_insensitive_ascii_and_unicode() {
    assert!(like("Schraube", "schRAUBE"));
    assert!(like("GRÜN", "grün"));
    assert!(like("Ωmega", "ωMEGA"));
    assert!(!like("Grun", "grün"), "no accent folding");
    // Plain comparisons stay case-sensitive.
    assert!(!check("names.en", Operator::Eq, json!("screw")).unwrap());
    assert!(check("names.en", Operator::Eq, json!("Screw")).unwrap());
}

#[test]
fn missing_and_null_fields_are_false_for_every_operator() {
    for field in ["nope", "unit", "names.fr", "number.deeper"] {
        for (op, value) in [
            (Operator::Eq, json!("x")),
            (Operator::Ne, json!("x")),
            (Operator::Gt, json!("x")),
            (Operator::Le, json!(1)),
            (Operator::Like, json!("%")),
            (Operator::In, json!(["x"])),
        ] {
            assert_eq!(check(field, op, value), Ok(false), "{field} {op:?}");
        }
    }
    // Records that are not objects have no fields; a top-level array is looked through.
    let cond = Filter::cond("number", Operator::Eq, json!("A1"));
    for record in [json!(null), json!("A1"), json!(7), json!([])] {
        assert_eq!(eval(&cond, &record), Ok(false), "{record}");
    }
    assert_eq!(eval(&cond, &json!([{"number": "A1"}])), Ok(true));
    // `not` is plain negation: true where `ne` is false.
    let not_eq = Filter::Not {
        not: Box::new(Filter::cond("nope", Operator::Eq, json!("x"))),
    };
    assert_eq!(eval(&not_eq, &rec()), Ok(true));
}

#[test]
fn empty_and_is_true_empty_or_is_false() {
    assert_eq!(eval(&Filter::And { and: vec![] }, &rec()), Ok(true));
    assert_eq!(eval(&Filter::Or { or: vec![] }, &rec()), Ok(false));
}

#[test]
fn strings_compare_by_code_point() {
    assert!(check("number", Operator::Gt, json!("A099")).unwrap());
    assert!(
        check("number", Operator::Lt, json!("a")).unwrap(),
        "'A' < 'a'"
    );
    assert!(check("number", Operator::Ge, json!("A100-x")).unwrap());
    assert!(!check("number", Operator::Gt, json!("A100-x")).unwrap());
    assert!(check("names.de", Operator::Ne, json!("Schraube")).unwrap());
}

#[test]
fn numbers_compare_exactly_across_representations() {
    assert!(check("row_version", Operator::Eq, json!(42.0)).unwrap());
    assert!(check("row_version", Operator::Gt, json!(41.999)).unwrap());
    assert!(check("row_version", Operator::Lt, json!(42.0001)).unwrap());
    let big = json!({"n": u64::MAX});
    // u64::MAX as f64 rounds up to 2^64: exact comparison must see the difference.
    let two_pow_64 = 18446744073709551616.0_f64;
    assert_eq!(
        eval(&Filter::cond("n", Operator::Lt, json!(two_pow_64)), &big),
        Ok(true)
    );
    let precise = json!({"n": 9007199254740993_i64}); // 2^53 + 1
    assert_eq!(
        eval(
            &Filter::cond("n", Operator::Gt, json!(9007199254740992.0)),
            &precise
        ),
        Ok(true)
    );
    assert_eq!(
        eval(
            &Filter::cond("n", Operator::Lt, json!(-1)),
            &json!({"n": -1.5})
        ),
        Ok(true)
    );
}

#[test]
fn decimal_strings_compare_numerically_with_numbers() {
    assert!(
        check("price", Operator::Gt, json!(9)).unwrap(),
        "not lexicographic"
    );
    assert!(check("price", Operator::Eq, json!(12.5)).unwrap());
    assert!(check("price", Operator::Lt, json!(12.51)).unwrap());
    assert!(check("price", Operator::In, json!([1, 12.5])).unwrap());
    assert!(check("row_version", Operator::Eq, json!("42.00")).unwrap());
    assert!(check("price", Operator::Lt, json!(1e300)).unwrap());
    // Two strings stay strings.
    assert!(!check("price", Operator::Eq, json!("12.5")).unwrap());
    // A string that is not a decimal literal is a mismatch.
    let err = check("number", Operator::Gt, json!(5)).unwrap_err();
    assert!(matches!(err, QueryError::TypeMismatch { ref field, .. } if field == "number"));
    assert!(err.to_string().contains("not a decimal number"), "{err}");
}

#[test]
fn booleans_support_equality_only() {
    assert!(check("active", Operator::Eq, json!(true)).unwrap());
    assert!(check("active", Operator::Ne, json!(false)).unwrap());
    assert!(check("active", Operator::In, json!([false, true])).unwrap());
    assert!(matches!(
        check("active", Operator::Gt, json!(false)),
        Err(QueryError::InvalidValue { .. })
    ));
}

#[test]
fn in_takes_an_array_and_matches_any() {
    assert!(check("number", Operator::In, json!(["B", "A100-x"])).unwrap());
    assert!(!check("number", Operator::In, json!(["B", "a100-x"])).unwrap());
    assert!(!check("number", Operator::In, json!([])).unwrap());
    assert!(matches!(
        check("number", Operator::In, json!("A100-x")),
        Err(QueryError::InvalidValue { ref field, expected: "an array", .. }) if field == "number"
    ));
    assert!(matches!(
        check("number", Operator::In, json!(["a", 1])),
        Err(QueryError::MixedInValues { .. })
    ));
    assert!(matches!(
        check("number", Operator::In, json!([null])),
        Err(QueryError::InvalidValue { .. })
    ));
    let too_many: Vec<u32> = (0..=MAX_IN_VALUES as u32).collect();
    assert!(matches!(
        check("row_version", Operator::In, json!(too_many)),
        Err(QueryError::TooManyInValues { len, .. }) if len == MAX_IN_VALUES + 1
    ));
}

#[test]
fn arrays_match_if_any_element_matches() {
    assert!(check("categories", Operator::Eq, json!("c2")).unwrap());
    assert!(!check("categories", Operator::Eq, json!("c3")).unwrap());
    assert!(
        check("categories", Operator::Ne, json!("c1")).unwrap(),
        "c2 ≠ c1"
    );
    let doesnt_contain = Filter::Not {
        not: Box::new(Filter::cond("categories", Operator::Eq, json!("c1"))),
    };
    assert_eq!(eval(&doesnt_contain, &rec()), Ok(false));
    // Paths look through arrays of objects, and nested arrays flatten.
    assert!(check("attributes.key", Operator::Eq, json!("colour")).unwrap());
    assert!(check("attributes.value", Operator::Like, json!("grü%")).unwrap());
    assert!(check("dims", Operator::Eq, json!(3)).unwrap());
    assert_eq!(
        eval(
            &Filter::cond("categories", Operator::Eq, json!("c1")),
            &json!({"categories": []})
        ),
        Ok(false)
    );
}

#[test]
fn type_mismatch_error_names_field_operator_and_types() {
    let err = check("names.de", Operator::Lt, json!(true)).unwrap_err();
    // `lt` with a boolean is malformed regardless of the record.
    assert!(matches!(err, QueryError::InvalidValue { .. }));

    let err = check("active", Operator::Eq, json!("yes")).unwrap_err();
    assert_eq!(
        err,
        QueryError::TypeMismatch {
            field: "active".into(),
            op: "eq",
            field_type: "boolean",
            value_type: "string",
        }
    );
    let text = err.to_string();
    for needle in ["`active`", "`eq`", "boolean", "string"] {
        assert!(text.contains(needle), "{text:?} lacks {needle}");
    }

    let err = check("names", Operator::Eq, json!("x")).unwrap_err();
    assert!(matches!(
        err,
        QueryError::TypeMismatch {
            field_type: "object",
            ..
        }
    ));
    let err = check("row_version", Operator::Like, json!("4%")).unwrap_err();
    assert!(matches!(
        err,
        QueryError::TypeMismatch {
            field_type: "number",
            ..
        }
    ));
}

#[test]
fn evaluation_is_strict_so_errors_do_not_depend_on_order() {
    let bad = Filter::cond("active", Operator::Eq, json!("yes"));
    let false_first = Filter::And {
        and: vec![
            Filter::cond("number", Operator::Eq, json!("zzz")),
            bad.clone(),
        ],
    };
    let true_first = Filter::Or {
        or: vec![
            Filter::cond("number", Operator::Eq, json!("A100-x")),
            bad.clone(),
        ],
    };
    for filter in [false_first, true_first] {
        assert!(matches!(
            eval(&filter, &rec()),
            Err(QueryError::TypeMismatch { .. })
        ));
    }
    // The first error in tree order wins.
    let two = Filter::Or {
        or: vec![Filter::cond("price", Operator::Like, json!(1)), bad],
    };
    assert!(
        matches!(eval(&two, &rec()), Err(QueryError::InvalidValue { ref field, .. }) if field == "price")
    );
}

#[test]
fn validate_rejects_malformed_descriptors() {
    let query = |filter: Filter| Query {
        entity: QueryEntity::Article,
        filter: Some(filter),
        sort: vec![],
        page_size: None,
        cursor: None,
        include: vec![],
    };
    let ok = query(Filter::cond("names.de", Operator::Like, json!("a%")));
    assert_eq!(validate(&ok), Ok(()));

    for field in ["", "a..b", ".a", "a."] {
        assert_eq!(
            validate(&query(Filter::cond(field, Operator::Eq, json!(1)))),
            Err(QueryError::InvalidFieldPath {
                field: field.into()
            })
        );
    }
    for (op, value) in [
        (Operator::Like, json!(5)),
        (Operator::Eq, json!(null)),
        (Operator::Eq, json!({"a": 1})),
        (Operator::Ge, json!([1])),
        (Operator::In, json!({"a": 1})),
        (Operator::In, json!([[1]])),
    ] {
        assert!(
            matches!(
                validate(&query(Filter::cond("x", op, value.clone()))),
                Err(QueryError::InvalidValue { .. })
            ),
            "{op:?} {value}"
        );
    }

    let mut deep = Filter::cond("x", Operator::Eq, json!(1));
    for _ in 1..MAX_DEPTH {
        deep = Filter::Not {
            not: Box::new(deep),
        };
    }
    assert_eq!(
        validate_filter(&deep),
        Ok(()),
        "exactly MAX_DEPTH levels is fine"
    );
    let too_deep = Filter::Not {
        not: Box::new(deep),
    };
    assert_eq!(
        validate_filter(&too_deep),
        Err(QueryError::TooDeep { max: MAX_DEPTH })
    );
    assert_eq!(
        eval(&too_deep, &rec()),
        Err(QueryError::TooDeep { max: MAX_DEPTH })
    );

    let mut zero = ok.clone();
    zero.page_size = Some(0);
    assert_eq!(validate(&zero), Err(QueryError::ZeroPageSize));
    let mut bad_sort = ok;
    bad_sort.sort = vec![SortKey {
        field: "a..b".into(),
        descending: false,
    }];
    assert!(matches!(
        validate(&bad_sort),
        Err(QueryError::InvalidFieldPath { .. })
    ));
}

#[test]
fn sort_orders_by_type_then_value_with_missing_last_ascending() {
    let records = [
        json!({"k": "b"}),
        json!({}),
        json!({"k": 10}),
        json!({"k": null}),
        json!({"k": "a"}),
        json!({"k": 2.5}),
        json!({"k": true}),
    ];
    let asc = [SortKey {
        field: "k".into(),
        descending: false,
    }];
    let mut sorted = records.to_vec();
    sorted.sort_by(|a, b| compare_records(a, b, &asc));
    let keys: Vec<Value> = sorted
        .iter()
        .map(|r| r.get("k").cloned().unwrap_or(json!("<missing>")))
        .collect();
    assert_eq!(
        keys,
        vec![
            json!(true),
            json!(2.5),
            json!(10),
            json!("a"),
            json!("b"),
            json!("<missing>"),
            Value::Null
        ]
    );

    let desc = [SortKey {
        field: "k".into(),
        descending: true,
    }];
    sorted.sort_by(|a, b| compare_records(a, b, &desc));
    assert!(
        sorted[0].get("k").is_none_or(Value::is_null),
        "missing first when descending"
    );
    assert_eq!(sorted[2], json!({"k": "b"}));

    // Ties fall through to the next key.
    let two = [
        SortKey {
            field: "g".into(),
            descending: false,
        },
        SortKey {
            field: "n".into(),
            descending: true,
        },
    ];
    assert_eq!(
        compare_records(&json!({"g": 1, "n": 1}), &json!({"g": 1, "n": 2}), &two),
        Ordering::Greater
    );
    assert_eq!(
        compare_records(&json!({"g": 0, "n": 1}), &json!({"g": 1, "n": 2}), &two),
        Ordering::Less
    );
}
