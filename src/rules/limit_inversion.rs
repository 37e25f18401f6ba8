//! `limit-inversion`: an earlier environment must not have a higher limit than a later one. Tiers are
//! compared, never peers of one tier: between those, `peer-resources` wants equal limits.

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
                        if el > ll && !service.peers(early, late) {
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::LimitInversion;
    use crate::rules::testing::{Workload, check, draft, service, web};

    fn limits(limits: Value) -> Workload {
        web(|c| c.limits(limits))
    }

    fn memory(limit: &str) -> Workload {
        limits(json!({ "memory": limit }))
    }

    #[test]
    fn an_earlier_environment_with_a_higher_limit_fires() {
        let model = service("web")
            .env("dev", [memory("512Mi")])
            .env("staging", [memory("2Gi")])
            .env("production", [memory("512Mi")])
            .build();
        assert_eq!(
            check(&LimitInversion, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["staging", "production"])
                .values([
                    ("dev", "512Mi"),
                    ("staging", "2Gi"),
                    ("production", "512Mi")
                ])
                .message(
                    "memory limit shrinks on the way to production: staging 2Gi > production 512Mi"
                )]
        );
    }

    #[test]
    fn every_inverted_pair_is_named_once_per_resource() {
        let model = service("web")
            .env("dev", [limits(json!({"cpu": "2", "memory": "2Gi"}))])
            .env("staging", [limits(json!({"cpu": 1, "memory": "1Gi"}))])
            .env(
                "production",
                [limits(json!({"cpu": "500m", "memory": "512Mi"}))],
            )
            .build();
        assert_eq!(
            check(&LimitInversion, &model),
            [
                draft("Deployment/web")
                    .container("web")
                    .field("resources.limits.cpu")
                    .envs(["dev", "staging", "production"])
                    .values([("dev", "2"), ("staging", "1"), ("production", "500m")])
                    .message(
                        "cpu limit shrinks on the way to production: dev 2 > staging 1, dev 2 > production \
                         500m and staging 1 > production 500m"
                    ),
                draft("Deployment/web")
                    .container("web")
                    .field("resources.limits.memory")
                    .envs(["dev", "staging", "production"])
                    .values([("dev", "2Gi"), ("staging", "1Gi"), ("production", "512Mi")])
                    .message(
                        "memory limit shrinks on the way to production: dev 2Gi > staging 1Gi, dev 2Gi > \
                         production 512Mi and staging 1Gi > production 512Mi"
                    ),
            ]
        );
    }

    #[test]
    fn limits_that_grow_or_stay_equal_in_another_spelling_are_silent() {
        let model = service("web")
            .env(
                "dev",
                [limits(json!({"cpu": "500m", "memory": "1024Mi"})).replicas(1)],
            )
            .env(
                "staging",
                [limits(json!({"cpu": 0.5, "memory": "1Gi"})).replicas(2)],
            )
            .env(
                "production",
                [limits(json!({"cpu": "1", "memory": "2Gi"})).replicas(6)],
            )
            .build();
        assert_eq!(check(&LimitInversion, &model), []);
    }

    /// The promotion order is the order of the environments, whatever they are called.
    #[test]
    fn only_the_promotion_order_decides_which_environment_is_earlier() {
        let grows = service("web")
            .env("live", [memory("1Gi")])
            .env("canary", [memory("2Gi")])
            .build();
        assert_eq!(check(&LimitInversion, &grows), []);
        let shrinks = service("web")
            .env("canary", [memory("2Gi")])
            .env("live", [memory("1Gi")])
            .build();
        assert_eq!(
            check(&LimitInversion, &shrinks)
                .iter()
                .map(|d| (&d.envs, d.message.as_str()))
                .collect::<Vec<_>>(),
            [(
                &vec!["canary".to_string(), "live".to_string()],
                "memory limit shrinks on the way to production: canary 2Gi > live 1Gi"
            )]
        );
    }

    /// A missing limit is limits-presence's finding, not an infinite one.
    #[test]
    fn an_environment_without_the_limit_is_left_out() {
        let model = service("web")
            .env("dev", [web(|c| c)])
            .env("staging", [memory("1Gi")])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(check(&LimitInversion, &model), []);
        let model = service("web")
            .env("dev", [memory("4Gi")])
            .env("staging", [web(|c| c)])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(
            check(&LimitInversion, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["dev", "production"])
                .values([("dev", "4Gi"), ("production", "2Gi")])
                .message(
                    "memory limit shrinks on the way to production: dev 4Gi > production 2Gi"
                )]
        );
    }

    /// Peers of one tier (regions) are not earlier or later than each other; tiers still are.
    #[test]
    fn peers_are_not_compared_but_tiers_are() {
        let model = service("web")
            .env("staging", [memory("1Gi")])
            .env("prod-eu", [memory("2Gi")])
            .peer("prod-us", [memory("512Mi")])
            .build();
        assert_eq!(
            check(&LimitInversion, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["staging", "prod-us"])
                .values([("staging", "1Gi"), ("prod-us", "512Mi"), ("prod-eu", "2Gi")])
                .message(
                    "memory limit shrinks on the way to production: staging 1Gi > prod-us 512Mi"
                )]
        );
        let peers_only = service("web")
            .env("prod-eu", [memory("2Gi")])
            .peer("prod-us", [memory("512Mi")])
            .build();
        assert_eq!(check(&LimitInversion, &peers_only), []);
    }
}
