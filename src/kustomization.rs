//! The few fields of an overlay's own `kustomization.yaml` that parity needs: how it renames objects, and
//! which patch files it applies (to name the file behind a finding and to count patches).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::input::{ReadError, Reader};
use crate::yaml::YamlError;

/// The file names kustomize accepts for a kustomization, in the order it looks for them.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// `a/b/../c` → `a/c`, relative to the repo root; `None` when it leaves the root or is absolute.
pub fn repo_path(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The kustomization file in `dir`, if any: the first name that exists as anything but a directory. A
/// link to `/dev/zero`, a FIFO or a dangling link is returned too, not skipped, so that reading it through
/// the bounded reader makes it an error naming it (skipped, it silently turns an overlay into none).
/// Nothing is opened here: `lstat`/`stat` never block on a FIFO.
pub fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| std::fs::symlink_metadata(p).is_ok() && !p.is_dir())
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
    /// `namePrefix`/`nameSuffix` pairs of the kustomizations the overlay pulls in, outermost first: an
    /// intermediate overlay (`overlays/prod` under `overlays/prod-eu`) renames objects too.
    pub inner: Vec<(String, String)>,
}

impl Naming {
    /// A rendered name as it is compared across environments.
    pub fn normalize(&self, name: &str) -> String {
        let mut n = name;
        // Kustomize applies the innermost rename first, so the outermost prefix is the first in the name.
        for prefix in
            std::iter::once(self.prefix.as_str()).chain(self.inner.iter().map(|(p, _)| p.as_str()))
        {
            if !prefix.is_empty() {
                n = n.strip_prefix(prefix).unwrap_or(n);
            }
        }
        // A generator's hash goes after every suffix.
        let mut n = strip_generated_hash(n);
        for suffix in
            std::iter::once(self.suffix.as_str()).chain(self.inner.iter().map(|(_, s)| s.as_str()))
        {
            if !suffix.is_empty() {
                n = n.strip_suffix(suffix).unwrap_or(n);
            }
        }
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
    /// Its `images:` entries that rename an image: `name` → `newName`.
    pub image_renames: std::collections::BTreeMap<String, String>,
    /// Whether it has a `replicas:` transformer.
    pub sets_replicas: bool,
    /// Whether it is a `kind: Component` (mixed into other kustomizations, never deployed alone).
    pub component: bool,
    /// Its `resources`, `bases` and `components` entries, as written.
    pub references: Vec<String>,
    /// Whether it inflates Helm charts (`helmCharts`, `helmChartInflationGenerator`).
    pub helm: bool,
    /// Whether it generates objects (`configMapGenerator`, `secretGenerator`, `generators`).
    pub generates: bool,
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
    #[serde(default)]
    config_map_generator: Value,
    #[serde(default)]
    secret_generator: Value,
    #[serde(default)]
    generators: Value,
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
                inner: Vec::new(),
            },
            patches,
            sets_images: !raw.images.is_empty(),
            image_renames: raw
                .images
                .iter()
                .filter_map(|i| {
                    Some((
                        i.get("name")?.as_str()?.to_string(),
                        i.get("newName")?.as_str()?.to_string(),
                    ))
                })
                .collect(),
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
            generates: [
                &raw.config_map_generator,
                &raw.secret_generator,
                &raw.generators,
            ]
            .into_iter()
            .any(|v| v.as_array().is_some_and(|a| !a.is_empty())),
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

/// What a GitOps tool adds on top of a directory's kustomization when it deploys it: Argo CD's
/// `source.kustomize` (images, namePrefix/nameSuffix, namespace, commonLabels/commonAnnotations, patches,
/// replicas), a Flux Kustomization's `images`, `patches`, `namePrefix`/`nameSuffix` and `targetNamespace`.
/// Held as the kustomization fields that say it (`images` as kustomize's image entries, patches inline), so
/// the renderer layers it over the directory as one more kustomization, and the render cache keys on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer {
    /// The fields as canonical JSON (an object with sorted keys).
    json: String,
    /// Who adds them (`argo-cd Application shop/catalog-prod`), for error messages.
    by: String,
}

impl Layer {
    /// A layer of these kustomization fields (`None` when there are none: nothing changes at deploy time).
    pub fn new(fields: serde_json::Map<String, Value>, by: impl Into<String>) -> Option<Layer> {
        if fields.is_empty() {
            return None;
        }
        // Keys sorted (serde_json's map keeps insertion order here), so equal fields give equal text.
        let sorted: std::collections::BTreeMap<String, Value> = fields.into_iter().collect();
        let json = serde_json::to_string(&sorted).unwrap_or_default();
        Some(Layer {
            json,
            by: by.into(),
        })
    }

    /// The kustomization fields.
    pub fn fields(&self) -> serde_json::Map<String, Value> {
        match serde_json::from_str(&self.json) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// The fields as canonical JSON (part of the render cache key).
    pub fn canonical(&self) -> &str {
        &self.json
    }

    /// Who adds the fields.
    pub fn by(&self) -> &str {
        &self.by
    }

    /// The `namePrefix` and `nameSuffix` the layer puts around every name.
    pub fn naming(&self) -> (String, String) {
        let fields = self.fields();
        let get = |k: &str| {
            fields
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        (get("namePrefix"), get("nameSuffix"))
    }

    /// The `namespace` the layer sets, if any.
    pub fn namespace(&self) -> Option<String> {
        self.fields()
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

impl Naming {
    /// The naming of an overlay deployed with `layer` on top: the layer's prefix goes in front of the
    /// overlay's, its suffix after, and its namespace wins.
    pub fn under(&self, layer: Option<&Layer>) -> Naming {
        let Some(layer) = layer else {
            return self.clone();
        };
        let (prefix, suffix) = layer.naming();
        Naming {
            prefix: format!("{prefix}{}", self.prefix),
            suffix: format!("{}{suffix}", self.suffix),
            namespace: layer.namespace().or_else(|| self.namespace.clone()),
            inner: self.inner.clone(),
        }
    }

    /// This naming with the renames of the kustomizations `dir` (repo-relative) pulls in, read with
    /// `reader` (those it cannot read rename nothing here; rendering reports them).
    pub fn with_inner(mut self, dir: &Path, reader: &Reader) -> Naming {
        const MAX_DEPTH: usize = 32;
        let mut seen = std::collections::HashSet::new();
        let mut pending: Vec<(PathBuf, usize)> = vec![(dir.to_path_buf(), 0)];
        while let Some((current, depth)) = pending.pop() {
            if depth > MAX_DEPTH || !seen.insert(current.clone()) {
                continue;
            }
            let Ok(k) = Kustomization::read(&reader.root().join(&current), reader) else {
                continue;
            };
            if depth > 0 {
                let pair = (k.naming.prefix.clone(), k.naming.suffix.clone());
                if (!pair.0.is_empty() || !pair.1.is_empty()) && !self.inner.contains(&pair) {
                    self.inner.push(pair);
                }
            }
            for entry in k.references.iter().rev() {
                if is_remote(entry) {
                    continue;
                }
                let Some(next) = repo_path(&current.join(entry)) else {
                    continue;
                };
                if kustomization_file(&reader.root().join(&next)).is_some() {
                    pending.push((next, depth + 1));
                }
            }
        }
        self
    }
}
