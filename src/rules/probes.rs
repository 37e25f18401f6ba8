//! `probes`: readiness, liveness and startup probes must be structurally equal across environments.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft, differing_from_reference};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::{compact, diff_paths_all, show_paths};
use crate::redact;

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
                // Show only what differs, unless a probe is missing altogether; never exec arguments or
                // header values (a token typed into a probe), though a change in them is still reported.
                let values: IndexMap<String, String> = probes
                    .iter()
                    .map(|(e, p)| {
                        let shown = p.map(|p| redact::subtree("", kind, p));
                        let v = match &shown {
                            None => "(none)".to_string(),
                            Some(p) if paths.is_empty() => compact(p),
                            Some(p) => show_paths(p, &paths),
                        };
                        (e.to_string(), v)
                    })
                    .collect();
                // An environment without the probe does not differ in the reference's paths; it lacks it.
                let (missing, present): (Vec<&String>, Vec<&String>) = differing
                    .iter()
                    .partition(|e| probes.iter().any(|(pe, p)| pe == e && p.is_none()));
                let message = if paths.is_empty() {
                    format!(
                        "{kind} is missing in some: {} vs {ref_env}",
                        and_list(&differing)
                    )
                } else if missing.is_empty() {
                    format!(
                        "{kind} differs in {}: {} vs {ref_env}",
                        paths.join(", "),
                        and_list(&differing)
                    )
                } else {
                    format!(
                        "{kind} differs in {}: {} vs {ref_env}, and is missing in {}",
                        paths.join(", "),
                        and_list(&present),
                        and_list(&missing)
                    )
                };
                let mut envs = differing;
                envs.push(ref_env);
                out.push(container_draft(&c, kind.into(), envs, values, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Probes;
    use crate::rules::testing::{Workload, check, draft, service, web};

    fn readiness(probe: Value) -> Workload {
        web(|c| c.port("http", 8080).probe("readinessProbe", probe))
    }

    #[test]
    fn another_path_fires_showing_only_what_differs() {
        let model = service("web")
            .env(
                "staging",
                [readiness(
                    json!({"httpGet": {"path": "/healthz", "port": 8080}}),
                )],
            )
            .env(
                "production",
                [readiness(
                    json!({"httpGet": {"path": "/ready", "port": 8080}}),
                )],
            )
            .build();
        assert_eq!(
            check(&Probes, &model),
            [draft("Deployment/web")
                .container("web")
                .field("readinessProbe")
                .envs(["staging", "production"])
                .values([
                    ("staging", "httpGet.path: /healthz"),
                    ("production", "httpGet.path: /ready")
                ])
                .message("readinessProbe differs in httpGet.path: staging vs production")]
        );
    }

    #[test]
    fn a_probe_missing_in_some_environments_fires_showing_it_whole() {
        let live = || {
            web(|c| {
                c.probe(
                    "livenessProbe",
                    json!({"httpGet": {"path": "/live", "port": 8080}, "timeoutSeconds": 3}),
                )
            })
        };
        let model = service("web")
            .env("dev", [web(|c| c)])
            .env("staging", [live()])
            .env("production", [live()])
            .build();
        assert_eq!(
            check(&Probes, &model),
            [draft("Deployment/web")
                .container("web")
                .field("livenessProbe")
                .envs(["dev", "production"])
                .values([
                    ("dev", "(none)"),
                    (
                        "staging",
                        r#"{"failureThreshold":3,"httpGet":{"path":"/live","port":8080,"scheme":"HTTP"},"initialDelaySeconds":0,"periodSeconds":10,"successThreshold":1,"timeoutSeconds":3}"#
                    ),
                    (
                        "production",
                        r#"{"failureThreshold":3,"httpGet":{"path":"/live","port":8080,"scheme":"HTTP"},"initialDelaySeconds":0,"periodSeconds":10,"successThreshold":1,"timeoutSeconds":3}"#
                    ),
                ])
                .message("livenessProbe is missing in some: dev vs production")]
        );
    }

    #[test]
    fn a_probe_the_reference_lacks_fires() {
        let model = service("web")
            .env(
                "staging",
                [web(|c| {
                    c.probe("startupProbe", json!({"exec": {"command": ["true"]}}))
                })],
            )
            .env("production", [web(|c| c)])
            .build();
        let drafts = check(&Probes, &model);
        assert_eq!(drafts.len(), 1, "{drafts:?}");
        assert_eq!(drafts[0].field, "startupProbe");
        assert_eq!(drafts[0].envs, ["staging", "production"]);
        assert_eq!(drafts[0].values["production"], "(none)");
        assert_eq!(
            drafts[0].message,
            "startupProbe is missing in some: staging vs production"
        );
    }

    #[test]
    fn every_differing_path_is_named() {
        let model = service("web")
            .env(
                "dev",
                [readiness(
                    json!({"tcpSocket": {"port": 8080}, "periodSeconds": 30}),
                )],
            )
            .env(
                "staging",
                [readiness(
                    json!({"tcpSocket": {"port": 8080}, "timeoutSeconds": 5}),
                )],
            )
            .env(
                "production",
                [readiness(json!({"tcpSocket": {"port": 8080}}))],
            )
            .build();
        assert_eq!(
            check(&Probes, &model),
            [draft("Deployment/web")
                .container("web")
                .field("readinessProbe")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "periodSeconds: 30; timeoutSeconds: 1"),
                    ("staging", "periodSeconds: 10; timeoutSeconds: 5"),
                    ("production", "periodSeconds: 10; timeoutSeconds: 1"),
                ])
                .message(
                    "readinessProbe differs in periodSeconds, timeoutSeconds: dev and staging vs production"
                )]
        );
    }

    /// A token in a probe's header or exec command is never shown, though a change in it still fires.
    #[test]
    fn header_values_and_exec_arguments_are_redacted_but_still_compared() {
        let probe = |token: &str| {
            web(|c| {
                c.port("http", 8080)
                    .probe(
                        "readinessProbe",
                        json!({"httpGet": {"path": "/ready", "port": 8080,
                            "httpHeaders": [{"name": "X-Token", "value": token}]}}),
                    )
                    .probe(
                        "livenessProbe",
                        json!({"exec": {"command": ["sh", "-c", format!("check --token {token}")]}}),
                    )
            })
        };
        let model = service("web")
            .env("staging", [probe("s3cr3t-staging")])
            .env("production", [probe("s3cr3t-production")])
            .build();
        let drafts = check(&Probes, &model);
        assert_eq!(drafts.len(), 2, "{drafts:#?}");
        assert!(!format!("{drafts:?}").contains("s3cr3t"), "{drafts:#?}");
        let by_field = |f: &str| {
            drafts
                .iter()
                .find(|d| d.field == f)
                .unwrap_or_else(|| panic!("no {f}: {drafts:#?}"))
        };
        assert_eq!(
            by_field("readinessProbe").values["production"],
            "httpGet.httpHeaders[0].value: <redacted>"
        );
        assert_eq!(
            by_field("livenessProbe").values["production"],
            "exec.command[2]: <redacted>"
        );
    }

    /// An environment without the probe does not differ in the reference's paths: it lacks the probe.
    #[test]
    fn a_missing_probe_beside_a_differing_one_is_called_missing() {
        let model = service("web")
            .env("dev", [web(|c| c.port("http", 8080))])
            .env(
                "staging",
                [readiness(
                    json!({"httpGet": {"path": "/healthz", "port": 8080}}),
                )],
            )
            .env(
                "production",
                [readiness(
                    json!({"httpGet": {"path": "/ready", "port": 8080}}),
                )],
            )
            .build();
        assert_eq!(
            check(&Probes, &model),
            [draft("Deployment/web")
                .container("web")
                .field("readinessProbe")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "(none)"),
                    ("staging", "httpGet.path: /healthz"),
                    ("production", "httpGet.path: /ready")
                ])
                .message(
                    "readinessProbe differs in httpGet.path: staging vs production, and is missing in dev"
                )]
        );
    }

    /// Key order, a port by name or as a string (int-or-string), and spelled-out defaults are one probe.
    #[test]
    fn equal_probes_in_other_spellings_are_silent() {
        let model = service("web")
            .env(
                "dev",
                [readiness(json!({"httpGet": {"path": "/ready", "port": 8080}})).replicas(1)],
            )
            .env(
                "staging",
                [readiness(json!({
                    "periodSeconds": 10,
                    "httpGet": {"port": "http", "scheme": "HTTP", "path": "/ready"},
                    "timeoutSeconds": 1,
                }))
                .replicas(2)],
            )
            .env(
                "production",
                [readiness(json!({
                    "httpGet": {"path": "/ready", "port": "8080"},
                    "failureThreshold": 3,
                    "successThreshold": 1,
                    "initialDelaySeconds": 0,
                }))
                .replicas(6)],
            )
            .build();
        assert_eq!(check(&Probes, &model), []);
    }

    /// A port name is resolved through the container's own ports, so two names for 8080 are one port.
    #[test]
    fn two_port_names_for_one_number_are_silent() {
        let model = service("web")
            .env(
                "staging",
                [web(|c| {
                    c.port("http", 8080)
                        .probe("livenessProbe", json!({"tcpSocket": {"port": "http"}}))
                })],
            )
            .env(
                "production",
                [web(|c| {
                    c.port("web", 8080)
                        .probe("livenessProbe", json!({"tcpSocket": {"port": "web"}}))
                })],
            )
            .build();
        assert_eq!(check(&Probes, &model), []);
    }
}
