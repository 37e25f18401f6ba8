//! `envparity daemon`: the scan → report → digest jobs on the schedules of `[daemon]`
//! (tokio-cron-scheduler), a single-instance lock on the state directory, graceful shutdown, and the
//! optional `/healthz` + `/metrics` listener.
//!
//! No business logic lives here: each job ([`jobs`]) calls [`crate::pipeline`], [`crate::report`] or
//! [`crate::notify`] in a blocking thread. Each tick is planned on wall-clock time in the configured zone
//! ([`schedule`]) and handed to the scheduler as a one-shot job. A job still running when its next tick
//! fires is skipped; every run is recorded in the history (`job_runs`); a failed or panicking job is
//! logged, recorded, backed off ([`backoff`]) and retried, and the daemon goes on. At start-up a job
//! whose last tick passed while the daemon was down runs once.

pub mod backoff;
pub mod http;
pub mod jobs;
pub mod schedule;
pub mod status;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, LogFormat};
use crate::history::{History, JobOutcome, JobRun};
use crate::pipeline::{Origin, State};
use backoff::Backoff;
use jobs::{Done, Failure, Job};
use schedule::Schedule;
use status::Status;

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
    /// The HTTP listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `daemon.listen`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },

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
    // Created owner-only, like the history inside it.
    crate::input::create_private_dir(state_dir).map_err(err)?;
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
    // The scheduler logs every job it creates at info: one line per tick.
    let default = if verbose == 0 {
        "info,tokio_cron_scheduler=warn"
    } else {
        "debug,tokio_cron_scheduler=info"
    };
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
    /// Health and metrics.
    pub status: Arc<Status>,
}

impl Daemon {
    /// A daemon over `config`; its status starts now (the scheduler sets the last successful scan from the history).
    pub fn new(config: Config, state: State, origin: Origin, live_dir: Option<PathBuf>) -> Daemon {
        let max_age = chrono::Duration::minutes(
            i64::try_from(config.daemon.max_scan_age_minutes).unwrap_or(i64::MAX / 60_000),
        );
        Daemon {
            status: Arc::new(Status::new(Utc::now(), max_age)),
            config,
            state,
            origin,
            live_dir,
        }
    }

    /// The jobs and their schedules (the report has none when it follows every scan).
    fn schedules(&self) -> Result<Vec<(Job, Schedule)>, String> {
        let d = &self.config.daemon;
        let tz = d.tz(&self.config.digest);
        let mut out = vec![(Job::Scan, Schedule::new(&d.scan, tz)?)];
        if !d.report_after_scan() {
            out.push((Job::Report, Schedule::new(&d.report, tz)?));
        }
        out.push((
            Job::Digest,
            Schedule::new(d.digest_schedule(&self.config.digest), tz)?,
        ));
        Ok(out)
    }

    /// The backoff of `job`: the digest's from `[digest]`, the others' from `[daemon]`.
    fn backoff(&self, job: Job) -> Backoff {
        match job {
            Job::Digest => Backoff::from_seconds(
                self.config.digest.retry_minutes.saturating_mul(60),
                self.config.digest.max_retry_minutes.saturating_mul(60),
            ),
            Job::Scan | Job::Report => Backoff::from_seconds(
                self.config.daemon.backoff_seconds,
                self.config.daemon.max_backoff_seconds,
            ),
        }
    }

    /// Runs `job` now (blocking) and records the run in the history and the metrics. A panic inside the
    /// job is caught and recorded as such.
    pub fn execute(&self, job: Job) -> Result<Done, Failure> {
        let started_at = Utc::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_job(job)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                Err(Failure {
                    what: "panic",
                    message,
                    run: None,
                })
            });
        let (outcome, failure, error, run) = match &result {
            Ok(done) => (JobOutcome::Ok, None, None, done.run),
            Err(f) if f.what == "panic" => (
                JobOutcome::Panicked,
                Some(f.what),
                Some(f.message.clone()),
                None,
            ),
            Err(f) => (
                JobOutcome::Failed,
                Some(f.what),
                Some(f.message.clone()),
                f.run,
            ),
        };
        self.status.job_ended(job.name(), outcome.as_str(), failure);
        let record = JobRun {
            job: job.name().into(),
            started_at,
            finished_at: Utc::now(),
            outcome,
            failure: failure.map(String::from),
            error,
            run,
        };
        if let Err(e) =
            History::open(&self.state.history()).and_then(|mut h| h.record_job_run(&record))
        {
            tracing::error!(job = job.name(), error = %e, "could not record the job run in the history");
        }
        match &result {
            Ok(_) => tracing::debug!(job = job.name(), "job done"),
            Err(f) => {
                tracing::error!(job = job.name(), failed = f.what, error = %f.message, "job failed")
            }
        }
        result
    }

    /// `--once`: each job once, in order (the report after a scan when it follows scans). Returns whether
    /// all succeeded.
    pub fn run_once(&self) -> bool {
        let mut ok = true;
        for job in [Job::Scan, Job::Report, Job::Digest] {
            ok &= self.execute(job).is_ok();
        }
        ok
    }
}

/// One job's state between ticks.
#[derive(Debug)]
struct Slot {
    job: Job,
    schedule: Schedule,
    running: AtomicBool,
    /// Ticks before this are skipped (backoff after failures); with the streak length.
    backoff: Mutex<(u32, Option<DateTime<Utc>>)>,
}

/// The schedules at work.
#[derive(Debug)]
struct Runner {
    daemon: Daemon,
    slots: Vec<Slot>,
    /// Jobs to run once at start-up: their last tick passed while the daemon was down.
    missed: Vec<Job>,
    stopping: AtomicBool,
}

impl Runner {
    /// The schedules, with what the history says at start-up (read in one go): each job's failure
    /// streak (a restarted daemon keeps backing off), the jobs whose last tick passed after their last
    /// recorded run (missed while the daemon was down, or never run), and the last successful scan.
    fn new(daemon: Daemon, now: DateTime<Utc>) -> Result<Runner, DaemonError> {
        let schedules = daemon.schedules().map_err(DaemonError::Scheduler)?;
        let history = History::open(&daemon.state.history()).ok();
        if let Some(last) = history
            .as_ref()
            .and_then(|h| h.last_ok_job_run(Job::Scan.name()).ok().flatten())
        {
            daemon.status.set_last_scan(last.finished_at);
        }
        let mut missed = Vec::new();
        let mut slots = Vec::new();
        for (job, schedule) in schedules {
            let last_run = history.as_ref().map(|h| {
                h.job_runs(Some(job.name()), 1)
                    .map(|r| r.into_iter().next())
            });
            let was_missed = match (schedule.last_at_or_before(now), last_run) {
                (None, _) => false,
                (Some(tick), Some(Ok(last))) => last.is_none_or(|r| r.started_at < tick),
                (Some(_), _) => true,
            };
            if was_missed {
                missed.push(job);
            }
            let streak = history
                .as_ref()
                .and_then(|h| h.job_failure_streak(job.name()).ok())
                .unwrap_or((0, None));
            let until = streak
                .1
                .map(|last| daemon.backoff(job).until(streak.0, last, fastrand::f64()));
            slots.push(Slot {
                job,
                schedule,
                running: AtomicBool::new(false),
                backoff: Mutex::new((streak.0, until)),
            });
        }
        Ok(Runner {
            daemon,
            slots,
            missed,
            stopping: AtomicBool::new(false),
        })
    }

    fn slot(&self, job: Job) -> Option<&Slot> {
        self.slots.iter().find(|s| s.job == job)
    }

    /// One tick of `job`: skipped while it still runs, while stopping, or while backing off; otherwise run
    /// in a blocking thread, recorded, and the backoff updated. Returns when the job should be retried
    /// (after a failure), if ever.
    async fn tick(self: Arc<Self>, job: Job) -> Option<DateTime<Utc>> {
        let slot = self.slot(job)?;
        // Taken before reading `stopping`: a shutdown that finds no job running can exit, because any
        // tick after that sees `stopping` and lets go.
        if slot.running.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                job = job.name(),
                "previous run still in progress; this tick is skipped"
            );
            return None;
        }
        if self.stopping.load(Ordering::SeqCst) {
            slot.running.store(false, Ordering::SeqCst);
            return None;
        }
        if let Some(until) = slot.backoff.lock().ok().and_then(|b| b.1)
            && Utc::now() < until
        {
            tracing::info!(job = job.name(), until = %until, "backing off after failures; tick skipped");
            slot.running.store(false, Ordering::SeqCst);
            return None;
        }
        let runner = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let daemon = &runner.daemon;
            let result = daemon.execute(job);
            let scanned = match &result {
                Ok(done) => done.run.is_some(),
                Err(f) => f.run.is_some(),
            };
            if job == Job::Scan && scanned && daemon.config.daemon.report_after_scan() {
                // The report follows the scan, even one whose fetch failed: the site shows the failure.
                let _ = daemon.execute(Job::Report);
            }
            result.map(|_| ()).map_err(|_| ())
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(job = job.name(), error = %e, "job thread ended abnormally");
            Err(())
        });
        let retry = match slot.backoff.lock() {
            Ok(mut backoff) => {
                match result {
                    Ok(()) => *backoff = (0, None),
                    Err(()) => {
                        let streak = backoff.0.saturating_add(1);
                        let until =
                            self.daemon
                                .backoff(job)
                                .until(streak, Utc::now(), fastrand::f64());
                        tracing::warn!(job = job.name(), failures = streak, retry_at = %until, "job backs off");
                        *backoff = (streak, Some(until));
                    }
                }
                backoff.1
            }
            Err(_) => None,
        };
        slot.running.store(false, Ordering::SeqCst);
        retry
    }

    fn any_running(&self) -> bool {
        self.slots.iter().any(|s| s.running.load(Ordering::SeqCst))
    }
}

type Scheduler = tokio_cron_scheduler::JobScheduler;

fn sched_err(e: tokio_cron_scheduler::JobSchedulerError) -> DaemonError {
    DaemonError::Scheduler(e.to_string())
}

/// The longest single timer: ticks further away are approached in steps (see [`plan`]).
const MAX_WAIT: Duration = Duration::from_secs(600);

/// A tick of the job's schedule, or a retry after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    Scheduled,
    Retry,
}

/// Hands the scheduler a one-shot job for `job` at `at`. When a scheduled tick fires it plans the
/// following one first, then runs; a retry only runs. After a failure, a retry is planned when it comes
/// before the next scheduled tick.
fn plan(
    runner: Arc<Runner>,
    sched: Scheduler,
    job: Job,
    at: DateTime<Utc>,
    tick: Tick,
) -> futures::future::BoxFuture<'static, Result<(), DaemonError>> {
    Box::pin(async move {
        use tokio_cron_scheduler::Job as OneShot;
        if runner.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The timer runs on the monotonic clock; a far tick is approached in steps of at most
        // `MAX_WAIT`, re-reading the wall clock each time, so a suspended VM or a stepped clock does not
        // fire it early or late.
        let delay = (at - Utc::now()).to_std().unwrap_or_default().min(MAX_WAIT);
        let instant = std::time::Instant::now() + delay;
        let r = runner.clone();
        let shot = OneShot::new_one_shot_at_instant_async(instant, move |_id, sched| {
            let runner = r.clone();
            Box::pin(async move {
                let Some(slot) = runner.slot(job) else {
                    return;
                };
                if at - Utc::now() > chrono::Duration::seconds(1) {
                    if let Err(e) = plan(runner.clone(), sched, job, at, tick).await {
                        tracing::error!(job = job.name(), error = %e, "could not plan the tick");
                    }
                    return;
                }
                let next = match tick {
                    Tick::Scheduled => slot.schedule.next_after(Utc::now().max(at)),
                    Tick::Retry => None,
                };
                if let Some(next) = next {
                    runner.daemon.status.set_next_run(job.name(), next);
                    let planned = plan(runner.clone(), sched.clone(), job, next, Tick::Scheduled);
                    if let Err(e) = planned.await {
                        tracing::error!(job = job.name(), error = %e, "could not plan the next tick");
                    }
                }
                let next = next.or_else(|| slot.schedule.next_after(Utc::now()));
                if let Some(retry) = runner.clone().tick(job).await
                    && next.is_none_or(|n| retry < n)
                    && let Err(e) = plan(runner.clone(), sched, job, retry, Tick::Retry).await
                {
                    tracing::error!(job = job.name(), error = %e, "could not plan the retry");
                }
            })
        })
        .map_err(sched_err)?;
        sched.add(shot).await.map_err(sched_err)?;
        Ok(())
    })
}

/// Runs the schedules until SIGTERM or SIGINT, then stops the scheduler and waits (up to
/// `daemon.shutdown_timeout_seconds`) for running jobs. The caller holds the [`Lock`].
pub fn run(daemon: Daemon) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(schedule(Arc::new(Runner::new(daemon, Utc::now())?)));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn schedule(runner: Arc<Runner>) -> Result<(), DaemonError> {
    let config = &runner.daemon.config.daemon;
    let listener = match &config.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Listen {
                    addr: addr.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let sched = Scheduler::new().await.map_err(sched_err)?;
    let now = Utc::now();
    for slot in &runner.slots {
        let Some(next) = slot.schedule.next_after(now) else {
            tracing::warn!(
                job = slot.job.name(),
                schedule = slot.schedule.expr(),
                "the schedule never fires"
            );
            continue;
        };
        runner.daemon.status.set_next_run(slot.job.name(), next);
        plan(
            runner.clone(),
            sched.clone(),
            slot.job,
            next,
            Tick::Scheduled,
        )
        .await?;
        tracing::info!(job = slot.job.name(), schedule = slot.schedule.expr(), timezone = %slot.schedule.tz(), next = %next, "scheduled");
    }
    for &job in &runner.missed {
        tracing::info!(
            job = job.name(),
            "its last tick passed while the daemon was down: running it now"
        );
        let runner = runner.clone();
        let sched = sched.clone();
        tokio::spawn(async move {
            if let Some(retry) = runner.clone().tick(job).await
                && let Err(e) = plan(runner, sched, job, retry, Tick::Retry).await
            {
                tracing::error!(job = job.name(), error = %e, "could not plan the retry");
            }
        });
    }
    let mut sched_handle = sched.clone();
    sched_handle.start().await.map_err(sched_err)?;
    runner.daemon.status.set_scheduler_running(true);
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = listener.map(|listener| {
        let site = config.serve_site.then(|| runner.daemon.config.report_dir());
        let app = http::router(runner.daemon.status.clone(), site);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "listening for /healthz and /metrics");
        }
        tokio::spawn(async move {
            let shutdown = async {
                let _ = http_stopped.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "the HTTP listener failed");
            }
        })
    });
    tracing::info!(state = %runner.daemon.state.dir.display(), "daemon started");

    let signal = wait_for_signal().await?;
    tracing::info!(signal, "stopping: no new jobs start");
    runner.stopping.store(true, Ordering::SeqCst);
    runner.daemon.status.set_scheduler_running(false);
    sched_handle.shutdown().await.map_err(sched_err)?;
    let timeout = Duration::from_secs(config.shutdown_timeout_seconds);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut finished = true;
    while runner.any_running() {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                timeout_seconds = timeout.as_secs(),
                "a job is still running after the shutdown timeout; exiting anyway"
            );
            finished = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_http.send(());
    if let Some(server) = server {
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    }
    if finished {
        tracing::info!("stopped");
    }
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

    #[cfg(unix)]
    #[test]
    fn the_lock_creates_the_state_directory_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let state = dir.path().join("state");
        let _lock = lock(&state).expect("lock");
        let mode = std::fs::metadata(&state)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    }

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

    fn runner(dir: &Path) -> Arc<Runner> {
        let daemon = Daemon::new(
            Config::default(),
            State {
                dir: dir.to_path_buf(),
            },
            Origin::Dir(dir.join("no-such-repo")),
            None,
        );
        Arc::new(Runner::new(daemon, Utc::now()).expect("default schedules are valid"))
    }

    #[tokio::test]
    async fn a_tick_is_skipped_while_the_job_runs_while_stopping_and_while_backing_off() {
        let dir = tempfile::tempdir().expect("dir");
        let runner = runner(dir.path());
        let slot = runner.slot(Job::Scan).expect("scan slot");
        let job_runs = || {
            History::open(&dir.path().join("history.sqlite"))
                .and_then(|h| h.job_runs(None, 10))
                .map(|r| r.len())
                .unwrap_or(0)
        };

        slot.running.store(true, Ordering::SeqCst);
        assert_eq!(runner.clone().tick(Job::Scan).await, None);
        assert!(
            slot.running.load(Ordering::SeqCst),
            "the running job keeps its guard"
        );
        slot.running.store(false, Ordering::SeqCst);

        // The repo does not exist: the scan fails, is recorded, and backs off 48-60 s.
        let before = Utc::now();
        let retry = runner.clone().tick(Job::Scan).await.expect("a retry time");
        assert!(retry >= before + chrono::Duration::seconds(48), "{retry}");
        assert!(
            retry <= Utc::now() + chrono::Duration::seconds(60),
            "{retry}"
        );
        assert!(
            !slot.running.load(Ordering::SeqCst),
            "released after the run"
        );
        assert_eq!(job_runs(), 1);
        assert_eq!(runner.clone().tick(Job::Scan).await, None, "backing off");
        assert_eq!(job_runs(), 1, "a skipped tick runs nothing");

        // After a restart the streak and its backoff come back from the history.
        drop(runner);
        let again = self::runner(dir.path());
        let backoff = again
            .slot(Job::Scan)
            .expect("slot")
            .backoff
            .lock()
            .map(|b| *b);
        assert!(matches!(backoff, Ok((1, Some(_)))), "{backoff:?}");

        again.stopping.store(true, Ordering::SeqCst);
        again
            .slot(Job::Scan)
            .expect("slot")
            .backoff
            .lock()
            .map(|mut b| *b = (0, None))
            .ok();
        assert_eq!(again.clone().tick(Job::Scan).await, None, "stopping");
        assert_eq!(job_runs(), 1);
        assert!(!again.any_running());
    }
}
