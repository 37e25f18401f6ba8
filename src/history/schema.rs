//! The history database's schema and its migrations.
//!
//! # Schema
//!
//! One SQLite file (`<state>/history.sqlite`), WAL journal, `foreign_keys=ON`. `PRAGMA application_id` is
//! `0x656e7670` (`envp`) and `PRAGMA user_version` is the number of migrations applied. Every timestamp is
//! UTC text in RFC 3339 with nanoseconds and a `Z` (`2026-11-02T08:00:00.000000000Z`): fixed width, so text
//! order is time order.
//!
//! The *timeline* is the scan and backfill runs ordered by (`time`, `id`). Check runs (`envparity check`,
//! possibly scoped to a few services, possibly on an uncommitted tree) are stored with their observations,
//! metrics and events but are not on the timeline: they neither open nor resolve findings and are left
//! out of metric series.
//!
//! ## `runs` — one row per run
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | INTEGER PK | run id, in recording order |
//! | `kind` | TEXT | `scan` (scheduled or manual scan of the fetched branch), `backfill` (an old commit rendered from git history), `check` (a one-off check) |
//! | `started_at` | TEXT | wall-clock start of the run |
//! | `time` | TEXT | the run's place on the timeline: wall-clock for scans and checks, the commit's time for backfill |
//! | `commit_id`, `commit_time`, `commit_author`, `commit_summary` | TEXT, nullable | the commit checked, when known |
//! | `outcome` | TEXT | see below |
//! | `total_ms` | INTEGER | wall-clock duration of the whole run |
//! | `fetch_ms`, `render_ms`, `check_ms` | INTEGER, nullable | durations of the stages that ran |
//! | `errors` | TEXT (JSON) | the run's `CheckError` list: `[{"service", "env", "kind", "message"}]` (rows written before errors had a `kind` get one inferred from which of service and env they name) |
//! | `fetch_error` | TEXT, nullable | why fetching the repo failed (credential-free) |
//! | `block_count`, `warn_count`, `info_count` | INTEGER | findings by severity |
//! | `error_count` | INTEGER | length of `errors` |
//!
//! `outcome`, the first that applies:
//! - `fetch-failed` — the repo could not be fetched; nothing was checked.
//! - `errors` — something could not be rendered or checked (`check` would exit 2).
//! - `blocking` — at least one `block` finding (`check` would exit 1).
//! - `findings` — at least one `warn` finding.
//! - `clean` — nothing at `warn` or above (`info` findings are data, not problems).
//!
//! ## `observations` — the findings of each run
//! | column | type | meaning |
//! |---|---|---|
//! | `run_id` | INTEGER → `runs` | the run |
//! | `fingerprint` | TEXT | the finding's stable fingerprint; (`run_id`, `fingerprint`) is the key |
//! | `service`, `rule`, `severity` | TEXT | copied out of the finding for queries |
//! | `finding` | TEXT (JSON) | the whole `Finding`, as the JSON contract serialises it |
//!
//! ## `episodes` — the lifecycle of each finding
//! One row per *episode*: a streak of timeline runs in which a fingerprint is present. A fingerprint that
//! disappears and comes back opens a new episode.
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | INTEGER PK | internal; episodes are rewritten when runs are inserted into the past, so ids are not stable |
//! | `fingerprint`, `service` | TEXT | the finding |
//! | `opened_run` | INTEGER → `runs` | first run of the streak (its commit is the finding's "blame") |
//! | `last_seen_run` | INTEGER → `runs` | last run of the streak that contained the finding (its observation is the finding "as last seen") |
//! | `resolved_run` | INTEGER → `runs`, nullable | first later run without the finding; NULL while open |
//!
//! A run does not resolve a finding it could not have seen: a `fetch-failed` run, or a run with an error
//! not tied to a service, resolves nothing; a run with an error for service X resolves none of X's
//! findings. Those findings stay open with their last sighting unchanged.
//!
//! ## `metrics` — numeric time series
//! | column | type | meaning |
//! |---|---|---|
//! | `run_id` | INTEGER → `runs` | the run |
//! | `time` | TEXT | the run's `time` (copied, so a series needs no join) |
//! | `service`, `env`, `other_env`, `workload`, `container`, `resource` | TEXT | what is measured (`other_env`: the reference env of a ratio; `container`: none for replicas) |
//! | `kind` | TEXT | `limit`, `request`, `replicas`, `limit-ratio` |
//! | `value` | REAL | base units: cores, bytes, count, or a plain ratio (finite values only) |
//!
//! Index `metrics_service_time (service, time, run_id, kind, env, other_env, workload, container, resource,
//! value)` (migration 3; it replaced `metrics_series`) answers "every metric of a service in time order" from
//! the index alone.
//!
//! ## `events` — things that happened
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | INTEGER PK | |
//! | `run_id` | INTEGER → `runs`, nullable | the run that recorded it, if any |
//! | `time` | TEXT | when it happened |
//! | `kind` | TEXT | e.g. `fetch-failed`, `live-drift`, `argo-sync`, `self-heal`, `digest-sent` |
//! | `service`, `env` | TEXT, nullable | what it is about |
//! | `message` | TEXT | one line for humans |
//! | `data` | TEXT (JSON) | details, shape per kind |
//!
//! ## `digest_copies` — the digest's send-once bookkeeping (migration 6)
//! One row per recipient of a *round* of a period's digest, written as `pending` before anything is sent. A
//! round is the first send of a period, and each `--force` starts the next one; every copy of a round carries
//! the round's one Message-ID.
//! | column | type | meaning |
//! |---|---|---|
//! | `period` | TEXT | the ISO week, `2026-W47` |
//! | `round` | INTEGER | 1, 2, … (`period`, `round`, `recipient`) is the key |
//! | `recipient` | TEXT | the envelope address (To or Cc) |
//! | `position` | INTEGER | its place in the round's recipient list (To, then Cc): the order copies are sent in |
//! | `message_id` | TEXT | the round's Message-ID, with angle brackets; a retry sends the same |
//! | `created_at` | TEXT | when the round started (the message's Date header, also on a retry) |
//! | `forced` | INTEGER | 1 when `--force` started the round |
//! | `state` | TEXT | `pending` (not known to be accepted), `sent` (the server accepted it), `refused` (the server refused the recipient permanently while another recipient of the round accepted it: not retried) |
//! | `done_at` | TEXT, nullable | when it became `sent` or `refused` |
//! | `error` | TEXT, nullable | the server's refusal (credential-free) |
//!
//! The `digest-sent` and `digest-failed` events stay the audit trail the report shows; this table decides what
//! is sent.
//!
//! ## Migrations
//! [`MIGRATIONS`] is an ordered list of SQL steps; step *n* (1-based) takes `user_version` from *n − 1* to
//! *n*, and each runs in its own transaction together with the `user_version` bump, so a crash leaves the
//! database at a whole version. Steps are append-only: a released step is never edited. A database whose
//! `user_version` is above the number of steps this build knows is refused (`HistoryError::TooNew`), never
//! downgraded.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{HistoryError, sql_err};

/// `PRAGMA application_id` of an envparity history (`envp` in ASCII).
pub const APPLICATION_ID: i32 = 0x656e_7670;

/// The schema steps, in order; `user_version` counts how many were applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE runs (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('scan', 'backfill', 'check')),
        started_at     TEXT NOT NULL,
        time           TEXT NOT NULL,
        commit_id      TEXT,
        commit_time    TEXT,
        commit_author  TEXT,
        commit_summary TEXT,
        outcome        TEXT NOT NULL
                       CHECK (outcome IN ('clean', 'findings', 'blocking', 'errors', 'fetch-failed')),
        total_ms       INTEGER NOT NULL,
        fetch_ms       INTEGER,
        render_ms      INTEGER,
        check_ms       INTEGER,
        errors         TEXT NOT NULL DEFAULT '[]',
        fetch_error    TEXT,
        block_count    INTEGER NOT NULL,
        warn_count     INTEGER NOT NULL,
        info_count     INTEGER NOT NULL,
        error_count    INTEGER NOT NULL
    );
    CREATE INDEX runs_timeline ON runs (time, id);
    CREATE INDEX runs_commit ON runs (commit_id);

    CREATE TABLE observations (
        run_id      INTEGER NOT NULL REFERENCES runs (id),
        fingerprint TEXT NOT NULL,
        service     TEXT NOT NULL,
        rule        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        finding     TEXT NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    ) WITHOUT ROWID;
    CREATE INDEX observations_fingerprint ON observations (fingerprint);

    CREATE TABLE episodes (
        id            INTEGER PRIMARY KEY,
        fingerprint   TEXT NOT NULL,
        service       TEXT NOT NULL,
        opened_run    INTEGER NOT NULL REFERENCES runs (id),
        last_seen_run INTEGER NOT NULL REFERENCES runs (id),
        resolved_run  INTEGER REFERENCES runs (id)
    );
    CREATE INDEX episodes_fingerprint ON episodes (fingerprint);
    CREATE UNIQUE INDEX episodes_open ON episodes (fingerprint) WHERE resolved_run IS NULL;
    CREATE INDEX episodes_resolved ON episodes (resolved_run) WHERE resolved_run IS NOT NULL;

    CREATE TABLE metrics (
        run_id    INTEGER NOT NULL REFERENCES runs (id),
        time      TEXT NOT NULL,
        service   TEXT NOT NULL,
        env       TEXT NOT NULL,
        other_env TEXT,
        workload  TEXT NOT NULL,
        container TEXT,
        resource  TEXT NOT NULL,
        kind      TEXT NOT NULL,
        value     REAL NOT NULL
    );
    CREATE INDEX metrics_series ON metrics (service, kind, time);
    CREATE INDEX metrics_run ON metrics (run_id);

    CREATE TABLE events (
        id      INTEGER PRIMARY KEY,
        run_id  INTEGER REFERENCES runs (id),
        time    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        service TEXT,
        env     TEXT,
        message TEXT NOT NULL,
        data    TEXT NOT NULL DEFAULT 'null'
    );
    CREATE INDEX events_time ON events (time);
    CREATE INDEX events_kind_time ON events (kind, time);
    CREATE INDEX events_run ON events (run_id) WHERE run_id IS NOT NULL;",
    // 2: what each service's environments run, as of the newest timeline run that checked it (the report's
    // side-by-side tables).
    "CREATE TABLE service_views (
        service TEXT PRIMARY KEY,
        run_id  INTEGER NOT NULL REFERENCES runs (id),
        time    TEXT NOT NULL,
        view    TEXT NOT NULL
    );",
    // 3: the report reads every metric of a service in time order; a covering index answers that from the
    // index alone instead of one table lookup per row (4× fewer page reads on a year of daily runs).
    "DROP INDEX metrics_series;
    CREATE INDEX metrics_service_time ON metrics
        (service, time, run_id, kind, env, other_env, workload, container, resource, value);",
    // 4: every run of a daemon job, successful or not: what catch-up of missed ticks, backoff after failures
    // and an operator read.
    "CREATE TABLE job_runs (
        id          INTEGER PRIMARY KEY,
        job         TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'panicked')),
        failure     TEXT,
        error       TEXT,
        run_id      INTEGER REFERENCES runs (id)
    );
    CREATE INDEX job_runs_job ON job_runs (job, started_at);",
    // 5: a scan that finds exactly what the previous scan found confirms that run instead of writing
    // another copy of its findings and metrics (a daemon scanning every 15 minutes would otherwise grow the
    // file by a full run each time: ~50 KB for six services, ~1.7 GB a year).
    "ALTER TABLE runs ADD COLUMN digest TEXT;
    ALTER TABLE runs ADD COLUMN confirmed_at TEXT;
    ALTER TABLE runs ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;",
    // 6: the digest's send-once bookkeeping: a copy per recipient is written as pending before it is sent
    // and confirmed when the server accepted it, so a retry after a failure or a crash resends only the
    // unconfirmed copies, with the same Message-ID.
    "CREATE TABLE digest_copies (
        period       TEXT NOT NULL,
        round        INTEGER NOT NULL CHECK (round >= 1),
        recipient    TEXT NOT NULL,
        position     INTEGER NOT NULL,
        message_id   TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        forced       INTEGER NOT NULL DEFAULT 0,
        state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused')),
        done_at      TEXT,
        error        TEXT,
        PRIMARY KEY (period, round, recipient)
    ) WITHOUT ROWID;",
];

/// The schema version this build writes: the number of [`MIGRATIONS`].
pub fn supported_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Checks that the file is a sound envparity history this build understands, reading only.
///
/// Runs before anything that could write, so that a corrupt, foreign or newer file is left exactly as
/// it was found.
pub(super) fn verify(conn: &Connection, path: &Path) -> Result<(), HistoryError> {
    // One read transaction: every check sees the same snapshot, even while another process migrates.
    let snapshot = conn
        .unchecked_transaction()
        .map_err(|e| classify(e, path, "starting a read transaction"))?;
    let conn = &*snapshot;
    let mut problems = Vec::new();
    let checked = conn.prepare("PRAGMA quick_check").and_then(|mut stmt| {
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        for row in rows {
            problems.push(row?);
        }
        Ok(())
    });
    if let Err(e) = checked {
        return Err(classify(e, path, "running PRAGMA quick_check"));
    }
    if problems.as_slice() != ["ok"] {
        const SHOWN: usize = 5;
        let mut reason = problems
            .iter()
            .take(SHOWN)
            .map(|p| p.replace('\n', " "))
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > SHOWN {
            reason.push_str(&format!("; and {} more problems", problems.len() - SHOWN));
        }
        return Err(HistoryError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("PRAGMA quick_check failed: {reason}"),
        });
    }

    let read = |pragma: &'static str| {
        conn.pragma_query_value(None, pragma, |row| row.get::<_, i64>(0))
            .map_err(|e| classify(e, path, pragma))
    };
    let application_id = read("application_id")?;
    let version = read("user_version")?;
    if application_id != 0 && application_id != i64::from(APPLICATION_ID) {
        return Err(HistoryError::NotHistory {
            path: path.to_path_buf(),
            reason: format!("its application_id is {application_id:#x}, not envparity's"),
        });
    }
    if version > supported_version() {
        return Err(HistoryError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: supported_version(),
        });
    }
    if version == 0 {
        // A version-0 file with tables was made by something else: adding ours would mix two stores.
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| classify(e, path, "listing tables"))?;
        if tables > 0 {
            return Err(HistoryError::NotHistory {
                path: path.to_path_buf(),
                reason: format!(
                    "it already holds {tables} tables or indexes and no envparity schema"
                ),
            });
        }
    }
    Ok(())
}

/// Applies the migrations the database lacks, each in its own transaction.
///
/// The version is read again inside each write transaction, so two processes opening a new database at
/// once do not both apply a step.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let sql = sql_err;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting a migration"))?;
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql("reading user_version"))?;
        if current > supported_version() {
            return Err(HistoryError::TooNew {
                path: path.to_path_buf(),
                found: current,
                supported: supported_version(),
            });
        }
        let Some(step) = MIGRATIONS.get(current.max(0) as usize) else {
            return Ok(());
        };
        let version = current.max(0) + 1;
        tx.execute_batch(step)
            .map_err(sql("applying a migration"))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sql("setting application_id"))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(sql("setting user_version"))?;
        tx.commit().map_err(sql("committing a migration"))?;
        tracing::debug!(version, "history schema migrated");
    }
}

/// Maps an error met while verifying: "not a database" and "corrupt" mean [`HistoryError::Corrupt`].
fn classify(error: rusqlite::Error, path: &Path, context: &'static str) -> HistoryError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => HistoryError::Corrupt {
            path: path.to_path_buf(),
            reason: error.to_string(),
        },
        _ => HistoryError::Sql {
            context,
            source: error,
        },
    }
}
