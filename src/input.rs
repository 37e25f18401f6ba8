//! The one bounded reader for every file envparity opens itself (DESIGN.md, "Untrusted input").
//!
//! A pull request is code from someone else, and a repository can hold anything a file system can: a
//! symlink to `/dev/zero` (read whole, it kills the process for memory), a FIFO (opening it blocks
//! forever), a link to a file outside the repository (whose content would then reach envparity's output
//! and cache). So every file is read the same way: its symlinks are resolved and the result must lie
//! inside the root (the repository, or for a file the operator named, its own directory); it must be a
//! regular file, which is checked before it is opened; and at most the limit is read, so a file that grows
//! while it is read never allocates past it either. Errors name the file, never quote it.
//!
//! A leaf: it uses nothing else of envparity, so every module may use it.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The default of `limits.max_file_bytes`: 32 MiB (vendored CRD bundles are several MiB).
pub const DEFAULT_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The most `limits.max_file_bytes` may be: 128 MiB. config.toml is often part of the checked repository,
/// so a pull request could otherwise raise the bound until one committed file (zeros compress to almost
/// nothing in git) is read whole into memory, and kustomize's output cap (8× this) with it.
pub const MAX_MAX_BYTES: u64 = 128 * 1024 * 1024;

/// `path` made absolute and free of symlinks as far as it exists (the rest appended as written, `..`
/// resolved lexically), so that two spellings of one directory compare equal and a link or a `..` cannot
/// hide where a directory really is.
pub fn resolved_path(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(mut out) = existing.canonicalize() {
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::Normal(p) => out.push(p),
                    _ => {}
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return path,
        }
    }
}

/// Creates `dir` and its missing parents owner-only (`0700`): envparity's state (history, render cache,
/// mirrors, locks) is its owner's alone, whatever the umask. An existing directory keeps its mode.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Why a file was not read. The message names the file (relative to the root where the reader names files
/// that way) and never includes anything read from it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    /// After resolving its symlinks, the file lies outside the root.
    #[error("{} resolves to {}, outside {}", path.display(), target.display(), root.display())]
    OutsideRoot {
        /// The file as named.
        path: PathBuf,
        /// Where its links lead.
        target: PathBuf,
        /// The directory files must stay in.
        root: PathBuf,
    },
    /// A FIFO, socket, device or directory where a file belongs (refused before it is opened).
    #[error("{} is a {what}, not a regular file", path.display())]
    NotRegular {
        /// The file as named.
        path: PathBuf,
        /// `FIFO`, `socket`, `device`, `directory` or `special file`.
        what: &'static str,
    },
    /// The file holds more than the limit.
    #[error("{} is larger than {limit} bytes (limits.max_file_bytes)", path.display())]
    TooLarge {
        /// The file as named.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The operating system refused (no such file, permission denied, ...).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file as named.
        path: PathBuf,
        /// The operating system's error (shared, so that errors holding it can be cloned).
        source: Arc<io::Error>,
    },
    /// Text was expected and the file is not UTF-8.
    #[error("{} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file as named.
        path: PathBuf,
    },
}

impl ReadError {
    /// The file the error is about, as the reader names it.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::OutsideRoot { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::Io { path, .. }
            | ReadError::NotUtf8 { path } => path,
        }
    }

    fn io(path: PathBuf, source: io::Error) -> ReadError {
        ReadError::Io {
            path,
            source: Arc::new(source),
        }
    }
}

/// Compared by variant and fields; operating-system errors by their kind.
impl PartialEq for ReadError {
    fn eq(&self, other: &Self) -> bool {
        use ReadError::*;
        match (self, other) {
            (
                OutsideRoot {
                    path: a,
                    target: t,
                    root: r,
                },
                OutsideRoot {
                    path: b,
                    target: u,
                    root: s,
                },
            ) => a == b && t == u && r == s,
            (NotRegular { path: a, what: w }, NotRegular { path: b, what: v }) => a == b && w == v,
            (TooLarge { path: a, limit: l }, TooLarge { path: b, limit: m }) => a == b && l == m,
            (Io { path: a, source: e }, Io { path: b, source: f }) => {
                a == b && e.kind() == f.kind()
            }
            (NotUtf8 { path: a }, NotUtf8 { path: b }) => a == b,
            _ => false,
        }
    }
}

impl Eq for ReadError {}

/// How a reader names files in its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// Relative to the root when inside it (a repository: `apps/web/overlays/dev/patch.yaml`).
    Relative,
    /// As the caller spelled them (a file or directory the operator named).
    AsGiven,
}

/// Reads files inside one root, at most `max_bytes` each. Cheap to build: the root is resolved on first use.
#[derive(Debug, Clone)]
pub struct Reader {
    root: PathBuf,
    max_bytes: u64,
    names: Names,
    canonical_root: OnceLock<PathBuf>,
}

impl Reader {
    /// A reader confined to `root` (an empty path is the current directory), reading at most `max_bytes`
    /// per file. Files are named as `std::fs` takes them (a relative path is relative to the current
    /// directory, not to `root`); errors name them relative to `root`.
    pub fn new(root: impl Into<PathBuf>, max_bytes: u64) -> Reader {
        let root = root.into();
        Reader {
            root: if root.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                root
            },
            max_bytes,
            names: Names::Relative,
            canonical_root: OnceLock::new(),
        }
    }

    /// Errors name files as the caller spelled them rather than relative to the root: for a directory the
    /// operator named (a dump directory), where the full path is what they recognise.
    pub fn with_full_names(mut self) -> Reader {
        self.names = Names::AsGiven;
        self
    }

    /// The root, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The most bytes read from one file.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Checks `file` without opening it: its resolved path lies inside the root, it is a regular file and
    /// not larger than the limit. Returns the resolved path. For files envparity hands to another program
    /// (kustomize) without reading them itself.
    pub fn check(&self, file: &Path) -> Result<PathBuf, ReadError> {
        self.vet(file)
    }

    /// The bytes of `file` (see [`Reader::check`] for what is refused).
    pub fn read(&self, file: &Path) -> Result<Vec<u8>, ReadError> {
        let resolved = self.vet(file)?;
        let name = || self.name(file);
        let handle = open_no_follow(&resolved).map_err(|e| ReadError::io(name(), e))?;
        // The path was checked before opening; the open file is checked again, in case it was swapped.
        let meta = handle.metadata().map_err(|e| ReadError::io(name(), e))?;
        self.admit(file, &meta)?;
        let capacity = usize::try_from(meta.len().min(self.max_bytes)).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        // One byte past the limit tells a file at the limit from a larger (or growing) one.
        handle
            .take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| ReadError::io(name(), e))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(ReadError::TooLarge {
                path: name(),
                limit: self.max_bytes,
            });
        }
        Ok(bytes)
    }

    /// The text of `file`, which must be UTF-8 (see [`Reader::check`] for what is refused).
    pub fn read_to_string(&self, file: &Path) -> Result<String, ReadError> {
        let bytes = self.read(file)?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
            path: self.name(file),
        })
    }

    /// Resolves and checks `file`: the kind of file first (a link to `/dev/zero` is a device, wherever it
    /// lies), then where it leads.
    fn vet(&self, file: &Path) -> Result<PathBuf, ReadError> {
        let name = || self.name(file);
        let meta = std::fs::metadata(file).map_err(|e| ReadError::io(name(), e))?;
        self.admit(file, &meta)?;
        let resolved = std::fs::canonicalize(file).map_err(|e| ReadError::io(name(), e))?;
        let root = self
            .canonical_root()
            .map_err(|e| ReadError::io(name(), e))?;
        if !resolved.starts_with(root) {
            return Err(ReadError::OutsideRoot {
                path: name(),
                target: resolved,
                root: root.to_path_buf(),
            });
        }
        Ok(resolved)
    }

    /// Refuses what is not a regular file, or a file already larger than the limit.
    fn admit(&self, file: &Path, meta: &Metadata) -> Result<(), ReadError> {
        if let Some(what) = not_regular(meta) {
            return Err(ReadError::NotRegular {
                path: self.name(file),
                what,
            });
        }
        if meta.len() > self.max_bytes {
            return Err(ReadError::TooLarge {
                path: self.name(file),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    fn canonical_root(&self) -> io::Result<&Path> {
        if let Some(root) = self.canonical_root.get() {
            return Ok(root);
        }
        let root = std::fs::canonicalize(&self.root)?;
        Ok(self.canonical_root.get_or_init(|| root))
    }

    /// `file` as errors name it.
    fn name(&self, file: &Path) -> PathBuf {
        if self.names == Names::AsGiven {
            return file.to_path_buf();
        }
        let inside = file.strip_prefix(&self.root).ok().or_else(|| {
            self.canonical_root
                .get()
                .and_then(|root| file.strip_prefix(root).ok())
        });
        match inside {
            Some(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
            _ => file.to_path_buf(),
        }
    }
}

/// The bytes of `file` (a path as `std::fs` takes it), confined to `root`, at most `max_bytes`.
pub fn read(root: &Path, file: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    Reader::new(root, max_bytes).read(file)
}

/// The UTF-8 text of `file` (a path as `std::fs` takes it), confined to `root`, at most `max_bytes`.
pub fn read_to_string(root: &Path, file: &Path, max_bytes: u64) -> Result<String, ReadError> {
    Reader::new(root, max_bytes).read_to_string(file)
}

/// The bytes of a file the operator named, outside any repository (a credential, a CA bundle): confined to
/// the file's own directory, at most `max_bytes`; errors name it as given.
pub fn read_file(file: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    alone(file, max_bytes).read(file)
}

/// The UTF-8 text of a file the operator named, outside any repository (`config.toml`, a token file):
/// confined to the file's own directory, at most `max_bytes`; errors name it as given.
pub fn read_file_to_string(file: &Path, max_bytes: u64) -> Result<String, ReadError> {
    alone(file, max_bytes).read_to_string(file)
}

fn alone(file: &Path, max_bytes: u64) -> Reader {
    Reader::new(file.parent().unwrap_or(Path::new("")), max_bytes).with_full_names()
}

/// What a non-regular file is, in words; `None` for a regular file.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("FIFO");
        }
        if kind.is_socket() {
            return Some("socket");
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Some("device");
        }
    }
    Some("special file")
}

/// Opens `path` for reading without following a final symlink and without blocking (on a FIFO swapped in
/// after the check, open would otherwise wait for a writer forever).
#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[cfg(unix)]
    use std::os::unix::fs::symlink;

    const MAX: u64 = 1024;

    fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path
    }

    #[test]
    fn a_regular_file_is_read_whole_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/ok.yaml", b"kind: ConfigMap\n");
        let exact = write(dir.path(), "exact.bin", &[7u8; MAX as usize]);
        let reader = Reader::new(dir.path(), MAX);
        assert_eq!(
            reader
                .read_to_string(&dir.path().join("a/ok.yaml"))
                .expect("read"),
            "kind: ConfigMap\n"
        );
        assert_eq!(
            reader.read(&exact).expect("at the limit").len(),
            MAX as usize
        );
        assert!(reader.check(&exact).expect("checked").is_absolute());
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_it_relative_to_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = write(dir.path(), "apps/big.yaml", &[b'x'; MAX as usize + 1]);
        let err = read(dir.path(), &big, MAX).expect_err("too large");
        assert_eq!(
            err,
            ReadError::TooLarge {
                path: PathBuf::from("apps/big.yaml"),
                limit: MAX
            }
        );
        assert_eq!(
            err.to_string(),
            "apps/big.yaml is larger than 1024 bytes (limits.max_file_bytes)"
        );
        assert!(matches!(
            Reader::new(dir.path(), MAX).check(&big),
            Err(ReadError::TooLarge { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_dev_zero_is_a_device_refused_before_it_is_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zero = dir.path().join("zero.yaml");
        symlink("/dev/zero", &zero).expect("symlink");
        let started = Instant::now();
        let err = read_to_string(dir.path(), &zero, DEFAULT_MAX_BYTES).expect_err("refused");
        assert_eq!(
            err,
            ReadError::NotRegular {
                path: PathBuf::from("zero.yaml"),
                what: "device"
            }
        );
        assert_eq!(err.to_string(), "zero.yaml is a device, not a regular file");
        // Even where /dev is the root, the device is refused.
        assert!(matches!(
            read(Path::new("/dev"), Path::new("/dev/zero"), MAX),
            Err(ReadError::NotRegular { what: "device", .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe.yaml");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        let link = dir.path().join("via-link.yaml");
        symlink(&fifo, &link).expect("symlink");
        let started = Instant::now();
        for file in [&fifo, &link] {
            let err = read(dir.path(), file, MAX).expect_err("refused");
            assert!(
                matches!(err, ReadError::NotRegular { what: "FIFO", .. }),
                "{err}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[cfg(unix)]
    #[test]
    fn a_chain_of_links_leaving_the_root_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(tmp.path(), "outside/secret.txt", b"s3cr3t");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("apps/web")).expect("mkdir");
        // a -> b, both in the repo; b -> ../../../outside/secret.txt, out of it.
        symlink("../../../outside/secret.txt", root.join("apps/web/b.yaml")).expect("symlink b");
        symlink("b.yaml", root.join("apps/web/a.yaml")).expect("symlink a");
        let err = read_to_string(&root, &root.join("apps/web/a.yaml"), MAX).expect_err("outside");
        let ReadError::OutsideRoot { path, target, .. } = &err else {
            panic!("expected OutsideRoot, got {err:?}");
        };
        assert_eq!(path, Path::new("apps/web/a.yaml"));
        assert_eq!(
            target,
            &std::fs::canonicalize(tmp.path().join("outside/secret.txt")).expect("canonical")
        );
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        // A link that stays inside is followed.
        write(&root, "apps/shared.yaml", b"kind: Service\n");
        symlink("../shared.yaml", root.join("apps/web/c.yaml")).expect("symlink c");
        assert_eq!(
            read_to_string(&root, &root.join("apps/web/c.yaml"), MAX).expect("inside"),
            "kind: Service\n"
        );
    }

    /// `/proc` files say they are empty and are not: the limit holds while reading, not only by the size
    /// the file system reports (the same holds for a file that grows while it is read).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_limit_holds_while_reading_not_only_by_the_reported_size() {
        let status = Path::new("/proc/self/status");
        let meta = std::fs::metadata(status).expect("proc");
        assert_eq!(meta.len(), 0, "procfs reports no size");
        let err = read(Path::new("/proc"), status, 16).expect_err("longer than 16 bytes");
        assert!(
            matches!(err, ReadError::TooLarge { limit: 16, .. }),
            "{err:?}"
        );
        assert!(read(Path::new("/proc"), status, 1 << 20).is_ok());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("base")).expect("mkdir");
        let err = read(dir.path(), &dir.path().join("base"), MAX).expect_err("directory");
        assert_eq!(
            err,
            ReadError::NotRegular {
                path: PathBuf::from("base"),
                what: "directory"
            }
        );
    }

    #[test]
    fn text_must_be_utf8_and_is_never_quoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = write(dir.path(), "latin1.env", b"PASSWORD=s\xe9cret\n");
        let err = read_to_string(dir.path(), &bad, MAX).expect_err("not UTF-8");
        assert_eq!(
            err,
            ReadError::NotUtf8 {
                path: PathBuf::from("latin1.env")
            }
        );
        assert!(!err.to_string().contains("PASSWORD"));
        assert!(read(dir.path(), &bad, MAX).is_ok(), "bytes are fine");
    }

    #[test]
    fn a_file_named_alone_is_confined_to_its_directory_and_named_as_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write(dir.path(), "etc/config.toml", b"[limits]\n");
        assert_eq!(
            read_file_to_string(&config, MAX).expect("read"),
            "[limits]\n"
        );
        let missing = dir.path().join("etc/nope.toml");
        let err = read_file(&missing, MAX).expect_err("missing");
        assert!(
            matches!(&err, ReadError::Io { path, source } if path == &missing && source.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("cannot read /"), "{err}");
    }
}
