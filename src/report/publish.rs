//! Atomic publishing: the whole site is written to a temporary directory next to the output and swapped in
//! with one rename, so a reader or a web server never sees a half-written site and a crash leaves the
//! previous one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReportError;

/// Prefix of the temporary sibling directories (swept when a crash left one behind).
const TMP_PREFIX: &str = ".envparity-site-";

/// Writes `files` (site-relative path → bytes) as the new content of `out`.
///
/// On Linux the new tree and the old one are exchanged with `renameat2(RENAME_EXCHANGE)` — one atomic
/// step, `out` always exists; elsewhere (or where the filesystem refuses the exchange) the old tree is
/// renamed away first, which leaves `out` missing for a moment but never half-written.
pub fn publish(files: &BTreeMap<String, Vec<u8>>, out: &Path) -> Result<(), ReportError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|source| ReportError::Write {
        path: parent.clone(),
        source,
    })?;
    sweep(&parent, out);
    let staging = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempdir_in(&parent)
        .map_err(|source| ReportError::Write {
            path: parent.clone(),
            source,
        })?;
    for (rel, bytes) in files {
        let path = staging.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write { path, source })?;
    }
    crash_point();
    // Directories from tempfile are 0700; a web server must be able to read the site.
    set_readable(staging.path());
    let staging = staging.keep();
    if out.exists() {
        if exchange(&staging, out).is_err() {
            let old = parent.join(format!("{TMP_PREFIX}old-{}", std::process::id()));
            std::fs::rename(out, &old).map_err(|source| ReportError::Write {
                path: out.to_path_buf(),
                source,
            })?;
            std::fs::rename(&staging, out).map_err(|source| ReportError::Write {
                path: out.to_path_buf(),
                source,
            })?;
            remove(&old);
            return Ok(());
        }
        // After the exchange, `staging` holds the previous site.
        remove(&staging);
    } else {
        std::fs::rename(&staging, out).map_err(|source| ReportError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    }
    Ok(())
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

/// Test hook: `ENVPARITY_TEST_CRASH_DURING_PUBLISH` aborts the process after the new site is written and
/// before it is swapped in, to prove a crash leaves the previous site.
fn crash_point() {
    if std::env::var_os("ENVPARITY_TEST_CRASH_DURING_PUBLISH").is_some() {
        std::process::abort();
    }
}
