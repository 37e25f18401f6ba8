//! Sending over SMTP with lettre's blocking transport (the daemon calls it from `spawn_blocking`).
//!
//! The message goes to each recipient in its own SMTP transaction, so a recipient the server refuses
//! (a 5xx to RCPT) does not keep the digest from the others; the refusal is reported and recorded. When
//! the server cannot be reached, refuses the login or drops the connection before anyone accepted the
//! message, the send fails as a whole and is retried later.
//!
//! The password is read from the environment variable or file that config names, only here, and is
//! scrubbed (also base64-encoded, as SMTP AUTH sends it) from every error text.

use std::path::Path;
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, Transport};
use serde::Serialize;

use super::NotifyError;
use crate::config::{SmtpConfig, TlsMode};

/// Default seconds to wait for the server per command.
const DEFAULT_TIMEOUT: u64 = 30;

/// A recipient the server did not accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The address.
    pub address: String,
    /// The server's answer (or the client's error).
    pub error: String,
}

/// What a send achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The Message-ID sent.
    pub message_id: String,
    /// Recipients the server accepted the message for.
    pub accepted: Vec<String>,
    /// Recipients it refused.
    pub rejected: Vec<Rejected>,
}

/// What one pass over a list of recipients achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// Recipients whose copy the server accepted, in order.
    pub accepted: Vec<String>,
    /// Recipients the server refused permanently (a 5xx): sending again would not help.
    pub refused: Vec<Rejected>,
    /// Recipients not reached: refused for now (a 4xx), or not tried after the connection failed. A retry
    /// sends them.
    pub unsent: Vec<Rejected>,
}

/// A configured SMTP client.
pub struct Mailer {
    transport: SmtpTransport,
    server: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Sets up the client from `[smtp]`: reads the password from its variable or file and the extra CA
    /// certificates (paths relative to `base_dir`). Connects only when sending.
    pub fn from_config(smtp: &SmtpConfig, base_dir: &Path) -> Result<Mailer, NotifyError> {
        let host = smtp.host.trim().to_string();
        let port = smtp.port();
        let tls_params = || -> Result<TlsParameters, NotifyError> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(ca) = &smtp.ca_file {
                let path = base_dir.join(ca);
                let pem = crate::input::read_file(&path, crate::input::DEFAULT_MAX_BYTES)
                    .map_err(|source| NotifyError::CaFileUnreadable { source })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| NotifyError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                b = b.add_root_certificate(cert);
            }
            b.build().map_err(|e| NotifyError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })
        };
        let tls = match smtp.tls {
            TlsMode::Starttls => Tls::Required(tls_params()?),
            TlsMode::Tls => Tls::Wrapper(tls_params()?),
            TlsMode::None => Tls::None,
        };
        let timeout = Duration::from_secs(smtp.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT));
        let mut builder = SmtpTransport::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        let mut secrets = Vec::new();
        if let Some(user) = &smtp.username {
            let password = read_password(smtp, base_dir)?;
            secrets = encoded_forms(user, &password);
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer {
            transport: builder.build(),
            server: format!("{host}:{port}"),
            secrets,
        })
    }

    /// `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `message` to each of its recipients (To and Cc) in turn. Fails when nobody accepted it.
    #[tracing::instrument(skip_all, fields(server = %self.server))]
    pub fn deliver(&self, message: &Message, message_id: &str) -> Result<Delivery, NotifyError> {
        let recipients = message.envelope().to().to_vec();
        let attempt = self.deliver_each(message, &recipients, &mut |_| Ok(()))?;
        if attempt.accepted.is_empty() {
            return Err(self.failure(attempt.refused.iter().chain(&attempt.unsent)));
        }
        let mut rejected = attempt.refused;
        rejected.extend(attempt.unsent);
        Ok(Delivery {
            message_id: message_id.to_string(),
            accepted: attempt.accepted,
            rejected,
        })
    }

    /// Sends `message` to each of `recipients` in its own SMTP transaction, in order, and calls
    /// `accepted` with each address the moment the server has taken its copy (the caller records it
    /// before the next copy goes out). An error from `accepted` stops the sending and is returned.
    #[tracing::instrument(skip_all, fields(server = %self.server))]
    pub fn deliver_each(
        &self,
        message: &Message,
        recipients: &[Address],
        accepted: &mut dyn FnMut(&str) -> Result<(), NotifyError>,
    ) -> Result<Attempt, NotifyError> {
        let envelope = message.envelope();
        let bytes = message.formatted();
        let mut attempt = Attempt::default();
        for (i, rcpt) in recipients.iter().enumerate() {
            let single = Envelope::new(envelope.from().cloned(), vec![rcpt.clone()])
                .map_err(|source| NotifyError::Build { source })?;
            match self.transport.send_raw(&single, &bytes) {
                Ok(_) => {
                    tracing::info!(recipient = %rcpt, "digest accepted");
                    accepted(rcpt.as_ref())?;
                    attempt.accepted.push(rcpt.to_string());
                }
                Err(e) => {
                    let text = self.scrub(&error_text(&e));
                    tracing::warn!(recipient = %rcpt, error = %text, "digest not accepted");
                    let rejected = Rejected {
                        address: rcpt.to_string(),
                        error: text,
                    };
                    if e.is_permanent() {
                        attempt.refused.push(rejected);
                    } else {
                        attempt.unsent.push(rejected);
                    }
                    // A refusal of this recipient says nothing about the next one; anything else (no
                    // connection, TLS, login, a dropped connection) would fail for them too.
                    if !(e.is_permanent() || e.is_transient()) {
                        for rest in &recipients[i + 1..] {
                            attempt.unsent.push(Rejected {
                                address: rest.to_string(),
                                error: "not tried after an earlier connection failure".into(),
                            });
                        }
                        break;
                    }
                }
            }
        }
        Ok(attempt)
    }

    /// The error of a send nobody accepted: every recipient's reason.
    pub fn failure<'a>(&self, rejected: impl IntoIterator<Item = &'a Rejected>) -> NotifyError {
        NotifyError::Send {
            server: self.server.clone(),
            errors: rejected
                .into_iter()
                .map(|r| format!("{}: {}", r.address, r.error))
                .collect(),
        }
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// lettre's error with its causes, on one line.
fn error_text(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text.replace(['\r', '\n'], " ")
}

fn read_password(smtp: &SmtpConfig, base_dir: &Path) -> Result<String, NotifyError> {
    if let Some(var) = &smtp.password_env {
        return match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(p),
            Ok(_) => Err(NotifyError::Password {
                reason: format!("the environment variable `{var}` is empty"),
            }),
            Err(_) => Err(NotifyError::Password {
                reason: format!("the environment variable `{var}` is not set"),
            }),
        };
    }
    if let Some(file) = &smtp.password_file {
        let path = base_dir.join(file);
        // Bounded, and the error never carries content (ReadError quotes nothing).
        let text = crate::input::read_file_to_string(&path, crate::input::DEFAULT_MAX_BYTES)
            .map_err(|e| NotifyError::Password {
                reason: e.to_string(),
            })?;
        let p = text.trim_end_matches(['\r', '\n']).to_string();
        if p.is_empty() {
            return Err(NotifyError::Password {
                reason: format!("{} is empty", path.display()),
            });
        }
        return Ok(p);
    }
    Err(NotifyError::Password {
        reason: "no `smtp.password_env` or `smtp.password_file` configured".into(),
    })
}

/// Parses addresses from config.
pub fn mailboxes(addresses: &[String]) -> Result<Vec<Mailbox>, NotifyError> {
    addresses.iter().map(|a| mailbox(a)).collect()
}

/// Parses one address from config.
pub fn mailbox(address: &str) -> Result<Mailbox, NotifyError> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| NotifyError::Address {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// The forms a password can take in a transcript: itself, and SMTP AUTH's base64 encodings of it
/// (`password` for AUTH LOGIN, `\0user\0password` for AUTH PLAIN).
fn encoded_forms(user: &str, password: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        password.to_string(),
        b64.encode(password.as_bytes()),
        b64.encode(format!("\0{user}\0{password}").as_bytes()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_password_file_pointing_at_dev_zero_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("password")).expect("symlink");
        let text = "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\nusername = \"u\"\npassword_file = \"password\"\n";
        let (config, _) = crate::config::Config::parse(text, &dir.path().join("config.toml"))
            .expect("valid config");
        let smtp = config.smtp.expect("smtp");
        let err = read_password(&smtp, dir.path()).expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "the SMTP password: {} is a device, not a regular file",
                dir.path().join("password").display()
            )
        );
    }
}
