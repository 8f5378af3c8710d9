//! Sales: idempotent create, confirm, cancel, status, against Tryton's records.

use erpbridge_model::{ArticleId, CustomerId, IdempotencyKey, Order, OrderLine, OrderState};
use erpbridge_provider::{CreateOrderRequest, OrderActionRequest, OrderLookup, Provider};
use rust_decimal_macros::dec;
use serde_json::json;

use crate::harness;

fn order(customer: i64, products: &[i64]) -> Order {
    Order {
        customer_id: CustomerId(customer.to_string()),
        external_reference: Some("SHOP-4711".into()),
        lines: products
            .iter()
            .enumerate()
            .map(|(i, p)| OrderLine {
                article_id: ArticleId(p.to_string()),
                quantity: dec!(2) + rust_decimal::Decimal::from(i as u32),
                unit_price: if i == 0 { Some(dec!(9.99)) } else { None },
            })
            .collect(),
        currency: None,
        comment: Some("from the erpbridge tests".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_confirmed_sale_per_idempotency_key_even_across_crashes_and_races() {
    let Some(server) = harness::server() else {
        return;
    };
    let tryton = server.client().await;
    let seed = &server.seed;
    let key = IdempotencyKey(format!("it-order-{}", std::process::id()));
    let products = &seed.product_ids[0..3];
    let customer = seed.customers[1].id;
    let request = CreateOrderRequest {
        idempotency_key: key.clone(),
        order: order(customer, products),
    };

    // Two providers (two workers) race the same key.
    let (a, b) = (server.provider().await, server.provider().await);
    let (ra, rb) = tokio::join!(
        a.create_order(request.clone()),
        b.create_order(request.clone())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.erp_order_id, rb.erp_order_id,
        "both workers see one sale"
    );
    let sales = tryton
        .search(
            "sale.sale",
            json!([["reference", "=", key.as_str()]]),
            json!({}),
        )
        .await;
    assert_eq!(sales.len(), 1, "exactly one sale in Tryton for the key");

    // A worker that crashed after Tryton's create retries with a fresh provider.
    let retry = server
        .provider()
        .await
        .create_order(request.clone())
        .await
        .unwrap();
    assert!(retry.already_existed);
    assert_eq!(retry.erp_order_id, ra.erp_order_id);
    assert_eq!(retry.state, OrderState::Draft);

    // Tryton has the lines, the prices and the references we sent.
    let sale_id: i64 = ra.erp_order_id.as_str().parse().unwrap();
    let lines = tryton
        .search_read(
            "sale.line",
            json!([["sale", "=", sale_id]]),
            &["product", "quantity", "unit_price"],
            json!({}),
        )
        .await;
    assert_eq!(lines.len(), 3);
    assert_eq!(harness::decimal(&lines[0]["unit_price"]), dec!(9.99));
    // No price sent: Tryton's price for this customer at that quantity.
    let party_list = tryton
        .search_read(
            "party.party",
            json!([["id", "=", customer]]),
            &["sale_price_list"],
            json!({}),
        )
        .await[0]["sale_price_list"]
        .as_i64()
        .unwrap_or(seed.price_lists.default);
    let tryton_price = tryton
        .search_read(
            "product.product",
            json!([["id", "=", products[1]]]),
            &["sale_price_uom"],
            json!({"price_list": party_list, "quantity": 3.0}),
        )
        .await;
    assert_eq!(
        harness::decimal(&lines[1]["unit_price"]),
        harness::decimal(&tryton_price[0]["sale_price_uom"])
    );

    // Confirm twice: both succeed, Tryton confirms (and starts processing) once.
    let action = OrderActionRequest {
        idempotency_key: key.clone(),
        erp_order_id: ra.erp_order_id.clone(),
    };
    let first = a.confirm_order(action.clone()).await.unwrap();
    let second = b.confirm_order(action.clone()).await.unwrap();
    assert!(matches!(
        first.state,
        OrderState::Confirmed | OrderState::Processing
    ));
    assert_eq!(second.state, first.state);
    let sale = tryton
        .search_read(
            "sale.sale",
            json!([["reference", "=", key.as_str()]]),
            &["state", "shipment_state", "description"],
            json!({}),
        )
        .await;
    assert_eq!(sale.len(), 1);
    assert!(["confirmed", "processing"].contains(&sale[0]["state"].as_str().unwrap()));

    let status = a
        .order_status(OrderLookup::ByKey(key.clone()))
        .await
        .unwrap();
    assert_eq!(status.erp_order_id, ra.erp_order_id);
    assert_eq!(status.external_reference.as_deref(), Some("SHOP-4711"));
    assert_eq!(
        status.shipment_state.as_deref(),
        sale[0]["shipment_state"].as_str()
    );

    // A processing sale cannot be cancelled automatically: a clear fatal error.
    if status.state == OrderState::Processing {
        let err = a.cancel_order(action).await.unwrap_err();
        assert_eq!(err.kind, erpbridge_provider::ErrorKind::Fatal);
        assert!(
            err.message.contains("cannot be cancelled"),
            "{}",
            err.message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_idempotent_and_bad_orders_are_fatal() {
    let Some(server) = harness::server() else {
        return;
    };
    let provider = server.provider().await;
    let tryton = server.client().await;
    let seed = &server.seed;
    let key = IdempotencyKey(format!("it-cancel-{}", std::process::id()));
    let receipt = provider
        .create_order(CreateOrderRequest {
            idempotency_key: key.clone(),
            order: order(seed.customers[2].id, &seed.product_ids[3..4]),
        })
        .await
        .unwrap();
    assert!(!receipt.already_existed);
    let action = OrderActionRequest {
        idempotency_key: key.clone(),
        erp_order_id: receipt.erp_order_id.clone(),
    };
    assert_eq!(
        provider.cancel_order(action.clone()).await.unwrap().state,
        OrderState::Cancelled
    );
    assert_eq!(
        provider.cancel_order(action.clone()).await.unwrap().state,
        OrderState::Cancelled
    );
    let state = tryton
        .search_read(
            "sale.sale",
            json!([["reference", "=", key.as_str()]]),
            &["state"],
            json!({}),
        )
        .await;
    assert_eq!(state[0]["state"], "cancelled");
    let err = provider.confirm_order(action).await.unwrap_err();
    assert_eq!(err.kind, erpbridge_provider::ErrorKind::Fatal);

    // The key must match the sale.
    let err = provider
        .confirm_order(OrderActionRequest {
            idempotency_key: IdempotencyKey("someone-else".into()),
            erp_order_id: receipt.erp_order_id.clone(),
        })
        .await
        .unwrap_err();
    assert!(err.message.contains("someone-else"), "{}", err.message);

    // An article that does not exist: fatal, nothing created.
    let bad_key = IdempotencyKey(format!("it-bad-{}", std::process::id()));
    let err = provider
        .create_order(CreateOrderRequest {
            idempotency_key: bad_key.clone(),
            order: order(seed.customers[2].id, &[99_999_999]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, erpbridge_provider::ErrorKind::Fatal, "{err}");
    assert!(err.message.contains("99999999"), "{}", err.message);
    assert!(
        tryton
            .search(
                "sale.sale",
                json!([["reference", "=", bad_key.as_str()]]),
                json!({})
            )
            .await
            .is_empty()
    );
    let err = provider
        .order_status(OrderLookup::ByKey(bad_key))
        .await
        .unwrap_err();
    assert_eq!(err.kind, erpbridge_provider::ErrorKind::NotFound);
}
