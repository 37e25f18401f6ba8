//! Atomic publishing: the whole site is written to a temporary directory next to the output and swapped in
//! with one rename, so a reader or a web server never sees a half-written site and a crash leaves the
//! previous one.

use std::path::{Path, PathBuf};

use super::ReportError;

/// Fail point (exists only in builds with the `failpoints` feature): configured to return
/// (`FAILPOINTS=publish-abort-before-swap=return`), [`Staging::commit`] aborts the process after the new
/// site is written and before it is swapped in, to prove a crash leaves the previous site.
pub const CRASH_BEFORE_SWAP: &str = "publish-abort-before-swap";

/// Prefix of the temporary sibling directories (swept when a crash left one behind).
const TMP_PREFIX: &str = ".envparity-site-";

/// A site being written: files go into a temporary directory next to the output as they are rendered
/// (a large site is never held in memory), and [`Staging::commit`] swaps it in.
pub struct Staging {
    dir: tempfile::TempDir,
    parent: PathBuf,
    out: PathBuf,
}

impl Staging {
    /// Starts a new site for `out` (sweeping temporary directories a crash left behind).
    pub fn new(out: &Path) -> Result<Staging, ReportError> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| ReportError::Write {
            path: parent.clone(),
            source,
        })?;
        sweep(&parent, out);
        let dir = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(&parent)
            .map_err(|source| ReportError::Write {
                path: parent.clone(),
                source,
            })?;
        Ok(Staging {
            dir,
            parent,
            out: out.to_path_buf(),
        })
    }

    /// Swaps the new site in for the old one.
    ///
    /// On Linux the two trees are exchanged with `renameat2(RENAME_EXCHANGE)` — one atomic step, `out`
    /// always exists; elsewhere (or where the filesystem refuses the exchange) the old tree is renamed away
    /// first, which leaves `out` missing for a moment but never half-written.
    pub fn commit(self) -> Result<(), ReportError> {
        // Test builds only: die with the new site written but not swapped in (the previous one must stay).
        fail::fail_point!(CRASH_BEFORE_SWAP, |_| std::process::abort());
        // Directories from tempfile are 0700; a web server must be able to read the site.
        set_readable(self.dir.path());
        let staging = self.dir.keep();
        let out = self.out.as_path();
        let write_err = |source| ReportError::Write {
            path: out.to_path_buf(),
            source,
        };
        if !out.exists() {
            return std::fs::rename(&staging, out).map_err(write_err);
        }
        if exchange(&staging, out).is_ok() {
            // After the exchange, `staging` holds the previous site.
            remove(&staging);
            return Ok(());
        }
        let old = self
            .parent
            .join(format!("{TMP_PREFIX}old-{}", std::process::id()));
        std::fs::rename(out, &old).map_err(write_err)?;
        std::fs::rename(&staging, out).map_err(write_err)?;
        remove(&old);
        Ok(())
    }
}

impl super::Sink for Staging {
    fn put(&mut self, rel: String, bytes: Vec<u8>) -> Result<(), ReportError> {
        let path = self.dir.path().join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write { path, source })
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

fn set_readable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove the previous site");
    }
}

/// Removes temporary directories a crashed publish left next to `out`.
fn sweep(parent: &Path, out: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        // Only stale ones: a publish running right now in another process keeps its directory.
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(600));
        if stale && name.to_string_lossy().starts_with(TMP_PREFIX) && entry.path() != out {
            remove(&entry.path());
        }
    }
}
