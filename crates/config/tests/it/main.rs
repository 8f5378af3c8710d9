//! Integration tests of erpbridge-config: loading real TOML text and checking that every
//! error names the right key and the right line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod connector;
mod defaults;
mod errors;
mod example;
mod model;
mod search;

use erpbridge_config::{Config, ConfigError, ConfigErrors, ErrorKind};
use std::collections::HashMap;

/// A minimal valid file to build broken ones from.
pub const MINIMAL: &str = r#"
[[tenants]]
id = "demo"
api_keys = ["k-123456"]

[tenants.provider]
type = "sim"
"#;

/// Loads `text` with exactly the variables in `vars` set.
pub fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_toml_with_env(text, "erpbridge.toml", &|name| env.get(name).cloned())
}

/// Loads `text`, which must fail, and returns its errors.
pub fn errors(text: &str) -> Vec<ConfigError> {
    match load(text, &[]) {
        Ok(_) => panic!("expected errors, the config loaded:\n{text}"),
        Err(e) => e.into_iter().collect(),
    }
}

/// The single error about `path`, checking it is on `line`.
pub fn error_at<'a>(errors: &'a [ConfigError], path: &str, line: usize) -> &'a ConfigError {
    let matching: Vec<_> = errors
        .iter()
        .filter(|e| e.path.to_string() == path)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one error at {path}, got: {}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let e = matching[0];
    assert_eq!(e.position.map(|p| p.line), Some(line), "wrong line for {e}");
    e
}

/// 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        + 1
}

pub fn is_invalid(e: &ConfigError) -> bool {
    matches!(e.kind, ErrorKind::Invalid(_))
}
