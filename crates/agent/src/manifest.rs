//! The release manifest and its signature.
//!
//! # What is signed
//!
//! The signature covers the **exact bytes of the `manifest.json` file** as published,
//! prefixed by the domain-separation string [`SIGNING_CONTEXT`]
//! (`"erpbridge-release-manifest-v1\n"`, 30 bytes):
//!
//! ```text
//! message   = b"erpbridge-release-manifest-v1\n" || bytes(manifest.json)
//! signature = Ed25519-sign(secret key, message)            (RFC 8032, pure Ed25519)
//! manifest.json.sig = base64(signature, 64 bytes) + "\n"
//! ```
//!
//! Signing the file bytes rather than a re-serialisation means there is no JSON
//! canonicalisation to get wrong: the agent verifies the bytes it downloaded before
//! it parses a single field, and whatever it then parses is what was signed. The
//! prefix keeps a manifest signature from being valid for any other kind of message
//! signed with the same key. Verification uses `verify_strict` (rejects weak keys and
//! malleable signatures).
//!
//! The manifest binds the artifact by sha256 and size, and binds itself to its
//! version and channel, so a correctly signed manifest cannot be replayed under
//! another version or channel directory of the feed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const SIGNING_CONTEXT: &[u8] = b"erpbridge-release-manifest-v1\n";
pub const FORMAT: u32 = 1;
/// Larger manifests are refused before any parsing (they are a few hundred bytes).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// A published release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format; this agent reads [`FORMAT`].
    pub format: u32,
    pub version: String,
    pub channel: String,
    /// File name of the artifact, in the same feed directory as the manifest.
    pub artifact: String,
    /// Lowercase hex sha256 of the artifact.
    pub sha256: String,
    pub size: u64,
    pub created: DateTime<Utc>,
    /// Oldest agent that may install this release; a newer release format or step may
    /// need a newer agent.
    pub min_agent_version: Option<String>,
    pub notes: String,
    /// Id of the signing key ([`crate::keys::key_id`]); informational only.
    pub key_id: String,
}

fn message(manifest_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + manifest_bytes.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(manifest_bytes);
    m
}

/// Serialises `manifest` (pretty JSON, trailing newline) and signs those bytes.
/// Returns (manifest.json bytes, manifest.json.sig text).
pub fn sign(manifest: &Manifest, key: &SigningKey) -> Result<(Vec<u8>, String)> {
    let mut bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Publish(format!("serialising the manifest: {e}")))?;
    bytes.push(b'\n');
    let sig = key.sign(&message(&bytes));
    Ok((bytes, format!("{}\n", STANDARD.encode(sig.to_bytes()))))
}

/// Checks the signature over `bytes`, then parses them. `expected_version` is the
/// version the feed listed the manifest under; name is used in errors.
pub fn verify(
    bytes: &[u8],
    sig_text: &[u8],
    key: &VerifyingKey,
    expected_version: &str,
    expected_channel: &str,
) -> Result<Manifest> {
    let reject = |reason: String| Error::Rejected {
        version: expected_version.to_owned(),
        reason,
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(reject(format!(
            "manifest larger than {MAX_MANIFEST_BYTES} bytes"
        )));
    }
    let sig_text = std::str::from_utf8(sig_text)
        .map_err(|_| reject("signature file is not text".into()))?
        .trim();
    if sig_text.is_empty() {
        return Err(reject("unsigned: the signature file is empty".into()));
    }
    let sig_bytes = STANDARD
        .decode(sig_text)
        .map_err(|e| reject(format!("signature is not base64: {e}")))?;
    let sig_bytes: [u8; 64] = sig_bytes
        .try_into()
        .map_err(|v: Vec<u8>| reject(format!("signature has {} bytes, not 64", v.len())))?;
    key.verify_strict(&message(bytes), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| reject("bad signature: not signed by the pinned release key".into()))?;
    // Only signed bytes are parsed.
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| reject(format!("signed manifest does not parse: {e}")))?;
    if manifest.format != FORMAT {
        return Err(reject(format!(
            "manifest format {} is not {FORMAT}",
            manifest.format
        )));
    }
    if manifest.version != expected_version {
        return Err(reject(format!(
            "manifest is for version {}, listed as {expected_version}",
            manifest.version
        )));
    }
    if manifest.channel != expected_channel {
        return Err(reject(format!(
            "manifest is for channel {}, not {expected_channel}",
            manifest.channel
        )));
    }
    if manifest.artifact.contains('/')
        || manifest.artifact.contains('\\')
        || manifest.artifact.starts_with('.')
        || manifest.artifact.is_empty()
    {
        return Err(reject(format!(
            "artifact name {:?} is not a plain file name",
            manifest.artifact
        )));
    }
    if manifest.sha256.len() != 64 || hex::decode(&manifest.sha256).is_err() {
        return Err(reject("sha256 is not 64 hex digits".into()));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    fn sample(key: &SigningKey) -> Manifest {
        Manifest {
            format: FORMAT,
            version: "2.0.0".into(),
            channel: "stable".into(),
            artifact: "erpbridge".into(),
            sha256: "00".repeat(32),
            size: 3,
            created: Utc::now(),
            min_agent_version: None,
            notes: "n".into(),
            key_id: keys::key_id(&key.verifying_key()),
        }
    }

    #[test]
    fn signed_manifest_verifies_and_any_change_breaks_it() {
        let key = keys::generate().unwrap();
        let m = sample(&key);
        let (bytes, sig) = sign(&m, &key).unwrap();
        let vk = key.verifying_key();
        assert_eq!(
            verify(&bytes, sig.as_bytes(), &vk, "2.0.0", "stable").unwrap(),
            m
        );

        let mut flipped = bytes.clone();
        let i = flipped.iter().position(|b| *b == b'2').unwrap();
        flipped[i] = b'9';
        assert!(verify(&flipped, sig.as_bytes(), &vk, "2.0.0", "stable").is_err());
        // Even whitespace is covered: the bytes are signed, not the meaning.
        let mut spaced = bytes.clone();
        spaced.insert(1, b' ');
        assert!(verify(&spaced, sig.as_bytes(), &vk, "2.0.0", "stable").is_err());

        let other = keys::generate().unwrap();
        let (_, other_sig) = sign(&m, &other).unwrap();
        let err = verify(&bytes, other_sig.as_bytes(), &vk, "2.0.0", "stable").unwrap_err();
        assert!(err.to_string().contains("bad signature"), "{err}");
        assert!(verify(&bytes, b"", &vk, "2.0.0", "stable").is_err());
    }

    #[test]
    fn binding_to_version_and_channel_is_checked() {
        let key = keys::generate().unwrap();
        let (bytes, sig) = sign(&sample(&key), &key).unwrap();
        let vk = key.verifying_key();
        assert!(verify(&bytes, sig.as_bytes(), &vk, "3.0.0", "stable").is_err());
        assert!(verify(&bytes, sig.as_bytes(), &vk, "2.0.0", "beta").is_err());
    }
}
