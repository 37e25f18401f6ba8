//! The pages: askama templates filled with rows computed from [`SiteData`], and the charts they show.
//! Every string from the repo (service, env, finding values, commit messages) goes through askama's HTML
//! escaping; charts are separate SVG files shown with `<img>`, so nothing in them can run as markup.

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, Duration, Utc};

use super::charts::{self, Chart, Series, Unit};
use super::data::{self, HOURS_PER_MONTH, ServiceData, SiteData};
use super::service_charts;
use super::{ReportError, Sink};
use crate::codes::RuleId;
use crate::finding::Severity;
use crate::history::{History, Lifecycle, MetricPoint};
use crate::source::short;
use crate::view::ServiceView;

const CHART_W: u32 = 900;
const CHART_H: u32 = 320;

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A run's commit as (short id, summary, author); empty strings without a commit.
fn commit_cells(r: &crate::history::RunSummary) -> (String, String, String) {
    match &r.commit {
        Some(c) => (
            short(&c.id).to_string(),
            c.summary.clone(),
            c.author.clone(),
        ),
        None => Default::default(),
    }
}

fn class(s: Severity) -> &'static str {
    s.as_str()
}

fn render_page<T: Template>(page: &str, t: &T) -> Result<Vec<u8>, ReportError> {
    t.render()
        .map(String::into_bytes)
        .map_err(|source| ReportError::Template {
            page: page.to_string(),
            source,
        })
}

/// Services whose metrics are loaded and whose charts are drawn together: bounds memory on a large
/// history while keeping every core busy.
const BATCH: usize = 16;

/// Renders every page and chart into `sink`.
pub fn render(history: &History, data: &SiteData, sink: &mut dyn Sink) -> Result<(), ReportError> {
    sink.put(
        "style.css".into(),
        include_bytes!("../../templates/style.css").to_vec(),
    )?;
    let footer = match &data.last {
        Some(r) => format!(
            "Rendered by envparity {} from the history, as of run #{} ({}).",
            env!("CARGO_PKG_VERSION"),
            r.id,
            minute(r.last_seen())
        ),
        None => format!(
            "Rendered by envparity {} from an empty history.",
            env!("CARGO_PKG_VERSION")
        ),
    };
    let mut jobs: Vec<(String, Chart)> = Vec::new();
    if let Some(c) = trend_chart(data) {
        jobs.push(("charts/trend.svg".into(), c));
    }
    if let Some(c) = changes_chart(data) {
        jobs.push(("charts/changes.svg".into(), c));
    }
    for (path, svg) in draw_all(std::mem::take(&mut jobs))? {
        sink.put(path, svg.into_bytes())?;
    }

    let last = data.last.as_ref().map(|r| r.id);
    let week = data
        .run_at(data.now - Duration::days(7))
        .map(|r| r.id)
        .filter(|id| Some(*id) != last);
    let mut drifts = Vec::new();
    let mut totals = CostTotals::default();
    for batch in data.services.chunks(BATCH) {
        let mut pages = Vec::new();
        for s in batch {
            let points = history.metric_series(&s.name, None)?;
            let refs = service_chart_jobs(s, &points, &mut jobs);
            if let (Some(last), Some(week)) = (last, week) {
                drifts.extend(data::drifting(&s.name, &points, last, week));
            }
            let cost = Cost {
                now: last
                    .map(|r| data::requested(&points, r))
                    .unwrap_or_default(),
                before: week.map(|r| data::requested(&points, r)),
            };
            totals.add(&cost);
            pages.push((s, refs, cost));
        }
        for (path, svg) in draw_all(std::mem::take(&mut jobs))? {
            sink.put(path, svg.into_bytes())?;
        }
        for (s, refs, cost) in pages {
            let page = service(data, s, refs, &cost, &footer);
            sink.put(
                format!("services/{}.html", s.slug),
                render_page(&s.name, &page)?,
            )?;
        }
    }
    data::sort_drifts(&mut drifts);

    sink.put(
        "index.html".into(),
        render_page(
            "index.html",
            &index(data, &drifts, &totals.into_cost(), &footer),
        )?,
    )?;
    sink.put(
        "history.html".into(),
        render_page("history.html", &history_page(data, &footer))?,
    )?;
    sink.put(
        "rules/index.html".into(),
        render_page("rules", &rules_index(&footer))?,
    )?;
    for &rule in RuleId::ALL {
        let page = rule_page(rule, &footer);
        sink.put(
            format!("rules/{rule}.html"),
            render_page(rule.as_str(), &page)?,
        )?;
    }
    sink.put("data/latest.json".into(), latest_json(data)?)?;
    Ok(())
}

/// Requested cores and GiB per environment at the last run and at the run a week before.
#[derive(Debug, Clone, Default)]
struct Cost {
    now: BTreeMap<String, (f64, f64)>,
    before: Option<BTreeMap<String, (f64, f64)>>,
}

/// The sum of every service's [`Cost`].
#[derive(Debug, Default)]
struct CostTotals {
    now: BTreeMap<String, (f64, f64)>,
    before: BTreeMap<String, (f64, f64)>,
    any_before: bool,
}

impl CostTotals {
    fn add(&mut self, cost: &Cost) {
        let add = |into: &mut BTreeMap<String, (f64, f64)>, from: &BTreeMap<String, (f64, f64)>| {
            for (env, (c, g)) in from {
                let e = into.entry(env.clone()).or_default();
                e.0 += c;
                e.1 += g;
            }
        };
        add(&mut self.now, &cost.now);
        if let Some(before) = &cost.before {
            self.any_before = true;
            add(&mut self.before, before);
        }
    }

    fn into_cost(self) -> Cost {
        Cost {
            now: self.now,
            before: self.any_before.then_some(self.before),
        }
    }
}

/// Draws the charts on rayon's pool. The SVGs come back in `jobs` order, and so does the first error, so the
/// site does not depend on which thread drew what. A chart that panics fails the report instead of
/// unwinding through it.
fn draw_all(jobs: Vec<(String, Chart)>) -> Result<Vec<(String, String)>, ReportError> {
    use rayon::prelude::*;
    let drawn: Vec<Result<(String, String), ReportError>> = jobs
        .into_par_iter()
        .map(|(path, chart)| {
            // Nothing shared is mutated while drawing: the chart is read, the SVG is new.
            let svg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                charts::svg(&chart, CHART_W, CHART_H)
            }))
            .map_err(|_| ReportError::Panicked {
                what: "drawing charts",
            })??;
            Ok((path, svg))
        })
        .collect();
    drawn.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------- index

struct LastRun {
    time: String,
    commit: String,
    summary: String,
    author: String,
    outcome: &'static str,
}

struct Totals {
    block: usize,
    warn: usize,
    info: usize,
    services: usize,
}

struct RuleHead {
    id: &'static str,
    href: String,
}

struct Cell {
    class: String,
    label: String,
    title: String,
}

struct MatrixRow {
    name: String,
    href: String,
    cells: Vec<Cell>,
    open: usize,
}

struct ErrorRow {
    at: String,
    message: String,
}

struct DriftRow {
    service: String,
    href: String,
    what: String,
    envs: String,
    before: String,
    after: String,
}

struct CostRow {
    env: String,
    cores: String,
    gib: String,
    monthly: String,
    change: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    root: &'static str,
    title: String,
    footer: String,
    last: Option<LastRun>,
    totals: Totals,
    trend: Option<String>,
    errors: Vec<ErrorRow>,
    rules: Vec<RuleHead>,
    rows: Vec<MatrixRow>,
    drifting: Vec<DriftRow>,
    live: Vec<LiveRow>,
    cost: Vec<CostRow>,
    cost_note: String,
}

struct LiveRow {
    severity: &'static str,
    class: &'static str,
    service: String,
    href: String,
    env: String,
    rule: String,
    rule_href: String,
    object: String,
    field: String,
    by: String,
    since: String,
}

fn index(data: &SiteData, drifts: &[data::Drift], cost: &Cost, footer: &str) -> IndexPage {
    let matrix = data::matrix(&data.open);
    let count = |s| data.open.iter().filter(|l| l.finding.severity == s).count();
    let rows = data
        .services
        .iter()
        .map(|s| MatrixRow {
            name: s.name.clone(),
            href: format!("services/{}.html", s.slug),
            open: s.open.len(),
            cells: RuleId::scanned()
                .map(
                    |r| match matrix.get(&(s.name.clone(), r.as_str().to_string())) {
                        Some(sev) => Cell {
                            class: format!("cell {}", class(*sev)),
                            label: sev.as_str()[..1].to_uppercase(),
                            title: format!("{}: {} {}", s.name, r.as_str(), sev),
                        },
                        None => Cell {
                            class: "cell none".into(),
                            label: "·".into(),
                            title: format!("{}: {} passes", s.name, r.as_str()),
                        },
                    },
                )
                .collect(),
        })
        .collect();
    let slugs: BTreeMap<&str, &str> = data
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.slug.as_str()))
        .collect();
    let drifting = drifts
        .iter()
        .take(10)
        .map(|d| DriftRow {
            href: format!(
                "services/{}.html",
                slugs.get(d.service.as_str()).copied().unwrap_or("_")
            ),
            service: d.service.clone(),
            what: d.what.clone(),
            envs: d.envs.clone(),
            before: format!("{:.2}×", d.before),
            after: format!("{:.2}×", d.after),
        })
        .collect();
    let (cost, cost_note) = cost_rows(data, cost);
    let live = data
        .open
        .iter()
        .filter(|l| is_live(l))
        .map(|l| {
            let f = &l.finding;
            LiveRow {
                severity: f.severity.as_str(),
                class: class(f.severity),
                href: format!(
                    "services/{}.html",
                    slugs.get(f.service.as_str()).copied().unwrap_or("_")
                ),
                service: f.service.clone(),
                env: f.envs.join(", "),
                rule_href: format!("rules/{}.html", f.rule),
                rule: f.rule.to_string(),
                object: object(l),
                field: f.field.clone(),
                by: match (f.values.get("manager"), f.values.get("changed")) {
                    (Some(m), Some(t)) => format!("{m} at {t}"),
                    (Some(m), None) => m.clone(),
                    _ => String::new(),
                },
                since: day(l.opened.when()),
            }
        })
        .collect();
    IndexPage {
        root: "",
        title: "Overview".into(),
        footer: footer.into(),
        last: data.last.as_ref().map(|r| {
            let (commit, summary, author) = commit_cells(r);
            LastRun {
                time: minute(r.last_seen()),
                commit: if commit.is_empty() {
                    "(working tree)".into()
                } else {
                    commit
                },
                summary,
                author,
                outcome: r.outcome.as_str(),
            }
        }),
        totals: Totals {
            block: count(Severity::Block),
            warn: count(Severity::Warn),
            info: count(Severity::Info),
            services: data.services.len(),
        },
        trend: (!data.runs.is_empty()).then(|| "charts/trend.svg".to_string()),
        errors: data
            .last
            .iter()
            .flat_map(|r| {
                let fetch = r.fetch_error.iter().map(|e| ErrorRow {
                    at: "fetch".into(),
                    message: e.clone(),
                });
                let errs = r.errors.iter().map(|e| ErrorRow {
                    at: [e.service.as_deref(), e.env.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/"),
                    message: e.message.clone(),
                });
                fetch.chain(errs).collect::<Vec<_>>()
            })
            .collect(),
        rules: RuleId::scanned()
            .map(|r| RuleHead {
                id: r.as_str(),
                href: format!("rules/{}.html", r.as_str()),
            })
            .collect(),
        rows,
        drifting,
        live,
        cost,
        cost_note,
    }
}

/// The cost table: requested cores/GiB per environment (and their price), with the change since the run a
/// week before the last one.
fn cost_rows(data: &SiteData, cost: &Cost) -> (Vec<CostRow>, String) {
    if data.last.is_none() {
        return (Vec::new(), String::new());
    }
    let monthly = |(c, g): (f64, f64)| {
        data.options
            .prices
            .as_ref()
            .map(|p| (c * p.core_hour + g * p.gib_hour) * HOURS_PER_MONTH)
    };
    let currency = data
        .options
        .prices
        .as_ref()
        .map(|p| p.currency.clone())
        .unwrap_or_default();
    let env_order: Vec<String> = data
        .services
        .iter()
        .filter_map(|s| s.view.as_ref())
        .flat_map(|v| v.envs.iter().cloned())
        .fold(Vec::new(), |mut acc, e| {
            if !acc.contains(&e) {
                acc.push(e);
            }
            acc
        });
    let mut envs: Vec<&String> = cost.now.keys().collect();
    envs.sort_by_key(|e| {
        (
            env_order.iter().position(|x| x == *e).unwrap_or(usize::MAX),
            (*e).clone(),
        )
    });
    let rows = envs
        .into_iter()
        .map(|env| {
            let v = cost.now[env];
            let old = cost
                .before
                .as_ref()
                .map(|b| b.get(env).copied().unwrap_or_default());
            let change = match (old, monthly(v), old.and_then(monthly)) {
                (Some(_), Some(m), Some(o)) => format!("{:+.2} {currency}", m - o),
                (Some((oc, og)), None, _) => {
                    format!("{:+.2} cores, {:+.2} GiB", v.0 - oc, v.1 - og)
                }
                _ => "(no run a week earlier)".into(),
            };
            CostRow {
                env: env.clone(),
                cores: format!("{:.2}", v.0),
                gib: format!("{:.2}", v.1),
                monthly: monthly(v).map_or_else(|| "–".into(), |m| format!("{m:.2} {currency}")),
                change,
            }
        })
        .collect();
    let note = match &data.options.prices {
        Some(p) => format!(
            "Requests × replicas at the last run, priced at {} {} per core-hour and {} {} per GiB-hour, {} hours a month. Workloads without replicas (autoscaled) count once.",
            p.core_hour, p.currency, p.gib_hour, p.currency, HOURS_PER_MONTH
        ),
        None => "Requests × replicas at the last run. Set [report.prices] in config for a monthly estimate. Workloads without replicas (autoscaled) count once.".into(),
    };
    (rows, note)
}

fn trend_chart(data: &SiteData) -> Option<Chart> {
    if data.runs.is_empty() {
        return None;
    }
    let series = |label: &str, pick: fn(&crate::history::RunSummary) -> u64| Series {
        label: label.into(),
        // A run holds until its last confirmation (a later scan that found the same).
        points: data
            .runs
            .iter()
            .flat_map(|r| {
                let v = pick(r) as f64;
                std::iter::once((r.time, v)).chain(r.confirmed_at.map(|t| (t, v)))
            })
            .collect(),
    };
    Some(Chart {
        title: "Findings per run".into(),
        unit: Unit::Count,
        y_label: "findings".into(),
        series: vec![
            series("block", |r| r.block),
            series("warn", |r| r.warn),
            series("info", |r| r.info),
        ],
        thresholds: Vec::new(),
    })
}

fn changes_chart(data: &SiteData) -> Option<Chart> {
    if data.runs.is_empty() {
        return None;
    }
    let series = |label: &str, opened: bool| Series {
        label: label.into(),
        points: data
            .runs
            .iter()
            .map(|r| {
                let (o, c) = data.changes.get(&r.id).copied().unwrap_or_default();
                (r.time, if opened { o } else { c } as f64)
            })
            .collect(),
    };
    Some(Chart {
        title: "Findings opened and resolved per run".into(),
        unit: Unit::Count,
        y_label: "findings".into(),
        series: vec![series("opened", true), series("resolved", false)],
        thresholds: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------------- history

struct RunRow {
    time: String,
    kind: &'static str,
    commit: String,
    summary: String,
    author: String,
    outcome: &'static str,
    block: u64,
    warn: u64,
    info: u64,
    opened: u64,
    resolved: u64,
    errors: u64,
}

struct OldRow {
    age: String,
    severity: &'static str,
    class: &'static str,
    service: String,
    service_href: String,
    rule: String,
    rule_href: String,
    object: String,
    field: String,
    since: String,
    commit: String,
    author: String,
    resolved: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    root: &'static str,
    title: String,
    footer: String,
    chart: Option<String>,
    oldest: Vec<OldRow>,
    resolved: Vec<OldRow>,
    runs: Vec<RunRow>,
    runs_note: String,
}

const RUNS_SHOWN: usize = 400;

fn history_page(data: &SiteData, footer: &str) -> HistoryPage {
    let slugs: BTreeMap<&str, &str> = data
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.slug.as_str()))
        .collect();
    let row = |l: &Lifecycle| OldRow {
        age: age(l, data.now),
        severity: l.finding.severity.as_str(),
        class: class(l.finding.severity),
        service_href: format!(
            "services/{}.html",
            slugs
                .get(l.finding.service.as_str())
                .copied()
                .unwrap_or("_")
        ),
        service: l.finding.service.clone(),
        rule_href: format!("rules/{}.html", l.finding.rule),
        rule: l.finding.rule.to_string(),
        object: object(l),
        field: l.finding.field.clone(),
        since: day(l.opened.when()),
        commit: l
            .opened
            .commit
            .as_deref()
            .map(short)
            .unwrap_or_default()
            .to_string(),
        author: l.opened.author.clone().unwrap_or_default(),
        resolved: l
            .resolved
            .as_ref()
            .map(|r| {
                format!(
                    "{} {}",
                    day(r.when()),
                    r.commit.as_deref().map(short).unwrap_or_default()
                )
            })
            .unwrap_or_default(),
    };
    let oldest = data.open.iter().take(25).map(row).collect();
    let resolved = data.resolved.iter().rev().take(25).map(row).collect();
    let runs = data
        .runs
        .iter()
        .rev()
        .take(RUNS_SHOWN)
        .map(|r| {
            let (opened, resolved) = data.changes.get(&r.id).copied().unwrap_or_default();
            let (commit, summary, author) = commit_cells(r);
            RunRow {
                time: minute(r.time),
                kind: r.kind.as_str(),
                commit,
                summary,
                author,
                outcome: r.outcome.as_str(),
                block: r.block,
                warn: r.warn,
                info: r.info,
                opened,
                resolved,
                errors: r.error_count,
            }
        })
        .collect();
    HistoryPage {
        root: "",
        title: "History".into(),
        footer: footer.into(),
        chart: (!data.runs.is_empty()).then(|| "charts/changes.svg".to_string()),
        oldest,
        resolved,
        runs,
        runs_note: if data.runs.len() > RUNS_SHOWN {
            format!("The newest {RUNS_SHOWN} of {} runs.", data.runs.len())
        } else {
            format!("{} run(s), newest first.", data.runs.len())
        },
    }
}

/// A live-drift finding (Git against a cluster), shown in its own section.
fn is_live(l: &Lifecycle) -> bool {
    l.finding.rule.is_live()
}

fn age(l: &Lifecycle, now: DateTime<Utc>) -> String {
    match l.age_days(now) {
        0 => "today".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

fn object(l: &Lifecycle) -> String {
    let f = &l.finding;
    match &f.container {
        Some(c) => format!("{}/{} [{c}]", f.kind, f.name),
        None => format!("{}/{}", f.kind, f.name),
    }
}

// ---------------------------------------------------------------------------------------------- service

struct FindingRow {
    severity: &'static str,
    class: &'static str,
    rule: String,
    rule_href: String,
    object: String,
    field: String,
    message: String,
    values: Vec<(String, String)>,
    age: String,
    since: String,
    commit: String,
    author: String,
    files: Vec<String>,
}

struct SideCell {
    text: String,
    class: &'static str,
}

struct SideRow {
    label: String,
    class: &'static str,
    cells: Vec<SideCell>,
}

struct EnvNamesTable {
    container: String,
    total: usize,
    partial: usize,
    rows: Vec<SideRow>,
}

struct WorkloadTable {
    name: String,
    rows: Vec<SideRow>,
    env_names: Vec<EnvNamesTable>,
}

struct IngressTable {
    name: String,
    rows: Vec<SideRow>,
}

struct ChartRef {
    src: String,
    alt: String,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    root: &'static str,
    title: String,
    footer: String,
    name: String,
    checked: String,
    envs: Vec<String>,
    findings: Vec<FindingRow>,
    live: Vec<FindingRow>,
    workloads: Vec<WorkloadTable>,
    ingresses: Vec<IngressTable>,
    cost: Vec<CostRow>,
    cost_note: String,
    charts: Vec<ChartRef>,
}

fn service(
    data: &SiteData,
    s: &ServiceData,
    charts: Vec<ChartRef>,
    cost: &Cost,
    footer: &str,
) -> ServicePage {
    let row = |l: &Lifecycle| FindingRow {
        severity: l.finding.severity.as_str(),
        class: class(l.finding.severity),
        rule: l.finding.rule.to_string(),
        rule_href: format!("../rules/{}.html", l.finding.rule),
        object: object(l),
        field: l.finding.field.clone(),
        message: l.finding.message.clone(),
        values: l
            .finding
            .values
            .iter()
            .map(|(e, v)| (e.clone(), v.clone()))
            .collect(),
        age: age(l, data.now),
        since: day(l.opened.when()),
        commit: l
            .opened
            .commit
            .as_deref()
            .map(short)
            .unwrap_or_default()
            .to_string(),
        author: l.opened.author.clone().unwrap_or_default(),
        files: l
            .finding
            .files
            .iter()
            .map(|(e, f)| format!("{e}: {f}"))
            .collect(),
    };
    let (live, parity): (Vec<&Lifecycle>, Vec<&Lifecycle>) =
        s.open.iter().partition(|l| is_live(l));
    let findings = parity.into_iter().map(row).collect();
    let live = live.into_iter().map(row).collect();
    let (workloads, ingresses, envs) = match &s.view {
        Some(v) => (workload_tables(v), ingress_tables(v), v.envs.clone()),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let (cost, cost_note) = cost_rows(data, cost);
    ServicePage {
        root: "../",
        title: s.name.clone(),
        footer: footer.into(),
        name: s.name.clone(),
        checked: format!(
            "{} open finding(s) · environments {}",
            s.open.len(),
            if envs.is_empty() {
                "unknown".to_string()
            } else {
                envs.join(" → ")
            }
        ),
        envs,
        findings,
        live,
        workloads,
        ingresses,
        cost,
        cost_note,
        charts,
    }
}

/// A row of one value per environment; cells that differ from the reference (last) environment are marked.
fn side_row(label: String, envs: &[String], value: impl Fn(&str) -> Option<String>) -> SideRow {
    let values: Vec<Option<String>> = envs.iter().map(|e| value(e)).collect();
    let reference = values.last().cloned().flatten();
    let differs = values.iter().any(|v| *v != reference);
    SideRow {
        label,
        class: if differs { "differs" } else { "" },
        cells: values
            .into_iter()
            .map(|v| match v {
                Some(text) => SideCell {
                    class: if differs && Some(&text) != reference.as_ref() {
                        "diff"
                    } else {
                        ""
                    },
                    text,
                },
                None => SideCell {
                    text: "—".into(),
                    class: if differs { "missing" } else { "" },
                },
            })
            .collect(),
    }
}

fn workload_tables(v: &ServiceView) -> Vec<WorkloadTable> {
    v.workloads
        .iter()
        .map(|w| {
            let mut rows = vec![side_row("replicas".into(), &v.envs, |e| {
                w.replicas
                    .get(e)
                    .map(|r| r.map_or_else(|| "(not set)".into(), |n| n.to_string()))
            })];
            let mut env_names = Vec::new();
            for c in &w.containers {
                let prefix = if w.containers.len() > 1 || c.init {
                    format!("{}{} · ", c.name, if c.init { " (init)" } else { "" })
                } else {
                    String::new()
                };
                rows.push(side_row(format!("{prefix}image"), &v.envs, |e| {
                    c.per_env.get(e).and_then(|x| x.image.clone())
                }));
                let resources: std::collections::BTreeSet<&String> = c
                    .per_env
                    .values()
                    .flat_map(|x| x.requests.keys().chain(x.limits.keys()))
                    .collect();
                for r in resources {
                    rows.push(side_row(format!("{prefix}requests.{r}"), &v.envs, |e| {
                        c.per_env.get(e).and_then(|x| x.requests.get(r).cloned())
                    }));
                    rows.push(side_row(format!("{prefix}limits.{r}"), &v.envs, |e| {
                        c.per_env.get(e).and_then(|x| x.limits.get(r).cloned())
                    }));
                    rows.push(side_row(
                        format!("{prefix}request ÷ limit ({r})"),
                        &v.envs,
                        |e| c.per_env.get(e).and_then(|x| x.ratios.get(r).cloned()),
                    ));
                }
                let probes: std::collections::BTreeSet<&String> =
                    c.per_env.values().flat_map(|x| x.probes.keys()).collect();
                for p in probes {
                    rows.push(side_row(format!("{prefix}{p}"), &v.envs, |e| {
                        c.per_env.get(e).and_then(|x| x.probes.get(p).cloned())
                    }));
                }
                let partial = c.env_names.iter().filter(|n| n.partial).count();
                env_names.push(EnvNamesTable {
                    container: c.name.clone(),
                    total: c.env_names.len(),
                    partial,
                    rows: c
                        .env_names
                        .iter()
                        .map(|n| SideRow {
                            label: n.name.clone(),
                            class: if n.partial { "differs" } else { "" },
                            cells: v
                                .envs
                                .iter()
                                .map(|e| {
                                    if n.present.contains(e) {
                                        SideCell {
                                            text: "set".into(),
                                            class: "",
                                        }
                                    } else {
                                        SideCell {
                                            text: "missing".into(),
                                            class: if c.per_env.contains_key(e) {
                                                "missing"
                                            } else {
                                                ""
                                            },
                                        }
                                    }
                                })
                                .collect(),
                        })
                        .collect(),
                });
            }
            WorkloadTable {
                name: w.workload.clone(),
                rows,
                env_names,
            }
        })
        .collect()
}

fn ingress_tables(v: &ServiceView) -> Vec<IngressTable> {
    v.ingresses
        .iter()
        .map(|i| {
            let reference = v.envs.last().and_then(|e| i.routes.get(e));
            IngressTable {
                name: i.name.clone(),
                rows: v
                    .envs
                    .iter()
                    .map(|e| {
                        let routes = i.routes.get(e);
                        SideRow {
                            label: e.clone(),
                            class: if routes != reference { "differs" } else { "" },
                            cells: routes
                                .into_iter()
                                .flatten()
                                .map(|r| SideCell {
                                    text: r.clone(),
                                    class: "",
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Queues this service's charts; returns the references its page shows.
fn service_chart_jobs(
    s: &ServiceData,
    points: &[MetricPoint],
    jobs: &mut Vec<(String, Chart)>,
) -> Vec<ChartRef> {
    let env_order: Vec<String> = s.view.as_ref().map(|v| v.envs.clone()).unwrap_or_default();
    let mut refs = Vec::new();
    for c in service_charts::service_charts(&s.slug, &env_order, points) {
        refs.push(ChartRef {
            src: format!("../{}", c.path),
            alt: c.chart.title.clone(),
        });
        jobs.push((c.path, c.chart));
    }
    refs
}

// ---------------------------------------------------------------------------------------------- rules

struct RuleRow {
    id: &'static str,
    href: String,
    severity: &'static str,
    summary: &'static str,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    root: &'static str,
    title: String,
    footer: String,
    rules: Vec<RuleRow>,
}

fn rules_index(footer: &str) -> RulesPage {
    RulesPage {
        root: "../",
        title: "Rules".into(),
        footer: footer.into(),
        rules: RuleId::ALL
            .iter()
            .map(|r| RuleRow {
                id: r.as_str(),
                href: format!("{}.html", r.as_str()),
                severity: r.default_severity().as_str(),
                summary: r.summary(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RulePage {
    root: &'static str,
    title: String,
    footer: String,
    severity: &'static str,
    threshold: String,
    /// The rule's own documentation (trusted: compiled into envparity), as HTML.
    doc: String,
}

fn rule_page(rule: RuleId, footer: &str) -> RulePage {
    let mut doc = String::new();
    pulldown_cmark::html::push_html(&mut doc, pulldown_cmark::Parser::new(rule.doc()));
    RulePage {
        root: "../",
        title: rule.to_string(),
        footer: footer.into(),
        severity: rule.default_severity().as_str(),
        threshold: rule
            .default_threshold()
            .map(|t| format!(" · default threshold {t}"))
            .unwrap_or_default(),
        doc,
    }
}

// ---------------------------------------------------------------------------------------------- data

/// `data/latest.json`: the `check` JSON contract for the newest run, plus history fields per finding.
fn latest_json(data: &SiteData) -> Result<Vec<u8>, ReportError> {
    let findings: Vec<serde_json::Value> = data
        .open
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(&l.finding).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "first_seen".into(),
                    serde_json::json!({
                        "commit": l.opened.commit,
                        "time": l.opened.when().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "author": l.opened.author,
                    }),
                );
                obj.insert("age_days".into(), serde_json::json!(l.age_days(data.now)));
            }
            v
        })
        .collect();
    let summary = crate::finding::Summary::of(
        &data
            .open
            .iter()
            .map(|l| l.finding.clone())
            .collect::<Vec<_>>(),
    );
    let last = data.last.as_ref();
    let v = serde_json::json!({
        "version": 1,
        "commit": last.and_then(|r| r.commit.as_ref()).map(|c| c.id.clone()),
        "findings": findings,
        "errors": last.map(|r| r.errors.clone()).unwrap_or_default(),
        "summary": summary,
        "run": last.map(|r| serde_json::json!({
            "id": r.id,
            "time": r.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "confirmed_at": r.confirmed_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "repeats": r.repeats,
            "outcome": r.outcome.as_str(),
            "fetch_error": r.fetch_error,
        })),
    });
    let mut bytes = serde_json::to_vec_pretty(&v).map_err(|source| ReportError::Json {
        what: "data/latest.json",
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
