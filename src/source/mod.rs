//! The infra repository, read with git2: a bare mirror in the state directory that is fetched on every scan,
//! commit lookups and first-parent walks for the backfill, tree-to-tree diffs, and [`Snapshot`]s that hold one
//! commit's files in a temporary directory (never a working copy that a crash could leave half-updated).
//!
//! Credentials never live here: a [`SourceSpec`] names the env var or file that holds a token, the token is
//! read just before the network is touched, and it is scrubbed from every message that leaves this module.
//! Every URL that reaches a message or a log goes through [`redact_url`].

mod auth;
mod repo;
mod snapshot;
mod url;

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use auth::Credential;
pub use repo::GitRepo;
pub use snapshot::Snapshot;
pub use url::redact_url;

/// The longest wait for a connection, whatever the fetch timeout.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Bounds libgit2's network operations, process-wide: connecting gives up after `min(timeout, 30 s)`, and a
/// fetch that receives nothing for `timeout` fails (a stalled server would otherwise hang a scan, and with
/// it every later tick of the daemon, forever).
///
/// Call it before any thread that could use libgit2 exists: the CLI does, right after reading the config.
#[allow(unsafe_code)]
pub fn set_network_timeout(timeout: std::time::Duration) -> Result<(), git2::Error> {
    let ms = |d: std::time::Duration| {
        std::ffi::c_int::try_from(d.as_millis()).unwrap_or(std::ffi::c_int::MAX)
    };
    // SAFETY: these write libgit2 globals without synchronisation, which is sound while no other thread
    // uses libgit2; the only caller runs on the main thread before any other thread is started.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(ms(timeout.min(CONNECT_TIMEOUT)))?;
        git2::opts::set_server_timeout_in_milliseconds(ms(timeout))?;
    }
    Ok(())
}

/// Where the repo is and how to authenticate. Credentials are never stored here in plain text: only the
/// NAME of an env var or a file path.
#[derive(Debug, Clone, Default)]
pub struct SourceSpec {
    /// `https://…`, `ssh://…`, `git@host:path`, `git://…`, `file://…`, or a local path. A password in the URL
    /// is refused (use `token_env`).
    pub url: String,
    /// Branch to follow; default: the remote's default branch (its HEAD at clone time).
    pub branch: Option<String>,
    /// User name for https token auth (default: the URL's user, else "x-access-token", which GitHub, GitLab
    /// and Gitea accept with a token) or for ssh (default: the URL's user, else "git").
    pub username: Option<String>,
    /// Name of the env var holding an https token (e.g. "GIT_TOKEN").
    pub token_env: Option<String>,
    /// File holding an https token (surrounding whitespace trimmed). `token_env` wins when both are set.
    pub token_file: Option<PathBuf>,
    /// ssh private key file; without it the ssh agent is used.
    pub ssh_key: Option<PathBuf>,
}

/// One commit, as the rest of envparity sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// Full commit id, 40 hex digits.
    pub id: String,
    /// Committer time.
    pub time: DateTime<Utc>,
    /// Author as `Name <email>`.
    pub author: String,
    /// First line of the message.
    pub summary: String,
}

/// Why the repository could not be cloned, fetched or read. No variant ever holds a credential: URLs are
/// redacted and git's own messages have the token replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The URL carries a password (`https://user:pw@host/…`), which would be written to the mirror's config.
    #[error(
        "the repository URL {url} has a password in it; remove it and name an env var holding the token with \
         `token_env` (or a file with `token_file`): a password in the URL would be stored in the mirror's \
         config file"
    )]
    PasswordInUrl {
        /// The URL, redacted.
        url: String,
    },
    /// The first clone of the mirror failed (nothing was left behind).
    #[error("could not clone {url}: {reason}")]
    CloneFailed {
        /// The URL, redacted.
        url: String,
        /// git's message, token scrubbed.
        reason: String,
    },
    /// A fetch into an existing mirror failed; the mirror is unchanged.
    #[error("could not fetch {url} into {}: {reason}", mirror.display())]
    FetchFailed {
        /// The URL, redacted.
        url: String,
        /// The mirror's directory.
        mirror: PathBuf,
        /// git's message, token scrubbed.
        reason: String,
    },
    /// The server refused the credential envparity offered.
    #[error("{credential} was rejected by {url}")]
    AuthFailed {
        /// The URL, redacted.
        url: String,
        /// Which credential was offered (where it came from, never its value).
        credential: Credential,
    },
    /// The server asked for a credential of a kind the spec does not configure.
    #[error("{url} asks for {wanted} and none is configured: {hint}")]
    AuthRequired {
        /// The URL, redacted.
        url: String,
        /// What the server asked for.
        wanted: &'static str,
        /// How to configure it.
        hint: &'static str,
    },
    /// `token_env` names an env var that is not set (or is empty).
    #[error("the token env var ${var} (from `token_env`) is not set or is empty")]
    TokenEnvNotSet {
        /// The env var's name.
        var: String,
    },
    /// `token_env` names an env var whose value is not valid Unicode.
    #[error("the token env var ${var} (from `token_env`) does not hold valid Unicode")]
    TokenEnvNotUnicode {
        /// The env var's name.
        var: String,
    },
    /// `token_file` could not be read boundedly (never with its content).
    #[error("the token file (from `token_file`): {source}")]
    TokenFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why: missing, unreadable, not a regular file, a link out of its directory, too large, not UTF-8.
        source: crate::input::ReadError,
    },
    /// `token_file` is empty.
    #[error("the token file {} (from `token_file`) is empty", path.display())]
    TokenFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// The followed branch does not exist in the fetched refs.
    #[error("branch `{branch}` does not exist in {url}")]
    BranchNotFound {
        /// The branch.
        branch: String,
        /// The URL (redacted), or the repository's path.
        url: String,
    },
    /// A revision does not name a commit.
    #[error("`{rev}` does not resolve to a commit in {}: {reason}", path.display())]
    RefNotFound {
        /// The revision as given.
        rev: String,
        /// The repository's directory.
        path: PathBuf,
        /// git's message.
        reason: String,
    },
    /// The directory is not a git repository (or not one git2 can open).
    #[error("{} is not a git repository: {reason}", path.display())]
    NotARepo {
        /// The directory.
        path: PathBuf,
        /// git's message.
        reason: String,
    },
    /// `fetch` was called on a repository opened with [`GitRepo::open_local`].
    #[error("{} is a local checkout, not a mirror: envparity never fetches into it", path.display())]
    NotAMirror {
        /// The checkout's directory.
        path: PathBuf,
    },
    /// An object is missing or corrupt.
    #[error("cannot read object {id} in {}: {reason}", path.display())]
    Object {
        /// The repository's directory.
        path: PathBuf,
        /// The object's id.
        id: String,
        /// git's message.
        reason: String,
    },
    /// Another git operation on the repository failed (writing a ref, configuring the remote, diffing).
    #[error("{} in {} failed: {reason}", action, path.display())]
    Git {
        /// The repository's directory.
        path: PathBuf,
        /// What envparity was doing.
        action: &'static str,
        /// git's message, token scrubbed.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl SourceError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> SourceError {
        let path = path.into();
        move |source| SourceError::Io { path, source }
    }
}

fn commit_info(commit: &git2::Commit<'_>) -> CommitInfo {
    let author = commit.author();
    CommitInfo {
        id: commit.id().to_string(),
        time: DateTime::from_timestamp(commit.committer().when().seconds(), 0).unwrap_or_default(),
        author: format!(
            "{} <{}>",
            String::from_utf8_lossy(author.name_bytes()),
            String::from_utf8_lossy(author.email_bytes())
        ),
        summary: commit
            .summary_bytes()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default(),
    }
}
/// The first 10 characters of a commit id.
pub fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}
