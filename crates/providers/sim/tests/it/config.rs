use erpbridge_sim::{Sim, SimConfig};
use std::time::Duration;

#[test]
fn durations_are_humantime_and_unknown_keys_are_rejected() {
    let config: SimConfig = serde_json::from_value(serde_json::json!({
        "articles": 1500000,
        "init_delay": "150ms",
        "per_call_latency": "2ms",
        "error_rate": 0.01
    }))
    .unwrap();
    assert_eq!(config.init_delay, Duration::from_millis(150));
    assert_eq!(config.per_call_latency, Duration::from_millis(2));
    assert_eq!(config.customers, 1000, "defaults fill the rest");
    let back: SimConfig = serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
    assert_eq!(back, config);
    let err = serde_json::from_value::<SimConfig>(serde_json::json!({"artikel": 5})).unwrap_err();
    assert!(err.to_string().contains("artikel"), "{err}");
    assert_eq!(SimConfig::default().init_delay, Duration::from_secs(2));
}

#[test]
fn nonsense_values_name_the_field() {
    for (config, field) in [
        (
            SimConfig {
                error_rate: 1.5,
                ..SimConfig::fast(10)
            },
            "error_rate",
        ),
        (
            SimConfig {
                articles: 0,
                ..SimConfig::fast(10)
            },
            "articles",
        ),
        (
            SimConfig {
                warehouses: 0,
                ..SimConfig::fast(10)
            },
            "warehouses",
        ),
    ] {
        let err = Sim::new(config).unwrap_err();
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn the_schema_documents_the_knobs() {
    let schema = serde_json::to_value(schemars::schema_for!(SimConfig)).unwrap();
    let properties = &schema["properties"];
    for knob in [
        "seed",
        "articles",
        "init_delay",
        "error_rate",
        "change_percent_per_tick",
        "state_file",
    ] {
        assert!(properties.get(knob).is_some(), "{knob} in schema");
    }
    assert_eq!(properties["init_delay"]["type"], "string");
}
