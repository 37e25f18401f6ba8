//! The parity rules: one file per rule, a registry, and the policy that turns drafts into findings.
//!
//! A rule is pure: it reads a [`ServiceModel`] (one service rendered in every environment) and pushes
//! [`Draft`]s. It never decides severity, never prints and never does I/O; [`crate::policy`] applies
//! severities, thresholds and exceptions in one place.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use crate::finding::{Draft, Severity};
use crate::model::{Container, EnvModel, ObjectKey, Workload};

mod env_names;
mod image;
mod ingress_structure;

pub use ingress_structure::routes as ingress_routes;
mod limit_inversion;
mod limit_scale;
mod limits_presence;
mod mesh;
mod overlay_adds_resource;
mod overlay_patch_count;
mod probes;
mod replicas;
mod request_limit_ratio;
mod resource_set;

/// What a rule is about, for grouping in listings and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
}

/// Settings a rule reads (after per-service overrides were merged).
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// The rule's numeric threshold, when it has one (`None` uses the rule's default).
    pub threshold: Option<Decimal>,
}

impl Settings {
    /// The configured threshold, else `default`.
    pub fn threshold_or(&self, default: Decimal) -> Decimal {
        self.threshold.unwrap_or(default)
    }
}

/// One parity rule.
pub trait Rule: Sync {
    /// Stable kebab-case id (never changes: history and config refer to it).
    fn id(&self) -> &'static str;
    /// One line for `envparity rules`.
    fn summary(&self) -> &'static str;
    /// Grouping.
    fn category(&self) -> Category;
    /// Severity unless config says otherwise.
    fn default_severity(&self) -> Severity;
    /// The default threshold, for rules that have one.
    fn default_threshold(&self) -> Option<Decimal> {
        None
    }
    /// Markdown documentation: What it checks / Why it matters / Example / How to fix.
    fn doc(&self) -> &'static str;
    /// Compares the service across its environments.
    fn check(&self, service: &ServiceModel, settings: Settings, out: &mut Vec<Draft>);
}

/// Every rule, in the order `envparity rules` lists them.
pub static RULES: &[&dyn Rule] = &[
    &image::Image,
    &request_limit_ratio::RequestLimitRatio,
    &limit_scale::LimitScale,
    &limit_inversion::LimitInversion,
    &limits_presence::LimitsPresence,
    &env_names::EnvNames,
    &probes::Probes,
    &ingress_structure::IngressStructure,
    &mesh::Mesh,
    &resource_set::ResourceSet,
    &overlay_adds_resource::OverlayAddsResource,
    &overlay_patch_count::OverlayPatchCount,
    &replicas::Replicas,
];

/// The live-drift rules (computed from the cluster by `crate::live`, documented and configured here).
pub static LIVE_RULES: &[&dyn Rule] = &[
    &crate::live::rules::LiveValue,
    &crate::live::rules::LiveManualField,
    &crate::live::rules::LiveMissing,
    &crate::live::rules::LiveExtra,
];

/// Every rule: parity, then live drift.
pub fn all() -> impl Iterator<Item = &'static dyn Rule> {
    RULES.iter().chain(LIVE_RULES).copied()
}

/// The rule (parity or live) with this id.
pub fn by_id(id: &str) -> Option<&'static dyn Rule> {
    all().find(|r| r.id() == id)
}

/// One service rendered in each environment: what every rule reads.
#[derive(Debug, Clone, Default)]
pub struct ServiceModel {
    /// Service name (its directory).
    pub service: String,
    /// The environments that rendered, in promotion order (the last one is the reference).
    pub envs: Vec<EnvModel>,
    /// The rendered base, when the layout has one.
    pub base: Option<EnvModel>,
    /// Number of patches each overlay's kustomization declares.
    pub patch_counts: IndexMap<String, usize>,
}

/// A container as it appears in each environment that has it.
pub struct ContainerAcross<'a> {
    /// The workload's key.
    pub workload: &'a ObjectKey,
    /// Container name.
    pub name: &'a str,
    /// `(env, container)` in promotion order.
    pub per_env: Vec<(&'a str, &'a Container)>,
}

impl ServiceModel {
    /// Every workload key, in first-seen order across environments.
    pub fn workload_keys(&self) -> Vec<&ObjectKey> {
        let mut keys: Vec<&ObjectKey> = Vec::new();
        for w in self.envs.iter().flat_map(|e| &e.workloads) {
            if !keys.contains(&&w.key) {
                keys.push(&w.key);
            }
        }
        keys
    }

    /// A workload in each environment that has it.
    pub fn workload_across<'a>(&'a self, key: &ObjectKey) -> Vec<(&'a str, &'a Workload)> {
        self.envs
            .iter()
            .filter_map(|e| Some((e.env.as_str(), e.workload_by_key(key)?)))
            .collect()
    }

    /// Every container matched across environments by workload and container name.
    pub fn containers(&self) -> Vec<ContainerAcross<'_>> {
        let mut out: Vec<ContainerAcross<'_>> = Vec::new();
        for env in &self.envs {
            for w in &env.workloads {
                for c in &w.containers {
                    match out
                        .iter_mut()
                        .find(|x| x.workload == &w.key && x.name == c.name)
                    {
                        Some(x) => x.per_env.push((env.env.as_str(), c)),
                        None => out.push(ContainerAcross {
                            workload: &w.key,
                            name: &c.name,
                            per_env: vec![(env.env.as_str(), c)],
                        }),
                    }
                }
            }
        }
        out
    }

    /// Keys of the objects `keep` accepts, in first-seen order across environments.
    pub fn object_keys(&self, keep: impl Fn(&crate::model::Object) -> bool) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = Vec::new();
        for o in self.envs.iter().flat_map(|e| &e.objects) {
            if keep(o) && !keys.contains(&o.key) {
                keys.push(o.key.clone());
            }
        }
        keys
    }

    /// For every environment that has the object, what `show` makes of it.
    pub fn per_env<T>(
        &self,
        key: &ObjectKey,
        show: impl Fn(&EnvModel, &crate::model::Object) -> Option<T>,
    ) -> Vec<(&str, T)> {
        self.envs
            .iter()
            .filter_map(|e| Some((e.env.as_str(), show(e, e.object(key)?)?)))
            .collect()
    }

    /// Position of an environment in the promotion order.
    pub fn rank(&self, env: &str) -> usize {
        self.envs
            .iter()
            .position(|e| e.env == env)
            .unwrap_or(usize::MAX)
    }
}

impl ContainerAcross<'_> {
    /// Every resource name that has a limit in some environment, with the limit in each environment that
    /// sets it.
    pub fn limits(&self) -> Vec<(&str, Vec<(&str, &crate::quantity::Quantity)>)> {
        let names: std::collections::BTreeSet<&str> = self
            .per_env
            .iter()
            .flat_map(|(_, c)| c.resources.limits.keys().map(String::as_str))
            .collect();
        names
            .into_iter()
            .map(|resource| {
                let per_env = self
                    .per_env
                    .iter()
                    .filter_map(|(e, c)| Some((*e, c.resources.limits.get(resource)?)))
                    .collect();
                (resource, per_env)
            })
            .collect()
    }
}

/// The environments whose value differs from the reference (the last one), and the reference's name;
/// `None` when all agree.
pub(crate) fn differing_from_reference<T: PartialEq>(
    values: &[(&str, T)],
) -> Option<(Vec<String>, String)> {
    let (ref_env, reference) = values.last()?;
    let differing: Vec<String> = values
        .iter()
        .filter(|(_, v)| v != reference)
        .map(|(e, _)| e.to_string())
        .collect();
    (!differing.is_empty()).then(|| (differing, ref_env.to_string()))
}

/// A draft for an object-level finding.
pub(crate) fn object_draft(
    key: &ObjectKey,
    field: impl Into<String>,
    envs: Vec<String>,
    values: IndexMap<String, String>,
    message: String,
) -> Draft {
    Draft {
        kind: key.kind.clone(),
        name: key.name.clone(),
        container: None,
        envs,
        field: field.into(),
        values,
        message,
    }
}

/// A draft for a container-level finding.
pub(crate) fn container_draft(
    c: &ContainerAcross<'_>,
    field: String,
    envs: Vec<String>,
    values: IndexMap<String, String>,
    message: String,
) -> Draft {
    Draft {
        kind: c.workload.kind.clone(),
        name: c.workload.name.clone(),
        container: Some(c.name.to_string()),
        envs,
        field,
        values,
        message,
    }
}

/// `"a, b and c"` for messages.
pub(crate) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

/// Rounds a ratio for display: `4`, `2.5`, `0.33`.
pub fn show_ratio(r: Decimal) -> String {
    r.round_dp(2).normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_stable() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
        insta::assert_yaml_snapshot!(ids);
    }

    #[test]
    fn every_rule_is_documented_with_the_four_headings() {
        for rule in all() {
            for heading in [
                "## What it checks",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(
                    rule.doc().contains(heading),
                    "{} lacks {heading}",
                    rule.id()
                );
            }
        }
    }
}
