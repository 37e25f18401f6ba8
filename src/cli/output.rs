//! Output renderers: text (grouped by service, values side by side, colour on a terminal only), JSON (the
//! DESIGN.md contract), SARIF 2.1.0 and GitHub Actions annotations. All of them render the same
//! [`Report`]; none of them computes anything.

use std::io::Write;
use std::path::Path;

use anstyle::{AnsiColor, Style};
use serde_json::json;

use super::Format;
use crate::discover::Discovery;
use crate::engine::Report;
use crate::finding::{Finding, Severity};
use crate::rules::{RULES, Rule};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Block => AnsiColor::Red.on_default().bold(),
        Severity::Warn => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default(),
    }
}

/// Prints a check report in `format` on stdout.
pub fn print_report(report: &Report, format: Format, root: &Path) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    match format {
        Format::Text => write_text(&mut out, report),
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &sarif(report, root))?;
            writeln!(out)
        }
        Format::Github => write_github(&mut out, report),
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

fn sarif(report: &Report, root: &Path) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
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
                        "region": {"startLine": line_of(root, file, &f.field)},
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
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "envparity",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// The first line of `file` mentioning the field's last word, else 1 (SARIF consumers need a line).
fn line_of(root: &Path, file: &str, field: &str) -> usize {
    let words = crate::finding::field_words(field);
    std::fs::read_to_string(root.join(file))
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
            .map(|s| json!({"name": s.name, "base": s.base, "overlays": s.overlays}))
            .collect();
        let problems: Vec<&str> = d.problems.iter().map(|p| p.message.as_str()).collect();
        let v = json!({"layouts": d.layouts, "environments": d.envs, "order": d.order_source,
            "services": services, "problems": problems});
        serde_json::to_writer_pretty(&mut out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{BOLD}layout{BOLD:#}        {}", d.layouts.join(", "))?;
    writeln!(
        out,
        "{BOLD}environments{BOLD:#}  {} ({}; the last is the reference)",
        d.envs.join(" → "),
        match d.order_source {
            crate::discover::OrderSource::Configured => "order from config",
            crate::discover::OrderSource::Inferred =>
                "order inferred from the names: set `environments.order` if it is wrong",
        }
    )?;
    writeln!(out, "{BOLD}services{BOLD:#}      {}", d.services.len())?;
    for s in &d.services {
        let base = s
            .base
            .as_ref()
            .map_or_else(|| "(no base)".into(), |b| b.display().to_string());
        writeln!(out, "  {BOLD}{}{BOLD:#}  base: {base}", s.name)?;
        for (env, dir) in &s.overlays {
            writeln!(out, "    {env:<12} {}", dir.display())?;
        }
    }
    for p in &d.problems {
        writeln!(out, "problem: {}", p.message)?;
    }
    Ok(())
}

/// Prints the rule table.
pub fn print_rules() {
    let mut out = anstream::stdout().lock();
    for r in RULES {
        let sev = severity_style(r.default_severity());
        let threshold = r
            .default_threshold()
            .map(|t| format!(" (threshold {t})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{BOLD}{:<22}{BOLD:#} {sev}{:<5}{sev:#}  {}{threshold}",
            r.id(),
            r.default_severity(),
            r.summary()
        );
    }
}

/// Prints a rule's documentation.
pub fn print_explain(rule: &dyn Rule) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(gh_escape("a,b:c%\nd", true), "a%2Cb%3Ac%25%0Ad");
        assert_eq!(gh_escape("a,b:c", false), "a,b:c");
    }
}
