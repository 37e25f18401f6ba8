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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Replicas;
    use crate::rules::testing::{check, deployment, draft, object, service, web, workload};

    fn hpa(spec: Value) -> Value {
        object(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "web",
            json!({ "spec": spec }),
        )
    }

    fn pdb(spec: Value) -> Value {
        object(
            "policy/v1",
            "PodDisruptionBudget",
            "web",
            json!({ "spec": spec }),
        )
    }

    #[test]
    fn replica_counts_that_differ_are_recorded() {
        let model = service("web")
            .env("dev", [deployment("web").replicas(1)])
            .env("staging", [deployment("web").replicas(2)])
            .env("production", [deployment("web").replicas(6)])
            .build();
        assert_eq!(
            check(&Replicas, &model),
            [draft("Deployment/web")
                .field("spec.replicas")
                .envs(["dev", "staging", "production"])
                .values([("dev", "1"), ("staging", "2"), ("production", "6")])
                .message("replica count differs: dev 1, staging 2, production 6")]
        );
    }

    /// An autoscaled workload leaves `spec.replicas` unset; the autoscaler's range is recorded instead.
    #[test]
    fn autoscaling_ranges_and_unset_replicas_are_recorded() {
        let model = service("web")
            .env(
                "staging",
                [
                    workload("StatefulSet", "web").replicas(2).into(),
                    hpa(json!({"maxReplicas": 4})),
                ],
            )
            .env(
                "production",
                [
                    workload("StatefulSet", "web").into(),
                    hpa(json!({"minReplicas": 3, "maxReplicas": 10})),
                ],
            )
            .build();
        assert_eq!(
            check(&Replicas, &model),
            [
                draft("StatefulSet/web")
                    .field("spec.replicas")
                    .envs(["staging", "production"])
                    .values([("staging", "2"), ("production", "(unset)")])
                    .message("replica count differs: staging 2, production (unset)"),
                draft("HorizontalPodAutoscaler/web")
                    .field("spec.minReplicas..maxReplicas")
                    .envs(["staging", "production"])
                    .values([("staging", "1..4"), ("production", "3..10")])
                    .message("autoscaling range differs: staging 1..4, production 3..10"),
            ]
        );
    }

    #[test]
    fn disruption_budgets_that_differ_are_recorded() {
        let model = service("web")
            .env("staging", [pdb(json!({"maxUnavailable": 1}))])
            .env("production", [pdb(json!({"minAvailable": "50%"}))])
            .build();
        assert_eq!(
            check(&Replicas, &model),
            [draft("PodDisruptionBudget/web")
                .field("spec.minAvailable/maxUnavailable")
                .envs(["staging", "production"])
                .values([
                    ("staging", "maxUnavailable 1"),
                    ("production", "minAvailable 50%")
                ])
                .message("disruption budget differs: staging maxUnavailable 1, production minAvailable 50%")]
        );
    }

    /// Only the counts are this rule's: other differences, and counts that agree, record nothing.
    #[test]
    fn equal_counts_are_silent_whatever_else_differs() {
        let model = service("web")
            .env(
                "staging",
                [
                    web(|c| c.env("MODE", "staging").limits(json!({"memory": "1Gi"})))
                        .replicas(3)
                        .into(),
                    hpa(json!({"minReplicas": 3, "maxReplicas": 6, "metrics": []})),
                    pdb(json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}})),
                ],
            )
            .env(
                "production",
                [
                    web(|c| c.limits(json!({"memory": "4Gi"})))
                        .replicas(3)
                        .into(),
                    hpa(json!({"maxReplicas": 6, "minReplicas": 3})),
                    pdb(json!({"minAvailable": 1})),
                ],
            )
            .build();
        assert_eq!(check(&Replicas, &model), []);
    }
}
