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
                .map(|(e, s)| (e.to_string(), show_paths(s, &paths)))
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
