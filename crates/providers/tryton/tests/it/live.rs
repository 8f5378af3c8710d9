//! Live prices and stock against Tryton's own computation.

use erpbridge_model::{ArticleId, CustomerId, WarehouseId};
use erpbridge_provider::{PriceItem, PriceRequest, Provider, StockRequest};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;
use std::collections::HashMap;

use crate::harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_prices_with_quantity_breaks_equal_trytons() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let tryton = server.client().await;
    let seed = &server.seed;
    let products: Vec<i64> = seed.product_ids.iter().copied().take(12).collect();
    let quantities = [dec!(1), dec!(4), dec!(5), dec!(10), dec!(20)];

    // One customer per kind of price list: gold, silver, the company default.
    for tier in [Some("gold"), Some("silver"), None] {
        let customer = seed
            .customers
            .iter()
            .find(|c| c.price_list.as_deref() == tier)
            .expect("a seeded customer of this tier");
        let items: Vec<PriceItem> = products
            .iter()
            .flat_map(|p| {
                quantities.iter().map(move |q| PriceItem {
                    article_id: ArticleId(p.to_string()),
                    quantity: *q,
                })
            })
            .collect();
        let quotes = provider
            .prices(PriceRequest {
                customer_id: CustomerId(customer.id.to_string()),
                items: items.clone(),
            })
            .await
            .unwrap();
        assert_eq!(
            quotes.len(),
            items.len(),
            "every existing article is priced"
        );

        // Tryton's own computation: the party's list (or the company default) in context.
        let party = tryton
            .search_read(
                "party.party",
                json!([["id", "=", customer.id]]),
                &["sale_price_list"],
                json!({}),
            )
            .await;
        let list = party[0]["sale_price_list"]
            .as_i64()
            .unwrap_or(seed.price_lists.default);
        let expected_list = match tier {
            Some("gold") => seed.price_lists.gold,
            Some("silver") => seed.price_lists.silver,
            _ => seed.price_lists.default,
        };
        assert_eq!(list, expected_list, "the seed assigned this list");
        let mut expected: HashMap<(String, Decimal), Decimal> = HashMap::new();
        for q in quantities {
            let rows = tryton
                .search_read(
                    "product.product",
                    json!([["id", "in", products]]),
                    &["sale_price_uom"],
                    json!({"price_list": list, "quantity": f64::try_from(q).unwrap()}),
                )
                .await;
            for row in rows {
                expected.insert(
                    (row["id"].to_string(), q),
                    harness::decimal(&row["sale_price_uom"]),
                );
            }
        }
        for quote in &quotes {
            assert_eq!(quote.customer_id.as_str(), customer.id.to_string());
            assert_eq!(quote.currency, seed.currency_code);
            assert_eq!(
                quote.unit_price,
                expected[&(quote.article_id.0.clone(), quote.quantity)],
                "{tier:?} {} x {}",
                quote.article_id,
                quote.quantity
            );
        }

        if tier.is_none() {
            // The default list: -10% from 5 and -20% from 10, as breaks and as prices.
            let templates = tryton
                .search_read(
                    "product.product",
                    json!([["id", "in", products]]),
                    &["template.list_price"],
                    json!({}),
                )
                .await;
            for row in templates {
                let list_price = harness::decimal(&row["template."]["list_price"]);
                let quote = quotes
                    .iter()
                    .find(|q| {
                        q.article_id.0.parse::<i64>().ok() == row["id"].as_i64()
                            && q.quantity == dec!(10)
                    })
                    .unwrap();
                assert_eq!(quote.unit_price, (list_price * dec!(0.8)).round_dp(4));
                let breaks: Vec<(Decimal, Decimal)> = quote
                    .breaks
                    .iter()
                    .map(|b| (b.min_quantity, b.unit_price))
                    .collect();
                assert_eq!(
                    breaks,
                    vec![
                        (dec!(1), list_price.round_dp(4)),
                        (dec!(5), (list_price * dec!(0.9)).round_dp(4)),
                        (dec!(10), (list_price * dec!(0.8)).round_dp(4)),
                    ]
                );
            }
        }
    }

    // Unknown articles are left out; an unknown customer is "not found".
    let quotes = provider
        .prices(PriceRequest {
            customer_id: CustomerId(seed.customers[0].id.to_string()),
            items: vec![
                PriceItem {
                    article_id: ArticleId("99999999".into()),
                    quantity: dec!(1),
                },
                PriceItem {
                    article_id: ArticleId("not-a-number".into()),
                    quantity: dec!(1),
                },
                PriceItem {
                    article_id: ArticleId(products[0].to_string()),
                    quantity: dec!(1),
                },
            ],
        })
        .await
        .unwrap();
    assert_eq!(quotes.len(), 1);
    let err = provider
        .prices(PriceRequest {
            customer_id: CustomerId("99999999".into()),
            items: vec![PriceItem {
                article_id: ArticleId(products[0].to_string()),
                quantity: dec!(1),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, erpbridge_provider::ErrorKind::NotFound, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_per_warehouse_equals_trytons() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let tryton = server.client().await;
    let seed = &server.seed;
    // Products the order tests never sell, so a shared server cannot race this test.
    let products: Vec<i64> = seed.product_ids.iter().copied().skip(20).take(30).collect();
    let levels = provider
        .stock(StockRequest {
            article_ids: products.iter().map(|p| ArticleId(p.to_string())).collect(),
            warehouse_ids: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        levels.len(),
        products.len() * seed.warehouses.len(),
        "one level per article and warehouse"
    );
    let mut some_stock = false;
    for warehouse in &seed.warehouses {
        let rows = tryton
            .search_read(
                "product.product",
                json!([["id", "in", products]]),
                &["quantity", "forecast_quantity"],
                json!({"locations": [warehouse.id]}),
            )
            .await;
        for row in rows {
            let level = levels
                .iter()
                .find(|l| {
                    l.article_id.0.parse::<i64>().ok() == row["id"].as_i64()
                        && l.warehouse_id == WarehouseId(warehouse.id.to_string())
                })
                .unwrap();
            let quantity = harness::float_decimal(&row["quantity"]);
            let forecast = harness::float_decimal(&row["forecast_quantity"]);
            assert_eq!(level.available + level.reserved, quantity);
            assert_eq!(level.reserved, (quantity - forecast).max(Decimal::ZERO));
            some_stock |= quantity > Decimal::ZERO;
        }
    }
    assert!(some_stock, "the seed stocked these products");

    // The two warehouses hold different stock (the seed made them so).
    let per_wh = |wh: i64| -> Vec<Decimal> {
        levels
            .iter()
            .filter(|l| l.warehouse_id.0 == wh.to_string())
            .map(|l| l.available)
            .collect()
    };
    assert_ne!(per_wh(seed.warehouses[0].id), per_wh(seed.warehouses[1].id));

    // One warehouse asked: only its levels.
    let only = provider
        .stock(StockRequest {
            article_ids: vec![ArticleId(products[0].to_string())],
            warehouse_ids: vec![WarehouseId(seed.warehouses[1].id.to_string())],
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].warehouse_id.0, seed.warehouses[1].id.to_string());
}
