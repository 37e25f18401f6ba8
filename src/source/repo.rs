//! [`GitRepo`]: the bare mirror (clone, fetch, the followed branch) or the user's own checkout, and the
//! read-only queries both answer (resolve, first-parent history, changed files).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{
    AutotagOption, DiffOptions, FetchOptions, FetchPrune, ProxyOptions, RemoteCallbacks, Repository,
};
use tracing::{debug, info};

use super::auth::{Auth, Missing};
use super::url::{has_password, redact_url, remote_url};
use super::{CommitInfo, SourceError, SourceSpec, commit_info};

const REMOTE: &str = "origin";
const BRANCH_REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";
/// Tags are mirrored too, so `resolve("v1.2")` works on the mirror; pruned like branches.
const TAG_REFSPEC: &str = "+refs/tags/*:refs/tags/*";
/// Where the remote's default branch is recorded at clone time (as `git clone` does).
const REMOTE_HEAD: &str = "refs/remotes/origin/HEAD";
const REMOTE_PREFIX: &str = "refs/remotes/origin/";

/// A git repository envparity reads: its bare mirror in the state dir, or the user's own checkout.
pub struct GitRepo {
    repo: Repository,
    path: PathBuf,
    kind: Kind,
}

enum Kind {
    Mirror { spec: SourceSpec },
    Local,
}

impl fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("GitRepo");
        d.field("path", &self.path);
        if let Kind::Mirror { spec } = &self.kind {
            d.field("url", &redact_url(&spec.url))
                .field("branch", &spec.branch);
        }
        d.finish_non_exhaustive()
    }
}

/// A clone directory older than this is left over from a process that died mid-clone.
const STALE_CLONE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes `<name>.tmp-*` clone directories in `parent` that a killed process left behind (a clone that
/// fails normally removes its own). Recent ones may belong to a clone running right now and are kept.
fn sweep_stale_clones(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!("{name}.tmp-");
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_CLONE));
        if stale {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    info!(dir = %entry.path().display(), "removed a clone left behind by a crash")
                }
                Err(e) => {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "could not remove a stale clone")
                }
            }
        }
    }
}

impl GitRepo {
    /// Opens the bare mirror in `dir`, cloning `spec.url` into it first when `dir` does not exist yet.
    /// A failed clone leaves no partial mirror behind (clone into `dir.tmp-…` then rename).
    ///
    /// When the mirror exists and `spec.url` changed, the mirror's remote is pointed at the new URL (the next
    /// fetch follows it).
    pub fn mirror(spec: &SourceSpec, dir: &Path) -> Result<GitRepo, SourceError> {
        if has_password(&spec.url) {
            return Err(SourceError::PasswordInUrl {
                url: redact_url(&spec.url),
            });
        }
        if dir.exists() {
            return GitRepo::open_mirror(spec, dir);
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // The mirrors live in the state directory, which is its owner's alone.
        crate::input::create_private_dir(&parent).map_err(SourceError::io(&parent))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "mirror".into());
        sweep_stale_clones(&parent, &name);
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{name}.tmp-"))
            .tempdir_in(&parent)
            .map_err(SourceError::io(&parent))?;
        info!(url = %redact_url(&spec.url), dir = %dir.display(), "cloning the repository");
        let clone = || -> Result<(), SourceError> {
            let repo = Repository::init_bare(tmp.path()).map_err(|e| SourceError::Git {
                path: tmp.path().to_path_buf(),
                action: "creating the mirror",
                reason: e.message().to_string(),
            })?;
            let configure = |e: git2::Error| SourceError::Git {
                path: tmp.path().to_path_buf(),
                action: "configuring the remote",
                reason: e.message().to_string(),
            };
            repo.remote_with_fetch(REMOTE, &remote_url(&spec.url), BRANCH_REFSPEC)
                .map_err(configure)?;
            repo.remote_add_fetch(REMOTE, TAG_REFSPEC)
                .map_err(configure)?;
            let mirror = GitRepo {
                repo,
                path: tmp.path().to_path_buf(),
                kind: Kind::Mirror { spec: spec.clone() },
            };
            match mirror.fetch() {
                Ok(_) => Ok(()),
                Err(SourceError::FetchFailed { url, reason, .. }) => {
                    Err(SourceError::CloneFailed { url, reason })
                }
                Err(e) => Err(e),
            }
        };
        clone()?;
        // The TempDir guard is released only now: every failure above removed the directory.
        let kept = tmp.keep();
        if let Err(source) = std::fs::rename(&kept, dir) {
            let _ = std::fs::remove_dir_all(&kept);
            // Another process finished its clone first: use that one.
            if !dir.join("HEAD").is_file() {
                return Err(SourceError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        GitRepo::open_mirror(spec, dir)
    }

    fn open_mirror(spec: &SourceSpec, dir: &Path) -> Result<GitRepo, SourceError> {
        let repo = Repository::open_bare(dir).map_err(|e| SourceError::NotARepo {
            path: dir.to_path_buf(),
            reason: e.message().to_string(),
        })?;
        let git = GitRepo {
            repo,
            path: dir.to_path_buf(),
            kind: Kind::Mirror { spec: spec.clone() },
        };
        let wanted = remote_url(&spec.url);
        let current = git.repo.find_remote(REMOTE).map(|r| r.url_bytes().to_vec());
        match current {
            Ok(url) if url == wanted.as_bytes() => {}
            Ok(_) => {
                info!(url = %redact_url(&spec.url), dir = %dir.display(), "the repository URL changed; following it");
                git.repo
                    .remote_set_url(REMOTE, &wanted)
                    .map_err(|e| git.git_error("setting the remote URL", &e))?;
            }
            Err(e) => {
                return Err(SourceError::NotARepo {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "not an envparity mirror (no remote `{REMOTE}`: {})",
                        e.message()
                    ),
                });
            }
        }
        // Point HEAD at the followed branch (when it was fetched already), so `HEAD~2` means what it says.
        if let Ok(branch) = git.followed_branch() {
            let _ = git.point_head_at(&branch);
        }
        Ok(git)
    }

    /// Opens an existing local repository (a working checkout, for `check --base`), discovering upward from `path`.
    pub fn open_local(path: &Path) -> Result<GitRepo, SourceError> {
        let repo = Repository::discover(path).map_err(|e| SourceError::NotARepo {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })?;
        let path = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
        Ok(GitRepo {
            repo,
            path,
            kind: Kind::Local,
        })
    }

    /// Fetches all branches from origin with force (`+refs/heads/*:refs/remotes/origin/*`, so a force-pushed
    /// branch is followed), and all tags, and prunes deleted ones; returns the followed branch's head. On
    /// failure the mirror is left exactly as it was (never deleted) and the error says why, with no
    /// credential in it.
    pub fn fetch(&self) -> Result<CommitInfo, SourceError> {
        let Kind::Mirror { spec } = &self.kind else {
            return Err(SourceError::NotAMirror {
                path: self.path.clone(),
            });
        };
        let url = redact_url(&spec.url);
        let auth = RefCell::new(Auth::new(spec)?);
        let started = std::time::Instant::now();
        let result = {
            let mut remote = self
                .repo
                .find_remote(REMOTE)
                .map_err(|e| self.git_error("finding the remote", &e))?;
            let mut callbacks = RemoteCallbacks::new();
            callbacks
                .credentials(|u, user, allowed| auth.borrow_mut().credentials(u, user, allowed));
            let mut proxy = ProxyOptions::new();
            proxy.auto();
            let mut options = FetchOptions::new();
            options
                .remote_callbacks(callbacks)
                .proxy_options(proxy)
                .prune(FetchPrune::On)
                .download_tags(AutotagOption::None)
                .update_fetchhead(false);
            remote
                .fetch::<&str>(&[], Some(&mut options), Some("envparity: fetch"))
                .map(|()| {
                    // The ref advertisement stays available after the fetch disconnects.
                    remote
                        .default_branch()
                        .ok()
                        .and_then(|b| b.as_str().ok().map(str::to_string))
                })
        };
        let auth = auth.into_inner();
        let remote_default = match result {
            Ok(default) => default,
            Err(e) => {
                if let Some(credential) = auth.rejected {
                    return Err(SourceError::AuthFailed { url, credential });
                }
                if let Some(missing) = auth.missing {
                    let (wanted, hint) = match missing {
                        Missing::Token => (
                            "a user name and token",
                            "name the env var holding the token with `token_env` (or a file with `token_file`)",
                        ),
                        Missing::SshKey => (
                            "an ssh key",
                            "set `ssh_key` or add the key to the ssh agent (SSH_AUTH_SOCK)",
                        ),
                        Missing::Other => (
                            "a kind of authentication envparity does not support",
                            "use a token (https) or an ssh key",
                        ),
                    };
                    return Err(SourceError::AuthRequired { url, wanted, hint });
                }
                return Err(SourceError::FetchFailed {
                    url,
                    mirror: self.path.clone(),
                    reason: auth.scrub(e.message()),
                });
            }
        };
        debug!(url = %url, elapsed_ms = started.elapsed().as_millis() as u64, "fetched");
        if self.repo.find_reference(REMOTE_HEAD).is_err()
            && let Some(default) = remote_default
                .as_deref()
                .and_then(|b| b.strip_prefix("refs/heads/"))
        {
            let target = format!("{REMOTE_PREFIX}{default}");
            self.repo
                .reference_symbolic(
                    REMOTE_HEAD,
                    &target,
                    true,
                    "envparity: the remote's default branch",
                )
                .map_err(|e| self.git_error("recording the remote's default branch", &e))?;
        }
        let branch = self.followed_branch()?;
        self.point_head_at(&branch)?;
        self.head()
    }

    /// The followed branch's head as last fetched (no network). For a local checkout: its `HEAD`.
    pub fn head(&self) -> Result<CommitInfo, SourceError> {
        match &self.kind {
            Kind::Mirror { .. } => {
                let branch = self.followed_branch()?;
                self.resolve(&format!("{REMOTE_PREFIX}{branch}"))
            }
            Kind::Local => self.resolve("HEAD"),
        }
    }

    /// Resolves a branch, tag, `origin/x`, short or full commit id, `HEAD~2`… to a commit. A name that does
    /// not resolve as written is tried as `origin/<name>` (the mirror has no local branches, and a CI checkout
    /// often has the base branch only as a remote-tracking one).
    pub fn resolve(&self, rev: &str) -> Result<CommitInfo, SourceError> {
        self.commit(rev).map(|c| commit_info(&c))
    }

    /// First-parent history ending at `head`, OLDEST FIRST, limited to commits with committer time >= since
    /// and to the newest `max` commits.
    pub fn first_parent_history(
        &self,
        head: &str,
        since: Option<DateTime<Utc>>,
        max: Option<usize>,
    ) -> Result<Vec<CommitInfo>, SourceError> {
        let mut out = Vec::new();
        let mut commit = self.commit(head)?;
        loop {
            if max.is_some_and(|m| out.len() >= m) {
                break;
            }
            let info = commit_info(&commit);
            // Not a stop condition: committer times along a chain are not always monotonic (rebases).
            if since.is_none_or(|s| info.time >= s) {
                out.push(info);
            }
            if commit.parent_count() == 0 {
                break;
            }
            commit = commit
                .parent(0)
                .map_err(|e| self.object_error(commit.parent_id(0).ok(), &e))?;
        }
        out.reverse();
        Ok(out)
    }

    /// Repo-relative paths of the files that differ between two commits (added, modified, deleted, both sides
    /// of renames), sorted; `from = None` means every file of `to`.
    pub fn changed_files(&self, from: Option<&str>, to: &str) -> Result<Vec<PathBuf>, SourceError> {
        let old = from.map(|f| self.tree_of(f)).transpose()?;
        let new = self.tree_of(to)?;
        let diff = self.diff(old.as_ref(), &new)?;
        let mut paths = BTreeSet::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(path) = file.path()
                    && !file.id().is_zero()
                {
                    paths.insert(path.to_path_buf());
                }
            }
        }
        Ok(paths.into_iter().collect())
    }

    /// The text of the file at `path` (repo-relative) in commit `rev`: `None` when the commit has no file
    /// there; an error when it is not a regular file's blob, is over `max_bytes`, or is not UTF-8.
    pub fn file_at(
        &self,
        rev: &str,
        path: &Path,
        max_bytes: u64,
    ) -> Result<Option<String>, SourceError> {
        let tree = self.tree_of(rev)?;
        let Ok(entry) = tree.get_path(path) else {
            return Ok(None);
        };
        let refuse = |why: String| SourceError::Git {
            path: self.path.clone(),
            action: "reading a file of the base commit",
            reason: format!("{}: {why}", path.display()),
        };
        if entry.kind() != Some(git2::ObjectType::Blob) || entry.filemode() == 0o120000 {
            return Err(refuse("not a regular file".into()));
        }
        let blob = self.blob(entry.id())?;
        if blob.size() as u64 > max_bytes {
            return Err(refuse(format!(
                "{} bytes, more than the {max_bytes} read",
                blob.size()
            )));
        }
        String::from_utf8(blob.content().to_vec())
            .map(Some)
            .map_err(|_| refuse("not UTF-8".into()))
    }

    /// The directory of the repository (the mirror's dir, or the checkout's work dir).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The commit `rev` names.
    pub(super) fn commit(&self, rev: &str) -> Result<git2::Commit<'_>, SourceError> {
        let object = match self.repo.revparse_single(rev) {
            Ok(o) => o,
            Err(e) => {
                let fallback = (!rev.starts_with("refs/")
                    && !rev.starts_with(&format!("{REMOTE}/")))
                .then(|| self.repo.revparse_single(&format!("{REMOTE}/{rev}")).ok())
                .flatten();
                fallback.ok_or_else(|| SourceError::RefNotFound {
                    rev: rev.to_string(),
                    path: self.path.clone(),
                    reason: e.message().to_string(),
                })?
            }
        };
        object
            .peel_to_commit()
            .map_err(|e| SourceError::RefNotFound {
                rev: rev.to_string(),
                path: self.path.clone(),
                reason: e.message().to_string(),
            })
    }

    pub(super) fn tree_of(&self, rev: &str) -> Result<git2::Tree<'_>, SourceError> {
        let commit = self.commit(rev)?;
        commit
            .tree()
            .map_err(|e| self.object_error(Some(commit.tree_id()), &e))
    }

    pub(super) fn find_tree(&self, id: git2::Oid) -> Option<git2::Tree<'_>> {
        self.repo.find_tree(id).ok()
    }

    pub(super) fn blob(&self, id: git2::Oid) -> Result<git2::Blob<'_>, SourceError> {
        self.repo
            .find_blob(id)
            .map_err(|e| self.object_error(Some(id), &e))
    }

    /// The tree-to-tree diff, without rename detection (a rename is a deletion and an addition, which is what
    /// both callers want) and with type changes (file ↔ symlink) reported as such.
    pub(super) fn diff(
        &self,
        old: Option<&git2::Tree<'_>>,
        new: &git2::Tree<'_>,
    ) -> Result<git2::Diff<'_>, SourceError> {
        let mut options = DiffOptions::new();
        options.include_typechange(true).skip_binary_check(true);
        self.repo
            .diff_tree_to_tree(old, Some(new), Some(&mut options))
            .map_err(|e| self.git_error("comparing trees", &e))
    }

    /// The branch a mirror follows: the spec's, else the remote's default recorded at clone time.
    fn followed_branch(&self) -> Result<String, SourceError> {
        let Kind::Mirror { spec } = &self.kind else {
            return Err(SourceError::NotAMirror {
                path: self.path.clone(),
            });
        };
        let branch = match &spec.branch {
            Some(b) => b.strip_prefix("refs/heads/").unwrap_or(b).to_string(),
            None => {
                let head = self.repo.find_reference(REMOTE_HEAD).ok();
                let target = head
                    .as_ref()
                    .and_then(|h| h.symbolic_target().ok().flatten())
                    .and_then(|t| t.strip_prefix(REMOTE_PREFIX));
                match target {
                    Some(t) => t.to_string(),
                    None => {
                        return Err(SourceError::BranchNotFound {
                            branch: "(the remote's default branch)".to_string(),
                            url: redact_url(&spec.url),
                        });
                    }
                }
            }
        };
        if self
            .repo
            .find_reference(&format!("{REMOTE_PREFIX}{branch}"))
            .is_err()
        {
            return Err(SourceError::BranchNotFound {
                branch,
                url: redact_url(&spec.url),
            });
        }
        Ok(branch)
    }

    fn point_head_at(&self, branch: &str) -> Result<(), SourceError> {
        let target = format!("{REMOTE_PREFIX}{branch}");
        let current = self.repo.find_reference("HEAD").ok();
        if current
            .as_ref()
            .and_then(|h| h.symbolic_target().ok().flatten())
            == Some(target.as_str())
        {
            return Ok(());
        }
        self.repo
            .reference_symbolic("HEAD", &target, true, "envparity: follow branch")
            .map(|_| ())
            .map_err(|e| self.git_error("pointing HEAD at the followed branch", &e))
    }

    fn git_error(&self, action: &'static str, e: &git2::Error) -> SourceError {
        SourceError::Git {
            path: self.path.clone(),
            action,
            reason: e.message().to_string(),
        }
    }

    fn object_error(&self, id: Option<git2::Oid>, e: &git2::Error) -> SourceError {
        SourceError::Object {
            path: self.path.clone(),
            id: id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "(unknown)".to_string()),
            reason: e.message().to_string(),
        }
    }
}
