//! `probes`: readiness, liveness and startup probes must be structurally equal across environments.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft, differing_from_reference};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::{compact, diff_paths_all, show_paths};

#[doc = include_str!("docs/probes.md")]
pub struct Probes;

impl Rule for Probes {
    fn id(&self) -> RuleId {
        RuleId::Probes
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for c in service.containers() {
            for kind in ["readinessProbe", "livenessProbe", "startupProbe"] {
                let probes: Vec<(&str, Option<&serde_json::Value>)> = c
                    .per_env
                    .iter()
                    .map(|(e, ct)| (*e, ct.probes.get(kind)))
                    .collect();
                let Some((differing, ref_env)) = differing_from_reference(&probes) else {
                    continue;
                };
                let paths = match probes.last() {
                    Some((_, Some(reference))) => {
                        diff_paths_all(probes.iter().filter_map(|(_, p)| *p), reference)
                    }
                    _ => Vec::new(),
                };
                // Show only what differs, unless a probe is missing altogether.
                let values: IndexMap<String, String> = probes
                    .iter()
                    .map(|(e, p)| {
                        let v = match p {
                            None => "(none)".to_string(),
                            Some(p) if paths.is_empty() => compact(p),
                            Some(p) => show_paths(p, &paths),
                        };
                        (e.to_string(), v)
                    })
                    .collect();
                let detail = if paths.is_empty() {
                    "is missing in some".to_string()
                } else {
                    format!("differs in {}", paths.join(", "))
                };
                let message = format!("{kind} {detail}: {} vs {ref_env}", and_list(&differing));
                let mut envs = differing;
                envs.push(ref_env);
                out.push(container_draft(&c, kind.into(), envs, values, message));
            }
        }
    }
}
