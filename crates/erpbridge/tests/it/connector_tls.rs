//! The connector tunnel over TLS with the real binary: `erpbridge serve` with
//! `[server.connector_tls]` (a certificate from a private CA, made here), and
//! `erpbridge connector` processes: with `--ca-file` of that CA it serves live prices;
//! trusting another CA, or dialling plain `http://`, it never registers and its log
//! says why.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

use crate::support::{erpbridge, free_port, get, hub_up, post_json, token_digest, until};

const OPERATOR: &str = "op-key";

/// A CA's PEM, and a certificate for 127.0.0.1 it signed (PEM cert, PEM key).
fn pki(name: &str) -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_reach_a_tls_hub_only_with_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let (ca, cert, key) = pki("hub CA");
    let (other_ca, _, _) = pki("another CA");
    std::fs::write(path("ca.pem"), ca).unwrap();
    std::fs::write(path("other-ca.pem"), other_ca).unwrap();
    std::fs::write(path("hub.pem"), cert).unwrap();
    std::fs::write(path("hub.key"), key).unwrap();
    std::fs::write(path("acme.token"), "acme-token\n").unwrap();
    let (http_port, tunnel_port) = (free_port(), free_port());
    let hub = format!(
        r#"[server]
listen = "127.0.0.1:{http_port}"
operator_key = "{OPERATOR}"
connector_listen = "127.0.0.1:{tunnel_port}"
[server.connector_tls]
cert_file = "{cert}"
key_file = "{key}"

[store]
type = "sqlite"
path = "{db}"

[[tenants]]
id = "acme"
api_keys = ["acme-key"]
[tenants.provider]
type = "connector"
tokens = ["{token}"]
[tenants.cache]
enabled = false
[tenants.sync]
enabled = false
"#,
        cert = path("hub.pem").display(),
        key = path("hub.key").display(),
        db = path("hub.sqlite").display(),
        token = token_digest("acme-token"),
    );
    std::fs::write(path("hub.toml"), hub).unwrap();
    std::fs::write(
        path("connector.toml"),
        "[[tenants]]\nid = \"acme\"\napi_keys = [\"unused\"]\n[tenants.provider]\ntype = \"sim\"\narticles = 100\ninit_delay = \"0s\"\n",
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{http_port}");
    let client = reqwest::Client::new();
    let _hub = erpbridge(
        &["serve", "--config", path("hub.toml").to_str().unwrap()],
        &path("hub.log"),
    );
    hub_up(&client, &base).await;
    let connector = |url: String, ca: Option<&str>, log: &str| {
        let mut args = vec![
            "connector".to_owned(),
            "--hub".to_owned(),
            url,
            "--token-file".to_owned(),
            path("acme.token").display().to_string(),
            "--config".to_owned(),
            path("connector.toml").display().to_string(),
        ];
        if let Some(ca) = ca {
            args.push("--ca-file".to_owned());
            args.push(path(ca).display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        erpbridge(&args, &path(log))
    };
    let log = |name: &str| std::fs::read_to_string(path(name)).unwrap_or_default();
    let https = format!("https://127.0.0.1:{tunnel_port}");
    let status = || async {
        let (_, list) = get(&client, format!("{base}/api/erp/connectors"), OPERATOR).await;
        list[0]["status"].clone()
    };

    // Trusting another CA, or speaking plain HTTP/2: no registration, a clear log.
    let stranger = connector(https.clone(), Some("other-ca.pem"), "stranger.log");
    let plain = connector(format!("http://127.0.0.1:{tunnel_port}"), None, "plain.log");
    until("the stranger's certificate error", 30, || async {
        log("stranger.log").contains("UnknownIssuer")
    })
    .await;
    until("the plain connector's hint", 30, || async {
        log("plain.log").contains("dial https://")
    })
    .await;
    assert_eq!(status().await, "offline");
    drop((stranger, plain));

    // With the hub's CA: online, and a live price goes through the TLS tunnel.
    let _trusted = connector(https, Some("ca.pem"), "trusted.log");
    until("connector online over TLS", 30, || async {
        status().await == "online"
    })
    .await;
    let (code, _, body) = post_json(
        &client,
        format!("{base}/v1/tenants/acme/prices:query"),
        "acme-key",
        None,
        Some(json!({"customer": "C0000001", "article_ids": ["A00000001"]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body["prices"][0]["unit_price"].is_string(), "{body}");
    let (_, list) = get(&client, format!("{base}/api/erp/connectors"), OPERATOR).await;
    assert_eq!(list[0]["sessions"], Value::from(1), "{list}");
}
