//! The tunnel over TLS (rustls): the hub's endpoint with a certificate signed by a
//! private CA. A connector given that CA works end to end; one that trusts another CA
//! never gets as far as registering; plain HTTP/2 to the TLS endpoint fails with an
//! error that says what is wrong.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::{PriceItem, PriceRequest, Provider};
use erpbridge_sim::SimConfig;
use erpbridge_tunnel::TunnelProvider;
use erpbridge_tunnel::hub::HubTls;
use erpbridge_tunnel::{Connector, ConnectorOptions, ConnectorRegistry, RunningTunnel};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rust_decimal_macros::dec;

use crate::support::{hosted_sim, settings, until};

/// A private CA and a `localhost` server certificate it signed (PEM).
struct Pki {
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

fn pki(name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem().into_bytes(),
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}

async fn tls_tunnel(pki: &Pki) -> RunningTunnel {
    let registry = ConnectorRegistry::new([("acme".to_owned(), settings(&["acme-token"]))]);
    let tls = HubTls {
        cert_pem: pki.cert_pem.clone(),
        key_pem: pki.key_pem.clone(),
    };
    RunningTunnel::start(registry, "127.0.0.1:0".parse().unwrap(), Some(tls))
        .await
        .unwrap()
}

fn connector(url: String, ca_pem: Option<Vec<u8>>, provider: Arc<dyn Provider>) -> Arc<Connector> {
    let mut options = ConnectorOptions::new(url, "acme-token", "acme");
    options.ca_pem = ca_pem;
    // The certificate names `localhost`; dialling the IP keeps the test off the resolver.
    options.tls_domain = Some("localhost".to_owned());
    options.backoff_min = Duration::from_millis(20);
    options.backoff_max = Duration::from_millis(200);
    options.connect_timeout = Duration::from_secs(5);
    Arc::new(Connector::new(options, provider).unwrap())
}

/// Runs `connector` until its first failed attempt and returns why it failed.
async fn first_failure(connector: &Arc<Connector>) -> String {
    let task = tokio::spawn(Arc::clone(connector).run(std::future::pending()));
    let mut why = None;
    for _ in 0..1000 {
        why = connector.last_error();
        if why.is_some() || task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let why = why.expect("the connector neither failed nor connected within 10 s");
    eprintln!("connector failed: {why}");
    why
}

#[tokio::test]
async fn a_connector_with_the_hubs_ca_serves_live_prices_over_tls() {
    let pki = pki("erpbridge test CA");
    let tunnel = tls_tunnel(&pki).await;
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let url = format!("https://{}", tunnel.addr);
    let connector = connector(url, Some(pki.ca_pem.clone()), Arc::clone(&local));
    let task = tokio::spawn(Arc::clone(&connector).run(std::future::pending()));
    until("connector online over TLS", || {
        tunnel.registry.is_online("acme")
    })
    .await;

    let request = PriceRequest {
        customer_id: erpbridge_sim::generate::customer_id(3),
        items: (0..5)
            .map(|i| PriceItem {
                article_id: erpbridge_sim::generate::article_id(i),
                quantity: dec!(12),
            })
            .collect(),
    };
    let through = TunnelProvider::new(tunnel.registry.clone(), "acme");
    let got = through.prices(request.clone()).await.unwrap();
    let want = local.prices(request).await.unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got, want);
    assert_eq!(connector.sessions(), 1);
    task.abort();
}

#[tokio::test]
async fn a_connector_that_does_not_trust_the_hubs_ca_is_refused() {
    let pki = pki("erpbridge test CA");
    let tunnel = tls_tunnel(&pki).await;
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let url = format!("https://{}", tunnel.addr);

    let other_ca = pki_ca_only("some other CA");
    let stranger = connector(url.clone(), Some(other_ca), Arc::clone(&local));
    let why = first_failure(&stranger).await;
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    // The system roots do not know a private CA either.
    let system_roots = connector(url, None, local);
    let why = first_failure(&system_roots).await;
    assert!(why.to_lowercase().contains("certificate"), "{why}");

    assert_eq!(stranger.sessions() + system_roots.sessions(), 0);
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 0);
    assert!(!tunnel.registry.is_online("acme"));
}

fn pki_ca_only(name: &str) -> Vec<u8> {
    pki(name).ca_pem
}

#[tokio::test]
async fn plain_http2_to_the_tls_endpoint_fails_with_a_clear_error() {
    let pki = pki("erpbridge test CA");
    let tunnel = tls_tunnel(&pki).await;
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    // Loopback, so the transport policy allows plain HTTP/2: the hub's TLS is the
    // only thing in the way.
    let plain = connector(format!("http://{}", tunnel.addr), None, local);
    let why = first_failure(&plain).await;
    assert!(why.contains("https://"), "{why}");
    assert!(why.contains("TLS"), "{why}");
    assert_eq!(plain.sessions(), 0);
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 0);
}
