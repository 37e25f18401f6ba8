//! Where the state directory is (DESIGN.md, "Untrusted input": the repo being checked never controls its
//! own verdict).
//!
//! A configured directory (`--state DIR`, else `state.dir`) is used as it is, except by `check` when it
//! lies inside the tree being checked: that tree is a pull request, written by someone else, and a render
//! cache or history inside it would be theirs. With nothing configured, the state lives in the user's cache
//! directory, one directory per repository (`$XDG_CACHE_HOME/envparity/<name>-<hash>`); the commands that
//! record (`scan`, `backfill`, `report`, `digest`, the daemon) keep using the `.envparity` next to the
//! config file that earlier versions made their default, when it holds a history, so upgrading moves
//! nothing.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Origin, State};
use crate::config::Config;
use crate::input::resolved_path;

/// What the state directory is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `check`: reads the render cache and mirrors, never from inside the tree it checks.
    Check,
    /// Every other command: the history, the site's inputs, the daemon's locks.
    Record,
}

/// No state directory could be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "no state directory: set `state.dir` in config or pass --state DIR (there is no user cache directory: neither XDG_CACHE_HOME nor HOME is set)"
)]
pub struct NoStateDir;

/// The state directory a command uses, and the notice to print when `check` set a configured one aside.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The state.
    pub state: State,
    /// Why the configured directory is not used, when it is not.
    pub notice: Option<String>,
}

impl State {
    /// The state directory for `purpose`: `flag` (`--state`), else `state.dir` (relative to the config
    /// file), else (recording commands only) an existing `.envparity` history next to the config file,
    /// else the user's cache directory for this repository. For [`Purpose::Check`] a configured directory
    /// inside the checked tree is replaced by the cache directory, with a notice.
    pub fn resolve(
        config: &Config,
        flag: Option<&Path>,
        origin: &Origin,
        purpose: Purpose,
    ) -> Result<Resolved, NoStateDir> {
        let configured = flag
            .map(Path::to_path_buf)
            .or_else(|| config.state.dir.as_ref().map(|d| config.base_dir().join(d)));
        let tree = checked_tree(origin);
        match configured {
            Some(dir) if purpose == Purpose::Check => match &tree {
                Some(tree) if is_within(&dir, tree) => {
                    let cache = cache_dir(origin)?;
                    let notice = format!(
                        "notice: the state directory {} is inside the checked tree {}: check uses {} instead, so that nothing in the tree can decide its own verdict",
                        dir.display(),
                        tree.display(),
                        cache.display()
                    );
                    Ok(Resolved {
                        state: State { dir: cache },
                        notice: Some(notice),
                    })
                }
                _ => Ok(plain(dir)),
            },
            Some(dir) => Ok(plain(dir)),
            None => {
                let legacy = config.base_dir().join(".envparity");
                let inside = tree.as_ref().is_some_and(|t| is_within(&legacy, t));
                if purpose == Purpose::Record && legacy.join("history.sqlite").is_file()
                    || purpose == Purpose::Check && !inside && legacy.is_dir()
                {
                    return Ok(plain(legacy));
                }
                Ok(plain(cache_dir(origin)?))
            }
        }
    }
}

fn plain(dir: PathBuf) -> Resolved {
    Resolved {
        state: State { dir },
        notice: None,
    }
}

/// The whole tree whose content a pull request decides: the repository's working directory for a local
/// checkout (not only the subdirectory the layout starts in), the directory itself otherwise; none for a
/// remote envparity mirrors itself.
fn checked_tree(origin: &Origin) -> Option<PathBuf> {
    match origin {
        Origin::Dir(p) => Some(p.clone()),
        Origin::Git {
            spec,
            checkout: Some(_),
            ..
        } => Some(PathBuf::from(&spec.url)),
        Origin::Git { .. } => None,
    }
}

/// `$XDG_CACHE_HOME/envparity/<name>-<hash>` (the platform's cache directory elsewhere): one per
/// repository, named by the last part of its path or URL and a hash of all of it.
pub fn cache_dir(origin: &Origin) -> Result<PathBuf, NoStateDir> {
    let base = dirs::cache_dir().ok_or(NoStateDir)?;
    Ok(base.join("envparity").join(repo_key(origin)))
}

fn repo_key(origin: &Origin) -> String {
    let id = match origin {
        Origin::Dir(p) => resolved_path(p).to_string_lossy().into_owned(),
        Origin::Git { spec, .. } => match url_path(&spec.url) {
            Some(_) => spec.url.clone(),
            None => resolved_path(Path::new(&spec.url))
                .to_string_lossy()
                .into_owned(),
        },
    };
    let name: String = id
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let name = name.trim_start_matches('.');
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    if name.is_empty() {
        hash
    } else {
        format!("{name}-{hash}")
    }
}

/// The path part of a URL-looking repository address (`https://…`, `ssh://…`, `git@host:path`).
fn url_path(s: &str) -> Option<&str> {
    s.split_once("://").map(|(_, rest)| rest).or_else(|| {
        s.split_once(':')
            .filter(|(host, _)| host.contains('@'))
            .map(|(_, p)| p)
    })
}

/// Whether `dir` is `tree` or lies below it, once both are resolved.
fn is_within(dir: &Path, tree: &Path) -> bool {
    resolved_path(dir).starts_with(resolved_path(tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_origin(p: &Path) -> Origin {
        Origin::Dir(p.to_path_buf())
    }

    #[test]
    fn a_directory_inside_the_tree_is_within_it_through_links_and_dot_dots() {
        let t = tempfile::tempdir().expect("tempdir");
        let tree = t.path().join("repo");
        std::fs::create_dir_all(tree.join("sub")).expect("mkdir");
        assert!(is_within(&tree.join(".envparity"), &tree));
        assert!(is_within(&tree.join("sub/../x/y"), &tree));
        assert!(!is_within(&tree.join("../elsewhere"), &tree));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&tree, t.path().join("alias")).expect("link");
            assert!(is_within(&t.path().join("alias/state"), &tree));
        }
    }

    #[test]
    fn repo_keys_are_named_after_the_repo_and_differ_per_repo() {
        let a = repo_key(&dir_origin(Path::new("/srv/infra")));
        let b = repo_key(&dir_origin(Path::new("/srv/other/infra")));
        assert!(a.starts_with("infra-"), "{a}");
        assert_ne!(a, b);
        let url = |u: &str| Origin::Git {
            spec: crate::source::SourceSpec {
                url: u.to_string(),
                ..Default::default()
            },
            subdir: PathBuf::new(),
            checkout: None,
        };
        assert!(repo_key(&url("https://github.com/acme/infra.git")).starts_with("infra-"));
        assert!(repo_key(&url("git@github.com:acme/gitops.git")).starts_with("gitops-"));
        assert!(!repo_key(&dir_origin(Path::new("/"))).is_empty());
    }
}
