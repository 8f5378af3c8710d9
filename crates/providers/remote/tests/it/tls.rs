//! TLS with rustls: a client that trusts the provider's CA talks to it; one that does
//! not, fails retryably instead of talking in the clear.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use erpbridge_remote::{ClientTls, RemoteConfig, RemoteProvider, RunningServer, ServerTls};

use crate::fakes::FakeProvider;
use crate::support::loopback;

fn tls_client(url: &str, ca_pem: Option<Vec<u8>>) -> RemoteProvider {
    RemoteProvider::connect_lazy(RemoteConfig {
        tls: Some(ClientTls {
            ca_pem,
            domain: Some("localhost".into()),
        }),
        deadline: Duration::from_secs(5),
        ..RemoteConfig::new(url)
    })
    .unwrap()
}

#[tokio::test]
async fn a_provider_served_over_tls_is_reached_only_with_its_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem().into_bytes();
    let tls = ServerTls {
        cert_pem: cert_pem.clone(),
        key_pem: cert.signing_key.serialize_pem().into_bytes(),
    };
    let server = RunningServer::start(Arc::new(FakeProvider::default()), loopback(), Some(tls))
        .await
        .unwrap();
    let url = format!("https://{}", server.addr);

    let trusted = tls_client(&url, Some(cert_pem));
    assert_eq!(trusted.describe().await.unwrap().name, "fake");

    // The system roots do not know a self-signed certificate.
    let untrusting = tls_client(&url, None);
    let err = untrusting.describe().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");

    // Plain HTTP/2 against a TLS port does not get an answer either.
    let plain = crate::support::client(&format!("http://{}", server.addr), Duration::from_secs(2));
    assert!(plain.describe().await.is_err());
    server.abort();
}
