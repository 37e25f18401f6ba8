//! `limit-inversion`: an earlier environment must not have a higher limit than a later one.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/limit-inversion.md")]
pub struct LimitInversion;

impl Rule for LimitInversion {
    fn id(&self) -> RuleId {
        RuleId::LimitInversion
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for c in service.containers() {
            for (resource, limits) in c.limits() {
                let mut pairs = Vec::new();
                let mut involved: Vec<String> = Vec::new();
                for (i, (early, el)) in limits.iter().enumerate() {
                    for (late, ll) in &limits[i + 1..] {
                        if el > ll {
                            pairs.push(format!("{early} {el} > {late} {ll}"));
                            for e in [early, late] {
                                if !involved.iter().any(|x| x == e) {
                                    involved.push(e.to_string());
                                }
                            }
                        }
                    }
                }
                if pairs.is_empty() {
                    continue;
                }
                involved.sort_by_key(|e| service.rank(e));
                let values: IndexMap<String, String> = limits
                    .iter()
                    .map(|(e, q)| (e.to_string(), q.to_string()))
                    .collect();
                let message = format!(
                    "{resource} limit shrinks on the way to production: {}",
                    and_list(&pairs)
                );
                out.push(container_draft(
                    &c,
                    format!("resources.limits.{resource}"),
                    involved,
                    values,
                    message,
                ));
            }
        }
    }
}
