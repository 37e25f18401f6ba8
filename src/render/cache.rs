//! A content-addressed on-disk cache in front of any [`Renderer`].
//!
//! An overlay's entry is keyed by the digest of every file it reads (see [`super::input_digest`]) together with
//! the renderer's identity (kustomize's version): a changed patch re-renders exactly the overlays that
//! read it, and a kustomize upgrade re-renders everything. Entries are written atomically (temp file in
//! the same directory, then rename), so concurrent runs and crashes never leave half a file; a file that
//! does not parse anyway is a miss and gets overwritten. Errors are never cached.
//!
//! Keys are computable from public inputs, so an entry is trusted only when this machine wrote it
//! (DESIGN.md, "Untrusted input"): each carries an HMAC-SHA256 of its name and content under a [`Seal`], a
//! random key kept in the state directory. An entry planted by anyone else (a pull request that commits a
//! cache, another machine's copy) does not verify and is a miss.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::inputs::{digest_files, hex, inputs_for, walk};
use super::paths::canonical_dir;
use super::{RenderError, RenderRequest, Rendered, Renderer, redact_secret};
use crate::input::{DEFAULT_MAX_BYTES, Reader};

/// Bumped whenever the entry format or the meaning of a rendered object changes. 2: sealed entries.
const CACHE_FORMAT: u32 = 2;

/// The first line of an entry, before its seal (hex HMAC) and a newline; the entry's JSON follows.
const ENTRY_HEAD: &str = "envparity-render-cache 2 ";

/// The key that proves this machine wrote a render cache entry: 32 random bytes, kept hex-encoded in a
/// file of the state directory only its owner reads. Never shown (its `Debug` prints nothing of it).
#[derive(Clone)]
pub struct Seal {
    key: [u8; 32],
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal(..)")
    }
}

impl Seal {
    /// The key in `path`, made (`0600`, its directory `0700`) when there is none yet or what is there is
    /// not a key (every entry sealed with a lost key is then a miss, re-rendered once).
    pub fn load_or_create(path: &Path) -> Result<Seal, RenderError> {
        let existing = std::fs::File::open(path).and_then(|f| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(f, 65), &mut text)?;
            Ok(text)
        });
        let replace = match existing {
            Ok(text) => {
                if let Some(seal) = Seal::parse(&text) {
                    return Ok(seal);
                }
                tracing::warn!(path = %path.display(), "the render cache key is not a key; making a new one (cached renders are redone once)");
                true
            }
            Err(err) if err.kind() == ErrorKind::NotFound => false,
            Err(err) => return Err(RenderError::io(path, err)),
        };
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|err| {
            RenderError::io(path, std::io::Error::other(format!("no randomness: {err}")))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::input::create_private_dir(dir).map_err(|err| RenderError::io(dir, err))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|err| RenderError::io(dir, err))?;
        let text = hex(&key);
        (|| {
            let mut file = tmp.as_file();
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })()
        .map_err(|err| RenderError::io(tmp.path(), err))?;
        if replace {
            return tmp
                .persist(path)
                .map(|_| Seal { key })
                .map_err(|e| RenderError::io(path, e.error));
        }
        // Two processes making the first key at once: the first one's stays, the other reads it.
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(Seal { key }),
            Err(err) if err.error.kind() == ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(|e| RenderError::io(path, e))?;
                Seal::parse(&text).ok_or_else(|| {
                    RenderError::io(path, std::io::Error::other("not a render cache key"))
                })
            }
            Err(err) => Err(RenderError::io(path, err.error)),
        }
    }

    fn parse(text: &str) -> Option<Seal> {
        let key = unhex(text.trim())?.try_into().ok()?;
        Some(Seal { key })
    }

    /// The MAC of the entry named `name` holding `body`.
    fn mac(&self, name: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac.update(body);
        mac
    }

    /// The seal line's hex tag for an entry.
    fn tag(&self, name: &str, body: &[u8]) -> String {
        hex(&self.mac(name, body).finalize().into_bytes())
    }

    /// Whether `tag` (hex) is this machine's seal of the entry (compared in constant time).
    fn verifies(&self, name: &str, body: &[u8], tag: &str) -> bool {
        let Some(bytes) = unhex(tag) else {
            return false;
        };
        self.mac(name, body).verify_slice(&bytes).is_ok()
    }
}

/// The bytes of a hex string (`None` when it is not one).
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

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
    seal: Seal,
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
    /// A cache in `cache_dir` (created on first write) for overlays of the repository at `repo_root`,
    /// trusting only the entries sealed with `seal`.
    pub fn new(inner: R, cache_dir: PathBuf, seal: Seal, repo_root: PathBuf) -> Self {
        CachedRenderer {
            inner,
            cache_dir,
            seal,
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
        let name = entry_name(path);
        let sealed = bytes.iter().position(|b| *b == b'\n').and_then(|nl| {
            let head = std::str::from_utf8(&bytes[..nl]).ok()?;
            let tag = head.strip_prefix(ENTRY_HEAD)?;
            let body = &bytes[nl + 1..];
            self.seal.verifies(&name, body, tag).then_some(body)
        });
        let Some(body) = sealed else {
            tracing::warn!(path = %path.display(), "render cache entry not sealed by this machine; ignored and re-rendered");
            return None;
        };
        match serde_json::from_slice::<Entry>(body) {
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
        crate::input::create_private_dir(&self.cache_dir)
            .map_err(|err| RenderError::io(&self.cache_dir, err))?;
        let tmp = tempfile::NamedTempFile::new_in(&self.cache_dir)
            .map_err(|err| RenderError::io(&self.cache_dir, err))?;
        let entry = Entry {
            format: CACHE_FORMAT,
            rendered: rendered.clone(),
        };
        let body = serde_json::to_vec(&entry).map_err(|err| RenderError::io(path, err.into()))?;
        let tag = self.seal.tag(&entry_name(path), &body);
        (|| {
            let mut file = tmp.as_file();
            file.write_all(format!("{ENTRY_HEAD}{tag}\n").as_bytes())?;
            file.write_all(&body)
        })()
        .map_err(|err| RenderError::io(tmp.path(), err))?;
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

/// An entry's name (its key), which its seal covers: an entry copied to another key does not verify.
fn entry_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
    fn the_seal_key_is_made_once_owner_only_kept_and_a_non_key_is_replaced() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("cache").join("render.key");
        let first = Seal::load_or_create(&path).expect("made");
        let text = std::fs::read_to_string(&path).expect("key file");
        assert_eq!(text.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let again = Seal::load_or_create(&path).expect("read");
        assert_eq!(first.key, again.key);
        assert!(!format!("{first:?}").contains(&text[..8]));
        let tag = first.tag("a.json", b"body");
        assert!(again.verifies("a.json", b"body", &tag));
        assert!(
            !again.verifies("b.json", b"body", &tag),
            "bound to the entry's name"
        );
        assert!(!again.verifies("a.json", b"bodY", &tag));
        assert!(!again.verifies("a.json", b"body", "zz"));

        std::fs::write(&path, "not a key").expect("clobber");
        let fresh = Seal::load_or_create(&path).expect("replaced");
        assert_ne!(fresh.key, first.key);
        assert!(Seal::parse(&std::fs::read_to_string(&path).expect("key")).is_some());
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
