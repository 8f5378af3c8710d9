//! erpbridge's configuration: the typed model, its JSON Schema, and a loader whose
//! errors name the key and the line.
//!
//! # Design
//!
//! One set of types ([`Config`] and its sections) is the single source of truth: serde
//! reads them, schemars derives the JSON Schema from them (`erpbridge config schema`),
//! and every field's doc comment is its documentation in both places.
//!
//! Loading is three passes over one parsed document, so that `erpbridge config check`
//! can report *every* problem at once instead of the first one serde meets:
//!
//! 1. **Parse and substitute.** `toml_edit` parses the file keeping byte spans; the
//!    document is converted to a `serde_json::Value`, replacing `${VAR}` in strings on
//!    the way (a missing variable is an error at that string).
//! 2. **Structure.** The value is validated against the JSON Schema with the
//!    `jsonschema` crate, which collects all errors (wrong types, unknown keys with a
//!    "did you mean", missing keys, out-of-range numbers, malformed durations and
//!    addresses) with their instance paths.
//! 3. **Meaning.** Only if the structure is sound is the value deserialised with serde
//!    (which then cannot fail) and checked for what a schema cannot say: duplicate
//!    tenant ids, `interval` and `cron` both set, TTLs outside their allowed range...
//!
//! Every error carries a [`KeyPath`]; the loader walks the parsed document along it to
//! find the line and column, so each rule only has to know *what* is wrong and *where
//! in the model*, never about text positions.

pub mod error;
mod load;
pub mod model;
pub mod path;
mod schema;
pub mod types;
pub mod validate;

pub use error::{ConfigError, ConfigErrors, ErrorKind, Position};
pub use load::EnvLookup;
pub use model::*;
pub use path::{KeyPath, Segment};
pub use types::{ApiKey, ApiKeyError, Secret};
pub use validate::Issues;

use load::{Found, Spans, Target};
use std::path::Path;

/// The demo tenant's API key in the embedded default. Only for trying the hub out.
pub const DEMO_API_KEY: &str = "demo-api-key";
/// The operator key in the embedded default. Only for trying the hub out.
pub const DEMO_OPERATOR_KEY: &str = "demo-operator-key";

impl Config {
    /// Reads, substitutes (`${VAR}` from the process environment) and validates a
    /// configuration file. Errors name the file as given.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text, &origin),
            Err(e) => Err(ConfigErrors::new(vec![ConfigError {
                origin,
                path: KeyPath::root(),
                position: None,
                kind: ErrorKind::Io(e.to_string()),
            }])),
        }
    }

    /// Parses and validates TOML text, taking `${VAR}` from the process environment.
    /// `origin` names the text in errors (a file name).
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        Self::from_toml_with_env(text, origin, &|name| std::env::var(name).ok())
    }

    /// As [`Config::from_toml`], with variables from `env` instead of the process
    /// environment.
    pub fn from_toml_with_env(
        text: &str,
        origin: &str,
        env: EnvLookup<'_>,
    ) -> Result<Config, ConfigErrors> {
        let doc = match toml_edit::Document::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                let position = e.span().map(|s| Position::of_offset(text, s.start));
                return Err(ConfigErrors::new(vec![ConfigError {
                    origin: origin.to_owned(),
                    path: KeyPath::root(),
                    position,
                    kind: ErrorKind::Syntax(e.message().to_owned()),
                }]));
            }
        };
        let mut found = Vec::new();
        let value = load::to_json(&doc, env, &mut found);
        let result = Self::check_value(value, &mut found);
        let spans = Spans::new(&doc);
        let locate = |f: Found| ConfigError {
            origin: origin.to_owned(),
            position: spans
                .locate(&f.path, f.target)
                .map(|s| Position::of_offset(text, s.start))
                .or(Some(Position { line: 1, column: 1 })),
            path: f.path,
            kind: f.kind,
        };
        match result {
            Some(config) if found.is_empty() => Ok(config),
            _ => Err(ConfigErrors::new(found.into_iter().map(locate).collect())),
        }
    }

    /// The structural and semantic passes over an already converted value. Returns the
    /// typed config when the structure is sound; problems go to `found`.
    fn check_value(value: serde_json::Value, found: &mut Vec<Found>) -> Option<Config> {
        // A string whose variable is missing was substituted incompletely; schema errors
        // about that same string would only repeat the real problem.
        let env_broken: Vec<KeyPath> = found.iter().map(|f| f.path.clone()).collect();
        let mut structural = Vec::new();
        schema::check(&value, &mut structural);
        structural.retain(|f| !env_broken.contains(&f.path));
        let structure_ok = structural.is_empty();
        found.extend(structural);
        if !structure_ok {
            return None;
        }
        let config: Config = match serde_json::from_value(value) {
            Ok(c) => c,
            Err(e) => {
                // The schema is derived from these types, so this means a mismatch
                // between a hand-written schema and its serde impl: report, don't panic.
                found.push(Found {
                    path: KeyPath::root(),
                    target: Target::Value,
                    kind: ErrorKind::Invalid(e.to_string()),
                });
                return None;
            }
        };
        let mut issues = Issues::new();
        config.validate(&mut issues);
        found.extend(issues.into_vec().into_iter().map(|(path, message)| Found {
            path,
            target: Target::Value,
            kind: ErrorKind::Invalid(message),
        }));
        Some(config)
    }

    /// Runs the structural and semantic checks on a configuration built in code (the
    /// embedded default, a test's). Errors carry key paths but no positions.
    pub fn validate_all(&self, origin: &str) -> Result<(), ConfigErrors> {
        let mut found = Vec::new();
        match serde_json::to_value(self) {
            Ok(value) => {
                Self::check_value(value, &mut found);
            }
            Err(e) => found.push(Found {
                path: KeyPath::root(),
                target: Target::Value,
                kind: ErrorKind::Invalid(e.to_string()),
            }),
        }
        if found.is_empty() {
            return Ok(());
        }
        Err(ConfigErrors::new(
            found
                .into_iter()
                .map(|f| ConfigError {
                    origin: origin.to_owned(),
                    path: f.path,
                    position: None,
                    kind: f.kind,
                })
                .collect(),
        ))
    }

    /// The configuration `erpbridge serve` runs without `--config`: SQLite under
    /// `./erpbridge-data`, API on 127.0.0.1:8080, operator key [`DEMO_OPERATOR_KEY`],
    /// and one tenant `demo` on the simulated ERP with 10,000 articles and API key
    /// [`DEMO_API_KEY`].
    pub fn embedded_default() -> Config {
        Config {
            server: ServerConfig {
                operator_key: Some(Secret::new(DEMO_OPERATOR_KEY)),
                ..ServerConfig::default()
            },
            store: StoreConfig::default(),
            outbox: OutboxConfig::default(),
            search: SearchConfig::default(),
            tenants: vec![TenantConfig {
                id: "demo".into(),
                api_keys: vec![ApiKey::Plain(Secret::new(DEMO_API_KEY))],
                provider: ProviderConfig::Sim(SimSettings::default()),
                runtime: RuntimeConfig::default(),
                cache: CacheConfig::default(),
                sync: SyncConfig::default(),
                rate_limit: RateLimitConfig::default(),
            }],
        }
    }

    /// The JSON Schema of the configuration file, as `erpbridge config schema` prints it.
    pub fn json_schema() -> serde_json::Value {
        schema::published()
    }
}
