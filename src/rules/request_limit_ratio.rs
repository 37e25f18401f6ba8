//! `request-limit-ratio`: requests ÷ limits per resource should be alike in every environment.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::{Rule, ServiceModel, Settings, container_draft, show_ratio};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::quantity::Quantity;

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
                let shares: Vec<Share<'_>> = c
                    .per_env
                    .iter()
                    .filter_map(|(env, ct)| {
                        let request = ct.resources.requests.get(resource)?;
                        let limit = ct.resources.limits.get(resource)?;
                        Some(Share {
                            env,
                            request,
                            limit,
                            ratio: request.ratio(limit)?,
                        })
                    })
                    .collect();
                let (Some(min), Some(max)) = (
                    shares.iter().min_by_key(|s| s.ratio),
                    shares.iter().max_by_key(|s| s.ratio),
                ) else {
                    continue;
                };
                if !max.exceeds(min, tolerance) {
                    continue;
                }
                let values: IndexMap<String, String> = shares
                    .iter()
                    .map(|s| {
                        let shown =
                            format!("{} / {} = {}", s.request, s.limit, show_ratio(s.ratio));
                        (s.env.to_string(), shown)
                    })
                    .collect();
                let message = format!(
                    "{resource} request÷limit is {} in {} but {} in {} ({}, tolerance {})",
                    show_ratio(max.ratio),
                    max.env,
                    show_ratio(min.ratio),
                    min.env,
                    max.ratio.checked_div(min.ratio).map_or_else(
                        || "infinitely apart".to_string(),
                        |s| format!("{}× apart", show_ratio(s))
                    ),
                    show_ratio(tolerance)
                );
                let envs = service_order(service, &[min.env, max.env]);
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

/// One environment's request and limit of a resource (the limit is not zero), and their ratio.
struct Share<'a> {
    env: &'a str,
    request: &'a Quantity,
    limit: &'a Quantity,
    ratio: Decimal,
}

impl Share<'_> {
    /// Whether this ratio is more than `tolerance` times `other`'s.
    ///
    /// Compared crosswise, `request × other.limit > tolerance × other.request × limit`, not by dividing
    /// the two ratios: a ratio such as 100m/300m has no exact decimal, and the quotient of two rounded
    /// ratios put an exact 1.5× spread above a tolerance of 1.5. A zero ratio is infinitely far from any
    /// other, and all-zero ratios agree.
    fn exceeds(&self, other: &Share<'_>, tolerance: Decimal) -> bool {
        let this = self.request.value().checked_mul(other.limit.value());
        let that = other
            .request
            .value()
            .checked_mul(self.limit.value())
            .and_then(|v| v.checked_mul(tolerance));
        match (this, that) {
            (Some(this), Some(that)) => this > that,
            // Products beyond Decimal's range (exabytes squared): the rounded ratios are all there is.
            _ => match self.ratio.checked_div(other.ratio) {
                Some(spread) => spread > tolerance,
                None => !self.ratio.is_zero(),
            },
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

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{Value, json};

    use super::RequestLimitRatio;
    use crate::rules::Settings;
    use crate::rules::testing::{Workload, check, check_with, draft, service, web};

    fn resources(requests: Value, limits: Value) -> Workload {
        web(|c| c.requests(requests).limits(limits))
    }

    fn memory(request: &str, limit: &str) -> Workload {
        resources(json!({ "memory": request }), json!({ "memory": limit }))
    }

    fn cpu(request: &str, limit: &str) -> Workload {
        resources(json!({ "cpu": request }), json!({ "cpu": limit }))
    }

    fn threshold(t: Decimal) -> Settings {
        Settings { threshold: Some(t) }
    }

    #[test]
    fn ratios_more_than_one_and_a_half_times_apart_fire() {
        let model = service("web")
            .env("dev", [memory("256Mi", "1Gi")])
            .env("staging", [memory("128Mi", "1Gi")])
            .env("production", [memory("1Gi", "1Gi")])
            .build();
        assert_eq!(
            check(&RequestLimitRatio, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.requests.memory/resources.limits.memory")
                .envs(["staging", "production"])
                .values([
                    ("dev", "256Mi / 1Gi = 0.25"),
                    ("staging", "128Mi / 1Gi = 0.12"),
                    ("production", "1Gi / 1Gi = 1"),
                ])
                .message(
                    "memory request÷limit is 1 in production but 0.12 in staging (8× apart, tolerance 1.5)"
                )]
        );
    }

    #[test]
    fn proportional_scaling_in_any_spelling_is_silent() {
        let model = service("web")
            .env(
                "dev",
                [resources(
                    json!({"cpu": "100m", "memory": "256Mi"}),
                    json!({"cpu": "200m", "memory": "512Mi"}),
                )
                .replicas(1)],
            )
            .env(
                "staging",
                [resources(
                    json!({"cpu": "500m", "memory": "1024Mi"}),
                    json!({"cpu": 1, "memory": "2Gi"}),
                )
                .replicas(2)],
            )
            .env(
                "production",
                [resources(
                    json!({"cpu": 0.5, "memory": "1Gi"}),
                    json!({"cpu": "1000m", "memory": "2048Mi"}),
                )
                .replicas(10)],
            )
            .build();
        assert_eq!(check(&RequestLimitRatio, &model), []);
    }

    #[test]
    fn a_spread_of_exactly_the_tolerance_is_silent() {
        let model = service("web")
            .env("staging", [memory("512Mi", "1Gi")])
            .env("production", [memory("768Mi", "1Gi")])
            .build();
        assert_eq!(check(&RequestLimitRatio, &model), []);
    }

    /// 1/3 is no finite decimal; the spread between 1/3 and 1/2 is still exactly 1.5.
    #[test]
    fn a_spread_of_exactly_the_tolerance_between_repeating_ratios_is_silent() {
        let model = service("web")
            .env("staging", [cpu("100m", "300m")])
            .env("production", [cpu("150m", "300m")])
            .build();
        assert_eq!(check(&RequestLimitRatio, &model), []);
    }

    /// Exabytes times exabytes leave Decimal's range; such ratios are compared as divided.
    #[test]
    fn quantities_too_large_to_multiply_are_still_compared() {
        let proportional = service("web")
            .env("staging", [memory("1Ei", "2Ei")])
            .env("production", [memory("2Ei", "4Ei")])
            .build();
        assert_eq!(check(&RequestLimitRatio, &proportional), []);
        let apart = service("web")
            .env("staging", [memory("1Ei", "4Ei")])
            .env("production", [memory("4Ei", "4Ei")])
            .build();
        assert_eq!(
            check(&RequestLimitRatio, &apart)
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>(),
            [
                "memory request÷limit is 1 in production but 0.25 in staging (4× apart, tolerance 1.5)"
            ]
        );
    }

    #[test]
    fn a_configured_tolerance_replaces_one_and_a_half() {
        let eight_apart = service("web")
            .env("staging", [memory("128Mi", "1Gi")])
            .env("production", [memory("1Gi", "1Gi")])
            .build();
        assert_eq!(
            check_with(
                &RequestLimitRatio,
                &eight_apart,
                threshold(Decimal::from(8))
            ),
            []
        );
        let one_and_a_half_apart = service("web")
            .env("staging", [cpu("500m", "1")])
            .env("production", [cpu("750m", "1")])
            .build();
        assert_eq!(
            check_with(
                &RequestLimitRatio,
                &one_and_a_half_apart,
                threshold(Decimal::new(12, 1))
            )
            .iter()
            .map(|d| d.message.as_str())
            .collect::<Vec<_>>(),
            [
                "cpu request÷limit is 0.75 in production but 0.5 in staging (1.5× apart, tolerance 1.2)"
            ]
        );
    }

    /// A request of zero is the farthest a ratio can be from one: the pod reserves nothing.
    #[test]
    fn a_zero_request_against_a_full_one_fires() {
        let model = service("web")
            .env("staging", [cpu("0", "1")])
            .env("production", [cpu("1", "1")])
            .build();
        assert_eq!(
            check(&RequestLimitRatio, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.requests.cpu/resources.limits.cpu")
                .envs(["staging", "production"])
                .values([("staging", "0 / 1 = 0"), ("production", "1 / 1 = 1")])
                .message(
                    "cpu request÷limit is 1 in production but 0 in staging (infinitely apart, tolerance 1.5)"
                )]
        );
        let all_zero = service("web")
            .env("staging", [cpu("0", "1")])
            .env("production", [cpu("0", "2")])
            .build();
        assert_eq!(check(&RequestLimitRatio, &all_zero), []);
    }

    /// Without both a request and a limit there is no ratio; limits-presence reports the missing one.
    #[test]
    fn an_environment_without_a_request_or_limit_is_left_out() {
        let model = service("web")
            .env("dev", [web(|c| c.limits(json!({"memory": "1Gi"})))])
            .env("staging", [web(|c| c.requests(json!({"memory": "128Mi"})))])
            .env("production", [memory("1Gi", "1Gi")])
            .build();
        assert_eq!(check(&RequestLimitRatio, &model), []);
    }

    #[test]
    fn only_cpu_and_memory_are_compared() {
        let model = service("web")
            .env(
                "staging",
                [resources(
                    json!({"ephemeral-storage": "100Mi"}),
                    json!({"ephemeral-storage": "1Gi"}),
                )],
            )
            .env(
                "production",
                [resources(
                    json!({"ephemeral-storage": "1Gi"}),
                    json!({"ephemeral-storage": "1Gi"}),
                )],
            )
            .build();
        assert_eq!(check(&RequestLimitRatio, &model), []);
    }
}
