//! `examples/erpbridge.toml` is valid and validates against the published schema.

use super::*;
use erpbridge_config::ProviderConfig;

const EXAMPLE: &str = include_str!("../../../../examples/erpbridge.toml");

#[test]
fn example_loads_with_its_secret_set() {
    let config =
        load(EXAMPLE, &[("TRYTON_PASSWORD", "from-env")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.tenants.len(), 2);
    assert!(matches!(config.tenants[0].provider, ProviderConfig::Sim(_)));
    match &config.tenants[1].provider {
        ProviderConfig::Tryton(t) => assert_eq!(t.password.expose(), "from-env"),
        other => panic!("{other:?}"),
    }
    // `${VAR:-fallback}` took its fallback, and the hashed key matches its plain text.
    assert!(config.tenants[0].api_keys[0].matches("demo-api-key"));
    assert!(config.tenants[0].api_keys[1].matches("foo"));
    assert!(!config.tenants[0].api_keys[1].matches("bar"));
}

#[test]
fn example_without_its_secret_names_the_variable() {
    let errs = errors(EXAMPLE);
    let e = error_at(
        &errs,
        "tenants[1].provider.password",
        line_of(EXAMPLE, "password = \"${TRYTON_PASSWORD}\""),
    );
    assert!(e.to_string().contains("TRYTON_PASSWORD"));
}

#[test]
fn schema_is_a_valid_json_schema_and_accepts_the_example() {
    let schema = Config::json_schema();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the published schema is not a valid JSON Schema"
    );
    let validator = jsonschema::validator_for(&schema).unwrap();

    let config = load(EXAMPLE, &[("TRYTON_PASSWORD", "x")]).unwrap();
    let instance = serde_json::to_value(&config).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    // And it is not a schema that accepts anything.
    let mut broken = instance.clone();
    broken["tenants"][0]["provider"]["articles"] = serde_json::json!("ten");
    assert!(!validator.is_valid(&broken));
    broken = instance;
    broken["server"]["surprise"] = serde_json::json!(1);
    assert!(!validator.is_valid(&broken));
}

#[test]
fn schema_documents_fields() {
    let schema = serde_json::to_string(&Config::json_schema()).unwrap();
    // Doc comments become descriptions; defaults are published.
    assert!(schema.contains("Address and port the API listens on"));
    assert!(schema.contains("\"127.0.0.1:8080\""));
}
