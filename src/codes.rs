//! The stable codes every module may use: rule ids ([`RuleId`]) with their metadata, severities, event kinds
//! ([`EventKind`]) and stage-error kinds ([`ErrorKind`]).
//!
//! This module is a leaf: it depends on nothing else in the crate. A code is an enum variant, so a typo is a
//! compile error, and its kebab-case spelling — what config, history, JSON and the report use — is written
//! once, here. A snapshot test lists every code, so none changes silently.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How much a finding matters. Ordered: `Info < Warn < Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Recorded as data (e.g. replica counts); never fails anything.
    Info,
    /// Worth a look; `check` still exits 0.
    Warn,
    /// Breaks parity; `check` exits 1.
    Block,
}

impl Severity {
    /// The lowercase name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule is about, for grouping in listings and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Images and their versions.
    Image,
    /// Requests and limits.
    Resources,
    /// Container configuration: env, probes.
    Configuration,
    /// Traffic: ingress and service mesh.
    Networking,
    /// Which objects exist, and how overlays are written.
    Structure,
    /// Differences that are allowed and only recorded.
    Scale,
    /// Git against the running cluster.
    Live,
    /// The repository's own policy: what a change to config.toml hides from the gate.
    Policy,
}

/// An unknown code (a rule id, event kind or error kind that this version does not have).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{code}`")]
pub struct UnknownCode {
    /// What kind of code was asked for: `rule`, `event kind`, `error kind`.
    pub what: &'static str,
    /// The spelling that matched nothing.
    pub code: String,
}

/// Declares a code enum with its kebab-case spelling, `ALL`, `as_str`, `FromStr`, `Display` and serde.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable kebab-case spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }
        }

        // Ordered by spelling, as the strings they replaced were: sorted output stays as it was.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, UnknownCode> {
                match s {
                    $($code => Ok($name::$variant),)*
                    _ => Err(UnknownCode { what: $what, code: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

codes! {
    /// Every rule: the parity rules (computed from the rendered overlays) and the live-drift rules (computed
    /// from the clusters). Config, history and every output refer to a rule by this id.
    RuleId, "rule" {
        /// `image`
        Image = "image",
        /// `request-limit-ratio`
        RequestLimitRatio = "request-limit-ratio",
        /// `limit-scale`
        LimitScale = "limit-scale",
        /// `limit-inversion`
        LimitInversion = "limit-inversion",
        /// `limits-presence`
        LimitsPresence = "limits-presence",
        /// `env-names`
        EnvNames = "env-names",
        /// `probes`
        Probes = "probes",
        /// `ingress-structure`
        IngressStructure = "ingress-structure",
        /// `mesh`
        Mesh = "mesh",
        /// `resource-set`
        ResourceSet = "resource-set",
        /// `overlay-adds-resource`
        OverlayAddsResource = "overlay-adds-resource",
        /// `overlay-patch-count`
        OverlayPatchCount = "overlay-patch-count",
        /// `peer-resources`
        PeerResources = "peer-resources",
        /// `replicas`
        Replicas = "replicas",
        /// `live-value`
        LiveValue = "live-value",
        /// `live-manual-field`
        LiveManualField = "live-manual-field",
        /// `live-missing`
        LiveMissing = "live-missing",
        /// `live-extra`
        LiveExtra = "live-extra",
        /// `live-sync-disabled`
        LiveSyncDisabled = "live-sync-disabled",
        /// `live-destination`
        LiveDestination = "live-destination",
        /// `policy-change`
        PolicyChange = "policy-change",
    }
}

/// What a rule is, apart from how it checks: the metadata `rules`, `explain`, config validation, the policy
/// and the report read.
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    /// One line for `envparity rules`.
    pub summary: &'static str,
    /// Grouping.
    pub category: Category,
    /// Severity unless config says otherwise.
    pub default_severity: Severity,
    /// The default threshold, for rules that have one.
    pub default_threshold: Option<Decimal>,
    /// Markdown documentation: What it checks / Why it matters / Example / How to fix.
    pub doc: &'static str,
}

impl RuleId {
    /// Whether the rule compares Git with a cluster (rather than environments with each other).
    pub fn is_live(self) -> bool {
        self.meta().category == Category::Live
    }

    /// The parity rules, in the order `envparity rules` lists them.
    pub fn parity() -> impl Iterator<Item = RuleId> {
        RuleId::ALL
            .iter()
            .copied()
            .filter(|r| !matches!(r.category(), Category::Live | Category::Policy))
    }

    /// The rules a scan can report (all but `policy-change`, which only the gate runs): the columns of the
    /// report's matrix.
    pub fn scanned() -> impl Iterator<Item = RuleId> {
        RuleId::ALL
            .iter()
            .copied()
            .filter(|r| r.category() != Category::Policy)
    }

    /// The live-drift rules.
    pub fn live() -> impl Iterator<Item = RuleId> {
        RuleId::ALL.iter().copied().filter(|r| r.is_live())
    }

    /// One line for `envparity rules`.
    pub fn summary(self) -> &'static str {
        self.meta().summary
    }

    /// Grouping.
    pub fn category(self) -> Category {
        self.meta().category
    }

    /// Severity unless config says otherwise.
    pub fn default_severity(self) -> Severity {
        self.meta().default_severity
    }

    /// The default threshold, for rules that have one.
    pub fn default_threshold(self) -> Option<Decimal> {
        self.meta().default_threshold
    }

    /// Markdown documentation (`envparity explain`).
    pub fn doc(self) -> &'static str {
        self.meta().doc
    }

    /// Everything about the rule but its check.
    pub fn meta(self) -> RuleMeta {
        use Category::*;
        use Severity::*;
        let (summary, category, default_severity, default_threshold, doc) = match self {
            RuleId::Image => (
                "container image repository and tag/digest differ between environments",
                Image,
                Block,
                None,
                include_str!("rules/docs/image.md"),
            ),
            RuleId::RequestLimitRatio => (
                "requests ÷ limits of a container differ between environments by more than the tolerance",
                Resources,
                Warn,
                Some(Decimal::new(15, 1)),
                include_str!("rules/docs/request-limit-ratio.md"),
            ),
            RuleId::LimitScale => (
                "a limit in one tier is more than 4× the same limit in another (peers are not compared)",
                Resources,
                Warn,
                Some(Decimal::from(4)),
                include_str!("rules/docs/limit-scale.md"),
            ),
            RuleId::LimitInversion => (
                "an earlier tier has a higher limit than a later one (tests pass with headroom production lacks)",
                Resources,
                Block,
                None,
                include_str!("rules/docs/limit-inversion.md"),
            ),
            RuleId::LimitsPresence => (
                "a container has a request or limit in one environment and none in another",
                Resources,
                Block,
                None,
                include_str!("rules/docs/limits-presence.md"),
            ),
            RuleId::EnvNames => (
                "the set of env var names (env, envFrom sources and the keys they load) differs between environments",
                Configuration,
                Block,
                None,
                include_str!("rules/docs/env-names.md"),
            ),
            RuleId::Probes => (
                "readiness, liveness or startup probes differ between environments",
                Configuration,
                Block,
                None,
                include_str!("rules/docs/probes.md"),
            ),
            RuleId::IngressStructure => (
                "ingress rules, paths, path types, backends or TLS differ between environments (hostnames masked)",
                Networking,
                Block,
                None,
                include_str!("rules/docs/ingress-structure.md"),
            ),
            RuleId::Mesh => (
                "service-mesh objects or mesh pod annotations/labels differ between environments (hostnames masked)",
                Networking,
                Block,
                None,
                include_str!("rules/docs/mesh.md"),
            ),
            RuleId::ResourceSet => (
                "an object exists in some environments only",
                Structure,
                Warn,
                None,
                include_str!("rules/docs/resource-set.md"),
            ),
            RuleId::OverlayAddsResource => (
                "an overlay adds objects that the base does not have",
                Structure,
                Warn,
                None,
                include_str!("rules/docs/overlay-adds-resource.md"),
            ),
            RuleId::OverlayPatchCount => (
                "an overlay declares more than 10 patches: the base is too generic",
                Structure,
                Warn,
                Some(Decimal::from(10)),
                include_str!("rules/docs/overlay-patch-count.md"),
            ),
            RuleId::PeerResources => (
                "limits or request ÷ limit ratios differ between peers of one tier (regions, clusters)",
                Resources,
                Warn,
                None,
                include_str!("rules/docs/peer-resources.md"),
            ),
            RuleId::Replicas => (
                "replica counts and HPA min/max per environment (allowed to differ; recorded as info)",
                Scale,
                Info,
                None,
                include_str!("rules/docs/replicas.md"),
            ),
            RuleId::LiveValue => (
                "a field Git sets has another value in the cluster (with the manager that changed it)",
                Live,
                Block,
                None,
                include_str!("live/docs/live-value.md"),
            ),
            RuleId::LiveManualField => (
                "a field set in the cluster by hand that Git does not set",
                Live,
                Warn,
                None,
                include_str!("live/docs/live-manual-field.md"),
            ),
            RuleId::LiveMissing => (
                "an object Git declares is missing from the cluster",
                Live,
                Block,
                None,
                include_str!("live/docs/live-missing.md"),
            ),
            RuleId::LiveExtra => (
                "an object in the cluster tracked as the service's that Git does not declare",
                Live,
                Warn,
                None,
                include_str!("live/docs/live-extra.md"),
            ),
            RuleId::LiveSyncDisabled => (
                "auto-sync or self-heal switched off live while Git turns it on, or a Flux Kustomization suspended live only (with who and when)",
                Live,
                Warn,
                None,
                include_str!("live/docs/live-sync-disabled.md"),
            ),
            RuleId::LiveDestination => (
                "the live Argo CD Application deploys an overlay to another cluster or namespace than the repo's Application says",
                Live,
                Block,
                None,
                include_str!("live/docs/live-destination.md"),
            ),
            RuleId::PolicyChange => (
                "a change's config hides or lowers a finding its base's config reports (an exception added, a rule off, a threshold raised, a path excluded)",
                Policy,
                Warn,
                None,
                include_str!("rules/docs/policy-change.md"),
            ),
        };
        RuleMeta {
            summary,
            category,
            default_severity,
            default_threshold,
            doc,
        }
    }
}

codes! {
    /// What a history event records.
    EventKind, "event kind" {
        /// A fetch of the infra repo failed (the scan checked the last fetched commit).
        FetchFailed = "fetch-failed",
        /// An Argo CD sync that someone or something started.
        ArgoSync = "argo-sync",
        /// An Argo CD sync that self-heal started (the cluster had drifted from Git).
        ArgoSelfHeal = "argo-self-heal",
        /// An Argo CD Application's sync status or health changed.
        ArgoStatus = "argo-status",
        /// The weekly digest of a period was sent.
        DigestSent = "digest-sent",
        /// Sending the weekly digest of a period failed (the next attempt retries).
        DigestFailed = "digest-failed",
    }
}

codes! {
    /// What kind of thing could not be checked: the stable `kind` of each entry of the JSON contract's
    /// `errors[]`. Kinds may be added, never reused for something else.
    ErrorKind, "error kind" {
        /// The configuration is invalid, or asks for what does not exist (an unknown environment).
        Config = "config",
        /// The infra repository could not be fetched.
        Fetch = "fetch",
        /// A file could not be read, or is not valid YAML.
        Read = "read",
        /// kustomize failed on an overlay.
        Render = "render",
        /// The overlay uses what envparity does not render: a remote base, a helm chart, a plugin.
        Unsupported = "unsupported",
        /// A cluster could not be reached (or its credentials could not be loaded).
        ClusterUnreachable = "cluster-unreachable",
        /// A cluster refused to list what Git declares.
        ClusterForbidden = "cluster-forbidden",
        /// A cluster does not serve a kind that Git declares.
        ClusterKind = "cluster-kind",
    }
}

impl ErrorKind {
    /// Whether a cluster could not be read (as opposed to the repo).
    pub fn is_cluster(self) -> bool {
        matches!(
            self,
            ErrorKind::ClusterUnreachable | ErrorKind::ClusterForbidden | ErrorKind::ClusterKind
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_and_stable() {
        let all = serde_json::json!({
            "rules": RuleId::ALL.iter().map(|r| {
                serde_json::json!([r.as_str(), r.category(), r.default_severity(),
                    r.default_threshold().map(|t| t.to_string())])
            }).collect::<Vec<_>>(),
            "events": EventKind::ALL,
            "errors": ErrorKind::ALL,
        });
        insta::assert_json_snapshot!(all);
    }

    #[test]
    fn codes_round_trip_through_their_spelling() {
        for r in RuleId::ALL {
            assert_eq!(r.as_str().parse::<RuleId>(), Ok(*r));
            assert_eq!(serde_json::to_value(r).ok(), Some(r.as_str().into()));
        }
        for e in EventKind::ALL {
            assert_eq!(e.as_str().parse::<EventKind>(), Ok(*e));
        }
        for e in ErrorKind::ALL {
            assert_eq!(e.as_str().parse::<ErrorKind>(), Ok(*e));
        }
        assert!("imgae".parse::<RuleId>().is_err());
    }

    #[test]
    fn every_rule_is_documented_with_the_four_headings() {
        for rule in RuleId::ALL {
            for heading in [
                "## What it checks",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(rule.doc().contains(heading), "{rule} lacks {heading}");
            }
        }
    }
}
