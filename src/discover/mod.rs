//! Which services and environments a repo holds — the deployment map — and their promotion order: tiers,
//! and peers within a tier ([`tiers`]).
//!
//! With `layout.overlays` configured, only those patterns place overlays. Otherwise the well-known layout
//! patterns ([`COMMON_LAYOUTS`]) place what they match first (so every service and environment keeps the
//! name it always had), and the roots of the kustomization graph ([`graph`]) that no pattern claimed are
//! placed by their paths ([`place`]): an environment segment names the environment, the rest the service.
//!
//! Config has the last word. A service config places itself ([`Configured`], `services.<name>.overlays`) is
//! placed first, as written, and its directories are nobody else's: no pattern, GitOps object or path
//! convention places them again, and a discovered service of the same name is named by its path.
//! `layout.include` narrows what the patterns, the GitOps objects and the graph consider; `layout.exclude`
//! leaves directories out of what is left. Neither applies to a configured service.
//!
//! A pattern is a path with `{service}`, `{env}` and `*` segments, e.g. `apps/{service}/overlays/{env}`. A
//! directory matches when it holds a kustomization file. A service is identified by its directory (the
//! `{service}` segment, else the `*` segments, else the repo's name), never by the names of its objects.

pub mod deploy;
pub mod graph;
pub mod place;
pub mod tiers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::input::Reader;
use crate::kustomization::kustomization_file;
pub use tiers::{Tier, Vocabulary};

/// Layouts detected when config names none, most specific first.
pub const COMMON_LAYOUTS: &[&str] = &[
    "apps/{service}/overlays/{env}",
    "apps/{service}/envs/{env}",
    "services/{service}/overlays/{env}",
    "{service}/overlays/{env}",
    "deploy/overlays/{env}",
    "deploy/{service}/overlays/{env}",
    "environments/overlays/{env}",
    "clusters/*/overlays/{env}",
    "k8s/overlays/{env}",
    "kustomize/overlays/{env}",
    "overlays/{env}",
    "envs/{env}",
    "environments/{env}",
    "stages/{env}",
];

/// Directory names that sit next to overlays but are not environments.
const NOT_ENVS: [&str; 3] = ["base", "bases", "components"];

/// One service: its base and its overlay per environment (paths relative to the repo root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Service name (from its directory).
    pub name: String,
    /// The base directory, when there is one.
    pub base: Option<PathBuf>,
    /// Overlay directory per environment, in promotion order.
    pub overlays: IndexMap<String, PathBuf>,
    /// Why each environment's overlay was placed here (`path pattern "apps/{service}/overlays/{env}"`,
    /// `path segment "prod-eu"`, `config`).
    pub reasons: IndexMap<String, String>,
    /// How the repo's own GitOps object deploys each environment's overlay, for the environments one does.
    pub deploy: IndexMap<String, deploy::Deployment>,
    /// The share of the overlays' objects that is this service's, when each overlay deploys several apps.
    pub part: Option<place::Part>,
}

/// How the promotion order was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderSource {
    /// From `environments.order` in config (tiers and peers by the environments' words).
    Configured,
    /// From `environments.tiers` in config.
    Tiers,
    /// Inferred from well-known environment names.
    Inferred,
}

impl OrderSource {
    /// The config key that sets the order this way, when config set it.
    pub fn key(self) -> Option<&'static str> {
        match self {
            OrderSource::Configured => Some("environments.order"),
            OrderSource::Tiers => Some("environments.tiers"),
            OrderSource::Inferred => None,
        }
    }
}

/// Something discovery noticed that makes part of the repo uncheckable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The service, if the problem is about one.
    pub service: Option<String>,
    /// The environment, if the problem is about one service's overlay in it.
    pub env: Option<String>,
    /// What is wrong (names the path).
    pub message: String,
}

/// A service config places itself (`services.<name>.overlays`, `services.<name>.base`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configured {
    /// Its name.
    pub name: String,
    /// Every environment's overlay directory (repo-relative): a kustomization, or a directory a Flux
    /// Kustomization deploys.
    pub overlays: std::collections::BTreeMap<String, PathBuf>,
    /// Its base, if config names one.
    pub base: Option<PathBuf>,
}

/// What a repo holds.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The repo root.
    pub root: PathBuf,
    /// The patterns that matched something.
    pub layouts: Vec<String>,
    /// Services, sorted by name.
    pub services: Vec<Service>,
    /// The tiers, in promotion order (the last is the reference), each with its peers, reference first.
    pub tiers: Vec<Tier>,
    /// Every environment, in promotion order: [`tiers::flatten`] of `tiers`, each tier's reference peer
    /// after its other peers, so the last is the reference.
    pub envs: Vec<String>,
    /// Where the order came from.
    pub order_source: OrderSource,
    /// Problems to report as errors.
    pub problems: Vec<Problem>,
    /// Overlay directories `layout.exclude` left out.
    pub excluded: Vec<PathBuf>,
    /// Kustomizations found in the repo (when the graph was built: no `layout.overlays` configured).
    pub kustomizations: usize,
    /// Of those, the roots (referenced by no other kustomization).
    pub roots: usize,
    /// Kustomizations not placed in the map, and why (a single environment, a component, …).
    pub left_out: Vec<(PathBuf, String)>,
}

/// Discovery settings (from config).
#[derive(Debug, Clone)]
pub struct Options {
    /// Overlay patterns; empty detects [`COMMON_LAYOUTS`].
    pub overlays: Vec<String>,
    /// Base pattern; `None` looks next to the overlays.
    pub base: Option<String>,
    /// Configured promotion order (may be empty).
    pub order: Vec<String>,
    /// Configured tiers, each reference peer first (may be empty; config never sets both this and `order`).
    pub tiers: Vec<Vec<String>>,
    /// The environment words per tier.
    pub vocabulary: Vocabulary,
    /// Environments left out.
    pub ignore: Vec<String>,
    /// Globs of overlay directories left out (`layout.exclude`).
    pub exclude: Vec<String>,
    /// Globs outside which nothing is discovered (`layout.include`; empty: the whole repo).
    pub include: Vec<String>,
    /// Services placed as config says, whatever discovery finds (`services.<name>.overlays`).
    pub services: Vec<Configured>,
    /// The most bytes read from one kustomization file (`limits.max_file_bytes`).
    pub max_file_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            overlays: Vec::new(),
            base: None,
            order: Vec::new(),
            tiers: Vec::new(),
            vocabulary: Vocabulary::default(),
            ignore: Vec::new(),
            exclude: Vec::new(),
            include: Vec::new(),
            services: Vec::new(),
            max_file_bytes: crate::input::DEFAULT_MAX_BYTES,
        }
    }
}

/// Whether `dir` (repo-relative) or one of its parents matches one of `globs`.
fn matches(globs: &globset::GlobSet, dir: &Path) -> bool {
    !globs.is_empty()
        && dir
            .ancestors()
            .any(|d| !d.as_os_str().is_empty() && globs.is_match(d))
}

/// Why a root outside `layout.include` is not in the map.
const OUTSIDE_INCLUDE: &str = "outside layout.include";

/// What automatic discovery considers: what lies inside `layout.include` (when set) and outside
/// `layout.exclude`.
struct Scope {
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl Scope {
    fn new(options: &Options) -> Scope {
        // Config validated every glob; one that still does not compile matches nothing.
        let set = |globs: &[String]| {
            let mut set = globset::GlobSetBuilder::new();
            for glob in globs.iter().filter_map(|g| globset::Glob::new(g).ok()) {
                set.add(glob);
            }
            set.build().unwrap_or_else(|_| globset::GlobSet::empty())
        };
        Scope {
            include: set(&options.include),
            exclude: set(&options.exclude),
        }
    }

    /// Whether `dir` lies inside `layout.include` (everything does when it is not set).
    fn inside(&self, dir: &Path) -> bool {
        self.include.is_empty() || matches(&self.include, dir)
    }

    /// Whether `layout.exclude` leaves `dir` out.
    fn excluded(&self, dir: &Path) -> bool {
        matches(&self.exclude, dir)
    }
}

/// The directory a GitOps target deploys, as discovery names directories (the root is empty).
fn target_dir(target: &crate::gitops::LocalTarget) -> PathBuf {
    if target.path == "." {
        PathBuf::new()
    } else {
        PathBuf::from(&target.path)
    }
}

/// Finds services and environments under `root`.
pub fn discover(root: &Path, options: &Options) -> Discovery {
    let detect = options.overlays.is_empty();
    let patterns: Vec<String> = if detect {
        COMMON_LAYOUTS.iter().map(|s| s.to_string()).collect()
    } else {
        options.overlays.clone()
    };
    let repo_name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "service".into());
    let mut claimed: BTreeSet<PathBuf> = BTreeSet::new();
    let mut services: IndexMap<String, Service> = IndexMap::new();
    let mut layouts = Vec::new();
    let mut problems = Vec::new();
    let mut left_out: Vec<(PathBuf, String)> = Vec::new();
    let scope = Scope::new(options);
    // An include that matches nothing (no overlay, root or deployed directory, claimed or not) is most
    // likely a typo, and would leave nothing to check.
    let mut included_any = options
        .services
        .iter()
        .flat_map(|c| c.overlays.values())
        .any(|dir| scope.inside(dir));
    let mut excluded_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let reader = Reader::new(root, options.max_file_bytes);
    // The repo's own Argo CD and Flux objects: they place what they deploy (when config names no layout),
    // and say how a configured service's directories are deployed.
    let identity = crate::gitops::RepoIdentity::unknown();
    let objects = Some(crate::gitops::scan(root, &reader, &identity));
    let local = objects
        .as_ref()
        .map(|o| crate::gitops::targets(o, &identity).local)
        .unwrap_or_default();

    // Config has the last word: configured services are placed as written, and their directories are
    // nobody else's. Their names are too: a discovered service of the same name is named by its path.
    let mut explicit_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let configured_names: BTreeSet<&str> =
        options.services.iter().map(|c| c.name.as_str()).collect();
    for c in &options.services {
        explicit_dirs.extend(c.overlays.values().cloned());
        explicit_dirs.extend(c.base.iter().cloned());
        let service = configured(
            root,
            &reader,
            objects.as_ref(),
            &local,
            c,
            &options.ignore,
            &mut problems,
        );
        services.insert(c.name.clone(), service);
    }

    for pattern in &patterns {
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        let env_segment = segments.iter().position(|s| *s == "{env}");
        let mut matches = Vec::new();
        walk(
            root,
            Path::new(""),
            &segments,
            &mut Captures::default(),
            &mut matches,
        );
        let mut used = false;
        for (dir, caps) in matches {
            included_any |= scope.inside(&dir);
            if NOT_ENVS.contains(&caps.env.as_str())
                || claimed.contains(&dir)
                || explicit_dirs.contains(&dir)
            {
                continue;
            }
            // A directory already claimed as a base or overlay by an earlier (more specific) pattern wins.
            if claimed
                .iter()
                .any(|c| dir.starts_with(c) || c.starts_with(&dir))
                && detect
            {
                continue;
            }
            if options.ignore.contains(&caps.env) {
                continue;
            }
            if !scope.inside(&dir) {
                // Without configured patterns the graph lists the roots outside the include.
                if !detect && !left_out.iter().any(|(d, _)| *d == dir) {
                    left_out.push((dir, OUTSIDE_INCLUDE.into()));
                }
                continue;
            }
            if scope.excluded(&dir) {
                excluded_dirs.insert(dir);
                continue;
            }
            let mut name = caps
                .service
                .clone()
                .or_else(|| (!caps.wild.is_empty()).then(|| caps.wild.join("/")))
                .unwrap_or_else(|| repo_name.clone());
            if configured_names.contains(name.as_str()) {
                name = without_segment(&dir, env_segment);
                if configured_names.contains(name.as_str()) {
                    left_out.push((
                        dir,
                        format!("service {name} is configured (services.{name})"),
                    ));
                    continue;
                }
            }
            used = true;
            claimed.insert(dir.clone());
            let service = services.entry(name.clone()).or_insert_with(|| Service {
                name: name.clone(),
                base: None,
                overlays: IndexMap::new(),
                reasons: IndexMap::new(),
                deploy: IndexMap::new(),
                part: None,
            });
            if service.base.is_none() {
                service.base = find_base(root, &dir, &caps, options.base.as_deref());
                if let Some(b) = &service.base {
                    claimed.insert(b.clone());
                }
            }
            service.overlays.insert(caps.env.clone(), dir);
            let reason = if detect {
                format!("path pattern \"{pattern}\"")
            } else {
                format!("config: layout.overlays \"{pattern}\"")
            };
            service.reasons.insert(caps.env.clone(), reason);
        }
        if used {
            layouts.push(pattern.clone());
        }
    }
    claimed.extend(explicit_dirs.iter().cloned());

    // A directory a pattern placed keeps its name and reason, and is rendered (and read live) the way its
    // GitOps object deploys it — with `layout.overlays` configured too (a configured service's directories
    // have theirs already).
    if let Some(objects) = objects.as_ref() {
        for target in local.iter().filter(|t| t.exists) {
            let dir = target_dir(target);
            if !claimed.contains(&dir) {
                continue;
            }
            let (_, deployment, _) = deploy::of_target(target, objects, &dir, &reader);
            if deployment == deploy::Deployment::default() {
                continue;
            }
            for service in services
                .values_mut()
                .filter(|s| !configured_names.contains(s.name.as_str()))
            {
                let envs: Vec<String> = service
                    .overlays
                    .iter()
                    .filter(|(_, d)| **d == dir)
                    .map(|(e, _)| e.clone())
                    .collect();
                for env in envs {
                    match service.deploy.get_mut(&env) {
                        Some(known) => known.merge(deployment.clone()),
                        None => {
                            service.deploy.insert(env, deployment.clone());
                        }
                    }
                }
            }
        }
    }

    // The kustomization graph places the roots no pattern claimed (only when config names no layout).
    let (mut kustomizations, mut roots) = (0, 0);
    if let (true, Some(objects)) = (detect, objects.as_ref()) {
        let graph = graph::Graph::build(&reader);
        kustomizations = graph.nodes.len();
        roots = graph.roots().count();
        included_any |= graph.roots().any(|n| scope.inside(&n.dir));
        // The repo's own Argo CD and Flux objects place what they deploy, before path conventions do.
        let targets: Vec<_> = local
            .iter()
            .filter(|t| {
                let dir = target_dir(t);
                let inside = t.exists && scope.inside(&dir);
                included_any |= inside;
                inside && !scope.excluded(&dir) && !claimed.contains(&dir)
            })
            .cloned()
            .collect();
        let (by_gitops, left, taken) = place::place_targets(
            &graph,
            objects,
            &targets,
            &reader,
            &repo_name,
            &options.vocabulary,
        );
        left_out.extend(left);
        claimed.extend(taken);
        // What an ApplicationSet's git generator explicitly excludes is not deployed: path conventions
        // must not place it either.
        for set in &objects.application_sets {
            for dir in &set.excluded {
                let dir = PathBuf::from(dir);
                if graph.nodes.contains_key(&dir) && claimed.insert(dir.clone()) {
                    let ns = set
                        .namespace
                        .as_deref()
                        .map(|n| format!("{n}/"))
                        .unwrap_or_default();
                    left_out.push((
                        dir,
                        format!("excluded by argo-cd ApplicationSet {ns}{}", set.name),
                    ));
                }
            }
        }
        let unclaimed: Vec<&graph::Node> = graph
            .roots()
            .filter(|n| !claimed.contains(&n.dir))
            .filter(|n| {
                if !scope.inside(&n.dir) {
                    left_out.push((n.dir.clone(), OUTSIDE_INCLUDE.into()));
                    return false;
                }
                let out = scope.excluded(&n.dir);
                if out {
                    excluded_dirs.insert(n.dir.clone());
                }
                !out
            })
            .collect();
        let (placed, left) = place::place(&graph, &unclaimed, &repo_name, &options.vocabulary);
        left_out.extend(left);
        let (placed, left) =
            place::split_apps(&graph, by_gitops.into_iter().chain(placed).collect());
        left_out.extend(left);
        for mut p in placed {
            // A configured directory may still come in as the default of its variants.
            let before = p.envs.len();
            p.envs.retain(|e| !explicit_dirs.contains(&e.dir));
            if p.envs.len() < before && p.envs.len() < 2 {
                left_out.extend(p.envs.into_iter().map(|e| {
                    (
                        e.dir,
                        format!("{}: a single environment (nothing to compare)", e.reason),
                    )
                }));
                continue;
            }
            let mut name = p.name.clone();
            if services.contains_key(&name) {
                // A pattern or config already named a service so: this one is named by its own base, else
                // by its overlays' parent path.
                name = match &p.part {
                    Some(place::Part::Base(base)) => base.display().to_string(),
                    _ => p
                        .envs
                        .first()
                        .and_then(|e| e.dir.parent())
                        .map_or_else(|| name.clone(), |d| d.display().to_string()),
                };
            }
            if configured_names.contains(name.as_str()) {
                left_out.extend(p.envs.into_iter().map(|e| {
                    (
                        e.dir,
                        format!("service {name} is configured (services.{name})"),
                    )
                }));
                continue;
            }
            let service = services.entry(name.clone()).or_insert_with(|| Service {
                name: name.clone(),
                base: p.base.clone(),
                overlays: IndexMap::new(),
                reasons: IndexMap::new(),
                deploy: IndexMap::new(),
                part: p.part.clone(),
            });
            for e in p.envs {
                if options.ignore.contains(&e.env) {
                    continue;
                }
                service.reasons.insert(e.env.clone(), e.reason);
                if e.deploy != deploy::Deployment::default() {
                    service.deploy.insert(e.env.clone(), e.deploy);
                }
                service.overlays.insert(e.env, e.dir);
            }
        }
        for n in graph.nodes.values() {
            if n.component && scope.inside(&n.dir) {
                left_out.push((n.dir.clone(), "component (mixed into overlays)".into()));
            }
        }
    }

    let found: BTreeSet<String> = services
        .values()
        .flat_map(|s| s.overlays.keys().cloned())
        .collect();
    let (tiers, order_source) = order(&found, options, &mut problems);
    let envs = tiers::flatten(&tiers);

    let mut services: Vec<Service> = services
        .into_values()
        .map(|mut s| {
            let mut ordered = IndexMap::new();
            let mut reasons = IndexMap::new();
            for env in &envs {
                if let Some(dir) = s.overlays.shift_remove(env) {
                    ordered.insert(env.clone(), dir);
                }
                if let Some(reason) = s.reasons.shift_remove(env) {
                    reasons.insert(env.clone(), reason);
                }
            }
            s.overlays = ordered;
            s.reasons = reasons;
            s
        })
        .filter(|s| !s.overlays.is_empty())
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));

    // An empty map is an error only when the repo holds no kustomization at all (a wrong path, most
    // likely); kustomizations that are single deployments are listed as left out, not as an error.
    if services.is_empty() && (kustomizations == 0 || !detect) {
        problems.push(Problem {
            service: None,
            env: None,
            message: format!(
                "no Kustomize overlays found in {} (looked for {}); set `layout.overlays` in config.toml",
                root.display(),
                patterns.join(", ")
            ),
        });
    } else if !options.include.is_empty() && !included_any {
        problems.push(Problem {
            service: None,
            env: None,
            message: format!(
                "`layout.include` ({}) matches no overlay in {}",
                options.include.join(", "),
                root.display()
            ),
        });
    }
    // One directory may be reached twice (two GitOps objects deploying it): listed once per reason.
    let mut seen = BTreeSet::new();
    left_out.retain(|entry| seen.insert(entry.clone()));
    Discovery {
        root: root.to_path_buf(),
        layouts,
        services,
        tiers,
        envs,
        order_source,
        problems,
        excluded: excluded_dirs.into_iter().collect(),
        kustomizations,
        roots,
        left_out,
    }
}

/// `dir` without its `index`th segment (the environment of a pattern match), as a service name.
fn without_segment(dir: &Path, index: Option<usize>) -> String {
    dir.components()
        .enumerate()
        .filter(|(i, _)| Some(*i) != index)
        .map(|(_, c)| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A directory as config and `discover` name it (`.` for the repo's root).
fn shown(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".into()
    } else {
        dir.display().to_string()
    }
}

/// Whether `dir` (repo-relative) is a directory that stays inside the repo once links are resolved.
fn inside_repo(root: &Path, dir: &Path) -> bool {
    match (root.canonicalize(), root.join(dir).canonicalize()) {
        (Ok(root), Ok(dir)) => dir.starts_with(&root) && dir.is_dir(),
        _ => false,
    }
}

/// Places the service `c` as config writes it: each environment's directory, if it can be deployed (a
/// kustomization, or a directory a Flux Kustomization deploys), with how a GitOps object deploys it. What
/// cannot be is a problem naming the service, environment and path; the rest is placed.
fn configured(
    root: &Path,
    reader: &Reader,
    objects: Option<&crate::gitops::GitOpsObjects>,
    targets: &[crate::gitops::LocalTarget],
    c: &Configured,
    ignore: &[String],
    problems: &mut Vec<Problem>,
) -> Service {
    let mut service = Service {
        name: c.name.clone(),
        base: None,
        overlays: IndexMap::new(),
        reasons: IndexMap::new(),
        deploy: IndexMap::new(),
        part: None,
    };
    for (env, dir) in &c.overlays {
        if ignore.contains(env) {
            continue;
        }
        let deployment = objects
            .map(|o| deployment_of(dir, env, targets, o, reader))
            .unwrap_or_default();
        let wrong = if !inside_repo(root, dir) {
            Some("is not a directory of the repo")
        } else if kustomization_file(&root.join(dir)).is_none() && !deployment.generate {
            Some("holds no kustomization, and no Flux Kustomization deploys it")
        } else {
            None
        };
        if let Some(wrong) = wrong {
            problems.push(Problem {
                service: Some(c.name.clone()),
                env: Some(env.clone()),
                message: format!(
                    "`services.{}.overlays.{env}`: {} {wrong}",
                    c.name,
                    shown(dir)
                ),
            });
            continue;
        }
        service.overlays.insert(env.clone(), dir.clone());
        service
            .reasons
            .insert(env.clone(), format!("config: services.{}", c.name));
        if deployment != deploy::Deployment::default() {
            service.deploy.insert(env.clone(), deployment);
        }
    }
    if let Some(base) = &c.base {
        let wrong = if !inside_repo(root, base) {
            Some("is not a directory of the repo")
        } else if kustomization_file(&root.join(base)).is_none() {
            Some("holds no kustomization")
        } else {
            None
        };
        match wrong {
            None => service.base = Some(base.clone()),
            Some(wrong) => problems.push(Problem {
                service: Some(c.name.clone()),
                env: None,
                message: format!("`services.{}.base`: {} {wrong}", c.name, shown(base)),
            }),
        }
    }
    service
}

/// How the repo's GitOps objects deploy `dir` as the environment `env`: as the object whose name,
/// destination namespace or destination cluster names `env` deploys it, else as the first that deploys it
/// (none: the default, a plain `kustomize build`).
fn deployment_of(
    dir: &Path,
    env: &str,
    targets: &[crate::gitops::LocalTarget],
    objects: &crate::gitops::GitOpsObjects,
    reader: &Reader,
) -> deploy::Deployment {
    use crate::gitops::Owner;
    let tokens = |s: &str| -> Vec<String> {
        s.split(['-', '_', '.'])
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let wanted = tokens(env);
    let names_env =
        |name: &str| !wanted.is_empty() && tokens(name).windows(wanted.len()).any(|w| w == wanted);
    let mut first = None;
    for target in targets.iter().filter(|t| t.exists && target_dir(t) == dir) {
        let (_, deployment, destination) = deploy::of_target(target, objects, dir, reader);
        let (Owner::Application { name, .. } | Owner::FluxKustomization { name, .. }) =
            &target.owner;
        let destination = destination.unwrap_or_default();
        let named = [
            Some(name.as_str()),
            destination.namespace.as_deref(),
            destination.name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(names_env);
        if named {
            return deployment;
        }
        first.get_or_insert(deployment);
    }
    first.unwrap_or_default()
}

#[derive(Debug, Clone, Default)]
struct Captures {
    service: Option<String>,
    env: String,
    wild: Vec<String>,
}

fn walk(
    root: &Path,
    rel: &Path,
    segments: &[&str],
    caps: &mut Captures,
    out: &mut Vec<(PathBuf, Captures)>,
) {
    let Some((first, rest)) = segments.split_first() else {
        if kustomization_file(&root.join(rel)).is_some() && !caps.env.is_empty() {
            out.push((rel.to_path_buf(), caps.clone()));
        }
        return;
    };
    let placeholder = matches!(*first, "{service}" | "{env}" | "*");
    if !placeholder {
        let next = rel.join(first);
        if root.join(&next).is_dir() {
            walk(root, &next, rest, caps, out);
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.starts_with('_'))
        .collect();
    names.sort();
    for name in names {
        let mut c = caps.clone();
        match *first {
            "{service}" => c.service = Some(name.clone()),
            "{env}" => c.env = name.clone(),
            _ => c.wild.push(name.clone()),
        }
        walk(root, &rel.join(&name), rest, &mut c, out);
    }
}

fn find_base(
    root: &Path,
    overlay: &Path,
    caps: &Captures,
    pattern: Option<&str>,
) -> Option<PathBuf> {
    if let Some(pattern) = pattern {
        let mut p = pattern.to_string();
        if let Some(s) = &caps.service {
            p = p.replace("{service}", s);
        }
        for w in &caps.wild {
            p = p.replacen('*', w, 1);
        }
        let p = PathBuf::from(p);
        return kustomization_file(&root.join(&p)).map(|_| p);
    }
    let parent = overlay.parent()?;
    let candidates = [
        Some(parent.join("base")),
        parent.parent().map(|g| g.join("base")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|c| kustomization_file(&root.join(c)).is_some())
}

/// The tiers of the environments `found`: as configured (`environments.tiers`), else by a configured
/// promotion order (`environments.order`), else inferred from their names. A found environment that config
/// does not list is a problem (it is left out); a listed one not found is dropped.
fn order(
    found: &BTreeSet<String>,
    options: &Options,
    problems: &mut Vec<Problem>,
) -> (Vec<Tier>, OrderSource) {
    let (configured, source) = if !options.tiers.is_empty() {
        (
            tiers::configured(&options.tiers, &options.vocabulary),
            OrderSource::Tiers,
        )
    } else if !options.order.is_empty() {
        (
            tiers::from_order(&options.order, &options.vocabulary),
            OrderSource::Configured,
        )
    } else {
        let inferred = tiers::infer(found.iter().map(String::as_str), &options.vocabulary);
        return (inferred, OrderSource::Inferred);
    };
    let listed = |e: &String| configured.iter().any(|t| t.envs.contains(e));
    let unlisted: Vec<&str> = found
        .iter()
        .filter(|e| !listed(e))
        .map(String::as_str)
        .collect();
    if !unlisted.is_empty() {
        problems.push(Problem {
            service: None,
            env: None,
            message: format!(
                "environment(s) {} found in the repo but missing from `{}`: add them, or list them in `environments.ignore`",
                unlisted.join(", "),
                source.key().unwrap_or("environments.order")
            ),
        });
    }
    // Only what the repo has: the reference peer of a tier is the first of those.
    let kept: Vec<Tier> = configured
        .into_iter()
        .filter_map(|mut t| {
            t.envs
                .retain(|e| found.contains(e) && !options.ignore.contains(e));
            (!t.envs.is_empty()).then_some(t)
        })
        .collect();
    // The tiers' names were chosen among every configured environment; choose again among those kept.
    let groups: Vec<Vec<String>> = kept.into_iter().map(|t| t.envs).collect();
    (tiers::configured(&groups, &options.vocabulary), source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(dirs: &[&str]) -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        for d in dirs {
            let p = t.path().join(d);
            std::fs::create_dir_all(&p).expect("mkdir");
            std::fs::write(p.join("kustomization.yaml"), "resources: []\n").expect("write");
        }
        t
    }

    #[test]
    fn detects_apps_layout_and_bases() {
        let t = repo(&[
            "apps/a/base",
            "apps/a/overlays/dev",
            "apps/a/overlays/production",
            "apps/b/base",
            "apps/b/overlays/staging",
        ]);
        let d = discover(t.path(), &Options::default());
        assert_eq!(d.layouts, ["apps/{service}/overlays/{env}"]);
        assert_eq!(d.envs, ["dev", "staging", "production"]);
        assert_eq!(d.services.len(), 2);
        assert_eq!(
            d.services[0].base.as_deref(),
            Some(Path::new("apps/a/base"))
        );
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn excluded_overlays_are_left_out_and_listed() {
        let t = repo(&[
            "apps/a/base",
            "apps/a/overlays/dev",
            "apps/a/overlays/production",
            "apps/helm/base",
            "apps/helm/overlays/dev",
            "apps/helm/overlays/production",
            "apps/b/base",
            "apps/b/overlays/dev",
            "apps/b/overlays/production",
        ]);
        let options = Options {
            exclude: vec!["apps/helm".into(), "apps/b/overlays/prod*".into()],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        let names: Vec<&str> = d.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(d.services[1].overlays.len(), 1, "b keeps dev only");
        assert_eq!(
            d.excluded,
            [
                Path::new("apps/b/overlays/production"),
                // This test's bases reference nothing and nothing references them: roots of the graph.
                Path::new("apps/helm/base"),
                Path::new("apps/helm/overlays/dev"),
                Path::new("apps/helm/overlays/production"),
            ]
        );
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn argo_cd_applications_place_what_they_deploy() {
        let t = tempfile::tempdir().expect("tempdir");
        let write = |path: &str, text: &str| {
            let p = t.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        for dir in ["deploy/catalog-a", "deploy/catalog-b", "web/overlay"] {
            write(&format!("{dir}/kustomization.yaml"), "resources: []\n");
        }
        let app = |name: &str, path: &str, namespace: &str| {
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n\
                 spec:\n  project: default\n  source:\n    repoURL: https://git.example.com/infra.git\n    path: {path}\n\
                 \x20   targetRevision: main\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {namespace}\n"
            )
        };
        write(
            "argocd/apps.yaml",
            &[
                app("catalog-dev", "deploy/catalog-a", "shop"),
                app("catalog-prod", "deploy/catalog-b", "shop"),
                app("web-east", "web/overlay", "web-staging"),
                app("web-west", "web/overlay", "web-prod"),
            ]
            .join("---\n"),
        );
        let d = discover(t.path(), &Options::default());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        let summary: Vec<(String, Vec<(String, String)>)> = d
            .services
            .iter()
            .map(|s| {
                let envs = s
                    .overlays
                    .iter()
                    .map(|(e, dir)| (e.clone(), dir.display().to_string()))
                    .collect();
                (s.name.clone(), envs)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "catalog".to_string(),
                    vec![
                        ("dev".to_string(), "deploy/catalog-a".to_string()),
                        ("prod".into(), "deploy/catalog-b".into())
                    ]
                ),
                (
                    "web".to_string(),
                    vec![
                        ("staging".to_string(), "web/overlay".to_string()),
                        ("prod".into(), "web/overlay".into())
                    ]
                ),
            ]
        );
        assert_eq!(
            d.services[0].reasons["dev"],
            "argo-cd Application argocd/catalog-dev"
        );
    }

    /// Writes `files` (path, text) under a new temp dir.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let p = t.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        t
    }

    /// Each service as (name, [(env, dir)]).
    fn map(d: &Discovery) -> Vec<(String, Vec<(String, String)>)> {
        d.services
            .iter()
            .map(|s| {
                let envs = s
                    .overlays
                    .iter()
                    .map(|(e, dir)| (e.clone(), dir.display().to_string()))
                    .collect();
                (s.name.clone(), envs)
            })
            .collect()
    }

    fn configured_service(name: &str, overlays: &[(&str, &str)], base: Option<&str>) -> Configured {
        Configured {
            name: name.into(),
            overlays: overlays
                .iter()
                .map(|(e, d)| (e.to_string(), PathBuf::from(d)))
                .collect(),
            base: base.map(PathBuf::from),
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_configured_service_takes_its_directories_from_every_automatic_placement() {
        let argo = |name: &str, path: &str, prefix: &str| {
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n\
                 spec:\n  source:\n    repoURL: https://git.example.com/infra.git\n    path: {path}\n\
                 \x20   kustomize:\n      namePrefix: {prefix}\n  destination:\n    namespace: shop\n"
            )
        };
        let k = "resources: []\n";
        let t = tree(&[
            // A layout pattern would make `web` of apps/web/overlays/{dev,prod}.
            ("apps/web/base/kustomization.yaml", k),
            (
                "apps/web/overlays/dev/kustomization.yaml",
                "resources: [../../base]\n",
            ),
            (
                "apps/web/overlays/prod/kustomization.yaml",
                "resources: [../../base]\n",
            ),
            ("legacy/web/prod/kustomization.yaml", k),
            // The graph would make `regions` of three peers.
            ("regions/base/kustomization.yaml", k),
            (
                "regions/prod-eu/kustomization.yaml",
                "resources: [../base]\n",
            ),
            (
                "regions/prod-us/kustomization.yaml",
                "resources: [../base]\n",
            ),
            (
                "regions/staging-eu/kustomization.yaml",
                "resources: [../base]\n",
            ),
            // Argo CD would make `catalog` of what its Applications deploy.
            ("deploy/catalog-a/kustomization.yaml", k),
            ("deploy/catalog-b/kustomization.yaml", k),
            (
                "argocd/apps.yaml",
                &[
                    argo("catalog-dev", "deploy/catalog-a", "dev-"),
                    argo("catalog-prod", "deploy/catalog-b", "prod-"),
                ]
                .join("---\n"),
            ),
            // Variants of a default kustomization.
            ("imgproxy/kustomize/kustomization.yaml", k),
            (
                "imgproxy/variants/dev/kustomization.yaml",
                "resources: [../../kustomize]\n",
            ),
            (
                "imgproxy/variants/ha/kustomization.yaml",
                "resources: [../../kustomize]\n",
            ),
        ]);
        let options = Options {
            services: vec![
                configured_service(
                    "web",
                    &[
                        ("dev", "apps/web/overlays/dev"),
                        ("prod", "legacy/web/prod"),
                    ],
                    Some("apps/web/base"),
                ),
                configured_service(
                    "eu",
                    &[
                        ("staging", "regions/staging-eu"),
                        ("prod", "regions/prod-eu"),
                    ],
                    None,
                ),
                configured_service(
                    "shop",
                    &[("dev", "deploy/catalog-a"), ("prod", "deploy/catalog-b")],
                    None,
                ),
                configured_service(
                    "img",
                    &[
                        ("default", "imgproxy/kustomize"),
                        ("dev", "imgproxy/variants/dev"),
                    ],
                    None,
                ),
            ],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(
            map(&d),
            [
                // What the pattern still finds of `web` is named by its path.
                (
                    "apps/web/overlays".to_string(),
                    pairs(&[("prod", "apps/web/overlays/prod")])
                ),
                (
                    "eu".into(),
                    pairs(&[
                        ("staging", "regions/staging-eu"),
                        ("prod", "regions/prod-eu")
                    ])
                ),
                (
                    "img".into(),
                    pairs(&[
                        ("default", "imgproxy/kustomize"),
                        ("dev", "imgproxy/variants/dev")
                    ])
                ),
                (
                    "shop".into(),
                    pairs(&[("dev", "deploy/catalog-a"), ("prod", "deploy/catalog-b")])
                ),
                (
                    "web".into(),
                    pairs(&[
                        ("dev", "apps/web/overlays/dev"),
                        ("prod", "legacy/web/prod")
                    ])
                ),
            ]
        );
        let web = &d.services[4];
        assert_eq!(web.base.as_deref(), Some(Path::new("apps/web/base")));
        assert_eq!(web.reasons["prod"], "config: services.web");
        // The Applications that deploy shop's directories still say how: prefix and namespace.
        let shop = &d.services[3];
        assert_eq!(shop.reasons["prod"], "config: services.shop");
        let prod = &shop.deploy["prod"];
        assert_eq!(prod.namespace.as_deref(), Some("shop"));
        assert!(
            format!("{:?}", prod.layer).contains("prod-"),
            "{:?}",
            prod.layer
        );
        assert!(
            format!("{:?}", shop.deploy["dev"].layer).contains("dev-"),
            "{:?}",
            shop.deploy
        );
        // What automatic discovery is left with of the groups config took: single environments.
        let left: Vec<&Path> = d.left_out.iter().map(|(dir, _)| dir.as_path()).collect();
        assert!(left.contains(&Path::new("regions/prod-us")), "{left:?}");
        assert!(
            left.contains(&Path::new("imgproxy/variants/ha")),
            "{left:?}"
        );
    }

    #[test]
    fn configured_directories_that_cannot_be_deployed_are_problems_and_the_rest_is_placed() {
        let t = tree(&[
            ("apps/a/overlays/dev/kustomization.yaml", "resources: []\n"),
            ("apps/a/overlays/prod/kustomization.yaml", "resources: []\n"),
            ("manual/prod/cm.yaml", "kind: ConfigMap\n"),
            // Flux deploys a directory without a kustomization: it generates one.
            ("plain/qa/cm.yaml", "kind: ConfigMap\n"),
            (
                "clusters/qa/web.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: flux-system\n\
                 spec:\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  path: ./plain/qa\n",
            ),
        ]);
        let options = Options {
            overlays: vec!["apps/{service}/overlays/{env}".into()],
            services: vec![configured_service(
                "x",
                &[
                    ("dev", "apps/a/overlays/dev"),
                    ("prod", "manual/prod"),
                    ("qa", "plain/qa"),
                    ("staging", "missing/staging"),
                ],
                Some("nope/base"),
            )],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        let problems: Vec<(Option<&str>, Option<&str>, &str)> = d
            .problems
            .iter()
            .map(|p| (p.service.as_deref(), p.env.as_deref(), p.message.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    Some("x"),
                    Some("prod"),
                    "`services.x.overlays.prod`: manual/prod holds no kustomization, and no Flux Kustomization deploys it"
                ),
                (
                    Some("x"),
                    Some("staging"),
                    "`services.x.overlays.staging`: missing/staging is not a directory of the repo"
                ),
                (
                    Some("x"),
                    None,
                    "`services.x.base`: nope/base is not a directory of the repo"
                ),
            ]
        );
        assert_eq!(
            map(&d),
            [
                ("a".to_string(), pairs(&[("prod", "apps/a/overlays/prod")])),
                (
                    "x".into(),
                    pairs(&[("dev", "apps/a/overlays/dev"), ("qa", "plain/qa")])
                ),
            ],
            "the configured pattern does not take x's directory"
        );
        assert!(d.services[1].deploy["qa"].generate);
        assert_eq!(d.services[1].base, None);
    }

    #[test]
    fn include_globs_limit_automatic_discovery() {
        let k = "resources: []\n";
        let t = tree(&[
            ("apps/web/base/kustomization.yaml", k),
            ("apps/web/dev/kustomization.yaml", "resources: [../base]\n"),
            ("apps/web/prod/kustomization.yaml", "resources: [../base]\n"),
            ("apps/old/dev/kustomization.yaml", k),
            ("apps/old/prod/kustomization.yaml", k),
            ("clusters/prod-eu/infra/kustomization.yaml", k),
            ("clusters/staging-eu/infra/kustomization.yaml", k),
            ("tools/base/kustomization.yaml", k),
            ("tools/dev/kustomization.yaml", "resources: [../base]\n"),
            ("tools/prod/kustomization.yaml", "resources: [../base]\n"),
            ("tools/mixin/kustomization.yaml", "kind: Component\n"),
            ("envs/dev/kustomization.yaml", k),
            ("envs/prod/kustomization.yaml", k),
        ]);
        let options = Options {
            include: vec!["apps/**".into(), "clusters/prod-*/**".into()],
            exclude: vec!["apps/old".into()],
            services: vec![configured_service(
                "tools",
                &[("dev", "tools/dev"), ("prod", "tools/prod")],
                None,
            )],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(
            map(&d),
            [
                (
                    "tools".to_string(),
                    pairs(&[("dev", "tools/dev"), ("prod", "tools/prod")])
                ),
                (
                    "web".into(),
                    pairs(&[("dev", "apps/web/dev"), ("prod", "apps/web/prod")])
                ),
            ],
            "a configured service is placed wherever it is"
        );
        let outside: Vec<String> = d
            .left_out
            .iter()
            .filter(|(_, why)| why == OUTSIDE_INCLUDE)
            .map(|(dir, _)| dir.display().to_string())
            .collect();
        // Roots only: not tools/base (a base) nor tools/mixin (a component).
        assert_eq!(
            outside,
            ["clusters/staging-eu/infra", "envs/dev", "envs/prod"]
        );
        assert!(
            !d.left_out.iter().any(|(dir, _)| dir.starts_with("tools")),
            "{:?}",
            d.left_out
        );
        assert_eq!(
            d.excluded,
            [Path::new("apps/old/dev"), Path::new("apps/old/prod")]
        );

        // Directories config claims count as matched.
        let options = Options {
            include: vec!["tools/**".into()],
            services: options.services,
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.services.len(), 1);

        // An include that matches nothing is a problem, not an empty map that passes.
        let options = Options {
            include: vec!["app/**".into()],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.services.is_empty());
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert!(
            d.problems[0]
                .message
                .starts_with("`layout.include` (app/**) matches no overlay in "),
            "{:?}",
            d.problems
        );
    }

    #[test]
    fn include_globs_apply_to_configured_patterns() {
        let t = repo(&[
            "apps/a/overlays/dev",
            "apps/a/overlays/prod",
            "apps/b/overlays/dev",
            "apps/b/overlays/prod",
        ]);
        let options = Options {
            overlays: vec!["apps/{service}/overlays/{env}".into()],
            include: vec!["apps/a/**".into()],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(
            map(&d),
            [(
                "a".to_string(),
                pairs(&[
                    ("dev", "apps/a/overlays/dev"),
                    ("prod", "apps/a/overlays/prod")
                ])
            )]
        );
        assert_eq!(
            d.left_out,
            [
                (
                    PathBuf::from("apps/b/overlays/dev"),
                    OUTSIDE_INCLUDE.to_string()
                ),
                (
                    PathBuf::from("apps/b/overlays/prod"),
                    OUTSIDE_INCLUDE.to_string()
                ),
            ]
        );
    }

    #[test]
    fn single_service_layouts_are_named_after_the_repo() {
        let t = repo(&["base", "envs/dev", "envs/prod"]);
        let d = discover(t.path(), &Options::default());
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.services[0].base.as_deref(), Some(Path::new("base")));
        assert_eq!(d.envs, ["dev", "prod"]);
    }

    #[test]
    fn clusters_wildcard_names_the_service() {
        let t = repo(&[
            "clusters/eu/base",
            "clusters/eu/overlays/dev",
            "clusters/eu/overlays/prod",
        ]);
        let d = discover(t.path(), &Options::default());
        assert_eq!(d.services[0].name, "eu");
    }

    #[test]
    fn a_missing_base_is_no_problem_but_an_empty_repo_is() {
        let t = repo(&["apps/a/overlays/dev", "apps/a/overlays/prod"]);
        let d = discover(t.path(), &Options::default());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.services[0].base, None);
        assert_eq!(d.services[0].overlays.len(), 2);
        let empty = tempfile::tempdir().expect("tempdir");
        let d = discover(empty.path(), &Options::default());
        assert!(
            d.problems[0]
                .message
                .contains("no Kustomize overlays found")
        );
    }

    #[test]
    fn configured_pattern_and_order() {
        let t = repo(&["envs/qa/web", "envs/live/web", "envs/qa/api", "base/web"]);
        let d = discover(
            t.path(),
            &Options {
                overlays: vec!["envs/{env}/{service}".into()],
                base: Some("base/{service}".into()),
                order: vec!["qa".into(), "live".into()],
                tiers: vec![],
                vocabulary: Vocabulary::default(),
                ignore: vec![],
                exclude: vec![],
                include: vec![],
                services: vec![],
                max_file_bytes: crate::input::DEFAULT_MAX_BYTES,
            },
        );
        assert_eq!(d.envs, ["qa", "live"]);
        let web = d.services.iter().find(|s| s.name == "web").expect("web");
        assert_eq!(web.base.as_deref(), Some(Path::new("base/web")));
        assert_eq!(web.overlays.len(), 2);
        assert!(
            d.problems.is_empty(),
            "api has no base, and needs none: {:?}",
            d.problems
        );
        let api = d.services.iter().find(|s| s.name == "api").expect("api");
        assert_eq!(
            api.reasons["qa"],
            "config: layout.overlays \"envs/{env}/{service}\""
        );
    }

    /// Each tier as (name, environments with the reference peer first).
    fn tier_shape(d: &Discovery) -> Vec<(String, Vec<String>)> {
        d.tiers
            .iter()
            .map(|t| (t.name.clone(), t.envs.clone()))
            .collect()
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    const REGIONS: [&str; 6] = [
        "apps/a/base",
        "apps/a/overlays/dev",
        "apps/a/overlays/staging",
        "apps/a/overlays/prod-us",
        "apps/a/overlays/prod-eu",
        "apps/a/overlays/canary",
    ];

    #[test]
    fn tiers_are_inferred_with_alphabetical_reference_peers() {
        let t = repo(&REGIONS);
        let d = discover(t.path(), &Options::default());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.order_source, OrderSource::Inferred);
        assert_eq!(
            tier_shape(&d),
            [
                // No environment word: before the known tiers, never the reference.
                ("canary".to_string(), owned(&["canary"])),
                ("dev".into(), owned(&["dev"])),
                ("staging".into(), owned(&["staging"])),
                ("prod".into(), owned(&["prod-eu", "prod-us"])),
            ]
        );
        // The flat order keeps "the last of a tier is its reference".
        assert_eq!(d.envs, ["canary", "dev", "staging", "prod-us", "prod-eu"]);
        assert_eq!(
            d.services[0].overlays.keys().collect::<Vec<_>>(),
            ["canary", "dev", "staging", "prod-us", "prod-eu"]
        );
    }

    #[test]
    fn a_configured_order_picks_the_reference_peer() {
        let t = repo(&REGIONS);
        let options = Options {
            order: owned(&["dev", "staging", "prod-us", "prod-eu", "canary"]),
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.tiers[2].envs, ["prod-us", "prod-eu"]);
        assert_eq!(d.tiers[2].reference(), "prod-us");
        assert_eq!(d.envs, ["dev", "staging", "prod-eu", "prod-us", "canary"]);
    }

    #[test]
    fn configured_tiers_and_vocabulary() {
        let t = repo(&REGIONS);
        let options = Options {
            tiers: vec![
                owned(&["dev"]),
                owned(&["staging", "canary"]),
                owned(&["prod-us", "prod-eu"]),
                owned(&["prod-ap"]),
            ],
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.order_source, OrderSource::Tiers);
        assert_eq!(
            tier_shape(&d),
            [
                ("dev".to_string(), owned(&["dev"])),
                ("staging".into(), owned(&["staging", "canary"])),
                ("prod".into(), owned(&["prod-us", "prod-eu"])),
            ],
            "prod-ap is not in the repo"
        );
        // A vocabulary without `canary` in it and with `staging` as a production word.
        let options = Options {
            vocabulary: Vocabulary::new(&[owned(&["dev"]), owned(&["prod", "staging"])]),
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert_eq!(
            tier_shape(&d),
            [
                ("canary".to_string(), owned(&["canary"])),
                ("dev".into(), owned(&["dev"])),
                ("prod".into(), owned(&["prod-eu", "prod-us", "staging"])),
            ]
        );
    }

    #[test]
    fn an_environment_in_no_configured_tier_is_a_problem() {
        let t = repo(&REGIONS);
        let options = Options {
            tiers: vec![owned(&["dev", "staging"]), owned(&["prod-us", "prod-eu"])],
            ignore: owned(&["dev"]),
            ..Options::default()
        };
        let d = discover(t.path(), &options);
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert_eq!(
            d.problems[0].message,
            "environment(s) canary found in the repo but missing from `environments.tiers`: add them, or list them in `environments.ignore`"
        );
        assert_eq!(d.envs, ["staging", "prod-eu", "prod-us"]);
    }
}
