//! `peer-resources`: peers of one tier (regions, clusters) run the same limits and request÷limit ratios.

use indexmap::IndexMap;

use super::request_limit_ratio::service_order;
use super::{ContainerAcross, Rule, ServiceModel, Settings, container_draft, show_ratio};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::quantity::Quantity;

#[doc = include_str!("docs/peer-resources.md")]
pub struct PeerResources;

impl Rule for PeerResources {
    fn id(&self) -> RuleId {
        RuleId::PeerResources
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let tiers = service.peer_groups();
        if tiers.is_empty() {
            return;
        }
        for c in service.containers() {
            let limits = c.limits();
            for peers in &tiers {
                for (resource, per_env) in &limits {
                    // The reference peer first (or the first peer that sets the limit).
                    let set: Vec<(&str, &Quantity)> = peers
                        .iter()
                        .filter_map(|p| per_env.iter().find(|(e, _)| e == p).copied())
                        .collect();
                    let Some(((reference, expected), others)) = set.split_first() else {
                        continue;
                    };
                    for (peer, limit) in others.iter().filter(|(_, l)| l != expected) {
                        let message = format!(
                            "{resource} limit is {limit} in {peer} but {expected} in the reference peer {reference}"
                        );
                        let shown = [
                            (*peer, limit.to_string()),
                            (reference, expected.to_string()),
                        ];
                        out.push(peer_draft(
                            service,
                            &c,
                            format!("resources.limits.{resource}"),
                            shown,
                            message,
                        ));
                    }
                }
                for resource in ["cpu", "memory"] {
                    let set: Vec<Share<'_>> = peers
                        .iter()
                        .filter_map(|p| Share::of(&c, p, resource))
                        .collect();
                    let Some((reference, others)) = set.split_first() else {
                        continue;
                    };
                    for peer in others.iter().filter(|s| !s.same_ratio(reference)) {
                        let message = format!(
                            "{resource} request÷limit is {} in {} but {} in the reference peer {}",
                            show_ratio(peer.ratio()),
                            peer.env,
                            show_ratio(reference.ratio()),
                            reference.env
                        );
                        let shown = [
                            (peer.env, peer.to_string()),
                            (reference.env, reference.to_string()),
                        ];
                        out.push(peer_draft(
                            service,
                            &c,
                            format!("resources.requests.{resource}/resources.limits.{resource}"),
                            shown,
                            message,
                        ));
                    }
                }
            }
        }
    }
}

/// A finding about one peer against its reference peer: both, in promotion order; the peer is what the
/// finding is about (its fingerprint), as each peer is fixed on its own.
fn peer_draft(
    service: &ServiceModel,
    c: &ContainerAcross<'_>,
    field: String,
    [(peer, peer_value), (reference, reference_value)]: [(&str, String); 2],
    message: String,
) -> Draft {
    let envs = service_order(service, &[peer, reference]);
    let mut values = IndexMap::new();
    for env in &envs {
        let value = if env == peer {
            &peer_value
        } else {
            &reference_value
        };
        values.insert(env.clone(), value.clone());
    }
    let mut draft = container_draft(c, field, envs, values, message);
    draft.env = Some(peer.to_string());
    draft
}

/// One peer's request and (non-zero) limit of a resource.
struct Share<'a> {
    env: &'a str,
    request: &'a Quantity,
    limit: &'a Quantity,
}

impl<'a> Share<'a> {
    fn of(c: &ContainerAcross<'a>, env: &'a str, resource: &str) -> Option<Share<'a>> {
        let (_, container) = c.per_env.iter().find(|(e, _)| *e == env)?;
        let share = Share {
            env,
            request: container.resources.requests.get(resource)?,
            limit: container.resources.limits.get(resource)?,
        };
        share.request.ratio(share.limit).map(|_| share)
    }

    fn ratio(&self) -> rust_decimal::Decimal {
        self.request.ratio(self.limit).unwrap_or_default()
    }

    /// Whether the two ratios are equal, exactly: compared crosswise (`request × other.limit` against
    /// `other.request × limit`), as a ratio such as 100m/300m has no exact decimal.
    fn same_ratio(&self, other: &Share<'_>) -> bool {
        let this = self.request.value().checked_mul(other.limit.value());
        let that = other.request.value().checked_mul(self.limit.value());
        match (this, that) {
            (Some(this), Some(that)) => this == that,
            // Products beyond Decimal's range (exabytes squared): the rounded ratios are all there is.
            _ => self.ratio() == other.ratio(),
        }
    }
}

impl std::fmt::Display for Share<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} / {} = {}",
            self.request,
            self.limit,
            show_ratio(self.ratio())
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::PeerResources;
    use crate::rules::testing::{Workload, check, draft, service, web};

    fn resources(requests: Value, limits: Value) -> Workload {
        web(|c| c.requests(requests).limits(limits))
    }

    fn memory(limit: &str) -> Workload {
        web(|c| c.limits(json!({ "memory": limit })))
    }

    #[test]
    fn a_peer_with_another_limit_fires_naming_both_peers() {
        let model = service("web")
            .env("staging", [memory("512Mi")])
            .env("prod-us", [memory("2Gi")])
            .peer("prod-eu", [memory("1Gi")])
            .build();
        assert_eq!(
            check(&PeerResources, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["prod-eu", "prod-us"])
                .values([("prod-eu", "1Gi"), ("prod-us", "2Gi")])
                .env("prod-eu")
                .message("memory limit is 1Gi in prod-eu but 2Gi in the reference peer prod-us")]
        );
    }

    #[test]
    fn every_differing_peer_is_a_finding_of_its_own() {
        let model = service("web")
            .env(
                "prod-eu",
                [resources(json!({"cpu": "250m"}), json!({"cpu": 1}))],
            )
            .peer(
                "prod-ap",
                [resources(json!({"cpu": "250m"}), json!({"cpu": 2}))],
            )
            .peer(
                "prod-us",
                [resources(json!({"cpu": "0.25"}), json!({"cpu": "1000m"}))],
            )
            .peer(
                "prod-sa",
                [resources(json!({"cpu": "500m"}), json!({"cpu": 2}))],
            )
            .build();
        let got: Vec<(String, Option<String>, String)> = check(&PeerResources, &model)
            .into_iter()
            .map(|d| (d.field, d.env, d.message))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "resources.limits.cpu".to_string(),
                    Some("prod-ap".to_string()),
                    "cpu limit is 2 in prod-ap but 1 in the reference peer prod-eu".to_string()
                ),
                (
                    "resources.limits.cpu".into(),
                    Some("prod-sa".into()),
                    "cpu limit is 2 in prod-sa but 1 in the reference peer prod-eu".into()
                ),
                (
                    "resources.requests.cpu/resources.limits.cpu".into(),
                    Some("prod-ap".into()),
                    "cpu request÷limit is 0.12 in prod-ap but 0.25 in the reference peer prod-eu"
                        .into()
                ),
            ]
        );
    }

    #[test]
    fn a_ratio_that_differs_between_peers_fires_even_with_equal_limits() {
        let model = service("web")
            .env(
                "prod-eu",
                [resources(
                    json!({"memory": "256Mi"}),
                    json!({"memory": "1Gi"}),
                )],
            )
            .peer(
                "prod-us",
                [resources(
                    json!({"memory": "512Mi"}),
                    json!({"memory": "1024Mi"}),
                )],
            )
            .build();
        assert_eq!(
            check(&PeerResources, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.requests.memory/resources.limits.memory")
                .envs(["prod-us", "prod-eu"])
                .values([
                    ("prod-us", "512Mi / 1024Mi = 0.5"),
                    ("prod-eu", "256Mi / 1Gi = 0.25")
                ])
                .env("prod-us")
                .message(
                    "memory request÷limit is 0.5 in prod-us but 0.25 in the reference peer prod-eu"
                )]
        );
    }

    /// Equal in another spelling, replicas apart, tiers apart: nothing for this rule.
    #[test]
    fn equal_peers_with_other_replicas_and_other_tiers_are_silent() {
        let model = service("web")
            .env(
                "staging",
                [resources(json!({"memory": "128Mi"}), json!({"memory": "256Mi"})).replicas(1)],
            )
            .env(
                "prod-eu",
                [resources(
                    json!({"cpu": "100m", "memory": "512Mi"}),
                    json!({"cpu": "300m", "memory": "1Gi"}),
                )
                .replicas(6)],
            )
            .peer(
                "prod-us",
                [resources(
                    json!({"cpu": 0.1, "memory": "0.5Gi"}),
                    json!({"cpu": 0.3, "memory": "1024Mi"}),
                )
                .replicas(2)],
            )
            .build();
        assert_eq!(check(&PeerResources, &model), []);
    }

    /// Without peers there is nothing to compare; a peer without the limit is `limits-presence`'s.
    #[test]
    fn no_peers_or_no_limit_is_silent() {
        let tiers_only = service("web")
            .env("staging", [memory("1Gi")])
            .env("production", [memory("2Gi")])
            .build();
        assert_eq!(check(&PeerResources, &tiers_only), []);
        let unset = service("web")
            .env("prod-eu", [web(|c| c)])
            .peer("prod-us", [memory("2Gi")])
            .build();
        assert_eq!(check(&PeerResources, &unset), []);
    }
}
