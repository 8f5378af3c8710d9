//! What the hub changes at run time (its config reload): tokens and the configuration
//! version.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use erpbridge_provider::{ErrorKind, Provider};
use erpbridge_sim::SimConfig;
use erpbridge_tunnel::auth::digest;
use erpbridge_tunnel::{
    Connector, ConnectorError, ConnectorOptions, ConnectorSettings, TunnelProvider,
};

use crate::support::{connect, hosted_sim, settings, tunnel, until};

#[tokio::test]
async fn revoking_a_token_closes_its_live_session_and_refuses_its_reconnect() {
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let tunnel = tunnel(vec![("acme", settings(&["old-token", "other-token"]))]).await;
    let running = connect(&tunnel.url(), "old-token", "acme", Arc::clone(&local));
    until("online", || tunnel.registry.is_online("acme")).await;
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    assert!(remote.health().await.unwrap().ok);

    // Removing a token that the live session did not use closes nothing.
    assert_eq!(
        tunnel
            .registry
            .set_tokens("acme", vec![digest("old-token"), digest("new-token")]),
        Some(false)
    );
    assert!(tunnel.registry.is_online("acme"));

    // Revoking the session's own token closes it at once ...
    assert_eq!(
        tunnel
            .registry
            .set_tokens("acme", vec![digest("new-token")]),
        Some(true)
    );
    assert!(!tunnel.registry.is_online("acme"));
    let err = remote.health().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    let info = &tunnel.registry.list()[0];
    assert!(
        info.last_error.as_deref().unwrap_or("").contains("revoked"),
        "{info:?}"
    );
    // ... and the connector's reconnect is refused, which ends it.
    let result = tokio::time::timeout(Duration::from_secs(10), running.handle)
        .await
        .expect("the revoked connector kept running")
        .unwrap();
    assert!(
        matches!(result, Err(ConnectorError::Rejected(ref why)) if why.contains("unknown or revoked")),
        "{result:?}"
    );
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 1);

    // The new token works.
    let _new = connect(&tunnel.url(), "new-token", "acme", local);
    until("online with the new token", || {
        tunnel.registry.is_online("acme")
    })
    .await;
    assert!(remote.health().await.unwrap().ok);
    assert_eq!(tunnel.registry.set_tokens("nobody", vec![]), None);
}

#[tokio::test]
async fn a_new_config_version_reaches_the_connector_with_a_heartbeat_and_reloads_it() {
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let (_other_sim, reloaded) = hosted_sim(SimConfig::fast(7)).await;
    let settings = ConnectorSettings {
        heartbeat_interval: Duration::from_millis(100),
        config_version: "v1".into(),
        ..settings(&["t"])
    };
    let tunnel = tunnel(vec![("acme", settings)]).await;

    let reloads = Arc::new(AtomicU32::new(0));
    let mut options = ConnectorOptions::new(tunnel.url(), "t", "acme");
    options.backoff_min = Duration::from_millis(20);
    let hook = {
        let reloads = Arc::clone(&reloads);
        let reloaded = Arc::clone(&reloaded);
        Box::new(move || {
            reloads.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::clone(&reloaded))
        })
    };
    let connector = Arc::new(
        Connector::new(options, Arc::clone(&local))
            .unwrap()
            .with_reload(hook),
    );
    let task = tokio::spawn(Arc::clone(&connector).run(std::future::pending()));
    until("online", || tunnel.registry.is_online("acme")).await;
    assert_eq!(connector.config_version().as_deref(), Some("v1"));
    // Heartbeats with an unchanged version reload nothing.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(reloads.load(Ordering::SeqCst), 0);
    // Article 50 exists in the 100-article catalog, not in the reloaded 7-article one.
    let probe = || vec![erpbridge_sim::generate::article_id(50)];
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    assert_eq!(remote.articles(probe()).await.unwrap().len(), 1);

    assert!(tunnel.registry.set_config_version("acme", "v2"));
    until("the connector saw v2", || {
        connector.config_version().as_deref() == Some("v2")
    })
    .await;
    assert_eq!(reloads.load(Ordering::SeqCst), 1);
    // Calls now go to the provider the reload built, on the same session.
    assert_eq!(remote.articles(probe()).await.unwrap().len(), 0);
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 1);
    task.abort();
}
