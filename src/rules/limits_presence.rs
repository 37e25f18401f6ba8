//! `limits-presence`: a request or limit set in one environment must be set in all.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/limits-presence.md")]
pub struct LimitsPresence;

impl Rule for LimitsPresence {
    fn id(&self) -> RuleId {
        RuleId::LimitsPresence
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for c in service.containers() {
            for section in ["requests", "limits"] {
                let get = |ct: &crate::model::Container| {
                    if section == "requests" {
                        ct.resources.requests.clone()
                    } else {
                        ct.resources.limits.clone()
                    }
                };
                let names: std::collections::BTreeSet<String> = c
                    .per_env
                    .iter()
                    .flat_map(|(_, ct)| get(ct).into_keys())
                    .collect();
                for resource in names {
                    let values: IndexMap<String, String> = c
                        .per_env
                        .iter()
                        .map(|(e, ct)| {
                            let v = get(ct)
                                .get(&resource)
                                .map_or_else(|| "(not set)".to_string(), ToString::to_string);
                            (e.to_string(), v)
                        })
                        .collect();
                    let missing: Vec<String> = values
                        .iter()
                        .filter(|(_, v)| v.as_str() == "(not set)")
                        .map(|(e, _)| e.clone())
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let message = format!(
                        "{resource} {} is not set in {} but is elsewhere",
                        section.trim_end_matches('s'),
                        and_list(&missing)
                    );
                    let envs = values.keys().cloned().collect();
                    out.push(container_draft(
                        &c,
                        format!("resources.{section}.{resource}"),
                        envs,
                        values,
                        message,
                    ));
                }
            }
        }
    }
}
