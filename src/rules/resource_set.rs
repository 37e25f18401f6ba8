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
