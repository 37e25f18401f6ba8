//! The runs that tie the stages together and touch the outside world: where the repo comes from
//! ([`Origin`]), `scan` (fetch → render → check → record), `backfill` (the same over first-parent history,
//! with each commit's own time) and the ratchet gate (`check --base`: only what a change introduces).
//!
//! Each function returns data; the CLI prints it and the daemon will schedule it.
//!
//! The commands that write state — `scan`, `backfill`, `report`, `digest` — each hold a short exclusive
//! lock for their job while they run ([`State::lock_job`], `<state>/locks/<job>.lock`), taken here so that
//! the CLI and the daemon's jobs share it: a CLI `digest` beside a running daemon cannot send the same
//! round twice, and two `scan`s do not interleave. A job waits for its lock up to
//! `state.lock_timeout_seconds` (60 s), then fails naming the job and the lock file. The daemon's
//! single-instance lock (`<state>/daemon.lock`) is another matter and stays as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::codes::{ErrorKind, EventKind};
use crate::config::Config;
mod check;
mod policy_change;
mod state;

pub use check::{Live, Report, Scope, check_tree, discover_options};
pub use state::{NoStateDir, Purpose, Resolved};

use crate::finding::{Finding, Severity};
use crate::history::{CommitRef, Durations, History, HistoryError, Lifecycle, RunKind, RunRecord};
use crate::render::{CachedRenderer, Kustomize, RenderError};
use crate::source::{CommitInfo, GitRepo, Snapshot, SourceError, SourceSpec};

/// A run that could not happen at all (as opposed to a run that recorded errors).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The repository could not be reached or read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The history store could not be opened or written.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// No kustomize to render with.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The repo is a plain directory, and the command needs commits.
    #[error("{} is not in a git repository: {what} needs commits (set `source.url`, or point --repo at a git checkout)", path.display())]
    NotGit {
        /// The directory.
        path: PathBuf,
        /// The command.
        what: &'static str,
    },
    /// The clusters could not be set up (kubeconfig unreadable, no such context).
    #[error(transparent)]
    Live(#[from] crate::live::source::LiveError),
    /// The directory does not exist.
    #[error("repo {} does not exist or is not a directory", path.display())]
    NoDir {
        /// The path.
        path: PathBuf,
    },
    /// `drift` without anything to compare with.
    #[error("no live source: configure [clusters.<env>] in config.toml, or pass --live-dir DIR")]
    NoLiveSource,
    /// The report site could not be built or published.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// The digest could not be selected, built or recorded.
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    /// Another process kept the job's state lock for longer than `state.lock_timeout_seconds`.
    #[error(
        "another envparity process{} is running `{job}` on this state directory: the lock {} was still held after {} s (state.lock_timeout_seconds); try again when it is done",
        pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default(),
        path.display(),
        waited.as_secs()
    )]
    JobBusy {
        /// `scan`, `backfill`, `report` or `digest`.
        job: &'static str,
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
        /// The pid the holder wrote into the lock file, when readable.
        pid: Option<String>,
    },
    /// The job's lock file could not be created or locked.
    #[error("cannot take the `{job}` lock {}: {source}", path.display())]
    JobLock {
        /// The job.
        job: &'static str,
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The change's config points `check --base` at another directory or repository than the base's.
    #[error(
        "the change's config points check at {change} where the base's config points it at {base}: a change cannot move what its own gate checks (give --repo, or land the source change on its own)"
    )]
    GateMoved {
        /// What the change's config checks.
        change: String,
        /// What the base's config checks.
        base: String,
    },
    /// Plain `check` would fetch a remote with credentials named by a config file inside a git checkout.
    #[error(
        "check would fetch {url} with the credentials that {} names, and that file is part of the checkout {} (which a pull request can edit): give --repo (the remote, or `.` for the checkout) to say what to check",
        config.display(),
        checkout.display()
    )]
    CheckoutCredentials {
        /// The config file.
        config: PathBuf,
        /// The checkout it lies in.
        checkout: PathBuf,
        /// The remote, without credentials.
        url: String,
    },
    /// The threads that check commits in parallel could not be started.
    #[error("could not start the backfill's worker threads: {source}")]
    Workers {
        /// Why.
        source: rayon::ThreadPoolBuildError,
    },
}

impl PipelineError {
    /// The kind of this error in `errors[]`, for the errors that are about reading the repo or the
    /// clusters (the history, the site and the digest are envparity's own state, not checked input).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            PipelineError::Source(_) => Some(ErrorKind::Fetch),
            PipelineError::Render(e) => Some(e.kind()),
            PipelineError::Workers { .. } => Some(ErrorKind::Render),
            PipelineError::Live(e) => Some(e.kind()),
            PipelineError::NotGit { .. }
            | PipelineError::NoDir { .. }
            | PipelineError::NoLiveSource
            | PipelineError::GateMoved { .. }
            | PipelineError::CheckoutCredentials { .. } => Some(ErrorKind::Config),
            PipelineError::History(_)
            | PipelineError::Report(_)
            | PipelineError::Notify(_)
            | PipelineError::JobBusy { .. }
            | PipelineError::JobLock { .. } => None,
        }
    }
}

/// What a run came to. Every command's exit code is derived from it in one place ([`Status::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything was done and checked, and nothing blocks: exit 0.
    Ok,
    /// Done, with a verdict against it — a blocking finding (with `--base`: one the base does not have), a
    /// digest the server did not take, a daemon job that failed: exit 1.
    Failed,
    /// Not everything could be done: a usage or config error, or something that could not be fetched,
    /// read, rendered or listed (CI never passes what was not checked): exit 2.
    Incomplete,
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Incomplete => 2,
        }
    }
}

/// Where the infra repo comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A plain directory, not in git: checked as it is, without commits.
    Dir(PathBuf),
    /// A git repository: mirrored into the state directory (a remote, or a local checkout's commits).
    Git {
        /// What to mirror, and how to authenticate.
        spec: SourceSpec,
        /// Where the layout starts inside the repository.
        subdir: PathBuf,
        /// The directory of a local checkout to read as it is (what `check` reads), when the source is one.
        checkout: Option<PathBuf>,
    },
}

/// Whether `--repo` names a remote rather than a directory.
pub fn looks_like_url(repo: &str) -> bool {
    repo.contains("://") || (repo.contains('@') && repo.contains(':') && !Path::new(repo).exists())
}

impl Origin {
    /// From config, with `--repo` (a URL or a path) overriding `source.url`/`source.path`.
    pub fn resolve(config: &Config, repo_override: Option<&str>) -> Result<Origin, PipelineError> {
        let s = &config.source;
        let subdir = s.subdir.clone().unwrap_or_default();
        let spec = |url: String| SourceSpec {
            url,
            branch: s.branch.clone(),
            username: s.username.clone(),
            token_env: s.token_env.clone(),
            token_file: s.token_file.as_ref().map(|f| config.base_dir().join(f)),
            ssh_key: s.ssh_key.as_ref().map(|f| config.base_dir().join(f)),
        };
        let path = match repo_override {
            Some(r) if looks_like_url(r) => {
                return Ok(Origin::Git {
                    spec: spec(r.to_string()),
                    subdir,
                    checkout: None,
                });
            }
            Some(r) => PathBuf::from(r),
            None => match &s.url {
                Some(url) => {
                    return Ok(Origin::Git {
                        spec: spec(url.clone()),
                        subdir,
                        checkout: None,
                    });
                }
                None => config.repo_path(),
            },
        };
        if !path.is_dir() {
            return Err(PipelineError::NoDir { path });
        }
        match GitRepo::open_local(&path) {
            Ok(repo) => {
                let workdir = repo.path().to_path_buf();
                let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
                let inner = canonical
                    .strip_prefix(&workdir)
                    .unwrap_or(Path::new(""))
                    .join(&subdir);
                Ok(Origin::Git {
                    spec: spec(workdir.to_string_lossy().into_owned()),
                    subdir: inner,
                    checkout: Some(path.join(&subdir)),
                })
            }
            Err(_) => Ok(Origin::Dir(path.join(&subdir))),
        }
    }

    /// Whether two origins check the same thing: the same directory (links resolved), or the same remote,
    /// branch and subdirectory.
    pub fn same_target(&self, other: &Origin) -> bool {
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        match (self, other) {
            (Origin::Dir(a), Origin::Dir(b)) => real(a) == real(b),
            (
                Origin::Git {
                    checkout: Some(a), ..
                },
                Origin::Git {
                    checkout: Some(b), ..
                },
            ) => real(a) == real(b),
            (
                Origin::Git {
                    spec: a,
                    subdir: sa,
                    checkout: None,
                },
                Origin::Git {
                    spec: b,
                    subdir: sb,
                    checkout: None,
                },
            ) => a.url == b.url && a.branch == b.branch && sa == sb,
            _ => false,
        }
    }

    /// What the origin checks, for messages (a URL without credentials).
    pub fn describe(&self) -> String {
        match self {
            Origin::Dir(p)
            | Origin::Git {
                checkout: Some(p), ..
            } => p.display().to_string(),
            Origin::Git { spec, subdir, .. } => {
                let url = crate::source::redact_url(&spec.url);
                match (&spec.branch, subdir.as_os_str().is_empty()) {
                    (Some(b), true) => format!("{url} (branch {b})"),
                    (Some(b), false) => format!("{url} (branch {b}, {})", subdir.display()),
                    (None, true) => url,
                    (None, false) => format!("{url} ({})", subdir.display()),
                }
            }
        }
    }

    /// The directory `check` reads as it is, when there is one (a plain directory or a local checkout).
    pub fn working_tree(&self) -> Option<PathBuf> {
        match self {
            Origin::Dir(p) => Some(p.clone()),
            Origin::Git {
                checkout: Some(c), ..
            } => Some(c.clone()),
            Origin::Git { .. } => None,
        }
    }
}

/// The state directory's layout.
#[derive(Debug, Clone)]
pub struct State {
    /// The state directory.
    pub dir: PathBuf,
}

impl State {
    /// The render cache.
    pub fn render_cache(&self) -> PathBuf {
        self.dir.join("cache").join("render")
    }
    /// The key that seals this machine's render cache entries.
    pub fn seal(&self) -> Result<crate::render::Seal, RenderError> {
        crate::render::Seal::load_or_create(&self.dir.join("cache").join("render.key"))
    }
    /// The history database.
    pub fn history(&self) -> PathBuf {
        self.dir.join("history.sqlite")
    }
    /// The bare mirror of a repository URL (one per URL, so changing `source.url` never mixes histories).
    pub fn mirror(&self, url: &str) -> PathBuf {
        let digest = Sha256::digest(url.as_bytes());
        let name: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        self.dir.join("mirrors").join(format!("{name}.git"))
    }
    /// The directory of the per-job state locks.
    pub fn locks(&self) -> PathBuf {
        self.dir.join("locks")
    }

    /// Takes the exclusive lock of `job` (`<state>/locks/<job>.lock`, the directory created owner-only),
    /// waiting up to `timeout` for another process that holds it. Held until the [`JobLock`] is dropped;
    /// the OS releases it when the process ends, even on a crash.
    pub fn lock_job(&self, job: &'static str, timeout: Duration) -> Result<JobLock, PipelineError> {
        let dir = self.locks();
        let path = dir.join(format!("{job}.lock"));
        let err = |source| PipelineError::JobLock {
            job,
            path: path.clone(),
            source,
        };
        crate::input::create_private_dir(&dir).map_err(err)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(err)?;
        let started = Instant::now();
        let mut logged = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::Error(e)) => return Err(err(e)),
                Err(TryLockError::WouldBlock) => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        let mut pid = String::new();
                        let _ = file.rewind().and_then(|()| file.read_to_string(&mut pid));
                        return Err(PipelineError::JobBusy {
                            job,
                            path,
                            waited,
                            pid: Some(pid.trim().to_string()).filter(|p| !p.is_empty()),
                        });
                    }
                    if !logged {
                        tracing::info!(job, lock = %path.display(), timeout_s = timeout.as_secs(), "waiting for another envparity process running the same job");
                        logged = true;
                    }
                    std::thread::sleep((timeout - waited).min(Duration::from_millis(100)));
                }
            }
        }
        // Who holds it, for the error of the next one waiting.
        file.set_len(0).map_err(err)?;
        file.rewind().map_err(err)?;
        write!(file, "{}", std::process::id()).map_err(err)?;
        file.flush().map_err(err)?;
        tracing::debug!(job, lock = %path.display(), waited_ms = started.elapsed().as_millis() as u64, "job lock taken");
        Ok(JobLock { _file: file, path })
    }
}

/// A job's state lock (see [`State::lock_job`]): held for as long as this value lives.
#[derive(Debug)]
pub struct JobLock {
    _file: File,
    path: PathBuf,
}

impl JobLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The live source config names: `--live-dir` (or `live.dir`) dumps, else the configured clusters; `None`
/// when neither is configured.
fn live_source(
    config: &Config,
    live_dir: Option<&Path>,
) -> Result<Option<Box<dyn crate::live::source::LiveSource>>, PipelineError> {
    let dir = live_dir
        .map(Path::to_path_buf)
        .or_else(|| config.live.dir.as_ref().map(|d| config.base_dir().join(d)));
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(PipelineError::NoDir { path: dir });
        }
        return Ok(Some(Box::new(crate::live::source::DirSource::new(
            &dir,
            config.limits.max_file_bytes(),
        ))));
    }
    if config.clusters.is_empty() && config.destinations.is_empty() {
        return Ok(None);
    }
    Ok(Some(Box::new(
        crate::live::kube::KubeSource::with_destinations(
            &config.clusters,
            &config.destinations,
            &config.base_dir(),
        )?,
    )))
}

/// A commit checked out into a temporary directory, ready to render.
pub struct Checkout {
    /// The files.
    pub snapshot: Snapshot,
    /// The commit.
    pub commit: CommitInfo,
    /// Where the layout starts inside the snapshot.
    pub root: PathBuf,
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// Renders and checks one directory with the shared cache.
fn check_dir(
    config: &Config,
    state: &State,
    root: &Path,
    repo_root: &Path,
    scope: &Scope,
    live: Option<&Live<'_>>,
) -> Result<(Report, u64), PipelineError> {
    let max = config.limits.max_file_bytes();
    let kustomize = Kustomize::detect(repo_root)?.with_max_file_bytes(max);
    let renderer = CachedRenderer::new(
        kustomize,
        state.render_cache(),
        state.seal()?,
        repo_root.to_path_buf(),
    )
    .with_max_file_bytes(max);
    let report = check_tree(config, root, scope, &renderer, today(), live);
    Ok((report, renderer.stats().misses as u64))
}

/// `check` without a base and without `--repo` on a config that follows a remote with credentials, when
/// the config file is part of a git checkout: a pull request can edit that file, and would have the job's
/// token sent to a URL of its choosing. Refused; `--repo` (the remote, or `.` for the checkout) decides
/// instead. (`check --base` compares the config with the base's before fetching anything.)
pub fn refuse_checkout_credentials(
    config: &Config,
    origin: &Origin,
    repo_override: Option<&str>,
) -> Result<(), PipelineError> {
    let s = &config.source;
    let credentials = s.token_env.is_some() || s.token_file.is_some() || s.ssh_key.is_some();
    let Origin::Git {
        spec,
        checkout: None,
        ..
    } = origin
    else {
        return Ok(());
    };
    if repo_override.is_some() || !credentials {
        return Ok(());
    }
    let Some(file) = &config.file else {
        return Ok(());
    };
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match GitRepo::open_local(&dir) {
        Ok(checkout) => Err(PipelineError::CheckoutCredentials {
            config: file.clone(),
            checkout: checkout.path().to_path_buf(),
            url: crate::source::redact_url(&spec.url),
        }),
        Err(_) => Ok(()),
    }
}

/// `check` without a base: the working tree if there is one, else the followed branch's head.
pub fn check(
    config: &Config,
    state: &State,
    origin: &Origin,
    scope: &Scope,
) -> Result<Report, PipelineError> {
    check_with(config, state, origin, scope, None)
}

/// `drift`: each environment's cluster (or `live_dir`'s dumps, else `live.dir`'s) against Git; the parity
/// rules are not run.
pub fn drift(
    config: &Config,
    state: &State,
    origin: &Origin,
    scope: &Scope,
    live_dir: Option<&Path>,
) -> Result<Report, PipelineError> {
    let source = live_source(config, live_dir)?.ok_or(PipelineError::NoLiveSource)?;
    let live = Live {
        source: source.as_ref(),
        options: crate::live::LiveOptions::from_config(config),
    };
    let scope = Scope {
        skip_parity: true,
        ..scope.clone()
    };
    check_with(config, state, origin, &scope, Some(&live))
}

/// `report`: renders the site from the history and publishes it into `out` atomically; returns the number
/// of files written.
pub fn report(config: &Config, state: &State, out: &Path) -> Result<usize, PipelineError> {
    let _lock = state.lock_job("report", config.state.lock_timeout())?;
    let history = History::open(&state.history())?;
    let options = crate::report::Options {
        prices: config.report.prices.clone(),
    };
    Ok(crate::report::build(&history, &options, out, &state.dir)?)
}

/// `digest`: selects, builds and sends (or, with `dry_run`, writes) the digest of `request.period`, once per
/// period (recorded in the history).
pub fn digest(
    config: &Config,
    state: &State,
    request: &crate::notify::Request,
) -> Result<crate::notify::RunOutcome, PipelineError> {
    if !request.dry_run && config.smtp.is_none() {
        return Err(crate::notify::NotifyError::NoSmtp.into());
    }
    // A dry run writes nothing, so it does not wait for a send in progress.
    let _lock = if request.dry_run {
        None
    } else {
        Some(state.lock_job("digest", config.state.lock_timeout())?)
    };
    let mut history = History::open(&state.history())?;
    Ok(crate::notify::run(&mut history, config, request)?)
}

fn check_with(
    config: &Config,
    state: &State,
    origin: &Origin,
    scope: &Scope,
    live: Option<&Live<'_>>,
) -> Result<Report, PipelineError> {
    match origin {
        Origin::Dir(dir)
        | Origin::Git {
            checkout: Some(dir),
            ..
        } => Ok(check_dir(config, state, dir, dir, scope, live)?.0),
        Origin::Git {
            spec,
            subdir,
            checkout: None,
        } => {
            let repo = GitRepo::mirror(spec, &state.mirror(&spec.url))?;
            let head = repo.fetch()?;
            let checkout = checkout(&repo, &head, subdir)?;
            let (mut report, _) = check_dir(
                config,
                state,
                &checkout.root,
                checkout.snapshot.path(),
                scope,
                live,
            )?;
            report.commit = Some(head.id);
            Ok(report)
        }
    }
}

fn checkout(repo: &GitRepo, commit: &CommitInfo, subdir: &Path) -> Result<Checkout, PipelineError> {
    let mut snapshot = Snapshot::new()?;
    snapshot.checkout(repo, &commit.id)?;
    let root = snapshot.path().join(subdir);
    Ok(Checkout {
        snapshot,
        commit: commit.clone(),
        root,
    })
}

/// The result of the ratchet gate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The change's report; its findings are all the findings of the change.
    pub report: Report,
    /// The base commit.
    pub base: CommitInfo,
    /// Fingerprints that the base has too ("already present").
    pub present: BTreeSet<String>,
    /// Findings of the base the change no longer has ("fixed"), as the base reported them. A service the
    /// change could not fully check fixes nothing (its findings may be missing only because it was not
    /// read), and a finding an exception hides is not fixed.
    pub fixed: Vec<Finding>,
}

impl Gate {
    /// Whether a finding is new in the change.
    pub fn is_new(&self, f: &Finding) -> bool {
        !self.present.contains(&f.fingerprint)
    }

    /// Incomplete when something could not be checked, failed when the change introduces a blocking
    /// finding, else ok.
    pub fn status(&self) -> Status {
        if !self.report.errors.is_empty() {
            Status::Incomplete
        } else if self
            .report
            .findings
            .iter()
            .any(|f| f.severity == Severity::Block && self.is_new(f))
        {
            Status::Failed
        } else {
            Status::Ok
        }
    }
}

/// `check --base REF`: checks the base commit and the change, and tells which findings are new. When the
/// config file lies in a git repository and the change edits it, the change is checked again with the
/// base's config (`policy-change` findings, listed first); a change whose config points the gate at another
/// repository or directory than the base's config does (with `repo_override`, `--repo`, both resolve the
/// same) is an error.
pub fn gate(
    config: &Config,
    state: &State,
    origin: &Origin,
    scope: &Scope,
    base: &str,
    repo_override: Option<&str>,
) -> Result<Gate, PipelineError> {
    // Before anything is fetched: a change's config must not send the gate (and its credentials) elsewhere.
    let base_config = base_config(config, repo_override, base);
    if let Ok(Some((_, base_origin))) = &base_config
        && !base_origin.same_target(origin)
    {
        return Err(PipelineError::GateMoved {
            change: origin.describe(),
            base: base_origin.describe(),
        });
    }
    let (repo, subdir) = match origin {
        Origin::Dir(path) => {
            return Err(PipelineError::NotGit {
                path: path.clone(),
                what: "check --base",
            });
        }
        Origin::Git {
            checkout: Some(c),
            subdir,
            ..
        } => (GitRepo::open_local(c)?, subdir.clone()),
        Origin::Git { spec, subdir, .. } => {
            let repo = GitRepo::mirror(spec, &state.mirror(&spec.url))?;
            if let Err(e) = repo.fetch() {
                tracing::warn!(error = %e, "fetch failed; resolving --base in the last fetched state");
            }
            (repo, subdir.clone())
        }
    };
    let base_commit = repo.resolve(base)?;
    let base_checkout = checkout(&repo, &base_commit, &subdir)?;
    let (base_report, _) = check_dir(
        config,
        state,
        &base_checkout.root,
        base_checkout.snapshot.path(),
        scope,
        None,
    )?;
    let mut report = check(config, state, origin, scope)?;
    match base_config {
        Ok(None) => {}
        Ok(Some((base_config, _))) => {
            let changes = policy_changes(
                &base_config,
                config,
                state,
                origin,
                scope,
                &base_checkout,
                &report,
            );
            match changes {
                Ok(changes) if !changes.is_empty() => {
                    report.findings.splice(0..0, changes);
                    report.summary = crate::finding::Summary::of(&report.findings);
                }
                Ok(_) => {}
                Err(warning) => report.warnings.push(warning),
            }
        }
        Err(warning) => report.warnings.push(warning),
    }
    // A finding an exception now hides is still there, not fixed.
    let now: BTreeSet<&str> = report
        .findings
        .iter()
        .chain(report.suppressed.iter().map(|s| &s.finding))
        .map(|f| f.fingerprint.as_str())
        .collect();
    let unchecked = |service: &str| {
        report
            .errors
            .iter()
            .any(|e| e.service.as_deref().is_none_or(|s| s == service))
    };
    let fixed = base_report
        .findings
        .iter()
        .filter(|f| !now.contains(f.fingerprint.as_str()) && !unchecked(&f.service))
        .cloned()
        .collect();
    Ok(Gate {
        present: base_report
            .findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect(),
        fixed,
        report,
        base: base_commit,
    })
}

/// The base commit's config, when the config file lies in a local git repository (the checked one, or
/// the one around the config file): the same file read from `base` there, anchored where the change's
/// config is (so its paths resolve in the change's checkout), with the origin it resolves to. `None` when
/// the config lies outside any repository or is the same in both (nothing a change could have edited); a
/// warning when the base's config cannot be read or does not load.
fn base_config(
    config: &Config,
    repo_override: Option<&str>,
    base: &str,
) -> Result<Option<(Config, Origin)>, String> {
    // Where the config file is, or would be (`config.toml` in the current directory).
    let file = config
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from("config.toml"));
    let Ok(file) = std::path::absolute(&file) else {
        return Ok(None);
    };
    let Some(Ok(config_repo)) = file.parent().map(GitRepo::open_local) else {
        return Ok(None);
    };
    let Some(rel) = policy_change::config_in_repo(&file, config_repo.path()) else {
        return Ok(None);
    };
    let why = |e: &dyn std::fmt::Display| format!("policy changes not checked: {e}");
    let max = crate::input::DEFAULT_MAX_BYTES;
    let commit = config_repo.resolve(base).map_err(|e| why(&e))?;
    let base_text = config_repo
        .file_at(&commit.id, &rel, max)
        .map_err(|e| why(&e))?
        .unwrap_or_default();
    let change_text = match &config.file {
        Some(file) => crate::input::read_file_to_string(file, max).map_err(|e| why(&e))?,
        None => String::new(),
    };
    if base_text == change_text {
        return Ok(None);
    }
    let (mut base_config, _) = Config::parse(&base_text, &file).map_err(|e| {
        format!(
            "policy changes not checked: {} at the base {} does not load: {}",
            rel.display(),
            crate::source::short(&commit.id),
            crate::redact::bound(&e.to_string())
        )
    })?;
    base_config.file = config.file.clone();
    let base_origin = Origin::resolve(&base_config, repo_override)
        .map_err(|e| why(&format_args!("the base's config: {e}")))?;
    Ok(Some((base_config, base_origin)))
}

/// The `policy-change` findings of the change (`report`, its tree with its config) against the base's
/// config: the change's tree checked again with `base_config`, compared with `report`.
fn policy_changes(
    base_config: &Config,
    config: &Config,
    state: &State,
    origin: &Origin,
    scope: &Scope,
    base: &Checkout,
    report: &Report,
) -> Result<Vec<Finding>, String> {
    let short_base = crate::source::short(&base.commit.id);
    let under_base = check(base_config, state, origin, scope).map_err(|e| {
        format!("policy changes not checked: the change with the base {short_base}'s config: {e}")
    })?;
    let base_own = std::cell::OnceCell::new();
    let new_in_change = |f: &Finding| {
        let own: &Option<BTreeSet<String>> = base_own.get_or_init(|| {
            check_dir(
                base_config,
                state,
                &base.root,
                base.snapshot.path(),
                scope,
                None,
            )
            .ok()
            .map(|(r, _)| {
                r.findings
                    .iter()
                    .chain(r.suppressed.iter().map(|s| &s.finding))
                    .map(|f| f.fingerprint.clone())
                    .collect()
            })
        });
        // A base that cannot be checked again counts every hidden finding as the change's own.
        own.as_ref().is_none_or(|own| !own.contains(&f.fingerprint))
    };
    Ok(policy_change::policy_changes(
        base_config,
        config,
        &under_base,
        report,
        &new_in_change,
        today(),
    ))
}

/// What a scan did.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// The check.
    pub report: Report,
    /// The commit scanned (none for a plain directory).
    pub commit: Option<CommitInfo>,
    /// Why fetching failed, when it did (the last fetched commit was scanned).
    pub fetch_error: Option<std::sync::Arc<SourceError>>,
    /// The run's id in history.
    pub run: i64,
    /// The scan found exactly what run `run` found, and confirmed it instead of recording a copy.
    pub confirmed: bool,
    /// Open findings after the run, by fingerprint (age and blame).
    pub open: Vec<Lifecycle>,
    /// Findings this run opened.
    pub opened: usize,
    /// Findings this run resolved.
    pub resolved: usize,
}

impl ScanOutcome {
    /// Incomplete when fetching failed or something could not be checked, else ok: a scan records, `check`
    /// gates, so findings do not change it.
    pub fn status(&self) -> Status {
        if self.fetch_error.is_some() || !self.report.errors.is_empty() {
            Status::Incomplete
        } else {
            Status::Ok
        }
    }
}

fn commit_ref(c: &CommitInfo) -> CommitRef {
    CommitRef {
        id: c.id.clone(),
        time: c.time,
        author: c.author.clone(),
        summary: c.summary.clone(),
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `scan`: fetch (keeping the last fetched commit when that fails), render, check — with each
/// environment's cluster when a live source is configured (`live_dir`, `live.dir` or `[clusters]`) — and
/// record. A live source that cannot be set up fails the scan before anything is recorded: scanning without
/// the clusters would resolve their open drift.
#[tracing::instrument(skip_all)]
pub fn scan(
    config: &Config,
    state: &State,
    origin: &Origin,
    live_dir: Option<&Path>,
) -> Result<ScanOutcome, PipelineError> {
    let _lock = state.lock_job("scan", config.state.lock_timeout())?;
    let source = live_source(config, live_dir)?;
    let live = source.as_deref().map(|source| Live {
        source,
        options: crate::live::LiveOptions::from_config(config),
    });
    let live = live.as_ref();
    let started_at = Utc::now();
    let t0 = Instant::now();
    let mut history = History::open(&state.history())?;
    let before: BTreeSet<String> = history
        .open_findings(None)?
        .into_iter()
        .map(|l| l.finding.fingerprint)
        .collect();
    let mut argo = Vec::new();
    let (report, commit, fetch_error, fetch_ms, check_ms) = match origin {
        Origin::Dir(dir) => {
            let t = Instant::now();
            let (mut report, _) = check_dir(config, state, dir, dir, &Scope::default(), live)?;
            if let Some(live) = live {
                argo = argo_events(&history, live, &mut report)?;
            }
            (report, None, None, None, Some(millis(t)))
        }
        Origin::Git { spec, subdir, .. } => {
            let t = Instant::now();
            let repo = GitRepo::mirror(spec, &state.mirror(&spec.url))?;
            let (head, fetch_error) = match repo.fetch() {
                Ok(head) => (head, None),
                Err(e) => {
                    tracing::warn!(error = %e, "fetch failed; scanning the last fetched commit");
                    (repo.head()?, Some(std::sync::Arc::new(e)))
                }
            };
            let fetch_ms = Some(millis(t));
            let t = Instant::now();
            let co = checkout(&repo, &head, subdir)?;
            let (mut report, _) = check_dir(
                config,
                state,
                &co.root,
                co.snapshot.path(),
                &Scope::default(),
                live,
            )?;
            report.commit = Some(head.id.clone());
            if let Some(live) = live {
                argo = argo_events(&history, live, &mut report)?;
            }
            (report, Some(head), fetch_error, fetch_ms, Some(millis(t)))
        }
    };
    let mut events = argo;
    if let Some(e) = &fetch_error {
        events.push(crate::history::Event {
            time: started_at,
            kind: EventKind::FetchFailed,
            service: None,
            env: None,
            message: e.to_string(),
            data: serde_json::Value::Null,
        });
    }
    let (run, confirmed) = history.record_or_confirm(&RunRecord {
        kind: RunKind::Scan,
        started_at,
        time: started_at,
        commit: commit.as_ref().map(commit_ref),
        durations: Durations {
            total_ms: millis(t0),
            fetch_ms,
            render_ms: None,
            check_ms,
        },
        fetch_error: fetch_error.as_ref().map(|e| e.to_string()),
        errors: report.errors.clone(),
        findings: report.findings.clone(),
        metrics: report.metrics.clone(),
        events,
        views: report.views.clone(),
    })?;
    let open = history.open_findings(None)?;
    let after: BTreeSet<&String> = open.iter().map(|l| &l.finding.fingerprint).collect();
    // Scans run for months: entries of overlays no scan renders any more go after a while.
    match crate::render::prune(&state.render_cache(), config.state.render_cache_ttl()) {
        Ok(p) if p.files > 0 => {
            tracing::info!(
                files = p.files,
                bytes = p.bytes,
                "unused render cache entries removed"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not prune the render cache"),
    }
    Ok(ScanOutcome {
        opened: after.iter().filter(|f| !before.contains(**f)).count(),
        resolved: before.iter().filter(|f| !after.contains(f)).count(),
        report,
        commit,
        fetch_error,
        run,
        confirmed,
        open,
    })
}

/// One commit checked by a backfill worker, waiting to be recorded in order.
struct Checked {
    report: Report,
    misses: u64,
    requests: u64,
    millis: u64,
}

/// Backfill options.
#[derive(Debug, Clone, Default)]
pub struct BackfillOptions {
    /// Only commits at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only the newest N commits.
    pub max_commits: Option<usize>,
}

/// What a backfill did.
#[derive(Debug, Clone, Default)]
pub struct BackfillOutcome {
    /// Commits walked.
    pub commits: usize,
    /// Commits recorded now.
    pub recorded: usize,
    /// Commits already in history (skipped: backfill is idempotent).
    pub skipped: usize,
    /// Overlays rendered (cache misses).
    pub renders: u64,
    /// What rendering every overlay at every recorded commit would have taken.
    pub naive_renders: u64,
    /// Why fetching failed, when it did (the last fetched history was walked).
    pub fetch_error: Option<std::sync::Arc<SourceError>>,
}

impl BackfillOutcome {
    /// Incomplete when fetching failed (the history walked may be stale), else ok.
    pub fn status(&self) -> Status {
        if self.fetch_error.is_some() {
            Status::Incomplete
        } else {
            Status::Ok
        }
    }
}

/// `backfill`: walks first-parent history oldest first and records each commit not yet in history, with the
/// commit's own time. Only overlays whose input files changed are rendered (the render cache is keyed by
/// the digest of every file an overlay reads). `progress` is called after each commit.
pub fn backfill(
    config: &Config,
    state: &State,
    origin: &Origin,
    options: &BackfillOptions,
    progress: &dyn Fn(usize, usize, &CommitInfo),
) -> Result<BackfillOutcome, PipelineError> {
    let Origin::Git { spec, subdir, .. } = origin else {
        let path = origin.working_tree().unwrap_or_default();
        return Err(PipelineError::NotGit {
            path,
            what: "backfill",
        });
    };
    let _lock = state.lock_job("backfill", config.state.lock_timeout())?;
    let mut history = History::open(&state.history())?;
    let repo = GitRepo::mirror(spec, &state.mirror(&spec.url))?;
    let mut outcome = BackfillOutcome::default();
    let head = match repo.fetch() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "fetch failed; backfilling the last fetched history");
            outcome.fetch_error = Some(std::sync::Arc::new(e));
            repo.head()?
        }
    };
    let commits = repo.first_parent_history(&head.id, options.since, options.max_commits)?;
    outcome.commits = commits.len();
    drop(repo);
    let mut todo: Vec<&CommitInfo> = Vec::new();
    for commit in &commits {
        if history.has_commit(&commit.id)? {
            outcome.skipped += 1;
        } else {
            todo.push(commit);
        }
    }
    progress(
        outcome.skipped,
        commits.len(),
        commits.last().unwrap_or(&head),
    );

    // Commits are checked by a few workers at once (each with its own snapshot and kustomize), because most
    // commits miss the render cache for one or two overlays only: one commit alone keeps one core busy.
    // Workers never render the same overlay twice (the cache waits for a render in flight). The runs are
    // recorded in commit order, oldest first, by this thread.
    //
    // The workers are one long-lived loop per thread of a rayon pool of their own (`spawn_broadcast`), not
    // par_iter items or spawned tasks: a worker holding an in-flight claim waits inside rayon for its
    // kustomize runs (run on this pool's threads too), and a waiting rayon thread runs whatever task it can
    // steal. If that could be another commit, blocked on the claim held lower on the same stack, it would
    // never return. Broadcast jobs cannot be stolen, and kustomize runs take no locks. A pool of their own
    // also leaves the global pool free for a scan's renders, which the workers may be waiting for.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(todo.len())
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("envparity-backfill-{i}"))
        .build()
        .map_err(|source| PipelineError::Workers { source })?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mirror = state.mirror(&spec.url);
    let cache = state.render_cache();
    let seal = state.seal()?;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Checked, PipelineError>)>();
    let mut failure: Option<PipelineError> = None;
    // In place: this thread records while the pool's threads check.
    pool.in_place_scope(|scope| {
        {
            let (todo, next, stop, mirror, cache, seal) =
                (&todo, &next, &stop, &mirror, &cache, &seal);
            let tx = tx.clone();
            scope.spawn_broadcast(move |_, _| {
                let tx = tx.clone();
                let setup = (|| -> Result<_, PipelineError> {
                    let repo = GitRepo::mirror(spec, mirror)?;
                    let snapshot = Snapshot::new()?;
                    let max = config.limits.max_file_bytes();
                    let kustomize = Kustomize::detect(snapshot.path())?.with_max_file_bytes(max);
                    let renderer = CachedRenderer::new(
                        kustomize,
                        cache.clone(),
                        seal.clone(),
                        snapshot.path().to_path_buf(),
                    )
                    .with_max_file_bytes(max);
                    Ok((repo, snapshot, renderer))
                })();
                let (repo, mut snapshot, renderer) = match setup {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = tx.send((usize::MAX, Err(e)));
                        return;
                    }
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(commit) = todo.get(j) else {
                        break;
                    };
                    let t = Instant::now();
                    let checked = snapshot
                        .checkout(&repo, &commit.id)
                        .map_err(PipelineError::from)
                        .map(|()| {
                            let root = snapshot.path().join(subdir);
                            let mut report = check_tree(
                                config,
                                &root,
                                &Scope::default(),
                                &renderer,
                                today(),
                                None,
                            );
                            report.commit = Some(commit.id.clone());
                            let stats = renderer.stats();
                            Checked {
                                report,
                                misses: stats.misses as u64,
                                requests: (stats.hits + stats.misses) as u64,
                                millis: millis(t),
                            }
                        });
                    if tx.send((j, checked)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Checked> = BTreeMap::new();
        let mut recorded = 0usize;
        for (j, checked) in rx {
            let checked = match checked {
                Ok(c) => c,
                Err(e) => {
                    failure.get_or_insert(e);
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
            };
            if failure.is_some() {
                continue;
            }
            pending.insert(j, checked);
            while let Some(c) = pending.remove(&recorded) {
                let commit = todo[recorded];
                let run = RunRecord {
                    kind: RunKind::Backfill,
                    started_at: Utc::now(),
                    time: commit.time,
                    commit: Some(commit_ref(commit)),
                    durations: Durations {
                        total_ms: c.millis,
                        fetch_ms: None,
                        render_ms: None,
                        check_ms: Some(c.millis),
                    },
                    fetch_error: None,
                    errors: c.report.errors,
                    findings: c.report.findings,
                    metrics: c.report.metrics,
                    events: Vec::new(),
                    views: c.report.views,
                };
                if let Err(e) = history.record(&run) {
                    failure.get_or_insert(e.into());
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                outcome.renders += c.misses;
                outcome.naive_renders += c.requests;
                outcome.recorded += 1;
                recorded += 1;
                progress(outcome.skipped + recorded, commits.len(), commit);
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(outcome)
}

/// Argo CD's view of each environment as history events: every sync and self-heal of the Applications that
/// deploy the repo's overlays (each recorded once, however many scans see it), and each change of an
/// Application's sync status or health. Applications that cannot be read are errors of their environment.
fn argo_events(
    history: &History,
    live: &Live<'_>,
    report: &mut Report,
) -> Result<Vec<crate::history::Event>, PipelineError> {
    use crate::live::argo;
    // Overlay directory (repo-relative) → (service, env), as the check's discovery placed them.
    let overlays = report.overlays.clone();
    let mut out = Vec::new();
    for env in report.envs.clone() {
        if !live.source.covers(&env) {
            continue;
        }
        let apps = match argo::applications(live.source, &env, None) {
            Ok(Some(apps)) => apps,
            Ok(None) => continue,
            Err(e) => {
                report.errors.push(crate::finding::CheckError {
                    service: None,
                    env: Some(env.clone()),
                    kind: e.kind(),
                    message: format!("Argo CD Applications: {e}"),
                });
                continue;
            }
        };
        for app in apps {
            let Some(path) = app.path.as_deref() else {
                continue;
            };
            let path = path.trim_start_matches("./").trim_end_matches('/');
            let Some((_, service, overlay_env)) = overlays.iter().find(|(dir, _, e)| {
                *e == env && (path == dir || path.ends_with(&format!("/{dir}")))
            }) else {
                continue;
            };
            for op in &app.syncs {
                let Some(time) = op.finished_at.or(op.started_at) else {
                    continue;
                };
                let kind = match op.trigger {
                    argo::SyncTrigger::SelfHeal => EventKind::ArgoSelfHeal,
                    _ => EventKind::ArgoSync,
                };
                out.push(crate::history::Event {
                    time,
                    kind,
                    service: Some(service.clone()),
                    env: Some(overlay_env.clone()),
                    message: format!(
                        "{}: {} sync of {} {}",
                        app.name,
                        op.trigger.as_str(),
                        op.revision
                            .as_deref()
                            .map(crate::source::short)
                            .unwrap_or("?"),
                        op.phase
                    ),
                    data: serde_json::json!({"application": app.name, "revision": op.revision,
                        "initiated_by": op.initiated_by, "message": op.message}),
                });
            }
            let status = format!(
                "{} / {}",
                app.sync_status.as_deref().unwrap_or("Unknown"),
                app.health.as_deref().unwrap_or("Unknown")
            );
            out.push(crate::history::Event {
                time: Utc::now(),
                kind: EventKind::ArgoStatus,
                service: Some(service.clone()),
                env: Some(overlay_env.clone()),
                message: format!("{}: {status}", app.name),
                data: serde_json::json!({"application": app.name, "sync": app.sync_status,
                    "health": app.health, "message": app.health_message}),
            });
        }
    }
    // Each sync once; a status only when it changed.
    let since = out.iter().map(|e| e.time).min().unwrap_or_else(Utc::now);
    let seen = history.events(since - chrono::Duration::seconds(1), None)?;
    let mut last_status: BTreeMap<(Option<String>, Option<String>), String> = BTreeMap::new();
    for r in history.events(DateTime::UNIX_EPOCH, Some(EventKind::ArgoStatus))? {
        last_status.insert(
            (r.event.service.clone(), r.event.env.clone()),
            r.event.message.clone(),
        );
    }
    out.retain(|e| {
        if e.kind == EventKind::ArgoStatus {
            last_status.get(&(e.service.clone(), e.env.clone())) != Some(&e.message)
        } else {
            !seen.iter().any(|r| {
                r.event.kind == e.kind
                    && r.event.time == e.time
                    && r.event.service == e.service
                    && r.event.env == e.env
            })
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_lock_is_exclusive_per_job_and_waits_up_to_its_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State {
            dir: dir.path().join("state"),
        };
        let held = state
            .lock_job("digest", Duration::ZERO)
            .expect("first lock");
        assert_eq!(held.path(), state.locks().join("digest.lock"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(state.locks())
                .expect("locks dir")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // Another job's lock is another file.
        let _scan = state.lock_job("scan", Duration::ZERO).expect("scan lock");
        // The same job waits, then names the job, the lock and its holder.
        let started = Instant::now();
        let Err(e) = state.lock_job("digest", Duration::from_millis(300)) else {
            panic!("the digest lock is held");
        };
        assert!(started.elapsed() >= Duration::from_millis(300));
        let PipelineError::JobBusy { job, pid, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(*job, "digest");
        assert_eq!(
            pid.as_deref(),
            Some(std::process::id().to_string().as_str())
        );
        assert!(e.to_string().contains("locks/digest.lock"), "{e}");
        // Released: free again.
        drop(held);
        state
            .lock_job("digest", Duration::ZERO)
            .expect("free again");
    }
}
