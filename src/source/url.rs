//! Repository URLs: redaction for messages, the password check, and local paths made absolute.

use std::path::Path;

/// The parts of a `scheme://[userinfo@]host[:port]/path[?query][#fragment]` URL envparity cares about.
struct Parts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    path: &'a str,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let path = tail.split(['?', '#']).next().unwrap_or_default();
    Some(Parts {
        scheme,
        userinfo,
        host,
        path,
    })
}

/// `https://user:secret@host/x` → `https://host/x` (and any query string or fragment dropped); used for every
/// URL that reaches a message or a log. scp-like addresses (`git@host:path`) and local paths are returned
/// as they are: they cannot carry a password.
pub fn redact_url(url: &str) -> String {
    match split(url) {
        Some(p) => format!("{}://{}{}", p.scheme, p.host, p.path),
        None => url.to_string(),
    }
}

/// Whether the URL carries a password, or something that may be one: `user:pw@`, or a "port" that is not a
/// number (`https://user:pa/ss@host/…` splits there).
pub(super) fn has_password(url: &str) -> bool {
    let Some(p) = split(url) else { return false };
    if p.userinfo.is_some_and(|u| u.contains(':')) {
        return true;
    }
    let port = match p.host.rfind(']') {
        Some(i) => p.host[i + 1..].strip_prefix(':'),
        None => p.host.split_once(':').map(|(_, port)| port),
    };
    port.is_some_and(|port| !port.chars().all(|c| c.is_ascii_digit()))
}

/// The user name written in the URL (`https://bob@host/…`, `git@host:path`), if any.
pub(super) fn url_user(url: &str) -> Option<&str> {
    match split(url) {
        Some(p) => p.userinfo.filter(|u| !u.is_empty()),
        None if is_scp_like(url) => url.split_once(':')?.0.rsplit_once('@').map(|(u, _)| u),
        None => None,
    }
}

/// Whether the URL speaks http(s), where a token is sent as basic auth.
pub(super) fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `[user@]host:path` with no `/` before the colon, as git reads it.
fn is_scp_like(url: &str) -> bool {
    match url.find(':') {
        Some(colon) => !url.contains("://") && colon > 0 && !url[..colon].contains('/'),
        None => false,
    }
}

/// The URL stored in the mirror's config: a relative local path is made absolute (the daemon's working
/// directory is not the user's), everything else is kept as written.
pub(super) fn remote_url(url: &str) -> String {
    if url.contains("://") || is_scp_like(url) {
        return url.to_string();
    }
    Path::new(url)
        .canonicalize()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_query_and_fragment() {
        assert_eq!(redact_url("https://user:secret@host/x"), "https://host/x");
        assert_eq!(
            redact_url("https://tok@host:8443/a/b.git?x=secret#f"),
            "https://host:8443/a/b.git"
        );
        assert_eq!(redact_url("ssh://git@host/x"), "ssh://host/x");
        assert_eq!(
            redact_url("git://127.0.0.1:9418/repo"),
            "git://127.0.0.1:9418/repo"
        );
        assert_eq!(
            redact_url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(redact_url("/srv/git/repo"), "/srv/git/repo");
        assert_eq!(redact_url("https://host?token=abc"), "https://host");
    }

    #[test]
    fn detects_passwords() {
        assert!(has_password("https://user:pw@host/x"));
        assert!(has_password("https://user:pa/ss@host/x"));
        assert!(has_password("https://:pw@host/x"));
        assert!(!has_password("https://user@host/x"));
        assert!(!has_password("https://host:8443/x"));
        assert!(!has_password("https://[::1]:8443/x"));
        assert!(!has_password("git@host:org/repo"));
        assert!(!has_password("/srv/repo"));
    }

    #[test]
    fn finds_the_user() {
        assert_eq!(url_user("https://bob@host/x"), Some("bob"));
        assert_eq!(url_user("git@host:org/repo"), Some("git"));
        assert_eq!(url_user("host:org/repo"), None);
        assert_eq!(url_user("https://host/x"), None);
        assert_eq!(url_user("/srv/a@b/repo"), None);
    }

    #[test]
    fn http_detection() {
        assert!(is_http("https://host/x"));
        assert!(is_http("HTTP://host/x"));
        assert!(!is_http("git://host/x"));
        assert!(!is_http("ht"));
    }
}
