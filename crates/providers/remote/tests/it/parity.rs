//! The sim over gRPC is the sim: same catalog, prices and stock as in-process, and it
//! passes the conformance suite.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_model::{ArticleId, EntityKind};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider, StockRequest};
use erpbridge_remote::conformance;
use erpbridge_sim::SimConfig;
use futures::StreamExt;
use rust_decimal_macros::dec;
use sha2::{Digest, Sha256};

use crate::support::{client, hosted_sim, serve};

/// Checksum of a whole catalog stream, and its record count.
async fn checksum(provider: &dyn Provider, entity: EntityKind) -> (String, usize) {
    let mut hasher = Sha256::new();
    let mut count = 0;
    let mut pages = provider.catalog_stream(CatalogPageRequest {
        entity,
        from: None,
        limit: 173,
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

#[tokio::test]
async fn the_sim_over_grpc_returns_what_the_sim_in_process_returns() {
    let config = SimConfig {
        seed: 7,
        ..SimConfig::fast(1_500)
    };
    let (sim, in_process) = hosted_sim(config).await;
    // Some history, so deltas and the journal are not trivially empty.
    sim.advance(2);
    let server = serve(in_process.clone()).await;
    let remote = client(&server.url(), Duration::from_secs(10));

    for entity in [
        EntityKind::Article,
        EntityKind::Category,
        EntityKind::Customer,
    ] {
        let local = checksum(in_process.as_ref(), entity).await;
        let wire = checksum(&remote, entity).await;
        assert!(local.1 > 0, "{entity:?}: empty catalog");
        assert_eq!(local, wire, "{entity:?}");
    }

    let articles: Vec<ArticleId> = (0..100).map(erpbridge_sim::generate::article_id).collect();
    for quantity in [dec!(1), dec!(7.5), dec!(1000)] {
        let request = PriceRequest {
            customer_id: erpbridge_sim::generate::customer_id(3),
            items: articles
                .iter()
                .map(|id| PriceItem {
                    article_id: id.clone(),
                    quantity,
                })
                .collect(),
        };
        let local = in_process.prices(request.clone()).await.unwrap();
        let wire = remote.prices(request).await.unwrap();
        assert!(!local.is_empty());
        assert_eq!(local, wire, "prices at quantity {quantity}");
    }

    let stock = StockRequest {
        article_ids: articles.clone(),
        warehouse_ids: vec![],
    };
    let local = in_process.stock(stock.clone()).await.unwrap();
    assert!(!local.is_empty());
    assert_eq!(local, remote.stock(stock).await.unwrap());

    assert_eq!(
        in_process.articles(articles[..10].to_vec()).await.unwrap(),
        remote.articles(articles[..10].to_vec()).await.unwrap()
    );
    assert_eq!(
        in_process.describe().await.unwrap(),
        remote.describe().await.unwrap()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_sim_over_grpc_passes_the_conformance_suite() {
    let (sim, provider) = hosted_sim(SimConfig::fast(500)).await;
    let server = serve(provider).await;
    let report = conformance::run(&server.url(), conformance::Options::default())
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    // The writes went to the sim exactly once per key.
    assert_eq!(sim.with_ledger(|l| l.orders().len()), 2);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_serves_any_provider_object() {
    // Sanity of the generic path: an Arc<dyn Provider> that is not the runtime.
    let fake: Arc<dyn Provider> = Arc::new(crate::fakes::FakeProvider::default());
    let server = serve(fake).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    assert_eq!(remote.describe().await.unwrap().name, "fake");
    server.stop().await.unwrap();
}
