//! Provider calls through the tunnel answer exactly what the provider answers locally.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_model::{ArticleId, EntityKind, IdempotencyKey, Order, OrderLine, OrderState};
use erpbridge_provider::{
    CatalogPageRequest, CreateOrderRequest, OrderActionRequest, OrderLookup, PriceItem,
    PriceRequest, Provider, StockRequest,
};
use erpbridge_sim::SimConfig;
use erpbridge_sim::generate::{article_id, customer_id};
use erpbridge_tunnel::TunnelProvider;
use futures::StreamExt;
use rust_decimal_macros::dec;
use sha2::{Digest, Sha256};

use crate::support::{connect, hosted_sim, settings, tunnel, until};

/// Checksum and record count of a whole catalog stream.
async fn checksum(provider: &dyn Provider, entity: EntityKind) -> (String, usize) {
    let mut hasher = Sha256::new();
    let mut count = 0;
    let mut pages = provider.catalog_stream(CatalogPageRequest {
        entity,
        from: None,
        limit: 97,
    });
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        for record in &page.records {
            hasher.update(serde_json::to_vec(record).unwrap());
            count += 1;
        }
        hasher.update(page.next.0.as_bytes());
    }
    (format!("{:x}", hasher.finalize()), count)
}

fn prices(customer: u64, articles: &[ArticleId]) -> PriceRequest {
    PriceRequest {
        customer_id: customer_id(customer),
        items: articles
            .iter()
            .map(|id| PriceItem {
                article_id: id.clone(),
                quantity: dec!(3),
            })
            .collect(),
    }
}

#[tokio::test]
async fn catalog_prices_stock_and_orders_through_the_tunnel_match_the_local_provider() {
    let (sim, local) = hosted_sim(SimConfig {
        seed: 11,
        ..SimConfig::fast(1_200)
    })
    .await;
    let tunnel = tunnel(vec![("acme", settings(&["acme-token"]))]).await;
    let _connector = connect(&tunnel.url(), "acme-token", "acme", Arc::clone(&local));
    until("connector online", || tunnel.registry.is_online("acme")).await;
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");

    for entity in [
        EntityKind::Article,
        EntityKind::Category,
        EntityKind::Customer,
    ] {
        let here = checksum(local.as_ref(), entity).await;
        let there = checksum(&remote, entity).await;
        assert!(here.1 > 0, "{entity:?}: empty");
        assert_eq!(here, there, "{entity:?}");
    }

    let articles: Vec<ArticleId> = (0..100).map(article_id).collect();
    let bulk = remote.prices(prices(4, &articles)).await.unwrap();
    assert_eq!(bulk.len(), 100);
    assert_eq!(bulk, local.prices(prices(4, &articles)).await.unwrap());
    let stock = StockRequest {
        article_ids: articles.clone(),
        warehouse_ids: vec![],
    };
    assert_eq!(
        remote.stock(stock.clone()).await.unwrap(),
        local.stock(stock).await.unwrap()
    );
    assert_eq!(
        remote.describe().await.unwrap(),
        local.describe().await.unwrap()
    );

    // The order saga's calls: create (idempotent), confirm, status.
    let request = CreateOrderRequest {
        idempotency_key: IdempotencyKey("tunnel-order-1".into()),
        order: Order {
            customer_id: customer_id(4),
            external_reference: Some("SHOP-1".into()),
            lines: vec![OrderLine {
                article_id: article_id(7),
                quantity: dec!(2),
                unit_price: None,
            }],
            currency: None,
            comment: None,
        },
    };
    let created = remote.create_order(request.clone()).await.unwrap();
    assert!(!created.already_existed);
    let again = remote.create_order(request).await.unwrap();
    assert!(again.already_existed);
    assert_eq!(again.erp_order_id, created.erp_order_id);
    let confirmed = remote
        .confirm_order(OrderActionRequest {
            idempotency_key: IdempotencyKey("tunnel-order-1".into()),
            erp_order_id: created.erp_order_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(confirmed.state, OrderState::Confirmed);
    let status = remote
        .order_status(OrderLookup::ByKey(IdempotencyKey("tunnel-order-1".into())))
        .await
        .unwrap();
    assert_eq!(status.erp_order_id, created.erp_order_id);
    assert_eq!(
        sim.with_ledger(|l| l.orders().len()),
        1,
        "created exactly once"
    );

    // Errors keep their kind across the tunnel.
    let missing = remote
        .order_status(OrderLookup::ByKey(IdempotencyKey("no-such-order".into())))
        .await
        .unwrap_err();
    assert_eq!(
        missing.kind,
        local
            .order_status(OrderLookup::ByKey(IdempotencyKey("no-such-order".into())))
            .await
            .unwrap_err()
            .kind
    );
}

#[tokio::test]
async fn many_calls_in_flight_each_get_their_own_answer() {
    let (_sim, local) = hosted_sim(SimConfig {
        per_call_latency: Duration::from_millis(2),
        ..SimConfig::fast(500)
    })
    .await;
    let tunnel = tunnel(vec![("acme", settings(&["t"]))]).await;
    let _connector = connect(&tunnel.url(), "t", "acme", Arc::clone(&local));
    until("connector online", || tunnel.registry.is_online("acme")).await;
    let remote = Arc::new(TunnelProvider::new(tunnel.registry.clone(), "acme"));

    let calls = (0..64u64).map(|i| {
        let remote = Arc::clone(&remote);
        let local = Arc::clone(&local);
        tokio::spawn(async move {
            let ids = [article_id(i * 3)];
            let got = remote.prices(prices(i % 10, &ids)).await.unwrap();
            let want = local.prices(prices(i % 10, &ids)).await.unwrap();
            assert_eq!(got, want, "call {i}");
            assert_eq!(got[0].article_id, ids[0]);
        })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap();
    }
}

#[tokio::test]
async fn the_tunnel_passes_the_provider_conformance_suite() {
    // The hub's end of the tunnel served over the provider protocol: every check the
    // suite makes of a provider (errors, idempotency, cursors, hostile input) holds
    // through hub -> tunnel -> connector -> sim.
    let (_sim, local) = hosted_sim(SimConfig::fast(500)).await;
    let tunnel = tunnel(vec![("acme", settings(&["t"]))]).await;
    let _connector = connect(&tunnel.url(), "t", "acme", local);
    until("connector online", || tunnel.registry.is_online("acme")).await;
    let remote: Arc<dyn Provider> = Arc::new(TunnelProvider::new(tunnel.registry.clone(), "acme"));
    let server =
        erpbridge_remote::RunningServer::start(remote, "127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
    let report = erpbridge_remote::conformance::run(
        &server.url(),
        erpbridge_remote::conformance::Options::default(),
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn each_tenant_reaches_only_its_own_connector() {
    let (sim_a, local_a) = hosted_sim(SimConfig {
        seed: 1,
        ..SimConfig::fast(300)
    })
    .await;
    let (sim_b, local_b) = hosted_sim(SimConfig {
        seed: 2,
        ..SimConfig::fast(300)
    })
    .await;
    let tunnel = tunnel(vec![
        ("tenant-a", settings(&["token-a"])),
        ("tenant-b", settings(&["token-b"])),
    ])
    .await;
    let _a = connect(&tunnel.url(), "token-a", "tenant-a", Arc::clone(&local_a));
    let _b = connect(&tunnel.url(), "token-b", "tenant-b", Arc::clone(&local_b));
    until("both online", || {
        tunnel.registry.is_online("tenant-a") && tunnel.registry.is_online("tenant-b")
    })
    .await;
    let a = TunnelProvider::new(tunnel.registry.clone(), "tenant-a");
    let b = TunnelProvider::new(tunnel.registry.clone(), "tenant-b");

    let ids: Vec<ArticleId> = (0..20).map(article_id).collect();
    let via_a = a.articles(ids.clone()).await.unwrap();
    let via_b = b.articles(ids.clone()).await.unwrap();
    assert_eq!(via_a, local_a.articles(ids.clone()).await.unwrap());
    assert_eq!(via_b, local_b.articles(ids.clone()).await.unwrap());
    assert_ne!(via_a, via_b, "different seeds make different catalogs");

    let order = |key: &str| CreateOrderRequest {
        idempotency_key: IdempotencyKey(key.into()),
        order: Order {
            customer_id: customer_id(1),
            external_reference: None,
            lines: vec![OrderLine {
                article_id: article_id(1),
                quantity: dec!(1),
                unit_price: None,
            }],
            currency: None,
            comment: None,
        },
    };
    b.create_order(order("for-b")).await.unwrap();
    assert_eq!(sim_b.with_ledger(|l| l.orders().len()), 1);
    assert_eq!(
        sim_a.with_ledger(|l| l.orders().len()),
        0,
        "A's ERP saw B's order"
    );
}

#[tokio::test]
async fn the_bench_mode_measures_through_a_real_tunnel() {
    let (_sim, local) = hosted_sim(SimConfig::fast(500)).await;
    let work = erpbridge_remote::bench::Workload {
        customer: customer_id(1),
        articles: (0..100).map(article_id).collect(),
        single_calls: 20,
        bulk_calls: 5,
        bulk_size: 100,
        page_size: 100,
        stream_limit: None,
    };
    let figures = erpbridge_tunnel::bench::run_tunnel_mode(local, &work)
        .await
        .unwrap();
    assert_eq!(figures.path, "tunnel");
    assert_eq!(figures.single_price.calls, 20);
    assert_eq!(figures.bulk_prices.calls, 5);
    assert_eq!(figures.stream_articles, 500);
}
