//! The embedded default and the defaults of an almost empty file.

use super::*;
use erpbridge_config::{ProviderConfig, StoreConfig};
use std::time::Duration;

#[test]
fn embedded_default_is_valid_and_documented() {
    let config = Config::embedded_default();
    config.validate_all("<embedded default>").unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.server.operator_key.as_ref().map(|k| k.expose()),
        Some(erpbridge_config::DEMO_OPERATOR_KEY)
    );
    match &config.store {
        StoreConfig::Sqlite { path, .. } => {
            assert!(path.starts_with("./erpbridge-data"), "{path:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(config.tenants.len(), 1);
    let demo = config.tenant("demo").unwrap();
    assert!(demo.api_keys[0].matches(erpbridge_config::DEMO_API_KEY));
    match &demo.provider {
        ProviderConfig::Sim(sim) => assert_eq!(sim.articles, 10_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn embedded_default_round_trips_through_toml_loading() {
    // The default serialised and loaded back is the same config: serde and the schema
    // agree on every field's shape.
    let config = Config::embedded_default();
    let json = serde_json::to_value(&config).unwrap();
    let toml = json_to_toml(&json);
    let loaded = load(&toml, &[]).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert_eq!(loaded, config);
}

#[test]
fn omitted_sections_take_documented_defaults() {
    let config = load(MINIMAL, &[]).unwrap();
    let t = &config.tenants[0];
    assert_eq!(t.runtime.idle_timeout, Duration::from_secs(30 * 60));
    assert_eq!(t.runtime.reconnect_interval, Duration::from_secs(5));
    assert_eq!(t.cache.prices, Duration::from_secs(60));
    assert_eq!(t.cache.stock, Duration::from_secs(60));
    assert_eq!(t.cache.order_status, Duration::from_secs(90));
    assert_eq!(
        t.sync.delta_schedule(),
        erpbridge_config::Schedule::Interval(Duration::from_secs(15 * 60))
    );
    assert_eq!(t.sync.full_schedule(), None);
    let delays: Vec<u64> = config
        .outbox
        .retry
        .delays
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(delays, [30, 120, 600, 1800, 3600]);
    assert_eq!(config.store.pool_size(), 8);
}

/// A TOML rendering of a JSON value with tables as inline tables: enough for the
/// round trip, and independent of the loader under test.
fn json_to_toml(value: &serde_json::Value) -> String {
    fn inline(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Object(m) => format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, v)| format!("{k} = {}", inline(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            serde_json::Value::Array(a) => {
                format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", "))
            }
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap();
                format!("{f:?}")
            }
            other => other.to_string(),
        }
    }
    let serde_json::Value::Object(map) = value else {
        panic!("not a table")
    };
    map.iter()
        .map(|(k, v)| format!("{k} = {}\n", inline(v)))
        .collect()
}
