//! One parity check: discover → render → model → rules → policy, returning a [`Report`] (data, not text).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;

use crate::config::Config;
use crate::discover::{self, Discovery};
use crate::finding::{Finding, Severity};
use crate::input::Reader;
use crate::kustomization::Kustomization;
use crate::model::EnvModel;
use crate::policy::{Policy, Suppressed};
use crate::render::{RenderRequest, Renderer};
use crate::rules::{RULES, ServiceModel};

/// Something that could not be checked: it makes `check` exit 2, and the rest is still checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckError {
    /// The service, when the problem is about one.
    pub service: Option<String>,
    /// The environment (`base` for a service's base), when the problem is about one.
    pub env: Option<String>,
    /// What went wrong; names the file.
    pub message: String,
}

/// Count of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Blocking findings.
    pub block: usize,
    /// Warnings.
    pub warn: usize,
    /// Informational findings.
    pub info: usize,
}

impl Summary {
    /// Counts `findings` by severity.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut summary = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Block => summary.block += 1,
                Severity::Warn => summary.warn += 1,
                Severity::Info => summary.info += 1,
            }
        }
        summary
    }
}

/// The result of a check: DESIGN.md's JSON contract plus what the text output shows besides.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Contract version.
    pub version: u32,
    /// The commit checked, when known.
    pub commit: Option<String>,
    /// Findings, sorted by service, severity (worst first), rule, object.
    pub findings: Vec<Finding>,
    /// What could not be checked.
    pub errors: Vec<CheckError>,
    /// Counts by severity.
    pub summary: Summary,
    /// Findings hidden by an unexpired exception.
    #[serde(skip)]
    pub suppressed: Vec<Suppressed>,
    /// Warnings about the configuration (stale exceptions).
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Environments checked, in promotion order.
    #[serde(skip)]
    pub envs: Vec<String>,
    /// Services checked.
    #[serde(skip)]
    pub services: Vec<String>,
    /// Limits, requests, replicas and ratios of every service (for history and charts).
    #[serde(skip)]
    pub metrics: Vec<crate::metrics::Metric>,
    /// What each service's environments run, side by side (for history and the report).
    #[serde(skip)]
    pub views: Vec<crate::view::ServiceView>,
}

impl Report {
    /// The exit code of `check`: 2 when something could not be checked, else 1 on a blocking finding, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.summary.block > 0 {
            1
        } else {
            0
        }
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these environments (empty: all).
    pub envs: Vec<String>,
    /// Only these services (empty: all).
    pub services: Vec<String>,
    /// Only live drift (`envparity drift`): the parity rules are not run.
    pub skip_parity: bool,
}

/// Each environment's overlay directory and kustomization.
type Overlays = IndexMap<String, (PathBuf, Kustomization)>;

/// Discovery options from config.
pub fn discover_options(config: &Config) -> discover::Options {
    discover::Options {
        overlays: config.layout.overlays.clone(),
        base: config.layout.base.clone(),
        order: config.environments.order.clone(),
        ignore: config.environments.ignore.clone(),
    }
}

/// The cluster side of a check: where live objects come from and how they are judged.
pub struct Live<'a> {
    /// The source (clusters, or a dump directory).
    pub source: &'a dyn crate::live::source::LiveSource,
    /// Managers, tracking label, namespaces.
    pub options: crate::live::LiveOptions,
}

/// Runs every parity rule on the repo at `root`.
pub fn check(
    config: &Config,
    root: &Path,
    scope: &Scope,
    renderer: &dyn Renderer,
    today: chrono::NaiveDate,
) -> Report {
    check_with_live(config, root, scope, renderer, today, None)
}

/// Runs every parity rule (unless `scope.skip_parity`) and, with `live`, compares each environment's
/// cluster with Git.
pub fn check_with_live(
    config: &Config,
    root: &Path,
    scope: &Scope,
    renderer: &dyn Renderer,
    today: chrono::NaiveDate,
    live: Option<&Live<'_>>,
) -> Report {
    let discovery = discover::discover(root, &discover_options(config));
    let mut errors: Vec<CheckError> = discovery
        .problems
        .iter()
        .map(|p| CheckError {
            service: p.service.clone(),
            env: None,
            message: p.message.clone(),
        })
        .collect();
    for wanted in &scope.envs {
        if !discovery.envs.contains(wanted) {
            errors.push(CheckError {
                service: None,
                env: Some(wanted.clone()),
                message: format!(
                    "environment `{wanted}` not found (found: {})",
                    discovery.envs.join(", ")
                ),
            });
        }
    }
    for wanted in &scope.services {
        if !discovery.services.iter().any(|s| &s.name == wanted) {
            errors.push(CheckError {
                service: Some(wanted.clone()),
                env: None,
                message: format!("service `{wanted}` not found"),
            });
        }
    }
    let envs: Vec<String> = discovery
        .envs
        .iter()
        .filter(|e| scope.envs.is_empty() || scope.envs.contains(e))
        .cloned()
        .collect();
    let services: Vec<&discover::Service> = discovery
        .services
        .iter()
        .filter(|s| scope.services.is_empty() || scope.services.contains(&s.name))
        .filter(|s| !config.services.get(&s.name).is_some_and(|c| c.ignore))
        .collect();

    let mut requests = Vec::new();
    for s in &services {
        if let Some(base) = &s.base {
            requests.push(request(&discovery, &s.name, "base", base));
        }
        for (env, dir) in &s.overlays {
            if envs.contains(env) {
                requests.push(request(&discovery, &s.name, env, dir));
            }
        }
    }
    let mut rendered = renderer.render(&requests).into_iter();

    // The overlays' own kustomizations and patches are read here too: bounded, inside the repo.
    let reader = Reader::new(root, config.limits.max_file_bytes());
    let policy = Policy::new(config, today);
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut metrics = Vec::new();
    let mut views = Vec::new();
    let mut models: Vec<(ServiceModel, Overlays)> = Vec::new();
    for s in &services {
        let mut model = ServiceModel {
            service: s.name.clone(),
            ..ServiceModel::default()
        };
        let mut kustomizations: IndexMap<String, (PathBuf, Kustomization)> = IndexMap::new();
        let dirs = s.base.iter().map(|b| ("base".to_string(), b)).chain(
            s.overlays
                .iter()
                .filter(|(e, _)| envs.contains(e))
                .map(|(e, d)| (e.clone(), d)),
        );
        for (env, dir) in dirs {
            let result = rendered.next();
            let kustomization = match Kustomization::read(&root.join(dir), &reader) {
                Ok(k) => k,
                Err(e) => {
                    errors.push(err(&s.name, &env, e.to_string()));
                    continue;
                }
            };
            let objects = match result {
                Some(Ok(r)) => r.objects,
                Some(Err(e)) => {
                    errors.push(err(&s.name, &env, e.to_string()));
                    continue;
                }
                None => continue,
            };
            let (env_model, problems) =
                EnvModel::build(&env, kustomization.naming.clone(), objects);
            for p in problems {
                errors.push(err(&s.name, &env, format!("{}: {p}", dir.display())));
            }
            if env == "base" {
                model.base = Some(env_model);
            } else {
                model
                    .patch_counts
                    .insert(env.clone(), kustomization.patches.len());
                model.envs.push(env_model);
                kustomizations.insert(env, (dir.clone(), kustomization));
            }
        }
        models.push((model, kustomizations));
    }

    // Live drift: one list per kind and namespace per environment, for every service at once.
    let mut listed: BTreeMap<String, (Vec<crate::live::source::Listed>, Option<String>)> =
        BTreeMap::new();
    if let Some(live) = live {
        let refs: Vec<&ServiceModel> = models.iter().map(|(m, _)| m).collect();
        for env in &envs {
            if !live.source.covers(env) {
                continue;
            }
            let requests = crate::live::requests(&refs, env, &live.options, None);
            match live.source.list(env, &requests) {
                Err(e) => errors.push(CheckError {
                    service: None,
                    env: Some(env.clone()),
                    message: e.to_string(),
                }),
                Ok(answers) => {
                    for a in &answers {
                        if let Err(e) = &a.result {
                            errors.push(CheckError {
                                service: None,
                                env: Some(env.clone()),
                                message: e.to_string(),
                            });
                        }
                    }
                    let all: Vec<serde_json::Value> = answers
                        .iter()
                        .filter_map(|a| a.result.as_ref().ok())
                        .flatten()
                        .cloned()
                        .collect();
                    listed.insert(env.clone(), (answers, crate::live::sole_namespace(&all)));
                }
            }
        }
    }

    for (model, kustomizations) in &models {
        let s = &model.service;
        metrics.extend(crate::metrics::collect(model));
        views.push(crate::view::of(model));
        if let Some(live) = live {
            for env in &model.envs {
                let Some((answers, fallback)) = listed.get(&env.env) else {
                    continue;
                };
                let drafts = crate::live::service_drift(
                    model,
                    env,
                    answers,
                    &live.options,
                    fallback.as_deref(),
                );
                for d in drafts {
                    let Some(rule) = crate::rules::by_id(d.rule) else {
                        continue;
                    };
                    let Some((severity, _)) = policy.settings(rule, s) else {
                        continue;
                    };
                    match policy.apply(rule, s, severity, d.draft) {
                        Ok(mut f) => {
                            // One object drifts separately in each environment: the env is part of its identity.
                            f.fingerprint = crate::finding::fingerprint(
                                &f.rule,
                                &f.service,
                                &f.kind,
                                &f.name,
                                f.container.as_deref(),
                                &format!("{}:{}", env.env, f.field),
                            );
                            if let Some(file) = d.file {
                                f.files.insert(env.env.clone(), file);
                            }
                            findings.push(f);
                        }
                        Err(sup) => suppressed.push(*sup),
                    }
                }
            }
        }
        if scope.skip_parity {
            continue;
        }
        for rule in RULES {
            let Some((severity, settings)) = policy.settings(*rule, s) else {
                continue;
            };
            let mut drafts = Vec::new();
            rule.check(model, settings, &mut drafts);
            for draft in drafts {
                match policy.apply(*rule, s, severity, draft) {
                    Ok(mut f) => {
                        f.files = files_for(&f, model, kustomizations, root, &reader);
                        findings.push(f);
                    }
                    Err(sup) => suppressed.push(*sup),
                }
            }
        }
    }
    findings.sort_by(|a, b| {
        (
            &a.service,
            std::cmp::Reverse(a.severity),
            &a.rule,
            &a.kind,
            &a.name,
            &a.container,
            &a.field,
        )
            .cmp(&(
                &b.service,
                std::cmp::Reverse(b.severity),
                &b.rule,
                &b.kind,
                &b.name,
                &b.container,
                &b.field,
            ))
    });
    let summary = Summary::of(&findings);
    let checked_all = scope.envs.is_empty() && scope.services.is_empty();
    let warnings = if checked_all {
        policy
            .unused_exceptions()
            .into_iter()
            .map(|e| {
                format!(
                    "exception at line {} ({} / {}) matched no finding: remove it from config",
                    e.line, e.service, e.rule
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    Report {
        version: 1,
        commit: None,
        findings,
        errors,
        summary,
        suppressed,
        warnings,
        envs,
        services: services.iter().map(|s| s.name.clone()).collect(),
        metrics,
        views,
    }
}

fn request(discovery: &Discovery, service: &str, env: &str, dir: &Path) -> RenderRequest {
    RenderRequest {
        service: service.to_string(),
        env: env.to_string(),
        dir: discovery.root.join(dir),
    }
}

fn err(service: &str, env: &str, message: String) -> CheckError {
    CheckError {
        service: Some(service.to_string()),
        env: Some(env.to_string()),
        message,
    }
}

/// Per environment involved, the repo-relative file that most likely sets the finding's value: a file the
/// overlay itself declares the object in, else an overlay patch targeting the object (preferring one that
/// mentions the field), else the overlay's kustomization when its `images:`/`replicas:` transformer applies,
/// else the file that declares the object.
fn files_for(
    finding: &Finding,
    model: &ServiceModel,
    kustomizations: &IndexMap<String, (PathBuf, Kustomization)>,
    root: &Path,
    reader: &Reader,
) -> IndexMap<String, String> {
    let rel = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let hints = crate::finding::field_words(&finding.field);
    let mut out = IndexMap::new();
    for env in &finding.envs {
        let Some((dir, k)) = kustomizations.get(env) else {
            continue;
        };
        let dir_s = rel(&root.join(dir));
        if finding.kind == "Kustomization" {
            out.insert(env.clone(), rel(&k.file));
            continue;
        }
        let Some(object) = model.envs.iter().find(|e| &e.env == env).and_then(|e| {
            e.objects
                .iter()
                .find(|o| o.key.kind == finding.kind && o.key.name == finding.name)
        }) else {
            continue;
        };
        let file = if let Some(origin) = object
            .origin
            .as_ref()
            .filter(|o| o.starts_with(&format!("{dir_s}/")))
        {
            Some(origin.clone())
        } else if let Some(patch) = k
            .patches_for(&finding.kind, &finding.name, &hints, reader)
            .into_iter()
            .next()
        {
            Some(format!("{dir_s}/{patch}"))
        } else if (finding.field == "image" && k.sets_images)
            || (finding.field == "spec.replicas" && k.sets_replicas)
        {
            Some(rel(&k.file))
        } else {
            object.origin.clone()
        };
        if let Some(f) = file {
            out.insert(env.clone(), f);
        }
    }
    out
}
