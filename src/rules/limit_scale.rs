//! `limit-scale`: one environment's limit must not be more than N× another's. Tiers are compared, never
//! peers of one tier: between those, `peer-resources` wants equal limits.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::request_limit_ratio::service_order;
use super::{Rule, ServiceModel, Settings, container_draft, show_ratio};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::quantity::Quantity;

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
                let Some((min, max, scale)) = widest(service, &limits) else {
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

/// The smallest and the largest limit of environments of different tiers, and how many times the one is
/// the other: the overall smallest and largest when they are of different tiers (always, without peers),
/// else the widest pair of different tiers (the first found of equally wide ones).
fn widest<'a>(
    service: &ServiceModel,
    limits: &[(&'a str, &'a Quantity)],
) -> Option<(Limit<'a>, Limit<'a>, Decimal)> {
    let min = *limits.iter().min_by_key(|l| l.1)?;
    let max = *limits.iter().max_by_key(|l| l.1)?;
    if !service.peers(min.0, max.0) {
        return Some((min, max, max.1.ratio(min.1)?));
    }
    let mut best: Option<(Limit<'a>, Limit<'a>, Decimal)> = None;
    for (i, a) in limits.iter().enumerate() {
        for b in &limits[i + 1..] {
            if service.peers(a.0, b.0) {
                continue;
            }
            let (lo, hi) = if a.1 <= b.1 { (*a, *b) } else { (*b, *a) };
            let Some(scale) = hi.1.ratio(lo.1) else {
                continue;
            };
            if best.as_ref().is_none_or(|(_, _, s)| scale > *s) {
                best = Some((lo, hi, scale));
            }
        }
    }
    best
}

/// One environment's limit.
type Limit<'a> = (&'a str, &'a Quantity);

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{Value, json};

    use super::LimitScale;
    use crate::rules::Settings;
    use crate::rules::testing::{Workload, check, check_with, draft, service, web};

    fn limits(limits: Value) -> Workload {
        web(|c| c.limits(limits))
    }

    fn memory(limit: &str) -> Workload {
        limits(json!({ "memory": limit }))
    }

    fn threshold(t: Decimal) -> Settings {
        Settings { threshold: Some(t) }
    }

    #[test]
    fn limits_more_than_four_times_apart_fire() {
        let model = service("web")
            .env("dev", [memory("256Mi")])
            .env("staging", [memory("1Gi")])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(
            check(&LimitScale, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["dev", "production"])
                .values([("dev", "256Mi"), ("staging", "1Gi"), ("production", "2Gi")])
                .message(
                    "memory limit is 2Gi in production but 256Mi in dev: 8× apart (more than 4×)"
                )]
        );
    }

    #[test]
    fn the_largest_and_smallest_are_named_whichever_comes_first() {
        let model = service("web")
            .env("dev", [limits(json!({"cpu": 4}))])
            .env("production", [limits(json!({"cpu": "500m"}))])
            .build();
        assert_eq!(
            check(&LimitScale, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.cpu")
                .envs(["dev", "production"])
                .values([("dev", "4"), ("production", "500m")])
                .message("cpu limit is 4 in dev but 500m in production: 8× apart (more than 4×)")]
        );
    }

    #[test]
    fn exactly_four_times_apart_in_any_spelling_is_silent() {
        let model = service("web")
            .env(
                "dev",
                [limits(json!({"cpu": "250m", "memory": "512Mi"})).replicas(1)],
            )
            .env(
                "staging",
                [limits(json!({"cpu": 0.5, "memory": "1024Mi"})).replicas(3)],
            )
            .env(
                "production",
                [limits(json!({"cpu": "1", "memory": "2Gi"})).replicas(20)],
            )
            .build();
        assert_eq!(check(&LimitScale, &model), []);
    }

    #[test]
    fn a_configured_threshold_replaces_four() {
        let eight_apart = service("web")
            .env("dev", [memory("256Mi")])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(
            check_with(&LimitScale, &eight_apart, threshold(Decimal::from(8))),
            []
        );
        let three_apart = service("web")
            .env("dev", [memory("1Gi")])
            .env("production", [memory("3Gi")])
            .build();
        assert_eq!(check(&LimitScale, &three_apart), []);
        assert_eq!(
            check_with(&LimitScale, &three_apart, threshold(Decimal::new(25, 1)))
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>(),
            ["memory limit is 3Gi in production but 1Gi in dev: 3× apart (more than 2.5×)"]
        );
    }

    #[test]
    fn an_environment_without_the_limit_is_left_out() {
        let model = service("web")
            .env("dev", [web(|c| c)])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(check(&LimitScale, &model), []);
    }

    /// Peers of one tier are never compared (`peer-resources` is about them); the widest pair of different
    /// tiers is.
    #[test]
    fn peers_are_not_compared_but_tiers_are() {
        let peers_only = service("web")
            .env("dev", [memory("512Mi")])
            .env("prod-eu", [memory("256Mi")])
            .peer("prod-us", [memory("2Gi")])
            .build();
        assert_eq!(check(&LimitScale, &peers_only), []);
        let across = service("web")
            .env("dev", [memory("256Mi")])
            .env("prod-eu", [memory("4Gi")])
            .peer("prod-us", [memory("128Mi")])
            .build();
        assert_eq!(
            check(&LimitScale, &across),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["dev", "prod-eu"])
                .values([("dev", "256Mi"), ("prod-us", "128Mi"), ("prod-eu", "4Gi")])
                .message(
                    "memory limit is 4Gi in prod-eu but 256Mi in dev: 16× apart (more than 4×)"
                )]
        );
    }
}
