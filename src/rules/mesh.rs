//! `mesh`: service-mesh objects and mesh pod annotations/labels must match across environments.

use indexmap::IndexMap;

use super::{Category, Rule, ServiceModel, Settings, and_list};
use crate::finding::{Draft, Severity};
use crate::model::{ObjectKey, diff_paths, mask_hosts, show_paths};

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
    fn id(&self) -> &'static str {
        "mesh"
    }
    fn summary(&self) -> &'static str {
        "service-mesh objects or mesh pod annotations/labels differ between environments (hostnames masked)"
    }
    fn category(&self) -> Category {
        Category::Networking
    }
    fn default_severity(&self) -> Severity {
        Severity::Block
    }
    fn doc(&self) -> &'static str {
        include_str!("docs/mesh.md")
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let mut keys: Vec<ObjectKey> = Vec::new();
        for o in service.envs.iter().flat_map(|e| &e.objects) {
            let mesh = MESH_GROUP_SUFFIXES.iter().any(|s| o.group.ends_with(s));
            if mesh && !keys.contains(&o.key) {
                keys.push(o.key.clone());
            }
        }
        for key in keys {
            let specs: Vec<(&str, serde_json::Value)> = service
                .envs
                .iter()
                .filter_map(|e| {
                    let spec = e
                        .object(&key)?
                        .value
                        .get("spec")
                        .cloned()
                        .unwrap_or_default();
                    Some((e.env.as_str(), mask_hosts(&spec)))
                })
                .collect();
            let Some((ref_env, reference)) = specs.last() else {
                continue;
            };
            let mut differing = Vec::new();
            let mut paths: Vec<String> = Vec::new();
            for (env, spec) in &specs {
                if spec != reference {
                    differing.push(env.to_string());
                    for p in diff_paths(spec, reference) {
                        let p = format!("spec.{p}").trim_end_matches('.').to_string();
                        if !paths.contains(&p) {
                            paths.push(p);
                        }
                    }
                }
            }
            if differing.is_empty() {
                continue;
            }
            let inner: Vec<String> = paths
                .iter()
                .map(|p| {
                    p.trim_start_matches("spec")
                        .trim_start_matches('.')
                        .to_string()
                })
                .collect();
            let values = specs
                .iter()
                .map(|(e, s)| (e.to_string(), show_paths(s, &inner)))
                .collect();
            let message = format!(
                "{key} differs in {} from {ref_env} at {}",
                and_list(&differing),
                paths.join(", ")
            );
            let mut envs = differing;
            envs.push(ref_env.to_string());
            out.push(Draft {
                kind: key.kind.clone(),
                name: key.name.clone(),
                container: None,
                envs,
                field: paths.first().cloned().unwrap_or_else(|| "spec".into()),
                values,
                message,
            });
        }
        for key in service.workload_keys() {
            let across = service.workload_across(key);
            for (field, pick) in [
                ("spec.template.metadata.annotations", true),
                ("spec.template.metadata.labels", false),
            ] {
                let metas: Vec<(&str, IndexMap<&String, &String>)> = across
                    .iter()
                    .map(|(e, w)| {
                        let map = if pick {
                            &w.pod_annotations
                        } else {
                            &w.pod_labels
                        };
                        let mesh = map
                            .iter()
                            .filter(|(k, _)| MESH_META_PREFIXES.iter().any(|p| k.starts_with(p)))
                            .collect();
                        (*e, mesh)
                    })
                    .collect();
                let Some((ref_env, reference)) = metas.last() else {
                    continue;
                };
                let differing: Vec<String> = metas
                    .iter()
                    .filter(|(_, m)| m != reference)
                    .map(|(e, _)| e.to_string())
                    .collect();
                if differing.is_empty() {
                    continue;
                }
                let values = metas
                    .iter()
                    .map(|(e, m)| {
                        let v = if m.is_empty() {
                            "(none)".to_string()
                        } else {
                            m.iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        (e.to_string(), v)
                    })
                    .collect();
                let message = format!(
                    "mesh pod {} of {key} differ in {} from {ref_env}",
                    if pick { "annotations" } else { "labels" },
                    and_list(&differing)
                );
                let mut envs = differing;
                envs.push(ref_env.to_string());
                out.push(Draft {
                    kind: key.kind.clone(),
                    name: key.name.clone(),
                    container: None,
                    envs,
                    field: field.into(),
                    values,
                    message,
                });
            }
        }
    }
}
