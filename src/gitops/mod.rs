//! The repository's own GitOps objects (DESIGN.md, "Environments and services: the deployment map", point 2):
//! Argo CD `Application`s and `ApplicationSet`s (expanded into the Applications they generate), Flux
//! `Kustomization`s and `GitRepository`s, and the ConfigMaps Flux substitutes variables from.
//!
//! Pure and bounded: [`scan`] reads every `*.yaml`/`*.yml` file of the tree through the one bounded reader
//! ([`crate::input::Reader`]), without following directory links and skipping `.git`; a file that cannot be
//! read or parsed, or an object that cannot be evaluated, becomes a [`Notice`] naming the file and the
//! reason, and the scan goes on. [`targets`] then says which directory of this repository each object
//! deploys, and lists the sources in other repositories, which are not followed. [`substitute`] is Flux's
//! post-build variable substitution.
//!
//! A leaf above `input` and `yaml`: nothing here knows about discovery, rendering or output.

mod argo;
mod envsubst;
mod flux;
mod pathmatch;
mod repo;
mod template;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use crate::input::{ReadError, Reader};
use crate::yaml::YamlError;

pub use argo::{
    AppSource, Application, ApplicationSet, ArgoKustomize, Destination, ExpandError, MAX_GENERATED,
    Replicas, SyncPolicy,
};
pub use envsubst::{SubstError, Substituted, Unset, substitute, substitute_with, valid_name};
pub use flux::{
    ConfigMap, DependsOn, FluxImage, FluxKustomization, GitRepository, ObjectSubstError, PostBuild,
    SUBSTITUTE_KEY, SecretStub, SourceRef, SubstituteFrom, Variables, substitution_disabled,
};
pub use pathmatch::{BadPattern, Slash, matches as path_match};
pub use repo::{RepoIdentity, RepoMatch, normalize_repo_path, normalize_url, redact_url};
pub use template::{Syntax, TemplateError};

/// How deep the scan descends below the root (a hostile tree must not exhaust the stack).
pub const MAX_DEPTH: usize = 64;

/// Where an object is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Found {
    /// The file, relative to the repository root.
    pub file: PathBuf,
    /// The object's position among the file's YAML documents (0-based, empty documents not counted).
    pub document: usize,
}

/// Something the scan skipped or could not evaluate, and why. Never quotes a file's content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{}: {reason}", file.display(), object.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
pub struct Notice {
    /// The file, relative to the repository root (the directory, for a directory that cannot be listed).
    pub file: PathBuf,
    /// `Kind/name` of the object concerned, when the notice is about one.
    pub object: Option<String>,
    /// Why.
    pub reason: NoticeReason,
}

/// Why something was skipped or left unresolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoticeReason {
    /// The file could not be read boundedly (a link out of the repository, a device, too large, not UTF-8).
    #[error("not read: {0}")]
    Read(ReadError),
    /// The file is not valid YAML.
    #[error("not YAML: {0}")]
    Yaml(YamlError),
    /// A directory could not be listed.
    #[error("directory not listed: {kind}")]
    ListDir {
        /// The operating system's error kind.
        kind: std::io::ErrorKind,
    },
    /// The tree goes deeper than [`MAX_DEPTH`].
    #[error("deeper than {MAX_DEPTH} directories: not scanned")]
    TooDeep,
    /// A GitOps object without a name.
    #[error("{kind} without metadata.name: ignored")]
    Unnamed {
        /// Its kind.
        kind: String,
    },
    /// A field Flux requires to be a string is not one (Flux rejects the object).
    #[error("{field} is not a string: Flux rejects it; ignored")]
    NotAString {
        /// The field.
        field: String,
    },
    /// An ApplicationSet generated nothing.
    #[error("ApplicationSet not expanded: {0}")]
    Expansion(ExpandError),
    /// A `substituteFrom` Secret: its data is never read, so the variables it defines are unknown.
    #[error(
        "substituteFrom Secret/{name}: its keys are not read; variables it may define stay unresolved"
    )]
    SecretVariables {
        /// The Secret.
        name: String,
    },
    /// A `substituteFrom` ConfigMap the repository does not hold (it may exist in the cluster only).
    #[error(
        "substituteFrom ConfigMap/{name}{} is not in the repository; variables it may define stay unresolved",
        if *optional { " (optional)" } else { "" }
    )]
    ConfigMapNotInRepository {
        /// The ConfigMap.
        name: String,
        /// Whether Flux tolerates its absence.
        optional: bool,
    },
    /// A `substituteFrom` entry of a kind Flux ignores.
    #[error("substituteFrom of kind {kind} is ignored by Flux")]
    UnknownSubstituteKind {
        /// The kind.
        kind: String,
    },
    /// A path that `..` takes out of the repository.
    #[error("path {path} leaves the repository: not followed")]
    PathOutsideRepository {
        /// The path as written.
        path: String,
    },
    /// A Flux Kustomization without `sourceRef`.
    #[error("no sourceRef: not followed")]
    NoSource,
    /// A Flux source the repository does not hold: it is assumed to be this repository when the path
    /// exists here.
    #[error("{kind}/{name} is not in the repository: its URL is unknown")]
    SourceNotInRepository {
        /// The source's kind.
        kind: String,
        /// Its name.
        name: String,
    },
}

/// Everything [`scan`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitOpsObjects {
    /// Argo CD Applications: those written in the repository, then those its ApplicationSets generate
    /// ([`Application::generated_by`]).
    pub applications: Vec<Application>,
    /// Argo CD ApplicationSets, with the names of what each generated.
    pub application_sets: Vec<ApplicationSet>,
    /// Flux Kustomizations (not kustomize's own `kustomize.config.k8s.io` Kustomization files).
    pub flux_kustomizations: Vec<FluxKustomization>,
    /// Flux GitRepositories, to resolve a `sourceRef` to a URL.
    pub git_repositories: Vec<GitRepository>,
    /// ConfigMaps (`v1`), for `substituteFrom`.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets (`v1`): where they are, never their data.
    pub secrets: Vec<SecretStub>,
    /// Every directory of the tree, repo-relative, `.` for the root, in walk order (sorted names, parents
    /// first); `.git` and directories behind links excluded.
    pub directories: Vec<String>,
    /// What was skipped, and why.
    pub notices: Vec<Notice>,
}

/// Reads the GitOps objects of the repository at `root` with `reader` (confined to the repository), and
/// expands its ApplicationSets against the tree. `identity` tells whether a git generator reads this
/// repository. Never fails: what cannot be read or evaluated becomes a notice.
#[tracing::instrument(level = "debug", skip_all, fields(root = %root.display()))]
pub fn scan(root: &Path, reader: &Reader, identity: &RepoIdentity) -> GitOpsObjects {
    let mut objects = GitOpsObjects {
        directories: vec![".".to_string()],
        ..GitOpsObjects::default()
    };
    let mut files = Vec::new();
    walk(root, Path::new(""), 0, &mut files, &mut objects);
    for rel in files {
        read_file(root, &rel, reader, &mut objects);
    }
    let tree = argo::Tree {
        directories: &objects.directories,
        identity,
        excluded: Default::default(),
    };
    let mut generated = Vec::new();
    let mut notices = Vec::new();
    let mut sets = objects.application_sets.clone();
    for set in &mut sets {
        tree.excluded.borrow_mut().clear();
        match argo::expand(set, &tree) {
            Ok(apps) => {
                set.generated = apps.iter().map(|a| a.name.clone()).collect();
                set.excluded = tree.excluded.borrow().iter().cloned().collect();
                generated.extend(apps);
            }
            Err(err) => notices.push(Notice {
                file: set.found.file.clone(),
                object: Some(format!("ApplicationSet/{}", set.name)),
                reason: NoticeReason::Expansion(err),
            }),
        }
    }
    objects.application_sets = sets;
    objects.applications.extend(generated);
    objects.notices.extend(notices);
    tracing::debug!(
        applications = objects.applications.len(),
        flux_kustomizations = objects.flux_kustomizations.len(),
        notices = objects.notices.len(),
        "gitops objects scanned"
    );
    objects
}

/// Collects the YAML files and the directories under `root/rel`, in sorted order, not following links.
fn walk(
    root: &Path,
    rel: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    objects: &mut GitOpsObjects,
) {
    if depth >= MAX_DEPTH {
        objects.notices.push(Notice {
            file: rel.to_path_buf(),
            object: None,
            reason: NoticeReason::TooDeep,
        });
        return;
    }
    let entries = match std::fs::read_dir(root.join(rel)) {
        Ok(entries) => entries,
        Err(err) => {
            objects.notices.push(Notice {
                file: rel.to_path_buf(),
                object: None,
                reason: NoticeReason::ListDir { kind: err.kind() },
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let path = rel.join(&name);
        // The entry's own type: a link to a directory is not descended into.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name == ".git" {
                continue;
            }
            objects
                .directories
                .push(path.to_string_lossy().replace('\\', "/"));
            walk(root, &path, depth + 1, files, objects);
        } else if Path::new(&name)
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            files.push(path);
        }
    }
}

/// Reads one YAML file and keeps the objects of interest.
fn read_file(root: &Path, rel: &Path, reader: &Reader, objects: &mut GitOpsObjects) {
    let notice = |reason| Notice {
        file: rel.to_path_buf(),
        object: None,
        reason,
    };
    let text = match reader.read_to_string(&root.join(rel)) {
        Ok(text) => text,
        Err(err) => {
            objects.notices.push(notice(NoticeReason::Read(err)));
            return;
        }
    };
    let documents: Vec<Value> = match crate::yaml::documents(&text) {
        Ok(documents) => documents,
        Err(err) => {
            objects.notices.push(notice(NoticeReason::Yaml(err)));
            return;
        }
    };
    for (document, doc) in documents.iter().enumerate() {
        let found = Found {
            file: rel.to_path_buf(),
            document,
        };
        let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let named = match (group, kind) {
            ("argoproj.io", "Application") => argo::parse_application(doc, found)
                .map(|a| objects.applications.push(a))
                .is_some(),
            ("argoproj.io", "ApplicationSet") => argo::parse_application_set(doc, found)
                .map(|s| objects.application_sets.push(s))
                .is_some(),
            ("kustomize.toolkit.fluxcd.io", "Kustomization") => {
                flux::parse_kustomization(doc, found, &mut objects.notices)
                    .map(|k| objects.flux_kustomizations.push(k))
                    .is_some()
            }
            ("source.toolkit.fluxcd.io", "GitRepository") => flux::parse_git_repository(doc, found)
                .map(|g| objects.git_repositories.push(g))
                .is_some(),
            ("", "ConfigMap") if api_version == "v1" => flux::parse_config_map(doc, found)
                .map(|c| objects.config_maps.push(c))
                .is_some(),
            ("", "Secret") if api_version == "v1" => flux::parse_secret(doc, found)
                .map(|s| objects.secrets.push(s))
                .is_some(),
            // Everything else, kustomize's own `kustomize.config.k8s.io` Kustomization included.
            _ => true,
        };
        if !named {
            objects.notices.push(Notice {
                file: rel.to_path_buf(),
                object: None,
                reason: NoticeReason::Unnamed {
                    kind: kind.to_string(),
                },
            });
        }
    }
}

/// The object that deploys a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// An Argo CD Application.
    Application {
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: Option<String>,
        /// The ApplicationSet that generated it.
        generated_by: Option<String>,
    },
    /// A Flux Kustomization.
    FluxKustomization {
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: Option<String>,
    },
}

/// The GitOps object that deploys a directory and what Git says about how it syncs: what the live object of
/// the same name and namespace is held to (an incident's "disable auto-sync" that nobody undid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployer {
    /// The object.
    pub owner: Owner,
    /// What Git says about syncing it.
    pub syncing: Syncing,
}

/// What Git says about how a GitOps object syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Syncing {
    /// An Argo CD Application: `spec.syncPolicy.automated` and `spec.destination`.
    Argo {
        /// Automated sync and self-heal.
        policy: SyncPolicy,
        /// Where it deploys.
        destination: Destination,
    },
    /// A Flux Kustomization: `spec.suspend`.
    Flux {
        /// Whether Git suspends it.
        suspend: bool,
    },
}

impl Deployer {
    /// The Application `app` as a deployer.
    pub fn application(app: &Application) -> Deployer {
        Deployer {
            owner: Owner::Application {
                name: app.name.clone(),
                namespace: app.namespace.clone(),
                generated_by: app.generated_by.clone(),
            },
            syncing: Syncing::Argo {
                policy: app.sync,
                destination: app.destination.clone(),
            },
        }
    }

    /// The Flux Kustomization `ks` as a deployer.
    pub fn flux(ks: &FluxKustomization) -> Deployer {
        Deployer {
            owner: Owner::FluxKustomization {
                name: ks.name.clone(),
                namespace: ks.namespace.clone(),
            },
            syncing: Syncing::Flux {
                suspend: ks.suspend,
            },
        }
    }
}

/// A directory of this repository that a GitOps object deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTarget {
    /// Who deploys it.
    pub owner: Owner,
    /// Where the owner is written.
    pub found: Found,
    /// The directory, normalised ([`normalize_repo_path`]): `apps/web/overlays/prod`, `.` for the root.
    pub path: String,
    /// Whether the source is this repository for certain, or only probably (remotes unknown).
    pub repo: RepoMatch,
    /// Whether the directory exists in the tree.
    pub exists: bool,
}

/// A source in another repository (or a chart or artifact repository): listed, not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTarget {
    /// Who deploys it.
    pub owner: Owner,
    /// Where the owner is written.
    pub found: Found,
    /// The repository URL without credentials, or `Kind/name` for a Flux source that is not a
    /// GitRepository.
    pub source: String,
    /// The path or chart inside it, as written.
    pub path: Option<String>,
}

/// What [`targets`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Directories of this repository, followed.
    pub local: Vec<LocalTarget>,
    /// Sources elsewhere, not followed.
    pub external: Vec<ExternalTarget>,
    /// Paths not followed, and sources resolved by assumption.
    pub notices: Vec<Notice>,
}

/// Which directory of this repository each Application source and Flux Kustomization deploys, and which
/// sources lie elsewhere. A source matching `identity` is this repository; when `identity` is unknown, one
/// whose path exists in the tree probably is. Helm chart sources are external; `ref`-only sources (values
/// files for another source) deploy nothing of their own and are left out.
pub fn targets(objects: &GitOpsObjects, identity: &RepoIdentity) -> Targets {
    let dirs: BTreeSet<&str> = objects.directories.iter().map(String::as_str).collect();
    let mut out = Targets::default();
    let place = |out: &mut Targets,
                 owner: Owner,
                 found: &Found,
                 object: String,
                 url: &str,
                 repo: Option<RepoMatch>,
                 path: &str| {
        let Some(normal) = normalize_repo_path(path) else {
            out.notices.push(Notice {
                file: found.file.clone(),
                object: Some(object),
                reason: NoticeReason::PathOutsideRepository {
                    path: path.to_string(),
                },
            });
            return;
        };
        let exists = dirs.contains(normal.as_str());
        match repo.unwrap_or_else(|| identity.classify(url, exists)) {
            RepoMatch::External => out.external.push(ExternalTarget {
                owner,
                found: found.clone(),
                source: redact_url(url),
                path: Some(path.to_string()),
            }),
            repo => out.local.push(LocalTarget {
                owner,
                found: found.clone(),
                path: normal,
                repo,
                exists,
            }),
        }
    };
    for app in &objects.applications {
        let owner = Owner::Application {
            name: app.name.clone(),
            namespace: app.namespace.clone(),
            generated_by: app.generated_by.clone(),
        };
        for source in app.effective_sources() {
            if let Some(chart) = &source.chart {
                out.external.push(ExternalTarget {
                    owner: owner.clone(),
                    found: app.found.clone(),
                    source: redact_url(&source.repo_url),
                    path: Some(chart.clone()),
                });
                continue;
            }
            if source.path.is_none() && source.reference.is_some() {
                continue;
            }
            place(
                &mut out,
                owner.clone(),
                &app.found,
                format!("Application/{}", app.name),
                &source.repo_url,
                None,
                source.path.as_deref().unwrap_or(""),
            );
        }
    }
    for ks in &objects.flux_kustomizations {
        let owner = Owner::FluxKustomization {
            name: ks.name.clone(),
            namespace: ks.namespace.clone(),
        };
        let object = format!("Kustomization/{}", ks.name);
        let path = ks.path.as_deref().unwrap_or("");
        let Some(source) = &ks.source_ref else {
            out.notices.push(Notice {
                file: ks.found.file.clone(),
                object: Some(object),
                reason: NoticeReason::NoSource,
            });
            continue;
        };
        if source.kind != "GitRepository" {
            out.external.push(ExternalTarget {
                owner,
                found: ks.found.clone(),
                source: format!("{}/{}", source.kind, source.name),
                path: ks.path.clone(),
            });
            continue;
        }
        let namespace = source.namespace.as_deref().or(ks.namespace.as_deref());
        match flux::lookup(&objects.git_repositories, &source.name, namespace, |g| {
            (&g.name, g.namespace.as_deref())
        }) {
            Some(repo) => place(&mut out, owner, &ks.found, object, &repo.url, None, path),
            None => {
                // Without its URL, only the tree can tell: a path that exists here is probably here.
                let exists = normalize_repo_path(path).is_some_and(|p| dirs.contains(p.as_str()));
                out.notices.push(Notice {
                    file: ks.found.file.clone(),
                    object: Some(object.clone()),
                    reason: NoticeReason::SourceNotInRepository {
                        kind: source.kind.clone(),
                        name: source.name.clone(),
                    },
                });
                let repo = if exists {
                    RepoMatch::Maybe
                } else {
                    RepoMatch::External
                };
                let url = format!("{}/{}", source.kind, source.name);
                place(&mut out, owner, &ks.found, object, &url, Some(repo), path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
