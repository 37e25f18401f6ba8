//! One check of a tree: discover → render → model, then the parity stage ([`crate::rules::check`]) and the
//! drift stage ([`crate::live::drift`]), both through the policy; returns a [`Report`] (data, not text).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;

use crate::codes::{ErrorKind, RuleId};
use crate::config::Config;
use crate::discover::{self, Discovery};
use crate::finding::{CheckError, Finding, Summary};
use crate::input::Reader;
use crate::kustomization::Kustomization;
use crate::model::{EnvModel, ServiceModel};
use crate::render::{RenderRequest, Renderer};
use crate::rules::policy::{Policy, Suppressed};

use super::Status;

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
    /// Every overlay discovery placed, as (repo-relative directory, service, environment), whatever the
    /// scope: what maps an Argo CD Application's path back to a service.
    #[serde(skip)]
    pub overlays: Vec<(String, String, String)>,
    /// Limits, requests, replicas and ratios of every service (for history and charts).
    #[serde(skip)]
    pub metrics: Vec<crate::metrics::Metric>,
    /// What each service's environments run, side by side (for history and the report).
    #[serde(skip)]
    pub views: Vec<crate::view::ServiceView>,
}

impl Report {
    /// Incomplete when something could not be checked, else failed on a blocking finding, else ok.
    pub fn status(&self) -> Status {
        if !self.errors.is_empty() {
            Status::Incomplete
        } else if self.summary.block > 0 {
            Status::Failed
        } else {
            Status::Ok
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

/// Each environment's overlay directory and kustomization, and the file of the GitOps object that sets
/// images at deploy time (if one does).
type Overlays = IndexMap<String, (PathBuf, Kustomization, Option<PathBuf>)>;

/// Discovery options from config.
pub fn discover_options(config: &Config) -> discover::Options {
    discover::Options {
        overlays: config.layout.overlays.clone(),
        base: config.layout.base.clone(),
        order: config.environments.order.clone(),
        tiers: config.environments.tiers.clone(),
        vocabulary: if config.environments.vocabulary.is_empty() {
            discover::Vocabulary::default()
        } else {
            discover::Vocabulary::new(&config.environments.vocabulary)
        },
        ignore: config.environments.ignore.clone(),
        exclude: config.layout.exclude.clone(),
        include: config.layout.include.clone(),
        services: config
            .services
            .iter()
            .filter(|(_, s)| !s.overlays.is_empty())
            .map(|(name, s)| discover::Configured {
                name: name.clone(),
                overlays: s.overlays.clone(),
                base: s.base.clone(),
            })
            .collect(),
        max_file_bytes: config.limits.max_file_bytes(),
    }
}

/// The cluster side of a check: where live objects come from and how they are judged.
pub struct Live<'a> {
    /// The source (clusters, or a dump directory).
    pub source: &'a dyn crate::live::source::LiveSource,
    /// Managers, tracking label, namespaces.
    pub options: crate::live::LiveOptions,
}

/// One check of the tree at `root`: discover → render → model, then the parity stage (unless
/// `scope.skip_parity`) and, with `live`, the drift stage; both through the policy.
pub fn check_tree(
    config: &Config,
    root: &Path,
    scope: &Scope,
    renderer: &dyn Renderer,
    today: chrono::NaiveDate,
    live: Option<&Live<'_>>,
) -> Report {
    let discovery = discover::discover(root, &discover_options(config));
    let mut errors = selection_errors(&discovery, scope);
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
    // The overlays' own kustomizations and patches are read here too: bounded, inside the repo.
    let reader = Reader::new(root, config.limits.max_file_bytes());
    let models = build_models(&reader, &discovery, &services, &envs, renderer, &mut errors);
    let refs: Vec<&ServiceModel> = models.iter().map(|(m, _)| m).collect();

    let policy = Policy::new(config, today);
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut notices = Vec::new();
    if let Some(live) = live {
        // Where the repo's Argo CD Applications send each environment (for environments without a cluster).
        let mut options = live.options.clone();
        for service in &services {
            for (env, deployment) in &service.deploy {
                for (cluster, namespace) in deployment.destinations() {
                    if let Some(cluster) = cluster {
                        options
                            .destinations
                            .entry(env.clone())
                            .or_default()
                            .insert(cluster.to_string(), namespace.map(str::to_string));
                    }
                }
            }
        }
        let listing = crate::live::list(live.source, &refs, &envs, &options);
        notices.extend(listing.notices.iter().cloned());
        errors.extend(listing.errors.iter().map(|(env, e)| CheckError {
            service: None,
            env: Some(env.clone()),
            kind: e.kind(),
            message: e.to_string(),
        }));
        let mut drafts = crate::live::drift(&refs, &listing, &live.options);
        // The GitOps objects themselves, in the environments whose cluster answered.
        let listed: Vec<(String, String)> = listing
            .envs
            .iter()
            .flat_map(|(env, l)| l.iter().map(|l| (env.clone(), l.target.key.clone())))
            .collect();
        let (mut gitops, unread) =
            crate::live::sync::check(live.source, &declared(&services, &envs), &listed);
        crate::live::sync::meanwhile(&mut gitops, &drafts);
        errors.extend(unread.iter().map(|(env, e)| CheckError {
            service: None,
            env: Some(env.clone()),
            kind: e.kind(),
            message: e.to_string(),
        }));
        drafts.extend(gitops);
        for d in drafts {
            let Some((severity, _)) = policy.settings(d.rule, &d.service) else {
                continue;
            };
            let fingerprint_env = d.fingerprint_env();
            match policy.apply_in_env(d.rule, &d.service, &fingerprint_env, severity, d.draft) {
                Ok(mut f) => {
                    // The file that sets Git's value (an overlay patch, its `replicas:` or `images:`), as
                    // for parity findings; else the file that declares the object.
                    let set_by = models
                        .iter()
                        .filter(|_| matches!(d.rule, RuleId::LiveValue | RuleId::LiveManualField))
                        .find(|(m, _)| m.service == d.service)
                        .and_then(|(m, overlays)| {
                            files_for(&f, m, overlays, root, &reader).shift_remove(&d.env)
                        });
                    if let Some(file) = set_by.or(d.file) {
                        f.files.insert(d.env, file);
                    }
                    findings.push(f);
                }
                Err(s) => suppressed.push(*s),
            }
        }
    }
    if !scope.skip_parity {
        for (model, overlays) in &models {
            let (found, hidden) = crate::rules::check(model, &policy);
            findings.extend(found.into_iter().map(|mut f| {
                f.files = files_for(&f, model, overlays, root, &reader);
                f
            }));
            suppressed.extend(hidden);
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
    let checked_all = scope.envs.is_empty() && scope.services.is_empty();
    let mut warnings: Vec<String> = if checked_all {
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
    warnings.extend(notices);
    Report {
        version: 1,
        commit: None,
        summary: Summary::of(&findings),
        findings,
        errors,
        suppressed,
        warnings,
        envs,
        services: services.iter().map(|s| s.name.clone()).collect(),
        overlays: discovery
            .services
            .iter()
            .flat_map(|s| {
                s.overlays.iter().map(|(env, dir)| {
                    let dir = dir.to_string_lossy().replace('\\', "/");
                    (dir, s.name.clone(), env.clone())
                })
            })
            .collect(),
        metrics: refs
            .iter()
            .flat_map(|m| crate::metrics::collect(m))
            .collect(),
        views: refs.iter().map(|m| crate::view::of(m)).collect(),
    }
}

/// Every overlay of `services` in `envs` that the repo deploys through a GitOps object, with that object.
fn declared(services: &[&discover::Service], envs: &[String]) -> Vec<crate::live::sync::Declared> {
    services
        .iter()
        .flat_map(|s| {
            s.deploy
                .iter()
                .filter(|(env, _)| envs.contains(env))
                .filter_map(|(env, d)| {
                    Some(crate::live::sync::Declared {
                        service: s.name.clone(),
                        env: env.clone(),
                        deployer: d.deployer.clone()?,
                        file: d
                            .file
                            .as_ref()
                            .map(|f| f.to_string_lossy().replace('\\', "/")),
                    })
                })
        })
        .collect()
}

/// Discovery's problems, and environments or services asked for that the repo does not have.
fn selection_errors(discovery: &Discovery, scope: &Scope) -> Vec<CheckError> {
    let mut errors: Vec<CheckError> = discovery
        .problems
        .iter()
        .map(|p| CheckError {
            service: p.service.clone(),
            env: p.env.clone(),
            kind: ErrorKind::Config,
            message: p.message.clone(),
        })
        .collect();
    for wanted in &scope.envs {
        if !discovery.envs.contains(wanted) {
            errors.push(CheckError {
                service: None,
                env: Some(wanted.clone()),
                kind: ErrorKind::Config,
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
                kind: ErrorKind::Config,
                message: format!("service `{wanted}` not found"),
            });
        }
    }
    errors
}

/// Renders every service's base and overlays in `envs` (one batch for all) and builds each service's
/// model, with each environment's overlay directory and kustomization (to name the file behind a finding).
fn build_models(
    reader: &Reader,
    discovery: &Discovery,
    services: &[&discover::Service],
    envs: &[String],
    renderer: &dyn Renderer,
    errors: &mut Vec<CheckError>,
) -> Vec<(ServiceModel, Overlays)> {
    // (service index, env, directory), in the order the results come back.
    let dirs: Vec<(usize, String, &PathBuf)> = services
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let base = s.base.iter().map(|b| ("base".to_string(), b));
            let overlays = s
                .overlays
                .iter()
                .filter(|(e, _)| envs.contains(e))
                .map(|(e, d)| (e.clone(), d));
            base.chain(overlays).map(move |(env, dir)| (i, env, dir))
        })
        .collect();
    let requests: Vec<RenderRequest> = dirs
        .iter()
        .map(|(i, env, dir)| RenderRequest {
            service: services[*i].name.clone(),
            env: env.clone(),
            dir: discovery.root.join(dir),
            layer: services[*i].deploy.get(env).and_then(|d| d.layer.clone()),
            generate: services[*i].deploy.get(env).is_some_and(|d| d.generate),
        })
        .collect();
    let rendered = renderer.render(&requests);
    let tiers: IndexMap<String, usize> = discovery
        .tiers
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.envs.iter().map(move |e| (e.clone(), i)))
        .collect();

    let mut models: Vec<(ServiceModel, Overlays)> = services
        .iter()
        .map(|s| {
            let model = ServiceModel {
                service: s.name.clone(),
                tiers: tiers.clone(),
                ..ServiceModel::default()
            };
            (model, Overlays::new())
        })
        .collect();
    for ((i, env, dir), result) in dirs.into_iter().zip(rendered) {
        let (model, overlays) = &mut models[i];
        let service = model.service.as_str();
        let generated = services[i].deploy.get(&env).is_some_and(|d| d.generate);
        let kustomization = match Kustomization::read(&reader.root().join(dir), reader) {
            Ok(k) => k,
            // Flux generates the directory's kustomization: it renames and patches nothing.
            Err(_) if generated => Kustomization {
                file: reader.root().join(dir),
                ..Kustomization::default()
            },
            Err(e) => {
                errors.push(CheckError::of(
                    service,
                    &env,
                    ErrorKind::Read,
                    e.to_string(),
                ));
                continue;
            }
        };
        let mut objects = match result {
            Ok(r) => r.objects,
            Err(e) => {
                errors.push(CheckError::of(service, &env, e.kind(), e.to_string()));
                continue;
            }
        };
        if let Some(part) = &services[i].part
            && env != "base"
        {
            objects.retain(|o| part.keeps(o.origin.as_deref()));
        }
        let deployment = services[i].deploy.get(&env);
        if let Some(vars) = deployment.and_then(|d| d.substitute.as_ref()) {
            substitute(&mut objects, vars, service, &env, dir, errors);
        }
        let naming = kustomization
            .naming
            .clone()
            .with_inner(dir, reader)
            .under(deployment.and_then(|d| d.layer.as_ref()));
        let (mut env_model, problems) = EnvModel::build(&env, naming, objects);
        env_model.destination_namespace = deployment.and_then(|d| d.namespace.clone());
        for p in problems {
            let message = format!("{}: {p}", dir.display());
            errors.push(CheckError::of(service, &env, ErrorKind::Read, message));
        }
        if env == "base" {
            model.base = Some(env_model);
        } else {
            model
                .patch_counts
                .insert(env.clone(), kustomization.patches.len());
            model.envs.push(env_model);
            let sets_images = deployment
                .filter(|d| {
                    d.layer
                        .as_ref()
                        .is_some_and(|l| l.fields().contains_key("images"))
                })
                .and_then(|d| d.file.clone());
            overlays.insert(env, (dir.clone(), kustomization, sets_images));
        }
    }
    models
}

/// Applies a Flux Kustomization's `postBuild` variables to the rendered objects of `dir`, as Flux does
/// before it applies them. An object whose substitution fails keeps its text and is reported.
fn substitute(
    objects: &mut [crate::render::RenderedObject],
    vars: &crate::gitops::Variables,
    service: &str,
    env: &str,
    dir: &Path,
    errors: &mut Vec<CheckError>,
) {
    for object in objects {
        match vars.apply_to_object(&object.value) {
            Ok(Some(value)) => object.value = value,
            Ok(None) => {}
            Err(e) => {
                let name = format!(
                    "{}/{}",
                    object
                        .value
                        .get("kind")
                        .and_then(|v| v.as_str())
                        .unwrap_or("?"),
                    object
                        .value
                        .pointer("/metadata/name")
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                );
                errors.push(CheckError::of(
                    service,
                    env,
                    ErrorKind::Render,
                    format!(
                        "{}: Flux postBuild substitution of {name} failed: {e}",
                        dir.display()
                    ),
                ));
            }
        }
    }
}

/// Per environment involved, the repo-relative file that most likely sets the finding's value: a file the
/// overlay itself declares the object in, else an overlay patch targeting the object (preferring one that
/// mentions the field), else the overlay's kustomization when its `images:`/`replicas:` transformer applies,
/// else the file that declares the object.
fn files_for(
    finding: &Finding,
    model: &ServiceModel,
    kustomizations: &Overlays,
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
        let Some((dir, k, gitops_images)) = kustomizations.get(env) else {
            continue;
        };
        if let Some(file) = gitops_images.as_ref().filter(|_| finding.field == "image") {
            // The GitOps object's images override is applied last: it decides the image.
            out.insert(env.clone(), file.to_string_lossy().replace('\\', "/"));
            continue;
        }
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
