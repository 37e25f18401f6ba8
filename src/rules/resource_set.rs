//! `resource-set`: every environment should render the same set of objects.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, object_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::ObjectKey;

#[doc = include_str!("docs/resource-set.md")]
pub struct ResourceSet;

impl Rule for ResourceSet {
    fn id(&self) -> RuleId {
        RuleId::ResourceSet
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let mut keys: Vec<&ObjectKey> = Vec::new();
        for env in &service.envs {
            for o in &env.objects {
                if !env.is_env_namespace(o) && !keys.contains(&&o.key) {
                    keys.push(&o.key);
                }
            }
        }
        for key in keys {
            let values: IndexMap<String, String> = service
                .envs
                .iter()
                .map(|e| {
                    let v = if e.object(key).is_some() {
                        "present"
                    } else {
                        "absent"
                    };
                    (e.env.clone(), v.to_string())
                })
                .collect();
            let absent: Vec<String> = values
                .iter()
                .filter(|(_, v)| v.as_str() == "absent")
                .map(|(e, _)| e.clone())
                .collect();
            if absent.is_empty() {
                continue;
            }
            let present: Vec<String> = values
                .iter()
                .filter(|(_, v)| v.as_str() == "present")
                .map(|(e, _)| e.clone())
                .collect();
            let message = format!(
                "{key} exists in {} but not in {}",
                and_list(&present),
                and_list(&absent)
            );
            out.push(object_draft(
                key,
                "(object)",
                values.keys().cloned().collect(),
                values,
                message,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::ResourceSet;
    use crate::model::Naming;
    use crate::rules::testing::{check, deployment, draft, naming, object, service};

    fn named(kind: &str, name: &str) -> Value {
        let api_version = match kind {
            "PodDisruptionBudget" => "policy/v1",
            "HorizontalPodAutoscaler" => "autoscaling/v2",
            _ => "v1",
        };
        object(api_version, kind, name, json!({}))
    }

    #[test]
    fn an_object_only_production_renders_fires() {
        let model = service("web")
            .env("dev", [deployment("web").replicas(1)])
            .env("staging", [deployment("web").replicas(2)])
            .env(
                "production",
                [
                    deployment("web").replicas(6).into(),
                    named("PodDisruptionBudget", "web"),
                ],
            )
            .build();
        assert_eq!(
            check(&ResourceSet, &model),
            [draft("PodDisruptionBudget/web")
                .field("(object)")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "absent"),
                    ("staging", "absent"),
                    ("production", "present")
                ])
                .message(
                    "PodDisruptionBudget/web exists in production but not in dev and staging"
                )]
        );
    }

    #[test]
    fn objects_missing_here_and_there_fire_each_in_first_seen_order() {
        let model = service("web")
            .env(
                "dev",
                [named("ConfigMap", "debug"), named("Service", "web")],
            )
            .env(
                "production",
                [
                    named("Service", "web"),
                    named("HorizontalPodAutoscaler", "web"),
                ],
            )
            .build();
        let messages: Vec<String> = check(&ResourceSet, &model)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            messages,
            [
                "ConfigMap/debug exists in dev but not in production",
                "HorizontalPodAutoscaler/web exists in production but not in dev",
            ]
        );
    }

    /// Names are matched without the overlay's namePrefix/nameSuffix and generated hash suffix, and each
    /// environment's own Namespace is no difference.
    #[test]
    fn renamed_objects_and_each_environments_namespace_are_silent() {
        let model = service("web")
            .env_named(
                "dev",
                naming("dev-", "-v2"),
                [
                    named("Namespace", "shop-dev"),
                    deployment("dev-web-v2").into(),
                    named("ConfigMap", "dev-web-config-v2-7g8m2kd4hb"),
                ],
            )
            .env_named(
                "production",
                Naming {
                    namespace: Some("shop".into()),
                    ..Naming::default()
                },
                [
                    named("Namespace", "shop"),
                    named("ConfigMap", "web-config-9f2k5m7tbc"),
                    deployment("web").into(),
                ],
            )
            .build();
        assert_eq!(check(&ResourceSet, &model), []);
    }

    #[test]
    fn a_namespace_that_is_not_the_environments_own_fires() {
        let model = service("web")
            .env(
                "dev",
                [named("Namespace", "monitoring"), named("Service", "web")],
            )
            .env("production", [named("Service", "web")])
            .build();
        assert_eq!(
            check(&ResourceSet, &model),
            [draft("Namespace/monitoring")
                .field("(object)")
                .envs(["dev", "production"])
                .values([("dev", "present"), ("production", "absent")])
                .message("Namespace/monitoring exists in dev but not in production")]
        );
    }
}
