//! Which services and environments a repo holds — the deployment map — and their promotion order: tiers,
//! and peers within a tier ([`tiers`]).
//!
//! With `layout.overlays` configured, only those patterns place overlays. Otherwise the well-known layout
//! patterns ([`COMMON_LAYOUTS`]) place what they match first (so every service and environment keeps the
//! name it always had), and the roots of the kustomization graph ([`graph`]) that no pattern claimed are
//! placed by their paths ([`place`]): an environment segment names the environment, the rest the service.
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
    /// What is wrong (names the path).
    pub message: String,
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
            max_file_bytes: crate::input::DEFAULT_MAX_BYTES,
        }
    }
}

/// Whether `dir` (repo-relative) or one of its parents matches one of `globs`.
fn excluded(globs: &globset::GlobSet, dir: &Path) -> bool {
    !globs.is_empty()
        && dir
            .ancestors()
            .any(|d| !d.as_os_str().is_empty() && globs.is_match(d))
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
    let mut globs = globset::GlobSetBuilder::new();
    // Config validated every glob; one that still does not compile excludes nothing.
    for glob in options
        .exclude
        .iter()
        .filter_map(|g| globset::Glob::new(g).ok())
    {
        globs.add(glob);
    }
    let globs = globs.build().unwrap_or_else(|_| globset::GlobSet::empty());
    let mut excluded_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for pattern in &patterns {
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
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
            if NOT_ENVS.contains(&caps.env.as_str()) || claimed.contains(&dir) {
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
            if excluded(&globs, &dir) {
                excluded_dirs.insert(dir);
                continue;
            }
            used = true;
            let name = caps
                .service
                .clone()
                .or_else(|| (!caps.wild.is_empty()).then(|| caps.wild.join("/")))
                .unwrap_or_else(|| repo_name.clone());
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

    // The kustomization graph places the roots no pattern claimed (only when config names no layout).
    let mut left_out: Vec<(PathBuf, String)> = Vec::new();
    let (mut kustomizations, mut roots) = (0, 0);
    if detect {
        let reader = Reader::new(root, options.max_file_bytes);
        let graph = graph::Graph::build(&reader);
        kustomizations = graph.nodes.len();
        roots = graph.roots().count();
        // The repo's own Argo CD and Flux objects place what they deploy, before path conventions do.
        let identity = crate::gitops::RepoIdentity::unknown();
        let objects = crate::gitops::scan(root, &reader, &identity);
        let (targets, of_patterns): (Vec<_>, Vec<_>) = crate::gitops::targets(&objects, &identity)
            .local
            .into_iter()
            .filter(|t| t.exists && !excluded(&globs, Path::new(&t.path)))
            .partition(|t| !claimed.contains(Path::new(&t.path)));
        // A directory a pattern placed keeps its name and reason, and is rendered the way its GitOps
        // object deploys it.
        for target in &of_patterns {
            let dir = PathBuf::from(&target.path);
            let (_, deployment, _) = deploy::of_target(target, &objects, &dir, &reader);
            for service in services.values_mut() {
                let envs: Vec<String> = service
                    .overlays
                    .iter()
                    .filter(|(_, d)| **d == dir)
                    .map(|(e, _)| e.clone())
                    .collect();
                for env in envs {
                    if deployment != deploy::Deployment::default() {
                        service.deploy.insert(env, deployment.clone());
                    }
                }
            }
        }
        let (by_gitops, left, taken) = place::place_targets(
            &graph,
            &objects,
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
                let out = excluded(&globs, &n.dir);
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
        for p in placed {
            let mut name = p.name.clone();
            if services.contains_key(&name) {
                // A pattern already named a service so: this one is named by its own base, else by its
                // overlays' parent path.
                name = match &p.part {
                    Some(place::Part::Base(base)) => base.display().to_string(),
                    _ => p
                        .envs
                        .first()
                        .and_then(|e| e.dir.parent())
                        .map_or_else(|| name.clone(), |d| d.display().to_string()),
                };
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
            if n.component {
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
            message: format!(
                "no Kustomize overlays found in {} (looked for {}); set `layout.overlays` in config.toml",
                root.display(),
                patterns.join(", ")
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
