//! The time-series charts of one service, built from its metric points: shared by the site (SVG) and the
//! weekly digest (PNG), so both show the same lines.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::charts::{Chart, Series, Threshold, Unit};
use super::data;
use crate::history::MetricPoint;
use crate::metrics::MetricKind;

/// What a [`ServiceChart`] plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// The limit per environment.
    Limit,
    /// Each environment's limit ÷ the reference environment's.
    LimitRatio,
    /// Request ÷ limit per environment.
    RequestRatio,
    /// Replicas per environment.
    Replicas,
}

/// One chart of one service, with the site path it is published under.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceChart {
    /// Workload as `Kind/name`.
    pub workload: String,
    /// Container, when the chart is about one.
    pub container: Option<String>,
    /// `cpu`, `memory`, … (`replicas` for replica counts).
    pub resource: String,
    /// What it plots.
    pub kind: ChartKind,
    /// Site-relative path of its SVG, e.g. `charts/<service>/<workload>-<container>-memory-ratio.svg`.
    pub path: String,
    /// What to draw.
    pub chart: Chart,
}

/// Every chart of one service (limits, limit ratios, request ÷ limit, replicas per workload, container and
/// resource), in a stable order; `env_order` orders the series (promotion order), others follow by name.
pub fn service_charts(
    service_slug: &str,
    env_order: &[String],
    points: &[MetricPoint],
) -> Vec<ServiceChart> {
    // (workload, container, resource) → kind → env → points
    type Key = (String, String, String);
    type PerEnv = BTreeMap<String, Vec<(DateTime<Utc>, f64)>>;
    let mut by: BTreeMap<Key, BTreeMap<&'static str, PerEnv>> = BTreeMap::new();
    let mut requests: BTreeMap<(Key, String, i64), f64> = BTreeMap::new();
    let mut limits: BTreeMap<(Key, String, i64), (DateTime<Utc>, f64)> = BTreeMap::new();
    let mut reference: Option<String> = None;
    for p in points {
        let m = &p.metric;
        let key = (
            m.workload.clone(),
            m.container.clone().unwrap_or_default(),
            m.resource.clone(),
        );
        let series = match m.kind {
            MetricKind::Limit => {
                limits.insert((key.clone(), m.env.clone(), p.run), (p.time, m.value));
                "limit"
            }
            MetricKind::Request => {
                requests.insert((key.clone(), m.env.clone(), p.run), m.value);
                continue;
            }
            MetricKind::Replicas => "replicas",
            MetricKind::LimitRatio => {
                reference = m.other_env.clone();
                "ratio"
            }
        };
        by.entry(key)
            .or_default()
            .entry(series)
            .or_default()
            .entry(m.env.clone())
            .or_default()
            .push((p.time, m.value));
    }
    for ((key, env, run), (time, limit)) in &limits {
        if let Some(req) = requests.get(&(key.clone(), env.clone(), *run))
            && *limit > 0.0
        {
            by.entry(key.clone())
                .or_default()
                .entry("request-ratio")
                .or_default()
                .entry(env.clone())
                .or_default()
                .push((*time, req / limit));
        }
    }
    let ordered = |m: &BTreeMap<String, Vec<(DateTime<Utc>, f64)>>| -> Vec<Series> {
        let mut envs: Vec<&String> = m.keys().collect();
        envs.sort_by_key(|e| {
            (
                env_order.iter().position(|x| x == *e).unwrap_or(usize::MAX),
                (*e).clone(),
            )
        });
        envs.into_iter()
            .map(|e| {
                let mut points = m[e].clone();
                points.sort_by_key(|p| p.0);
                Series {
                    label: e.clone(),
                    points,
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    for ((workload, container, resource), kinds) in &by {
        let what = if container.is_empty() {
            workload.clone()
        } else {
            format!("{workload} [{container}]")
        };
        let base = format!(
            "charts/{}/{}-{}-{}",
            service_slug,
            data::slug(workload),
            data::slug(container),
            data::slug(resource)
        );
        let unit = match resource.as_str() {
            "memory" | "ephemeral-storage" => Unit::Bytes,
            "cpu" => Unit::Cores,
            _ => Unit::Count,
        };
        for (kind, title, unit, thresholds) in [
            (
                "limit",
                format!("{resource} limit per environment — {what}"),
                unit,
                Vec::new(),
            ),
            (
                "ratio",
                format!(
                    "{resource} limit ÷ {} — {what}",
                    reference.as_deref().unwrap_or("reference")
                ),
                Unit::Ratio,
                vec![
                    Threshold {
                        label: "4× (limit-scale)".into(),
                        value: 4.0,
                    },
                    Threshold {
                        label: "¼× (limit-scale)".into(),
                        value: 0.25,
                    },
                ],
            ),
            (
                "request-ratio",
                format!("{resource} request ÷ limit — {what}"),
                Unit::Ratio,
                Vec::new(),
            ),
            (
                "replicas",
                format!("replicas — {workload}"),
                Unit::Count,
                Vec::new(),
            ),
        ] {
            let Some(series) = kinds.get(kind) else {
                continue;
            };
            out.push(ServiceChart {
                workload: workload.clone(),
                container: (!container.is_empty()).then(|| container.clone()),
                resource: resource.clone(),
                kind: match kind {
                    "limit" => ChartKind::Limit,
                    "ratio" => ChartKind::LimitRatio,
                    "request-ratio" => ChartKind::RequestRatio,
                    _ => ChartKind::Replicas,
                },
                path: format!("{base}-{kind}.svg"),
                chart: Chart {
                    y_label: match kind {
                        "limit" => format!("{resource} limit"),
                        "ratio" => "ratio to the reference".into(),
                        "request-ratio" => "request ÷ limit".into(),
                        _ => "replicas".into(),
                    },
                    title,
                    unit,
                    series: ordered(series),
                    thresholds,
                },
            });
        }
    }
    out
}
