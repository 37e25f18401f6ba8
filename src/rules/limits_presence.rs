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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::LimitsPresence;
    use crate::rules::testing::{check, draft, service, web};

    #[test]
    fn a_limit_missing_in_one_environment_fires() {
        let model = service("web")
            .env("dev", [web(|c| c)])
            .env("staging", [web(|c| c.limits(json!({"memory": "512Mi"})))])
            .env("production", [web(|c| c.limits(json!({"memory": "1Gi"})))])
            .build();
        assert_eq!(
            check(&LimitsPresence, &model),
            [draft("Deployment/web")
                .container("web")
                .field("resources.limits.memory")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "(not set)"),
                    ("staging", "512Mi"),
                    ("production", "1Gi")
                ])
                .message("memory limit is not set in dev but is elsewhere")]
        );
    }

    #[test]
    fn requests_and_extended_resources_count_too() {
        let model = service("web")
            .env("dev", [web(|c| c.requests(json!({"cpu": "100m"})))])
            .env("staging", [web(|c| c)])
            .env(
                "production",
                [web(|c| {
                    c.requests(json!({"cpu": "1"}))
                        .limits(json!({"nvidia.com/gpu": 1}))
                })],
            )
            .build();
        assert_eq!(
            check(&LimitsPresence, &model),
            [
                draft("Deployment/web")
                    .container("web")
                    .field("resources.requests.cpu")
                    .envs(["dev", "staging", "production"])
                    .values([
                        ("dev", "100m"),
                        ("staging", "(not set)"),
                        ("production", "1")
                    ])
                    .message("cpu request is not set in staging but is elsewhere"),
                draft("Deployment/web")
                    .container("web")
                    .field("resources.limits.nvidia.com/gpu")
                    .envs(["dev", "staging", "production"])
                    .values([
                        ("dev", "(not set)"),
                        ("staging", "(not set)"),
                        ("production", "1")
                    ])
                    .message("nvidia.com/gpu limit is not set in dev and staging but is elsewhere"),
            ]
        );
    }

    /// Only presence counts: the numbers (and how they are spelled) are other rules' business.
    #[test]
    fn set_everywhere_with_other_values_or_spellings_is_silent() {
        let model = service("web")
            .env(
                "dev",
                [web(|c| {
                    c.requests(json!({"cpu": "100m", "memory": "1024Mi"}))
                        .limits(json!({"cpu": 0.5, "memory": "1Gi"}))
                })
                .replicas(1)],
            )
            .env(
                "production",
                [web(|c| {
                    c.limits(json!({"memory": "4Gi", "cpu": "2"}))
                        .requests(json!({"memory": "2Gi", "cpu": 1}))
                })
                .replicas(8)],
            )
            .build();
        assert_eq!(check(&LimitsPresence, &model), []);
    }

    /// A container that only some environments run is resource-set's or image's business, not a missing limit.
    #[test]
    fn a_container_absent_from_an_environment_is_silent() {
        let model = service("web")
            .env("staging", [web(|c| c.limits(json!({"memory": "1Gi"})))])
            .env(
                "production",
                [web(|c| c.limits(json!({"memory": "1Gi"})))
                    .container("proxy", |c| c.limits(json!({"memory": "128Mi"})))],
            )
            .build();
        assert_eq!(check(&LimitsPresence, &model), []);
    }
}
