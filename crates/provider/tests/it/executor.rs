//! The serial executor: serialisation, bounded queue, abandoned work, deadlines.

use erpbridge_model::{IdempotencyKey, Order, OrderLine};
use erpbridge_provider::runtime::{BreakerState, HostedProvider, RuntimeOptions};
use erpbridge_provider::*;
use rust_decimal::Decimal;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, expected_price, price_request};
use crate::support::{options, settle, until, until_stats};

fn order(key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: IdempotencyKey::new(key),
        order: Order {
            customer_id: "C1".into(),
            external_reference: None,
            lines: vec![OrderLine {
                article_id: "A-1".into(),
                quantity: Decimal::ONE,
                unit_price: None,
            }],
            currency: None,
            comment: None,
        },
    }
}

/// 64 callers on a multi-threaded runtime hammer one serial session with every kind of
/// call; the fake counts any call that finds another one running on its session, or that
/// arrives on a thread other than the one that logged in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_never_sees_two_calls_at_once() {
    let erp = FakeErp::serial();
    *erp.shared.call_delay.lock() = Duration::from_micros(50);
    let provider = Arc::new(HostedProvider::start(erp.clone(), options()).unwrap());
    provider.wait_ready().await;

    let mut callers = Vec::new();
    for caller in 0..64 {
        let provider = provider.clone();
        callers.push(tokio::spawn(async move {
            for round in 0..10 {
                let customer = format!("C{}", caller % 7);
                let article = format!("A-{}", caller * 100 + round);
                let quotes = provider
                    .prices(price_request(&customer, &article))
                    .await
                    .unwrap();
                assert_eq!(quotes.len(), 1);
                assert_eq!(quotes[0].article_id.as_str(), article);
                assert_eq!(
                    quotes[0].unit_price,
                    expected_price(&article.as_str().into(), &customer.as_str().into())
                );
                let stock = provider
                    .stock(StockRequest {
                        article_ids: vec![article.as_str().into()],
                        warehouse_ids: vec![],
                    })
                    .await
                    .unwrap();
                assert_eq!(stock.len(), 2);
                provider
                    .create_order(order(&format!("{caller}-{round}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let shared = &erp.shared;
    assert_eq!(shared.overlaps.load(SeqCst), 0, "two calls overlapped");
    assert_eq!(
        shared.wrong_thread.load(SeqCst),
        0,
        "a session left its thread"
    );
    assert_eq!(shared.connects.load(SeqCst), 1);
    // Orders are never coalesced: one backend call each.
    assert!(shared.calls.load(SeqCst) >= 640);
    let stats = provider.stats();
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.sessions, 1);
}

/// The detector itself works: two sessions of the serial fake used from two threads at
/// once (no executor in between) do trip it, so the test above can fail.
#[test]
fn the_fake_detects_concurrent_use_without_the_executor() {
    let erp = FakeErp::serial();
    let gate = erp.hold_calls();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let erp = erp.clone();
            std::thread::spawn(move || {
                let mut session = erp.connect().unwrap();
                session.prices(&price_request("C1", "A-1")).unwrap();
            })
        })
        .collect();
    let started = std::time::Instant::now();
    while gate.waiting.load(SeqCst) < 2 {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::yield_now();
    }
    gate.open();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(erp.shared.overlaps.load(SeqCst), 1);
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once_and_is_no_backend_failure() {
    let erp = FakeErp::serial();
    let gate = erp.hold_calls();
    let options = RuntimeOptions {
        queue_capacity: 2,
        breaker_threshold: 1,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    provider.wait_ready().await;

    let running = {
        let p = provider.clone();
        tokio::spawn(async move { p.create_order(order("running")).await })
    };
    until("the first call to block", || gate.waiting.load(SeqCst) == 1).await;
    let queued: Vec<_> = (0..2)
        .map(|i| {
            let p = provider.clone();
            tokio::spawn(async move { p.create_order(order(&format!("queued-{i}"))).await })
        })
        .collect();
    until_stats(&provider, "two queued jobs", |s| s.queue_depth == 2).await;

    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        provider.create_order(order("one-too-many")),
    )
    .await
    .expect("a full queue must not make the caller wait")
    .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Unavailable);
    assert!(
        refused.message.contains("overloaded: queue of 2 full"),
        "{refused}"
    );
    assert!(refused.retry_after.is_some());
    // Our own refusal says nothing about the ERP: the breaker (threshold 1) stays closed.
    assert_eq!(provider.breaker_state(), BreakerState::Closed);

    gate.open();
    running.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap().unwrap();
    }
    let stats = provider.stats();
    assert_eq!(stats.overloaded, 1);
    assert_eq!(stats.queue_depth, 0);
    assert_eq!(erp.shared.calls.load(SeqCst), 3);
}

#[tokio::test]
async fn work_whose_caller_gave_up_is_skipped() {
    let erp = FakeErp::serial();
    let gate = erp.hold_calls();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;

    let running = {
        let p = provider.clone();
        tokio::spawn(async move { p.create_order(order("running")).await })
    };
    until("the first call to block", || gate.waiting.load(SeqCst) == 1).await;
    let impatient = {
        let p = provider.clone();
        tokio::spawn(async move { p.create_order(order("impatient")).await })
    };
    until_stats(&provider, "the second call to queue", |s| {
        s.queue_depth == 1
    })
    .await;
    impatient.abort();
    assert!(impatient.await.unwrap_err().is_cancelled());

    gate.open();
    running.await.unwrap().unwrap();
    until_stats(&provider, "the queue to drain", |s| s.queue_depth == 0).await;
    until_stats(&provider, "the skip to be counted", |s| s.abandoned == 1).await;
    assert_eq!(
        erp.shared.calls.load(SeqCst),
        1,
        "the abandoned job reached the ERP"
    );
    assert_eq!(provider.stats().backend_calls, 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_fails_transient_and_is_not_run_later() {
    let erp = FakeErp::serial();
    let gate = erp.hold_calls();
    let options = RuntimeOptions {
        call_timeout: Duration::from_millis(250),
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    settle(provider.wait_ready()).await;

    let running = {
        let p = provider.clone();
        tokio::spawn(async move { p.create_order(order("slow")).await })
    };
    until("the first call to block", || gate.waiting.load(SeqCst) == 1).await;
    // Paused time: waiting here lets the clock reach both deadlines.
    let late = provider.create_order(order("late")).await.unwrap_err();
    assert_eq!(late.kind, ErrorKind::Transient);
    assert_eq!(late.message, "deadline exceeded after 250ms");
    let slow = running.await.unwrap().unwrap_err();
    assert_eq!(slow.message, "deadline exceeded after 250ms");

    gate.open();
    until_stats(&provider, "the queue to drain", |s| {
        s.queue_depth == 0 && s.in_flight == 0
    })
    .await;
    // The blocked call ran to its end (it had started); the queued one was skipped.
    assert_eq!(erp.shared.calls.load(SeqCst), 1);
    let stats = provider.stats();
    assert_eq!(stats.deadline_exceeded, 2);
    assert_eq!(stats.abandoned, 1);

    settle(provider.create_order(order("after"))).await.unwrap();
}
