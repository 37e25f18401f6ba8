//! `replicas`: replica counts and autoscaler bounds may differ; the difference is recorded as data.

use indexmap::IndexMap;
use serde_json::Value;

use super::{Rule, ServiceModel, Settings, object_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::{ObjectKey, compact};

#[doc = include_str!("docs/replicas.md")]
pub struct Replicas;

impl Rule for Replicas {
    fn id(&self) -> RuleId {
        RuleId::Replicas
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for key in service.workload_keys() {
            let values: IndexMap<String, String> = service
                .workload_across(key)
                .iter()
                .map(|(e, w)| {
                    let r = w
                        .replicas
                        .map_or_else(|| "(unset)".into(), |r| r.to_string());
                    (e.to_string(), r)
                })
                .collect();
            push_if_different(out, key, "spec.replicas", values, "replica count");
        }
        type Show = fn(&Value) -> String;
        let specs: [(&str, &str, &str, Show); 2] = [
            (
                "HorizontalPodAutoscaler",
                "spec.minReplicas..maxReplicas",
                "autoscaling range",
                |spec| {
                    let get = |f: &str| spec.get(f).and_then(Value::as_i64).unwrap_or(1);
                    format!("{}..{}", get("minReplicas"), get("maxReplicas"))
                },
            ),
            (
                "PodDisruptionBudget",
                "spec.minAvailable/maxUnavailable",
                "disruption budget",
                |spec| {
                    ["minAvailable", "maxUnavailable"]
                        .iter()
                        .filter_map(|f| Some(format!("{f} {}", compact(spec.get(*f)?))))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
        ];
        for (kind, field, what, show) in specs {
            for key in service.object_keys(|o| o.key.kind == kind) {
                let values = service
                    .per_env(&key, |_, o| Some(show(o.value.get("spec")?)))
                    .into_iter()
                    .map(|(e, v)| (e.to_string(), v))
                    .collect();
                push_if_different(out, &key, field, values, what);
            }
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
    let message = format!("{what} differs: {}", shown.join(", "));
    let envs = values.keys().cloned().collect();
    out.push(object_draft(key, field, envs, values, message));
}
