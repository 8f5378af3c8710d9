//! The circuit breaker: opens after consecutive failures, fails fast, probes, closes.

use erpbridge_provider::runtime::{BreakerState, HostedProvider, RuntimeOptions};
use erpbridge_provider::{ErrorKind, OrderLookup, Provider};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, Mode, price_request};
use crate::support::{options, settle, until, until_stats};

const COOLDOWN: Duration = Duration::from_secs(30);

async fn started(erp: &FakeErp) -> HostedProvider<FakeErp> {
    let options = RuntimeOptions {
        breaker_threshold: 3,
        breaker_cooldown: COOLDOWN,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    settle(provider.wait_ready()).await;
    provider
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_fails_fast_probes_and_closes() {
    let erp = FakeErp::serial();
    let provider = started(&erp).await;
    erp.set_mode(Mode::Transient, 3);
    for _ in 0..2 {
        let e = settle(provider.prices(price_request("C1", "A-1")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(provider.breaker_state(), BreakerState::Closed);
    }
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap_err();
    assert_eq!(provider.breaker_state(), BreakerState::Open);

    // Open: refused without reaching the ERP, with a hint when to come back.
    let calls = erp.shared.calls.load(SeqCst);
    let fast = settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap_err();
    assert_eq!(fast.kind, ErrorKind::Unavailable);
    assert!(fast.retry_after.is_some_and(|after| after <= COOLDOWN));
    assert_eq!(erp.shared.calls.load(SeqCst), calls);
    assert_eq!(provider.stats().breaker_rejections, 1);

    // After the cool-down one probe goes through; others still fail fast meanwhile.
    tokio::time::sleep(COOLDOWN).await;
    assert_eq!(provider.breaker_state(), BreakerState::HalfOpen);
    let gate = erp.hold_calls();
    let probe = {
        let p = provider.clone();
        tokio::spawn(async move { p.prices(price_request("C1", "A-1")).await })
    };
    until("the probe to reach the ERP", || {
        gate.waiting.load(SeqCst) == 1
    })
    .await;
    let meanwhile = settle(provider.order_status(OrderLookup::ById("O-1".into())))
        .await
        .unwrap_err();
    assert_eq!(meanwhile.kind, ErrorKind::Unavailable);
    gate.open();
    settle(probe).await.unwrap().unwrap();
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    assert_eq!(provider.stats().breaker, BreakerState::Closed);
    settle(provider.prices(price_request("C1", "A-2")))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_the_circuit_again() {
    let erp = FakeErp::serial();
    let provider = started(&erp).await;
    erp.set_mode(Mode::Unavailable, 4);
    for _ in 0..3 {
        settle(provider.prices(price_request("C1", "A-1")))
            .await
            .unwrap_err();
    }
    assert_eq!(provider.breaker_state(), BreakerState::Open);
    tokio::time::sleep(COOLDOWN).await;
    let probe = settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap_err();
    assert!(probe.message.contains("fake connection lost"), "{probe}");
    assert_eq!(provider.breaker_state(), BreakerState::Open);
    tokio::time::sleep(COOLDOWN).await;
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap();
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn fatal_and_not_found_answers_do_not_open_it() {
    let erp = FakeErp::serial();
    let provider = started(&erp).await;
    erp.set_mode(Mode::Fatal, 10);
    for _ in 0..10 {
        let e = provider
            .prices(price_request("C1", "A-1"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Fatal);
    }
    for _ in 0..10 {
        let e = provider
            .order_status(OrderLookup::ById("nope".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    assert_eq!(erp.shared.calls.load(SeqCst), 20);
    // Two transient failures after all those answers still leave it closed (threshold 3).
    erp.set_mode(Mode::Transient, 2);
    for _ in 0..2 {
        provider
            .prices(price_request("C1", "A-1"))
            .await
            .unwrap_err();
    }
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
}

/// Fifty callers sharing one failed bulk call are one failure, not fifty.
#[tokio::test]
async fn a_failed_coalesced_call_counts_once() {
    let erp = FakeErp::serial();
    let provider = started(&erp).await;
    let gate = erp.hold_calls();
    let blocker = {
        let p = provider.clone();
        tokio::spawn(async move { p.prices(price_request("C0", "A-0")).await })
    };
    until("the first call to block", || gate.waiting.load(SeqCst) == 1).await;
    let waiting: Vec<_> = (0..50)
        .map(|i| {
            let p = provider.clone();
            tokio::spawn(async move { p.prices(price_request("C1", &format!("A-{i}"))).await })
        })
        .collect();
    until_stats(&provider, "fifty waiting", |s| s.coalescing_waiting == 50).await;
    erp.set_mode(Mode::Transient, 2);
    gate.open();
    blocker.await.unwrap().unwrap_err();
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap_err().kind, ErrorKind::Transient);
    }
    assert_eq!(erp.shared.calls.load(SeqCst), 2);
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_disabled_breaker_never_opens() {
    let erp = FakeErp::serial();
    let options = RuntimeOptions {
        breaker_enabled: false,
        breaker_threshold: 1,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    erp.set_mode(Mode::Transient, 5);
    for _ in 0..5 {
        let e = provider
            .prices(price_request("C1", "A-1"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient);
    }
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    assert_eq!(erp.shared.calls.load(SeqCst), 5);
}
