//! A content-addressed on-disk cache in front of any [`Renderer`].
//!
//! An overlay's entry is keyed by the digest of every file it reads (see [`super::input_digest`]) together with
//! the renderer's identity (kustomize's version): a changed patch re-renders exactly the overlays that
//! read it, and a kustomize upgrade re-renders everything. Entries are written atomically (temp file in
//! the same directory, then rename), so concurrent runs and crashes never leave half a file; a file that
//! does not parse anyway is a miss and gets overwritten. Errors are never cached.

use std::collections::BTreeSet;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::inputs::{digest_files, hex, inputs_for, walk};
use super::paths::canonical_dir;
use super::{RenderError, RenderRequest, Rendered, Renderer, redact_secret};
use crate::input::{DEFAULT_MAX_BYTES, Reader};

/// Bumped whenever the entry format or the meaning of a rendered object changes.
const CACHE_FORMAT: u32 = 1;

/// What the last [`CachedRenderer::render`] call found in the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered from the cache.
    pub hits: usize,
    /// Requests handed to the inner renderer. Requests refused before rendering (a remote base, a missing
    /// file, broken YAML) count as neither.
    pub misses: usize,
}

/// Content-addressed on-disk cache in front of any renderer.
#[derive(Debug)]
pub struct CachedRenderer<R: Renderer> {
    inner: R,
    cache_dir: PathBuf,
    repo_root: PathBuf,
    /// The most bytes read from one input file while computing a key.
    max_file_bytes: u64,
    stats: Mutex<CacheStats>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    format: u32,
    rendered: Rendered,
}

impl<R: Renderer> CachedRenderer<R> {
    /// A cache in `cache_dir` (created on first write) for overlays of the repository at `repo_root`.
    pub fn new(inner: R, cache_dir: PathBuf, repo_root: PathBuf) -> Self {
        CachedRenderer {
            inner,
            cache_dir,
            repo_root,
            max_file_bytes: DEFAULT_MAX_BYTES,
            stats: Mutex::new(CacheStats::default()),
        }
    }

    /// Reads at most `bytes` of each input file when computing a key (`limits.max_file_bytes`, default
    /// 32 MiB): a larger file is an error naming it, for its overlay only.
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// The bounded reader for this repository's input files.
    fn reader(&self) -> Result<Reader, RenderError> {
        Ok(Reader::new(
            canonical_dir(&self.repo_root)?,
            self.max_file_bytes,
        ))
    }

    /// Hits and misses of the last `render` call.
    pub fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The renderer behind the cache.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The cache file for the kustomization in `dir` as its inputs are now.
    pub fn entry_path(&self, dir: &Path) -> Result<PathBuf, RenderError> {
        let reader = self.reader()?;
        let digest = digest_files(&walk(dir, &reader)?.files, &reader)?;
        Ok(self.entry_path_for(digest.as_str()))
    }

    fn entry_path_for(&self, digest: &str) -> PathBuf {
        let mut key = Sha256::new();
        for part in [
            format!("envparity-render-cache {CACHE_FORMAT}"),
            self.inner.identity(),
            digest.to_string(),
        ] {
            key.update((part.len() as u64).to_le_bytes());
            key.update(part.as_bytes());
        }
        self.cache_dir
            .join(format!("{}.json", hex(&key.finalize())))
    }

    fn load(&self, path: &Path) -> Option<Rendered> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == ErrorKind::NotFound => return None,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "unreadable render cache entry; re-rendering");
                return None;
            }
        };
        match serde_json::from_slice::<Entry>(&bytes) {
            Ok(entry) if entry.format == CACHE_FORMAT => {
                mark_used(path);
                Some(entry.rendered)
            }
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "corrupt render cache entry; re-rendering");
                None
            }
        }
    }

    fn store(&self, path: &Path, rendered: &Rendered) -> Result<(), RenderError> {
        private_dirs(&self.cache_dir).map_err(|err| RenderError::io(&self.cache_dir, err))?;
        let tmp = tempfile::NamedTempFile::new_in(&self.cache_dir)
            .map_err(|err| RenderError::io(&self.cache_dir, err))?;
        let entry = Entry {
            format: CACHE_FORMAT,
            rendered: rendered.clone(),
        };
        let mut writer = BufWriter::new(tmp.as_file());
        serde_json::to_writer(&mut writer, &entry)
            .map_err(|err| RenderError::io(tmp.path(), err.into()))?;
        writer
            .flush()
            .map_err(|err| RenderError::io(tmp.path(), err))?;
        drop(writer);
        // Synced before the rename and the directory after it: a crash must not leave an entry that is
        // named but empty (it would only be a miss, but every run after would re-render and rewrite it).
        tmp.as_file()
            .sync_all()
            .map_err(|err| RenderError::io(tmp.path(), err))?;
        tmp.persist(path)
            .map_err(|err| RenderError::io(path, err.error))?;
        if let Err(err) = std::fs::File::open(&self.cache_dir).and_then(|d| d.sync_all()) {
            tracing::debug!(dir = %self.cache_dir.display(), error = %err, "could not fsync the render cache");
        }
        Ok(())
    }
}

/// Creates `dir` and its missing parents `0700`: the cache lives in the state directory, which only its
/// owner reads (an existing directory keeps its mode).
fn private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Entries used within this long are not touched again (one write a day per entry at most).
const TOUCH_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Records that an entry was used: its modification time is what [`prune`] reads.
fn mark_used(path: &Path) {
    let stale = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > TOUCH_AFTER));
    if stale
        && let Err(err) = std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(SystemTime::now()))
    {
        tracing::debug!(path = %path.display(), error = %err, "could not mark a render cache entry as used");
    }
}

/// What [`prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Entries (and leftover temporary files) removed.
    pub files: usize,
    /// Their size in bytes.
    pub bytes: u64,
}

/// Removes the entries of the cache in `cache_dir` that no render has used for `unused_for` (and temporary
/// files a crash left behind, after a day), so that a daemon running for months keeps a bounded cache:
/// the overlays of the commits it scans are used on every scan and stay.
pub fn prune(cache_dir: &Path, unused_for: Duration) -> std::io::Result<Pruned> {
    let mut pruned = Pruned::default();
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(pruned),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let limit = if name.ends_with(".json") {
            unused_for
        } else if name.starts_with(".tmp") {
            TOUCH_AFTER
        } else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > limit));
        if old && meta.is_file() && std::fs::remove_file(entry.path()).is_ok() {
            pruned.files += 1;
            pruned.bytes += meta.len();
        }
    }
    Ok(pruned)
}

impl<R: Renderer> CachedRenderer<R> {
    fn render_misses(
        &self,
        requests: &[RenderRequest],
        misses: Vec<(usize, PathBuf)>,
        results: &mut [Option<Result<Rendered, RenderError>>],
    ) {
        if misses.is_empty() {
            return;
        }
        let miss_requests: Vec<RenderRequest> =
            misses.iter().map(|(i, _)| requests[*i].clone()).collect();
        let rendered = self.inner.render(&miss_requests);
        for ((i, path), mut result) in misses.into_iter().zip(rendered) {
            if let Ok(rendered) = &mut result {
                // Whatever the inner renderer is, no Secret value reaches the disk.
                rendered
                    .objects
                    .iter_mut()
                    .for_each(|o| redact_secret(&mut o.value));
                if let Err(err) = self.store(&path, rendered) {
                    tracing::warn!(error = %err, "could not write render cache entry");
                }
            }
            results[i] = Some(result);
        }
    }
}

/// Cache entries being rendered by some thread of this process.
struct InFlight {
    claimed: Mutex<BTreeSet<PathBuf>>,
    released: Condvar,
}

static IN_FLIGHT: InFlight = InFlight {
    claimed: Mutex::new(BTreeSet::new()),
    released: Condvar::new(),
};

impl InFlight {
    /// Claims an entry; `false` when another thread holds it.
    fn claim(&self, path: &Path) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_path_buf())
    }

    /// Waits until nobody holds the entry.
    fn wait(&self, path: &Path) {
        let mut claimed = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        while claimed.contains(path) {
            claimed = self
                .released
                .wait(claimed)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Releases its claims when dropped (also when rendering panicked).
struct Claims(Vec<PathBuf>);

impl Drop for Claims {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut claimed = IN_FLIGHT
            .claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for path in &self.0 {
            claimed.remove(path);
        }
        IN_FLIGHT.released.notify_all();
    }
}

impl<R: Renderer> Renderer for CachedRenderer<R> {
    #[tracing::instrument(name = "render_cache", skip_all, fields(requests = requests.len()))]
    fn render(&self, requests: &[RenderRequest]) -> Vec<Result<Rendered, RenderError>> {
        let mut results: Vec<Option<Result<Rendered, RenderError>>> = vec![None; requests.len()];
        let mut stats = CacheStats::default();
        let mut misses: Vec<(usize, PathBuf)> = Vec::new();
        match self.reader() {
            Err(err) => results.iter_mut().for_each(|r| *r = Some(Err(err.clone()))),
            Ok(reader) => {
                for (i, request) in requests.iter().enumerate() {
                    let key = inputs_for(request, &reader)
                        .and_then(|inputs| digest_files(&inputs.files, &reader));
                    let digest = match key {
                        Ok(digest) => digest,
                        Err(err) => {
                            results[i] = Some(Err(err));
                            continue;
                        }
                    };
                    let generated = if request.generate { " generated" } else { "" };
                    let path = match &request.layer {
                        None if !request.generate => self.entry_path_for(digest.as_str()),
                        None => self.entry_path_for(&format!("{}{generated}", digest.as_str())),
                        Some(layer) => self.entry_path_for(&format!(
                            "{}{generated} layer {}",
                            digest.as_str(),
                            layer.canonical()
                        )),
                    };
                    match self.load(&path) {
                        Some(rendered) => {
                            stats.hits += 1;
                            results[i] = Some(Ok(rendered));
                        }
                        None => misses.push((i, path)),
                    }
                }
            }
        }
        // An entry another thread of this process is rendering right now (a backfill checks several
        // commits at once) is waited for rather than rendered twice.
        let (mine, theirs): (Vec<_>, Vec<_>) = misses
            .into_iter()
            .partition(|(_, path)| IN_FLIGHT.claim(path));
        let claims = Claims(mine.iter().map(|(_, p)| p.clone()).collect());
        // Another thread may have stored the entry between our lookup and our claim.
        let mine: Vec<(usize, PathBuf)> = mine
            .into_iter()
            .filter(|(i, path)| match self.load(path) {
                Some(rendered) => {
                    stats.hits += 1;
                    results[*i] = Some(Ok(rendered));
                    false
                }
                None => true,
            })
            .collect();
        stats.misses = mine.len();
        self.render_misses(requests, mine, &mut results);
        drop(claims);
        let mut again = Vec::new();
        for (i, path) in theirs {
            IN_FLIGHT.wait(&path);
            match self.load(&path) {
                Some(rendered) => {
                    stats.hits += 1;
                    results[i] = Some(Ok(rendered));
                }
                // The other render failed (errors are not cached): render it here for its error.
                None => again.push((i, path)),
            }
        }
        stats.misses += again.len();
        self.render_misses(requests, again, &mut results);
        tracing::debug!(hits = stats.hits, misses = stats.misses, "render cache");
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = stats;
        results
            .into_iter()
            .map(|r| r.expect("every request is settled: refused, hit or rendered"))
            .collect()
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, days: u64) {
        std::fs::write(path, b"{}").expect("write");
        let then = SystemTime::now() - Duration::from_secs(days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(then))
            .expect("set mtime");
    }

    #[test]
    fn prune_removes_entries_unused_for_longer_than_the_limit_and_use_keeps_them() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        aged(&d.join("old.json"), 40);
        aged(&d.join("used.json"), 40);
        aged(&d.join("recent.json"), 3);
        aged(&d.join(".tmpAbc123"), 2);
        aged(&d.join("unrelated.txt"), 400);
        mark_used(&d.join("used.json"));

        let pruned = prune(d, Duration::from_secs(30 * 86_400)).expect("prune");
        assert_eq!(pruned, Pruned { files: 2, bytes: 4 });
        let mut left: Vec<String> = std::fs::read_dir(d)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["recent.json", "unrelated.txt", "used.json"]);
        assert_eq!(
            prune(&d.join("missing"), Duration::ZERO).expect("no cache yet"),
            Pruned::default()
        );
    }
}
