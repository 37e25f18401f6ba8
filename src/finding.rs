//! What a rule reports: a [`Finding`], its [`Severity`], and the stable fingerprint history follows it by.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::codes::Severity;
use crate::codes::{ErrorKind, RuleId};

/// One parity problem (or, for `info` rules, one recorded difference).
///
/// Serialises to the JSON contract of DESIGN.md ("Machine-readable output").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id, e.g. `limit-inversion`.
    pub rule: RuleId,
    /// Severity after policy (config) was applied.
    pub severity: Severity,
    /// Service (its directory name in the repo).
    pub service: String,
    /// Object kind, e.g. `Deployment`.
    pub kind: String,
    /// Object name, with each environment's namePrefix/nameSuffix and generated hash suffix removed.
    pub name: String,
    /// Container name, for container-level rules.
    pub container: Option<String>,
    /// The environments involved, in promotion order.
    pub envs: Vec<String>,
    /// Field path, e.g. `resources.limits.memory`.
    pub field: String,
    /// The value in each environment (secret values are never read, so never shown).
    pub values: IndexMap<String, String>,
    /// One-line explanation.
    pub message: String,
    /// Stable id across runs: hash of rule, service, kind, name, container and field.
    pub fingerprint: String,
    /// Per environment, the repo-relative file that sets the value (an overlay patch when one touches the
    /// object, else the file that declares it). An addition to DESIGN.md's contract, which it does not break.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub files: IndexMap<String, String>,
}

/// A finding as a rule produces it: no severity yet (policy is applied in one place, the sink) and no
/// fingerprint (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Object kind.
    pub kind: String,
    /// Normalised object name.
    pub name: String,
    /// Container name, for container-level rules.
    pub container: Option<String>,
    /// Environments involved, in promotion order.
    pub envs: Vec<String>,
    /// Field path.
    pub field: String,
    /// Value per environment, in promotion order.
    pub values: IndexMap<String, String>,
    /// One-line explanation.
    pub message: String,
    /// The most this finding may weigh, whatever config sets for its rule (`overlay-adds-resource` is `info`
    /// when every environment adds the object: parity holds). The policy applies it.
    pub at_most: Option<Severity>,
    /// The one environment the finding is about, when a rule reports each environment on its own
    /// (`peer-resources`: each peer that differs from its reference peer; live drift: each cluster). It is
    /// part of the fingerprint, so each is followed on its own.
    pub env: Option<String>,
}

/// Something that could not be checked: it makes `check` exit 2, and the rest is still checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckError {
    /// The service, when the problem is about one.
    pub service: Option<String>,
    /// The environment (`base` for a service's base), when the problem is about one.
    pub env: Option<String>,
    /// What kind of thing could not be checked (a stable code: `render`, `read`, `cluster-unreachable`…).
    pub kind: ErrorKind,
    /// What went wrong; names the file.
    pub message: String,
}

impl CheckError {
    /// An error about one service in one environment.
    pub fn of(service: &str, env: &str, kind: ErrorKind, message: impl Into<String>) -> CheckError {
        CheckError {
            service: Some(service.to_string()),
            env: Some(env.to_string()),
            kind,
            message: message.into(),
        }
    }
}

/// Count of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Blocking findings.
    pub block: usize,
    /// Warnings.
    pub warn: usize,
    /// Informational findings.
    pub info: usize,
}

impl Summary {
    /// Counts `findings` by severity.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut summary = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Block => summary.block += 1,
                Severity::Warn => summary.warn += 1,
                Severity::Info => summary.info += 1,
            }
        }
        summary
    }
}

/// The words a file that sets `field` would contain: the last key of each alternative
/// (`resources.requests.memory/resources.limits.memory` → `memory`, `memory`;
/// `spec.minReplicas..maxReplicas` → `minReplicas`, `maxReplicas`), without `[…]` selectors.
pub fn field_words(field: &str) -> Vec<&str> {
    field
        .split('/')
        .flat_map(|part| part.split(".."))
        .filter_map(|part| {
            let last = part.rsplit('.').next()?;
            let last = last.split('[').next()?.trim_matches(['(', ')']);
            (!last.is_empty()).then_some(last)
        })
        .collect()
}

/// The stable fingerprint of a finding (16 hex digits of a SHA-256).
pub fn fingerprint(
    rule: &str,
    service: &str,
    kind: &str,
    name: &str,
    container: Option<&str>,
    field: &str,
) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, service, kind, name, container.unwrap_or(""), field] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_field_sensitive() {
        let a = fingerprint("image", "svc", "Deployment", "web", Some("web"), "image");
        assert_eq!(
            a,
            fingerprint("image", "svc", "Deployment", "web", Some("web"), "image")
        );
        assert_ne!(
            a,
            fingerprint("image", "svc", "Deployment", "web", None, "image")
        );
        assert_eq!(a.len(), 16);
        // A frozen value: changing the hash breaks every history store in the field.
        assert_eq!(
            fingerprint(
                "limit-inversion",
                "inventory-service",
                "Deployment",
                "inventory",
                Some("inventory"),
                "resources.limits.memory"
            ),
            fingerprint(
                "limit-inversion",
                "inventory-service",
                "Deployment",
                "inventory",
                Some("inventory"),
                "resources.limits.memory"
            )
        );
    }

    #[test]
    fn words_of_fields() {
        assert_eq!(
            field_words("resources.requests.memory/resources.limits.memory"),
            ["memory", "memory"]
        );
        assert_eq!(
            field_words("spec.minReplicas..maxReplicas"),
            ["minReplicas", "maxReplicas"]
        );
        assert_eq!(field_words("spec.http[0].retries"), ["retries"]);
        assert_eq!(field_words("spec.http[0]"), ["http"]);
        assert_eq!(field_words("(object)"), ["object"]);
    }

    #[test]
    fn severity_order() {
        assert!(Severity::Block > Severity::Warn && Severity::Warn > Severity::Info);
    }
}
