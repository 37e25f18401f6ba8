//! The `policy-change` rule (DESIGN.md, "Untrusted input": policy in the repo is code, reviewed like code).
//!
//! `check --base` checks the change's tree with the change's config and again with the base commit's config.
//! Every finding the base's config reports that the change's config hides (an exception, a rule turned off,
//! a threshold raised, a path excluded — whatever key does it) or lowers becomes a finding of its own. Its
//! severity comes from the base's config, default `warn`; a finding that is new in the change and that the
//! base's config blocks stays blocking, so a change cannot grant its own new break an exception.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::Report;
use crate::codes::{RuleId, Severity};
use crate::config::Config;
use crate::finding::{Finding, fingerprint};
use crate::rules::policy::{Policy, Suppressed};

/// The findings `under_base` (the change's tree, the base's config) has that `under_change` (the same tree,
/// the change's config) hides or lowers, as `policy-change` findings, in `under_base`'s order.
/// `new_in_change` tells whether a finding is absent from the base's own tree (checked with the base's
/// config). Services the change could not fully check are left out: their findings may be missing only
/// because they were not read (and the gate fails on those errors anyway).
pub fn policy_changes(
    base: &Config,
    change: &Config,
    under_base: &Report,
    under_change: &Report,
    new_in_change: &dyn Fn(&Finding) -> bool,
    today: NaiveDate,
) -> Vec<Finding> {
    let shown: BTreeMap<&str, &Finding> = under_change
        .findings
        .iter()
        .map(|f| (f.fingerprint.as_str(), f))
        .collect();
    let hidden: BTreeMap<&str, &Suppressed> = under_change
        .suppressed
        .iter()
        .map(|s| (s.finding.fingerprint.as_str(), s))
        .collect();
    let unchecked: BTreeSet<Option<&str>> = under_change
        .errors
        .iter()
        .map(|e| e.service.as_deref())
        .collect();
    let base_policy = Policy::new(base, today);
    let change_policy = Policy::new(change, today);
    let mut out = Vec::new();
    for f in &under_base.findings {
        if unchecked.contains(&None) || unchecked.contains(&Some(f.service.as_str())) {
            continue;
        }
        let why = match shown.get(f.fingerprint.as_str()) {
            Some(now) if now.severity >= f.severity => continue,
            Some(now) => format!(
                "the change's config lowers it from {} to {}",
                f.severity, now.severity
            ),
            None => match hidden.get(f.fingerprint.as_str()) {
                Some(s) => format!(
                    "an exception in the change's config hides it (until {}: {})",
                    s.expires,
                    crate::redact::bound(&s.reason)
                ),
                None => hidden_by(&base_policy, &change_policy, under_change, f),
            },
        };
        let Some((mut severity, _)) = base_policy.settings(RuleId::PolicyChange, &f.service) else {
            continue;
        };
        let own_break = new_in_change(f) && f.severity == Severity::Block;
        if own_break {
            severity = Severity::Block;
        }
        let rule = RuleId::PolicyChange;
        out.push(Finding {
            rule,
            severity,
            service: f.service.clone(),
            kind: f.kind.clone(),
            name: f.name.clone(),
            container: f.container.clone(),
            envs: f.envs.clone(),
            field: f.field.clone(),
            values: f.values.clone(),
            message: format!(
                "{}{}: the base's config reports `{}` ({}): {}",
                why,
                if own_break {
                    ", on a finding this change introduces"
                } else {
                    ""
                },
                f.rule,
                f.severity,
                f.message
            ),
            fingerprint: fingerprint(
                rule.as_str(),
                &f.service,
                &f.kind,
                &f.name,
                f.container.as_deref(),
                &f.fingerprint,
            ),
            files: f.files.clone(),
        });
    }
    out
}

/// Which key of the change's config hides `f`, as far as the two checks tell: the rule's own settings, a
/// service or an environment the change no longer checks; other keys are named together.
fn hidden_by(base: &Policy<'_>, change: &Policy<'_>, under_change: &Report, f: &Finding) -> String {
    let left_out: Vec<&str> = f
        .envs
        .iter()
        .filter(|e| !under_change.envs.contains(e))
        .map(String::as_str)
        .collect();
    match (
        base.settings(f.rule, &f.service),
        change.settings(f.rule, &f.service),
    ) {
        (_, None) => format!("the change's config turns rule `{}` off", f.rule),
        (Some((_, was)), Some((_, now))) if was.threshold != now.threshold => format!(
            "the change's config moves rule `{}`'s threshold from {} to {}",
            f.rule,
            was.threshold.map_or("the default".into(), |t| t.to_string()),
            now.threshold.map_or("the default".into(), |t| t.to_string()),
        ),
        _ if !under_change.services.contains(&f.service) => format!(
            "the change's config no longer checks service `{}` (layout, services)",
            f.service
        ),
        _ if !left_out.is_empty() => format!(
            "the change's config leaves out {} (environments)",
            left_out
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "the change's config no longer reports it (its layout, environments, services or limits changed)"
            .to_string(),
    }
}

/// `file` (the config file) relative to the repository's working directory `workdir`; `None` when it lies
/// outside the repository (then a change cannot edit it, and there is no policy to compare).
pub fn config_in_repo(file: &Path, workdir: &Path) -> Option<PathBuf> {
    let dir = file.parent()?.canonicalize().ok()?;
    let workdir = workdir.canonicalize().ok()?;
    let rel = dir.strip_prefix(&workdir).ok()?;
    Some(rel.join(file.file_name()?))
}
