//! `overlay-adds-resource`: overlays should change the base, not add to it.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, object_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::ObjectKey;

#[doc = include_str!("docs/overlay-adds-resource.md")]
pub struct OverlayAddsResource;

impl Rule for OverlayAddsResource {
    fn id(&self) -> RuleId {
        RuleId::OverlayAddsResource
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let Some(base) = &service.base else {
            return;
        };
        let mut added: IndexMap<&ObjectKey, Vec<String>> = IndexMap::new();
        for env in &service.envs {
            for o in &env.objects {
                if o.key.kind != "Namespace" && base.object(&o.key).is_none() {
                    added.entry(&o.key).or_default().push(env.env.clone());
                }
            }
        }
        for (key, envs) in added {
            let values = service
                .envs
                .iter()
                .map(|e| {
                    let v = if envs.contains(&e.env) {
                        "added by overlay"
                    } else {
                        "-"
                    };
                    (e.env.clone(), v.to_string())
                })
                .collect();
            let message = format!(
                "{key} is not in the base; the {} overlay{} add{} it",
                and_list(&envs),
                if envs.len() == 1 { "" } else { "s" },
                if envs.len() == 1 { "s" } else { "" }
            );
            out.push(object_draft(key, "(object)", envs, values, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::OverlayAddsResource;
    use crate::rules::testing::{check, deployment, draft, naming, object, service};

    fn hpa() -> Value {
        object(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "web",
            json!({"spec": {"minReplicas": 2, "maxReplicas": 10}}),
        )
    }

    fn web_service() -> Value {
        object("v1", "Service", "web", json!({}))
    }

    #[test]
    fn an_object_one_overlay_adds_fires() {
        let model = service("web")
            .base([deployment("web").into(), web_service()])
            .env("dev", [deployment("web").into(), web_service()])
            .env("staging", [deployment("web").into(), web_service()])
            .env(
                "production",
                [deployment("web").into(), web_service(), hpa()],
            )
            .build();
        assert_eq!(
            check(&OverlayAddsResource, &model),
            [draft("HorizontalPodAutoscaler/web")
                .field("(object)")
                .envs(["production"])
                .values([
                    ("dev", "-"),
                    ("staging", "-"),
                    ("production", "added by overlay")
                ])
                .message(
                    "HorizontalPodAutoscaler/web is not in the base; the production overlay adds it"
                )]
        );
    }

    /// Even an object every environment has is an overlay's addition when the base lacks it.
    #[test]
    fn an_object_every_overlay_adds_fires_once() {
        let model = service("web")
            .base([deployment("web")])
            .env("dev", [deployment("web").into(), hpa()])
            .env("staging", [deployment("web").into(), hpa()])
            .env("production", [deployment("web").into(), hpa()])
            .build();
        assert_eq!(
            check(&OverlayAddsResource, &model),
            [draft("HorizontalPodAutoscaler/web")
                .field("(object)")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "added by overlay"),
                    ("staging", "added by overlay"),
                    ("production", "added by overlay"),
                ])
                .message(
                    "HorizontalPodAutoscaler/web is not in the base; the dev, staging and production \
                     overlays add it"
                )]
        );
    }

    /// Renamed and regenerated objects are the base's own; a Namespace is the overlay's to add.
    #[test]
    fn renamed_objects_and_namespaces_are_silent() {
        let model = service("web")
            .base([
                deployment("web").into(),
                object("v1", "ConfigMap", "web-config-7g8m2kd4hb", json!({})),
            ])
            .env_named(
                "dev",
                naming("dev-", ""),
                [
                    object("v1", "Namespace", "shop-dev", json!({})),
                    deployment("dev-web").into(),
                    object("v1", "ConfigMap", "dev-web-config-9f2k5m7tbc", json!({})),
                ],
            )
            .build();
        assert_eq!(check(&OverlayAddsResource, &model), []);
    }

    /// A layout without a base (each overlay standing alone) has nothing to add to.
    #[test]
    fn a_service_without_a_base_is_silent() {
        let model = service("web")
            .env("staging", [deployment("web")])
            .env("production", [deployment("web").into(), hpa()])
            .build();
        assert_eq!(check(&OverlayAddsResource, &model), []);
    }
}
