//! What the repo's own GitOps object changes when it deploys a directory, and where it deploys it: the
//! kustomize settings Argo CD and Flux add on top of the directory's kustomization ([`Layer`]), Flux's
//! `postBuild` substitutions, and the destination. The check renders with them, or it would compare
//! something that never runs.
//!
//! - Argo CD (`spec.source.kustomize`, "Kustomize" page of its user guide): `images` (`name=newName:tag`,
//!   `name:tag`, `name@digest`), `namePrefix`, `nameSuffix`, `namespace`, `commonLabels`,
//!   `commonAnnotations`, `patches` (inline, or a `path` relative to the source path), `replicas`. Argo CD
//!   writes them into the directory's kustomization with `kustomize edit`, so an image override replaces the
//!   directory's own entry of that name: here the override is aimed at the name the directory renames it to.
//! - Flux (`Kustomization` of kustomize.toolkit.fluxcd.io): `targetNamespace`, `namePrefix`, `nameSuffix`,
//!   `images`, `patches` (inline), and `postBuild.substitute`/`substituteFrom`, applied to the rendered
//!   objects.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::gitops::{
    AppSource, Application, Destination, FluxKustomization, GitOpsObjects, LocalTarget, Owner,
    Variables,
};
use crate::input::Reader;
use crate::kustomization::{Kustomization, Layer};

/// How a GitOps object deploys one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// What it adds on top of the directory's kustomization.
    pub layer: Option<Layer>,
    /// Flux `postBuild` variables, when it substitutes any.
    pub substitute: Option<Variables>,
    /// The namespace objects without one go to (Argo CD `destination.namespace`, Flux `targetNamespace`).
    pub namespace: Option<String>,
    /// The cluster (Argo CD `destination.name`, else `destination.server`).
    pub cluster: Option<String>,
    /// The file (repo-relative) that holds the GitOps object.
    pub file: Option<std::path::PathBuf>,
    /// The directory has no kustomization: Flux generates one over its manifests.
    pub generate: bool,
    /// The GitOps object itself and what Git says about its syncing, held against the live object.
    pub deployer: Option<crate::gitops::Deployer>,
    /// Other GitOps objects deploying the same directory for the same environment to other destinations
    /// (an ApplicationSet over clusters): each is a live target of its own.
    pub also: Vec<Deployment>,
}

impl Deployment {
    /// Adds `other`, a deployment of the same directory and environment: a second destination is kept in
    /// `also`; the same destination twice is one.
    pub fn merge(&mut self, other: Deployment) {
        if other.cluster == self.cluster && other.namespace == self.namespace {
            return;
        }
        if !self
            .also
            .iter()
            .any(|d| d.cluster == other.cluster && d.namespace == other.namespace)
        {
            self.also.push(other);
        }
    }

    /// Every destination (`cluster`, `namespace`) this deployment and those in `also` go to.
    pub fn destinations(&self) -> Vec<(Option<&str>, Option<&str>)> {
        std::iter::once(self)
            .chain(&self.also)
            .map(|d| (d.cluster.as_deref(), d.namespace.as_deref()))
            .collect()
    }
}

/// Why a GitOps target places its directory (`argo-cd Application shop/catalog-prod`), how its object
/// deploys the directory `dir`, and the Argo CD destination (for placing by namespace or cluster name).
pub fn of_target(
    target: &LocalTarget,
    objects: &GitOpsObjects,
    dir: &Path,
    reader: &Reader,
) -> (String, Deployment, Option<Destination>) {
    let (what, name, namespace) = match &target.owner {
        Owner::Application {
            name, namespace, ..
        } => ("argo-cd Application", name, namespace),
        Owner::FluxKustomization { name, namespace } => ("flux Kustomization", name, namespace),
    };
    let reason = format!(
        "{what} {}{name}",
        namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default()
    );
    match &target.owner {
        Owner::Application { .. } => {
            let app = objects
                .applications
                .iter()
                .find(|a| &a.name == name && &a.namespace == namespace && a.found == target.found);
            let deploy = app
                .map(|a| of_application(a, dir, reader, &reason))
                .unwrap_or_default();
            (reason, deploy, app.map(|a| a.destination.clone()))
        }
        Owner::FluxKustomization { .. } => {
            let ks = objects
                .flux_kustomizations
                .iter()
                .find(|k| &k.name == name && &k.namespace == namespace && k.found == target.found);
            let deploy = ks
                .map(|k| of_flux(k, objects, dir, reader, &reason))
                .unwrap_or_default();
            (reason, deploy, None)
        }
    }
}

/// How `app` deploys `dir` (repo-relative, `.` for the root), reading patch files and the directory's
/// kustomization with `reader`.
pub fn of_application(app: &Application, dir: &Path, reader: &Reader, by: &str) -> Deployment {
    let source = app.effective_sources().into_iter().find(|s| {
        s.path
            .as_deref()
            .and_then(crate::gitops::normalize_repo_path)
            .is_some_and(|p| Path::new(&p) == dir || (p == "." && dir.as_os_str().is_empty()))
    });
    Deployment {
        layer: source.and_then(|s| argo_layer(s, dir, reader, by)),
        substitute: None,
        namespace: app.destination.namespace.clone(),
        cluster: app
            .destination
            .name
            .clone()
            .or_else(|| app.destination.server.clone()),
        file: Some(app.found.file.clone()),
        generate: false,
        deployer: Some(crate::gitops::Deployer::application(app)),
        also: Vec::new(),
    }
}

/// How the Flux Kustomization `ks` deploys its path.
pub fn of_flux(
    ks: &FluxKustomization,
    objects: &GitOpsObjects,
    dir: &Path,
    reader: &Reader,
    by: &str,
) -> Deployment {
    let mut fields = Map::new();
    if let Some(ns) = &ks.target_namespace {
        fields.insert("namespace".into(), json!(ns));
    }
    if let Some(p) = &ks.name_prefix {
        fields.insert("namePrefix".into(), json!(p));
    }
    if let Some(s) = &ks.name_suffix {
        fields.insert("nameSuffix".into(), json!(s));
    }
    let own = own_renames(dir, reader);
    let images: Vec<Value> = ks
        .images
        .iter()
        .map(|i| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(aimed(&i.name, &own)));
            for (key, value) in [
                ("newName", &i.new_name),
                ("newTag", &i.new_tag),
                ("digest", &i.digest),
            ] {
                if let Some(v) = value {
                    entry.insert(key.into(), json!(v));
                }
            }
            Value::Object(entry)
        })
        .collect();
    if !images.is_empty() {
        fields.insert("images".into(), Value::Array(images));
    }
    if !ks.patches.is_empty() {
        fields.insert("patches".into(), Value::Array(ks.patches.clone()));
    }
    let variables = ks.variables(objects);
    Deployment {
        layer: Layer::new(fields, by),
        substitute: variables.enabled().then_some(variables),
        namespace: ks.target_namespace.clone(),
        cluster: None,
        file: Some(ks.found.file.clone()),
        generate: crate::kustomization::kustomization_file(&reader.root().join(dir)).is_none(),
        deployer: Some(crate::gitops::Deployer::flux(ks)),
        also: Vec::new(),
    }
}

/// The directory's own `images:` renames (`name` → `newName`).
fn own_renames(dir: &Path, reader: &Reader) -> std::collections::BTreeMap<String, String> {
    Kustomization::read(&reader.root().join(dir), reader)
        .map(|k| k.image_renames)
        .unwrap_or_default()
}

/// The image name an override of `name` must match in the directory's output: the name the directory's
/// own `images:` entry renames it to, if it has one (the GitOps tool edits that entry in place).
fn aimed(name: &str, own: &std::collections::BTreeMap<String, String>) -> String {
    own.get(name).cloned().unwrap_or_else(|| name.to_string())
}

fn argo_layer(source: &AppSource, dir: &Path, reader: &Reader, by: &str) -> Option<Layer> {
    let k = source.kustomize.as_ref()?;
    let mut fields = Map::new();
    for (key, value) in [
        ("namePrefix", &k.name_prefix),
        ("nameSuffix", &k.name_suffix),
        ("namespace", &k.namespace),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            fields.insert(key.into(), json!(v));
        }
    }
    let own = own_renames(dir, reader);
    let images: Vec<Value> = k.images.iter().map(|i| argo_image(i, &own)).collect();
    if !images.is_empty() {
        fields.insert("images".into(), Value::Array(images));
    }
    if !k.common_labels.is_empty() {
        fields.insert("commonLabels".into(), json!(k.common_labels));
    }
    if !k.common_annotations.is_empty() {
        fields.insert("commonAnnotations".into(), json!(k.common_annotations));
    }
    let patches: Vec<Value> = k
        .patches
        .iter()
        .filter_map(|p| inline_patch(p, dir, reader))
        .collect();
    if !patches.is_empty() {
        fields.insert("patches".into(), Value::Array(patches));
    }
    let replicas: Vec<Value> = k
        .replicas
        .iter()
        .map(|r| {
            let count = r
                .count
                .parse::<i64>()
                .map_or_else(|_| json!(r.count), |n| json!(n));
            json!({"name": r.name, "count": count})
        })
        .collect();
    if !replicas.is_empty() {
        fields.insert("replicas".into(), Value::Array(replicas));
    }
    Layer::new(fields, by)
}

/// An Argo CD image override (`name=newName:tag`, `name=newName`, `name:tag`, `name@digest`) as a kustomize
/// `images` entry.
fn argo_image(spec: &str, own: &std::collections::BTreeMap<String, String>) -> Value {
    let (name, image) = match spec.split_once('=') {
        Some((name, image)) => (name.to_string(), image.to_string()),
        None => (split_reference(spec).0, spec.to_string()),
    };
    let (new_name, tag, digest) = {
        let (n, t, d) = split_reference(&image);
        (n, t, d)
    };
    let mut entry = Map::new();
    entry.insert("name".into(), json!(aimed(&name, own)));
    if new_name != name || spec.contains('=') {
        entry.insert("newName".into(), json!(new_name));
    }
    if let Some(t) = tag {
        entry.insert("newTag".into(), json!(t));
    }
    if let Some(d) = digest {
        entry.insert("digest".into(), json!(d));
    }
    Value::Object(entry)
}

/// `repo[:tag][@digest]` split into its parts (a `:` before the last `/` is a registry port).
fn split_reference(image: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_string(),
            Some(rest[slash + i + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

/// An Argo CD patch entry with its `path` file read in (relative to the source path), as an inline patch.
fn inline_patch(patch: &Value, dir: &Path, reader: &Reader) -> Option<Value> {
    let mut patch = patch.as_object()?.clone();
    if let Some(path) = patch.remove("path") {
        let file = reader.root().join(dir).join(path.as_str()?);
        match reader.read_to_string(&file) {
            Ok(text) => {
                patch.insert("patch".into(), json!(text));
            }
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "an Argo CD patch file cannot be read; rendered without it");
                return None;
            }
        }
    }
    Some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_image_overrides_become_kustomize_entries() {
        let none = Default::default();
        assert_eq!(
            argo_image("nginx=registry.example.com/nginx:1.27", &none),
            json!({"name": "nginx", "newName": "registry.example.com/nginx", "newTag": "1.27"})
        );
        assert_eq!(
            argo_image("ghcr.io/acme/web:v2", &none),
            json!({"name": "ghcr.io/acme/web", "newTag": "v2"})
        );
        assert_eq!(
            argo_image("localhost:5000/web@sha256:abc", &none),
            json!({"name": "localhost:5000/web", "digest": "sha256:abc"})
        );
        let own = [("web".to_string(), "ghcr.io/acme/web".to_string())].into();
        assert_eq!(
            argo_image("web:v3", &own),
            json!({"name": "ghcr.io/acme/web", "newTag": "v3"})
        );
    }
}
