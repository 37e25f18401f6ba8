//! `mesh`: service-mesh objects and mesh pod annotations/labels must match across environments.

use super::{Rule, ServiceModel, Settings, and_list, differing_from_reference, object_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::{diff_paths_all, mask_hosts, show_paths};

#[doc = include_str!("docs/mesh.md")]
pub struct Mesh;

/// API groups whose objects are service-mesh configuration.
const MESH_GROUP_SUFFIXES: [&str; 3] = ["istio.io", "linkerd.io", "consul.hashicorp.com"];
/// Pod annotation/label prefixes that configure the mesh sidecar.
const MESH_META_PREFIXES: [&str; 6] = [
    "sidecar.istio.io/",
    "proxy.istio.io/",
    "traffic.sidecar.istio.io/",
    "istio.io/",
    "linkerd.io/",
    "config.linkerd.io/",
];

impl Rule for Mesh {
    fn id(&self) -> RuleId {
        RuleId::Mesh
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let mesh_objects =
            service.object_keys(|o| MESH_GROUP_SUFFIXES.iter().any(|s| o.group.ends_with(s)));
        for key in mesh_objects {
            let specs = service.per_env(&key, |_, o| {
                Some(mask_hosts(
                    o.value.get("spec").unwrap_or(&serde_json::Value::Null),
                ))
            });
            let Some((differing, ref_env)) = differing_from_reference(&specs) else {
                continue;
            };
            let reference = specs.last().map(|(_, s)| s.clone()).unwrap_or_default();
            let paths = diff_paths_all(specs.iter().map(|(_, s)| s), &reference);
            let values = specs
                .iter()
                .map(|(e, s)| {
                    let shown = crate::redact::subtree(&key.kind, "spec", s);
                    (e.to_string(), show_paths(&shown, &paths))
                })
                .collect();
            let fields: Vec<String> = paths.iter().map(|p| format!("spec.{p}")).collect();
            let message = format!(
                "{key} differs in {} from {ref_env} at {}",
                and_list(&differing),
                fields.join(", ")
            );
            let mut envs = differing;
            envs.push(ref_env);
            let field = fields.first().cloned().unwrap_or_else(|| "spec".into());
            out.push(object_draft(&key, field, envs, values, message));
        }
        for key in service.workload_keys() {
            let across = service.workload_across(key);
            for (field, annotations) in [
                ("spec.template.metadata.annotations", true),
                ("spec.template.metadata.labels", false),
            ] {
                let metas: Vec<(&str, String)> = across
                    .iter()
                    .map(|(e, w)| {
                        let map = if annotations {
                            &w.pod_annotations
                        } else {
                            &w.pod_labels
                        };
                        let mesh: Vec<String> = map
                            .iter()
                            .filter(|(k, _)| MESH_META_PREFIXES.iter().any(|p| k.starts_with(p)))
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        let shown = if mesh.is_empty() {
                            "(none)".to_string()
                        } else {
                            mesh.join(", ")
                        };
                        (*e, shown)
                    })
                    .collect();
                let Some((differing, ref_env)) = differing_from_reference(&metas) else {
                    continue;
                };
                let message = format!(
                    "mesh pod {} of {key} differ in {} from {ref_env}",
                    if annotations { "annotations" } else { "labels" },
                    and_list(&differing)
                );
                let values = metas.into_iter().map(|(e, v)| (e.to_string(), v)).collect();
                let mut envs = differing;
                envs.push(ref_env);
                out.push(object_draft(key, field, envs, values, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Mesh;
    use crate::rules::testing::{check, deployment, draft, object, service, web};

    fn destination_rule(spec: Value) -> Value {
        object(
            "networking.istio.io/v1",
            "DestinationRule",
            "web",
            json!({ "spec": spec }),
        )
    }

    #[test]
    fn a_traffic_policy_only_production_has_fires_at_its_path() {
        let model = service("web")
            .env(
                "staging",
                [destination_rule(json!({
                    "host": "web.staging.svc.cluster.local",
                    "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}},
                }))],
            )
            .env(
                "production",
                [destination_rule(json!({
                    "host": "web.production.svc.cluster.local",
                    "trafficPolicy": {
                        "connectionPool": {"tcp": {"maxConnections": 100}},
                        "outlierDetection": {"consecutive5xxErrors": 5},
                    },
                }))],
            )
            .build();
        assert_eq!(
            check(&Mesh, &model),
            [draft("DestinationRule/web")
                .field("spec.trafficPolicy.outlierDetection")
                .envs(["staging", "production"])
                .values([
                    ("staging", "trafficPolicy.outlierDetection: (absent)"),
                    (
                        "production",
                        r#"trafficPolicy.outlierDetection: {"consecutive5xxErrors":5}"#
                    ),
                ])
                .message(
                    "DestinationRule/web differs in staging from production at \
                     spec.trafficPolicy.outlierDetection"
                )]
        );
    }

    #[test]
    fn every_differing_path_of_any_mesh_group_is_named() {
        let server = |port: i64, proxy_protocol: &str| {
            object(
                "policy.linkerd.io/v1beta1",
                "Server",
                "web",
                json!({"spec": {"port": port, "proxyProtocol": proxy_protocol}}),
            )
        };
        let model = service("web")
            .env("dev", [server(8080, "HTTP/1")])
            .env("production", [server(8443, "HTTP/2")])
            .build();
        assert_eq!(
            check(&Mesh, &model),
            [draft("Server/web")
                .field("spec.port")
                .envs(["dev", "production"])
                .values([
                    ("dev", "port: 8080; proxyProtocol: HTTP/1"),
                    ("production", "port: 8443; proxyProtocol: HTTP/2"),
                ])
                .message(
                    "Server/web differs in dev from production at spec.port, spec.proxyProtocol"
                )]
        );
    }

    #[test]
    fn sidecar_annotations_and_mesh_labels_that_differ_fire() {
        let model = service("web")
            .env(
                "staging",
                [web(|c| c).pod_annotation("sidecar.istio.io/inject", "false")],
            )
            .env(
                "production",
                [web(|c| c)
                    .pod_annotation("sidecar.istio.io/inject", "true")
                    .pod_label("istio.io/rev", "1-22")],
            )
            .build();
        assert_eq!(
            check(&Mesh, &model),
            [
                draft("Deployment/web")
                    .field("spec.template.metadata.annotations")
                    .envs(["staging", "production"])
                    .values([
                        ("staging", "sidecar.istio.io/inject=false"),
                        ("production", "sidecar.istio.io/inject=true"),
                    ])
                    .message(
                        "mesh pod annotations of Deployment/web differ in staging from production"
                    ),
                draft("Deployment/web")
                    .field("spec.template.metadata.labels")
                    .envs(["staging", "production"])
                    .values([("staging", "(none)"), ("production", "istio.io/rev=1-22")])
                    .message("mesh pod labels of Deployment/web differ in staging from production"),
            ]
        );
    }

    /// Hostnames (hosts, destination hosts, gateways' hosts), key order, non-mesh pod metadata, non-mesh
    /// objects and replica counts may all differ.
    #[test]
    fn hosts_key_order_and_non_mesh_differences_are_silent() {
        let virtual_service = |spec: Value| {
            object(
                "networking.istio.io/v1beta1",
                "VirtualService",
                "web",
                json!({ "spec": spec }),
            )
        };
        let network_policy = |port: i64| {
            object(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "web",
                json!({"spec": {"ingress": [{"ports": [{"port": port}]}]}}),
            )
        };
        let staging = [
            virtual_service(json!({
                "hosts": ["web.staging.example.com"],
                "http": [{"route": [{"destination": {"host": "web.staging.svc.cluster.local"}}],
                          "retries": {"attempts": 3, "perTryTimeout": "2s"}}],
            })),
            deployment("web")
                .replicas(1)
                .pod_annotation("sidecar.istio.io/inject", "true")
                .pod_annotation("prometheus.io/scrape", "false")
                .pod_label("app", "web-staging")
                .into(),
            network_policy(8080),
        ];
        let production = [
            virtual_service(json!({
                "http": [{"retries": {"perTryTimeout": "2s", "attempts": 3},
                          "route": [{"destination": {"host": "web.production.svc.cluster.local"}}]}],
                "hosts": ["shop.example.com"],
            })),
            deployment("web")
                .replicas(10)
                .pod_annotation("prometheus.io/scrape", "true")
                .pod_annotation("sidecar.istio.io/inject", "true")
                .pod_label("app", "web")
                .into(),
            network_policy(9090),
        ];
        let model = service("web")
            .env("staging", staging)
            .env("production", production)
            .build();
        assert_eq!(check(&Mesh, &model), []);
    }

    /// A mesh object only one environment renders is resource-set's finding.
    #[test]
    fn a_mesh_object_in_one_environment_only_is_silent() {
        let model = service("web")
            .env("staging", [web(|c| c)])
            .env(
                "production",
                [destination_rule(json!({"host": "web"})), web(|c| c).into()],
            )
            .build();
        assert_eq!(check(&Mesh, &model), []);
    }
}
