//! The release feed: a directory tree that is equally a file share and a static
//! HTTP site.
//!
//! ```text
//! FEED/<channel>/index.json                     {"channel": "stable", "releases": ["1.0.0", "2.0.0"]}
//! FEED/<channel>/<version>/manifest.json        signed manifest (see [`crate::manifest`])
//! FEED/<channel>/<version>/manifest.json.sig
//! FEED/<channel>/<version>/<artifact>           the binary
//! ```
//!
//! `index.json` is an unsigned hint: it only says where to look. Tampering with it can
//! hide releases (the agent then keeps what it has) but cannot get anything installed,
//! because every manifest is verified on its own and binds its version and channel.
//! The publisher writes the index last, so a reader never sees a listed release whose
//! files are not all there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};

pub const INDEX_FILE: &str = "index.json";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SIGNATURE_FILE: &str = "manifest.json.sig";
const MAX_INDEX_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub channel: String,
    pub releases: Vec<String>,
}

/// Where the agent reads the feed from.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    Http {
        base: reqwest::Url,
        client: reqwest::Client,
    },
}

impl Source {
    /// `location` is a path or an `http://`/`https://` URL.
    pub fn new(location: &str, timeout: Duration) -> Result<Self> {
        if location.starts_with("http://") || location.starts_with("https://") {
            let mut base = reqwest::Url::parse(location)
                .map_err(|e| Error::Feed(format!("feed URL {location:?}: {e}")))?;
            // Url::join replaces the last segment unless the base ends in '/'.
            if !base.path().ends_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| Error::Feed(format!("HTTP client: {e}")))?;
            Ok(Source::Http { base, client })
        } else {
            Ok(Source::Dir(PathBuf::from(location)))
        }
    }

    fn url(base: &reqwest::Url, rel: &str) -> Result<reqwest::Url> {
        base.join(rel)
            .map_err(|e| Error::Feed(format!("feed path {rel:?}: {e}")))
    }

    /// Reads a small file (index, manifest, signature), refusing more than `limit`.
    pub async fn get(&self, rel: &str, limit: usize) -> Result<Vec<u8>> {
        match self {
            Source::Dir(root) => {
                let path = root.join(rel);
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| Error::Feed(format!("{}: {e}", path.display())))?;
                if bytes.len() > limit {
                    return Err(Error::Feed(format!("{rel}: larger than {limit} bytes")));
                }
                Ok(bytes)
            }
            Source::Http { base, client } => {
                let url = Self::url(base, rel)?;
                let mut resp = client
                    .get(url.clone())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| Error::Feed(format!("{url}: {e}")))?;
                let mut out = Vec::new();
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| Error::Feed(format!("{url}: {e}")))?
                {
                    if out.len() + chunk.len() > limit {
                        return Err(Error::Feed(format!("{url}: larger than {limit} bytes")));
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(out)
            }
        }
    }

    pub async fn index(&self, channel: &str) -> Result<Index> {
        let bytes = self
            .get(&format!("{channel}/{INDEX_FILE}"), MAX_INDEX_BYTES)
            .await?;
        let index: Index = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Feed(format!("{channel}/{INDEX_FILE} does not parse: {e}")))?;
        if index.channel != channel {
            return Err(Error::Feed(format!(
                "{channel}/{INDEX_FILE} is for channel {:?}",
                index.channel
            )));
        }
        Ok(index)
    }

    /// Streams `rel` into `dest`, hashing as it goes; stops as soon as more than
    /// `max_size` bytes arrive (a manifest states the size, so an oversized download
    /// is already a mismatch). Returns (sha256, size).
    pub async fn download(&self, rel: &str, dest: &Path, max_size: u64) -> Result<([u8; 32], u64)> {
        let mut out = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Error::io(dest, e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let too_big = || {
            Error::Feed(format!(
                "{rel}: larger than the manifest's {max_size} bytes"
            ))
        };
        match self {
            Source::Dir(root) => {
                use tokio::io::AsyncReadExt as _;
                let path = root.join(rel);
                let mut input = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::Feed(format!("{}: {e}", path.display())))?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = input
                        .read(&mut buf)
                        .await
                        .map_err(|e| Error::Feed(format!("{}: {e}", path.display())))?;
                    if n == 0 {
                        break;
                    }
                    size += n as u64;
                    if size > max_size {
                        return Err(too_big());
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n])
                        .await
                        .map_err(|e| Error::io(dest, e))?;
                }
            }
            Source::Http { base, client } => {
                let url = Self::url(base, rel)?;
                let mut resp = client
                    .get(url.clone())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| Error::Feed(format!("{url}: {e}")))?;
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| Error::Feed(format!("{url}: {e}")))?
                {
                    size += chunk.len() as u64;
                    if size > max_size {
                        return Err(too_big());
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| Error::io(dest, e))?;
                }
            }
        }
        out.sync_all().await.map_err(|e| Error::io(dest, e))?;
        Ok((hasher.finalize().into(), size))
    }
}

/// Paths of one release inside the feed, relative to its root.
pub fn release_dir(channel: &str, version: &str) -> String {
    format!("{channel}/{version}")
}
