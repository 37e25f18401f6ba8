//! `limit-scale`: one environment's limit must not be more than N× another's.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::request_limit_ratio::service_order;
use super::{Rule, ServiceModel, Settings, container_draft, show_ratio};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/limit-scale.md")]
pub struct LimitScale;

impl Rule for LimitScale {
    fn id(&self) -> RuleId {
        RuleId::LimitScale
    }
    fn check(&self, service: &ServiceModel, settings: Settings, out: &mut Vec<Draft>) {
        let factor = settings.threshold_or(Decimal::from(4));
        for c in service.containers() {
            for (resource, limits) in c.limits() {
                let (Some(min), Some(max)) = (
                    limits.iter().min_by_key(|l| l.1),
                    limits.iter().max_by_key(|l| l.1),
                ) else {
                    continue;
                };
                let Some(scale) = max.1.ratio(min.1) else {
                    continue;
                };
                if scale <= factor {
                    continue;
                }
                let values: IndexMap<String, String> = limits
                    .iter()
                    .map(|(e, q)| (e.to_string(), q.to_string()))
                    .collect();
                let message = format!(
                    "{resource} limit is {} in {} but {} in {}: {}× apart (more than {}×)",
                    max.1,
                    max.0,
                    min.1,
                    min.0,
                    show_ratio(scale),
                    show_ratio(factor)
                );
                out.push(container_draft(
                    &c,
                    format!("resources.limits.{resource}"),
                    service_order(service, &[min.0, max.0]),
                    values,
                    message,
                ));
            }
        }
    }
}
