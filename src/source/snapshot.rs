//! [`Snapshot`]: one commit's files in a temporary directory, moved from commit to commit by applying the
//! tree-to-tree diff, so a history walk rewrites only what changed.

use std::io;
use std::path::{Component, Path, PathBuf};

use git2::{Delta, FileMode};
use tempfile::TempDir;
use tracing::{debug, warn};

use super::{GitRepo, SourceError};

/// A temporary directory holding the files of one commit. Moving it to another commit rewrites only the
/// files that differ (tree-to-tree diff), so walking a long history stays cheap. Symlinks are written as
/// symlinks only if they point inside the tree, else skipped with a warning; submodules are skipped
/// (tracing::warn). File modes: executable bit kept.
#[derive(Debug)]
pub struct Snapshot {
    dir: TempDir,
    /// The commit the directory holds, and its tree; `None` when empty or after a failed checkout.
    current: Option<(String, git2::Oid)>,
}

impl Snapshot {
    /// An empty snapshot directory (in the system's temporary directory).
    pub fn new() -> Result<Snapshot, SourceError> {
        let dir = tempfile::Builder::new()
            .prefix("envparity-snapshot-")
            .tempdir()
            .map_err(SourceError::io(std::env::temp_dir()))?;
        Ok(Snapshot { dir, current: None })
    }

    /// Makes the directory hold exactly `commit`'s tree. When a checkout fails half-way the snapshot forgets
    /// its commit, and the next checkout starts from an empty directory.
    pub fn checkout(&mut self, repo: &GitRepo, commit: &str) -> Result<(), SourceError> {
        let target = repo.commit(commit)?;
        let id = target.id().to_string();
        let new = repo.tree_of(&id)?;
        let old = self
            .current
            .take()
            .and_then(|(_, tree)| repo.find_tree(tree));
        if old.is_none() {
            clear_dir(self.dir.path())?;
        }
        let diff = repo.diff(old.as_ref(), &new)?;
        let root = self.dir.path();
        // Removals first: a file that becomes a directory (or the reverse) is a removal plus an addition, and
        // the diff sorts them by path, not by what must happen first.
        for delta in diff.deltas() {
            if matches!(delta.status(), Delta::Deleted) {
                let file = delta.old_file();
                if let Some(rel) = file.path().and_then(safe_relative) {
                    remove_entry(root, &rel)?;
                }
            }
        }
        let mut written = 0usize;
        for delta in diff.deltas() {
            if matches!(delta.status(), Delta::Deleted) {
                continue;
            }
            let file = delta.new_file();
            let Some(raw) = file.path() else { continue };
            let Some(rel) = safe_relative(raw) else {
                warn!(commit = %id, path = %raw.display(), "skipping a tree entry with an unsafe path");
                continue;
            };
            remove_entry(root, &rel)?;
            match file.mode() {
                FileMode::Blob | FileMode::BlobGroupWritable | FileMode::BlobExecutable => {
                    let blob = repo.blob(file.id())?;
                    write_file(
                        root,
                        &rel,
                        blob.content(),
                        file.mode() == FileMode::BlobExecutable,
                    )?;
                    written += 1;
                }
                FileMode::Link => {
                    let blob = repo.blob(file.id())?;
                    let target = bytes_path(blob.content());
                    if points_inside(&rel, &target) {
                        write_symlink(root, &rel, &target)?;
                        written += 1;
                    } else {
                        warn!(
                            commit = %id,
                            path = %rel.display(),
                            target = %target.display(),
                            "skipping a symlink that points outside the repository"
                        );
                    }
                }
                FileMode::Commit => {
                    warn!(commit = %id, path = %rel.display(), "skipping a submodule: envparity does not fetch submodules");
                }
                FileMode::Tree | FileMode::Unreadable => {}
            }
        }
        debug!(commit = %id, written, "snapshot checked out");
        self.current = Some((id, new.id()));
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The commit the directory holds (40 hex digits), if any.
    pub fn commit(&self) -> Option<&str> {
        self.current.as_ref().map(|(id, _)| id.as_str())
    }
}

/// The path as a plain relative path, or `None` when it has `..`, a root or anything else that could leave the
/// directory (git refuses such trees, but a crafted repository may hold them).
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Whether a symlink at `link` (relative to the root) with target `target` stays inside the root, read
/// lexically (a target that climbs through another in-tree symlink is followed no further: that symlink was
/// checked on its own).
fn points_inside(link: &Path, target: &Path) -> bool {
    let mut depth: Vec<&std::ffi::OsStr> = link
        .parent()
        .map(|p| p.components().map(|c| c.as_os_str()).collect())
        .unwrap_or_default();
    for c in target.components() {
        match c {
            Component::Normal(part) => depth.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    !depth.is_empty()
}

fn clear_dir(dir: &Path) -> Result<(), SourceError> {
    for entry in std::fs::read_dir(dir).map_err(SourceError::io(dir))? {
        let entry = entry.map_err(SourceError::io(dir))?;
        let path = entry.path();
        let is_dir = entry.file_type().map_err(SourceError::io(&path))?.is_dir();
        let removed = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(SourceError::io(&path))?;
    }
    Ok(())
}

/// Removes whatever is at `rel` (file, symlink, or a directory left by a type change), then the parent
/// directories that became empty. Nothing there is fine: skipped entries were never written.
fn remove_entry(root: &Path, rel: &Path) -> Result<(), SourceError> {
    let path = root.join(rel);
    let removed = match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            return Ok(());
        }
        Err(e) => Err(e),
    };
    removed.map_err(SourceError::io(&path))?;
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

fn write_file(
    root: &Path,
    rel: &Path,
    content: &[u8],
    executable: bool,
) -> Result<(), SourceError> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(SourceError::io(parent))?;
    }
    std::fs::write(&path, content).map_err(SourceError::io(&path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(SourceError::io(&path))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(unix)]
fn write_symlink(root: &Path, rel: &Path, target: &Path) -> Result<(), SourceError> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(SourceError::io(parent))?;
    }
    std::os::unix::fs::symlink(target, &path).map_err(SourceError::io(&path))
}

#[cfg(not(unix))]
fn write_symlink(_root: &Path, rel: &Path, _target: &Path) -> Result<(), SourceError> {
    warn!(path = %rel.display(), "skipping a symlink: not supported on this platform");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_inside_and_outside() {
        assert!(points_inside(Path::new("a/link"), Path::new("b.txt")));
        assert!(points_inside(Path::new("a/link"), Path::new("../b.txt")));
        assert!(points_inside(
            Path::new("a/b/link"),
            Path::new("./../../c/d")
        ));
        assert!(!points_inside(
            Path::new("link"),
            Path::new("../etc/passwd")
        ));
        assert!(!points_inside(Path::new("a/link"), Path::new("../../x")));
        assert!(!points_inside(
            Path::new("a/link"),
            Path::new("/etc/passwd")
        ));
        // A link to the root itself would let a walker loop; treat it as outside.
        assert!(!points_inside(Path::new("a/link"), Path::new("..")));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        assert_eq!(safe_relative(Path::new("a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(safe_relative(Path::new("../a")), None);
        assert_eq!(safe_relative(Path::new("/a")), None);
        assert_eq!(safe_relative(Path::new("")), None);
    }
}
