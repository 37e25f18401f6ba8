//! Atomic publishing: the whole site is written to a temporary directory next to the output and swapped in
//! with one rename, so a reader or a web server never sees a half-written site and a crash leaves the
//! previous one.
//!
//! Swapping replaces a whole directory, so `out` is checked first: a mistyped `--out` must never delete
//! an unrelated directory. `out` is replaced only when it is missing, empty, or holds a site envparity
//! published (its [`MARKER`] file, or for sites published before the marker existed the brand link every
//! page carries); never when it is or contains the state directory or one of its entries. Files in `out` that envparity did not write
//! (a README beside the site) are carried over into the new site.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::ReportError;

/// Fail point (exists only in builds with the `failpoints` feature): configured to return
/// (`FAILPOINTS=publish-abort-before-swap=return`), [`Staging::commit`] aborts the process after the new
/// site is written and before it is swapped in, to prove a crash leaves the previous site.
pub const CRASH_BEFORE_SWAP: &str = "publish-abort-before-swap";

/// Fail point (exists only in builds with the `failpoints` feature), evaluated after each file is written
/// to the staging directory: armed as `N*off->sleep(MS)`, the publish stalls with N+1 files staged, for a
/// test to kill it mid-write.
pub const AFTER_STAGED_FILE: &str = "publish-after-staged-file";

/// Prefix of the temporary sibling directories (swept when a crash left one behind).
const TMP_PREFIX: &str = ".envparity-site-";

/// The file that marks a directory as a site envparity published; it lists the files envparity wrote
/// there, one per line after its first line, so the next publish knows which files are its own.
pub const MARKER: &str = ".envparity-site";

/// First line of [`MARKER`].
const MARKER_HEAD: &str = "envparity report site: the files listed below are replaced by the next \
                           `envparity report`; any other file here is kept.";

/// In sites published before [`MARKER`] existed, `index.html` carries envparity's brand link (from
/// `templates/base.html`), which recognises them.
const OLD_SITE_BRAND: &str = r#"<a class="brand" href="index.html">envparity</a>"#;

/// What sites published before [`MARKER`] wrote at their top level, besides what the new site writes (a
/// service page the new site no longer has still lies under `services/`).
const OLD_SITE_TOPS: [&str; 7] = [
    "index.html",
    "history.html",
    "style.css",
    "services",
    "rules",
    "charts",
    "data",
];

/// What envparity keeps in the state directory (`pipeline::State`, the daemon's lock). The site may be a
/// directory of its own inside the state directory (`deploy/` gives state and site one volume:
/// `/var/lib/envparity/site`), never the state directory itself, one containing it, or one of these.
const STATE_ENTRIES: [&str; 7] = [
    "history.sqlite",
    "history.sqlite-wal",
    "history.sqlite-shm",
    "cache",
    "mirrors",
    "daemon.lock",
    "locks",
];

/// The contents of [`MARKER`] for a site of `files`.
pub fn marker<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut text = format!("{MARKER_HEAD}\n");
    for f in files.into_iter().filter(|f| *f != MARKER) {
        text.push_str(f);
        text.push('\n');
    }
    text.into_bytes()
}

/// What `out` holds before a publish.
#[derive(Debug)]
enum Previous {
    /// Nothing (missing or empty): nothing to keep.
    Nothing,
    /// A site with a [`MARKER`]: the files it lists are envparity's.
    Marked(BTreeSet<String>),
    /// A site published before the marker: what the new site writes into (by first path component) is
    /// envparity's.
    Unmarked,
}

/// A site being written: files go into a temporary directory next to the output as they are rendered
/// (a large site is never held in memory), and [`Staging::commit`] swaps it in.
pub struct Staging {
    dir: tempfile::TempDir,
    /// An exclusive `flock` on `dir` while this publish lives (`None` where the filesystem has no locks):
    /// [`sweep`] leaves a held staging directory alone and removes one whose publish died.
    _lock: Option<std::fs::File>,
    parent: PathBuf,
    out: PathBuf,
    previous: Previous,
    written: BTreeSet<String>,
}

impl Staging {
    /// Starts a new site for `out` (sweeping temporary directories a crash left behind); refuses an `out`
    /// that overlaps `state_dir` or holds something other than an envparity site.
    pub fn new(out: &Path, state_dir: &Path) -> Result<Staging, ReportError> {
        let (o, s) = (
            crate::input::resolved_path(out),
            crate::input::resolved_path(state_dir),
        );
        let into_own_entry = o
            .strip_prefix(&s)
            .ok()
            .and_then(|rel| rel.components().next())
            .is_none_or(|first| STATE_ENTRIES.iter().any(|e| first.as_os_str() == *e));
        if s.starts_with(&o) || (o.starts_with(&s) && into_own_entry) {
            return Err(ReportError::OverlapsState {
                out: out.to_path_buf(),
                state: state_dir.to_path_buf(),
            });
        }
        let previous = previous(out)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| ReportError::Write {
            path: parent.clone(),
            source,
        })?;
        sweep(&parent, out);
        let (dir, lock) = locked_tempdir(&parent)?;
        Ok(Staging {
            dir,
            _lock: lock,
            parent,
            out: out.to_path_buf(),
            previous,
            written: BTreeSet::new(),
        })
    }

    /// Swaps the new site in for the old one.
    ///
    /// On Linux the two trees are exchanged with `renameat2(RENAME_EXCHANGE)` — one atomic step, `out`
    /// always exists; elsewhere (or where the filesystem refuses the exchange) the old tree is renamed away
    /// first, which leaves `out` missing for a moment but never half-written.
    ///
    /// Before the swap, files of the previous `out` that envparity did not write are carried over, and
    /// every file and directory of the new tree is fsynced: after a power loss the swapped-in site is
    /// whole, not a directory of empty files.
    pub fn commit(self) -> Result<(), ReportError> {
        self.carry_over()?;
        // Test builds only: die with the new site written but not swapped in (the previous one must stay).
        fail::fail_point!(CRASH_BEFORE_SWAP, |_| std::process::abort());
        // Directories from tempfile are 0700; a web server must be able to read the site.
        set_readable(self.dir.path());
        sync_dirs(self.dir.path()).map_err(|source| ReportError::Write {
            path: self.dir.path().to_path_buf(),
            source,
        })?;
        let staging = self.dir.keep();
        let out = self.out.as_path();
        let write_err = |source| ReportError::Write {
            path: out.to_path_buf(),
            source,
        };
        if !out.exists() {
            std::fs::rename(&staging, out).map_err(write_err)?;
            sync_dir(&self.parent);
            return Ok(());
        }
        if exchange(&staging, out).is_ok() {
            sync_dir(&self.parent);
            // After the exchange, `staging` holds the previous site.
            remove(&staging);
            return Ok(());
        }
        let old = self
            .parent
            .join(format!("{TMP_PREFIX}old-{}", std::process::id()));
        std::fs::rename(out, &old).map_err(write_err)?;
        std::fs::rename(&staging, out).map_err(write_err)?;
        sync_dir(&self.parent);
        remove(&old);
        Ok(())
    }

    /// Copies (hard-links where it can) into the staging directory every file of the previous `out` that
    /// envparity did not write and the new site does not write either.
    fn carry_over(&self) -> Result<(), ReportError> {
        let tops: BTreeSet<&str> = self
            .written
            .iter()
            .map(|f| f.split('/').next().unwrap_or(f))
            .chain(OLD_SITE_TOPS)
            .collect();
        let ours = |rel: &str| match &self.previous {
            Previous::Nothing => false,
            Previous::Marked(listed) => rel == MARKER || listed.contains(rel),
            Previous::Unmarked => tops.contains(rel.split('/').next().unwrap_or(rel)),
        };
        if matches!(self.previous, Previous::Nothing) {
            return Ok(());
        }
        let mut foreign = Vec::new();
        walk(&self.out, "", &mut foreign).map_err(|source| ReportError::Write {
            path: self.out.clone(),
            source,
        })?;
        for rel in foreign.into_iter().filter(|r| !ours(r)) {
            if self.written.contains(&rel) {
                tracing::warn!(file = %rel, out = %self.out.display(), "a file envparity did not write has the name of a site file; the site's replaces it");
                continue;
            }
            let (from, to) = (self.out.join(&rel), self.dir.path().join(&rel));
            copy_entry(&from, &to).map_err(|source| ReportError::Write { path: to, source })?;
        }
        Ok(())
    }
}

/// What `out` holds; an error when it is something a publish must not replace.
fn previous(out: &Path) -> Result<Previous, ReportError> {
    let refuse = |why: &'static str| ReportError::NotASite {
        out: out.to_path_buf(),
        why,
    };
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Previous::Nothing),
        Err(source) => {
            return Err(ReportError::Write {
                path: out.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        return Err(refuse("it is not a directory"));
    }
    let read_err = |source| ReportError::Write {
        path: out.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(out).map_err(read_err)? {
        entries.push(entry.map_err(read_err)?);
    }
    if entries.is_empty() {
        return Ok(Previous::Nothing);
    }
    if let Some(text) = head(&out.join(MARKER), 16 * 1024 * 1024)
        && let Some(rest) = text.strip_prefix(MARKER_HEAD)
    {
        return Ok(Previous::Marked(
            rest.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        ));
    }
    if head(&out.join("index.html"), 64 * 1024).is_some_and(|t| t.contains(OLD_SITE_BRAND)) {
        return Ok(Previous::Unmarked);
    }
    // A folder kept in git for its README (this repository's own `reports/`) is the output's home, not
    // someone else's data: publish into it, keeping the README.
    let only_readmes = entries.iter().all(|e| {
        e.file_type().is_ok_and(|t| t.is_file())
            && e.file_name()
                .to_string_lossy()
                .to_ascii_lowercase()
                .starts_with("readme")
    });
    if only_readmes {
        return Ok(Previous::Marked(BTreeSet::new()));
    }
    Err(refuse(
        "it is not empty and holds no envparity site (no .envparity-site marker, no envparity index.html)",
    ))
}

/// The first `limit` bytes of a regular file (never following a link), as text.
fn head(path: &Path, limit: u64) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(limit)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Every non-directory entry under `dir`, by path relative to it (with `/`); links are not followed.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// Puts a copy of `from` (a file or a link) at `to`.
fn copy_entry(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let meta = std::fs::symlink_metadata(from)?;
    #[cfg(unix)]
    if meta.file_type().is_symlink() {
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
    }
    if !meta.is_file() {
        // Sockets, fifos: nothing a site keeps.
        return Ok(());
    }
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)?;
    std::fs::File::open(to)?.sync_all()
}

/// Fsyncs every directory under `dir`, deepest first, then `dir`.
fn sync_dirs(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_dirs(&entry.path())?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Fsyncs a directory after a rename in it; a failure only costs durability, so it is logged.
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|f| f.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not fsync the directory");
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
        // Synced as it is written: the rename that publishes it must never expose an empty file.
        let written = std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
        written.map_err(|source| ReportError::Write { path, source })?;
        self.written.insert(rel);
        // Test builds only: a publish killed with part of the new site staged.
        fail::fail_point!(AFTER_STAGED_FILE);
        Ok(())
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

/// A new staging directory in `parent`, locked (see [`Staging`]'s lock).
///
/// Between creating the directory and locking it, a [`sweep`] in another process can take the lock and
/// remove the directory: the lock here waits for that sweep to finish, and a directory that is no longer
/// the one locked is given up for a new one.
fn locked_tempdir(
    parent: &Path,
) -> Result<(tempfile::TempDir, Option<std::fs::File>), ReportError> {
    use std::os::unix::fs::MetadataExt;
    let write_err = |source| ReportError::Write {
        path: parent.to_path_buf(),
        source,
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let dir = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(parent)
            .map_err(write_err)?;
        let lock = std::fs::File::open(dir.path()).map_err(write_err)?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => {}
            // No locks on this filesystem: sweeps fall back to the directory's age.
            Err(_) => return Ok((dir, None)),
        }
        let same = match (lock.metadata(), std::fs::symlink_metadata(dir.path())) {
            (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
            _ => false,
        };
        if same {
            return Ok((dir, Some(lock)));
        }
        if attempts >= 3 {
            return Err(write_err(std::io::Error::other(
                "the staging directory was removed as soon as it was made, three times",
            )));
        }
    }
}

/// Removes temporary directories a crashed publish left next to `out`: those no live publish holds the
/// lock of (a killed process's lock died with it), so the next publish cleans up at once. Where the
/// filesystem has no locks, only those older than ten minutes.
fn sweep(parent: &Path, out: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(TMP_PREFIX) || entry.path() == out {
            continue;
        }
        let Ok(held) = std::fs::File::open(entry.path()) else {
            continue;
        };
        match rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            // Nobody holds it: its publish is gone. Removed under the lock, so a publish that just made
            // it and waits for the lock sees it go (see `locked_tempdir`).
            Ok(()) => remove(&entry.path()),
            // A publish running right now, in this process or another, keeps its directory.
            Err(rustix::io::Errno::WOULDBLOCK) => {}
            Err(_) => {
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(600));
                if stale {
                    remove(&entry.path());
                }
            }
        }
    }
}
