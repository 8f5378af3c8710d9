//! Connector tokens and transport policy.
//!
//! The hub never stores a token, only its SHA-256: a leaked hub config does not let
//! anyone impersonate a connector. Presented tokens are hashed and compared digest to
//! digest in constant time, so the comparison leaks nothing about how close a guess was.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a connector token.
pub type TokenDigest = [u8; 32];

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `presented` hashes to `want`, in constant time.
pub fn matches(want: &TokenDigest, presented: &TokenDigest) -> bool {
    want.ct_eq(presented).into()
}

/// The bearer token of an `authorization` header value, if it is one.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether a URL's host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`):
/// the only place plain HTTP/2 is acceptable without an explicit opt-in, since the
/// token and all ERP data cross that connection.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let want = digest("s3cret");
        assert!(matches(&want, &digest("s3cret")));
        assert!(!matches(&want, &digest("s3cret ")));
        assert!(!matches(&want, &digest("")));
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "::1",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "hub.example.com",
            "0.0.0.0",
            "[::]",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
