//! `replicas`: replica counts and autoscaler bounds may differ; the difference is recorded as data.

use indexmap::IndexMap;
use serde_json::Value;

use super::{Category, Rule, ServiceModel, Settings};
use crate::finding::{Draft, Severity};
use crate::model::ObjectKey;

#[doc = include_str!("docs/replicas.md")]
pub struct Replicas;

impl Rule for Replicas {
    fn id(&self) -> &'static str {
        "replicas"
    }
    fn summary(&self) -> &'static str {
        "replica counts and HPA min/max per environment (allowed to differ; recorded as info)"
    }
    fn category(&self) -> Category {
        Category::Scale
    }
    fn default_severity(&self) -> Severity {
        Severity::Info
    }
    fn doc(&self) -> &'static str {
        include_str!("docs/replicas.md")
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for key in service.workload_keys() {
            let values: IndexMap<String, String> = service
                .workload_across(key)
                .iter()
                .map(|(e, w)| {
                    (
                        e.to_string(),
                        w.replicas
                            .map_or_else(|| "(unset)".into(), |r| r.to_string()),
                    )
                })
                .collect();
            push_if_different(out, key, "spec.replicas", values, "replica count");
        }
        let mut hpas: Vec<ObjectKey> = Vec::new();
        for o in service
            .envs
            .iter()
            .flat_map(|e| e.of_kind("HorizontalPodAutoscaler"))
        {
            if !hpas.contains(&o.key) {
                hpas.push(o.key.clone());
            }
        }
        for key in &hpas {
            let values: IndexMap<String, String> = service
                .envs
                .iter()
                .filter_map(|e| {
                    let spec = e.object(key)?.value.get("spec")?;
                    let get = |f: &str| spec.get(f).and_then(Value::as_i64).unwrap_or(1);
                    Some((
                        e.env.clone(),
                        format!("{}..{}", get("minReplicas"), get("maxReplicas")),
                    ))
                })
                .collect();
            push_if_different(
                out,
                key,
                "spec.minReplicas..maxReplicas",
                values,
                "autoscaling range",
            );
        }
        let mut pdbs: Vec<ObjectKey> = Vec::new();
        for o in service
            .envs
            .iter()
            .flat_map(|e| e.of_kind("PodDisruptionBudget"))
        {
            if !pdbs.contains(&o.key) {
                pdbs.push(o.key.clone());
            }
        }
        for key in &pdbs {
            let values: IndexMap<String, String> = service
                .envs
                .iter()
                .filter_map(|e| {
                    let spec = e.object(key)?.value.get("spec")?;
                    let budget = ["minAvailable", "maxUnavailable"]
                        .iter()
                        .filter_map(|f| {
                            Some(format!("{f} {}", crate::model::compact(spec.get(*f)?)))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    Some((e.env.clone(), budget))
                })
                .collect();
            push_if_different(
                out,
                key,
                "spec.minAvailable/maxUnavailable",
                values,
                "disruption budget",
            );
        }
    }
}

fn push_if_different(
    out: &mut Vec<Draft>,
    key: &ObjectKey,
    field: &str,
    values: IndexMap<String, String>,
    what: &str,
) {
    let Some(first) = values.values().next() else {
        return;
    };
    if values.values().all(|v| v == first) {
        return;
    }
    let shown: Vec<String> = values.iter().map(|(e, v)| format!("{e} {v}")).collect();
    out.push(Draft {
        kind: key.kind.clone(),
        name: key.name.clone(),
        container: None,
        envs: values.keys().cloned().collect(),
        field: field.into(),
        message: format!("{what} differs: {}", shown.join(", ")),
        values,
    });
}
