//! `GuardedProvider`: the runtime's breaker and readiness around a provider it does not
//! host. The provider here is the fake ERP hosted with its own breaker switched off, so
//! every outcome reaches the guard (real Tryton cases are in the tryton crate's tests).

use erpbridge_provider::runtime::{BreakerState, GuardedProvider, HostedProvider, RuntimeOptions};
use erpbridge_provider::{ErrorKind, Provider};
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, Mode, price_request};
use crate::support::{options, settle};

const COOLDOWN: Duration = Duration::from_secs(30);

async fn guarded(erp: &FakeErp, breaker_enabled: bool) -> GuardedProvider {
    let hosted = HostedProvider::start(
        erp.clone(),
        RuntimeOptions {
            breaker_enabled: false,
            ..options()
        },
    )
    .unwrap();
    settle(hosted.wait_ready()).await;
    GuardedProvider::start(
        Arc::new(hosted),
        RuntimeOptions {
            breaker_enabled,
            breaker_threshold: 2,
            breaker_cooldown: COOLDOWN,
            ..options()
        },
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn readiness_follows_warm_up_the_open_circuit_and_the_probe() {
    let erp = FakeErp::serial();
    let provider = guarded(&erp, true).await;
    let monitor = provider.monitor();
    settle(monitor.wait_ready()).await;

    erp.set_mode(Mode::Unavailable, 2);
    for _ in 0..2 {
        let e = settle(provider.prices(price_request("C1", "A-1")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
    }
    assert_eq!(provider.breaker_state(), BreakerState::Open);
    assert!(!monitor.is_ready(), "not ready while the circuit is open");

    // Open: health says so without asking the ERP, and is not an error.
    let calls = erp.shared.calls.load(SeqCst);
    let health = settle(provider.health()).await.unwrap();
    assert!(!health.ok);
    assert!(health.detail.contains("circuit open"), "{health:?}");
    let fast = settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap_err();
    assert!(fast.retry_after.is_some_and(|after| after <= COOLDOWN));
    assert_eq!(
        erp.shared.calls.load(SeqCst),
        calls,
        "the ERP was not asked"
    );

    tokio::time::sleep(COOLDOWN).await;
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .expect("the probe succeeds");
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    assert!(monitor.is_ready());
    let stats = monitor.stats();
    assert_eq!(stats.breaker_rejections, 2, "{stats:?}");
    assert_eq!(stats.breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn fatal_answers_and_a_disabled_breaker_never_open_it() {
    let erp = FakeErp::serial();
    let provider = guarded(&erp, true).await;
    erp.set_mode(Mode::Fatal, 5);
    for _ in 0..5 {
        let e = settle(provider.prices(price_request("C1", "A-1")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Fatal);
    }
    assert_eq!(provider.breaker_state(), BreakerState::Closed);

    let erp = FakeErp::serial();
    let provider = guarded(&erp, false).await;
    erp.set_mode(Mode::Transient, 6);
    for _ in 0..6 {
        let e = settle(provider.prices(price_request("C1", "A-1")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient, "reached the ERP: {e}");
    }
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap();
}
