//! Placing the roots of the kustomization graph that no layout pattern claimed: which environment a root
//! is (a path segment from the environment vocabulary), and which service (the rest of its path).
//!
//! A segment that *is* an environment word (`prod`, `staging`) names the environment. A segment that only
//! *contains* one as a token joined to a region or cluster part (`prod-eu`, `eu-prod`, `staging-us-east-1`)
//! names it only when sibling roots — the same path but for that segment — share a base, so `load-balancer`,
//! `test-utils` or `live-chat` are not environments. Roots whose paths differ only in the environment
//! segment are one service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::graph::{Graph, Node};
use super::tiers::Vocabulary;

/// Path segments that describe a layout, not a service (`apps/web/overlays/dev` is the service `web`).
const LAYOUT_WORDS: &[&str] = &[
    "overlays",
    "overlay",
    "envs",
    "env",
    "environments",
    "environment",
    "variants",
    "stages",
    "kustomize",
    "kustomization",
    "deploy",
    "deployment",
    "deployments",
    "k8s",
    "kube",
    "kubernetes",
    "manifests",
    "apps",
    "services",
    "clusters",
    "base",
    "bases",
];

/// One root placed in the deployment map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The service's name.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The root's directory.
    pub dir: PathBuf,
    /// Why it was placed so.
    pub reason: String,
    /// How the repo's GitOps object deploys it (default when placed by its path).
    pub deploy: super::deploy::Deployment,
}

/// A graph-placed service: its name, base and environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedService {
    /// Name.
    pub name: String,
    /// The base every environment pulls in, when there is one.
    pub base: Option<PathBuf>,
    /// Each environment's root.
    pub envs: Vec<Placed>,
    /// The share of the roots' objects that is this service's, when the roots deploy several apps.
    pub part: Option<Part>,
}

/// The share of its roots' objects a service checks when each root deploys the bases of several apps
/// (Flux's `apps/<cluster>` listing `../base/<app>` for every app): an object belongs to the app whose base
/// declares it (kustomize's origin annotation), and what the roots declare themselves is a service of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The objects declared under this base directory.
    Base(PathBuf),
    /// The objects declared under none of these base directories.
    Rest(Vec<PathBuf>),
}

impl Part {
    /// Whether an object declared in `origin` (a repo-relative file; `None` when kustomize did not say)
    /// is in this share.
    pub fn keeps(&self, origin: Option<&str>) -> bool {
        let under = |base: &Path| origin.is_some_and(|o| Path::new(o).starts_with(base));
        match self {
            Part::Base(base) => under(base),
            Part::Rest(bases) => !bases.iter().any(|b| under(b)),
        }
    }
}

/// Splits each service whose roots deploy the bases of several apps into one service per app. That is
/// the layout where the apps' bases are the directories of one `base`/`bases` directory that sits beside
/// the roots (`apps/base/<app>` + `apps/<cluster>`): a root whose bases sit elsewhere
/// (`deploy/bases/{frontend,backend}` + `deploy/overlays/<env>`) deploys the parts of one app, and stays one
/// service. Objects the roots declare themselves form a service that keeps the original name. A part
/// deployed to a single environment is left out.
pub fn split_apps(graph: &Graph, services: Vec<PlacedService>) -> (Vec<PlacedService>, LeftOut) {
    let mut out = Vec::new();
    let mut left_out: LeftOut = Vec::new();
    for service in services {
        let roots: Vec<&Node> = service
            .envs
            .iter()
            .filter_map(|e| graph.nodes.get(&e.dir))
            .collect();
        let mut bases: Vec<PathBuf> = Vec::new();
        for r in &roots {
            for b in &r.references {
                if !bases.contains(b) {
                    bases.push(b.clone());
                }
            }
        }
        let shelf = bases.first().and_then(|b| b.parent());
        let beside_roots = shelf.is_some_and(|shelf| {
            let named = shelf
                .file_name()
                .is_some_and(|n| matches!(n.to_str(), Some("base" | "bases")));
            named
                && bases.iter().all(|b| b.parent() == Some(shelf))
                && roots.iter().all(|r| r.dir.parent() == shelf.parent())
        });
        if bases.len() < 2 || !beside_roots || roots.len() != service.envs.len() {
            out.push(service);
            continue;
        }
        for base in &bases {
            let envs: Vec<Placed> = service
                .envs
                .iter()
                .filter(|e| {
                    graph
                        .nodes
                        .get(&e.dir)
                        .is_some_and(|n| n.references.contains(base))
                })
                .cloned()
                .collect();
            let name = base.file_name().map_or_else(
                || service.name.clone(),
                |n| n.to_string_lossy().into_owned(),
            );
            if envs.len() < 2 {
                left_out.extend(envs.into_iter().map(|e| {
                    (
                        base.clone(),
                        format!(
                            "deployed by {} only: a single environment (nothing to compare)",
                            e.dir.display()
                        ),
                    )
                }));
                continue;
            }
            out.push(PlacedService {
                name: name.clone(),
                base: Some(base.clone()),
                envs: envs
                    .into_iter()
                    .map(|mut e| {
                        e.service = name.clone();
                        e.reason = format!("{}, objects of {}", e.reason, base.display());
                        e
                    })
                    .collect(),
                part: Some(Part::Base(base.clone())),
            });
        }
        if roots.iter().any(|r| r.declares) {
            out.push(PlacedService {
                base: None,
                envs: service
                    .envs
                    .into_iter()
                    .map(|mut e| {
                        e.reason = format!("{}, objects of the root itself", e.reason);
                        e
                    })
                    .collect(),
                part: Some(Part::Rest(bases)),
                name: service.name,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, left_out)
}

/// Roots left out of the map, and why.
pub type LeftOut = Vec<(PathBuf, String)>;

fn tokens(segment: &str) -> impl Iterator<Item = String> + '_ {
    segment
        .split(['-', '_', '.'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Whether one of the segment's tokens is an environment word (and the segment is more than that word).
fn has_env_token(segment: &str, words: &Vocabulary) -> bool {
    !words.is_word(segment) && tokens(segment).any(|t| words.is_word(&t))
}

/// The index of the segment that names the environment: the last whole environment word, else the last
/// segment with an environment token (`strong` = false).
fn env_segment(segments: &[String], words: &Vocabulary) -> Option<(usize, bool)> {
    if let Some(i) = segments.iter().rposition(|s| words.is_word(s)) {
        return Some((i, true));
    }
    segments
        .iter()
        .rposition(|s| has_env_token(s, words))
        .map(|i| (i, false))
}

fn segments(dir: &Path) -> Vec<String> {
    dir.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// The service a path names once its environment segment is gone: its last segment that is not a layout
/// word, else the repo's name.
fn service_name(rest: &[String], repo_name: &str) -> String {
    rest.iter()
        .rev()
        .find(|s| !LAYOUT_WORDS.contains(&s.to_ascii_lowercase().as_str()))
        .cloned()
        .unwrap_or_else(|| repo_name.to_string())
}

/// Places `roots` (of `graph`) by their paths, recognising environments by `words`. Returns the services,
/// and the roots left out with why.
pub fn place(
    graph: &Graph,
    roots: &[&Node],
    repo_name: &str,
    words: &Vocabulary,
) -> (Vec<PlacedService>, LeftOut) {
    // Candidate service path (the root's path without its environment segment) → its roots.
    let mut groups: BTreeMap<Vec<String>, Vec<(&Node, String, bool)>> = BTreeMap::new();
    // Roots that no environment placement takes, with why: they may still be variants of a default.
    let mut loose: Vec<(&Node, &str)> = Vec::new();
    let mut left_out: LeftOut = Vec::new();
    for root in roots {
        let segs = segments(&root.dir);
        match env_segment(&segs, words) {
            Some((i, strong)) => {
                let mut rest = segs.clone();
                let env = rest.remove(i);
                groups.entry(rest).or_default().push((root, env, strong));
            }
            None => loose.push((
                root,
                "no environment in its path (a single deployment: nothing to compare)",
            )),
        }
    }
    let mut services: Vec<(Vec<String>, PlacedService)> = Vec::new();
    for (rest, members) in groups {
        let dirs: Vec<&Path> = members.iter().map(|(n, _, _)| n.dir.as_path()).collect();
        let base = graph.shared_base(&dirs);
        let weak = members.iter().any(|(_, _, strong)| !strong);
        if members.len() < 2 || (weak && base.is_none()) {
            let why = if members.len() < 2 && weak {
                // `live-chat` alone in its folder: a word that only contains an environment word names none.
                "no environment in its path (a single deployment: nothing to compare)"
            } else if members.len() < 2 {
                "a single environment (nothing to compare)"
            } else {
                "its environment-like segment is not an environment: the sibling roots share no base"
            };
            loose.extend(members.iter().map(|(n, _, _)| (*n, why)));
            continue;
        }
        let envs = members
            .iter()
            .map(|(n, env, _)| Placed {
                service: String::new(),
                env: env.clone(),
                dir: n.dir.clone(),
                reason: format!("path segment \"{env}\""),
                deploy: Default::default(),
            })
            .collect();
        services.push((
            rest.clone(),
            PlacedService {
                name: service_name(&rest, repo_name),
                base,
                envs,
                part: None,
            },
        ));
    }
    let (variants, rest) = variants(graph, loose, repo_name, words);
    services.extend(variants);
    left_out.extend(rest);
    // Two services that would share a name are named by their paths instead.
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, s) in &services {
        *count.entry(s.name.clone()).or_default() += 1;
    }
    let mut out: Vec<PlacedService> = services
        .into_iter()
        .map(|(rest, mut s)| {
            if count.get(&s.name).is_some_and(|n| *n > 1) {
                s.name = rest.join("/");
            }
            for e in &mut s.envs {
                e.service = s.name.clone();
            }
            s
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, left_out)
}

/// Variants of a default kustomization, among the roots no environment placement takes (`loose`, with why
/// each would be left out). Two shapes:
/// - variants that pull the default itself (`variants/{dev,ha}` pulling `kustomize/`, which is deployable:
///   not a `base`/`bases` directory, not a component);
/// - a default root beside variant roots that share its base (`kustomize/` and `kustomize/tests/<variant>`,
///   all pulling `kustomize/base`, which lies under the default).
///
/// The default is the environment `default`, each variant the environment its path names (else its
/// directory's name); they are one service, named by the default's path. Returns those services (keyed by
/// the default's path segments, named by `repo_name` when the path names nothing) and the roots left out,
/// with why.
fn variants<'g>(
    graph: &'g Graph,
    loose: Vec<(&'g Node, &str)>,
    repo_name: &str,
    words: &Vocabulary,
) -> (Vec<(Vec<String>, PlacedService)>, LeftOut) {
    let is_base_dir = |p: &Path| {
        matches!(
            p.file_name().and_then(|n| n.to_str()),
            Some("base" | "bases")
        )
    };
    let deployable = |dir: &Path| {
        graph.nodes.get(dir).is_some_and(|n| !n.component)
            && !dir.as_os_str().is_empty()
            && !dir.ancestors().any(is_base_dir)
    };
    // The default's directory -> (whether it is a root itself, its variants).
    let mut by_default: BTreeMap<PathBuf, Vec<(&Node, &str)>> = BTreeMap::new();
    let mut rest: Vec<(&Node, &str)> = Vec::new();
    for (root, why) in loose {
        match root.references.iter().find(|r| deployable(r)) {
            Some(default) => by_default
                .entry(default.clone())
                .or_default()
                .push((root, why)),
            None => rest.push((root, why)),
        }
    }
    // A default root is one whose own base lies under it; its variants share that base.
    let defaults: Vec<(&Node, PathBuf)> = rest
        .iter()
        .filter_map(|(r, _)| {
            let base = r
                .references
                .iter()
                .find(|b| b.starts_with(&r.dir) && **b != r.dir)?;
            Some((*r, base.clone()))
        })
        .collect();
    let mut left_out: LeftOut = Vec::new();
    for (root, why) in rest {
        let default = defaults.iter().find(|(d, base)| {
            d.dir != root.dir && root.dir.starts_with(&d.dir) && root.references.contains(base)
        });
        match default {
            Some((d, _)) => by_default
                .entry(d.dir.clone())
                .or_default()
                .push((root, why)),
            None if defaults.iter().any(|(d, _)| d.dir == root.dir) => {
                by_default.entry(root.dir.clone()).or_default();
            }
            None => left_out.push((root.dir.clone(), why.to_string())),
        }
    }
    let mut out = Vec::new();
    for (default, mut roots) in by_default {
        roots.sort_by(|a, b| a.0.dir.cmp(&b.0.dir));
        if roots.is_empty() {
            left_out.push((
                default,
                "no environment in its path (a single deployment: nothing to compare)".into(),
            ));
            continue;
        }
        // One root pulling a deployable kustomization is more often an app built on another one
        // (`pre-post-sync` on `kustomize-guestbook`) than a variant: variants come at least in pairs,
        // unless they sit inside the default's own directory.
        let default_is_root = graph
            .nodes
            .get(&default)
            .is_some_and(|n| n.referenced_by.is_empty());
        if roots.len() < 2 && !default_is_root {
            left_out.extend(
                roots
                    .iter()
                    .map(|(r, why)| (r.dir.clone(), why.to_string())),
            );
            continue;
        }
        let roots: Vec<&Node> = roots.into_iter().map(|(r, _)| r).collect();
        let mut envs = vec![Placed {
            service: String::new(),
            env: "default".into(),
            dir: default.clone(),
            reason: format!(
                "default kustomization of its variants ({})",
                roots
                    .iter()
                    .map(|r| r.dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            deploy: Default::default(),
        }];
        for root in roots {
            let segs = segments(&root.dir);
            let env = match env_segment(&segs, words) {
                Some((i, true)) => segs[i].clone(),
                _ => segs.last().cloned().unwrap_or_default(),
            };
            if envs.iter().any(|e| e.env == env) {
                left_out.push((
                    root.dir.clone(),
                    format!("a second variant named \"{env}\" of {}", default.display()),
                ));
                continue;
            }
            envs.push(Placed {
                service: String::new(),
                reason: format!("variant \"{env}\" of {}", default.display()),
                env,
                dir: root.dir.clone(),
                deploy: Default::default(),
            });
        }
        let key = segments(&default);
        // A default root is its own service's base only when a variant pulls it; else the shared base is.
        let base = graph.shared_base(&envs.iter().map(|e| e.dir.as_path()).collect::<Vec<_>>());
        out.push((
            key.clone(),
            PlacedService {
                name: service_name(&key, repo_name),
                base: base.or(Some(default)),
                envs,
                part: None,
            },
        ));
    }
    (out, left_out)
}

/// The environment word among the tokens of a name (`catalog-prod` → `prod`, `shop-staging` → `staging`).
fn env_token(name: &str, words: &Vocabulary) -> Option<String> {
    if words.is_word(name) {
        return Some(name.to_string());
    }
    tokens(name).find(|t| words.is_word(t))
}

/// Places the directories the repo's own Argo CD Applications and Flux Kustomizations deploy (those that
/// hold a kustomization and no pattern claimed). The environment is the first of: the environment segment of
/// the path, the environment token of the object's name, of its destination namespace, of its destination
/// cluster's name; the service is the path without that segment. Directories that GitOps objects deploy
/// but that name no environment, or that are the only environment of their service, are left out.
pub fn place_targets(
    graph: &Graph,
    objects: &crate::gitops::GitOpsObjects,
    targets: &[crate::gitops::LocalTarget],
    reader: &crate::input::Reader,
    repo_name: &str,
    words: &Vocabulary,
) -> (Vec<PlacedService>, LeftOut, Vec<PathBuf>) {
    use crate::gitops::Owner;
    let mut groups: BTreeMap<Vec<String>, Vec<Placed>> = BTreeMap::new();
    let mut left_out: LeftOut = Vec::new();
    let mut taken: Vec<PathBuf> = Vec::new();
    for target in targets.iter().filter(|t| t.exists) {
        let dir = if target.path == "." {
            PathBuf::new()
        } else {
            PathBuf::from(&target.path)
        };
        // Flux deploys a directory without a kustomization too, generating one over its manifests.
        let flux = matches!(target.owner, Owner::FluxKustomization { .. });
        let deployable =
            graph.nodes.contains_key(&dir) || (flux && reader.root().join(&dir).is_dir());
        if !deployable {
            continue;
        }
        let (reason, deploy, destination) = super::deploy::of_target(target, objects, &dir, reader);
        let name = match &target.owner {
            Owner::Application { name, .. } | Owner::FluxKustomization { name, .. } => name,
        };
        let segs = segments(&dir);
        // (the key that groups one service's environments, the environment)
        let placed: Option<(Vec<String>, String)> = match env_segment(&segs, words) {
            Some((i, _)) => {
                let mut rest = segs.clone();
                let env = rest.remove(i);
                Some((rest, env))
            }
            None => match env_token(name, words) {
                // `catalog-prod` and `catalog-staging` are one service, wherever their paths are.
                Some(env) => {
                    let service: Vec<String> = tokens(name).filter(|t| *t != env).collect();
                    Some((vec![format!("@{}", service.join("-"))], env))
                }
                // One directory sent to several namespaces or clusters: one environment each.
                None => destination
                    .as_ref()
                    .and_then(|d| {
                        d.namespace
                            .as_deref()
                            .and_then(|n| env_token(n, words))
                            .or_else(|| d.name.as_deref().and_then(|n| env_token(n, words)))
                    })
                    .map(|env| (segs.clone(), env)),
            },
        };
        if !taken.contains(&dir) {
            taken.push(dir.clone());
        }
        match placed {
            Some((rest, env)) => groups.entry(rest).or_default().push(Placed {
                service: String::new(),
                env,
                dir,
                reason,
                deploy,
            }),
            None => left_out.push((dir, format!("{reason} names no environment"))),
        }
    }
    let mut services = Vec::new();
    for (rest, mut envs) in groups {
        envs.sort_by(|a, b| a.env.cmp(&b.env));
        // One directory deployed for one environment by several objects (to several destinations) is one
        // placement, whose deployment knows every destination.
        envs.dedup_by(|a, b| {
            let same = a.env == b.env;
            if same && a.dir == b.dir {
                b.deploy.merge(std::mem::take(&mut a.deploy));
            }
            same
        });
        if envs.len() < 2 {
            left_out.extend(envs.into_iter().map(|e| {
                (
                    e.dir,
                    format!("{}: a single environment (nothing to compare)", e.reason),
                )
            }));
            continue;
        }
        let dirs: Vec<&Path> = envs.iter().map(|e| e.dir.as_path()).collect();
        let base = graph.shared_base(&dirs);
        let name = match rest.first().and_then(|k| k.strip_prefix('@')) {
            Some(from_object) if !from_object.is_empty() => from_object.to_string(),
            _ => service_name(&rest, repo_name),
        };
        for e in &mut envs {
            e.service = name.clone();
        }
        services.push(PlacedService {
            name,
            base,
            envs,
            part: None,
        });
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    (services, left_out, taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Reader;

    fn graph(dirs: &[(&str, &str)]) -> (tempfile::TempDir, Graph) {
        let t = tempfile::tempdir().expect("tempdir");
        for (dir, text) in dirs {
            let d = t.path().join(dir);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join("kustomization.yaml"), text).expect("write");
        }
        let g = Graph::build(&Reader::new(t.path(), 1 << 20));
        (t, g)
    }

    /// A placed service as (name, environments, base).
    type Summary = (String, Vec<String>, Option<String>);

    fn placed(g: &Graph) -> (Vec<Summary>, LeftOut) {
        let roots: Vec<&Node> = g.roots().collect();
        let (services, left) = place(g, &roots, "infra", &Vocabulary::default());
        let services = services
            .into_iter()
            .map(|s| {
                (
                    s.name,
                    s.envs.into_iter().map(|e| e.env).collect(),
                    s.base.map(|b| b.display().to_string()),
                )
            })
            .collect();
        (services, left)
    }

    #[test]
    fn nested_apps_shared_bases_and_regional_peers() {
        let (_t, g) = graph(&[
            ("examples/shop/base", ""),
            ("examples/shop/overlays/dev", "resources: [../../base]\n"),
            (
                "examples/shop/overlays/production",
                "resources: [../../base]\n",
            ),
            ("deploy/bases/frontend", ""),
            ("deploy/bases/backend", ""),
            (
                "deploy/overlays/staging",
                "resources: [../../bases/frontend, ../../bases/backend]\n",
            ),
            (
                "deploy/overlays/prod",
                "resources: [../../bases/frontend, ../../bases/backend]\n",
            ),
            ("regions/base", ""),
            ("regions/prod-eu", "resources: [../base]\n"),
            ("regions/prod-us", "resources: [../base]\n"),
            ("regions/staging-asia", "resources: [../base]\n"),
        ]);
        let (services, left) = placed(&g);
        assert_eq!(
            services,
            [
                (
                    "infra".to_string(),
                    vec!["prod".to_string(), "staging".into()],
                    Some("deploy/bases/backend".to_string())
                ),
                (
                    "regions".to_string(),
                    vec!["prod-eu".into(), "prod-us".into(), "staging-asia".into()],
                    Some("regions/base".into())
                ),
                (
                    "shop".to_string(),
                    vec!["dev".into(), "production".into()],
                    Some("examples/shop/base".into())
                ),
            ]
        );
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn words_that_only_look_like_environments_are_not() {
        let (_t, g) = graph(&[
            ("tools/load-balancer", ""),
            ("tools/test-utils", ""),
            ("chat/live-chat", ""),
            ("single/prod", ""),
        ]);
        let (services, left) = placed(&g);
        assert!(services.is_empty(), "{services:?}");
        let reasons: BTreeMap<String, String> = left
            .into_iter()
            .map(|(d, r)| (d.display().to_string(), r))
            .collect();
        assert!(
            reasons["tools/load-balancer"].contains("share no base"),
            "{reasons:?}"
        );
        assert!(
            reasons["chat/live-chat"].contains("no environment in its path"),
            "{reasons:?}"
        );
        assert!(
            reasons["single/prod"].contains("single environment"),
            "{reasons:?}"
        );
    }

    #[test]
    fn variants_of_a_default_are_its_environments() {
        // Variants pulling the default itself, and a default root beside variants sharing its base.
        let (_t, g) = graph(&[
            ("imgproxy/kustomize", ""),
            ("imgproxy/variants/dev", "resources: [../../kustomize]\n"),
            ("imgproxy/variants/ha", "resources: [../../kustomize]\n"),
            ("shop/kustomize/base", ""),
            ("shop/kustomize", "resources: [base]\n"),
            (
                "shop/kustomize/tests/with-spanner",
                "resources: [../../base]\n",
            ),
            ("lonely/kustomize/base", ""),
            ("lonely/kustomize", "resources: [base]\n"),
            ("apps/web/base", ""),
            ("apps/web/single", "resources: [../base]\n"),
            // One app built on another is no variant.
            ("guestbook", ""),
            ("pre-post-sync", "resources: [../guestbook]\n"),
        ]);
        let (services, left) = placed(&g);
        assert_eq!(
            services,
            [
                (
                    "imgproxy".to_string(),
                    vec!["default".to_string(), "dev".into(), "ha".into()],
                    Some("imgproxy/kustomize".to_string())
                ),
                (
                    "shop".to_string(),
                    vec!["default".to_string(), "with-spanner".into()],
                    Some("shop/kustomize/base".to_string())
                ),
            ]
        );
        // A default without variants, and a root pulling a `base`, are single deployments.
        let left: Vec<String> = left
            .into_iter()
            .map(|(d, _)| d.display().to_string())
            .collect();
        assert_eq!(
            left,
            ["apps/web/single", "pre-post-sync", "lonely/kustomize"]
        );
    }

    #[test]
    fn two_services_with_one_name_are_named_by_their_paths() {
        let (_t, g) = graph(&[
            ("team-a/web/dev", ""),
            ("team-a/web/prod", ""),
            ("team-b/web/dev", ""),
            ("team-b/web/prod", ""),
        ]);
        let names: Vec<String> = placed(&g).0.into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["team-a/web", "team-b/web"]);
    }
}
