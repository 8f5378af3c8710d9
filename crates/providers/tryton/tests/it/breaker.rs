//! The runtime's circuit breaker around the Tryton provider (`GuardedProvider`, as
//! `erpbridge serve` hosts a Tryton tenant): consecutive failures against a Tryton that
//! is down open it, calls then fail fast as `unavailable` without a request to Tryton,
//! a probe goes through after the cool-down, and a success closes it.

use erpbridge_model::{ArticleId, CustomerId};
use erpbridge_provider::runtime::{BreakerState, GuardedProvider, RuntimeOptions};
use erpbridge_provider::{ErrorKind, PriceItem, PriceRequest, Provider};
use erpbridge_tryton::{TrytonConfig, TrytonProvider};
use rust_decimal_macros::dec;
use std::sync::Arc;
use std::time::Duration;

use crate::harness;

fn options(cooldown: Duration) -> RuntimeOptions {
    RuntimeOptions {
        breaker_threshold: 3,
        breaker_cooldown: cooldown,
        warm_up: false,
        ..RuntimeOptions::default()
    }
}

fn price_request(customer: &str, article: &str) -> PriceRequest {
    PriceRequest {
        customer_id: CustomerId(customer.to_owned()),
        items: vec![PriceItem {
            article_id: ArticleId(article.to_owned()),
            quantity: dec!(1),
        }],
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_tryton_that_is_down_opens_the_circuit_and_calls_fail_fast() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let mut config = TrytonConfig::new(url, "erp", "admin", "pw-123456");
    config.connect_timeout = Duration::from_secs(2);
    let tryton = TrytonProvider::new(config).unwrap();
    let guarded = GuardedProvider::start(
        Arc::new(tryton.clone()),
        options(Duration::from_millis(400)),
    )
    .unwrap();
    let monitor = guarded.monitor();

    for attempt in 1..=3 {
        let err = guarded
            .prices(price_request("1", "1"))
            .await
            .expect_err("Tryton is down");
        assert!(
            err.to_string().contains("cannot reach Tryton"),
            "attempt {attempt}: {err}"
        );
        assert_ne!(err.kind, ErrorKind::Fatal, "{err}");
    }
    assert_eq!(guarded.breaker_state(), BreakerState::Open);
    let sent = tryton.request_count();
    assert!(sent >= 3, "each failure reached Tryton: {sent}");

    // Open: refused here, Tryton is not asked.
    let err = guarded
        .prices(price_request("1", "1"))
        .await
        .expect_err("circuit open");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert!(err.retry_after.is_some(), "{err:?}");
    let health = guarded.health().await.unwrap();
    assert!(!health.ok, "{health:?}");
    assert!(health.detail.contains("circuit open"), "{health:?}");
    assert_eq!(tryton.request_count(), sent, "no request while open");
    let stats = monitor.stats();
    assert_eq!(stats.breaker, BreakerState::Open);
    assert_eq!(stats.breaker_rejections, 2);
    assert!(!monitor.is_ready());

    // After the cool-down one probe reaches Tryton; it fails and the circuit re-opens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(guarded.breaker_state(), BreakerState::HalfOpen);
    let err = guarded.prices(price_request("1", "1")).await.unwrap_err();
    assert!(err.to_string().contains("cannot reach Tryton"), "{err}");
    assert!(tryton.request_count() > sent, "the probe went through");
    assert_eq!(guarded.breaker_state(), BreakerState::Open);
    let after_probe = tryton.request_count();
    let err = guarded.prices(price_request("1", "1")).await.unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert_eq!(tryton.request_count(), after_probe);
}

#[tokio::test]
async fn answers_that_are_not_outages_keep_the_circuit_closed() {
    // A wrong password is Tryton answering: it must not open the circuit (the login
    // circuit deals with it), however often it happens.
    let Some(server) = harness::server() else {
        return;
    };
    let mut config = server.config();
    config.password = "not-the-password".into();
    config.login_retry_after = Duration::ZERO;
    let guarded = GuardedProvider::start(
        Arc::new(TrytonProvider::new(config).unwrap()),
        options(Duration::from_secs(30)),
    )
    .unwrap();
    for _ in 0..5 {
        let err = guarded.prices(price_request("1", "1")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal, "{err}");
    }
    assert_eq!(guarded.breaker_state(), BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_tryton_opens_the_circuit_and_a_probe_closes_it_once_it_is_back() {
    let Some(server) = harness::own_server() else {
        return;
    };
    let mut config = server.config();
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(30);
    let tryton = TrytonProvider::new(config).unwrap();
    let guarded = GuardedProvider::start(
        Arc::new(tryton.clone()),
        RuntimeOptions {
            warm_up: true,
            reconnect_interval: Duration::from_millis(200),
            ..options(Duration::from_millis(300))
        },
    )
    .unwrap();
    let monitor = guarded.monitor();
    // Warm-up logs in and turns the tenant ready without any caller.
    tokio::time::timeout(Duration::from_secs(60), monitor.wait_ready())
        .await
        .expect("ready after warm-up");
    let customer = server.seed.customers[0].id.to_string();
    let article = server.seed.product_ids[0].to_string();
    guarded
        .prices(price_request(&customer, &article))
        .await
        .expect("a price while Tryton is up");

    let restarted = server
        .with_server_stopped(|| async {
            for _ in 0..3 {
                let err = guarded
                    .prices(price_request(&customer, &article))
                    .await
                    .expect_err("Tryton is stopped");
                assert_ne!(err.kind, ErrorKind::Fatal, "{err}");
            }
            assert_eq!(guarded.breaker_state(), BreakerState::Open);
            assert!(!monitor.is_ready(), "not ready while the circuit is open");
            let sent = tryton.request_count();
            let err = guarded
                .prices(price_request(&customer, &article))
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
            assert!(err.to_string().contains("circuit open"), "{err}");
            assert_eq!(tryton.request_count(), sent, "failed fast");
        })
        .await;
    assert!(restarted.is_some(), "a private server can be restarted");

    // Back up: after the cool-down the next call is the probe; it succeeds and closes.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let quotes = guarded
        .prices(price_request(&customer, &article))
        .await
        .expect("the probe succeeds once Tryton is back");
    assert_eq!(quotes.len(), 1);
    assert_eq!(guarded.breaker_state(), BreakerState::Closed);
    assert!(monitor.is_ready());
    let stats = monitor.stats();
    assert!(stats.breaker_rejections >= 1, "{stats:?}");
}
