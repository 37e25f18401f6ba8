//! The parity rules: one file per rule, a registry, and the policy that turns drafts into findings.
//!
//! A rule is pure: it reads a [`ServiceModel`] (one service rendered in every environment) and pushes
//! [`Draft`]s. It never decides severity, never prints and never does I/O; [`crate::rules::policy`] applies
//! severities, thresholds and exceptions in one place.

use indexmap::IndexMap;
use rust_decimal::Decimal;

pub use crate::quantity::show_ratio;

pub use crate::codes::RuleId;
use crate::finding::{Draft, Finding};
use crate::model::ObjectKey;
pub use crate::model::{ContainerAcross, ServiceModel};
use policy::{Policy, Suppressed};

pub mod policy;

mod env_names;
mod image;
mod ingress_structure;
mod limit_inversion;
mod limit_scale;
mod limits_presence;
mod mesh;
mod overlay_adds_resource;
mod overlay_patch_count;
mod peer_resources;
mod probes;
mod replicas;
mod request_limit_ratio;
mod resource_set;
#[cfg(test)]
mod testing;

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

/// One parity rule: how it checks. What it is (summary, category, default severity, threshold, docs) is
/// its [`RuleId`]'s metadata ([`crate::codes::RuleMeta`]).
pub trait Rule: Sync {
    /// The rule's stable id.
    fn id(&self) -> RuleId;
    /// Compares the service across its environments.
    fn check(&self, service: &ServiceModel, settings: Settings, out: &mut Vec<Draft>);
}

/// Every parity rule, in the order `envparity rules` lists them.
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
    &peer_resources::PeerResources,
    &replicas::Replicas,
];

/// The parity stage for one service: every rule config leaves on, through the policy (severity, thresholds,
/// exceptions). Returns the findings, and those an exception hides.
pub fn check(model: &ServiceModel, policy: &Policy<'_>) -> (Vec<Finding>, Vec<Suppressed>) {
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    for rule in RULES {
        let Some((severity, settings)) = policy.settings(rule.id(), &model.service) else {
            continue;
        };
        let mut drafts = Vec::new();
        rule.check(model, settings, &mut drafts);
        for draft in drafts {
            match policy.apply(rule.id(), &model.service, severity, draft) {
                Ok(f) => findings.push(f),
                Err(s) => suppressed.push(*s),
            }
        }
    }
    (findings, suppressed)
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
        at_most: None,
        env: None,
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
        at_most: None,
        env: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parity_rule_is_registered_once_in_the_order_of_its_code() {
        let registered: Vec<RuleId> = RULES.iter().map(|r| r.id()).collect();
        let parity: Vec<RuleId> = RuleId::parity().collect();
        assert_eq!(registered, parity);
    }

    /// Everything parity allows to differ, at once: quantity spellings with proportional scaling, replica
    /// counts and autoscaler bounds, env values, hostnames, image and probe spellings, ports by name or
    /// number, name prefixes and generated hashes, a region of production next to it. Every rule stays silent but `replicas`, which records
    /// the counts.
    #[test]
    fn environments_that_differ_only_where_parity_allows_give_only_replica_records() {
        use serde_json::{Value, json};

        use testing::{naming, object, service, web};

        /// What one environment renders: `scale` times dev's resources, objects named with `prefix`.
        fn rendered(prefix: &str, scale: u32, image: &str, host: &str) -> Vec<Value> {
            let name = |n: &str| format!("{prefix}{n}");
            // dev names its ports, the others give numbers.
            let (probe_port, backend_port) = if scale == 1 {
                (json!("http"), json!({"name": "http"}))
            } else {
                (json!(8080), json!({"number": 80}))
            };
            let deployment = web(|c| {
                c.image(image)
                    .port("http", 8080)
                    .env("DB_URL", &format!("postgres://db.{host}"))
                    .env_from(json!({"configMapRef": {"name": name("web-config-7g8m2kd4hb")}}))
                    .requests(json!({
                        "cpu": format!("{}m", 250 * scale),
                        "memory": format!("{}Mi", 256 * scale),
                    }))
                    .limits(json!({
                        "cpu": f64::from(scale) / 2.0,
                        "memory": format!("{}Ki", 512 * 1024 * scale),
                    }))
                    .probe(
                        "readinessProbe",
                        json!({"httpGet": {"port": probe_port, "path": "/ready"}}),
                    )
            })
            .replicas(i64::from(scale))
            .pod_annotation("sidecar.istio.io/inject", "true")
            .pod_annotation("checksum/config", host);
            let ingress_rule = json!({"host": host, "http": {"paths": [{
                "path": "/",
                "pathType": "Prefix",
                "backend": {"service": {"name": name("web"), "port": backend_port}},
            }]}});
            vec![
                deployment.into(),
                object(
                    "v1",
                    "ConfigMap",
                    &name("web-config-7g8m2kd4hb"),
                    json!({"data": {"LOG_LEVEL": host}}),
                ),
                object(
                    "v1",
                    "Service",
                    &name("web"),
                    json!({"spec": {"ports": [{"name": "http", "port": 80}]}}),
                ),
                object(
                    "networking.k8s.io/v1",
                    "Ingress",
                    &name("web"),
                    json!({"spec": {"rules": [ingress_rule]}}),
                ),
                object(
                    "networking.istio.io/v1",
                    "VirtualService",
                    &name("web"),
                    json!({"spec": {
                        "hosts": [host],
                        "http": [{"route": [{"destination": {"host": name("web")}}]}],
                    }}),
                ),
                object(
                    "autoscaling/v2",
                    "HorizontalPodAutoscaler",
                    &name("web"),
                    json!({"spec": {"minReplicas": scale, "maxReplicas": 3 * scale}}),
                ),
            ]
        }

        let model = service("web")
            .base(rendered("", 1, "nginx:1.25", "example.com"))
            .env_named(
                "dev",
                naming("dev-", ""),
                rendered("dev-", 1, "nginx:1.25", "dev.example.com"),
            )
            .env(
                "staging",
                rendered("", 2, "docker.io/nginx:1.25", "staging.example.com"),
            )
            .env(
                "production",
                rendered("", 4, "docker.io/library/nginx:1.25", "example.com"),
            )
            // A region of production: its peer, with its own hostnames.
            .peer(
                "production-eu",
                rendered("", 4, "nginx:1.25", "eu.example.com"),
            )
            .patches("production", 10)
            .build();
        let mut recorded = Vec::new();
        for rule in RULES {
            let mut drafts = Vec::new();
            rule.check(&model, Settings::default(), &mut drafts);
            recorded.extend(drafts.into_iter().map(|d| (rule.id(), d.kind, d.field)));
        }
        let only_replicas = [
            (RuleId::Replicas, "Deployment", "spec.replicas"),
            (
                RuleId::Replicas,
                "HorizontalPodAutoscaler",
                "spec.minReplicas..maxReplicas",
            ),
        ]
        .map(|(id, kind, field)| (id, kind.to_string(), field.to_string()));
        assert_eq!(recorded, only_replicas);
    }
}
