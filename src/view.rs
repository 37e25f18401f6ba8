//! What each environment of a service runs, side by side: the data behind the report's service page.
//!
//! Computed from the same [`ServiceModel`] the rules read and stored with the newest run in history, so the
//! report is rendered from the history store alone.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::model::ServiceModel;
use crate::model::compact;
use crate::quantity::show_ratio;

/// One service across its environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Service name.
    pub service: String,
    /// Environments in promotion order.
    pub envs: Vec<String>,
    /// Workloads (pod-template owners).
    pub workloads: Vec<WorkloadView>,
    /// Ingresses: per environment, the routes (`path (type) → service:port`).
    pub ingresses: Vec<IngressView>,
}

/// A workload across environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadView {
    /// `Kind/name`.
    pub workload: String,
    /// Replicas per environment (absent: not set, e.g. left to an autoscaler).
    pub replicas: IndexMap<String, Option<i64>>,
    /// Containers, then init containers.
    pub containers: Vec<ContainerView>,
}

/// A container across environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerView {
    /// Container name.
    pub name: String,
    /// An init container.
    pub init: bool,
    /// Per environment that has the container.
    pub per_env: IndexMap<String, ContainerEnv>,
    /// Every env var name, with the environments that set it (in promotion order).
    pub env_names: Vec<EnvName>,
}

/// One env var name and where it is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvName {
    /// The name.
    pub name: String,
    /// Environments that set it.
    pub present: Vec<String>,
    /// Whether some environment lacks it.
    pub partial: bool,
}

/// A container in one environment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerEnv {
    /// Image.
    pub image: Option<String>,
    /// Requests, as written.
    pub requests: BTreeMap<String, String>,
    /// Limits, as written.
    pub limits: BTreeMap<String, String>,
    /// Request ÷ limit per resource.
    pub ratios: BTreeMap<String, String>,
    /// Probes: kind → a compact rendering.
    pub probes: BTreeMap<String, String>,
}

/// An Ingress across environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngressView {
    /// Ingress name.
    pub name: String,
    /// Routes per environment.
    pub routes: IndexMap<String, Vec<String>>,
}

/// The view of one service.
pub fn of(model: &ServiceModel) -> ServiceView {
    let envs: Vec<String> = model.envs.iter().map(|e| e.env.clone()).collect();
    let workloads = model
        .workload_keys()
        .into_iter()
        .map(|key| {
            let across = model.workload_across(key);
            let replicas = across
                .iter()
                .map(|(e, w)| (e.to_string(), w.replicas))
                .collect();
            let containers = model
                .containers()
                .into_iter()
                .filter(|c| c.workload == key)
                .map(|c| {
                    let per_env: IndexMap<String, ContainerEnv> = c
                        .per_env
                        .iter()
                        .map(|(e, ct)| {
                            let ratios = ct
                                .resources
                                .requests
                                .iter()
                                .filter_map(|(r, req)| {
                                    let ratio = req.ratio(ct.resources.limits.get(r)?)?;
                                    Some((r.clone(), show_ratio(ratio)))
                                })
                                .collect();
                            let shown = |m: &BTreeMap<String, crate::quantity::Quantity>| {
                                m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
                            };
                            let env = ContainerEnv {
                                image: ct.image.as_ref().map(|i| i.raw.clone()),
                                requests: shown(&ct.resources.requests),
                                limits: shown(&ct.resources.limits),
                                ratios,
                                probes: ct
                                    .probes
                                    .iter()
                                    .map(|(k, v)| (k.to_string(), probe_summary(v)))
                                    .collect(),
                            };
                            (e.to_string(), env)
                        })
                        .collect();
                    let mut names: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                    for (e, ct) in &c.per_env {
                        for n in &ct.env_names {
                            names.entry(n).or_default().push(e.to_string());
                        }
                    }
                    let env_names = names
                        .into_iter()
                        .map(|(name, present)| EnvName {
                            name: name.to_string(),
                            partial: present.len() < c.per_env.len(),
                            present,
                        })
                        .collect();
                    ContainerView {
                        name: c.name.to_string(),
                        init: c.per_env.first().is_some_and(|(_, ct)| ct.init),
                        per_env,
                        env_names,
                    }
                })
                .collect();
            WorkloadView {
                workload: key.to_string(),
                replicas,
                containers,
            }
        })
        .collect();
    let ingresses = model
        .object_keys(|o| o.key.kind == "Ingress")
        .into_iter()
        .map(|key| IngressView {
            routes: model
                .per_env(&key, |e, o| Some(crate::model::ingress_routes(e, o)))
                .into_iter()
                .map(|(e, r)| (e.to_string(), r))
                .collect(),
            name: key.name,
        })
        .collect();
    ServiceView {
        service: model.service.clone(),
        envs,
        workloads,
        ingresses,
    }
}

/// A probe in a few words: `GET /ready :8080 · delay 5s · every 10s · timeout 1s · 3 failures`; an exec
/// probe's arguments and header values are never shown (they may carry a token).
fn probe_summary(probe: &Value) -> String {
    let probe = &crate::redact::subtree("", "probe", probe);
    let field = |k: &str| probe.get(k).map(compact).unwrap_or_default();
    let handler = if let Some(h) = probe.get("httpGet") {
        let scheme = h.get("scheme").and_then(Value::as_str).unwrap_or("HTTP");
        let path = h.get("path").map(compact).unwrap_or_else(|| "/".into());
        let port = h.get("port").map(compact).unwrap_or_default();
        let scheme = if scheme == "HTTP" {
            String::new()
        } else {
            format!("{scheme} ")
        };
        format!("{scheme}GET {path} :{port}")
    } else if let Some(t) = probe.get("tcpSocket") {
        format!("tcp :{}", t.get("port").map(compact).unwrap_or_default())
    } else if let Some(g) = probe.get("grpc") {
        format!("grpc :{}", g.get("port").map(compact).unwrap_or_default())
    } else if let Some(e) = probe.get("exec") {
        let cmd: Vec<String> = e
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(compact)
            .collect();
        format!("exec {}", cmd.join(" "))
    } else {
        compact(probe)
    };
    let mut parts = vec![
        handler,
        format!("delay {}s", field("initialDelaySeconds")),
        format!("every {}s", field("periodSeconds")),
        format!("timeout {}s", field("timeoutSeconds")),
        format!("{} failures", field("failureThreshold")),
    ];
    if field("successThreshold") != "1" {
        parts.push(format!("{} successes", field("successThreshold")));
    }
    crate::redact::bound(&parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_in_a_few_words() {
        let p = serde_json::json!({"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3,
            "successThreshold": 1});
        assert_eq!(
            probe_summary(&p),
            "GET /ready :8080 · delay 5s · every 10s · timeout 1s · 3 failures"
        );
        let g = serde_json::json!({"grpc": {"port": 9000}, "initialDelaySeconds": 0, "periodSeconds": 10,
            "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 2});
        assert_eq!(
            probe_summary(&g),
            "grpc :9000 · delay 0s · every 10s · timeout 1s · 3 failures · 2 successes"
        );
        let e = serde_json::json!({"exec": {"command": ["sh", "-c", "curl -H 'X-Token: s3cr3t' :8080"]},
            "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3,
            "successThreshold": 1});
        assert_eq!(
            probe_summary(&e),
            "exec sh <redacted> <redacted> · delay 0s · every 10s · timeout 1s · 3 failures"
        );
    }
}
