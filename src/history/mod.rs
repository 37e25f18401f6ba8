//! The history store: every run's findings, metrics and events in one SQLite file, and the lifecycle of
//! each finding (when it opened, with which commit, when it was last seen, when it was resolved).
//!
//! The schema, its outcome values and the migration rule are documented in [`schema`]. Writing a run is
//! one transaction ([`History::record`]): a crash leaves the previous complete run, never half of one.
//!
//! Opening never destroys anything: a file that is not SQLite, fails `PRAGMA quick_check`, belongs to
//! another program or comes from a newer envparity is refused with an error naming it and left as it was.
//!
//! Nothing here prints; readers return data for the report, digest and CLI to render.

mod digests;
mod jobs;
mod lifecycle;
mod queries;
mod record;
pub mod schema;

pub use digests::{CopyState, DigestCopy};
pub use jobs::{JobOutcome, JobRun};

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::codes::EventKind;
use crate::finding::CheckError;
use crate::finding::Finding;
use crate::metrics::{Metric, MetricKind};

/// Fail point (exists only in builds with the `failpoints` feature): configured to return
/// (`FAILPOINTS=history-abort-after-first-write=return`), [`History::record`] aborts the process right after
/// the first INSERT of a run, inside the open transaction (the crash test proves nothing half-written
/// survives).
pub const CRASH_AFTER_FIRST_WRITE: &str = "history-abort-after-first-write";

/// How long a write waits for another process holding the database (a scan while `report` reads).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem with the history database.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The directory that should hold the database could not be created.
    #[error("cannot create the directory {} for the history database: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database file could not be created (with owner-only permissions).
    #[error("cannot create the history database {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite could not open the file (permissions, a directory in the way…).
    #[error("cannot open the history database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file is not a SQLite database, or it fails `PRAGMA quick_check`.
    #[error(
        "the history database {} is corrupt ({reason}); it was left untouched: move it aside to start a \
         new history, or restore it from a backup",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        reason: String,
    },
    /// The database was written by a newer envparity.
    #[error(
        "the history database {} has schema version {found}, but this envparity knows versions up to \
         {supported}; upgrade envparity (the file was left untouched)",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file is a SQLite database of some other program.
    #[error(
        "{} is a SQLite database but not an envparity history: {reason}; it was left untouched, choose \
         another path",
        path.display()
    )]
    NotHistory {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// A statement failed.
    #[error("history database: {context}: {source}")]
    Sql {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        source: rusqlite::Error,
    },
    /// A value could not be turned into JSON or back.
    #[error("history database: {context}: {source}")]
    Json {
        /// What was being done.
        context: &'static str,
        /// Why it failed.
        source: serde_json::Error,
    },
    /// A stored code (an event kind, a rule id) that this build does not know: written by a newer envparity.
    #[error("history database: {context}: {source}")]
    Code {
        /// What was being done.
        context: &'static str,
        /// The unknown code.
        source: crate::codes::UnknownCode,
    },
    /// A stored value does not have the shape this build expects.
    #[error("history database: {column} holds `{value}`, which is not {expected}")]
    BadValue {
        /// The column read.
        column: &'static str,
        /// The value found.
        value: String,
        /// What it should have been.
        expected: &'static str,
    },
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// A scan of the fetched branch (scheduled or manual); on the timeline.
    Scan,
    /// An old commit rendered from git history; on the timeline at the commit's time.
    Backfill,
    /// A one-off `envparity check`; stored but not on the timeline (see [`schema`]).
    Check,
}

impl RunKind {
    /// The name stored in `runs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scan => "scan",
            RunKind::Backfill => "backfill",
            RunKind::Check => "check",
        }
    }

    /// Whether runs of this kind open and resolve findings and feed metric series.
    pub fn on_timeline(self) -> bool {
        matches!(self, RunKind::Scan | RunKind::Backfill)
    }

    fn parse(s: &str) -> Result<Self, HistoryError> {
        match s {
            "scan" => Ok(RunKind::Scan),
            "backfill" => Ok(RunKind::Backfill),
            "check" => Ok(RunKind::Check),
            _ => Err(bad("runs.kind", s, "a run kind")),
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended, as stored in `runs.outcome`; the first that applies wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Nothing at `warn` or above (`info` findings are data).
    Clean,
    /// At least one `warn` finding, no `block`.
    Findings,
    /// At least one `block` finding.
    Blocking,
    /// Something could not be rendered or checked.
    Errors,
    /// The repo could not be fetched; nothing was checked.
    FetchFailed,
}

impl Outcome {
    /// The outcome of a run.
    pub fn of(run: &RunRecord) -> Self {
        if run.fetch_error.is_some() {
            Outcome::FetchFailed
        } else if !run.errors.is_empty() {
            Outcome::Errors
        } else if run
            .findings
            .iter()
            .any(|f| f.severity == crate::finding::Severity::Block)
        {
            Outcome::Blocking
        } else if run
            .findings
            .iter()
            .any(|f| f.severity == crate::finding::Severity::Warn)
        {
            Outcome::Findings
        } else {
            Outcome::Clean
        }
    }

    /// The name stored in `runs.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Findings => "findings",
            Outcome::Blocking => "blocking",
            Outcome::Errors => "errors",
            Outcome::FetchFailed => "fetch-failed",
        }
    }

    fn parse(s: &str) -> Result<Self, HistoryError> {
        match s {
            "clean" => Ok(Outcome::Clean),
            "findings" => Ok(Outcome::Findings),
            "blocking" => Ok(Outcome::Blocking),
            "errors" => Ok(Outcome::Errors),
            "fetch-failed" => Ok(Outcome::FetchFailed),
            _ => Err(bad("runs.outcome", s, "an outcome")),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The commit a run checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRef {
    /// Full commit id.
    pub id: String,
    /// Committer time.
    pub time: DateTime<Utc>,
    /// Author name (and email, as the caller formats it).
    pub author: String,
    /// First line of the message.
    pub summary: String,
}

/// How long a run took, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// The whole run.
    pub total_ms: u64,
    /// Fetching the repo, when it was fetched.
    pub fetch_ms: Option<u64>,
    /// Rendering overlays, when they were rendered.
    pub render_ms: Option<u64>,
    /// Running the rules, when they ran.
    pub check_ms: Option<u64>,
}

/// Something that happened, recorded with a run or alone ([`History::record_event`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// The service it is about.
    pub service: Option<String>,
    /// The environment it is about.
    pub env: Option<String>,
    /// One line for humans.
    pub message: String,
    /// Details; the shape is up to the kind.
    pub data: serde_json::Value,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvent {
    /// Event id.
    pub id: i64,
    /// The run that recorded it, if any.
    pub run: Option<i64>,
    /// The event.
    pub event: Event,
}

/// Everything one run produced, written by [`History::record`] in one transaction.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// What started the run.
    pub kind: RunKind,
    /// Wall-clock start.
    pub started_at: DateTime<Utc>,
    /// Place on the timeline: wall-clock for scans and checks, the commit's time for backfill.
    pub time: DateTime<Utc>,
    /// The commit checked, when known.
    pub commit: Option<CommitRef>,
    /// How long it took.
    pub durations: Durations,
    /// Why fetching failed (already credential-free).
    pub fetch_error: Option<String>,
    /// What could not be checked.
    pub errors: Vec<CheckError>,
    /// The findings (after policy).
    pub findings: Vec<Finding>,
    /// The metrics of every service checked.
    pub metrics: Vec<Metric>,
    /// Events observed during the run.
    pub events: Vec<Event>,
    /// What each checked service's environments run (kept for the newest timeline run only).
    pub views: Vec<crate::view::ServiceView>,
}

/// One sighting of a finding: a run, its commit and its place on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// Run id.
    pub run: i64,
    /// The run's commit, when known.
    pub commit: Option<String>,
    /// The run's `time` (timeline time: the scan's clock, or the commit time for backfill).
    pub time: DateTime<Utc>,
    /// The commit's author, when known.
    pub author: Option<String>,
    /// The commit's own time, when known.
    pub commit_time: Option<DateTime<Utc>>,
}

impl Seen {
    /// When it happened in the repo: the commit's time when known, else the run's.
    pub fn when(&self) -> DateTime<Utc> {
        self.commit_time.unwrap_or(self.time)
    }
}

/// One episode of a finding: from the run that opened it to the run that resolved it (if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lifecycle {
    /// The finding as last seen.
    pub finding: Finding,
    /// The first run of the streak ("blame": its commit introduced the finding, or predates history).
    pub opened: Seen,
    /// The last run that contained the finding.
    pub last_seen: Seen,
    /// The first later run without it; `None` while open.
    pub resolved: Option<Seen>,
}

impl Lifecycle {
    /// Whole days from the commit that opened it (or the opening run, without a commit) to the one that
    /// resolved it, or to `now` while open (never negative).
    pub fn age_days(&self, now: DateTime<Utc>) -> i64 {
        let end = self.resolved.as_ref().map_or(now, Seen::when);
        (end - self.opened.when()).num_days().max(0)
    }
}

/// One value of a metric series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    /// Run id.
    pub run: i64,
    /// The run's timeline time.
    pub time: DateTime<Utc>,
    /// The run's commit, when known.
    pub commit: Option<String>,
    /// The value and what it measures.
    pub metric: Metric,
}

/// A run as listed on the history page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// What started it.
    pub kind: RunKind,
    /// Wall-clock start.
    pub started_at: DateTime<Utc>,
    /// Place on the timeline.
    pub time: DateTime<Utc>,
    /// The commit checked, when known.
    pub commit: Option<CommitRef>,
    /// How it ended.
    pub outcome: Outcome,
    /// Blocking findings.
    pub block: u64,
    /// Warnings.
    pub warn: u64,
    /// Informational findings.
    pub info: u64,
    /// Number of [`CheckError`]s.
    pub error_count: u64,
    /// The errors themselves.
    pub errors: Vec<CheckError>,
    /// Why fetching failed.
    pub fetch_error: Option<String>,
    /// How long it took.
    pub durations: Durations,
    /// The last later scan that found exactly the same (see [`History::record_or_confirm`]).
    pub confirmed_at: Option<DateTime<Utc>>,
    /// How many later scans found exactly the same.
    pub repeats: u64,
}

impl RunSummary {
    /// When this run's state was last seen: the last scan confirming it, else the run itself.
    pub fn last_seen(&self) -> DateTime<Utc> {
        self.confirmed_at.unwrap_or(self.time)
    }
}

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// Opens the database at `path`, creating it (and its parent directories) when missing, and brings
    /// its schema up to date.
    ///
    /// Refuses, leaving the file untouched, a file that is not a sound SQLite database
    /// ([`HistoryError::Corrupt`]), another program's database ([`HistoryError::NotHistory`]) and a
    /// database from a newer envparity ([`HistoryError::TooNew`]).
    #[tracing::instrument(level = "debug")]
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The state directory, when this creates it, is its owner's alone: the history holds
            // findings about the infrastructure and the mirrors its source.
            crate::input::create_private_dir(parent).map_err(|source| HistoryError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        private_file(path)?;
        let open_err = |source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        };
        // No SQLITE_OPEN_URI: a path is a path, even when it starts with `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        // Until the file is known to be sound, closing must not checkpoint a WAL into it.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;

        schema::verify(&conn, path)?;

        let sql = sql_err;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "history database is not in WAL mode");
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql("enabling foreign keys"))?;
        // Reading a year of metrics for hundreds of services: map the file instead of a read() per page.
        conn.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)
            .map_err(sql("setting mmap_size"))?;
        conn.pragma_update(None, "cache_size", -32_768i64)
            .map_err(sql("setting cache_size"))?;
        schema::migrate(&mut conn, path)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(sql("re-enabling checkpoint on close"))?;
        Ok(History {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates the database file `0600` when missing (SQLite gives its `-wal` and `-shm` files the same
/// mode), and tightens one a looser umask left readable by others.
fn private_file(path: &Path) -> Result<(), HistoryError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(HistoryError::Create {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if !meta.is_file() || mode & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700)) {
                Ok(()) => tracing::info!(
                    file = %file.display(),
                    from = format!("{mode:o}"),
                    to = format!("{:o}", mode & 0o700),
                    "history file was readable by others; made it private"
                ),
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "could not make the history file private")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A timestamp as stored: fixed-width RFC 3339 UTC, so text order is time order.
fn ts(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Reads a stored timestamp.
fn parse_ts(column: &'static str, value: &str) -> Result<DateTime<Utc>, HistoryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(column, value, "an RFC 3339 timestamp"))
}

fn bad(column: &'static str, value: &str, expected: &'static str) -> HistoryError {
    HistoryError::BadValue {
        column,
        value: value.to_string(),
        expected,
    }
}

fn sql_err(context: &'static str) -> impl Fn(rusqlite::Error) -> HistoryError {
    move |source| HistoryError::Sql { context, source }
}

fn metric_kind(value: &str) -> Result<MetricKind, HistoryError> {
    [
        MetricKind::Limit,
        MetricKind::Request,
        MetricKind::Replicas,
        MetricKind::LimitRatio,
    ]
    .into_iter()
    .find(|k| k.as_str() == value)
    .ok_or_else(|| bad("metrics.kind", value, "a metric kind"))
}
