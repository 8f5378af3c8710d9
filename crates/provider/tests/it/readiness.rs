//! Warm-up and readiness.

use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use std::sync::atomic::Ordering::SeqCst;

use crate::fake::{FakeErp, price_request};
use crate::support::{options, until};

#[tokio::test]
async fn ready_only_after_warm_up_and_the_first_call_pays_no_login() {
    let erp = FakeErp::serial();
    // The login blocks until the test lets it through: "init takes long" without a clock.
    let login = erp.hold_logins();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    let mut readiness = provider.readiness();
    until("the warm-up login to start", || {
        login.waiting.load(SeqCst) == 1
    })
    .await;
    assert!(!provider.is_ready());
    assert!(!*readiness.borrow());
    assert_eq!(provider.stats().sessions_warm, 0);

    login.open();
    readiness.wait_for(|ready| *ready).await.unwrap();
    assert!(provider.is_ready());
    assert!(provider.monitor().is_ready());
    let stats = provider.stats();
    assert_eq!(
        (stats.sessions, stats.sessions_warm, stats.connects),
        (1, 1, 1)
    );

    let quotes = provider.prices(price_request("C1", "A-7")).await.unwrap();
    assert_eq!(quotes.len(), 1);
    // The call ran on the warm session: no second login attempt, no login on the call path.
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 1);
    assert_eq!(erp.shared.price_calls.load(SeqCst), 1);
}

#[tokio::test]
async fn a_pool_is_ready_when_min_sessions_are_warm_and_logins_take_turns() {
    let erp = FakeErp::pooled(4);
    let login = erp.hold_logins();
    let options = RuntimeOptions {
        min_sessions: 3,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    until("one login to start", || login.waiting.load(SeqCst) == 1).await;
    assert!(!provider.is_ready());
    // Serialised: the other two executors wait for the login lock, not inside the SDK.
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 1);
    login.open();
    provider.wait_ready().await;
    let stats = provider.stats();
    assert_eq!(
        (stats.sessions_warm, stats.min_sessions, stats.max_sessions),
        (3, 3, 4)
    );
    assert_eq!(erp.shared.login_overlaps.load(SeqCst), 0);
}

#[tokio::test]
async fn without_warm_up_the_first_call_logs_in() {
    let erp = FakeErp::serial();
    let options = RuntimeOptions {
        warm_up: false,
        min_sessions: 0,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    // Nothing to wait for with min_sessions = 0.
    assert!(provider.is_ready());
    assert_eq!(provider.stats().sessions, 0);
    assert_eq!(erp.shared.connect_attempts.load(SeqCst), 0);
    provider.prices(price_request("C1", "A-1")).await.unwrap();
    assert_eq!(erp.shared.connects.load(SeqCst), 1);
    assert_eq!(provider.stats().sessions, 1);
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let options = RuntimeOptions {
        queue_capacity: 0,
        ..RuntimeOptions::default()
    };
    let error = HostedProvider::start(FakeErp::serial(), options)
        .err()
        .unwrap();
    assert!(error.message.contains("queue_capacity"), "{error}");
}

#[test]
fn options_read_humantime_durations_and_default_the_rest() {
    let options: RuntimeOptions = serde_json::from_value(serde_json::json!({
        "idle_timeout": "45m",
        "call_timeout": "2s",
        "max_sessions": 3
    }))
    .unwrap();
    assert_eq!(
        options.idle_timeout,
        std::time::Duration::from_secs(45 * 60)
    );
    assert_eq!(options.call_timeout, std::time::Duration::from_secs(2));
    assert_eq!(options.max_sessions, Some(3));
    assert_eq!(
        options.queue_capacity,
        RuntimeOptions::default().queue_capacity
    );
    let unknown = serde_json::from_value::<RuntimeOptions>(serde_json::json!({"queue": 1}));
    assert!(unknown.is_err());
}
