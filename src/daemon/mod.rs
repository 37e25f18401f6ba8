//! `envparity daemon`: the scan → report → digest jobs on the schedules of `[daemon]`
//! (tokio-cron-scheduler), a single-instance lock on the state directory, and graceful shutdown.
//!
//! No business logic lives here: each job calls [`crate::pipeline`], [`crate::report`] or
//! [`crate::notify`] in a blocking thread. A job still running when its next tick fires is skipped (one
//! guard per job), a failed or panicking job is logged and the daemon goes on.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::{Config, LogFormat, scheduler_cron};
use crate::pipeline::{self, Origin, State};

/// How long a shutdown waits for running jobs to finish their write.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the daemon cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the state directory.
    #[error("another envparity daemon{} is already running on state directory {} (lock {} is held)", pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default(), dir.display(), dir.join("daemon.lock").display())]
    Locked {
        /// The state directory.
        dir: PathBuf,
        /// The pid the holder wrote into the lock file, when readable.
        pid: Option<String>,
    },
    /// The lock file could not be created.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scheduler failed.
    #[error("scheduler: {0}")]
    Scheduler(String),
    /// The runtime or the signal handlers could not be set up.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The single-instance lock: held for as long as this value lives (the OS releases it when the process
/// ends, even on a crash).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the exclusive advisory lock `<state>/daemon.lock` (creating the state directory), or says who
/// holds it.
pub fn lock(state_dir: &Path) -> Result<Lock, DaemonError> {
    let path = state_dir.join("daemon.lock");
    let err = |source| DaemonError::Lock {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = Some(pid.trim().to_string()).filter(|p| !p.is_empty());
            return Err(DaemonError::Locked {
                dir: state_dir.to_path_buf(),
                pid,
            });
        }
        Err(TryLockError::Error(e)) => return Err(err(e)),
    }
    file.set_len(0).map_err(err)?;
    file.rewind().map_err(err)?;
    write!(file, "{}", std::process::id()).map_err(err)?;
    file.flush().map_err(err)?;
    Ok(Lock { _file: file })
}

/// Sets up `tracing` for the daemon: info by default (debug with `-v`), `RUST_LOG` overrides; text or JSON.
pub fn init_logging(verbose: u8, format: LogFormat) {
    use std::io::IsTerminal as _;
    let default = if verbose == 0 { "info" } else { "debug" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// What the jobs work on.
#[derive(Debug)]
pub struct Daemon {
    /// The configuration.
    pub config: Config,
    /// The state directory.
    pub state: State,
    /// Where the repo comes from.
    pub origin: Origin,
    /// `--live-dir`: live objects from dumps instead of clusters.
    pub live_dir: Option<PathBuf>,
}

impl Daemon {
    /// Fetch, check and record (the scan records its own failures); then the report when it follows scans.
    pub fn scan_job(&self) -> Result<(), String> {
        let source = pipeline::live_source(&self.config, self.live_dir.as_deref())
            .map_err(|e| format!("live source: {e}"))?;
        let live = source.as_deref().map(|source| crate::engine::Live {
            source,
            options: crate::live::LiveOptions::from_config(&self.config),
        });
        let outcome = pipeline::scan(&self.config, &self.state, &self.origin, live.as_ref())
            .map_err(|e| format!("scan: {e}"))?;
        tracing::info!(
            run = outcome.run,
            commit = outcome.commit.as_ref().map(|c| c.id.as_str()),
            findings = outcome.report.findings.len(),
            errors = outcome.report.errors.len(),
            opened = outcome.opened,
            resolved = outcome.resolved,
            "scan recorded"
        );
        if let Some(e) = &outcome.fetch_error {
            tracing::warn!(error = %e, "fetch failed; the last fetched commit was scanned (recorded)");
        }
        if self.config.daemon.report_after_scan() {
            self.report_job()?;
        }
        Ok(())
    }

    /// Renders the site from the history and publishes it atomically.
    pub fn report_job(&self) -> Result<(), String> {
        let out = self.config.report_dir();
        let history = crate::history::History::open(&self.state.history())
            .map_err(|e| format!("report: {e}"))?;
        let options = crate::report::Options {
            prices: self.config.report.prices.clone(),
        };
        let files =
            crate::report::build(&history, &options, &out).map_err(|e| format!("report: {e}"))?;
        tracing::info!(files, out = %out.display(), "report published");
        Ok(())
    }

    /// Sends the last complete period's digest when it is due (not sent yet, no backoff pending); skipped
    /// without `[smtp]`. Every attempt is recorded by [`crate::notify::run`].
    pub fn digest_job(&self) -> Result<(), String> {
        use crate::notify::{self, Due, Period, Request, Retry, RunOutcome};
        if self.config.smtp.is_none() {
            tracing::info!("digest skipped: no [smtp] in config");
            return Ok(());
        }
        let now = chrono::Utc::now();
        let period = Period::last_complete(now, self.config.digest.tz());
        let mut history = crate::history::History::open(&self.state.history())
            .map_err(|e| format!("digest: {e}"))?;
        let status = notify::status(&history, &period).map_err(|e| format!("digest: {e}"))?;
        match notify::next_attempt(&status, &Retry::from_config(&self.config.digest), now) {
            Due::Sent(_) => {
                tracing::info!(period = %period.label(), "digest already sent");
                return Ok(());
            }
            Due::RetryAt(at) => {
                tracing::info!(period = %period.label(), retry_at = %at, "digest failed before; waiting to retry");
                return Ok(());
            }
            Due::Now => {}
        }
        let request = Request {
            period,
            force: false,
            dry_run: false,
            now,
        };
        match notify::run(&mut history, &self.config, &request)
            .map_err(|e| format!("digest: {e}"))?
        {
            RunOutcome::Sent { delivery, .. } => {
                tracing::info!(period = %period.label(), message_id = %delivery.message_id, "digest sent");
                Ok(())
            }
            RunOutcome::Failed { error } => Err(format!(
                "digest {} not sent (recorded; retried later): {error}",
                period.label()
            )),
            RunOutcome::Quiet => {
                tracing::info!(period = %period.label(), "digest: all quiet, nothing sent");
                Ok(())
            }
            RunOutcome::AlreadySent(_) | RunOutcome::DryRun { .. } => Ok(()),
        }
    }

    /// `--once`: each job once, in order; failures are logged, never fatal.
    pub fn run_once(&self) {
        log_result("scan", self.scan_job());
        if !self.config.daemon.report_after_scan() {
            log_result("report", self.report_job());
        }
        log_result("digest", self.digest_job());
    }
}

fn log_result(job: &str, result: Result<(), String>) {
    if let Err(e) = result {
        tracing::error!(job, error = %e, "job failed");
    }
}

/// Runs `work` in a blocking thread unless the same job is still running (then the tick is skipped);
/// failures and panics are logged.
async fn guarded(
    job: &'static str,
    guard: Arc<AtomicBool>,
    work: impl FnOnce() -> Result<(), String> + Send + 'static,
) {
    if guard.swap(true, Ordering::SeqCst) {
        tracing::warn!(job, "previous run still in progress; this tick is skipped");
        return;
    }
    tracing::debug!(job, "job started");
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => log_result(job, result),
        Err(e) if e.is_panic() => tracing::error!(job, "job panicked; the daemon goes on"),
        Err(e) => tracing::error!(job, error = %e, "job was cancelled"),
    }
    guard.store(false, Ordering::SeqCst);
}

type JobFn = fn(&Daemon) -> Result<(), String>;

/// Runs the schedules until SIGTERM or SIGINT, then stops the scheduler and waits (up to
/// [`SHUTDOWN_TIMEOUT`]) for running jobs. The caller holds the [`Lock`].
pub fn run(daemon: Daemon) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(schedule(Arc::new(daemon)));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn schedule(daemon: Arc<Daemon>) -> Result<(), DaemonError> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let sched_err =
        |e: tokio_cron_scheduler::JobSchedulerError| DaemonError::Scheduler(e.to_string());
    let d = &daemon.config.daemon;
    let tz = d.tz(&daemon.config.digest);
    let mut jobs: Vec<(&'static str, String, JobFn)> =
        vec![("scan", d.scan.clone(), Daemon::scan_job)];
    if !d.report_after_scan() {
        jobs.push(("report", d.report.clone(), Daemon::report_job));
    }
    jobs.push((
        "digest",
        d.digest_schedule(&daemon.config.digest).to_string(),
        Daemon::digest_job,
    ));
    let mut sched = JobScheduler::new().await.map_err(sched_err)?;
    let mut guards = Vec::new();
    for (name, expr, work) in jobs {
        let cron = scheduler_cron(&expr).map_err(DaemonError::Scheduler)?;
        let guard = Arc::new(AtomicBool::new(false));
        guards.push(guard.clone());
        let daemon = daemon.clone();
        let job = Job::new_async_tz(cron.as_str(), tz, move |_id, _sched| {
            let daemon = daemon.clone();
            let guard = guard.clone();
            Box::pin(guarded(name, guard, move || work(&daemon)))
        })
        .map_err(sched_err)?;
        sched.add(job).await.map_err(sched_err)?;
        tracing::info!(job = name, schedule = %expr, timezone = %tz, "scheduled");
    }
    // A digest missed while the daemon was down: `digest_job` sends it only when its period is not done.
    if let Some(guard) = guards.last().cloned() {
        let daemon = daemon.clone();
        tokio::spawn(guarded("digest", guard, move || daemon.digest_job()));
    }
    sched.start().await.map_err(sched_err)?;
    tracing::info!(state = %daemon.state.dir.display(), "daemon started");

    let signal = wait_for_signal().await?;
    tracing::info!(signal, "stopping: no new jobs start");
    sched.shutdown().await.map_err(sched_err)?;
    let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
    while guards.iter().any(|g| g.load(Ordering::SeqCst)) {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("a job is still running after the shutdown timeout; exiting anyway");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<&'static str, DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<&'static str, DaemonError> {
    tokio::signal::ctrl_c().await?;
    Ok("ctrl-c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_state_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let first = lock(dir.path()).expect("first");
        let Err(DaemonError::Locked { pid, .. }) = lock(dir.path()) else {
            panic!("second lock must fail");
        };
        assert_eq!(pid, Some(std::process::id().to_string()));
        drop(first);
        lock(dir.path()).expect("free again");
    }

    #[tokio::test]
    async fn an_overlapping_tick_is_skipped_and_a_panic_is_caught() {
        let guard = Arc::new(AtomicBool::new(true));
        guarded("scan", guard.clone(), || panic!("must not run")).await;
        assert!(
            guard.load(Ordering::SeqCst),
            "the running job keeps its guard"
        );
        let guard = Arc::new(AtomicBool::new(false));
        guarded("scan", guard.clone(), || panic!("boom")).await;
        assert!(!guard.load(Ordering::SeqCst), "released after a panic");
    }
}
