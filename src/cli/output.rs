//! Output renderers: text (grouped by service, values side by side, colour on a terminal only), JSON (the
//! DESIGN.md contract), SARIF 2.1.0, GitHub Actions annotations and a Markdown pull-request comment
//! ([`super::markdown`]). All of them render the same [`Report`]; none of them computes anything.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde_json::json;

use super::Format;
use crate::discover::Discovery;
use crate::finding::{Finding, Severity};
use crate::input::Reader;
use crate::pipeline::{Report, Status};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Block => AnsiColor::Red.on_default().bold(),
        Severity::Warn => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default(),
    }
}

/// Prints a check report in `format` on stdout; `repo` reads the checked tree (for SARIF line numbers).
pub fn print_report(report: &Report, format: Format, repo: &Reader) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    match format {
        Format::Text => write_text(&mut out, report),
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &sarif(report, repo))?;
            writeln!(out)
        }
        Format::Github => write_github(&mut out, report),
        Format::Markdown => out.write_all(
            super::markdown::render(&super::markdown::Comment::of_report(report)).as_bytes(),
        ),
    }
}

fn write_text(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let mut current: Option<&str> = None;
    for f in &report.findings {
        if current != Some(f.service.as_str()) {
            if current.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{BOLD}{}{BOLD:#}", f.service)?;
            current = Some(&f.service);
        }
        let sev = severity_style(f.severity);
        let container = f
            .container
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {sev}{:<5}{sev:#} {BOLD}{}{BOLD:#}  {}/{}{container} {DIM}{}{DIM:#}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.kind,
            f.name,
            f.field
        )?;
        writeln!(out, "        {}", f.message)?;
        write_values(out, f)?;
    }
    if !report.suppressed.is_empty() {
        writeln!(out)?;
        writeln!(out, "{DIM}hidden by exceptions:{DIM:#}")?;
        for s in &report.suppressed {
            writeln!(
                out,
                "  {DIM}{} {} {}/{} — {} (until {}){DIM:#}",
                s.finding.service,
                s.finding.rule,
                s.finding.kind,
                s.finding.name,
                s.reason,
                s.expires
            )?;
        }
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
        let red = AnsiColor::Red.on_default().bold();
        writeln!(out, "{red}could not check:{red:#}")?;
        for e in &report.errors {
            let at = match (&e.service, &e.env) {
                (Some(s), Some(env)) => format!("{s}/{env}: "),
                (Some(s), None) => format!("{s}: "),
                (None, Some(env)) => format!("{env}: "),
                (None, None) => String::new(),
            };
            writeln!(out, "  {at}{}", e.message)?;
        }
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    let s = report.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} block, {} warn, {} info — {} service(s) × {} environment(s) [{}]{}",
        s.block,
        s.warn,
        s.info,
        report.services.len(),
        report.envs.len(),
        report.envs.join(" → "),
        if report.errors.is_empty() {
            String::new()
        } else {
            format!(", {} could not be checked", report.errors.len())
        }
    )
}

/// Values side by side when they fit on a line, else one environment per line; the responsible file after.
fn write_values(out: &mut impl Write, f: &Finding) -> std::io::Result<()> {
    let cells: Vec<String> = f.values.iter().map(|(e, v)| format!("{e}: {v}")).collect();
    let width: usize = cells.iter().map(|c| c.chars().count() + 3).sum();
    if width <= 100 {
        writeln!(out, "        {}", cells.join(" │ "))?;
    } else {
        let pad = f
            .values
            .keys()
            .map(|e| e.chars().count())
            .max()
            .unwrap_or(0);
        for (env, value) in &f.values {
            writeln!(out, "        {env:<pad$}  {value}")?;
        }
    }
    for (env, file) in &f.files {
        writeln!(out, "        {DIM}{env}: {file}{DIM:#}")?;
    }
    Ok(())
}

/// One finding on one line: `BLOCK [  12d] service rule Kind/name field` (the age when given).
fn headline(f: &Finding, age_days: Option<i64>) -> String {
    let age = age_days.map(|d| format!(" {d:>4}d ")).unwrap_or_default();
    format!(
        "{:<5}{age} {} {} {}/{} {}",
        f.severity.as_str().to_uppercase(),
        f.service,
        f.rule,
        f.kind,
        f.name,
        f.field
    )
}

/// Escapes a GitHub workflow-command value (`%`, CR, LF; and `,`/`:` in properties).
fn gh_escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

fn write_github(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    for f in &report.findings {
        let level = match f.severity {
            Severity::Block => "error",
            Severity::Warn => "warning",
            Severity::Info => "notice",
        };
        let file = f
            .files
            .values()
            .next()
            .map(|p| format!("file={},", gh_escape(p, true)))
            .unwrap_or_default();
        let values: Vec<String> = f.values.iter().map(|(e, v)| format!("{e}: {v}")).collect();
        writeln!(
            out,
            "::{level} {file}title={}::{}",
            gh_escape(&format!("envparity {} ({})", f.rule, f.service), true),
            gh_escape(&format!("{}\n{}", f.message, values.join("\n")), false)
        )?;
    }
    for e in &report.errors {
        let at = [e.service.as_deref(), e.env.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        writeln!(
            out,
            "::error title={}::{}",
            gh_escape(&format!("envparity could not check {at}"), true),
            gh_escape(&e.message, false)
        )?;
    }
    let s = report.summary;
    writeln!(
        out,
        "envparity: {} block, {} warn, {} info, {} error(s)",
        s.block,
        s.warn,
        s.info,
        report.errors.len()
    )
}

fn sarif(report: &Report, repo: &Reader) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = crate::codes::RuleId::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r,
                "shortDescription": {"text": r.summary()},
                "help": {"text": r.doc(), "markdown": r.doc()},
                "defaultConfiguration": {"level": sarif_level(r.default_severity())},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let locations: Vec<serde_json::Value> = f
                .files
                .values()
                .map(|file| {
                    json!({"physicalLocation": {
                        "artifactLocation": {"uri": file},
                        "region": {"startLine": line_of(repo, file, &f.field)},
                    }})
                })
                .collect();
            let values: Vec<String> = f.values.iter().map(|(e, v)| format!("{e}: {v}")).collect();
            json!({
                "ruleId": f.rule,
                "level": sarif_level(f.severity),
                "message": {"text": format!("{} ({}: {}/{}) — {}", f.message, f.service, f.kind, f.name, values.join("; "))},
                "locations": locations,
                "partialFingerprints": {"envparity/v1": f.fingerprint},
            })
        })
        .collect();
    // What could not be checked: the run did not succeed, and each error is a notification of the tool's
    // execution (code scanning shows them as tool errors), so an overlay that failed to render is not
    // silently missing from the results.
    let notifications: Vec<serde_json::Value> = report
        .errors
        .iter()
        .map(|e| {
            let at = match (&e.service, &e.env) {
                (Some(s), Some(env)) => format!("{s}/{env}: "),
                (Some(s), None) => format!("{s}: "),
                (None, Some(env)) => format!("{env}: "),
                (None, None) => String::new(),
            };
            json!({
                "level": "error",
                "message": {"text": format!("{at}{}", e.message)},
                "descriptor": {"id": e.kind},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "envparity",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    })
}

/// The first line of `file` mentioning the field's last word, else 1 (SARIF consumers need a line, and a
/// file the bounded reader refuses has an error of its own in the report).
fn line_of(repo: &Reader, file: &str, field: &str) -> usize {
    let words = crate::finding::field_words(field);
    repo.read_to_string(&repo.root().join(file))
        .ok()
        .and_then(|t| t.lines().position(|l| words.iter().any(|w| l.contains(w))))
        .map_or(1, |i| i + 1)
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Block => "error",
        Severity::Warn => "warning",
        Severity::Info => "note",
    }
}

/// Prints what discovery found.
pub fn print_discovery(d: &Discovery, format: Format) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    if format == Format::Json {
        let services: Vec<serde_json::Value> = d
            .services
            .iter()
            .map(|s| json!({"name": s.name, "base": s.base, "overlays": s.overlays, "reasons": s.reasons}))
            .collect();
        let problems: Vec<&str> = d.problems.iter().map(|p| p.message.as_str()).collect();
        let left_out: Vec<serde_json::Value> = d
            .left_out
            .iter()
            .map(|(dir, reason)| json!({"dir": dir, "reason": reason}))
            .collect();
        let tiers: Vec<serde_json::Value> = d
            .tiers
            .iter()
            .map(|t| json!({"name": t.name, "envs": t.envs, "reference": t.reference()}))
            .collect();
        let v = json!({"layouts": d.layouts, "environments": d.envs, "order": d.order_source,
            "tiers": tiers, "kustomizations": d.kustomizations, "roots": d.roots,
            "services": services, "excluded": d.excluded, "left_out": left_out, "problems": problems});
        serde_json::to_writer_pretty(&mut out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{BOLD}layout{BOLD:#}        {}", d.layouts.join(", "))?;
    let chain: Vec<String> = d.tiers.iter().map(|t| t.envs.join(", ")).collect();
    writeln!(
        out,
        "{BOLD}environments{BOLD:#}  {} ({}; the reference is {})",
        chain.join(" → "),
        match d.order_source {
            crate::discover::OrderSource::Configured => "order from config",
            crate::discover::OrderSource::Tiers => "tiers from config",
            crate::discover::OrderSource::Inferred =>
                "order inferred from the names: set `environments.order` or `environments.tiers` if it is wrong",
        },
        d.envs.last().map_or("nothing", String::as_str)
    )?;
    // Each tier and its peers: only limits and ratios must match between peers, and `limit-inversion`
    // and `limit-scale` compare tiers, so which environments are peers matters.
    let width = d.tiers.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for (i, t) in d.tiers.iter().enumerate() {
        let label = if i == 0 { "tiers" } else { "" };
        let envs = match t.envs.as_slice() {
            [one] => one.clone(),
            [reference, peers @ ..] => {
                format!("{reference} (reference peer), {}", peers.join(", "))
            }
            [] => String::new(),
        };
        writeln!(out, "{BOLD}{label:<13}{BOLD:#} {:<width$}  {envs}", t.name)?;
    }
    writeln!(out, "{BOLD}services{BOLD:#}      {}", d.services.len())?;
    for s in &d.services {
        let base = s
            .base
            .as_ref()
            .map_or_else(|| "(no base)".into(), |b| b.display().to_string());
        writeln!(out, "  {BOLD}{}{BOLD:#}  base: {base}", s.name)?;
        for (env, dir) in &s.overlays {
            let reason = s.reasons.get(env).map(String::as_str).unwrap_or("");
            writeln!(
                out,
                "    {env:<12} {:<40} {DIM}{reason}{DIM:#}",
                dir.display()
            )?;
        }
    }
    for (dir, reason) in &d.left_out {
        writeln!(out, "left out      {} ({reason})", dir.display())?;
    }
    for dir in &d.excluded {
        writeln!(out, "excluded      {} (layout.exclude)", dir.display())?;
    }
    for p in &d.problems {
        writeln!(out, "problem: {}", p.message)?;
    }
    Ok(())
}

/// Prints the rule table.
pub fn print_rules() {
    let mut out = anstream::stdout().lock();
    for r in crate::codes::RuleId::ALL {
        let sev = severity_style(r.default_severity());
        let threshold = r
            .default_threshold()
            .map(|t| format!(" (threshold {t})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{BOLD}{:<22}{BOLD:#} {sev}{:<5}{sev:#}  {}{threshold}",
            r.as_str(),
            r.default_severity(),
            r.summary()
        );
    }
}

/// Prints a rule's documentation.
pub fn print_explain(rule: crate::codes::RuleId) {
    let mut out = anstream::stdout().lock();
    let _ = writeln!(
        out,
        "{}\ndefault severity: {}{}\n",
        rule.doc().trim_end(),
        rule.default_severity(),
        rule.default_threshold()
            .map(|t| format!(", threshold {t}"))
            .unwrap_or_default()
    );
}

/// `first_seen` and `age_days` of an open finding, from its lifecycle.
fn blame(l: &crate::history::Lifecycle, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    json!({
        "first_seen": {
            "commit": l.opened.commit,
            "time": l.opened.when().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "author": l.opened.author,
        },
        "age_days": l.age_days(now),
    })
}

/// Prints the ratchet gate: new findings first, then those already present at the base; `repo` reads the
/// checked tree (for SARIF line numbers).
pub fn print_gate(
    gate: &crate::pipeline::Gate,
    format: Format,
    repo: &Reader,
) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    let report = &gate.report;
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(report).map_err(std::io::Error::other)?;
            if let Some(findings) = v
                .get_mut("findings")
                .and_then(serde_json::Value::as_array_mut)
            {
                for (f, value) in report.findings.iter().zip(findings.iter_mut()) {
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("new".into(), json!(gate.is_new(f)));
                    }
                }
            }
            if let Some(obj) = v.as_object_mut() {
                obj.insert("base".into(), json!(gate.base.id));
            }
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)
        }
        Format::Sarif => {
            let mut v = sarif(report, repo);
            if let Some(results) = v
                .pointer_mut("/runs/0/results")
                .and_then(serde_json::Value::as_array_mut)
            {
                for (f, r) in report.findings.iter().zip(results.iter_mut()) {
                    if let Some(obj) = r.as_object_mut() {
                        let state = if gate.is_new(f) { "new" } else { "unchanged" };
                        obj.insert("baselineState".into(), json!(state));
                    }
                }
            }
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)
        }
        Format::Github => {
            let new = Report {
                findings: report
                    .findings
                    .iter()
                    .filter(|f| gate.is_new(f))
                    .cloned()
                    .collect(),
                ..report.clone()
            };
            write_github(&mut out, &new)?;
            let present = report.findings.len() - new.findings.len();
            writeln!(
                out,
                "envparity: {present} finding(s) already present at {} (not annotated)",
                crate::source::short(&gate.base.id)
            )
        }
        Format::Markdown => out.write_all(
            super::markdown::render(&super::markdown::Comment::of_gate(gate)).as_bytes(),
        ),
        Format::Text => {
            let (new, present): (Vec<Finding>, Vec<Finding>) = report
                .findings
                .iter()
                .cloned()
                .partition(|f| gate.is_new(f));
            let new_report = Report {
                summary: crate::finding::Summary::of(&new),
                findings: new,
                ..report.clone()
            };
            writeln!(
                out,
                "{BOLD}new in this change{BOLD:#} (against {} {})",
                crate::source::short(&gate.base.id),
                gate.base.summary
            )?;
            write_text(&mut out, &new_report)?;
            if !present.is_empty() {
                writeln!(out)?;
                writeln!(
                    out,
                    "{DIM}already present at the base ({}), not failing this change:{DIM:#}",
                    present.len()
                )?;
                for f in &present {
                    writeln!(out, "  {DIM}{}{DIM:#}", headline(f, None))?;
                }
            }
            Ok(())
        }
    }
}

/// Prints what a scan did: one line (and the findings with `--verbose`), or JSON with age and blame.
pub fn print_scan(
    outcome: &crate::pipeline::ScanOutcome,
    format: Format,
    verbose: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    let report = &outcome.report;
    let lifecycles: std::collections::HashMap<&str, &crate::history::Lifecycle> = outcome
        .open
        .iter()
        .map(|l| (l.finding.fingerprint.as_str(), l))
        .collect();
    if format == Format::Json {
        let mut v = serde_json::to_value(report).map_err(std::io::Error::other)?;
        if let Some(findings) = v
            .get_mut("findings")
            .and_then(serde_json::Value::as_array_mut)
        {
            for value in findings.iter_mut() {
                let fp = value
                    .get("fingerprint")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                let extra = lifecycles.get(fp).map(|l| blame(l, now));
                if let (Some(obj), Some(serde_json::Value::Object(extra))) =
                    (value.as_object_mut(), extra)
                {
                    obj.extend(extra);
                }
            }
        }
        if let Some(obj) = v.as_object_mut() {
            obj.insert("run".into(), json!(outcome.run));
            obj.insert("unchanged".into(), json!(outcome.confirmed));
            obj.insert(
                "fetch_error".into(),
                json!(outcome.fetch_error.as_ref().map(|e| e.to_string())),
            );
        }
        serde_json::to_writer_pretty(&mut out, &v)?;
        return writeln!(out);
    }
    if verbose {
        write_text(&mut out, report)?;
    }
    let s = report.summary;
    let at = outcome
        .commit
        .as_ref()
        .map(|c| format!("{} ({})", crate::source::short(&c.id), c.summary))
        .unwrap_or_else(|| "working tree".into());
    writeln!(
        out,
        "scan #{}{} of {at}: {} block, {} warn, {} info; {} opened, {} resolved{}{}",
        outcome.run,
        if outcome.confirmed {
            " (unchanged)"
        } else {
            ""
        },
        s.block,
        s.warn,
        s.info,
        outcome.opened,
        outcome.resolved,
        if report.errors.is_empty() {
            String::new()
        } else {
            format!("; {} could not be checked", report.errors.len())
        },
        outcome
            .fetch_error
            .as_ref()
            .map(|e| format!("; fetch failed, scanned the last fetched commit: {e}"))
            .unwrap_or_default()
    )
}

/// Prints what a backfill did.
pub fn print_backfill(outcome: &crate::pipeline::BackfillOutcome, state: &crate::pipeline::State) {
    let mut out = anstream::stdout().lock();
    let _ = writeln!(
        out,
        "backfill: {} commit(s) walked, {} recorded, {} already in history; {} overlay render(s) (rendering every overlay at every recorded commit: {}); history: {}",
        outcome.commits,
        outcome.recorded,
        outcome.skipped,
        outcome.renders,
        outcome.naive_renders,
        state.history().display()
    );
    if let Some(e) = &outcome.fetch_error {
        let _ = writeln!(
            out,
            "warning: fetch failed, walked the last fetched history: {e}"
        );
    }
}

/// How many job runs `history --jobs` shows.
const JOB_RUNS_SHOWN: usize = 30;

/// `history --jobs`: the daemon's newest job runs, newest first.
pub fn print_job_runs(history: &crate::history::History, format: Format) -> std::io::Result<()> {
    use crate::history::JobOutcome;
    let mut out = anstream::stdout().lock();
    let runs = history
        .job_runs(None, JOB_RUNS_SHOWN)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &runs)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{BOLD}daemon job runs{BOLD:#} ({}), newest first",
        runs.len()
    )?;
    for r in &runs {
        let (style, outcome) = match r.outcome {
            JobOutcome::Ok => (anstyle::AnsiColor::Green.on_default(), "ok".to_string()),
            JobOutcome::Failed | JobOutcome::Panicked => (
                anstyle::AnsiColor::Red.on_default(),
                format!(
                    "{} ({})",
                    r.outcome.as_str(),
                    r.failure.as_deref().unwrap_or("?")
                ),
            ),
        };
        let seconds = (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0;
        let detail = match (&r.error, r.run) {
            (Some(e), _) => e.clone(),
            (None, Some(run)) => format!("run {run}"),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "  {}  {:<6}  {style}{outcome:<16}{style:#}  {seconds:>6.1} s  {detail}",
            r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
            r.job,
        )?;
    }
    Ok(())
}

/// Prints open findings with age and blame, recently resolved ones and, for one service, its limit ratios.
pub fn print_history(
    history: &crate::history::History,
    service: Option<&str>,
    format: Format,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    let err = |e: crate::history::HistoryError| std::io::Error::other(e.to_string());
    let open = history.open_findings(service).map_err(err)?;
    let resolved = history
        .resolved_since(now - chrono::Duration::days(30), service)
        .map_err(err)?;
    let series = match service {
        Some(s) => history
            .metric_series(s, Some(crate::metrics::MetricKind::LimitRatio))
            .map_err(err)?,
        None => Vec::new(),
    };
    if format == Format::Json {
        let lifecycle = |l: &crate::history::Lifecycle| {
            let mut v = serde_json::to_value(&l.finding).unwrap_or_default();
            if let (Some(obj), serde_json::Value::Object(extra)) =
                (v.as_object_mut(), blame(l, now))
            {
                obj.extend(extra);
                obj.insert(
                    "resolved".into(),
                    json!(l.resolved.as_ref().map(|r| json!({"commit": r.commit, "time": r.when().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}))),
                );
            }
            v
        };
        let points: Vec<serde_json::Value> = series
            .iter()
            .map(|p| {
                json!({"time": p.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "commit": p.commit,
                    "workload": p.metric.workload, "container": p.metric.container, "resource": p.metric.resource,
                    "env": p.metric.env, "reference": p.metric.other_env, "ratio": p.metric.value})
            })
            .collect();
        let v = json!({
            "open": open.iter().map(lifecycle).collect::<Vec<_>>(),
            "resolved": resolved.iter().map(lifecycle).collect::<Vec<_>>(),
            "ratios": points,
        });
        serde_json::to_writer_pretty(&mut out, &v)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{BOLD}open findings{BOLD:#} ({}), oldest first",
        open.len()
    )?;
    for l in &open {
        let f = &l.finding;
        let sev = severity_style(f.severity);
        let line = headline(f, Some(l.age_days(now)));
        let (severity, rest) = line.split_at(5);
        writeln!(out, "  {sev}{severity}{sev:#}{rest}")?;
        writeln!(
            out,
            "        {DIM}since {} in {} by {}{DIM:#}",
            l.opened.when().format("%Y-%m-%d %H:%M"),
            l.opened
                .commit
                .as_deref()
                .map(crate::cli::short)
                .unwrap_or("(no commit)"),
            l.opened.author.as_deref().unwrap_or("unknown")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{BOLD}resolved in the last 30 days{BOLD:#} ({})",
        resolved.len()
    )?;
    for l in &resolved {
        let f = &l.finding;
        let when = l
            .resolved
            .as_ref()
            .map(|r| {
                format!(
                    "{} in {}",
                    r.when().format("%Y-%m-%d"),
                    r.commit.as_deref().map(crate::cli::short).unwrap_or("-")
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} {}/{} {} — resolved {when}",
            f.service, f.rule, f.kind, f.name, f.field
        )?;
    }
    if let Some(service) = service {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}limit ratios of {service}{BOLD:#} (each environment ÷ the reference)"
        )?;
        let mut by_series: indexmap::IndexMap<String, Vec<&crate::history::MetricPoint>> =
            indexmap::IndexMap::new();
        for p in &series {
            let m = &p.metric;
            let label = format!(
                "{} [{}] {}: {} ÷ {}",
                m.workload,
                m.container.as_deref().unwrap_or("-"),
                m.resource,
                m.env,
                m.other_env.as_deref().unwrap_or("?")
            );
            by_series.entry(label).or_default().push(p);
        }
        for (label, points) in by_series {
            writeln!(out, "  {label}")?;
            for p in points {
                writeln!(
                    out,
                    "    {}  {:>6.2}  {}",
                    p.time.format("%Y-%m-%d %H:%M"),
                    p.metric.value,
                    p.commit.as_deref().map(crate::cli::short).unwrap_or("")
                )?;
            }
        }
    }
    Ok(())
}

/// Who a digest went to (stdout) and who refused it (stderr).
fn print_delivery(
    period: &crate::notify::Period,
    subject: &str,
    delivery: &crate::notify::Delivery,
) {
    println!(
        "digest {}: \"{subject}\" sent to {} ({})",
        period.label(),
        delivery.accepted.join(", "),
        delivery.message_id
    );
    for r in &delivery.rejected {
        eprintln!("warning: {} was not accepted: {}", r.address, r.error);
    }
}

/// Prints what `envparity digest` did with `period`'s digest (the message itself, with `--dry-run`: into
/// `out`, else to stdout).
pub fn print_digest(
    period: &crate::notify::Period,
    outcome: crate::notify::RunOutcome,
    out: Option<&std::path::Path>,
) -> anyhow::Result<Status> {
    use crate::notify::RunOutcome;
    match outcome {
        RunOutcome::AlreadySent(sent) => {
            println!(
                "digest {}: already sent {} to {} ({}); --force sends it again",
                period.label(),
                sent.time.format("%Y-%m-%d %H:%M UTC"),
                sent.recipients.join(", "),
                sent.message_id
            );
            Ok(Status::Ok)
        }
        RunOutcome::NothingScanned => {
            println!(
                "digest {}: nothing was scanned up to the end of the period, nothing sent (--force sends anyway)",
                period.label()
            );
            Ok(Status::Ok)
        }
        RunOutcome::Quiet => {
            println!(
                "digest {}: all quiet, nothing sent (digest.send_when_quiet = false)",
                period.label()
            );
            Ok(Status::Ok)
        }
        RunOutcome::DryRun { subject, eml } => {
            match out {
                Some(path) => {
                    std::fs::write(path, &eml)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    eprintln!(
                        "digest {}: \"{subject}\" written to {} (not sent)",
                        period.label(),
                        path.display()
                    );
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&eml)?;
                }
            }
            Ok(Status::Ok)
        }
        RunOutcome::Sent { subject, delivery } => {
            print_delivery(period, &subject, &delivery);
            Ok(Status::Ok)
        }
        RunOutcome::Partial {
            subject,
            delivery,
            error,
        } => {
            print_delivery(period, &subject, &delivery);
            eprintln!(
                "error: digest {} not sent to everyone (recorded; the next run sends the rest, with the same Message-ID): {error}",
                period.label()
            );
            Ok(Status::Failed)
        }
        RunOutcome::Failed { error } => {
            eprintln!(
                "error: digest {} not sent (recorded; the next run retries): {error}",
                period.label()
            );
            Ok(Status::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(gh_escape("a,b:c%\nd", true), "a%2Cb%3Ac%25%0Ad");
        assert_eq!(gh_escape("a,b:c", false), "a,b:c");
    }
}
