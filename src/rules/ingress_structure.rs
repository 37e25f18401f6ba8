//! `ingress-structure`: Ingress rules, paths, backends and TLS must match across environments
//! (hostnames may differ).

use indexmap::IndexMap;
use serde_json::Value;

use super::{Category, Rule, ServiceModel, Settings, and_list};
use crate::finding::{Draft, Severity};
use crate::model::{EnvModel, Object};

#[doc = include_str!("docs/ingress-structure.md")]
pub struct IngressStructure;

impl Rule for IngressStructure {
    fn id(&self) -> &'static str {
        "ingress-structure"
    }
    fn summary(&self) -> &'static str {
        "ingress rules, paths, path types, backends or TLS differ between environments (hostnames masked)"
    }
    fn category(&self) -> Category {
        Category::Networking
    }
    fn default_severity(&self) -> Severity {
        Severity::Block
    }
    fn doc(&self) -> &'static str {
        include_str!("docs/ingress-structure.md")
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        let mut keys = Vec::new();
        for o in service.envs.iter().flat_map(|e| e.of_kind("Ingress")) {
            if !keys.contains(&o.key) {
                keys.push(o.key.clone());
            }
        }
        for key in keys {
            let per_env: Vec<(&str, Vec<String>, String)> = service
                .envs
                .iter()
                .filter_map(|e| {
                    let o = e.object(&key)?;
                    Some((e.env.as_str(), routes(e, o), tls(o)))
                })
                .collect();
            for (field, pick) in [("spec.rules", 0usize), ("spec.tls", 1usize)] {
                let show = |(_, r, t): &(&str, Vec<String>, String)| {
                    if pick == 0 {
                        if r.is_empty() {
                            "(no rules)".to_string()
                        } else {
                            r.join("; ")
                        }
                    } else {
                        t.clone()
                    }
                };
                let values: IndexMap<String, String> =
                    per_env.iter().map(|x| (x.0.to_string(), show(x))).collect();
                let Some(reference) = values.values().last() else {
                    continue;
                };
                let differing: Vec<String> = values
                    .iter()
                    .filter(|(_, v)| *v != reference)
                    .map(|(e, _)| e.clone())
                    .collect();
                if differing.is_empty() {
                    continue;
                }
                let ref_env = values.keys().last().cloned().unwrap_or_default();
                let what = if pick == 0 { "routes" } else { "TLS" };
                let message = format!(
                    "ingress {what} in {} differ from {ref_env}",
                    and_list(&differing)
                );
                let mut envs = differing;
                envs.push(ref_env);
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

/// `path (pathType) → service:port` for every path of every rule; hosts masked, so only structure counts.
fn routes(env: &EnvModel, ingress: &Object) -> Vec<String> {
    let mut out = Vec::new();
    for rule in ingress
        .value
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for p in rule
            .pointer("/http/paths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = p.get("path").and_then(Value::as_str).unwrap_or("/");
            let path_type = p
                .get("pathType")
                .and_then(Value::as_str)
                .unwrap_or("ImplementationSpecific");
            let backend = match p.pointer("/backend/service") {
                Some(svc) => {
                    let name = svc.get("name").and_then(Value::as_str).unwrap_or("");
                    // A named port equals the number the Service gives that name (int-or-string).
                    let port = match (svc.pointer("/port/number"), svc.pointer("/port/name")) {
                        (Some(n), _) => crate::model::compact(n),
                        (None, Some(Value::String(port_name))) => {
                            service_port(env, name, port_name)
                                .map_or_else(|| port_name.clone(), |n| n.to_string())
                        }
                        _ => String::new(),
                    };
                    format!("{}:{port}", env.naming.normalize(name))
                }
                None => p
                    .pointer("/backend/resource/name")
                    .map(crate::model::compact)
                    .unwrap_or_else(|| "(no backend)".into()),
            };
            out.push(format!("{path} ({path_type}) → {backend}"));
        }
    }
    out.sort();
    out
}

/// The port number a Service (by rendered name) gives a port name.
fn service_port(env: &EnvModel, service: &str, port_name: &str) -> Option<i64> {
    env.of_kind("Service")
        .find(|s| s.rendered_name == service)?
        .value
        .pointer("/spec/ports")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(port_name))?
        .get("port")?
        .as_i64()
}

fn tls(ingress: &Object) -> String {
    match ingress.value.pointer("/spec/tls").and_then(Value::as_array) {
        Some(entries) if !entries.is_empty() => "TLS".into(),
        _ => "no TLS".into(),
    }
}
