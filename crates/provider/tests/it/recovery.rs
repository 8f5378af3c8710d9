//! Sessions are re-created after a failed login, a panic, or a lost connection.

use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{ErrorKind, Provider};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, Mode, price_request};
use crate::support::{options, settle, until, until_stats};

#[tokio::test(start_paused = true)]
async fn after_a_failed_login_calls_fail_fast_until_the_retry_succeeds() {
    let erp = FakeErp::serial();
    erp.shared.fail_connects.store(1, SeqCst);
    let options = RuntimeOptions {
        reconnect_interval: Duration::from_secs(5),
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    until_stats(&provider, "the failed login", |s| s.connect_failures == 1).await;
    assert!(!provider.is_ready());

    // No second login on the call path: the caller gets the login error at once.
    for _ in 0..3 {
        let error = settle(provider.prices(price_request("C1", "A-3")))
            .await
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unavailable);
        assert!(error.message.starts_with("login failed"), "{error}");
        assert_eq!(error.retry_after, Some(Duration::from_secs(5)));
    }
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 1);

    tokio::time::sleep(Duration::from_secs(6)).await;
    settle(provider.wait_ready()).await;
    let quotes = settle(provider.prices(price_request("C1", "A-3")))
        .await
        .unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 2);
    assert_eq!(erp.shared.connects.load(SeqCst), 1);
}

#[tokio::test]
async fn a_lazy_first_call_gets_its_own_login_error() {
    let erp = FakeErp::serial();
    erp.shared.fail_connects.store(1, SeqCst);
    let options = RuntimeOptions {
        warm_up: false,
        min_sessions: 0,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    let error = provider
        .prices(price_request("C1", "A-3"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert!(error.message.contains("fake login refused"), "{error}");
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_maintenance_task_retries_a_failed_warm_up() {
    let erp = FakeErp::serial();
    erp.shared.fail_connects.store(1, SeqCst);
    let options = RuntimeOptions {
        reconnect_interval: Duration::from_secs(5),
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    until_stats(&provider, "the failed login", |s| s.connect_failures == 1).await;
    assert!(!provider.is_ready());
    // No call comes; the clock alone brings the retry.
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle(provider.wait_ready()).await;
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 2);
}

#[tokio::test]
async fn a_panicking_call_replaces_the_session_and_the_hub_lives_on() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    erp.set_mode(Mode::Panic, 1);
    let error = provider
        .prices(price_request("C1", "A-1"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Transient);
    assert!(error.message.contains("panicked"), "{error}");

    until("a fresh login", || erp.shared.connects.load(SeqCst) == 2).await;
    assert_eq!(erp.shared.sessions_dropped.load(SeqCst), 1);
    let stats = provider.stats();
    assert_eq!((stats.panics, stats.sessions_recycled), (1, 1));
    let quotes = provider.prices(price_request("C1", "A-1")).await.unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(erp.shared.wrong_thread.load(SeqCst), 0);
}

#[tokio::test]
async fn an_unavailable_answer_with_a_dead_ping_replaces_the_session() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;

    // The ERP says unavailable but the session still answers pings: keep it.
    erp.set_mode(Mode::Unavailable, 1);
    provider
        .prices(price_request("C1", "A-1"))
        .await
        .unwrap_err();
    until("the check ping", || erp.shared.pings.load(SeqCst) == 1).await;
    assert_eq!(provider.stats().sessions_recycled, 0);

    // Now the ping fails too: the session is gone, log in again.
    erp.shared.ping_fails.store(true, SeqCst);
    erp.set_mode(Mode::Unavailable, 1);
    provider
        .prices(price_request("C1", "A-1"))
        .await
        .unwrap_err();
    until("a fresh login", || erp.shared.connects.load(SeqCst) == 2).await;
    erp.shared.ping_fails.store(false, SeqCst);
    assert_eq!(provider.stats().sessions_recycled, 1);
    provider.prices(price_request("C1", "A-1")).await.unwrap();
}
