//! Numbers worth following over time: limits, requests and replicas per environment, and each
//! environment's limit as a ratio of the reference environment's (production÷staging memory limit…).
//!
//! Computed from the same [`ServiceModel`] the rules read, so charts and findings never disagree.

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::model::ServiceModel;

/// What a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricKind {
    /// `resources.limits.<resource>` (cores or bytes).
    Limit,
    /// `resources.requests.<resource>` (cores or bytes).
    Request,
    /// `spec.replicas` of a workload.
    Replicas,
    /// This environment's limit ÷ the reference environment's limit (`other_env`).
    LimitRatio,
}

impl MetricKind {
    /// The kebab-case name stored in history.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Limit => "limit",
            MetricKind::Request => "request",
            MetricKind::Replicas => "replicas",
            MetricKind::LimitRatio => "limit-ratio",
        }
    }
}

/// One measured value of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Service.
    pub service: String,
    /// Environment measured.
    pub env: String,
    /// For ratios: the environment divided by (the reference).
    pub other_env: Option<String>,
    /// Workload as `Kind/name`.
    pub workload: String,
    /// Container (none for replicas).
    pub container: Option<String>,
    /// `cpu`, `memory`, … (`replicas` for replica counts).
    pub resource: String,
    /// What is measured.
    pub kind: MetricKind,
    /// The value in base units (cores, bytes, count, or a plain ratio).
    pub value: f64,
}

/// Every metric of one service.
pub fn collect(service: &ServiceModel) -> Vec<Metric> {
    let mut out = Vec::new();
    let reference = service.envs.last().map(|e| e.env.clone());
    for c in service.containers() {
        let workload = c.workload.to_string();
        let mut push =
            |env: &str, other: Option<&str>, resource: &str, kind, value: Option<f64>| {
                if let Some(value) = value {
                    out.push(Metric {
                        service: service.service.clone(),
                        env: env.to_string(),
                        other_env: other.map(str::to_string),
                        workload: workload.clone(),
                        container: Some(c.name.to_string()),
                        resource: resource.to_string(),
                        kind,
                        value,
                    });
                }
            };
        for (env, ct) in &c.per_env {
            for (resource, q) in &ct.resources.limits {
                push(env, None, resource, MetricKind::Limit, q.value().to_f64());
            }
            for (resource, q) in &ct.resources.requests {
                push(env, None, resource, MetricKind::Request, q.value().to_f64());
            }
        }
        let Some(reference) = reference.as_deref() else {
            continue;
        };
        for (resource, limits) in c.limits() {
            let Some((_, ref_limit)) = limits.iter().find(|(e, _)| *e == reference) else {
                continue;
            };
            for (env, q) in &limits {
                if *env != reference {
                    let ratio = q.ratio(ref_limit).and_then(|r| r.to_f64());
                    push(
                        env,
                        Some(reference),
                        resource,
                        MetricKind::LimitRatio,
                        ratio,
                    );
                }
            }
        }
    }
    for key in service.workload_keys() {
        for (env, w) in service.workload_across(key) {
            if let Some(r) = w.replicas {
                out.push(Metric {
                    service: service.service.clone(),
                    env: env.to_string(),
                    other_env: None,
                    workload: key.to_string(),
                    container: None,
                    resource: "replicas".into(),
                    kind: MetricKind::Replicas,
                    value: r as f64,
                });
            }
        }
    }
    out
}
