//! The real kustomize, many overlays per process.
//!
//! A kustomize run costs ~0.25 s of CPU whatever the overlay, so the overlays of one environment are
//! rendered together: a temporary directory holds one wrapper kustomization per overlay
//! (`resources: [<relative path to the overlay>]`) and a top kustomization listing the wrappers and asking
//! for `buildMetadata`. The output is split back per overlay.
//!
//! # Shared runs, collision-free by construction
//! Overlays of different services often declare the same object ids (`Deployment/web` in every app, the
//! same `Namespace`), which kustomize refuses in one run. So in a run of several overlays each wrapper puts
//! a marker unique to its overlay, `ep<nonce>x<index>-`, in front of every object name: `namePrefix` for
//! every kind but those it leaves alone (`Namespace`, `CustomResourceDefinition`, `APIService`), a
//! `replacement` for those (only when the overlay's files name one of them). The name then says which
//! overlay an object belongs to, and the split removes the overlay's marker from every string of its
//! objects. The nonce is random per render call, so no input can contain a marker. Removing it is exact
//! because kustomize treats the wrapper's prefix like any other: it rewrites every name reference it knows
//! (and only those) to the prefixed name, outermost, so without it the names are what the overlay alone
//! renders; generated-name hashes do not cover the name (kustomize v5.5 looks the name up under a path
//! that never matches).
//!
//! Kustomize resolves name references, vars and its OpenAPI schema once for the whole run, so what one
//! overlay sets can reach into another's objects. Hence:
//! - overlays share a run only with overlays of the same environment, the same `sortOptions` (only the top
//!   kustomization's count) and the same `configurations` files (merged into the top's configuration);
//! - an overlay whose tree has `vars`, `crds`, `openapi`, `configurations` naming an unprefixed kind, or a
//!   `namePrefix` (or `transformers`) below its root but none at its root is rendered in a run of its own;
//!   the last because kustomize then compares name prefixes where one side is empty, which the marker
//!   makes non-empty: in a shared run such an overlay fails with "found multiple possible referrals", or
//!   (a cluster-scoped referrer, two same-named candidates) resolves a reference alone it leaves be;
//! - after a shared run, an overlay whose objects still hold a marker (a reference kustomize resolved to
//!   another overlay's object, which alone it would have left as it is) or hold an `APIService` (which
//!   names its Service by reference but is itself never prefixed, so other overlays' Services make
//!   kustomize give up the rewrite) is rendered again in a run of its own.
//!
//! A run of one overlay has no marker at all. A refused shared run is split in two halves, with the
//! overlay kustomize named in its error on its own, and the parts retried the same way, until each
//! broken overlay stands alone with its own error: O(log n) runs deep.
//!
//! Facts checked against kustomize v5.5 (`kubectl kustomize`), which the tests pin down:
//! - a wrapper may name an overlay through `..` segments: the load restrictor only confines the files of
//!   a kustomization to its own root, and each overlay is its own root;
//! - `buildMetadata` and `sortOptions` only take effect in the top kustomization, so they go there
//!   (the overlay's own `sortOptions` too: overlays with different ones are never batched together);
//! - every overlay and fixture of this repository renders in shared runs exactly as `kubectl kustomize`
//!   renders it alone (`render::shared_runs_render_every_example_and_fixture_overlay_as_kustomize_alone_does`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::inputs::{Generated, UNPREFIXED_KINDS, inputs_for};
use super::paths::{canonical_dir, display_path, relative, slash};
use super::{RenderError, RenderRequest, Rendered, RenderedObject, Renderer, finish_object_with};

/// How to invoke kustomize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KustomizeCommand {
    /// The standalone binary: `<program> build <dir>`.
    Standalone(PathBuf),
    /// kubectl's embedded kustomize: `<program> kustomize <dir>`.
    Kubectl(PathBuf),
}

impl KustomizeCommand {
    fn program(&self) -> &Path {
        match self {
            KustomizeCommand::Standalone(p) | KustomizeCommand::Kubectl(p) => p,
        }
    }

    /// `kustomize build` of `dir`, boxed: files only from inside each kustomization's root, no plugins, no
    /// exec functions, no Helm, all said explicitly rather than left to the defaults of whichever version is
    /// installed, and an environment of the allow-listed variables only ([`child_env`]). kubectl v5.5's
    /// `kustomize` has no `--enable-exec` (it cannot run exec functions at all), so it is only passed to
    /// the standalone binary.
    fn build(&self, dir: &Path, home: &Path) -> Command {
        let mut command = boxed(self.program(), home);
        match self {
            KustomizeCommand::Standalone(_) => command.args(["build", "--enable-exec=false"]),
            KustomizeCommand::Kubectl(_) => command.arg("kustomize"),
        };
        command
            .args([
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
                "--enable-alpha-plugins=false",
                "--enable-helm=false",
            ])
            .arg(dir);
        command
    }
}

/// A command for `program` with stdin closed and an environment of [`child_env`] only.
fn boxed(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .envs(child_env(
            |name| std::env::var_os(name),
            home,
            &std::env::temp_dir(),
        ))
        .stdin(Stdio::null());
    command
}

/// The whole environment kustomize gets. envparity's own environment holds a git token, SMTP and API
/// credentials; kustomize needs none of them. `PATH` keeps only absolute entries (a relative one is
/// resolved against the working directory, which may be the checked-out pull request). `HOME` is the run's
/// own temporary directory, not the user's: kustomize reads plugin and kubectl config from there, and
/// nothing of the user's home (credentials, kubeconfig, git config) is any business of a render.
/// `TMPDIR` only when absolute; the locale as the parent has it (it only changes message wording).
fn child_env(
    parent: impl Fn(&str) -> Option<std::ffi::OsString>,
    home: &Path,
    tmp: &Path,
) -> Vec<(&'static str, std::ffi::OsString)> {
    let mut env = vec![
        (
            "PATH",
            absolute_entries(parent("PATH").as_deref()).unwrap_or_default(),
        ),
        ("HOME", home.as_os_str().to_owned()),
    ];
    if tmp.is_absolute() {
        env.push(("TMPDIR", tmp.as_os_str().to_owned()));
    }
    for name in ["LANG", "LC_ALL"] {
        if let Some(value) = parent(name) {
            env.push((name, value));
        }
    }
    env
}

/// The absolute entries of a PATH value, in order; `None` if it has none.
fn absolute_entries(path: Option<&std::ffi::OsStr>) -> Option<std::ffi::OsString> {
    let entries: Vec<PathBuf> = std::env::split_paths(path?)
        .filter(|p| p.is_absolute())
        .collect();
    if entries.is_empty() {
        return None;
    }
    std::env::join_paths(entries).ok()
}

/// The real kustomize: `kustomize build` if `kustomize` is on PATH, otherwise `kubectl kustomize`.
#[derive(Debug, Clone)]
pub struct Kustomize {
    command: KustomizeCommand,
    version: String,
    /// Canonical, so that lexical path arithmetic matches what kustomize prints.
    repo_root: PathBuf,
    /// How long one kustomize run may take before it is killed.
    timeout: std::time::Duration,
    /// The most bytes envparity reads (or lets kustomize read) from one input file.
    max_file_bytes: u64,
}

impl Kustomize {
    /// Finds kustomize on PATH (the standalone binary first, then kubectl) and asks its version.
    pub fn detect(repo_root: &Path) -> Result<Kustomize, RenderError> {
        let command = find_command(std::env::var_os("PATH").as_deref())
            .ok_or(RenderError::KustomizeNotFound)?;
        Kustomize::with_command(command, repo_root)
    }

    /// Uses the given program; asks its version.
    pub fn with_command(
        command: KustomizeCommand,
        repo_root: &Path,
    ) -> Result<Kustomize, RenderError> {
        let repo_root = canonical_dir(repo_root)?;
        let version = query_version(&command)?;
        Ok(Kustomize {
            command,
            version,
            repo_root,
            timeout: KUSTOMIZE_TIMEOUT,
            max_file_bytes: crate::input::DEFAULT_MAX_BYTES,
        })
    }

    /// Kills a kustomize run that takes longer than `timeout` (default 5 minutes).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Kustomize {
        self.timeout = timeout;
        self
    }

    /// Refuses overlays with an input file larger than `bytes` before kustomize runs
    /// (`limits.max_file_bytes`, default 32 MiB).
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Kustomize {
        self.max_file_bytes = bytes;
        self
    }

    /// The most bytes of output read from one kustomize run: 8 x `limits.max_file_bytes` (256 MiB by
    /// default). A render is the overlay's files with little added, so more is an overlay that multiplies
    /// its input (a deep document re-indented, a generator gone wild), stopped before it fills memory.
    fn max_output_bytes(&self) -> u64 {
        self.max_file_bytes.saturating_mul(8)
    }

    /// The kustomize version, as the program reports it (e.g. `v5.5.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The program this renderer runs.
    pub fn command(&self) -> &KustomizeCommand {
        &self.command
    }

    /// The bounded reader of the repository's files.
    fn reader(&self) -> crate::input::Reader {
        crate::input::Reader::new(&self.repo_root, self.max_file_bytes)
    }

    /// Renders one batch in one kustomize process. A batch of several overlays is a shared run (see the
    /// module docs): the markers are removed again here, and the overlays whose objects a shared run may
    /// have rendered differently from a run of their own are returned in `alone`, not rendered.
    fn run_batch(&self, batch: &Batch, slots: &[Slot], markers: Markers) -> Result<Ran, Failure> {
        let started = Instant::now();
        let tmp = tempfile::Builder::new()
            .prefix("envparity-kustomize-")
            .tempdir()
            .map_err(|err| Failure::Fatal(RenderError::io(&std::env::temp_dir(), err)))?;
        // Canonical: relative paths from it must be computed the way the kernel resolves them.
        let top = canonical_dir(tmp.path()).map_err(Failure::Fatal)?;
        let shared = batch.indices.len() > 1;
        let mut wrappers = Vec::with_capacity(batch.indices.len());
        let mut aliases: HashMap<PathBuf, String> = HashMap::new();
        for &i in &batch.indices {
            let name = format!("w{i}");
            let wrapper = top.join(&name);
            // A directory without a kustomization gets the one Flux generates, over copies of its
            // manifests (kustomize loads files only from inside a kustomization's own directory).
            let target = match &slots[i].generated {
                Some(entries) => {
                    let dir = wrapper.join(GENERATED_DIR);
                    write_generated(&dir, entries, &self.reader(), &mut aliases)?;
                    dir
                }
                None => slots[i].dir.clone(),
            };
            // A deploy-time layer is one more kustomization between the wrapper and the overlay.
            let (inner, rel) = match &slots[i].layer {
                Some(layer) => {
                    let dir = wrapper.join(LAYER_DIR);
                    let rel = relative(&dir, &target);
                    write_file(
                        &dir,
                        "kustomization.yaml",
                        &layer_kustomization(&rel, layer),
                    )?;
                    (PathBuf::from(LAYER_DIR), rel)
                }
                None => {
                    let rel = relative(&wrapper, &target);
                    (rel.clone(), rel)
                }
            };
            // JSON is YAML, and serde_json quotes any path safely.
            if shared {
                let token = markers.token(i);
                let unprefixed = slots[i].unprefixed_kinds;
                let content = shared_wrapper(&slash(&inner), &token, unprefixed);
                write_file(&wrapper, "kustomization.yaml", &content)?;
                if unprefixed {
                    write_file(&wrapper, MARKER_SOURCE_FILE, &marker_source(&token))?;
                }
            } else {
                write_file(
                    &wrapper,
                    "kustomization.yaml",
                    &lone_wrapper(&slash(&inner)),
                )?;
            }
            wrappers.push(Wrapper {
                index: i,
                dir: wrapper,
                rel,
            });
        }
        let mut top_kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": batch.indices.iter().map(|i| format!("w{i}")).collect::<Vec<_>>(),
            "buildMetadata": ["originAnnotations", "transformerAnnotations"],
        });
        if let Some(sort) = &batch.sort_options {
            top_kustomization["sortOptions"] = sort.clone();
        }
        write_file(&top, "kustomization.yaml", &top_kustomization)?;

        // Outside `top`: kustomize only reads what the kustomizations list, but the home is none of them.
        let home = top.join(HOME_DIR);
        std::fs::create_dir_all(&home)
            .map_err(|err| Failure::Fatal(RenderError::io(&home, err)))?;
        let output = match run_bounded(
            self.command.build(&top, &home),
            self.timeout,
            self.max_output_bytes(),
        ) {
            Err(err) => {
                return Err(Failure::Fatal(RenderError::Spawn {
                    program: self.command.program().to_path_buf(),
                    source: Arc::new(err),
                }));
            }
            Ok(Run::TimedOut) => return Err(Failure::TimedOut),
            Ok(Run::TooLarge) => return Err(Failure::TooLarge),
            Ok(Run::Finished(output)) => output,
        };
        tracing::debug!(
            overlays = batch.indices.len(),
            ok = output.status.success(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "kustomize run"
        );
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(Failure::Refused {
                named: named_wrapper(&stderr).filter(|i| batch.indices.contains(i)),
                message: aliases.iter().fold(
                    clean_stderr(&stderr, &top, &wrappers, slots, &self.repo_root),
                    |message, (copy, original)| {
                        let copy = copy.strip_prefix(&top).unwrap_or(copy);
                        message.replace(&slash(copy), original)
                    },
                ),
            });
        }
        // kubectl prints deprecation warnings on stderr even on success: ignored. Stdout is never logged
        // or quoted: it holds Secret values until they are blanked.
        let stdout =
            String::from_utf8(output.stdout).map_err(|_| Failure::Unreadable { line: None })?;
        let documents: Vec<Value> = crate::yaml::documents_rendered(&stdout)
            .map_err(|err| Failure::Unreadable { line: err.line })?;

        let mut per_overlay: HashMap<usize, Vec<RenderedObject>> = HashMap::new();
        let mut alone: BTreeSet<usize> = BTreeSet::new();
        let members: HashSet<usize> = batch.indices.iter().copied().collect();
        for mut document in documents {
            if document.is_null() {
                continue;
            }
            // Alone, every object is the overlay's; shared, its name says whose it is.
            let index = if shared {
                document
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .and_then(|name| markers.index_of(name))
                    .filter(|i| members.contains(i))
                    .ok_or(Failure::Unmarked)?
            } else {
                batch.indices[0]
            };
            if shared {
                replace_text(&mut document, &format!("{}-", markers.token(index)), "");
                if contains_text(&document, &markers.stem()) || refers_unprefixed(&document) {
                    alone.insert(index);
                }
            }
            per_overlay
                .entry(index)
                .or_default()
                .push(finish_object_with(
                    document,
                    &top,
                    &self.repo_root,
                    &aliases,
                ));
        }
        Ok(Ran {
            rendered: batch
                .indices
                .iter()
                .filter(|i| !alone.contains(i))
                .map(|&i| {
                    let objects = per_overlay.remove(&i).unwrap_or_default();
                    (i, Rendered { objects })
                })
                .collect(),
            alone: alone.into_iter().collect(),
        })
    }

    /// Runs every batch on rayon's pool, splitting refused ones. The parts of a split batch are spawned into
    /// the same scope as they come (not recursed into, so the stack does not grow with the splits). Each
    /// result carries its request index, so the order in which runs finish changes nothing.
    fn run_all(
        &self,
        batches: Vec<Batch>,
        slots: &[Slot],
        markers: Markers,
        results: &mut [Option<Result<Rendered, RenderError>>],
    ) {
        let (tx, rx) = std::sync::mpsc::channel::<Settled>();
        rayon::scope(|scope| {
            for batch in batches {
                self.spawn_settle(scope, batch, slots, markers, tx.clone());
            }
        });
        for (i, result) in rx.try_iter().flatten() {
            results[i] = Some(result);
        }
    }

    /// Settles `batch` in a task of `scope`, and spawns its follow-ups the same way.
    fn spawn_settle<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        batch: Batch,
        slots: &'s [Slot],
        markers: Markers,
        tx: std::sync::mpsc::Sender<Settled>,
    ) {
        scope.spawn(move |scope| {
            let (finished, follow_ups) = self.settle(&batch, slots, markers);
            // The receiver outlives the scope.
            let _ = tx.send(finished);
            for part in follow_ups {
                self.spawn_settle(scope, part, slots, markers, tx.clone());
            }
        });
    }

    /// Runs one batch: the results it settled, and the smaller batches to run next.
    fn settle(&self, batch: &Batch, slots: &[Slot], markers: Markers) -> (Settled, Vec<Batch>) {
        match self.run_batch(batch, slots, markers) {
            Ok(ran) => {
                let again: Vec<Batch> = ran
                    .alone
                    .into_iter()
                    .map(|i| {
                        tracing::debug!(
                            dir = %display_path(&slots[i].dir, &self.repo_root).display(),
                            "a shared run may have rendered this overlay differently; rendering it alone"
                        );
                        batch.only(i)
                    })
                    .collect();
                (
                    ran.rendered.into_iter().map(|(i, r)| (i, Ok(r))).collect(),
                    again,
                )
            }
            Err(Failure::Fatal(err)) => (
                batch
                    .indices
                    .iter()
                    .map(|&i| (i, Err(err.clone())))
                    .collect(),
                Vec::new(),
            ),
            Err(failure) if batch.indices.len() == 1 => {
                let i = batch.indices[0];
                let dir = display_path(&slots[i].dir, &self.repo_root);
                let err = match failure {
                    Failure::Refused { mut message, .. } => {
                        if let Some(layer) = &slots[i].layer {
                            message = format!(
                                "{message} (rendered with the settings {} adds at deploy time)",
                                layer.by()
                            );
                        }
                        RenderError::KustomizeFailed { dir, message }
                    }
                    Failure::Unreadable { line } => RenderError::UnreadableOutput { dir, line },
                    Failure::TooLarge => RenderError::OutputTooLarge {
                        dir,
                        limit: self.max_output_bytes(),
                    },
                    Failure::TimedOut => RenderError::Timeout {
                        dir,
                        seconds: self.timeout.as_secs(),
                    },
                    Failure::Unmarked | Failure::Fatal(_) => RenderError::UnmarkedOutput { dir },
                };
                (vec![(i, Err(err))], Vec::new())
            }
            Err(Failure::TimedOut) => {
                tracing::debug!(
                    overlays = batch.indices.len(),
                    "a shared kustomize run timed out; rendering each overlay alone"
                );
                (
                    Vec::new(),
                    batch.indices.iter().map(|&i| batch.only(i)).collect(),
                )
            }
            Err(failure) => {
                let named = match failure {
                    Failure::Refused { named, .. } => named,
                    _ => None,
                };
                tracing::debug!(
                    overlays = batch.indices.len(),
                    ?named,
                    "kustomize refused a batch; bisecting"
                );
                (Vec::new(), batch.split(named))
            }
        }
    }
}

impl Renderer for Kustomize {
    #[tracing::instrument(name = "kustomize", skip_all, fields(requests = requests.len()))]
    fn render(&self, requests: &[RenderRequest]) -> Vec<Result<Rendered, RenderError>> {
        let mut results: Vec<Option<Result<Rendered, RenderError>>> = vec![None; requests.len()];
        let mut slots = Vec::with_capacity(requests.len());
        // (environment, sortOptions, shared settings) -> overlays that may share a run.
        let mut groups: BTreeMap<(&str, String, String), Batch> = BTreeMap::new();
        let mut lone = Vec::new();
        let mut first_by_dir: HashMap<(PathBuf, Option<crate::kustomization::Layer>), usize> =
            HashMap::new();
        let mut duplicates = Vec::new();
        let reader = crate::input::Reader::new(&self.repo_root, self.max_file_bytes);
        for (i, request) in requests.iter().enumerate() {
            // Checked before kustomize runs: remote bases are refused without a network access, and a
            // missing file or broken YAML gets an error naming the file instead of failing the batch.
            let inputs = inputs_for(request, &reader);
            slots.push(match &inputs {
                Ok(inputs) => Slot {
                    dir: inputs.dir.clone(),
                    secret_values: inputs.secret_values.clone(),
                    files: inputs.files.iter().cloned().collect(),
                    unprefixed_kinds: inputs.batching.alone.is_none()
                        && mention_unprefixed_kinds(&inputs.files, &reader),
                    layer: request.layer.clone(),
                    generated: inputs.generated.clone(),
                },
                Err(_) => Slot {
                    dir: PathBuf::new(),
                    secret_values: Vec::new(),
                    files: Vec::new(),
                    unprefixed_kinds: false,
                    layer: None,
                    generated: None,
                },
            });
            let inputs = match inputs {
                Ok(inputs) => inputs,
                Err(err) => {
                    results[i] = Some(Err(err));
                    continue;
                }
            };
            let key = (inputs.dir.clone(), request.layer.clone());
            if let Some(&first) = first_by_dir.get(&key) {
                // The same directory (with the same deploy-time layer) twice: rendered once.
                duplicates.push((i, first));
                continue;
            }
            first_by_dir.insert(key, i);
            let batch = Batch {
                indices: vec![i],
                sort_options: inputs.sort_options.clone(),
            };
            // A layer between the wrapper and the overlay moves the overlay's own namePrefix below the
            // root, which shared runs do not render as kustomize alone would (see the module docs).
            let alone = inputs.batching.alone.or(request
                .layer
                .as_ref()
                .map(|_| "a GitOps object adds kustomize settings at deploy time"));
            if let Some(reason) = alone {
                tracing::debug!(
                    dir = %display_path(&inputs.dir, &self.repo_root).display(),
                    reason,
                    "rendering an overlay in a kustomize run of its own"
                );
                lone.push(batch);
                continue;
            }
            let sort_key = inputs
                .sort_options
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default();
            let settings_key = inputs
                .batching
                .shared_settings
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n");
            groups
                .entry((request.env.as_str(), sort_key, settings_key))
                .and_modify(|group| group.indices.push(i))
                .or_insert(batch);
        }
        let batches = groups.into_values().chain(lone).collect();
        self.run_all(batches, &slots, Markers::random(), &mut results);
        for (i, first) in duplicates {
            results[i] = results[first].clone();
        }
        results
            .into_iter()
            .map(|r| r.expect("every request is settled: validated, rendered or failed"))
            .collect()
    }

    fn identity(&self) -> String {
        match &self.command {
            KustomizeCommand::Standalone(_) => format!("kustomize {}", self.version),
            KustomizeCommand::Kubectl(_) => format!("kubectl kustomize {}", self.version),
        }
    }
}

/// Results by request index.
type Settled = Vec<(usize, Result<Rendered, RenderError>)>;

/// Per request: its canonical directory (empty when the request failed validation), the secret values
/// to keep out of its error messages, and whether its inputs may declare a kind `namePrefix` leaves alone.
struct Slot {
    dir: PathBuf,
    secret_values: Vec<String>,
    /// Its input files: on a failed run, the Secrets declared in them are read for values to cut.
    files: Vec<PathBuf>,
    unprefixed_kinds: bool,
    layer: Option<crate::kustomization::Layer>,
    generated: Option<Vec<Generated>>,
}

/// Requests rendered in one kustomize run (indices into the request slice).
#[derive(Debug)]
struct Batch {
    indices: Vec<usize>,
    sort_options: Option<Value>,
}

impl Batch {
    /// The smaller batches to retry a refused one with: the overlay kustomize named on its own, and the
    /// rest in two halves (or all of it in two halves when kustomize named none). Every part is smaller,
    /// so the retries end; and as each retry halves, no chain of retries is deeper than O(log n) however
    /// many overlays are broken (peeling one overlay off per retry chained one run over nearly the whole
    /// batch per broken overlay).
    fn split(&self, named: Option<usize>) -> Vec<Batch> {
        let named = named.filter(|n| self.indices.contains(n));
        let rest: Vec<usize> = self
            .indices
            .iter()
            .copied()
            .filter(|&i| Some(i) != named)
            .collect();
        let (a, b) = rest.split_at(rest.len() / 2);
        named
            .map(|n| vec![n])
            .into_iter()
            .chain([a.to_vec(), b.to_vec()])
            .filter(|part| !part.is_empty())
            .map(|indices| Batch {
                indices,
                sort_options: self.sort_options.clone(),
            })
            .collect()
    }

    /// A batch of the overlay `i` alone.
    fn only(&self, i: usize) -> Batch {
        Batch {
            indices: vec![i],
            sort_options: self.sort_options.clone(),
        }
    }
}

/// What a successful run gave.
struct Ran {
    /// Objects by request index.
    rendered: Vec<(usize, Rendered)>,
    /// Overlays of a shared run to render again in a run of their own.
    alone: Vec<usize>,
}

/// The name markers of one `render` call: overlay `i` of a shared run gets `ep<nonce>x<i>`. The nonce is
/// random per call, so no input file can hold a marker (and every occurrence in kustomize's output is one
/// the wrapper put there).
#[derive(Debug, Clone, Copy)]
struct Markers {
    nonce: u64,
}

impl Markers {
    fn random() -> Markers {
        Markers {
            nonce: fastrand::u64(..),
        }
    }

    /// What every marker of this call starts with.
    fn stem(self) -> String {
        format!("ep{:016x}", self.nonce)
    }

    /// The marker of overlay `i`; `x` is no hex digit, so no marker is a prefix of another's `<marker>-`.
    fn token(self, i: usize) -> String {
        format!("{}x{i}", self.stem())
    }

    /// The overlay whose marker `name` starts with.
    fn index_of(self, name: &str) -> Option<usize> {
        let rest = name.strip_prefix(&self.stem())?.strip_prefix('x')?;
        let (index, _) = rest.split_once('-')?;
        index.parse().ok()
    }
}

/// The file, next to a shared run's wrapper kustomization, holding the local-config ConfigMap its
/// replacement reads the marker from.
const MARKER_SOURCE_FILE: &str = "marker.yaml";
/// The name of that ConfigMap.
const MARKER_SOURCE: &str = "envparity-marker-source";

/// The directory, inside an overlay's wrapper, of the kustomization holding its deploy-time layer.
const LAYER_DIR: &str = "layer";
/// The directory, inside an overlay's wrapper, of the kustomization Flux would generate for it.
const GENERATED_DIR: &str = "generated";

/// Writes into `dir` the kustomization Flux generates over `entries`: copies of the manifests (recorded in
/// `aliases`, so objects are attributed to the originals) and the subdirectories by relative path.
fn write_generated(
    dir: &Path,
    entries: &[Generated],
    reader: &crate::input::Reader,
    aliases: &mut HashMap<PathBuf, String>,
) -> Result<(), Failure> {
    let repo_root = reader.root();
    let mut resources = Vec::with_capacity(entries.len());
    std::fs::create_dir_all(dir).map_err(|err| Failure::Fatal(RenderError::io(dir, err)))?;
    for (k, entry) in entries.iter().enumerate() {
        match entry {
            Generated::Dir(sub) => resources.push(slash(&relative(dir, sub))),
            Generated::File(file) => {
                // Checked when the inputs were walked; read again, as boundedly, for the copy.
                let bytes = reader
                    .read(file)
                    .map_err(|err| Failure::Fatal(RenderError::Read(err)))?;
                let name = format!("m{k}.yaml");
                let copy = dir.join(&name);
                std::fs::write(&copy, bytes)
                    .map_err(|err| Failure::Fatal(RenderError::io(&copy, err)))?;
                aliases.insert(copy, slash(&display_path(file, repo_root)));
                resources.push(name);
            }
        }
    }
    write_file(
        dir,
        "kustomization.yaml",
        &json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }),
    )
}

/// The kustomization that layers what a GitOps object adds at deploy time over the overlay at `rel`.
fn layer_kustomization(rel: &Path, layer: &crate::kustomization::Layer) -> Value {
    let mut fields = layer.fields();
    fields.insert(
        "apiVersion".into(),
        json!("kustomize.config.k8s.io/v1beta1"),
    );
    fields.insert("kind".into(), json!("Kustomization"));
    fields.insert("resources".into(), json!([slash(rel)]));
    Value::Object(fields)
}

/// The wrapper of an overlay rendered in a run of its own: nothing but the overlay.
fn lone_wrapper(rel: &str) -> Value {
    json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [rel],
    })
}

/// The wrapper of an overlay in a shared run: its marker in front of every object name, so that ids of
/// different overlays never collide and each object says whose it is. `namePrefix` does it (and rewrites
/// every name reference kustomize knows to match) except for the kinds it leaves alone; when the overlay's
/// inputs may declare one of those (`unprefixed`), a replacement reading the marker from a local-config
/// ConfigMap (which kustomize drops from the output) puts it in front of their names too.
fn shared_wrapper(rel: &str, token: &str, unprefixed: bool) -> Value {
    let mut wrapper = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [rel],
        "namePrefix": format!("{token}-"),
    });
    if unprefixed {
        let prepend = |select: Value| {
            json!({
                "select": select,
                "fieldPaths": ["metadata.name"],
                "options": {"delimiter": "-", "index": -1},
            })
        };
        wrapper["resources"] = json!([rel, MARKER_SOURCE_FILE]);
        wrapper["replacements"] = json!([{
            "source": {"kind": "ConfigMap", "name": MARKER_SOURCE, "fieldPath": "data.marker"},
            "targets": [
                prepend(json!({"kind": "Namespace"})),
                prepend(json!({"kind": "CustomResourceDefinition"})),
                prepend(json!({"group": "apiregistration.k8s.io", "kind": "APIService"})),
            ],
        }]);
    }
    wrapper
}

/// Whether any of `files` names a kind `namePrefix` leaves alone. Kustomize only creates objects of
/// those kinds from files that spell them (its generators make ConfigMaps and Secrets), so when none
/// does, the replacement that renames them is left out of the wrapper: it costs a tenth of a shared run.
/// Should a file spell one in a way this misses (a YAML escape), the object keeps its name, so it cannot
/// be attributed: the shared run counts as failed and is bisected until the overlay is alone. A file that cannot be read counts
/// as naming them (kustomize will say what is wrong with it).
fn mention_unprefixed_kinds(files: &BTreeSet<PathBuf>, reader: &crate::input::Reader) -> bool {
    files.iter().any(|file| {
        reader.read(file).map_or(true, |bytes| {
            UNPREFIXED_KINDS
                .iter()
                .any(|kind| bytes.windows(kind.len()).any(|w| w == kind.as_bytes()))
        })
    })
}

/// The local-config ConfigMap holding `token` for a shared run's replacement.
fn marker_source(token: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": MARKER_SOURCE,
            "annotations": {"config.kubernetes.io/local-config": "true"},
        },
        "data": {"marker": token},
    })
}

/// Replaces every occurrence of `from` in every string of `value` (not in map keys).
fn replace_text(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_text(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_text(v, from, to)),
        _ => {}
    }
}

/// Whether `needle` occurs in a string or a map key of `value`.
fn contains_text(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| contains_text(v, needle)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(needle) || contains_text(v, needle)),
        _ => false,
    }
}

/// Whether the object is one `namePrefix` leaves alone that refers to others by name (an `APIService`
/// names its Service): alone, kustomize rewrites that reference when the overlay prefixes its Service; in
/// a shared run, other overlays' Services of the same name make it give up.
fn refers_unprefixed(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("APIService")
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("apiregistration.k8s.io/"))
}

struct Wrapper {
    index: usize,
    dir: PathBuf,
    rel: PathBuf,
}

/// How long one kustomize run may take by default: a render of a whole environment takes seconds; an exec plugin that
/// hangs must not hang a scan or the daemon.
const KUSTOMIZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The child's `HOME`, inside the run's temporary directory.
const HOME_DIR: &str = "home";

/// How a bounded run ended.
#[derive(Debug)]
enum Run {
    /// It exited by itself, with what it printed.
    Finished(std::process::Output),
    /// It ran longer than the timeout and was killed.
    TimedOut,
    /// It printed more than the output limit on stdout and was killed.
    TooLarge,
}

/// How often a run is checked for too much output while it runs.
const OVERFLOW_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs `command` to completion, or kills it after `timeout` or once it printed more than `max_stdout`
/// bytes. Output is read while it runs, so a large render cannot fill a pipe and stall.
fn run_bounded(
    mut command: Command,
    timeout: std::time::Duration,
    max_stdout: u64,
) -> std::io::Result<Run> {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Its own process group, so a timeout stops kustomize and whatever it started (exec plugins).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // shared_child waits with a deadline on SIGCHLD (through signal-hook, the registry tokio's signal
    // handling uses too) instead of polling, and never reaps the child behind our back, so its process
    // group id stays ours until `wait` below.
    let child = shared_child::SharedChild::spawn(&mut command)?;
    let stdout = child.take_stdout();
    let mut stderr = child.take_stderr();
    let overflowed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&overflowed);
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            // One byte more than allowed tells "exactly the limit" from "over it". Past the limit the pipe
            // is closed (dropped here), which alone stops most writers; the waiter kills the group anyway.
            let _ = s.take(max_stdout.saturating_add(1)).read_to_end(&mut buf);
            if buf.len() as u64 > max_stdout {
                flag.store(true, Ordering::SeqCst);
                return Vec::new();
            }
        }
        buf
    });
    // stderr is kustomize's error message: a few lines. A child that floods it is cut at the same limit.
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.by_ref().take(max_stdout).read_to_end(&mut buf);
            // Drained to the end so the child never blocks on a full pipe.
            let _ = std::io::copy(s, &mut std::io::sink());
        }
        buf
    });
    let deadline = Instant::now().checked_add(timeout);
    let status = loop {
        let now = Instant::now();
        // A timeout too large for the clock: no deadline at all, only the output checks.
        let next = match deadline {
            Some(deadline) if deadline <= now => {
                kill_group(&child);
                let _ = child.wait();
                // The readers end when the last process holding the pipes is gone; not waited for.
                return Ok(Run::TimedOut);
            }
            Some(deadline) => deadline.min(now + OVERFLOW_POLL),
            None => now + OVERFLOW_POLL,
        };
        match child.wait_deadline(next) {
            Ok(Some(status)) => break status,
            Ok(None) if overflowed.load(Ordering::SeqCst) => {
                kill_group(&child);
                let _ = child.wait();
                return Ok(Run::TooLarge);
            }
            Ok(None) => {}
            Err(err) => {
                kill_group(&child);
                let _ = child.wait();
                return Err(err);
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if overflowed.load(Ordering::SeqCst) {
        return Ok(Run::TooLarge);
    }
    Ok(Run::Finished(std::process::Output {
        status,
        stdout,
        stderr,
    }))
}

#[cfg(unix)]
fn kill_group(child: &shared_child::SharedChild) {
    // Not reaped yet (only `wait` reaps), so the group id cannot have been reused.
    let group = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    match group {
        Some(pid) => {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        None => {
            let _ = child.kill();
        }
    }
}

#[cfg(not(unix))]
fn kill_group(child: &shared_child::SharedChild) {
    let _ = child.kill();
}

enum Failure {
    /// kustomize exited with an error.
    Refused {
        named: Option<usize>,
        message: String,
    },
    /// kustomize's output is not YAML.
    Unreadable { line: Option<u64> },
    /// kustomize printed more than [`Kustomize::max_output_bytes`] and was stopped: for a shared run, the
    /// batch is split until the overlay that does it stands alone.
    TooLarge,
    /// An object of a shared run whose name carries no marker of the run.
    Unmarked,
    /// kustomize ran longer than the timeout and was killed: for a shared run, each overlay is rendered
    /// alone, so that only the one that takes that long (a hostile overlay, or one too large) fails.
    TimedOut,
    /// Nothing to retry: the process could not run, or the temp dir could not be written.
    Fatal(RenderError),
}

fn write_file(dir: &Path, name: &str, content: &Value) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|err| Failure::Fatal(RenderError::io(dir, err)))?;
    let file = dir.join(name);
    std::fs::write(&file, content.to_string())
        .map_err(|err| Failure::Fatal(RenderError::io(&file, err)))
}

/// `kustomize` if it is in one of the absolute directories of `path` (a PATH value), else `kubectl`. A
/// relative entry (`bin`, `.`, an empty one) names a directory of wherever envparity runs, which may be
/// the checkout under review: it is never searched.
fn find_command(path: Option<&std::ffi::OsStr>) -> Option<KustomizeCommand> {
    let path = absolute_entries(path)?;
    let find = |name: &str| which::which_in_global(name, Some(&path)).ok()?.next();
    find("kustomize")
        .map(KustomizeCommand::Standalone)
        .or_else(|| find("kubectl").map(KustomizeCommand::Kubectl))
}

fn query_version(command: &KustomizeCommand) -> Result<String, RenderError> {
    let program = command.program().to_path_buf();
    let home = tempfile::Builder::new()
        .prefix("envparity-kustomize-home-")
        .tempdir()
        .map_err(|err| RenderError::io(&std::env::temp_dir(), err))?;
    let mut cmd = boxed(&program, home.path());
    match command {
        KustomizeCommand::Standalone(_) => cmd.arg("version"),
        KustomizeCommand::Kubectl(_) => cmd.args(["version", "--client", "-o", "json"]),
    };
    let output = cmd.output().map_err(|err| RenderError::Spawn {
        program: program.clone(),
        source: Arc::new(err),
    })?;
    if !output.status.success() {
        return Err(RenderError::KustomizeVersion {
            program,
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let version = match command {
        KustomizeCommand::Standalone(_) => stdout.lines().next().map(|l| l.trim().to_string()),
        KustomizeCommand::Kubectl(_) => serde_json::from_str::<Value>(&stdout)
            .ok()
            .and_then(|v| v.get("kustomizeVersion")?.as_str().map(str::to_string)),
    };
    version
        .filter(|v| !v.is_empty())
        .ok_or(RenderError::KustomizeVersion {
            program,
            message: "no kustomize version in its output".to_string(),
        })
}

/// The wrapper kustomize was accumulating when it failed (`accumulating resources from 'w12'`).
fn named_wrapper(stderr: &str) -> Option<usize> {
    const NEEDLE: &str = "accumulating resources from 'w";
    let start = stderr.find(NEEDLE)? + NEEDLE.len();
    let rest = &stderr[start..];
    let end = rest.find('\'')?;
    rest[..end].parse().ok()
}

/// kustomize's error as a user should read it: the klog framing and deprecation warnings dropped, the
/// batch's wrapper chain cut off, plugin configs elided (a SecretGenerator's config holds its literals),
/// and temp-dir and absolute paths rewritten to repo-relative ones.
fn clean_stderr(
    stderr: &str,
    top: &Path,
    wrappers: &[Wrapper],
    slots: &[Slot],
    repo_root: &Path,
) -> String {
    let mut message = error_text(stderr);
    // Cut the wrapper chain: what follows the innermost overlay is what kustomize alone would say.
    for wrapper in wrappers {
        let needle = format!(
            "recursed accumulation of path '{}': ",
            slots[wrapper.index].dir.display()
        );
        if let Some(pos) = message.rfind(&needle) {
            message = message[pos + needle.len()..].to_string();
            break;
        }
    }
    message = elide_configs(&message);
    message = elide_node_contents(&message);
    // Generator values are known from the walk; the values of Secret manifests (which other kustomize
    // errors may quote) are read only now that a run failed. Longest first, so that no value is left
    // half-replaced by a shorter one it contains.
    let reader = crate::input::Reader::new(repo_root, crate::input::DEFAULT_MAX_BYTES);
    let mut values: BTreeSet<String> = BTreeSet::new();
    for wrapper in wrappers {
        let slot = &slots[wrapper.index];
        values.extend(slot.secret_values.iter().cloned());
        values.extend(super::inputs::secret_manifest_values(&slot.files, &reader));
    }
    let mut values: Vec<String> = values.into_iter().collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in &values {
        message = message.replace(value.as_str(), "<redacted>");
    }
    for wrapper in wrappers {
        let overlay = slash(&display_path(&slots[wrapper.index].dir, repo_root));
        message = message.replace(&wrapper.dir.display().to_string(), &overlay);
        message = message.replace(
            &format!("'{}'", slash(&wrapper.rel)),
            &format!("'{overlay}'"),
        );
    }
    message = message.replace(&format!("{}/", top.display()), "");
    message = message.replace(&format!("{}/", repo_root.display()), "");
    message.trim().to_string()
}

/// The error text of kustomize's stderr, without kubectl's klog framing or warnings.
fn error_text(stderr: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut lines = stderr.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("# Warning:") || line.starts_with("Warning:") {
            continue;
        }
        let Some((severity, body)) = klog_body(line) else {
            let line = line.strip_prefix("Error: ").unwrap_or(line);
            if !line.trim().is_empty() {
                out.push(line.to_string());
            }
            continue;
        };
        if severity != 'E' && severity != 'F' {
            continue;
        }
        if let Some(rest) = body.strip_prefix("\"command failed\" err=") {
            if rest.trim_end() == "<" {
                // A multi-line value: tab-indented lines up to a line holding " >".
                for inner in lines.by_ref() {
                    if inner.trim() == ">" {
                        break;
                    }
                    out.push(inner.strip_prefix('\t').unwrap_or(inner).to_string());
                }
            } else {
                out.push(unquote(rest));
            }
        } else {
            out.push(body.to_string());
        }
    }
    out.join("\n")
}

/// Splits a klog line (`E1125 11:51:21.279102    4351 run.go:72] body`) into severity and body.
fn klog_body(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let severity = chars.next().filter(|c| "IWEF".contains(*c))?;
    let head = line.get(1..5)?;
    if !head.chars().all(|c| c.is_ascii_digit()) || line.get(5..6) != Some(" ") {
        return None;
    }
    let close = line.find("] ")?;
    Some((severity, &line[close + 2..]))
}

/// Undoes Go's `%q` quoting of a klog value (`"a \"b\"\n"`).
fn unquote(quoted: &str) -> String {
    let Some(inner) = quoted.trim().strip_prefix('"') else {
        return quoted.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

/// Replaces each "with config: `...`" block (a builtin plugin's configuration, which for a
/// SecretGenerator or an inline patch holds values) by an ellipsis.
fn elide_configs(message: &str) -> String {
    const NEEDLE: &str = "with config: `";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(NEEDLE) {
        let after = &rest[start + NEEDLE.len()..];
        let Some(end) = after.find('`') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("with config `…`");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Cuts the YAML node kyaml appends to a wrong-kind error (`… expected MappingNode but got ScalarNode:
/// node contents:\n<node>`). The node is whatever the failing patch or replacement reached: a Secret's
/// `stringData` value from the base, or the value a patch sets, which no redaction of generator literals
/// knows about. It always runs to the end of the message; the words before it say what went wrong.
fn elide_node_contents(message: &str) -> String {
    const NEEDLE: &str = "node contents:";
    match message.find(NEEDLE) {
        Some(start) => format!("{}node contents elided", &message[..start]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL_MULTILINE: &str = "E1125 11:51:21.323397    4355 run.go:72] \"command failed\" err=<\n\ttrouble configuring builtin PatchTransformer with config: `\n\tpath: missing.yaml\n\t`: failed to get the patch file from path(missing.yaml)\n >\n";

    #[cfg(unix)]
    #[test]
    fn the_standalone_kustomize_is_preferred_over_kubectl_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dirs = tempfile::tempdir().expect("tempdir");
        let (first, second) = (dirs.path().join("a"), dirs.path().join("b"));
        let program = |dir: &Path, name: &str, mode: u32| {
            std::fs::create_dir_all(dir).expect("dir");
            let file = dir.join(name);
            std::fs::write(&file, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
            file
        };
        let path = std::env::join_paths([&first, &second]).expect("PATH");
        let kubectl = program(&first, "kubectl", 0o755);
        assert_eq!(
            find_command(Some(&path)),
            Some(KustomizeCommand::Kubectl(kubectl))
        );
        // Not executable: skipped.
        program(&first, "kustomize", 0o644);
        let kustomize = program(&second, "kustomize", 0o755);
        assert_eq!(
            find_command(Some(&path)),
            Some(KustomizeCommand::Standalone(kustomize))
        );
        assert_eq!(find_command(Some(std::ffi::OsStr::new(""))), None);
        assert_eq!(find_command(None), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_run_reads_both_pipes_while_it_runs() {
        // 1 MiB on each pipe, far more than a pipe buffer: a run that read stdout to the end before stderr
        // (or waited before reading) would stall here until the timeout.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "head -c 1048576 /dev/zero >&2; head -c 1048576 /dev/zero; exit 3",
        ]);
        let Run::Finished(output) =
            run_bounded(command, std::time::Duration::from_secs(60), 2 << 20).expect("spawn")
        else {
            panic!("not finished");
        };
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout.len(), 1 << 20);
        assert_eq!(output.stderr.len(), 1 << 20);
    }

    #[cfg(unix)]
    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("grandchild");
        let mut command = Command::new("sh");
        // A grandchild that holds the pipes, as an exec plugin would.
        command
            .arg("-c")
            .arg("sleep 300 & echo $! > \"$1\"; wait")
            .arg("sh")
            .arg(&pid_file);
        let started = Instant::now();
        let output =
            run_bounded(command, std::time::Duration::from_millis(500), 1 << 20).expect("spawn");
        assert!(matches!(output, Run::TimedOut), "not stopped: {output:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        let pid = std::fs::read_to_string(&pid_file).expect("pid");
        let stat = format!("/proc/{}/stat", pid.trim());
        // Gone, or a zombie waiting for its new parent: either way no longer running.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let running = std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            });
            if !running {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the grandchild survived the timeout"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_run_printing_more_than_the_limit_is_killed_with_its_group() {
        // A writer that never stops, in a child that ignores SIGPIPE (so closing the pipe is not enough).
        let mut command = Command::new("sh");
        command.args(["-c", "trap '' PIPE; while :; do cat /dev/zero; done"]);
        let started = Instant::now();
        let output =
            run_bounded(command, std::time::Duration::from_secs(60), 1 << 20).expect("spawn");
        assert!(matches!(output, Run::TooLarge), "{output:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // Exactly the limit is not over it.
        let mut command = Command::new("sh");
        command.args(["-c", "head -c 1048576 /dev/zero"]);
        let output =
            run_bounded(command, std::time::Duration::from_secs(60), 1 << 20).expect("spawn");
        assert!(
            matches!(output, Run::Finished(ref o) if o.stdout.len() == 1 << 20),
            "{output:?}"
        );
    }

    #[test]
    fn the_child_gets_the_allow_listed_environment_only() {
        let parent = |name: &str| -> Option<std::ffi::OsString> {
            match name {
                "PATH" => Some("bin:/usr/local/bin::./tools:/usr/bin".into()),
                "GIT_TOKEN" => Some("planted-token".into()),
                "LANG" => Some("C.UTF-8".into()),
                _ => None,
            }
        };
        let env = child_env(parent, Path::new("/tmp/run/home"), Path::new("/var/tmp"));
        let env: Vec<(&str, String)> = env
            .into_iter()
            .map(|(k, v)| (k, v.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            env,
            vec![
                ("PATH", "/usr/local/bin:/usr/bin".to_string()),
                ("HOME", "/tmp/run/home".to_string()),
                ("TMPDIR", "/var/tmp".to_string()),
                ("LANG", "C.UTF-8".to_string()),
            ]
        );
        // And the command really starts from an empty environment.
        let command = KustomizeCommand::Kubectl(PathBuf::from("/usr/bin/kubectl"))
            .build(Path::new("/tmp/run"), Path::new("/tmp/run/home"));
        let names: Vec<String> = command
            .get_envs()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert!(!names.contains(&"GIT_TOKEN".to_string()), "{names:?}");
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "kustomize",
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
                "--enable-alpha-plugins=false",
                "--enable-helm=false",
                "/tmp/run"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_relative_path_entry_is_never_searched() {
        use std::os::unix::fs::PermissionsExt;
        // A `kustomize` in a directory named relatively to the working directory (the crate root here).
        let dir = tempfile::tempdir_in(".").expect("tempdir");
        let name = dir.path().file_name().expect("name").to_owned();
        let planted = dir.path().join("kustomize");
        std::fs::write(&planted, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_command(Some(&name)), None);
        let mut path = name.clone();
        path.push(":./");
        path.push(&name);
        assert_eq!(find_command(Some(&path)), None);
        // The same directory named absolutely is searched.
        let absolute = std::fs::canonicalize(dir.path()).expect("canonical");
        assert!(matches!(
            find_command(Some(absolute.as_os_str())),
            Some(KustomizeCommand::Standalone(_))
        ));
    }

    #[test]
    fn klog_framing_is_removed() {
        assert_eq!(
            error_text(KUBECTL_MULTILINE),
            "trouble configuring builtin PatchTransformer with config: `\npath: missing.yaml\n`: failed to get the patch file from path(missing.yaml)"
        );
        let quoted = "# Warning: 'bases' is deprecated.\nE1125 11:51:21.378132    4363 run.go:72] \"command failed\" err=\"accumulating resources from 'w1': \\\"x\\\"\"\n";
        assert_eq!(
            error_text(quoted),
            "accumulating resources from 'w1': \"x\""
        );
        assert_eq!(error_text("Error: boom\n"), "boom");
    }

    #[test]
    fn plugin_configs_are_elided() {
        assert_eq!(
            elide_configs(
                "trouble configuring builtin SecretGenerator with config: `\nliterals: [pw=hunter2]\n`: bad"
            ),
            "trouble configuring builtin SecretGenerator with config `…`: bad"
        );
    }

    #[test]
    fn node_contents_are_elided() {
        assert_eq!(
            elide_node_contents(
                "unable to find field \"stringData.password.user\" in replacement target: wrong node kind: \
                 expected MappingNode but got ScalarNode: node contents:\nhunter2-value\n"
            ),
            "unable to find field \"stringData.password.user\" in replacement target: wrong node kind: \
             expected MappingNode but got ScalarNode: node contents elided"
        );
        assert_eq!(elide_node_contents("no node here"), "no node here");
    }

    #[test]
    fn named_wrapper_is_found() {
        assert_eq!(
            named_wrapper("accumulation err='accumulating resources from 'w17': '/tmp/x/w17' must"),
            Some(17)
        );
        assert_eq!(named_wrapper("something else"), None);
    }

    #[test]
    fn a_refused_batch_is_bisected_with_the_named_overlay_alone() {
        let batch = Batch {
            indices: vec![1, 4, 7, 9, 12],
            sort_options: None,
        };
        let parts = |named| -> Vec<Vec<usize>> {
            batch.split(named).into_iter().map(|b| b.indices).collect()
        };
        assert_eq!(parts(Some(7)), vec![vec![7], vec![1, 4], vec![9, 12]]);
        assert_eq!(parts(None), vec![vec![1, 4], vec![7, 9, 12]]);
        // A name kustomize gave that is not in the batch is no name.
        assert_eq!(parts(Some(3)), parts(None));
        let pair = Batch {
            indices: vec![2, 5],
            sort_options: None,
        };
        let parts: Vec<Vec<usize>> = pair.split(Some(5)).into_iter().map(|b| b.indices).collect();
        assert_eq!(parts, vec![vec![5], vec![2]]);
    }

    #[test]
    fn markers_are_removed_wherever_kustomize_wrote_them() {
        let markers = Markers { nonce: 0xabc };
        assert_eq!(markers.token(3), "ep0000000000000abcx3");
        assert_eq!(markers.index_of("ep0000000000000abcx3-web"), Some(3));
        assert_eq!(
            markers.index_of("ep0000000000000abcx31-web-config-h8tdk5mthh"),
            Some(31)
        );
        for unmarked in [
            "web",
            "ep0000000000000abcx3",
            "ep0000000000000abdx3-web",
            "ep0000000000000abc-web",
        ] {
            assert_eq!(markers.index_of(unmarked), None, "{unmarked}");
        }
        let token = format!("{}-", markers.token(3));
        let mut object = json!({"metadata": {"name": format!("{token}web")},
            "spec": {"args": [format!("--upstream={token}api.{token}ns.svc")], "n": 3}});
        replace_text(&mut object, &token, "");
        assert_eq!(
            object,
            json!({"metadata": {"name": "web"}, "spec": {"args": ["--upstream=api.ns.svc"], "n": 3}})
        );
        assert!(!contains_text(&object, &markers.stem()));
        // Another overlay's marker is not removed, and is seen.
        let mut foreign = json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": format!("{}-cfg", markers.token(31))}}}]});
        replace_text(&mut foreign, &token, "");
        assert!(contains_text(&foreign, &markers.stem()));
        assert!(contains_text(
            &json!({format!("{token}k"): 1}),
            &markers.stem()
        ));
    }
}
