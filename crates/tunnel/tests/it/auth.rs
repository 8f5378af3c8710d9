//! Tokens: unknown or revoked tokens are refused, and a token only ever serves its own
//! tenant.

use std::sync::Arc;

use erpbridge_provider::{ErrorKind, Provider};
use erpbridge_sim::SimConfig;
use erpbridge_tunnel::{ConnectorError, ConnectorStatus, TunnelProvider};
use tonic::Code;

use crate::support::{connect, hosted_sim, raw_client, settings, tunnel};

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_connector_stops() {
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let tunnel = tunnel(vec![("acme", settings(&["right"]))]).await;
    let running = connect(&tunnel.url(), "wrong", "acme", local);
    let result = running.handle.await.unwrap();
    assert!(
        matches!(result, Err(ConnectorError::Rejected(ref why)) if why.contains("unknown or revoked")),
        "{result:?}"
    );
    assert!(!tunnel.registry.is_online("acme"));
    let err = TunnelProvider::new(tunnel.registry.clone(), "acme")
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_revoked_token_is_refused_while_its_replacement_works() {
    // Rotation: the config lists only the new token's digest; the old one is revoked.
    let tunnel = tunnel(vec![("acme", settings(&["new-token"]))]).await;
    let err = raw_client(&tunnel.url(), "old-token", "acme")
        .await
        .err()
        .expect("the revoked token was accepted");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(raw_client(&tunnel.url(), "new-token", "acme").await.is_ok());
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 1);
}

#[tokio::test]
async fn a_token_for_tenant_a_cannot_register_for_tenant_b() {
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let tunnel = tunnel(vec![
        ("tenant-a", settings(&["token-a"])),
        ("tenant-b", settings(&["token-b"])),
    ])
    .await;
    let err = raw_client(&tunnel.url(), "token-a", "tenant-b")
        .await
        .err()
        .expect("token of A registered as B");
    assert_eq!(err.code(), Code::PermissionDenied);
    let running = connect(&tunnel.url(), "token-a", "tenant-b", Arc::clone(&local));
    assert!(matches!(
        running.handle.await.unwrap(),
        Err(ConnectorError::Rejected(_))
    ));
    for tenant in ["tenant-a", "tenant-b"] {
        assert!(!tunnel.registry.is_online(tenant), "{tenant}");
        let err = TunnelProvider::new(tunnel.registry.clone(), tenant)
            .health()
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable, "{tenant}");
    }
    assert!(
        tunnel
            .registry
            .list()
            .iter()
            .all(|c| c.status == ConnectorStatus::Offline && c.connector_id.is_none())
    );
}
