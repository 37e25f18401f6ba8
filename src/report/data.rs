//! What the site shows, read from the history in one pass, and the numbers derived from it (the services ×
//! rules matrix, the ratios that widened this week, the cost per environment).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::{Options, ReportError};
use crate::finding::Severity;
use crate::history::{History, Lifecycle, MetricPoint, RunSummary};
use crate::metrics::MetricKind;
use crate::view::ServiceView;

/// Everything the pages need.
pub struct SiteData {
    /// The newest timeline run.
    pub last: Option<RunSummary>,
    /// The site's "now": the newest run's time (never the clock: the same history gives the same site).
    pub now: DateTime<Utc>,
    /// Timeline runs, oldest first.
    pub runs: Vec<RunSummary>,
    /// Per run id: findings opened and resolved.
    pub changes: BTreeMap<i64, (u64, u64)>,
    /// Open findings, oldest first.
    pub open: Vec<Lifecycle>,
    /// Findings resolved in the 30 days before `now`.
    pub resolved: Vec<Lifecycle>,
    /// Services, by name.
    pub services: Vec<ServiceData>,
    /// Report options.
    pub options: Options,
}

/// One service's data.
pub struct ServiceData {
    /// Name.
    pub name: String,
    /// File-name-safe name.
    pub slug: String,
    /// Side by side, as of the newest run that checked it.
    pub view: Option<ServiceView>,
    /// Open findings, oldest first.
    pub open: Vec<Lifecycle>,
}

impl SiteData {
    /// Reads what the site shows.
    pub fn load(history: &History, options: &Options) -> Result<SiteData, ReportError> {
        let mut runs: Vec<RunSummary> = history
            .runs(10_000_000)?
            .into_iter()
            .filter(|r| r.kind.on_timeline())
            .collect();
        runs.reverse();
        let last = runs.last().cloned();
        let now = last
            .as_ref()
            .map_or(DateTime::UNIX_EPOCH, RunSummary::last_seen);
        let open = history.open_findings(None)?;
        let resolved = history.resolved_since(now - Duration::days(30), None)?;
        let views: BTreeMap<String, ServiceView> = history
            .service_views()?
            .into_iter()
            .map(|v| (v.service.clone(), v))
            .collect();
        let mut names: BTreeSet<String> = views.keys().cloned().collect();
        names.extend(open.iter().map(|l| l.finding.service.clone()));
        // A service whose findings were all resolved still gets a page for the history to link to.
        names.extend(resolved.iter().map(|l| l.finding.service.clone()));
        let mut slugs = BTreeSet::new();
        let mut services = Vec::new();
        for name in names {
            let mut s = slug(&name);
            while !slugs.insert(s.clone()) {
                s.push('_');
            }
            services.push(ServiceData {
                open: open
                    .iter()
                    .filter(|l| l.finding.service == name)
                    .cloned()
                    .collect(),
                view: views.get(&name).cloned(),
                slug: s,
                name,
            });
        }
        Ok(SiteData {
            changes: history.run_changes()?,
            last,
            now,
            runs,
            open,
            resolved,
            services,
            options: options.clone(),
        })
    }

    /// The newest timeline run at or before `time`.
    pub fn run_at(&self, time: DateTime<Utc>) -> Option<&RunSummary> {
        self.runs.iter().rev().find(|r| r.time <= time)
    }
}

/// A name usable as a file name: ASCII letters, digits, `_` and `-`; anything else (`.` too) becomes `_`.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// The worst open severity per (service, rule).
pub fn matrix(open: &[Lifecycle]) -> BTreeMap<(String, String), Severity> {
    let mut m: BTreeMap<(String, String), Severity> = BTreeMap::new();
    for l in open {
        let key = (l.finding.service.clone(), l.finding.rule.to_string());
        let e = m.entry(key).or_insert(l.finding.severity);
        *e = (*e).max(l.finding.severity);
    }
    m
}

/// A limit ratio that moved away from 1 (environments drifting apart).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Service.
    pub service: String,
    /// `Kind/name [container] resource`.
    pub what: String,
    /// `staging ÷ production`.
    pub envs: String,
    /// The ratio a week before.
    pub before: f64,
    /// The ratio now.
    pub after: f64,
    /// How much further from 1 it moved (in |log2|: 1.0 = twice as far apart).
    pub widened: f64,
}

/// One service's limit ratios at run `last` compared with those at run `before`: those that moved away
/// from 1.
pub fn drifting(service: &str, points: &[MetricPoint], last: i64, before: i64) -> Vec<Drift> {
    let at = |run: i64| -> BTreeMap<(String, String, String, String), f64> {
        points
            .iter()
            .filter(|p| p.run == run && p.metric.kind == MetricKind::LimitRatio)
            .map(|p| {
                let m = &p.metric;
                let key = (
                    m.workload.clone(),
                    m.container.clone().unwrap_or_default(),
                    m.resource.clone(),
                    format!("{} ÷ {}", m.env, m.other_env.as_deref().unwrap_or("?")),
                );
                (key, m.value)
            })
            .collect()
    };
    let then = at(before);
    let mut out = Vec::new();
    for (key, after) in at(last) {
        let Some(before) = then.get(&key).copied() else {
            continue;
        };
        if before <= 0.0 || after <= 0.0 {
            continue;
        }
        let widened = after.log2().abs() - before.log2().abs();
        if widened > 1e-9 {
            out.push(Drift {
                service: service.to_string(),
                what: format!("{} [{}] {}", key.0, key.1, key.2),
                envs: key.3,
                before,
                after,
                widened,
            });
        }
    }
    out
}

/// Widest first (ties by service and limit, so the order is stable).
pub fn sort_drifts(drifts: &mut [Drift]) {
    drifts.sort_by(|a, b| {
        b.widened
            .total_cmp(&a.widened)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.what.cmp(&b.what))
            .then_with(|| a.envs.cmp(&b.envs))
    });
}

/// Requested cores and GiB (requests × replicas) per environment of one service at one run.
pub fn requested(points: &[MetricPoint], run: i64) -> BTreeMap<String, (f64, f64)> {
    let mut replicas: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.run == run && p.metric.kind == MetricKind::Replicas)
    {
        replicas.insert(
            (p.metric.env.as_str(), p.metric.workload.as_str()),
            p.metric.value,
        );
    }
    let mut out: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.run == run && p.metric.kind == MetricKind::Request)
    {
        let m = &p.metric;
        // A workload without `replicas` (an autoscaler's, or a DaemonSet) counts once.
        let n = replicas
            .get(&(m.env.as_str(), m.workload.as_str()))
            .copied()
            .unwrap_or(1.0);
        let e = out.entry(m.env.clone()).or_default();
        match m.resource.as_str() {
            "cpu" => e.0 += m.value * n,
            "memory" => e.1 += m.value * n / f64::from(1u32 << 30),
            _ => {}
        }
    }
    out
}

/// Hours in an average month (365.25 × 24 ÷ 12).
pub const HOURS_PER_MONTH: f64 = 730.5;
