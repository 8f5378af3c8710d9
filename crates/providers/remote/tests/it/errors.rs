//! Error kinds, retry hints and deadlines across the wire.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_model::CustomerId;
use erpbridge_provider::{ErrorKind, PriceRequest, Provider};
use erpbridge_remote::conformance;
use erpbridge_sim::SimConfig;

use crate::fakes::{FakeProvider, RETRY_AFTER};
use crate::support::{client, hosted_sim, serve};

fn price_request(customer: &str) -> PriceRequest {
    PriceRequest {
        customer_id: CustomerId::new(customer),
        items: vec![],
    }
}

#[tokio::test]
async fn every_error_kind_and_its_retry_hint_survive_the_wire() {
    let server = serve(Arc::new(FakeProvider::default())).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    for (name, kind) in [
        ("transient", ErrorKind::Transient),
        ("fatal", ErrorKind::Fatal),
        ("not_found", ErrorKind::NotFound),
        ("unavailable", ErrorKind::Unavailable),
    ] {
        let err = remote.prices(price_request(name)).await.unwrap_err();
        assert_eq!(err.kind, kind, "{name}: {err}");
        assert_eq!(err.retry_after, Some(RETRY_AFTER), "{name}");
        assert_eq!(err.message, format!("fake {name} failure"));
    }
    // And a call that succeeds still does, on the same channel.
    assert_eq!(remote.prices(price_request("ok")).await.unwrap(), vec![]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_hanging_provider_costs_the_deadline_and_gives_a_transient_error() {
    let server = serve(Arc::new(FakeProvider::default())).await;
    let remote = client(&server.url(), Duration::from_millis(300));
    // The outer timeout only guards the test against a hang; the client must answer
    // long before it.
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        remote.prices(price_request("hang")),
    )
    .await
    .expect("the client must give up at its deadline, not hang");
    let err = result.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    // The channel is still usable afterwards.
    assert!(remote.prices(price_request("ok")).await.is_ok());
    // Not a graceful stop: that would wait for the hanging call.
    server.abort();
}

#[tokio::test]
async fn sim_errors_keep_their_kind_over_grpc() {
    // Every sim call fails transient before doing anything.
    let config = SimConfig {
        error_rate: 1.0,
        ..SimConfig::fast(100)
    };
    let (_sim, provider) = hosted_sim(config).await;
    let server = serve(provider).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    let err = remote
        .prices(PriceRequest {
            customer_id: erpbridge_sim::generate::customer_id(0),
            items: vec![erpbridge_provider::PriceItem {
                article_id: erpbridge_sim::generate::article_id(0),
                quantity: rust_decimal::Decimal::ONE,
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_order_is_not_found_over_grpc() {
    let (_sim, provider) = hosted_sim(SimConfig::fast(100)).await;
    let server = serve(provider).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    let err = remote
        .order_status(erpbridge_provider::OrderLookup::ById("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn conformance_fails_a_provider_that_breaks_the_contract() {
    // The fake declares no operations and answers nothing useful: the suite must say so,
    // or a passing suite would prove nothing.
    let server = serve(Arc::new(FakeProvider::default())).await;
    let report = conformance::run(&server.url(), conformance::Options::default())
        .await
        .unwrap();
    assert!(!report.ok(), "{}", report.to_text());
    assert_eq!(report.checks[0].name, "describe");
    assert_eq!(report.checks[0].outcome, conformance::Outcome::Failed);
    server.stop().await.unwrap();
}
