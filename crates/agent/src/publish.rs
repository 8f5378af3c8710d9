//! `erpbridge release publish`: put an artifact and its signed manifest into a feed.
//!
//! Published versions are immutable: publishing a version that exists is refused, so
//! an agent that verified a release never sees it change under the same name. Files
//! land in the order artifact, manifest, signature, index, each atomically.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use ed25519_dalek::SigningKey;

use crate::error::{Error, Result, parse_version};
use crate::feed::{INDEX_FILE, Index, MANIFEST_FILE, SIGNATURE_FILE};
use crate::fsutil;
use crate::keys;
use crate::manifest::{self, FORMAT, Manifest};

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub artifact: PathBuf,
    pub version: String,
    pub channel: String,
    pub feed: PathBuf,
    pub notes: String,
    pub min_agent_version: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub manifest: Manifest,
    pub dir: PathBuf,
}

fn check_channel(channel: &str) -> Result<()> {
    let ok = !channel.is_empty()
        && channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Publish(format!(
            "channel {channel:?} must be letters, digits, '-' or '_'"
        )))
    }
}

pub fn publish(opts: &PublishOptions, key: &SigningKey) -> Result<Published> {
    let version = parse_version(&opts.version)?;
    // The canonical text, so "v2.0" style spellings cannot create a second directory.
    let version_text = version.to_string();
    if let Some(min) = &opts.min_agent_version {
        parse_version(min)?;
    }
    check_channel(&opts.channel)?;
    let artifact_name = opts
        .artifact
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.starts_with('.'))
        .ok_or_else(|| Error::Publish(format!("{}: not a file name", opts.artifact.display())))?
        .to_owned();
    if artifact_name == MANIFEST_FILE || artifact_name == SIGNATURE_FILE {
        return Err(Error::Publish(format!(
            "artifact may not be called {artifact_name}"
        )));
    }

    let channel_dir = opts.feed.join(&opts.channel);
    let dir = channel_dir.join(&version_text);
    if dir.exists() {
        return Err(Error::Publish(format!(
            "{}: version {version_text} is already published; versions are immutable",
            dir.display()
        )));
    }
    fsutil::ensure_dir(&dir)?;

    let dest = dir.join(&artifact_name);
    let digest = fsutil::atomic_copy(&opts.artifact, &dest)?;
    let size = fs::metadata(&dest).map_err(|e| Error::io(&dest, e))?.len();
    let m = Manifest {
        format: FORMAT,
        version: version_text.clone(),
        channel: opts.channel.clone(),
        artifact: artifact_name,
        sha256: hex::encode(digest),
        size,
        created: Utc::now(),
        min_agent_version: opts.min_agent_version.clone(),
        notes: opts.notes.clone(),
        key_id: keys::key_id(&key.verifying_key()),
    };
    let (bytes, sig) = manifest::sign(&m, key)?;
    fsutil::atomic_write(&dir.join(MANIFEST_FILE), &bytes)?;
    fsutil::atomic_write(&dir.join(SIGNATURE_FILE), sig.as_bytes())?;
    add_to_index(&channel_dir, &opts.channel, &version_text)?;
    Ok(Published { manifest: m, dir })
}

fn add_to_index(channel_dir: &Path, channel: &str, version: &str) -> Result<()> {
    let path = channel_dir.join(INDEX_FILE);
    let mut index = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Index>(&bytes)
            .map_err(|e| Error::Publish(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index {
            channel: channel.to_owned(),
            releases: Vec::new(),
        },
        Err(e) => return Err(Error::io(&path, e)),
    };
    if !index.releases.iter().any(|v| v == version) {
        index.releases.push(version.to_owned());
    }
    // Sorted by semver so the file reads naturally; the agent does not rely on it.
    index
        .releases
        .sort_by(|a, b| match (parse_version(a), parse_version(b)) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        });
    let mut bytes = serde_json::to_vec_pretty(&index)
        .map_err(|e| Error::Publish(format!("serialising the index: {e}")))?;
    bytes.push(b'\n');
    fsutil::atomic_write(&path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_writes_verifiable_release_and_refuses_republish() {
        let dir = tempfile::tempdir().unwrap();
        let art = dir.path().join("erpbridge");
        fs::write(&art, b"v2 binary").unwrap();
        let key = keys::generate().unwrap();
        let opts = PublishOptions {
            artifact: art.clone(),
            version: "2.0.0".into(),
            channel: "stable".into(),
            feed: dir.path().join("feed"),
            notes: "second".into(),
            min_agent_version: Some("0.1.0".into()),
        };
        let p = publish(&opts, &key).unwrap();
        let bytes = fs::read(p.dir.join(MANIFEST_FILE)).unwrap();
        let sig = fs::read(p.dir.join(SIGNATURE_FILE)).unwrap();
        let m = manifest::verify(&bytes, &sig, &key.verifying_key(), "2.0.0", "stable").unwrap();
        assert_eq!(m.size, 9);
        assert_eq!(m.sha256, hex::encode(fsutil::sha256_file(&art).unwrap().0));
        assert!(publish(&opts, &key).is_err());

        let idx: Index =
            serde_json::from_slice(&fs::read(dir.path().join("feed/stable/index.json")).unwrap())
                .unwrap();
        assert_eq!(idx.releases, vec!["2.0.0"]);
        let bad = PublishOptions {
            version: "not-semver".into(),
            ..opts
        };
        assert!(publish(&bad, &key).is_err());
    }
}
