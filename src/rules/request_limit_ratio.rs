//! `request-limit-ratio`: requests ÷ limits per resource should be alike in every environment.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::{Rule, ServiceModel, Settings, container_draft, show_ratio};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/request-limit-ratio.md")]
pub struct RequestLimitRatio;

impl Rule for RequestLimitRatio {
    fn id(&self) -> RuleId {
        RuleId::RequestLimitRatio
    }
    fn check(&self, service: &ServiceModel, settings: Settings, out: &mut Vec<Draft>) {
        let tolerance = settings.threshold_or(Decimal::new(15, 1));
        for c in service.containers() {
            for resource in ["cpu", "memory"] {
                let ratios: Vec<(&str, Decimal, String)> = c
                    .per_env
                    .iter()
                    .filter_map(|(env, ct)| {
                        let req = ct.resources.requests.get(resource)?;
                        let lim = ct.resources.limits.get(resource)?;
                        let r = req.ratio(lim)?;
                        Some((*env, r, format!("{req} / {lim} = {}", show_ratio(r))))
                    })
                    .collect();
                let (Some(min), Some(max)) = (
                    ratios.iter().min_by_key(|r| r.1),
                    ratios.iter().max_by_key(|r| r.1),
                ) else {
                    continue;
                };
                if min.1.is_zero() || max.1 / min.1 <= tolerance {
                    continue;
                }
                let values: IndexMap<String, String> = ratios
                    .iter()
                    .map(|(e, _, s)| (e.to_string(), s.clone()))
                    .collect();
                let message = format!(
                    "{resource} request÷limit is {} in {} but {} in {} ({}× apart, tolerance {})",
                    show_ratio(max.1),
                    max.0,
                    show_ratio(min.1),
                    min.0,
                    show_ratio(max.1 / min.1),
                    show_ratio(tolerance)
                );
                let envs = service_order(service, &[min.0, max.0]);
                out.push(container_draft(
                    &c,
                    format!("resources.requests.{resource}/resources.limits.{resource}"),
                    envs,
                    values,
                    message,
                ));
            }
        }
    }
}

/// The given environments in promotion order, without duplicates.
pub(crate) fn service_order(service: &ServiceModel, envs: &[&str]) -> Vec<String> {
    let mut v: Vec<&str> = envs.to_vec();
    v.sort_by_key(|e| service.rank(e));
    v.dedup();
    v.into_iter().map(str::to_string).collect()
}
