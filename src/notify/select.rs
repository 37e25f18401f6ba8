//! What the digest says: "drifting apart" in one period, read from the history.
//!
//! Everything is placed on the timeline by each run's `time` (backfilled runs carry their commit's time),
//! so the digest of a past week can be computed from backfilled history. The state "at" an instant is
//! the state after the last timeline run before it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{NotifyError, Period};
use crate::codes::EventKind;
use crate::history::{Event, History, Lifecycle, RunSummary};
use crate::metrics::MetricKind;
use crate::report::{Drift, drifting, sort_drifts};

/// Tuning of the selection (from `[digest]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectOptions {
    /// A ratio counts as widened when its distance from 1 grew by at least this factor (≥ 1).
    pub min_widening: f64,
    /// How many of the oldest open findings to list.
    pub oldest: usize,
}

impl Default for SelectOptions {
    fn default() -> Self {
        let c = crate::config::DigestConfig::default();
        SelectOptions::from_config(&c)
    }
}

impl SelectOptions {
    /// From `[digest]` config.
    pub fn from_config(c: &crate::config::DigestConfig) -> SelectOptions {
        SelectOptions {
            min_widening: c.min_widening,
            oldest: c.oldest,
        }
    }
}

/// A service whose count of open findings grew over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Growth {
    /// Service.
    pub service: String,
    /// Open findings at the start of the period.
    pub before: usize,
    /// Open findings at its end.
    pub after: usize,
}

/// The digest's content for one period: plain data, computed without any mail server.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The period.
    pub period: Period,
    /// The last timeline run before the period's end (the state the digest describes), if any.
    pub last_run: Option<RunSummary>,
    /// The run the period is compared with: the last one before its start, else its first run.
    pub base_run: Option<RunSummary>,
    /// Findings opened by a run in the period, oldest first.
    pub opened: Vec<Lifecycle>,
    /// Findings resolved by a run in the period, oldest resolution first.
    pub resolved: Vec<Lifecycle>,
    /// Cross-environment limit ratios that moved away from 1 by at least the configured factor, widest
    /// first.
    pub widened: Vec<Drift>,
    /// Services with more open findings at the end than at the start, most growth first.
    pub growing: Vec<Growth>,
    /// Live drift findings (`live-*` rules) seen in the period: values changed and fields set by hand in
    /// a cluster, objects missing or extra.
    pub live: Vec<Lifecycle>,
    /// Argo CD self-heals in the period.
    pub self_heals: Vec<Event>,
    /// The oldest findings still open at the end of the period (at most `oldest`).
    pub oldest: Vec<Lifecycle>,
    /// How many findings were open at the end of the period.
    pub open_total: usize,
}

impl Selection {
    /// Nothing happened worth an email (the "all quiet" week).
    pub fn is_quiet(&self) -> bool {
        self.opened.is_empty()
            && self.resolved.is_empty()
            && self.widened.is_empty()
            && self.growing.is_empty()
            && self.live.is_empty()
            && self.self_heals.is_empty()
    }

    /// The services drifting apart, by name: a limit ratio widened, their open findings grew, or their
    /// live state drifted from Git.
    pub fn drifting_services(&self) -> Vec<String> {
        let mut s: BTreeSet<&str> = BTreeSet::new();
        s.extend(self.widened.iter().map(|d| d.service.as_str()));
        s.extend(self.growing.iter().map(|g| g.service.as_str()));
        s.extend(self.live.iter().map(|l| l.finding.service.as_str()));
        s.into_iter().map(str::to_string).collect()
    }

    /// The period's end: the digest's "now" (ages are measured to it).
    pub fn as_of(&self) -> DateTime<Utc> {
        self.period.end
    }
}

/// Open at instant `t` (after every run before `t`).
fn open_at(l: &Lifecycle, t: DateTime<Utc>) -> bool {
    l.opened.time < t && l.resolved.as_ref().is_none_or(|r| r.time >= t)
}

/// Computes the digest's content for `period` from the history.
#[tracing::instrument(skip_all, fields(period = %period.label()))]
pub fn select(
    history: &History,
    period: &Period,
    options: &SelectOptions,
) -> Result<Selection, NotifyError> {
    let mut runs: Vec<RunSummary> = history
        .runs(10_000_000)?
        .into_iter()
        .filter(|r| r.kind.on_timeline() && r.time < period.end)
        .collect();
    runs.reverse(); // oldest first
    let last_run = runs.last().cloned();
    let base_run = runs
        .iter()
        .rev()
        .find(|r| r.time < period.start)
        .or_else(|| runs.iter().find(|r| period.contains(r.time)))
        .cloned();

    // Every episode that could matter: still open, or resolved at or after the period's start (an episode
    // resolved before it was neither opened in it nor open during it).
    let mut episodes = history.open_findings(None)?;
    episodes.extend(history.resolved_since(period.start, None)?);

    let mut opened: Vec<Lifecycle> = episodes
        .iter()
        .filter(|l| period.contains(l.opened.time))
        .cloned()
        .collect();
    opened.sort_by(|a, b| {
        (a.opened.time, &a.finding.fingerprint).cmp(&(b.opened.time, &b.finding.fingerprint))
    });
    let mut resolved: Vec<Lifecycle> = episodes
        .iter()
        .filter(|l| l.resolved.as_ref().is_some_and(|r| period.contains(r.time)))
        .cloned()
        .collect();
    resolved.sort_by_key(|l| {
        (
            l.resolved.as_ref().map(|r| r.time),
            l.finding.fingerprint.clone(),
        )
    });

    let mut still_open: Vec<Lifecycle> = episodes
        .iter()
        .filter(|l| open_at(l, period.end))
        .cloned()
        .collect();
    still_open.sort_by(|a, b| {
        (a.opened.when(), &a.finding.fingerprint).cmp(&(b.opened.when(), &b.finding.fingerprint))
    });
    let open_total = still_open.len();

    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for l in &episodes {
        let e = counts.entry(l.finding.service.as_str()).or_default();
        e.0 += usize::from(open_at(l, period.start));
        e.1 += usize::from(open_at(l, period.end));
    }
    let mut growing: Vec<Growth> = counts
        .into_iter()
        .filter(|(_, (before, after))| after > before)
        .map(|(service, (before, after))| Growth {
            service: service.to_string(),
            before,
            after,
        })
        .collect();
    growing.sort_by(|a, b| {
        (b.after - b.before)
            .cmp(&(a.after - a.before))
            .then_with(|| a.service.cmp(&b.service))
    });

    let live: Vec<Lifecycle> = episodes
        .iter()
        .filter(|l| {
            l.finding.rule.is_live()
                && l.opened.time < period.end
                && l.last_seen.time >= period.start
        })
        .cloned()
        .collect();

    let mut widened = Vec::new();
    if let (Some(last), Some(base)) = (&last_run, &base_run)
        && last.id != base.id
    {
        let min = options.min_widening.max(1.0).log2();
        for service in history.metric_services()? {
            let points = history.metric_series(&service, Some(MetricKind::LimitRatio))?;
            widened.extend(
                drifting(&service, &points, last.id, base.id)
                    .into_iter()
                    .filter(|d| d.widened + 1e-9 >= min),
            );
        }
        sort_drifts(&mut widened);
    }

    let self_heals = history
        .events(period.start, Some(EventKind::ArgoSelfHeal))?
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.time < period.end)
        .collect();

    still_open.truncate(options.oldest);
    Ok(Selection {
        period: *period,
        last_run,
        base_run,
        opened,
        resolved,
        widened,
        growing,
        live,
        self_heals,
        oldest: still_open,
        open_total,
    })
}
