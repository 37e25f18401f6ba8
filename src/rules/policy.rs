//! The sink: the one place where config turns a rule's drafts into findings — severity (per rule and per
//! service), thresholds, and exceptions. Rules never see config.

use std::cell::RefCell;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::Settings;
use crate::codes::RuleId;
use crate::config::{Config, Exception};
use crate::finding::{Draft, Finding, Severity, fingerprint};

/// Config's policy, ready to apply.
pub struct Policy<'a> {
    config: &'a Config,
    today: NaiveDate,
    used: RefCell<Vec<bool>>,
}

/// A finding hidden by an exception, kept so output can say what was hidden and why.
#[derive(Debug, Clone)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// The exception's reason.
    pub reason: String,
    /// Its expiry date.
    pub expires: NaiveDate,
}

impl<'a> Policy<'a> {
    /// A policy evaluated on `today` (exceptions expire at the end of their date).
    pub fn new(config: &'a Config, today: NaiveDate) -> Self {
        Policy {
            config,
            today,
            used: RefCell::new(vec![false; config.exceptions.len()]),
        }
    }

    /// The severity and settings of `rule` for `service`; `None` when config turned it off.
    pub fn settings(&self, rule: RuleId, service: &str) -> Option<(Severity, Settings)> {
        let global = self.config.rules.get(&rule);
        let local = self
            .config
            .services
            .get(service)
            .and_then(|s| s.rules.get(&rule));
        let level = local
            .and_then(|p| p.severity)
            .or_else(|| global.and_then(|p| p.severity));
        let severity = match level {
            Some(l) => l.severity()?,
            None => rule.default_severity(),
        };
        let threshold = local
            .and_then(|p| p.threshold)
            .or_else(|| global.and_then(|p| p.threshold))
            .and_then(Decimal::from_f64);
        Some((severity, Settings { threshold }))
    }

    /// Turns a draft into a finding, or into a suppressed finding when an unexpired exception matches it.
    pub fn apply(
        &self,
        rule: RuleId,
        service: &str,
        severity: Severity,
        draft: Draft,
    ) -> Result<Finding, Box<Suppressed>> {
        let severity = draft.at_most.map_or(severity, |cap| severity.min(cap));
        let fingerprinted = match &draft.env {
            Some(env) => format!("{env}:{}", draft.field),
            None => draft.field.clone(),
        };
        let finding = Finding {
            rule,
            severity,
            service: service.to_string(),
            fingerprint: fingerprint(
                rule.as_str(),
                service,
                &draft.kind,
                &draft.name,
                draft.container.as_deref(),
                &fingerprinted,
            ),
            kind: draft.kind,
            name: draft.name,
            container: draft.container,
            envs: draft.envs,
            field: draft.field,
            // Each value is bounded here, where every parity and live finding passes, whatever its rule
            // showed.
            values: draft
                .values
                .into_iter()
                .map(|(env, value)| (env, crate::redact::bound(&value)))
                .collect(),
            message: draft.message,
            files: Default::default(),
        };
        match self.exception_for(&finding) {
            Some(e) => Err(Box::new(Suppressed {
                finding,
                reason: e.reason.clone(),
                expires: e.expires,
            })),
            None => Ok(finding),
        }
    }

    /// [`Policy::apply`] for a finding about one environment's cluster (live drift): the same object drifts
    /// separately in each environment, so the environment is part of its fingerprint.
    pub fn apply_in_env(
        &self,
        rule: RuleId,
        service: &str,
        env: &str,
        severity: Severity,
        mut draft: Draft,
    ) -> Result<Finding, Box<Suppressed>> {
        draft.env = Some(env.to_string());
        self.apply(rule, service, severity, draft)
    }

    fn exception_for(&self, f: &Finding) -> Option<&'a Exception> {
        let config: &'a Config = self.config;
        let (i, e) = config.exceptions.iter().enumerate().find(|(_, e)| {
            e.service == f.service
                && e.rule == f.rule
                && e.container
                    .as_ref()
                    .is_none_or(|c| Some(c) == f.container.as_ref())
                && e.field.as_ref().is_none_or(|x| *x == f.field)
        })?;
        if let Some(u) = self.used.borrow_mut().get_mut(i) {
            *u = true;
        }
        (e.expires >= self.today).then_some(e)
    }

    /// Exceptions that matched no finding in this run (worth a warning: stale config).
    pub fn unused_exceptions(&self) -> Vec<&'a Exception> {
        let config: &'a Config = self.config;
        let used = self.used.borrow();
        config
            .exceptions
            .iter()
            .zip(used.iter())
            .filter(|(_, u)| !**u)
            .map(|(e, _)| e)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_bounded_whatever_its_rule_showed() {
        let config = Config::default();
        let policy = Policy::new(&config, NaiveDate::MIN);
        let draft = Draft {
            kind: "Deployment".into(),
            name: "web".into(),
            container: None,
            envs: vec!["production".into()],
            field: "spec.x".into(),
            values: [("production".to_string(), "x".repeat(5000))]
                .into_iter()
                .collect(),
            message: "m".into(),
            at_most: None,
            env: None,
        };
        let finding = policy
            .apply(RuleId::LiveValue, "web", Severity::Warn, draft)
            .map_err(|s| s.finding)
            .expect("no exception");
        let shown = &finding.values["production"];
        assert!(shown.chars().count() <= crate::redact::MAX_SHOWN, "{shown}");
        assert!(shown.ends_with("(5000 chars)"), "{shown}");
    }
}
