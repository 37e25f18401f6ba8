//! The few fields of an overlay's own `kustomization.yaml` that parity needs: how it renames objects, and
//! which patch files it applies (to name the file behind a finding and to count patches).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::input::{ReadError, Reader};
use crate::yaml::YamlError;

/// The file names kustomize accepts for a kustomization, in the order it looks for them.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file in `dir`, if any.
pub fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

/// How an overlay renames what it renders (from its kustomization).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    /// `namePrefix` of the overlay.
    pub prefix: String,
    /// `nameSuffix` of the overlay.
    pub suffix: String,
    /// `namespace` of the overlay.
    pub namespace: Option<String>,
}

impl Naming {
    /// A rendered name as it is compared across environments.
    pub fn normalize(&self, name: &str) -> String {
        let mut n = name;
        if !self.prefix.is_empty() {
            n = n.strip_prefix(self.prefix.as_str()).unwrap_or(n);
        }
        let n = strip_generated_hash(n);
        let n = if self.suffix.is_empty() {
            n
        } else {
            n.strip_suffix(self.suffix.as_str()).unwrap_or(n)
        };
        n.to_string()
    }
}

/// Removes the `-<10 chars>` suffix kustomize's generators append (alphabet of Kubernetes'
/// `rand.SafeEncodeString`, which has no vowels, so ordinary words are not mistaken for a hash).
pub fn strip_generated_hash(name: &str) -> &str {
    const ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";
    match name.rsplit_once('-') {
        Some((stem, hash))
            if !stem.is_empty()
                && hash.len() == 10
                && hash.chars().all(|c| ALPHABET.contains(c)) =>
        {
            stem
        }
        _ => name,
    }
}

/// Whether a `resources`-style entry names something kustomize would fetch over the network.
pub fn is_remote(entry: &str) -> bool {
    let entry = entry.trim();
    entry.contains("://")
        || entry.contains("?ref=")
        || entry.contains("?version=")
        || entry.starts_with("git@")
        || entry.starts_with("git::")
        || ["github.com/", "gitlab.com/", "bitbucket.org/"]
            .iter()
            .any(|host| entry.starts_with(host))
}

/// A kustomization that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KustomizationError {
    /// No kustomization file in the directory.
    #[error("no kustomization.yaml in {}", dir.display())]
    Missing {
        /// The directory.
        dir: PathBuf,
    },
    /// The file could not be read boundedly (the error names it).
    #[error("{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why: unreadable, a link out of the repository, not a regular file, too large, not UTF-8.
        source: ReadError,
    },
    /// The file is not valid YAML.
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line).
        source: YamlError,
    },
}

/// One patch entry of a kustomization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The patch file, relative to the kustomization's directory (`None` for inline patches).
    pub path: Option<String>,
    /// `target.kind`, when given.
    pub target_kind: Option<String>,
    /// `target.name`, when given.
    pub target_name: Option<String>,
}

/// What envparity reads from an overlay's kustomization.
#[derive(Debug, Clone, Default)]
pub struct Kustomization {
    /// The file.
    pub file: PathBuf,
    /// `namePrefix`, `nameSuffix`, `namespace`.
    pub naming: Naming,
    /// Every patch (`patches`, `patchesStrategicMerge`, `patchesJson6902`).
    pub patches: Vec<Patch>,
    /// Whether it has an `images:` transformer.
    pub sets_images: bool,
    /// Whether it has a `replicas:` transformer.
    pub sets_replicas: bool,
    /// Whether it is a `kind: Component` (mixed into other kustomizations, never deployed alone).
    pub component: bool,
    /// Its `resources`, `bases` and `components` entries, as written.
    pub references: Vec<String>,
    /// Whether it inflates Helm charts (`helmCharts`, `helmChartInflationGenerator`).
    pub helm: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Raw {
    name_prefix: Option<String>,
    name_suffix: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    patches: Vec<Value>,
    #[serde(default)]
    patches_strategic_merge: Vec<Value>,
    #[serde(default)]
    patches_json6902: Vec<Value>,
    #[serde(default)]
    images: Vec<Value>,
    #[serde(default)]
    replicas: Vec<Value>,
    // The fields below are only looked at, never required to have a shape: kustomize reports a malformed one.
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    resources: Value,
    #[serde(default)]
    bases: Value,
    #[serde(default)]
    components: Value,
    #[serde(default)]
    helm_charts: Value,
    #[serde(default)]
    helm_chart_inflation_generator: Value,
}

impl Kustomization {
    /// Reads the kustomization in `dir` with `reader` (whose root is the repository).
    pub fn read(dir: &Path, reader: &Reader) -> Result<Kustomization, KustomizationError> {
        let path = kustomization_file(dir).ok_or_else(|| KustomizationError::Missing {
            dir: dir.to_path_buf(),
        })?;
        let text = reader
            .read_to_string(&path)
            .map_err(|source| KustomizationError::Read {
                path: path.clone(),
                source,
            })?;
        let raw: Option<Raw> =
            crate::yaml::document(&text).map_err(|source| KustomizationError::Yaml {
                path: path.clone(),
                source,
            })?;
        let raw = raw.unwrap_or_default();
        let entry = |v: &Value| {
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
            match v {
                Value::String(path) => Patch {
                    path: Some(path.clone()),
                    target_kind: None,
                    target_name: None,
                },
                _ => Patch {
                    path: s("/path"),
                    target_kind: s("/target/kind"),
                    target_name: s("/target/name"),
                },
            }
        };
        let patches = raw
            .patches
            .iter()
            .chain(&raw.patches_strategic_merge)
            .chain(&raw.patches_json6902)
            .map(entry)
            .collect();
        Ok(Kustomization {
            file: path,
            naming: Naming {
                prefix: raw.name_prefix.unwrap_or_default(),
                suffix: raw.name_suffix.unwrap_or_default(),
                namespace: raw.namespace,
            },
            patches,
            sets_images: !raw.images.is_empty(),
            sets_replicas: !raw.replicas.is_empty(),
            component: raw.kind.as_str() == Some("Component"),
            references: [&raw.resources, &raw.bases, &raw.components]
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            helm: [&raw.helm_charts, &raw.helm_chart_inflation_generator]
                .into_iter()
                .any(|v| !v.is_null()),
        })
    }

    /// The patch files (relative to the kustomization's directory) that may touch `kind`/`name` (the name as
    /// the base declares it), most likely first: an explicit target, then a strategic-merge patch naming the
    /// object — keeping only those that mention one of `hints` (the field's words, see
    /// [`crate::finding::field_words`]). Patch files are read with `reader`; one it refuses (the overlay
    /// has an error naming it already) is matched by its target only.
    pub fn patches_for(
        &self,
        kind: &str,
        name: &str,
        hints: &[&str],
        reader: &Reader,
    ) -> Vec<String> {
        let dir = self.file.parent().unwrap_or(Path::new(""));
        let mut scored: Vec<String> = Vec::new();
        for p in &self.patches {
            let Some(rel) = &p.path else { continue };
            let text = reader.read_to_string(&dir.join(rel)).unwrap_or_default();
            let targets = match (&p.target_kind, &p.target_name) {
                (Some(k), n) => k == kind && n.as_deref().is_none_or(|n| n == name),
                (None, Some(n)) => n == name,
                (None, None) => crate::yaml::documents::<Value>(&text)
                    .unwrap_or_default()
                    .iter()
                    .any(|d| {
                        d.get("kind").and_then(Value::as_str) == Some(kind)
                            && d.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                    }),
            };
            // A patch that targets the object but never mentions the field did not set it.
            if targets && (hints.is_empty() || hints.iter().any(|h| text.contains(h))) {
                scored.push(rel.clone());
            }
        }
        scored
    }
}
