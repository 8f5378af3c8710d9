//! Failure: wrong password, a stopped server, unknown names.

use erpbridge_model::{ArticleId, EntityKind};
use erpbridge_provider::{CatalogPageRequest, ErrorKind, Provider, StockRequest};
use erpbridge_tryton::TrytonProvider;

use crate::harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_fatal_error_without_retries() {
    let Some(server) = harness::server() else {
        return;
    };
    let mut config = server.config();
    config.password = "not-the-password".into();
    let err = TrytonProvider::connect(config.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fatal);
    assert!(err.to_string().contains("wrong user or password"), "{err}");
    assert!(err.to_string().contains("`admin`"), "{err}");

    // Lazily connected: the first call fails the same way, after exactly one login.
    let config_off = config.clone();
    let provider = TrytonProvider::new(config).unwrap();
    let err = provider.health().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(!err.is_retryable());
    assert_eq!(provider.login_count(), 1, "no login storm");

    // The login circuit is open: more calls fail at once, fatally, without a login.
    assert!(provider.login_circuit_open());
    let calls = (0..6).map(|_| provider.health());
    for result in futures::future::join_all(calls).await {
        let err = result.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(err.message.contains("wrong user or password"), "{err}");
        assert!(err.message.contains("login circuit open"), "{err}");
    }
    assert_eq!(provider.login_count(), 1, "six more calls, no more logins");

    // With the circuit switched off, each call logs in again (what the circuit prevents).
    let mut off = config_off.clone();
    off.login_retry_after = std::time::Duration::ZERO;
    let provider = TrytonProvider::new(off).unwrap();
    assert!(provider.health().await.is_err());
    assert!(provider.health().await.is_err());
    assert!(!provider.login_circuit_open());
    assert_eq!(provider.login_count(), 2);

    // The right password still works (we stayed below Tryton's failed-login limit).
    let ok = server.provider().await;
    assert!(ok.health().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_database_is_fatal_and_bad_configs_are_rejected() {
    let Some(server) = harness::server() else {
        return;
    };
    let mut config = server.config();
    config.database = "no_such_db".into();
    let err = TrytonProvider::connect(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fatal, "{err}");
    assert!(err.to_string().contains("404"), "{err}");

    let mut config = server.config();
    config.url = "localhost:1".into();
    assert!(TrytonProvider::new(config).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_transient_and_the_provider_recovers() {
    let Some(server) = harness::own_server() else {
        return;
    };
    let provider = server.provider().await;
    let request = StockRequest {
        article_ids: vec![ArticleId(server.seed.product_ids[0].to_string())],
        warehouse_ids: vec![],
    };
    let before = provider.stock(request.clone()).await.unwrap();
    let restarted = server
        .with_server_stopped(|| async {
            let err = provider.stock(request.clone()).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Transient, "{err}");
            assert!(err.is_retryable());
            let err = provider
                .catalog_page(CatalogPageRequest {
                    entity: EntityKind::Article,
                    from: None,
                    limit: 10,
                })
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Transient, "{err}");
        })
        .await;
    if restarted.is_none() {
        eprintln!("server given by ERPBRIDGE_TRYTON_URL: not restarting it");
        return;
    }
    // Back: the same provider works again, without being rebuilt.
    assert_eq!(provider.stock(request).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_by_one_login_for_many_callers() {
    let Some(server) = harness::own_server() else {
        return;
    };
    let provider = server.provider().await;
    let request = StockRequest {
        article_ids: vec![ArticleId(server.seed.product_ids[0].to_string())],
        warehouse_ids: vec![],
    };
    let before = provider.stock(request.clone()).await.unwrap();
    assert_eq!(provider.login_count(), 1);

    // Expire every session the way Tryton's timeout does: its session rows go away.
    if !server.expire_sessions() {
        eprintln!("server given by ERPBRIDGE_TRYTON_URL: cannot expire its sessions");
        return;
    }
    let calls = (0..8).map(|_| provider.stock(request.clone()));
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap(), before);
    }
    assert_eq!(
        provider.login_count(),
        2,
        "eight callers hit 401 and one login renewed the session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_pinged_unless_keepalive_is_off() {
    let Some(server) = harness::server() else {
        return;
    };
    let mut config = server.config();
    config.keepalive = std::time::Duration::from_millis(400);
    let pinged = TrytonProvider::connect(config.clone()).await.unwrap();
    config.keepalive = std::time::Duration::ZERO;
    let quiet = TrytonProvider::connect(config).await.unwrap();
    let (p0, q0) = (pinged.request_count(), quiet.request_count());
    // Real time: the pings are real HTTP calls to Tryton.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pings = pinged.request_count() - p0;
    assert!(pings >= 1, "an idle session is pinged");
    assert!(
        pings <= 4,
        "at most one ping per idle interval, got {pings}"
    );
    assert_eq!(quiet.request_count(), q0, "keepalive 0 turns pinging off");
    // The pinged session still works.
    assert!(pinged.health().await.unwrap().ok);
}
