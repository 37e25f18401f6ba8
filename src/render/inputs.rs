//! The files a kustomization reads, found by walking it the way kustomize does: every input of an overlay,
//! recursively through the bases and components it includes. The list feeds the cache key (any input change
//! invalidates) and git backfill (render a commit's overlay only when one of its inputs changed).
//!
//! The walk also rejects what envparity cannot or will not render before kustomize runs: remote bases,
//! Helm charts, files outside the repository, missing files and broken YAML, each with the kustomization
//! file that refers to it. Every input file goes through the bounded reader ([`crate::input`]), or is at
//! least checked by it when only kustomize reads it: a link leaving the repository, a device, a FIFO or a
//! file over the limit is an error naming the file before kustomize ever opens it.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::RenderError;
use super::paths::{canonical_dir, display_path, normalize, repo_relative, slash};
use crate::input::{DEFAULT_MAX_BYTES, Reader};
use crate::kustomization::{is_remote, kustomization_file};

/// Hex SHA-256 over every input file of an overlay: the cache key's main part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputDigest(String);

impl InputDigest {
    /// The digest as lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InputDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Digest of every input file a kustomization reads (recursively), used as the cache key.
///
/// It covers each file's repo-relative path and bytes, in path order, so renaming, editing, adding or
/// removing an input all change it. The renderer's version is not part of it; [`super::CachedRenderer`]
/// mixes that in. Files are read with the default limit ([`DEFAULT_MAX_BYTES`]).
pub fn input_digest(dir: &Path, repo_root: &Path) -> Result<InputDigest, RenderError> {
    let reader = Reader::new(canonical_dir(repo_root)?, DEFAULT_MAX_BYTES);
    let inputs = walk(dir, &reader)?;
    digest_files(&inputs.files, &reader)
}

/// The input files (repo-relative, sorted) a kustomization reads, recursively through its bases,
/// components and generator/transformer configs (each checked with the default limit).
pub fn input_files(dir: &Path, repo_root: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let repo_root = canonical_dir(repo_root)?;
    let inputs = walk(dir, &Reader::new(&repo_root, DEFAULT_MAX_BYTES))?;
    Ok(inputs
        .files
        .iter()
        .filter_map(|f| repo_relative(f, &repo_root))
        .collect())
}

/// The values of the Secrets declared in `files` — each `stringData` value, each `data` value and its
/// base64 decoding, and every line of them at least [`MIN_SECRET_LEN`] long — and the values the
/// kustomizations among them patch into a Secret (a strategic-merge patch of a Secret, inline or in a file;
/// the `value` of each JSON 6902 operation aimed at `kind: Secret`), so that a kustomize error quoting a
/// node shows none of them. Read boundedly, and only when a kustomize run failed; files that do not read or
/// parse are skipped (their own error is reported elsewhere).
pub(crate) fn secret_manifest_values(files: &[PathBuf], reader: &Reader) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut keep = |value: &str| {
        for part in std::iter::once(value).chain(value.lines()) {
            let part = part.trim();
            if part.len() >= MIN_SECRET_LEN {
                out.insert(part.to_string());
            }
        }
    };
    let parse = |text: &str| crate::yaml::documents::<Value>(text).unwrap_or_default();
    for file in files {
        let Ok(text) = reader.read_to_string(file) else {
            continue;
        };
        if !text.contains("Secret") {
            continue;
        }
        for doc in parse(&text) {
            secret_values(&doc, &mut keep);
            // A kustomization: its patches aimed at Secrets.
            let dir = file.parent().unwrap_or(Path::new(""));
            let entries = ["patches", "patchesJson6902", "patchesStrategicMerge"]
                .iter()
                .filter_map(|key| doc.get(*key).and_then(Value::as_array))
                .flatten();
            for entry in entries {
                let at_secret =
                    entry.pointer("/target/kind").and_then(Value::as_str) == Some("Secret");
                let text = match entry {
                    Value::String(inline) => Some(inline.clone()),
                    _ => match (
                        entry.get("patch").and_then(Value::as_str),
                        entry.get("path"),
                    ) {
                        (Some(inline), _) => Some(inline.to_string()),
                        (None, Some(Value::String(path))) => {
                            reader.read_to_string(&normalize(&dir.join(path))).ok()
                        }
                        _ => None,
                    },
                };
                for patch in text.as_deref().map(parse).unwrap_or_default() {
                    secret_values(&patch, &mut keep);
                    if at_secret {
                        for op in patch.as_array().into_iter().flatten() {
                            every_string(op.get("value"), &mut keep);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The `stringData` and `data` values (and their decodings) of `doc` when it is a Secret.
fn secret_values(doc: &Value, keep: &mut impl FnMut(&str)) {
    use base64::Engine as _;
    if doc.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let values = |field| {
        doc.get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(Value::as_str)
    };
    for value in values("stringData") {
        keep(value);
    }
    for value in values("data") {
        keep(value);
        let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim());
        if let Some(text) = decoded.ok().and_then(|b| String::from_utf8(b).ok()) {
            keep(&text);
        }
    }
}

/// Every string inside `value`.
fn every_string(value: Option<&Value>, keep: &mut impl FnMut(&str)) {
    match value {
        Some(Value::String(s)) => keep(s),
        Some(Value::Array(items)) => items.iter().for_each(|v| every_string(Some(v), keep)),
        Some(Value::Object(map)) => map.values().for_each(|v| every_string(Some(v), keep)),
        _ => {}
    }
}

/// What walking one overlay found.
#[derive(Debug)]
pub(crate) struct Inputs {
    /// The kustomization directory, canonical.
    pub dir: PathBuf,
    /// Absolute, normalized paths of every input file, kustomization files included.
    pub files: BTreeSet<PathBuf>,
    /// The overlay's own `sortOptions`: kustomize honours only the top kustomization's, so a batch must
    /// carry it to print the objects in the order the overlay alone would.
    pub sort_options: Option<Value>,
    /// Values of the secretGenerators' literals and env files: kustomize quotes some of them in errors
    /// ("invalid literal source ..."), so they are cut from its messages.
    pub secret_values: Vec<String>,
    /// What decides which other overlays this one may share a kustomize run with.
    pub batching: Batching,
    /// For a directory without a kustomization (deployed by Flux), the resources of the kustomization
    /// Flux generates for it.
    pub generated: Option<Vec<Generated>>,
}

/// One resource of the kustomization Flux generates for a directory without one (absolute paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Generated {
    /// A manifest file.
    File(PathBuf),
    /// A subdirectory holding a kustomization (not descended into).
    Dir(PathBuf),
}

/// The most resources a generated kustomization may list: a directory tree beyond that is refused
/// rather than walked without end.
const MAX_GENERATED: usize = 10_000;

/// The inputs of what `request` renders: its kustomization, or for a directory without one that Flux
/// deploys, the kustomization Flux generates.
pub(crate) fn inputs_for(
    request: &super::RenderRequest,
    reader: &Reader,
) -> Result<Inputs, RenderError> {
    if request.generate && kustomization_file(&request.dir).is_none() {
        walk_generated(&request.dir, reader)
    } else {
        walk(&request.dir, reader)
    }
}

/// Walks a directory without a kustomization the way Flux's kustomize-controller generates one for it:
/// every `.yaml`/`.yml` file below it, and every subdirectory holding a kustomization (as a whole, not
/// descended into), in path order. Each manifest must be a regular file inside the repository and parse as
/// YAML; each subdirectory is walked as a kustomization.
fn walk_generated(dir: &Path, reader: &Reader) -> Result<Inputs, RenderError> {
    let repo_root = reader.root();
    let dir = std::fs::canonicalize(dir).map_err(|err| {
        if err.kind() == ErrorKind::NotFound {
            RenderError::MissingKustomization {
                dir: display_path(dir, repo_root),
                referenced_from: None,
            }
        } else {
            RenderError::io(dir, err)
        }
    })?;
    let mut out = Inputs {
        dir: dir.clone(),
        files: BTreeSet::new(),
        sort_options: None,
        secret_values: Vec::new(),
        batching: Batching {
            shared_settings: BTreeSet::new(),
            alone: Some("Flux generates its kustomization"),
        },
        generated: Some(Vec::new()),
    };
    let mut entries = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(current) = pending.pop() {
        let read = std::fs::read_dir(&current).map_err(|err| RenderError::io(&current, err))?;
        let mut children: Vec<(PathBuf, std::fs::FileType)> = read
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
            .collect();
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (path, kind) in children {
            if entries.len() >= MAX_GENERATED {
                return Err(RenderError::io(
                    &display_path(&dir, repo_root),
                    std::io::Error::other(format!(
                        "more than {MAX_GENERATED} manifests below a directory without a kustomization"
                    )),
                ));
            }
            if kind.is_dir() {
                if kustomization_file(&path).is_some() {
                    let inner = walk(&path, reader)?;
                    out.files.extend(inner.files);
                    out.secret_values.extend(inner.secret_values);
                    out.batching
                        .shared_settings
                        .extend(inner.batching.shared_settings);
                    entries.push(Generated::Dir(path));
                } else {
                    subdirs.push(path);
                }
                continue;
            }
            let manifest = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if !manifest {
                continue;
            }
            // A link, a device or an oversized file is the reader's error, naming the file.
            let text = reader.read_to_string(&path)?;
            if let Err(err) = crate::yaml::documents::<Value>(&text) {
                return Err(RenderError::ManifestSyntax {
                    file: display_path(&path, repo_root),
                    line: err.line,
                    message: err.message,
                });
            }
            out.files.insert(path.clone());
            entries.push(Generated::File(path));
        }
        // Depth first, in path order, as Flux's walk.
        pending.extend(subdirs.into_iter().rev());
    }
    out.generated = Some(entries);
    Ok(out)
}

/// What the kustomization tree of an overlay says about rendering it in one kustomize run with others (see
/// the batch renderer in `kustomize.rs` for why each matters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Batching {
    /// The `configurations` files of the tree: kustomize merges them into the top kustomization's
    /// configuration and applies that to every overlay of a run, so only overlays with the same files share
    /// one.
    pub shared_settings: BTreeSet<PathBuf>,
    /// Why the overlay must be rendered in a run of its own, when it must.
    pub alone: Option<&'static str>,
}

/// Walks the kustomization in `dir`, reading and checking files with `reader`, whose root is the canonical
/// repository root.
pub(crate) fn walk(dir: &Path, reader: &Reader) -> Result<Inputs, RenderError> {
    let repo_root = reader.root();
    let dir = match std::fs::canonicalize(dir) {
        Ok(dir) => dir,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err(RenderError::MissingKustomization {
                dir: display_path(dir, repo_root),
                referenced_from: None,
            });
        }
        Err(err) => return Err(RenderError::io(dir, err)),
    };
    let mut walker = Walker {
        reader,
        repo_root,
        files: BTreeSet::new(),
        visited: HashSet::new(),
        secret_values: BTreeSet::new(),
        batching: Batching::default(),
        root_prefix: false,
        inner_prefix: false,
        depth: 0,
    };
    let root = walker.kustomization(&dir, None)?;
    let mut batching = walker.batching;
    if walker.inner_prefix && !walker.root_prefix {
        // kustomize compares the prefix lists of a reference and its candidates, and an empty list only
        // matches an empty one: the shared run's marker makes every list non-empty, so such an overlay
        // would be refused there ("found multiple possible referrals") and bisected out, or, with a
        // cluster-scoped referrer and two candidates of the same name, get a reference rewritten that
        // kustomize alone leaves as it is.
        batching.alone = batching.alone.or(Some(
            "a namePrefix or transformer below the root but none at the root",
        ));
    }
    Ok(Inputs {
        dir,
        files: walker.files,
        sort_options: root.get("sortOptions").filter(|v| !v.is_null()).cloned(),
        // Longest first, so that a value containing another is cut whole.
        secret_values: {
            let mut values: Vec<String> = walker.secret_values.into_iter().collect();
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
            values
        },
        batching,
        generated: None,
    })
}

/// Hashes `files` (absolute paths inside the reader's root) in sorted order. A file that cannot be read
/// boundedly fails the digest, so the overlay gets an error naming it.
pub(crate) fn digest_files(
    files: &BTreeSet<PathBuf>,
    reader: &Reader,
) -> Result<InputDigest, RenderError> {
    let mut hasher = Sha256::new();
    for file in files {
        let rel = repo_relative(file, reader.root()).unwrap_or_else(|| file.clone());
        let bytes = reader.read(file)?;
        // Length-prefix both parts so that no two different file sets can feed the same byte stream.
        let name = slash(&rel);
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(InputDigest(hex(&hasher.finalize())))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Reads and parses a kustomization file into a JSON mapping (an empty file is an empty mapping).
fn load_kustomization(file: &Path, reader: &Reader) -> Result<Map<String, Value>, RenderError> {
    let repo_root = reader.root();
    let text = reader.read_to_string(file)?;
    // The yaml module never quotes the input: a secretGenerator's literals live in this file.
    let value: Value = match crate::yaml::document(&text) {
        Ok(value) => value,
        Err(err) => {
            return Err(RenderError::KustomizationSyntax {
                file: display_path(file, repo_root),
                line: err.line,
                column: err.column,
                message: err.message,
            });
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(RenderError::KustomizationNotAMapping {
            file: display_path(file, repo_root),
        }),
    }
}

/// How an entry of a kustomization field is loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A file, or a directory holding a kustomization (`resources`, `components`, plugin configs).
    FileOrKustomization,
    /// A plain file (patches, generator sources, CRDs, ...).
    File,
}

struct Walker<'a> {
    reader: &'a Reader,
    repo_root: &'a Path,
    files: BTreeSet<PathBuf>,
    visited: HashSet<PathBuf>,
    secret_values: BTreeSet<String>,
    batching: Batching,
    /// The root kustomization sets a non-empty `namePrefix`.
    root_prefix: bool,
    /// A kustomization below the root sets a non-empty `namePrefix`, or one has `transformers` (which may
    /// hold a PrefixTransformer for some kinds only).
    inner_prefix: bool,
    /// How many kustomizations deep the walk is now.
    depth: usize,
}

/// The most kustomizations one may nest through `resources`, `bases` and `components`: real chains are a
/// handful deep (overlay, region, base, components), and the walk recurses, so a generated chain of
/// thousands must stop with an error rather than the stack.
const MAX_CHAIN_DEPTH: usize = 64;

/// The kinds kustomize's `namePrefix` leaves alone (`prefixFieldSpecsToSkip` in kustomize v5.5).
pub(crate) const UNPREFIXED_KINDS: [&str; 3] =
    ["Namespace", "CustomResourceDefinition", "APIService"];

/// Shorter values are not cut from messages: replacing every `1` or `true` would garble them more than
/// it protects.
const MIN_SECRET_LEN: usize = 4;

impl Walker<'_> {
    /// Walks the kustomization in `dir` (absolute, normalized) and returns its parsed content.
    fn kustomization(
        &mut self,
        dir: &Path,
        referenced_from: Option<&Path>,
    ) -> Result<Map<String, Value>, RenderError> {
        let Some(file) = kustomization_file(dir) else {
            return Err(RenderError::MissingKustomization {
                dir: display_path(dir, self.repo_root),
                referenced_from: referenced_from.map(|f| display_path(f, self.repo_root)),
            });
        };
        self.check_inside(&file, referenced_from.unwrap_or(&file))?;
        let k = load_kustomization(&file, self.reader)?;
        if !self.visited.insert(dir.to_path_buf()) {
            // A diamond (two overlays' bases sharing a component) or a cycle: its inputs are in already.
            return Ok(k);
        }
        self.files.insert(file.clone());
        self.note_batching(&file, &k, referenced_from.is_none());

        for field in ["helmCharts", "helmChartInflationGenerator"] {
            if k.get(field).is_some_and(is_non_empty) {
                return Err(RenderError::Unsupported {
                    kustomization: display_path(&file, self.repo_root),
                    field,
                });
            }
        }

        for field in ["resources", "bases", "components"] {
            for entry in strings(k.get(field)) {
                if is_remote(entry) {
                    return Err(RenderError::RemoteResource {
                        kustomization: display_path(&file, self.repo_root),
                        url: entry.to_string(),
                    });
                }
                self.entry(&file, dir, entry, Entry::FileOrKustomization)?;
            }
        }
        for field in ["generators", "transformers", "validators"] {
            for entry in strings(k.get(field)) {
                // Entries may be inline plugin configs rather than paths.
                if entry.contains('\n') {
                    continue;
                }
                if is_remote(entry) {
                    return Err(RenderError::RemoteResource {
                        kustomization: display_path(&file, self.repo_root),
                        url: entry.to_string(),
                    });
                }
                self.entry(&file, dir, entry, Entry::FileOrKustomization)?;
            }
        }
        for field in ["patches", "patchesJson6902", "replacements"] {
            for item in items(k.get(field)) {
                if let Some(path) = item.get("path").and_then(Value::as_str) {
                    self.entry(&file, dir, path, Entry::File)?;
                }
            }
        }
        if let Some(path) = k
            .get("openapi")
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str)
        {
            self.entry(&file, dir, path, Entry::File)?;
        }
        for entry in strings(k.get("patchesStrategicMerge")) {
            if !is_inline_patch(entry, dir) {
                self.entry(&file, dir, entry, Entry::File)?;
            }
        }
        for field in ["crds", "configurations"] {
            for entry in strings(k.get(field)) {
                self.entry(&file, dir, entry, Entry::File)?;
            }
        }
        for field in ["configMapGenerator", "secretGenerator"] {
            for generator in items(k.get(field)) {
                for source in strings(generator.get("files")) {
                    // `key=path` or just `path`.
                    let path = source.split_once('=').map_or(source, |(_, path)| path);
                    self.entry(&file, dir, path, Entry::File)?;
                }
                for env in strings(generator.get("envs")) {
                    self.entry(&file, dir, env, Entry::File)?;
                }
                if let Some(env) = generator.get("env").and_then(Value::as_str) {
                    self.entry(&file, dir, env, Entry::File)?;
                }
                if field == "secretGenerator" {
                    self.remember_secrets(dir, generator);
                }
            }
        }
        Ok(k)
    }

    /// Notes what in the kustomization `k` (read from `file`) limits which overlays it can be rendered with.
    fn note_batching(&mut self, file: &Path, k: &Map<String, Value>, is_root: bool) {
        let set = |field: &str| k.get(field).is_some_and(is_non_empty);
        let alone = &mut self.batching.alone;
        // kustomize's OpenAPI schema is global to the process: the first overlay that sets one sets it for
        // every overlay of the run.
        if set("openapi") {
            *alone = alone.or(Some("openapi"));
        }
        // Vars are resolved over the whole run: one overlay's var would fill `$(NAME)` in another's
        // commands.
        if set("vars") {
            *alone = alone.or(Some("vars"));
        }
        // Name references read from CRD schemas can name any kind, the unprefixed ones too.
        if set("crds") {
            *alone = alone.or(Some("crds"));
        }
        if set("transformers") {
            self.inner_prefix = true;
        }
        if k.get("namePrefix")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty())
        {
            if is_root {
                self.root_prefix = true;
            } else {
                self.inner_prefix = true;
            }
        }
        let dir = file.parent().unwrap_or(file);
        for entry in strings(k.get("configurations")) {
            let path = normalize(&dir.join(entry.trim()));
            // A missing or unreadable file is reported by the walk itself.
            let Ok(text) = self.reader.read_to_string(&path) else {
                continue;
            };
            // Name references from or to a kind `namePrefix` leaves alone would resolve differently in a
            // shared run (a coarse test: the word anywhere in the file).
            if UNPREFIXED_KINDS.iter().any(|kind| text.contains(kind)) {
                self.batching.alone = self.batching.alone.or(Some(
                    "configurations naming Namespace, CustomResourceDefinition or APIService",
                ));
            }
            self.batching.shared_settings.insert(path);
        }
    }

    /// Records the file or kustomization `entry` (relative to `dir`) that `file` refers to.
    fn entry(
        &mut self,
        file: &Path,
        dir: &Path,
        entry: &str,
        kind: Entry,
    ) -> Result<(), RenderError> {
        let path = normalize(&dir.join(entry.trim()));
        self.check_inside(&path, file)?;
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(RenderError::MissingFile {
                    kustomization: display_path(file, self.repo_root),
                    path: display_path(&path, self.repo_root),
                });
            }
            Err(err) => return Err(RenderError::io(&path, err)),
        };
        if meta.is_dir() {
            if kind == Entry::FileOrKustomization {
                if self.depth >= MAX_CHAIN_DEPTH {
                    return Err(RenderError::io(
                        &display_path(file, self.repo_root),
                        std::io::Error::other(format!(
                            "kustomizations nested more than {MAX_CHAIN_DEPTH} deep"
                        )),
                    ));
                }
                self.depth += 1;
                let walked = self.kustomization(&path, Some(file));
                self.depth -= 1;
                walked?;
            }
            // A directory where a file belongs: kustomize reports that itself, with its own words.
        } else {
            // Kustomize reads this file too: a device, a FIFO or a link out of the repository must be
            // refused before it runs, even when no cache digest reads the file first.
            self.reader.check(&path)?;
            // kustomize parses it, and a document nested thousands deep costs it seconds and tens of MiB
            // to re-indent: refused here, naming the file. Only a breached limit: syntax errors are
            // kustomize's to report.
            if kind == Entry::FileOrKustomization {
                let text = self.reader.read_to_string(&path)?;
                if let Err(err) = crate::yaml::check_manifest(&text) {
                    return Err(RenderError::ManifestSyntax {
                        file: display_path(&path, self.repo_root),
                        line: err.line,
                        message: err.message,
                    });
                }
            }
            self.files.insert(path);
        }
        Ok(())
    }

    /// Records a secretGenerator's literal and env-file values (and whole lines, which kustomize quotes
    /// when it cannot parse them).
    fn remember_secrets(&mut self, dir: &Path, generator: &Map<String, Value>) {
        let mut lines: Vec<String> = strings(generator.get("literals"))
            .map(str::to_string)
            .collect();
        let env_files =
            strings(generator.get("envs")).chain(generator.get("env").and_then(Value::as_str));
        for env in env_files {
            if let Ok(text) = self
                .reader
                .read_to_string(&normalize(&dir.join(env.trim())))
            {
                lines.extend(text.lines().map(str::to_string));
            }
        }
        for line in lines {
            let line = line.trim();
            if let Some((_, value)) = line.split_once('=') {
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                if value.len() >= MIN_SECRET_LEN {
                    self.secret_values.insert(value.to_string());
                }
            }
            if line.len() >= MIN_SECRET_LEN {
                self.secret_values.insert(line.to_string());
            }
        }
    }

    /// Envparity reads a repository at a commit: a file outside it is not part of that commit.
    fn check_inside(&self, path: &Path, referenced_from: &Path) -> Result<(), RenderError> {
        if repo_relative(path, self.repo_root).is_some() {
            Ok(())
        } else {
            Err(RenderError::OutsideRepo {
                kustomization: display_path(referenced_from, self.repo_root),
                path: path.to_path_buf(),
            })
        }
    }
}

/// Kustomize reads a `patchesStrategicMerge` entry as a file when one exists, else as an inline patch.
fn is_inline_patch(entry: &str, dir: &Path) -> bool {
    if entry.contains('\n') {
        return true;
    }
    if dir.join(entry.trim()).exists() {
        return false;
    }
    matches!(crate::yaml::document::<Value>(entry), Ok(Value::Object(_)))
}

fn is_non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The string entries of a list field; other shapes are left for kustomize to reject.
fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The mapping entries of a list field.
fn items(value: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_manifest_values_are_every_value_decoded_and_line_by_line() {
        let dir = tempfile::tempdir().expect("dir");
        let secret = dir.path().join("secret.yaml");
        std::fs::write(
            &secret,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {shown: not-a-secret}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n\
             stringData:\n  password: s3cr3t-PLANTED\n  pem: |\n    -----BEGIN KEY-----\n    bGluZTE=\n  no: abc\n\
             data:\n  token: {}\n",
        )
        .expect("write");
        let text = std::fs::read_to_string(&secret).expect("read");
        let encoded = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "decoded-PLANTED",
        );
        std::fs::write(&secret, text.replace("{}", &encoded)).expect("write");
        let plain = dir.path().join("plain.yaml");
        std::fs::write(&plain, "kind: Deployment\n").expect("write");
        let reader = Reader::new(dir.path(), DEFAULT_MAX_BYTES);
        let values = secret_manifest_values(&[secret, plain], &reader);
        for v in [
            "s3cr3t-PLANTED",
            "-----BEGIN KEY-----",
            "bGluZTE=",
            encoded.as_str(),
            "decoded-PLANTED",
        ] {
            assert!(values.contains(v), "{v}: {values:?}");
        }
        assert!(!values.contains("not-a-secret"), "{values:?}");
        assert!(
            !values.contains("abc"),
            "too short to cut safely: {values:?}"
        );
    }

    #[test]
    fn values_patched_into_a_secret_are_secret_values_too() {
        let dir = tempfile::tempdir().expect("dir");
        let kustomization = dir.path().join("kustomization.yaml");
        let text = r#"resources: [../base]
patches:
- target: {kind: Secret, name: db}
  patch: |-
    - op: replace
      path: /stringData/password
      value: inline-op-PLANTED
- target: {kind: Secret, name: db}
  path: ops.yaml
- target: {kind: Deployment, name: web}
  patch: |-
    - {op: replace, path: /spec/replicas, value: shown-not-secret}
- patch: |-
    apiVersion: v1
    kind: Secret
    metadata: {name: db}
    stringData: {token: smp-inline-PLANTED}
"#;
        std::fs::write(&kustomization, text).expect("write");
        std::fs::write(
            dir.path().join("ops.yaml"),
            "- op: add\n  path: /stringData/key\n  value: {nested: file-op-PLANTED}\n",
        )
        .expect("write");
        let reader = Reader::new(dir.path(), DEFAULT_MAX_BYTES);
        let values = secret_manifest_values(&[kustomization], &reader);
        for v in ["inline-op-PLANTED", "file-op-PLANTED", "smp-inline-PLANTED"] {
            assert!(values.contains(v), "{v}: {values:?}");
        }
        assert!(!values.contains("shown-not-secret"), "{values:?}");
    }

    #[test]
    fn remote_entries() {
        for remote in [
            "https://github.com/org/repo//base?ref=v1",
            "github.com/org/repo/base?ref=main",
            "git@github.com:org/repo.git",
            "ssh://git@example.com/repo.git",
            "../base?ref=v1",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["../../base", "deploy.yaml", "github/base"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn a_kustomization_chain_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical");
        let chain = |length: usize| {
            for i in 0..length {
                let dir = root.join(format!("k{i}"));
                std::fs::create_dir_all(&dir).expect("mkdir");
                let next = if i + 1 < length {
                    format!("resources: [../k{}]\n", i + 1)
                } else {
                    "resources: []\n".to_string()
                };
                std::fs::write(dir.join("kustomization.yaml"), next).expect("write");
            }
        };
        let reader = Reader::new(&root, DEFAULT_MAX_BYTES);
        chain(MAX_CHAIN_DEPTH + 1);
        let inputs = walk(&root.join("k0"), &reader).expect("at the limit");
        assert_eq!(inputs.files.len(), MAX_CHAIN_DEPTH + 1);
        chain(5000);
        let err = walk(&root.join("k0"), &reader).expect_err("too deep");
        assert!(
            err.to_string().contains("nested more than 64 deep"),
            "{err}"
        );
    }
}
