//! Release signing keys: ed25519, stored as one line of text each.
//!
//! File format (both files are one line, ASCII, ending in `\n`):
//!
//! ```text
//! release.key  (mode 0600):  erpbridge-release-secret-key-ed25519-v1 <base64 of the 32-byte seed>
//! release.pub:               erpbridge-release-public-key-ed25519-v1 <base64 of the 32-byte public key>
//! ```
//!
//! Base64 is the standard alphabet with padding. The tag says what the file is, so a
//! public key passed where the secret one is expected (or the reverse) fails with a
//! message rather than silently producing a different key. The key id shown in
//! manifests and logs is the first 16 hex digits of sha256 of the public key bytes.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::TryRngCore as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsutil;

pub const SECRET_TAG: &str = "erpbridge-release-secret-key-ed25519-v1";
pub const PUBLIC_TAG: &str = "erpbridge-release-public-key-ed25519-v1";
pub const SECRET_FILE: &str = "release.key";
pub const PUBLIC_FILE: &str = "release.pub";

/// A fresh signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| Error::Key {
            path: PathBuf::new(),
            reason: format!("no randomness from the operating system: {e}"),
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `release.key` (0600) and `release.pub` into `dir`; refuses to overwrite an
/// existing secret key, since losing it would orphan every agent that pins it.
pub fn write_keypair(dir: &Path, key: &SigningKey) -> Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    fsutil::ensure_dir(dir)?;
    let secret = dir.join(SECRET_FILE);
    let public = dir.join(PUBLIC_FILE);
    if secret.exists() {
        return Err(Error::Key {
            path: secret,
            reason: "already exists; refusing to overwrite a signing key".into(),
        });
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&secret)
        .map_err(|e| Error::io(&secret, e))?;
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(&secret, e))?;
    use std::io::Write as _;
    writeln!(f, "{SECRET_TAG} {}", STANDARD.encode(key.to_bytes()))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&secret, e))?;
    fsutil::atomic_write(&public, public_key_text(&key.verifying_key()).as_bytes())?;
    Ok((secret, public))
}

/// The text of a `release.pub` file for `key`.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_TAG} {}\n", STANDARD.encode(key.to_bytes()))
}

fn read_tagged(path: &Path, tag: &str) -> Result<[u8; 32]> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Key {
        path: path.to_owned(),
        reason,
    };
    let mut parts = text.split_whitespace();
    let found = parts.next().unwrap_or("");
    if found != tag {
        return Err(bad(format!(
            "expected a line starting with {tag}, found {found:?}"
        )));
    }
    let b64 = parts
        .next()
        .ok_or_else(|| bad("the key is missing after the tag".into()))?;
    if parts.next().is_some() {
        return Err(bad("unexpected text after the key".into()));
    }
    let bytes = STANDARD
        .decode(b64)
        .map_err(|e| bad(format!("not base64: {e}")))?;
    bytes
        .try_into()
        .map_err(|v: Vec<u8>| bad(format!("expected 32 bytes, found {}", v.len())))
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    Ok(SigningKey::from_bytes(&read_tagged(path, SECRET_TAG)?))
}

pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let bytes = read_tagged(path, PUBLIC_TAG)?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| Error::Key {
        path: path.to_owned(),
        reason: format!("not a valid ed25519 public key: {e}"),
    })
}

/// Short, stable identifier of a public key (for manifests and logs; never trusted).
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.to_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypair_round_trips_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        let (secret, public) = write_keypair(dir.path(), &key).unwrap();
        assert_eq!(
            read_signing_key(&secret).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert_eq!(read_verifying_key(&public).unwrap(), key.verifying_key());
        assert!(write_keypair(dir.path(), &generate().unwrap()).is_err());
        // A public key where the secret one is expected is named as such.
        let err = read_signing_key(&public).unwrap_err().to_string();
        assert!(err.contains(SECRET_TAG), "{err}");
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(
            generate().unwrap().to_bytes(),
            generate().unwrap().to_bytes()
        );
    }
}
