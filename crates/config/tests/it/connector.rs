//! `type = "connector"` tenants and the tunnel endpoint in `[server]`.

use super::*;
use erpbridge_config::ProviderConfig;

const CONNECTOR: &str = r#"
[server]
connector_listen = "127.0.0.1:7443"

[[tenants]]
id = "acme"
api_keys = ["k-123456"]

[tenants.provider]
type = "connector"
tokens = ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "plain-token"]
"#;

#[test]
fn a_connector_tenant_loads_with_defaults_and_digests() {
    let config = load(CONNECTOR, &[]).unwrap();
    let ProviderConfig::Connector(c) = &config.tenants[0].provider else {
        panic!("not a connector tenant")
    };
    assert_eq!(config.tenants[0].provider.kind(), "connector");
    assert_eq!(c.tokens.len(), 2);
    // "test" hashes to the digest written in the file.
    assert!(c.tokens[0].matches("test"));
    assert!(c.tokens[1].matches("plain-token"));
    assert!(!c.tokens[1].matches("other"));
    assert_eq!(c.heartbeat_interval, std::time::Duration::from_secs(30));
    assert_eq!(c.missed_heartbeats, 3);
    assert_eq!(c.stream_credit, 4);
}

#[test]
fn bad_connector_settings_name_key_and_line() {
    let text =
        format!("{CONNECTOR}heartbeat_interval = \"10ms\"\nmissed_heartbeats = 0\ntokens_x = 1\n");
    let errs = errors(&text);
    error_at(
        &errs,
        "tenants[0].provider.missed_heartbeats",
        line_of(&text, "missed_heartbeats"),
    );
    error_at(
        &errs,
        "tenants[0].provider.tokens_x",
        line_of(&text, "tokens_x"),
    );

    let text = CONNECTOR.replace("\"plain-token\"", "\"sha256:abc\"");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "tenants[0].provider.tokens[1]",
        line_of(&text, "tokens ="),
    );
    assert!(e.to_string().contains("64 hex digits"), "{e}");

    let text = format!("{CONNECTOR}heartbeat_interval = \"10ms\"\n");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "tenants[0].provider.heartbeat_interval",
        line_of(&text, "heartbeat_interval"),
    );
    assert!(is_invalid(e));
}

#[test]
fn a_connector_tenant_needs_a_tunnel_endpoint_and_tls_off_loopback() {
    let text = CONNECTOR.replace("connector_listen = \"127.0.0.1:7443\"", "");
    let errs = errors(&text);
    let e = error_at(&errs, "tenants[0].provider.type", line_of(&text, "type ="));
    assert!(e.to_string().contains("connector_listen"), "{e}");

    let text = CONNECTOR.replace("127.0.0.1:7443", "0.0.0.0:7443");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "server.connector_listen",
        line_of(&text, "connector_listen"),
    );
    assert!(e.to_string().contains("connector_tls"), "{e}");

    let text = format!(
        "[server.connector_tls]\ncert_file = \"hub.pem\"\nkey_file = \"hub.key\"\n{}",
        CONNECTOR.replace("127.0.0.1:7443", "0.0.0.0:7443")
    );
    // TOML: the [server] table must come before its subtable; rebuild in order.
    let text = text.replace(
        "[server.connector_tls]\ncert_file = \"hub.pem\"\nkey_file = \"hub.key\"\n\n[server]\nconnector_listen = \"0.0.0.0:7443\"\n",
        "[server]\nconnector_listen = \"0.0.0.0:7443\"\n[server.connector_tls]\ncert_file = \"hub.pem\"\nkey_file = \"hub.key\"\n",
    );
    let config = load(&text, &[]).unwrap();
    assert!(config.server.connector_tls.is_some());
}
