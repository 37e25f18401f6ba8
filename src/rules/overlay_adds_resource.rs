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
