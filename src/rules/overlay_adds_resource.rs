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
            // Every environment adds it the same way: parity holds, only the base could carry it.
            let everywhere = envs.len() == service.envs.len() && envs.len() > 1;
            let message = if everywhere {
                format!("{key} is not in the base, but every overlay adds it: move it to the base")
            } else {
                format!(
                    "{key} is not in the base; the {} overlay{} add{} it",
                    and_list(&envs),
                    if envs.len() == 1 { "" } else { "s" },
                    if envs.len() == 1 { "s" } else { "" }
                )
            };
            let mut draft = object_draft(key, "(object)", envs, values, message);
            if everywhere {
                draft.at_most = Some(crate::finding::Severity::Info);
            }
            out.push(draft);
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

    /// An object every overlay adds the same way is still reported once, capped at info: parity holds, the
    /// hint is to move it to the base.
    #[test]
    fn an_object_every_overlay_adds_is_info_once() {
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
                    "HorizontalPodAutoscaler/web is not in the base, but every overlay adds it: move it \
                     to the base"
                )
                .at_most(crate::finding::Severity::Info)]
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
