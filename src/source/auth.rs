//! Credentials for one fetch: the token read from its env var or file just before the network is touched, a
//! credentials callback that offers each kind of credential once (libgit2 asks again forever when the server
//! rejects one), and the scrubbing of the token out of git's messages.

use std::fmt;
use std::path::PathBuf;

use git2::{Cred, CredentialType};

use super::url::{is_http, url_user};
use super::{SourceError, SourceSpec};

/// The credential envparity offered to a server: where it came from, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A token read from an env var, sent as the password of https basic auth.
    TokenEnv {
        /// The env var's name.
        var: String,
        /// The user name sent with it.
        username: String,
    },
    /// A token read from a file, sent as the password of https basic auth.
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The user name sent with it.
        username: String,
    },
    /// An ssh private key file.
    SshKey {
        /// The key file.
        path: PathBuf,
        /// The ssh user.
        username: String,
    },
    /// The keys of the ssh agent.
    SshAgent {
        /// The ssh user.
        username: String,
    },
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::TokenEnv { var, username } => {
                write!(f, "the token from ${var} (user `{username}`)")
            }
            Credential::TokenFile { path, username } => {
                write!(f, "the token from {} (user `{username}`)", path.display())
            }
            Credential::SshKey { path, username } => {
                write!(f, "the ssh key {} (user `{username}`)", path.display())
            }
            Credential::SshAgent { username } => {
                write!(f, "the ssh agent's keys (user `{username}`)")
            }
        }
    }
}

/// A token. Its `Debug` never shows it, and it has no `Display`.
struct Secret(String);

/// The token of one fetch, the user name sent with it, and where it came from.
#[derive(Debug)]
struct Token {
    secret: Secret,
    username: String,
    credential: Credential,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What the server asked for that envparity could not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    /// https basic auth, with no token configured.
    Token,
    /// An ssh key.
    SshKey,
    /// Something envparity does not do (NTLM/Negotiate, ssh keyboard-interactive).
    Other,
}

/// The state of one fetch's credentials callback.
#[derive(Debug)]
pub(super) struct Auth {
    spec_user: Option<String>,
    token: Option<Token>,
    ssh_key: Option<PathBuf>,
    tried_token: bool,
    tried_username: bool,
    tried_key: bool,
    tried_agent: bool,
    last_offered: Option<Credential>,
    /// The credential the server rejected (it asked again after getting it).
    pub(super) rejected: Option<Credential>,
    /// What the server asked for that is not configured.
    pub(super) missing: Option<Missing>,
}

impl Auth {
    /// Reads the token now (for http(s) URLs only: other transports never use it, so an unset variable
    /// must not break them).
    pub(super) fn new(spec: &SourceSpec) -> Result<Auth, SourceError> {
        let token = if is_http(&spec.url) {
            read_token(spec)?
        } else {
            None
        };
        Ok(Auth {
            spec_user: spec.username.clone(),
            token,
            ssh_key: spec.ssh_key.clone(),
            tried_token: false,
            tried_username: false,
            tried_key: false,
            tried_agent: false,
            last_offered: None,
            rejected: None,
            missing: None,
        })
    }

    /// Replaces the token, wherever it appears in `message`, with `***`.
    pub(super) fn scrub(&self, message: &str) -> String {
        match &self.token {
            Some(Token {
                secret: Secret(token),
                ..
            }) if !token.is_empty() => message.replace(token.as_str(), "***"),
            _ => message.to_string(),
        }
    }

    /// The credentials callback: each kind of credential is offered once; when the server asks again, the
    /// one it got is recorded as rejected and the fetch is stopped.
    pub(super) fn credentials(
        &mut self,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let Some(token) = &self.token else {
                return Err(self.give_up(Missing::Token));
            };
            if self.tried_token {
                self.rejected = Some(token.credential.clone());
                return Err(stop());
            }
            self.tried_token = true;
            return Cred::userpass_plaintext(&token.username, &token.secret.0);
        }
        let user = self
            .spec_user
            .clone()
            .or_else(|| username_from_url.map(str::to_string))
            .or_else(|| url_user(url).map(str::to_string))
            .unwrap_or_else(|| "git".to_string());
        if allowed.contains(CredentialType::USERNAME) {
            if self.tried_username {
                return Err(stop());
            }
            self.tried_username = true;
            return Cred::username(&user);
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            if let Some(path) = &self.ssh_key {
                if !self.tried_key {
                    self.tried_key = true;
                    self.last_offered = Some(Credential::SshKey {
                        path: path.clone(),
                        username: user.clone(),
                    });
                    return Cred::ssh_key(&user, None, path, None);
                }
            } else if !self.tried_agent {
                self.tried_agent = true;
                self.last_offered = Some(Credential::SshAgent {
                    username: user.clone(),
                });
                return Cred::ssh_key_from_agent(&user);
            }
            return match self.last_offered.clone() {
                Some(credential) => {
                    self.rejected = Some(credential);
                    Err(stop())
                }
                None => Err(self.give_up(Missing::SshKey)),
            };
        }
        Err(self.give_up(Missing::Other))
    }

    fn give_up(&mut self, missing: Missing) -> git2::Error {
        self.missing = Some(missing);
        stop()
    }
}

fn stop() -> git2::Error {
    git2::Error::new(
        git2::ErrorCode::Auth,
        git2::ErrorClass::Net,
        "no further credentials to offer",
    )
}

fn read_token(spec: &SourceSpec) -> Result<Option<Token>, SourceError> {
    let default_user = || {
        spec.username
            .clone()
            .or_else(|| url_user(&spec.url).map(str::to_string))
            .unwrap_or_else(|| "x-access-token".to_string())
    };
    if let Some(var) = &spec.token_env {
        let token = match std::env::var(var) {
            Ok(v) => v.trim().to_string(),
            Err(std::env::VarError::NotPresent) => String::new(),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(SourceError::TokenEnvNotUnicode { var: var.clone() });
            }
        };
        if token.is_empty() {
            return Err(SourceError::TokenEnvNotSet { var: var.clone() });
        }
        let username = default_user();
        let credential = Credential::TokenEnv {
            var: var.clone(),
            username: username.clone(),
        };
        return Ok(Some(Token {
            secret: Secret(token),
            username,
            credential,
        }));
    }
    if let Some(path) = &spec.token_file {
        // Bounded like every other file: a token file pointing at /dev/zero must not kill the daemon.
        let token = crate::input::read_file_to_string(path, crate::input::DEFAULT_MAX_BYTES)
            .map_err(|source| SourceError::TokenFileUnreadable {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_string();
        if token.is_empty() {
            return Err(SourceError::TokenFileEmpty { path: path.clone() });
        }
        let username = default_user();
        let credential = Credential::TokenFile {
            path: path.clone(),
            username: username.clone(),
        };
        return Ok(Some(Token {
            secret: Secret(token),
            username,
            credential,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_token_file_pointing_at_dev_zero_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
        let spec = SourceSpec {
            token_file: Some(path.clone()),
            ..SourceSpec::default()
        };
        let Err(err) = read_token(&spec) else {
            panic!("refused");
        };
        assert!(
            matches!(
                &err,
                SourceError::TokenFileUnreadable {
                    source: crate::input::ReadError::NotRegular { what: "device", .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the token file (from `token_file`): {} is a device, not a regular file",
                path.display()
            )
        );
    }
}
