//! Flux's `Kustomization` (`kustomize.toolkit.fluxcd.io`, any version: `v1`, `v1beta2`, `v1beta1`) and
//! `GitRepository` (`source.toolkit.fluxcd.io`), and the post-build variables a Kustomization substitutes.
//!
//! From the Flux Kustomization API ("Source reference", "Path", "Target namespace", "Post build variable
//! substitution") and kustomize-controller's variable loading: the source is looked up in the
//! Kustomization's namespace unless `sourceRef.namespace` says otherwise; `spec.path` is relative to the
//! source's root and defaults to it; `substituteFrom` ConfigMaps and Secrets are read from the
//! Kustomization's namespace, their data keys becoming variables (later entries overwriting earlier ones,
//! newlines removed from values), and `substitute` overrides them; substitution happens only when some
//! variable is defined; an object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is
//! left alone.
//!
//! envparity reads the repository, not the cluster: a ConfigMap is found among the repository's own
//! manifests; a Secret's data is never read (its keys are unknown); a ConfigMap the repository does not
//! hold may still exist in the cluster. Variables from either are unknown, and the expressions that may use
//! them are kept as written ([`Unset::Keep`]) rather than blanked or guessed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::envsubst::{self, SubstError, Substituted, Unset};
use super::{Found, GitOpsObjects, Notice, NoticeReason};

/// The label or annotation that turns substitution off for one object, and its value.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// A Flux `Kustomization`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FluxKustomization {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (often set by an enclosing kustomization instead: then `None`).
    pub namespace: Option<String>,
    /// Where it is written.
    pub found: Found,
    /// `apiVersion` (`kustomize.toolkit.fluxcd.io/v1`, `.../v1beta2`, ...).
    pub api_version: String,
    /// `spec.path`, as written; the source's root when absent.
    pub path: Option<String>,
    /// `spec.sourceRef`.
    pub source_ref: Option<SourceRef>,
    /// `spec.targetNamespace`: overrides every object's namespace.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.images`.
    pub images: Vec<FluxImage>,
    /// `spec.patches`, as written (`patch`, `target`).
    pub patches: Vec<Value>,
    /// `spec.postBuild`.
    pub post_build: PostBuild,
    /// `spec.dependsOn`.
    pub depends_on: Vec<DependsOn>,
    /// `spec.suspend`.
    pub suspend: bool,
}

/// `spec.sourceRef` of a Flux Kustomization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRef {
    /// `GitRepository`, `OCIRepository`, `Bucket`, `ExternalArtifact`.
    pub kind: String,
    /// The source's name.
    pub name: String,
    /// The source's namespace when not the Kustomization's.
    pub namespace: Option<String>,
}

/// One `spec.images` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FluxImage {
    /// The image name to match.
    pub name: String,
    /// `newName`.
    pub new_name: Option<String>,
    /// `newTag`.
    pub new_tag: Option<String>,
    /// `digest`.
    pub digest: Option<String>,
}

/// `spec.postBuild`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostBuild {
    /// `substitute`: variables given inline (string values only, as Flux requires).
    pub substitute: BTreeMap<String, String>,
    /// `substituteFrom`: ConfigMaps and Secrets whose data keys are variables.
    pub substitute_from: Vec<SubstituteFrom>,
}

/// One `substituteFrom` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubstituteFrom {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Its name (in the Kustomization's namespace).
    pub name: String,
    /// `optional`: Flux tolerates its absence.
    pub optional: bool,
}

/// One `dependsOn` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependsOn {
    /// The other Kustomization's name.
    pub name: String,
    /// Its namespace when not this one's.
    pub namespace: Option<String>,
}

/// A Flux `GitRepository`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitRepository {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// Where it is written.
    pub found: Found,
    /// `spec.url` as written (show it through [`super::redact_url`]).
    pub url: String,
    /// `spec.ref.branch`, `tag`, `semver`, `commit` or `name`, whichever is set first in that order.
    pub reference: Option<String>,
}

/// A ConfigMap of the repository, for `substituteFrom`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMap {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// Where it is written.
    pub found: Found,
    /// `data` (string values).
    pub data: BTreeMap<String, String>,
}

/// A Secret of the repository: where it is, never what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretStub {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// Where it is written.
    pub found: Found,
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn list<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A Flux Kustomization from its manifest, with notices about fields Flux would reject; `None` when it has
/// no name.
pub(super) fn parse_kustomization(
    doc: &Value,
    found: Found,
    notices: &mut Vec<Notice>,
) -> Option<FluxKustomization> {
    let name = text(doc, "/metadata/name").filter(|n| !n.is_empty())?;
    let mut substitute = BTreeMap::new();
    if let Some(map) = doc
        .pointer("/spec/postBuild/substitute")
        .and_then(Value::as_object)
    {
        for (key, value) in map {
            match value.as_str() {
                Some(v) => {
                    substitute.insert(key.clone(), v.to_string());
                }
                None => notices.push(Notice {
                    file: found.file.clone(),
                    object: Some(format!("Kustomization/{name}")),
                    reason: NoticeReason::NotAString {
                        field: format!("spec.postBuild.substitute.{key}"),
                    },
                }),
            }
        }
    }
    Some(FluxKustomization {
        namespace: text(doc, "/metadata/namespace"),
        api_version: text(doc, "/apiVersion").unwrap_or_default(),
        path: text(doc, "/spec/path"),
        source_ref: doc
            .pointer("/spec/sourceRef")
            .filter(|s| s.is_object())
            .map(|s| SourceRef {
                kind: text(s, "/kind").unwrap_or_default(),
                name: text(s, "/name").unwrap_or_default(),
                namespace: text(s, "/namespace"),
            }),
        target_namespace: text(doc, "/spec/targetNamespace").filter(|n| !n.is_empty()),
        name_prefix: text(doc, "/spec/namePrefix"),
        name_suffix: text(doc, "/spec/nameSuffix"),
        images: list(doc, "/spec/images")
            .filter_map(|i| {
                Some(FluxImage {
                    name: text(i, "/name")?,
                    new_name: text(i, "/newName"),
                    new_tag: text(i, "/newTag"),
                    digest: text(i, "/digest"),
                })
            })
            .collect(),
        patches: list(doc, "/spec/patches").cloned().collect(),
        post_build: PostBuild {
            substitute,
            substitute_from: list(doc, "/spec/postBuild/substituteFrom")
                .filter_map(|s| {
                    Some(SubstituteFrom {
                        kind: text(s, "/kind")?,
                        name: text(s, "/name")?,
                        optional: s.get("optional").and_then(Value::as_bool) == Some(true),
                    })
                })
                .collect(),
        },
        depends_on: list(doc, "/spec/dependsOn")
            .filter_map(|d| {
                Some(DependsOn {
                    name: text(d, "/name")?,
                    namespace: text(d, "/namespace"),
                })
            })
            .collect(),
        suspend: doc.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true),
        found,
        name,
    })
}

/// A GitRepository from its manifest; `None` when it has no name.
pub(super) fn parse_git_repository(doc: &Value, found: Found) -> Option<GitRepository> {
    let name = text(doc, "/metadata/name").filter(|n| !n.is_empty())?;
    let reference = ["branch", "tag", "semver", "commit", "name"]
        .iter()
        .find_map(|k| text(doc, &format!("/spec/ref/{k}")));
    Some(GitRepository {
        name,
        namespace: text(doc, "/metadata/namespace"),
        found,
        url: text(doc, "/spec/url").unwrap_or_default(),
        reference,
    })
}

/// A ConfigMap from its manifest; `None` when it has no name.
pub(super) fn parse_config_map(doc: &Value, found: Found) -> Option<ConfigMap> {
    let name = text(doc, "/metadata/name").filter(|n| !n.is_empty())?;
    let data = doc
        .get("data")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(ConfigMap {
        name,
        namespace: text(doc, "/metadata/namespace"),
        found,
        data,
    })
}

/// A Secret's name and place, nothing of its data; `None` when it has no name.
pub(super) fn parse_secret(doc: &Value, found: Found) -> Option<SecretStub> {
    Some(SecretStub {
        name: text(doc, "/metadata/name").filter(|n| !n.is_empty())?,
        namespace: text(doc, "/metadata/namespace"),
        found,
    })
}

/// Whether two namespaces can be the same: equal, or one of them unset in its file (a manifest's namespace
/// is often set by the kustomization that includes it).
pub(super) fn same_namespace(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// The one of `items` named `name` in `namespace`: an exact namespace match first, else one whose
/// namespace (or the wanted one) is unset.
pub(super) fn lookup<'a, T>(
    items: &'a [T],
    name: &str,
    namespace: Option<&str>,
    key: impl Fn(&T) -> (&str, Option<&str>),
) -> Option<&'a T> {
    let named = || items.iter().filter(|i| key(i).0 == name);
    named()
        .find(|i| key(i).1.is_some() && key(i).1 == namespace)
        .or_else(|| named().find(|i| same_namespace(key(i).1, namespace)))
}

/// The variables a Flux Kustomization substitutes, as far as the repository tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    /// Known variables: from `substituteFrom` ConfigMaps found in the repository, then `substitute`.
    pub vars: BTreeMap<String, String>,
    /// `Kind/name` of each `substituteFrom` source whose keys are unknown (a Secret, or a ConfigMap the
    /// repository does not hold).
    pub unknown_sources: Vec<String>,
    /// Notices about those sources.
    pub notices: Vec<Notice>,
}

impl Variables {
    /// Whether Flux substitutes at all: some variable is defined (a source with unknown keys may define
    /// some).
    pub fn enabled(&self) -> bool {
        !self.vars.is_empty() || !self.unknown_sources.is_empty()
    }

    /// What an undefined variable becomes: kept as written when a source's keys are unknown, else empty.
    pub fn unset(&self) -> Unset {
        if self.unknown_sources.is_empty() {
            Unset::Empty
        } else {
            Unset::Keep
        }
    }

    /// Substitutes the variables into one rendered object's YAML, as Flux would (unchanged when substitution
    /// is not enabled).
    pub fn apply(&self, text: &str) -> Result<Substituted, SubstError> {
        if !self.enabled() {
            return Ok(Substituted {
                text: text.to_string(),
                unresolved: Default::default(),
            });
        }
        envsubst::substitute_with(text, &self.vars, self.unset())
    }
}

/// Why a rendered object could not be substituted.
#[derive(Debug, thiserror::Error)]
pub enum ObjectSubstError {
    /// The substitution itself failed (a malformed `${...}`).
    #[error("{0}")]
    Subst(#[from] SubstError),
    /// The object did not survive the round trip through YAML.
    #[error("the substituted object is no longer valid YAML: {0}")]
    Yaml(String),
}

impl Variables {
    /// Substitutes the variables into one rendered object as Flux does: on its YAML text (so `replicas:
    /// ${REPLICAS:=2}` becomes the number 2), unless the object opts out
    /// ([`substitution_disabled`]) or substitution is not enabled.
    pub fn apply_to_object(&self, object: &Value) -> Result<Option<Value>, ObjectSubstError> {
        if !self.enabled() || substitution_disabled(object) {
            return Ok(None);
        }
        let text =
            crate::yaml::to_string(object).map_err(|e| ObjectSubstError::Yaml(e.to_string()))?;
        if !text.contains("${") {
            return Ok(None);
        }
        let substituted = self.apply(&text)?;
        let value: Value = crate::yaml::document(&substituted.text)
            .map_err(|e| ObjectSubstError::Yaml(e.to_string()))?;
        Ok(Some(value))
    }
}

impl FluxKustomization {
    /// The variables it substitutes: `substituteFrom` ConfigMaps looked up among `objects` in this
    /// Kustomization's namespace, Secrets and ConfigMaps not found recorded as sources with unknown keys,
    /// then `substitute` on top.
    pub fn variables(&self, objects: &GitOpsObjects) -> Variables {
        let mut out = Variables::default();
        let object = Some(format!("Kustomization/{}", self.name));
        for from in &self.post_build.substitute_from {
            let found = match from.kind.as_str() {
                "ConfigMap" => lookup(
                    &objects.config_maps,
                    &from.name,
                    self.namespace.as_deref(),
                    |c| (&c.name, c.namespace.as_deref()),
                ),
                _ => None,
            };
            match found {
                Some(config_map) => {
                    for (key, value) in &config_map.data {
                        out.vars.insert(key.clone(), value.replace('\n', ""));
                    }
                }
                None => {
                    let reason = match from.kind.as_str() {
                        "Secret" => NoticeReason::SecretVariables {
                            name: from.name.clone(),
                        },
                        "ConfigMap" => NoticeReason::ConfigMapNotInRepository {
                            name: from.name.clone(),
                            optional: from.optional,
                        },
                        _ => NoticeReason::UnknownSubstituteKind {
                            kind: from.kind.clone(),
                        },
                    };
                    // Flux ignores other kinds: they define nothing.
                    if matches!(from.kind.as_str(), "Secret" | "ConfigMap") {
                        out.unknown_sources
                            .push(format!("{}/{}", from.kind, from.name));
                    }
                    out.notices.push(Notice {
                        file: self.found.file.clone(),
                        object: object.clone(),
                        reason,
                    });
                }
            }
        }
        for (key, value) in &self.post_build.substitute {
            out.vars.insert(key.clone(), value.replace('\n', ""));
        }
        out
    }
}

/// Whether Flux leaves `object` (a rendered manifest) unsubstituted: labelled or annotated
/// `kustomize.toolkit.fluxcd.io/substitute: disabled`.
pub fn substitution_disabled(object: &Value) -> bool {
    ["labels", "annotations"].iter().any(|m| {
        object
            .get("metadata")
            .and_then(|meta| meta.get(*m))
            .and_then(|m| m.get(SUBSTITUTE_KEY))
            .and_then(Value::as_str)
            == Some("disabled")
    })
}
