//! The `Provider` surface of a hosted backend: health, paging limits, batch splitting,
//! the type-erased monitor and the options schema.

use erpbridge_model::EntityKind;
use erpbridge_provider::runtime::{BreakerState, HostedProvider, RuntimeOptions};
use erpbridge_provider::{BatchLimits, CatalogPageRequest, Provider};
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use crate::fake::{FakeErp, Mode};
use crate::support::options;

#[tokio::test]
async fn health_pings_a_session_and_reports_failure_as_not_ok() {
    let erp = FakeErp::serial();
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    provider.wait_ready().await;
    let report = provider.health().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.detail.contains("1 of 1 sessions warm"), "{report:?}");
    assert_eq!(erp.shared.pings.load(SeqCst), 1);

    erp.shared.ping_fails.store(true, SeqCst);
    let report = provider.health().await.unwrap();
    assert!(!report.ok);
    assert!(report.detail.contains("fake ping failed"), "{report:?}");
}

#[tokio::test]
async fn catalog_pages_are_capped_and_article_lookups_split_at_the_limits() {
    let mut erp = FakeErp::serial();
    erp.limits = BatchLimits {
        max_articles_per_call: 4,
        max_catalog_page: 100,
        ..BatchLimits::default()
    };
    let provider = HostedProvider::start(erp.clone(), options()).unwrap();
    let page = provider
        .catalog_page(CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: 5000,
        })
        .await
        .unwrap();
    // The fake echoes the limit it was asked for.
    assert_eq!(page.next.0, "limit=100");

    let ids = (0..10).map(|i| format!("A-{i}").into()).collect();
    provider.articles(ids).await.unwrap();
    assert_eq!(erp.shared.article_calls.load(SeqCst), 3);
    assert_eq!(erp.shared.article_ids.load(SeqCst), 10);
}

#[tokio::test]
async fn the_monitor_sees_through_a_dyn_provider() {
    let erp = FakeErp::serial();
    let hosted = HostedProvider::start(erp.clone(), options()).unwrap();
    let monitor = hosted.monitor();
    let provider: Arc<dyn Provider> = Arc::new(hosted);
    monitor.wait_ready().await;
    assert!(monitor.is_ready());
    erp.set_mode(Mode::Transient, 1);
    provider
        .prices(crate::fake::price_request("C1", "A-1"))
        .await
        .unwrap_err();
    let stats = monitor.stats();
    assert_eq!(
        (stats.calls, stats.failures, stats.backend_calls),
        (1, 1, 1)
    );
    assert_eq!(monitor.breaker_state(), BreakerState::Closed);
    assert_eq!(
        provider.describe().await.unwrap().name,
        "fake",
        "describe answers from the factory"
    );
}

#[test]
fn the_options_schema_documents_durations_as_strings() {
    let schema = serde_json::to_value(schemars::schema_for!(RuntimeOptions)).unwrap();
    let properties = &schema["properties"];
    assert_eq!(properties["idle_timeout"]["type"], "string");
    assert_eq!(properties["queue_capacity"]["type"], "integer");
    let defaults = serde_json::to_value(RuntimeOptions::default()).unwrap();
    assert_eq!(defaults["idle_timeout"], "30m");
    assert_eq!(defaults["call_timeout"], "30s");
}
