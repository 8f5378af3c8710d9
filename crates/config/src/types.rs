//! Small value types the configuration is made of: secrets, API keys and the JSON Schema
//! shapes of durations and socket addresses.
//!
//! Their schemas carry the whole syntax (a duration pattern, a custom `format`), so the
//! schema pass reports a bad value with its place, and the later serde pass can no longer
//! fail on them: that is what lets `config check` report every error at once.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// The humantime syntax as a JSON Schema pattern: one or more `<integer><unit>` groups,
/// spaces allowed, units as [`humantime::parse_duration`] accepts them.
pub(crate) const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*(nsec|ns|usec|us|µs|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y)\s*)+$";

/// Custom JSON Schema `format` of a socket address (`127.0.0.1:8080`, `[::1]:8080`).
pub(crate) const FORMAT_SOCKET_ADDR: &str = "socket-address";
/// Custom JSON Schema `format` of an API key: plain text or `sha256:<64 hex digits>`.
pub(crate) const FORMAT_API_KEY: &str = "api-key";
/// Custom JSON Schema `format` of a cron expression (seconds optional).
pub(crate) const FORMAT_CRON: &str = "cron";

/// The schema of a `std::time::Duration` written as a humantime string.
pub struct DurationSchema;

impl JsonSchema for DurationSchema {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: a number and a unit, e.g. \"500ms\", \"30s\", \"15m\", \"1h 30m\".",
            "examples": ["30s", "15m", "1h 30m"],
        })
    }
}

/// The schema of a `std::net::SocketAddr` written as a string.
pub struct SocketAddrSchema;

impl JsonSchema for SocketAddrSchema {
    fn schema_name() -> Cow<'static, str> {
        "SocketAddress".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": FORMAT_SOCKET_ADDR,
            "description": "An IP address and port, e.g. \"127.0.0.1:8080\" or \"[::]:8080\".",
        })
    }
}

/// The schema of a cron expression string.
pub struct CronSchema;

impl JsonSchema for CronSchema {
    fn schema_name() -> Cow<'static, str> {
        "Cron".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": FORMAT_CRON,
            "description": "A cron expression; the seconds field is optional: \"0 */15 * * * *\" or \"*/15 * * * *\".",
        })
    }
}

/// Parses a cron expression the way the schedule runner will (seconds optional).
pub fn parse_cron(expr: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(expr)
}

/// A secret string (password, key). `Debug` and `Display` never show it, so a config can
/// be logged; [`Secret::expose`] is the one door to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call it where the value is used, nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    // Serialising writes the value: `Config` round-trips (the embedded default is checked
    // through the same path as a file). Redact before showing a serialised config.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "A secret. Write \"${VAR}\" to take it from the environment variable VAR.",
        })
    }
}

/// A tenant's API key as configured: the key itself, or only its SHA-256 so the config
/// file does not hold the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKey {
    Plain(Secret),
    Sha256([u8; 32]),
}

/// Why a string is not an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("an API key must not be empty")]
    Empty,
    #[error("\"sha256:\" must be followed by 64 hex digits")]
    BadHash,
}

impl ApiKey {
    pub const HASH_PREFIX: &'static str = "sha256:";

    pub fn parse(text: &str) -> Result<Self, ApiKeyError> {
        if let Some(hex) = text.strip_prefix(Self::HASH_PREFIX) {
            return decode_hex32(hex)
                .map(ApiKey::Sha256)
                .ok_or(ApiKeyError::BadHash);
        }
        if text.is_empty() {
            return Err(ApiKeyError::Empty);
        }
        Ok(ApiKey::Plain(Secret::new(text)))
    }

    /// The SHA-256 a presented key must hash to. Callers hash the presented bearer token
    /// and compare digests, so plain and hashed keys are checked the same way.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            ApiKey::Sha256(d) => *d,
            ApiKey::Plain(s) => sha256(s.expose().as_bytes()),
        }
    }

    /// Whether `presented` is this key, comparing digests in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let want = self.digest();
        let got = sha256(presented.as_bytes());
        want.iter()
            .zip(got.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiKey::Plain(_) => f.write_str("ApiKey(***)"),
            ApiKey::Sha256(_) => f.write_str("ApiKey(sha256:…)"),
        }
    }
}

impl Serialize for ApiKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ApiKey::Plain(secret) => s.serialize_str(secret.expose()),
            ApiKey::Sha256(d) => {
                let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                s.serialize_str(&format!("{}{hex}", Self::HASH_PREFIX))
            }
        }
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ApiKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ApiKey {
    fn schema_name() -> Cow<'static, str> {
        "ApiKey".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": FORMAT_API_KEY,
            "description": "An API key: the key itself (\"${VAR}\" takes it from the environment) or \"sha256:\" and the 64 hex digits of its SHA-256.",
        })
    }
}
