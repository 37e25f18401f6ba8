//! Whether a GitOps object's repository URL names the repository being checked, and repo-relative paths.
//!
//! The same repository is spelled many ways: `https://github.com/org/repo.git`, `git@github.com:org/repo`,
//! `ssh://git@github.com/org/repo`, `https://user:token@GitHub.com/org/repo/`. They are compared by host and
//! path after normalising: scheme, user information, port, a trailing `.git` and slashes dropped; host and
//! path lower-cased (GitHub, GitLab and Bitbucket treat both case-insensitively, and two repositories that
//! differ only in case cannot exist there). Hosting services whose HTTPS and SSH paths differ (Azure DevOps'
//! `_git/`, Bitbucket Server's `scm/`) are not reconciled: add both remotes.

use std::collections::BTreeSet;

/// The repository being checked, as far as its remotes are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoIdentity {
    remotes: BTreeSet<String>,
}

/// Whether a URL names the repository being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoMatch {
    /// It names one of the repository's own remotes.
    This,
    /// The remotes are unknown and the path it names exists in the tree: followed, as probably this one.
    Maybe,
    /// Another repository (or, remotes unknown, one whose path does not exist here): listed, not followed.
    External,
}

impl RepoIdentity {
    /// Remotes unknown: any URL whose path exists in the tree may be this repository.
    pub fn unknown() -> RepoIdentity {
        RepoIdentity::default()
    }

    /// The repository reachable at `remotes` (an empty list is [`RepoIdentity::unknown`]). URLs that do not
    /// parse are ignored.
    pub fn from_remotes<I, S>(remotes: I) -> RepoIdentity
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        RepoIdentity {
            remotes: remotes
                .into_iter()
                .filter_map(|url| normalize_url(url.as_ref()))
                .collect(),
        }
    }

    /// Whether any remote is known.
    pub fn is_known(&self) -> bool {
        !self.remotes.is_empty()
    }

    /// Whether `url` names this repository: `Some` when the remotes are known, `None` when they are not.
    pub fn names_this(&self, url: &str) -> Option<bool> {
        if !self.is_known() {
            return None;
        }
        Some(normalize_url(url).is_some_and(|u| self.remotes.contains(&u)))
    }

    /// Where `url` points: this repository, maybe this one (remotes unknown and `path_exists`), or another.
    pub fn classify(&self, url: &str, path_exists: bool) -> RepoMatch {
        match self.names_this(url) {
            Some(true) => RepoMatch::This,
            Some(false) => RepoMatch::External,
            None if path_exists && normalize_url(url).is_some() => RepoMatch::Maybe,
            None => RepoMatch::External,
        }
    }
}

/// `host/path` of a repository URL, lower-cased, without scheme, user, port, `.git` and outer slashes;
/// `None` for an empty URL or one without a path.
///
/// Understands `scheme://[user[:password]@]host[:port]/path`, scp-like `[user@]host:path`, and plain local
/// paths (`/srv/git/repo`, whose host is empty).
pub fn normalize_url(url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        (strip_port(strip_user(authority)), path)
    } else if let Some((authority, path)) = scp_like(url) {
        (strip_user(authority), path)
    } else {
        ("", url)
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut path = segments.join("/");
    if let Some(stem) = path.strip_suffix(".git") {
        path = stem.trim_end_matches('/').to_string();
    }
    if path.is_empty() {
        return None;
    }
    Some(format!("{}/{}", host.to_lowercase(), path.to_lowercase()))
}

/// `url` without its user information (a token in `https://x-access-token:...@host/...` must never be
/// shown); otherwise as written.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}{path}");
        }
    }
    url.to_string()
}

/// `[user@]host:path` (git's scp-like syntax): a colon before any slash, and a host that is not a single
/// letter (`C:/repo` is a Windows path).
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let (authority, path) = url.split_once(':')?;
    if authority.contains('/') || authority.len() < 2 {
        return None;
    }
    Some((authority, path))
}

fn strip_user(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

fn strip_port(host: &str) -> &str {
    // `[::1]:22` keeps its brackets; `host:22` loses the port.
    if let Some(end) = host.rfind(']') {
        return &host[..=end];
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// A directory inside the repository as GitOps tools name it (`./apps/web/`, `apps/web`, `/apps/web`, `.`),
/// normalised to `apps/web`, or `.` for the root. `None` when `..` would leave the repository.
pub fn normalize_repo_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        Some(".".to_string())
    } else {
        Some(parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_repository_many_spellings() {
        let want = Some("github.com/acme/infra".to_string());
        for url in [
            "https://github.com/acme/infra",
            "https://github.com/acme/infra.git",
            "https://github.com/acme/infra/",
            "https://GitHub.com/Acme/Infra.git",
            "http://github.com/acme/infra",
            "git@github.com:acme/infra.git",
            "git@github.com:acme/infra",
            "ssh://git@github.com/acme/infra.git",
            "ssh://git@github.com:22/acme/infra",
            "https://x-access-token:s3cr3t@github.com/acme/infra.git",
            "git://github.com/acme/infra",
            " https://github.com/acme/infra?ref=main ",
        ] {
            assert_eq!(normalize_url(url), want, "{url}");
        }
        assert_eq!(normalize_url(""), None);
        assert_eq!(normalize_url("https://github.com"), None);
        assert_eq!(
            normalize_url("/srv/git/infra.git").as_deref(),
            Some("/srv/git/infra")
        );
        assert_eq!(
            normalize_url("ssh://git@[::1]:2222/acme/infra").as_deref(),
            Some("[::1]/acme/infra")
        );
        assert_ne!(
            normalize_url("https://github.com/acme/infra-apps"),
            normalize_url("https://github.com/acme/infra")
        );
    }

    #[test]
    fn classify_by_remotes_or_by_the_tree() {
        let known = RepoIdentity::from_remotes(["git@github.com:acme/infra.git"]);
        assert_eq!(
            known.classify("https://github.com/acme/infra", false),
            RepoMatch::This
        );
        assert_eq!(
            known.classify("https://github.com/acme/charts", true),
            RepoMatch::External
        );
        let unknown = RepoIdentity::unknown();
        assert!(!unknown.is_known());
        assert_eq!(
            unknown.classify("https://github.com/acme/other", true),
            RepoMatch::Maybe
        );
        assert_eq!(
            unknown.classify("https://github.com/acme/other", false),
            RepoMatch::External
        );
        assert_eq!(unknown.classify("", true), RepoMatch::External);
        assert_eq!(RepoIdentity::from_remotes([""]), RepoIdentity::unknown());
    }

    #[test]
    fn credentials_never_survive_redaction() {
        assert_eq!(
            redact_url("https://x-access-token:s3cr3t@github.com/acme/infra.git"),
            "https://github.com/acme/infra.git"
        );
        assert_eq!(
            redact_url("git@github.com:acme/infra.git"),
            "git@github.com:acme/infra.git"
        );
    }

    #[test]
    fn repo_paths() {
        assert_eq!(
            normalize_repo_path("./apps/web/").as_deref(),
            Some("apps/web")
        );
        assert_eq!(
            normalize_repo_path("/apps//web").as_deref(),
            Some("apps/web")
        );
        assert_eq!(normalize_repo_path("").as_deref(), Some("."));
        assert_eq!(normalize_repo_path("./").as_deref(), Some("."));
        assert_eq!(normalize_repo_path("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize_repo_path("../outside"), None);
    }
}
