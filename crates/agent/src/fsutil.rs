//! Crash-safe file operations. Every file the agent or the publisher changes is
//! written beside its destination, fsynced, renamed over it and the directory fsynced:
//! after a crash at any instant the destination is either the old or the new file,
//! complete, never a truncated mix and never missing.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A temp name in `dest`'s own directory: rename is only atomic within a filesystem.
fn temp_beside(dest: &Path) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::io(dest, std::io::Error::other("path has no file name")))?;
    let mut tmp = name.to_os_string();
    tmp.push(format!(".tmp-{}", std::process::id()));
    Ok(dest.with_file_name(tmp))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename or create in `dir` durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Writes `bytes` to `dest` atomically and durably.
pub fn atomic_write(dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(dest)?;
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
        fsync_dir(parent_of(dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copies `src` over `dest` atomically and durably, keeping `src`'s permission bits
/// (an executable stays executable). Returns the sha256 of what was written.
pub fn atomic_copy(src: &Path, dest: &Path) -> Result<[u8; 32]> {
    let (tmp, digest) = stage_beside(src, dest)?;
    rename_into(&tmp, dest)?;
    Ok(digest)
}

/// First half of [`atomic_copy`]: a complete, fsynced copy of `src` in a temp file
/// beside `dest`, so the later swap is a rename only (the agent does this while the
/// service still runs, keeping the copy out of the downtime).
pub fn stage_beside(src: &Path, dest: &Path) -> Result<(PathBuf, [u8; 32])> {
    let tmp = temp_beside(dest)?;
    let result = (|| {
        let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
        let perms = input
            .metadata()
            .map_err(|e| Error::io(src, e))?
            .permissions();
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = input.read(&mut buf).map_err(|e| Error::io(src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
        }
        out.set_permissions(perms).map_err(|e| Error::io(&tmp, e))?;
        out.sync_all().map_err(|e| Error::io(&tmp, e))?;
        Ok(hasher.finalize().into())
    })();
    match result {
        Ok(digest) => Ok((tmp, digest)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Second half of [`atomic_copy`]: rename the staged file over `dest`, then make the
/// rename durable.
pub fn rename_into(tmp: &Path, dest: &Path) -> Result<()> {
    if let Err(e) = fs::rename(tmp, dest) {
        let _ = fs::remove_file(tmp);
        return Err(Error::io(dest, e));
    }
    fsync_dir(parent_of(dest))
}

/// Removes temp files [`stage_beside`] left beside `dest` when the process died
/// before renaming them (they are complete copies, but never the installed binary).
pub fn remove_stale_temps(dest: &Path) {
    let (Some(name), Ok(rd)) = (dest.file_name(), fs::read_dir(parent_of(dest))) else {
        return;
    };
    let mut prefix = name.to_os_string();
    prefix.push(".tmp-");
    let prefix = prefix.as_encoded_bytes().to_vec();
    for entry in rd.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// sha256 and size of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<([u8; 32], u64)> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().into(), size))
}

/// Creates a directory and its parents.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        atomic_write(&dest, b"one").unwrap();
        atomic_write(&dest, b"two").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_copy_keeps_mode_and_reports_digest() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"binary").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
        let dest = dir.path().join("dest");
        let digest = atomic_copy(&src, &dest).unwrap();
        assert_eq!(digest, sha256_file(&src).unwrap().0);
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(atomic_copy(&dir.path().join("missing"), &dest).is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"binary");
    }
}
