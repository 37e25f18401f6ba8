//! `ingress-structure`: Ingress rules, paths, backends and TLS must match across environments
//! (hostnames may differ).

use serde_json::Value;

use super::{
    Category, Rule, ServiceModel, Settings, and_list, differing_from_reference, object_draft,
};
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
        for key in service.object_keys(|o| o.key.kind == "Ingress") {
            type Show = fn(&EnvModel, &Object) -> String;
            let aspects: [(&str, &str, Show); 2] = [
                ("spec.rules", "routes", |e, o| {
                    let r = routes(e, o);
                    if r.is_empty() {
                        "(no rules)".into()
                    } else {
                        r.join("; ")
                    }
                }),
                ("spec.tls", "TLS", |_, o| tls(o)),
            ];
            for (field, what, show) in aspects {
                let per_env = service.per_env(&key, |e, o| Some(show(e, o)));
                let Some((differing, ref_env)) = differing_from_reference(&per_env) else {
                    continue;
                };
                let message = format!(
                    "ingress {what} in {} differ from {ref_env}",
                    and_list(&differing)
                );
                let values = per_env
                    .into_iter()
                    .map(|(e, v)| (e.to_string(), v))
                    .collect();
                let mut envs = differing;
                envs.push(ref_env);
                out.push(object_draft(&key, field, envs, values, message));
            }
        }
    }
}

/// `path (pathType) → service:port` for every path of every rule; hosts masked, so only structure counts.
pub fn routes(env: &EnvModel, ingress: &Object) -> Vec<String> {
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
