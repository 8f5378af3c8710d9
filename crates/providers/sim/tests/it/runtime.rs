//! The sim hosted by the provider runtime (`erpbridge_provider::runtime`): the executor
//! must keep the detector silent, and readiness must wait for the login.

use erpbridge_model::{ArticleId, EntityKind};
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider, StockRequest};
use erpbridge_sim::{Sim, SimConfig};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn article(n: u64) -> ArticleId {
    ArticleId::new(format!("A{n:08}"))
}

/// 64 callers, each making a mix of single-price, stock, article and catalog calls.
async fn hammer(provider: Arc<dyn Provider>) {
    let mut tasks = Vec::new();
    for caller in 0..64u64 {
        let provider = provider.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..8u64 {
                let n = 1 + (caller * 8 + round) % 500;
                match round % 4 {
                    0 | 1 => {
                        let quotes = provider
                            .prices(PriceRequest {
                                customer_id: format!("C{:07}", 1 + caller % 20).into(),
                                items: vec![PriceItem {
                                    article_id: article(n),
                                    quantity: Decimal::ONE,
                                }],
                            })
                            .await
                            .unwrap();
                        assert_eq!(quotes.len(), 1);
                        assert_eq!(quotes[0].article_id, article(n));
                    }
                    2 => {
                        let stock = provider
                            .stock(StockRequest {
                                article_ids: vec![article(n)],
                                warehouse_ids: vec![],
                            })
                            .await
                            .unwrap();
                        assert_eq!(stock.len(), 3);
                    }
                    _ => {
                        assert_eq!(provider.articles(vec![article(n)]).await.unwrap().len(), 1);
                        let page = provider
                            .catalog_page(CatalogPageRequest {
                                entity: EntityKind::Customer,
                                from: None,
                                limit: 10,
                            })
                            .await
                            .unwrap();
                        assert_eq!(page.records.len(), 10);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_detector_never_trips_through_the_executor_under_64_concurrent_callers() {
    for sessions in [1u32, 3] {
        for coalescing in [true, false] {
            let sim = Sim::new(SimConfig {
                per_call_latency: Duration::from_micros(300),
                sessions,
                ..SimConfig::fast(500)
            })
            .unwrap();
            let provider = HostedProvider::start(
                sim.factory(),
                RuntimeOptions {
                    coalescing,
                    ..RuntimeOptions::default()
                },
            )
            .unwrap();
            hammer(Arc::new(provider.clone())).await;
            let stats = sim.stats();
            assert_eq!(
                stats.concurrency_violations, 0,
                "sessions={sessions} coalescing={coalescing}"
            );
            assert_eq!(stats.login_violations, 0);
            assert!(
                stats.logins >= 1 && stats.logins <= sessions as u64,
                "{stats:?}"
            );
            // The calls really reached the sessions (64 callers × 8 rounds, some merged).
            assert!(stats.calls >= 64, "{stats:?}");
            if coalescing && sessions == 1 {
                assert!(
                    stats.calls < 64 * 8 + 64,
                    "some lookups were merged: {stats:?}"
                );
            }
            assert_eq!(provider.stats().failures, 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_init_delay_2s_readiness_turns_true_only_after_warm_up() {
    let sim = Sim::new(SimConfig {
        init_delay: Duration::from_secs(2),
        ..SimConfig::fast(100)
    })
    .unwrap();
    let started = Instant::now();
    let provider = HostedProvider::start(sim.factory(), RuntimeOptions::default()).unwrap();
    assert!(!provider.is_ready(), "not ready before the login");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!provider.is_ready(), "still logging in");
    assert_eq!(sim.stats().logins, 0);
    tokio::time::timeout(Duration::from_secs(30), provider.wait_ready())
        .await
        .expect("ready after the login");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(sim.stats().logins, 1);

    // The first call after warm-up uses the warm session: no second login.
    let quotes = provider
        .prices(PriceRequest {
            customer_id: "C0000001".into(),
            items: vec![PriceItem {
                article_id: article(1),
                quantity: Decimal::ONE,
            }],
        })
        .await
        .unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(sim.stats().logins, 1);
    assert_eq!(sim.stats().calls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_replaces_a_session_the_sim_disconnected() {
    let sim = Sim::new(SimConfig {
        disconnect_rate: 0.2,
        ..SimConfig::fast(100)
    })
    .unwrap();
    let provider = HostedProvider::start(sim.factory(), RuntimeOptions::default()).unwrap();
    provider.wait_ready().await;
    let mut outcomes = Vec::new();
    for n in 1..=40u64 {
        let result = provider.articles(vec![article(n)]).await;
        outcomes.push(result.map(|a| a.len()).map_err(|e| e.kind));
    }
    let first_failure = outcomes
        .iter()
        .position(Result::is_err)
        .expect("a 20% disconnect rate disconnects within 40 calls");
    assert!(
        outcomes[first_failure..].contains(&Ok(1)),
        "calls succeed again after a disconnect: {outcomes:?}"
    );
    assert!(sim.stats().logins > 1, "{:?}", sim.stats());
    assert_eq!(sim.concurrency_violations(), 0);
}
