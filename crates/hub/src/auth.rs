//! API keys.
//!
//! Keys are held only as SHA-256 hashes: a configuration may give a key in clear (then it
//! is hashed at load and the clear text dropped) or as `sha256:<hex>`. A presented
//! Bearer token is hashed once and compared with every configured hash of the scope in
//! constant time ([`subtle`]), so neither the comparison nor the early exit of a loop
//! tells an attacker how close a guess was.
//!
//! Scopes: a tenant's keys open `/v1/tenants/{that tenant}/...` and nothing else; the
//! operator keys open `/api/erp/...`. A valid key of tenant A on tenant B gets the same
//! 404 as a tenant that does not exist, so keys cannot be used to probe tenant names.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::Problem;

/// The SHA-256 hash of an API key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a hash is not printed in full: logs are not a place for credentials.
        write!(f, "KeyHash({}…)", &hex::encode(self.0)[..8])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("an API key must not be empty")]
    Empty,
    #[error("`sha256:` must be followed by 64 hex digits")]
    BadHash,
}

impl KeyHash {
    /// Hashes a key given in clear.
    pub fn of(key: &str) -> Self {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// A SHA-256 digest computed elsewhere (e.g. by the configuration loader).
    pub fn from_digest(digest: [u8; 32]) -> Self {
        KeyHash(digest)
    }

    /// Reads a configured key: `sha256:<64 hex>` is a hash, anything else a clear key.
    pub fn parse(configured: &str) -> Result<Self, KeyError> {
        if configured.is_empty() {
            return Err(KeyError::Empty);
        }
        match configured.strip_prefix("sha256:") {
            Some(digits) => {
                let bytes = hex::decode(digits).map_err(|_| KeyError::BadHash)?;
                let array: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadHash)?;
                Ok(KeyHash(array))
            }
            None => Ok(Self::of(configured)),
        }
    }

    pub fn to_config_string(&self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Whether `presented` is one of `keys`, looking at every key (no early exit).
pub fn any_matches(keys: &[KeyHash], presented: &KeyHash) -> bool {
    keys.iter()
        .fold(subtle::Choice::from(0), |acc, key| {
            acc | key.0.ct_eq(&presented.0)
        })
        .into()
}

/// The hash of the Bearer token of a request, or the 401 to answer.
pub fn bearer(headers: &HeaderMap) -> Result<KeyHash, Problem> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        Problem::unauthorized("an `Authorization: Bearer <key>` header is required")
    })?;
    let value = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not valid text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Problem::unauthorized("the Authorization header must be `Bearer <key>`"))?;
    Ok(KeyHash::of(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_and_hashed_keys_are_the_same_key() {
        let clear = KeyHash::parse("s3cret").unwrap();
        let hashed = KeyHash::parse(&clear.to_config_string()).unwrap();
        assert!(clear.matches(&hashed));
        assert!(!clear.matches(&KeyHash::of("s3cret ")));
        assert_eq!(KeyHash::parse("sha256:abcd"), Err(KeyError::BadHash));
        assert_eq!(KeyHash::parse(""), Err(KeyError::Empty));
    }

    #[test]
    fn any_matches_finds_a_key_in_any_position() {
        let keys = vec![KeyHash::of("a"), KeyHash::of("b"), KeyHash::of("c")];
        assert!(any_matches(&keys, &KeyHash::of("c")));
        assert!(any_matches(&keys, &KeyHash::of("a")));
        assert!(!any_matches(&keys, &KeyHash::of("d")));
        assert!(!any_matches(&[], &KeyHash::of("a")));
    }

    #[test]
    fn bearer_requires_the_scheme_and_a_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers).unwrap_err().status, 401);
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers).unwrap_err().status, 401);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&headers).unwrap_err().status, 401);
        headers.insert(header::AUTHORIZATION, "Bearer k1".parse().unwrap());
        assert!(bearer(&headers).unwrap().matches(&KeyHash::of("k1")));
    }
}
