//! Request coalescing: single lookups queued behind a busy session become one bulk call.

use erpbridge_model::ArticleId;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{BatchLimits, PriceItem, PriceRequest, Provider, StockRequest};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, expected_price, price_request};
use crate::support::{options, until, until_stats};

/// Occupy the only session with a price call that blocks until the returned gate opens.
async fn busy(
    erp: &FakeErp,
    provider: &HostedProvider<FakeErp>,
) -> (
    Arc<crate::fake::Gate>,
    tokio::task::JoinHandle<erpbridge_provider::ProviderResult<Vec<erpbridge_model::PriceQuote>>>,
) {
    let gate = erp.hold_calls();
    let p = provider.clone();
    let blocker = tokio::spawn(async move { p.prices(price_request("C0", "A-0")).await });
    until("the session to be busy", || gate.waiting.load(SeqCst) == 1).await;
    (gate, blocker)
}

#[tokio::test]
async fn fifty_lookups_behind_a_busy_session_make_one_bulk_call() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    let (gate, blocker) = busy(&erp, &provider).await;

    // 45 distinct articles, 3 asks for one more article, 2 unknown articles.
    let articles: Vec<String> = (1..=45)
        .map(|i| format!("A-{i}"))
        .chain(std::iter::repeat_n("A-99".to_owned(), 3))
        .chain(["missing-1".to_owned(), "missing-2".to_owned()])
        .collect();
    let lookups: Vec<_> = articles
        .iter()
        .map(|article| {
            let p = provider.clone();
            let article = article.clone();
            tokio::spawn(async move { p.prices(price_request("C1", &article)).await })
        })
        .collect();
    until_stats(&provider, "fifty waiting", |s| s.coalescing_waiting == 50).await;
    assert_eq!(
        provider.stats().queue_depth,
        1,
        "one job for the whole batch"
    );

    gate.open();
    blocker.await.unwrap().unwrap();
    for (article, lookup) in articles.iter().zip(lookups) {
        let quotes = lookup.await.unwrap().unwrap();
        if article.starts_with("missing") {
            assert!(quotes.is_empty(), "{article}: {quotes:?}");
            continue;
        }
        assert_eq!(quotes.len(), 1, "{article}");
        let quote = &quotes[0];
        assert_eq!(quote.article_id.as_str(), article);
        assert_eq!(quote.customer_id.as_str(), "C1");
        assert_eq!(
            quote.unit_price,
            expected_price(&quote.article_id, &quote.customer_id)
        );
    }
    let shared = &erp.shared;
    assert_eq!(
        shared.price_calls.load(SeqCst),
        2,
        "blocker + one bulk call"
    );
    assert_eq!(
        shared.max_price_items.load(SeqCst),
        48,
        "duplicates asked once"
    );
    let stats = provider.stats();
    assert_eq!((stats.coalesced_batches, stats.coalesced_requests), (1, 50));
    assert_eq!(stats.coalescing_waiting, 0);
}

#[tokio::test]
async fn an_idle_session_answers_each_lookup_on_its_own() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    for i in 0..5 {
        let quotes = provider
            .prices(price_request("C1", &format!("A-{i}")))
            .await
            .unwrap();
        assert_eq!(quotes.len(), 1);
        // Answered by a call of its own: nobody waited for company.
        assert_eq!(erp.shared.price_calls.load(SeqCst), i + 1);
    }
    assert_eq!(erp.shared.max_price_items.load(SeqCst), 1);
    assert_eq!(provider.stats().coalesced_batches, 0);
}

#[tokio::test]
async fn batches_are_per_customer_and_within_the_batch_limit() {
    let mut erp = FakeErp::serial();
    erp.limits = BatchLimits {
        max_prices_per_call: 10,
        ..BatchLimits::default()
    };
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    let (gate, blocker) = busy(&erp, &provider).await;

    // 25 lookups for C1 (3 batches of ≤ 10) and 5 for C2 (1 batch).
    let asks: Vec<(String, String)> = (0..25)
        .map(|i| ("C1".to_owned(), format!("A-{i}")))
        .chain((0..5).map(|i| ("C2".to_owned(), format!("A-{i}"))))
        .collect();
    let lookups: Vec<_> = asks
        .iter()
        .map(|(customer, article)| {
            let p = provider.clone();
            let (customer, article) = (customer.clone(), article.clone());
            tokio::spawn(async move { p.prices(price_request(&customer, &article)).await })
        })
        .collect();
    until_stats(&provider, "thirty waiting", |s| s.coalescing_waiting == 30).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    for ((customer, article), lookup) in asks.iter().zip(lookups) {
        let quotes = lookup.await.unwrap().unwrap();
        assert_eq!(quotes.len(), 1);
        assert_eq!(quotes[0].customer_id.as_str(), customer);
        assert_eq!(quotes[0].article_id.as_str(), article);
        assert_eq!(
            quotes[0].unit_price,
            expected_price(&quotes[0].article_id, &quotes[0].customer_id)
        );
    }
    assert_eq!(erp.shared.price_calls.load(SeqCst), 1 + 3 + 1);
    assert_eq!(erp.shared.max_price_items.load(SeqCst), 10);
}

#[tokio::test]
async fn the_configured_batch_cap_is_below_the_provider_limit() {
    let erp = FakeErp::serial();
    let options = RuntimeOptions {
        coalescing_max_batch: Some(4),
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    provider.wait_ready().await;
    let (gate, blocker) = busy(&erp, &provider).await;
    let lookups: Vec<_> = (0..9)
        .map(|i| {
            let p = provider.clone();
            tokio::spawn(async move { p.prices(price_request("C1", &format!("A-{i}"))).await })
        })
        .collect();
    until_stats(&provider, "nine waiting", |s| s.coalescing_waiting == 9).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    for l in lookups {
        assert_eq!(l.await.unwrap().unwrap().len(), 1);
    }
    // 4 + 4 + 1 behind the blocker.
    assert_eq!(erp.shared.price_calls.load(SeqCst), 1 + 3);
    assert_eq!(erp.shared.max_price_items.load(SeqCst), 4);
}

#[tokio::test]
async fn a_big_request_is_split_and_quantities_are_kept_apart() {
    let mut erp = FakeErp::serial();
    erp.limits = BatchLimits {
        max_prices_per_call: 10,
        ..BatchLimits::default()
    };
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    let items: Vec<PriceItem> = (0..23)
        .map(|i| PriceItem {
            article_id: ArticleId::new(format!("A-{}", i % 20)),
            quantity: Decimal::from(1 + i / 20),
        })
        .collect();
    let quotes = provider
        .prices(PriceRequest {
            customer_id: "C1".into(),
            items: items.clone(),
        })
        .await
        .unwrap();
    assert_eq!(quotes.len(), 23);
    for item in &items {
        assert_eq!(
            quotes
                .iter()
                .filter(|q| q.article_id == item.article_id && q.quantity == item.quantity)
                .count(),
            1,
            "{item:?}"
        );
    }
    assert_eq!(erp.shared.price_calls.load(SeqCst), 3);
}

#[tokio::test]
async fn stock_lookups_coalesce_per_warehouse_selection() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    let (gate, blocker) = busy(&erp, &provider).await;
    let lookups: Vec<_> = (0..12)
        .map(|i| {
            let p = provider.clone();
            // Same selection in a different order and with a duplicate: one batch.
            let warehouses = if i % 2 == 0 {
                vec!["W1".into(), "W2".into()]
            } else {
                vec!["W2".into(), "W1".into(), "W2".into()]
            };
            tokio::spawn(async move {
                p.stock(StockRequest {
                    article_ids: vec![format!("A-{i}").into()],
                    warehouse_ids: warehouses,
                })
                .await
            })
        })
        .collect();
    until_stats(&provider, "twelve waiting", |s| s.coalescing_waiting == 12).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    for (i, lookup) in lookups.into_iter().enumerate() {
        let levels = lookup.await.unwrap().unwrap();
        assert_eq!(levels.len(), 2);
        assert!(
            levels
                .iter()
                .all(|l| l.article_id.as_str() == format!("A-{i}"))
        );
    }
    assert_eq!(erp.shared.stock_calls.load(SeqCst), 1);
}

/// Many concurrent callers against a serial backend: far fewer backend calls than
/// requests. (Throughput itself is measured by `erpbridge bench live`, not here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_callers_need_a_tenth_of_the_calls() {
    let erp = FakeErp::serial();
    *erp.shared.call_delay.lock() = Duration::from_millis(2);
    let provider = Arc::new(HostedProvider::start(erp.clone(), options()).unwrap());
    provider.wait_ready().await;
    let callers: Vec<_> = (0..64)
        .map(|caller| {
            let p = provider.clone();
            tokio::spawn(async move {
                for round in 0..20 {
                    let article = format!("A-{}", caller * 1000 + round);
                    let quotes = p.prices(price_request("C1", &article)).await.unwrap();
                    assert_eq!(quotes.len(), 1);
                    assert_eq!(quotes[0].article_id.as_str(), article);
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
    let calls = erp.shared.price_calls.load(SeqCst);
    assert_eq!(erp.shared.price_items.load(SeqCst), 64 * 20);
    assert!(
        calls * 10 <= 64 * 20,
        "{calls} backend calls for 1280 lookups"
    );
    assert_eq!(erp.shared.overlaps.load(SeqCst), 0);
}

#[tokio::test]
async fn without_coalescing_every_lookup_is_its_own_call() {
    let erp = FakeErp::serial();
    let options = RuntimeOptions {
        coalescing: false,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    provider.wait_ready().await;
    let (gate, blocker) = busy(&erp, &provider).await;
    let lookups: Vec<_> = (0..10)
        .map(|i| {
            let p = provider.clone();
            tokio::spawn(async move { p.prices(price_request("C1", &format!("A-{i}"))).await })
        })
        .collect();
    until_stats(&provider, "ten queued", |s| s.queue_depth == 10).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    for l in lookups {
        assert_eq!(l.await.unwrap().unwrap().len(), 1);
    }
    assert_eq!(erp.shared.price_calls.load(SeqCst), 11);
}
