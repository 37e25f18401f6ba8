//! Lexical path arithmetic shared by the kustomization walker and the kustomize backend.
//!
//! Kustomize joins paths lexically (`filepath.Join`), so envparity does the same: resolving `..` through
//! the file system would disagree with kustomize wherever a symlink sits in the way.

use std::path::{Component, Path, PathBuf};

use super::RenderError;

/// Removes `.` and resolves `..` without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `/..` is `/`; a relative path keeps its leading `..` segments.
                let climbs = matches!(
                    out.components().next_back(),
                    None | Some(Component::ParentDir)
                );
                if climbs {
                    if !out.has_root() {
                        out.push("..");
                    }
                } else {
                    out.pop();
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The relative path from directory `from` to `to`, both absolute and normalized, using `..` segments.
pub(crate) fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for component in &to[common..] {
        out.push(component);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `path` relative to `repo_root` when it lies inside it.
pub(crate) fn repo_relative(path: &Path, repo_root: &Path) -> Option<PathBuf> {
    normalize(path)
        .strip_prefix(repo_root)
        .ok()
        .map(Path::to_path_buf)
}

/// `path` relative to `repo_root` when it lies inside it, else `path` itself: the form used in errors.
pub(crate) fn display_path(path: &Path, repo_root: &Path) -> PathBuf {
    repo_relative(path, repo_root).unwrap_or_else(|| path.to_path_buf())
}

/// A relative path spelled with forward slashes on every platform.
pub(crate) fn slash(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Canonical form of a directory the caller handed in, so that lexical arithmetic agrees with the kernel.
pub(crate) fn canonical_dir(path: &Path) -> Result<PathBuf, RenderError> {
    std::fs::canonicalize(path).map_err(|source| RenderError::io(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(
            normalize(Path::new("../a/../../b")),
            PathBuf::from("../../b")
        );
    }

    #[test]
    fn relative_climbs_to_common_prefix() {
        assert_eq!(
            relative(Path::new("/tmp/x/w0"), Path::new("/work/repo/apps/a")),
            PathBuf::from("../../../work/repo/apps/a")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b/c")),
            PathBuf::from("c")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b")),
            PathBuf::from(".")
        );
    }
}
