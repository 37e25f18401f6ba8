//! Ingress structure: the routes of an Ingress with hostnames masked, compared by the `ingress-structure` rule
//! and shown side by side in the report.

use serde_json::Value;

use super::{EnvModel, Object, compact};

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
                        (Some(n), _) => compact(n),
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
                    .map(compact)
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
