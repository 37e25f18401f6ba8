//! Writing: a whole run in one transaction, or a lone event.

use rusqlite::{OptionalExtension as _, Transaction, TransactionBehavior, params};

use super::{Event, History, HistoryError, Outcome, RunKind, RunRecord, lifecycle, sql_err, ts};
use crate::finding::Severity;

impl History {
    /// Records a run: the run row, its finding observations, metrics and events, and the lifecycle
    /// update, all in one transaction. Returns the run's id.
    ///
    /// Runs may be recorded out of timeline order; see the `lifecycle` module for how episodes stay
    /// right. Non-finite metric values are skipped with a warning (SQLite cannot store NaN).
    #[tracing::instrument(level = "debug", skip_all, fields(kind = %run.kind, time = %run.time))]
    pub fn record(&mut self, run: &RunRecord) -> Result<i64, HistoryError> {
        let digest = digest_of(run)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("starting the run's transaction"))?;
        let run_id = write_run(&tx, run, digest.as_deref())?;
        tx.commit().map_err(sql_err("committing the run"))?;
        tracing::debug!(run_id, "run recorded");
        Ok(run_id)
    }

    /// Records a scan, unless it found exactly what the newest run on the timeline found (a scan of the
    /// same commit with the same findings, metrics, errors and views, and no events): then that run is
    /// confirmed instead (`confirmed_at`, `repeats`) and nothing else is written. Returns the run's id and
    /// whether it was a confirmation.
    ///
    /// The history stays a record of *changes*: the state between two runs is the earlier one's, so
    /// lifecycles, ratio series and the digest read the same as if every scan had been stored.
    pub fn record_or_confirm(&mut self, run: &RunRecord) -> Result<(i64, bool), HistoryError> {
        let digest = digest_of(run)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("starting the run's transaction"))?;
        if let Some(digest) = &digest
            && run.events.is_empty()
        {
            let newest: Option<(i64, String, Option<String>, String)> = tx
                .query_row(
                    "SELECT id, kind, digest, coalesce(confirmed_at, time) FROM runs
                     WHERE kind IN ('scan', 'backfill') ORDER BY time DESC, id DESC LIMIT 1",
                    [],
                    |row| <(i64, String, Option<String>, String)>::try_from(row),
                )
                .optional()
                .map_err(sql_err("reading the newest run"))?;
            if let Some((id, kind, Some(previous), seen)) = newest
                && kind == RunKind::Scan.as_str()
                && previous == *digest
                && seen <= ts(run.time)
            {
                tx.execute(
                    "UPDATE runs SET confirmed_at = ?2, repeats = repeats + 1 WHERE id = ?1",
                    params![id, ts(run.time)],
                )
                .map_err(sql_err("confirming the run"))?;
                tx.commit()
                    .map_err(sql_err("committing the confirmation"))?;
                tracing::debug!(run_id = id, "scan unchanged: run confirmed");
                return Ok((id, true));
            }
        }
        let run_id = write_run(&tx, run, digest.as_deref())?;
        tx.commit().map_err(sql_err("committing the run"))?;
        tracing::debug!(run_id, "run recorded");
        Ok((run_id, false))
    }

    /// Records an event that belongs to no run (live drift seen by the daemon, a digest sent…).
    pub fn record_event(&mut self, event: &Event) -> Result<i64, HistoryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("starting the event's transaction"))?;
        let id = insert_event(&tx, None, event)?;
        tx.commit().map_err(sql_err("committing the event"))?;
        Ok(id)
    }
}

/// Everything a run writes, inside the caller's transaction: the run row (with its digest, for scans),
/// observations, metrics, events, the lifecycle update and the service views.
fn write_run(
    tx: &Transaction<'_>,
    run: &RunRecord,
    digest: Option<&str>,
) -> Result<i64, HistoryError> {
    let run_id = insert_run(tx, run, digest)?;
    // Test builds only: die mid-transaction to prove nothing half-written survives.
    fail::fail_point!(super::CRASH_AFTER_FIRST_WRITE, |_| std::process::abort());
    insert_observations(tx, run_id, run)?;
    insert_metrics(tx, run_id, run)?;
    for event in &run.events {
        insert_event(tx, Some(run_id), event)?;
    }
    lifecycle::update(tx, run_id)?;
    if run.kind.on_timeline() {
        upsert_views(tx, run_id, run)?;
    }
    Ok(run_id)
}

/// Keeps, per service, the view of the newest timeline run that checked it.
fn upsert_views(tx: &Transaction<'_>, run_id: i64, run: &RunRecord) -> Result<(), HistoryError> {
    for view in &run.views {
        let json = serde_json::to_string(view).map_err(|source| HistoryError::Json {
            context: "serialising a service view",
            source,
        })?;
        tx.execute(
            "INSERT INTO service_views (service, run_id, time, view) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (service) DO UPDATE
                SET run_id = excluded.run_id, time = excluded.time, view = excluded.view
                WHERE excluded.time >= service_views.time",
            params![view.service, run_id, ts(run.time), json],
        )
        .map_err(sql_err("writing a service view"))?;
    }
    Ok(())
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn insert_run(
    tx: &Transaction<'_>,
    run: &RunRecord,
    digest: Option<&str>,
) -> Result<i64, HistoryError> {
    let count = |severity| {
        run.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count() as i64
    };
    let errors = serde_json::to_string(&run.errors).map_err(|source| HistoryError::Json {
        context: "serialising the run's errors",
        source,
    })?;
    let commit = run.commit.as_ref();
    tx.execute(
        "INSERT INTO runs (kind, started_at, time, commit_id, commit_time, commit_author,
                           commit_summary, outcome, total_ms, fetch_ms, render_ms, check_ms, errors,
                           fetch_error, block_count, warn_count, info_count, error_count, digest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        params![
            run.kind.as_str(),
            ts(run.started_at),
            ts(run.time),
            commit.map(|c| c.id.as_str()),
            commit.map(|c| ts(c.time)),
            commit.map(|c| c.author.as_str()),
            commit.map(|c| c.summary.as_str()),
            Outcome::of(run).as_str(),
            ms(run.durations.total_ms),
            run.durations.fetch_ms.map(ms),
            run.durations.render_ms.map(ms),
            run.durations.check_ms.map(ms),
            errors,
            run.fetch_error,
            count(Severity::Block),
            count(Severity::Warn),
            count(Severity::Info),
            run.errors.len() as i64,
            digest,
        ],
    )
    .map_err(sql_err("writing the run"))?;
    Ok(tx.last_insert_rowid())
}

fn insert_observations(
    tx: &Transaction<'_>,
    run_id: i64,
    run: &RunRecord,
) -> Result<(), HistoryError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO observations (run_id, fingerprint, service, rule, severity, finding)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (run_id, fingerprint) DO NOTHING",
        )
        .map_err(sql_err("writing findings"))?;
    for finding in &run.findings {
        let json = serde_json::to_string(finding).map_err(|source| HistoryError::Json {
            context: "serialising a finding",
            source,
        })?;
        let written = stmt
            .execute(params![
                run_id,
                finding.fingerprint,
                finding.service,
                finding.rule.as_str(),
                finding.severity.as_str(),
                json
            ])
            .map_err(sql_err("writing findings"))?;
        if written == 0 {
            // Findings come sorted worst first, so the one kept is the most severe.
            tracing::warn!(
                fingerprint = %finding.fingerprint,
                rule = %finding.rule,
                service = %finding.service,
                "two findings of one run share a fingerprint; keeping the first"
            );
        }
    }
    Ok(())
}

fn insert_metrics(tx: &Transaction<'_>, run_id: i64, run: &RunRecord) -> Result<(), HistoryError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO metrics (run_id, time, service, env, other_env, workload, container,
                                  resource, kind, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sql_err("writing metrics"))?;
    let time = ts(run.time);
    for m in &run.metrics {
        if !m.value.is_finite() {
            tracing::warn!(
                service = %m.service, env = %m.env, workload = %m.workload,
                resource = %m.resource, kind = m.kind.as_str(), value = m.value,
                "skipping a metric that is not a finite number"
            );
            continue;
        }
        stmt.execute(params![
            run_id,
            time,
            m.service,
            m.env,
            m.other_env,
            m.workload,
            m.container,
            m.resource,
            m.kind.as_str(),
            m.value
        ])
        .map_err(sql_err("writing metrics"))?;
    }
    Ok(())
}

fn insert_event(
    tx: &Transaction<'_>,
    run_id: Option<i64>,
    event: &Event,
) -> Result<i64, HistoryError> {
    let data = serde_json::to_string(&event.data).map_err(|source| HistoryError::Json {
        context: "serialising an event's data",
        source,
    })?;
    tx.prepare_cached(
        "INSERT INTO events (run_id, time, kind, service, env, message, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            run_id,
            ts(event.time),
            event.kind.as_str(),
            event.service,
            event.env,
            event.message,
            data
        ])
    })
    .map_err(sql_err("writing an event"))?;
    Ok(tx.last_insert_rowid())
}

/// What a scan found, as one digest: the commit, fetch error, errors, findings, metrics and views, in
/// the order the engine produced them (it sorts them), without times or durations. None for other runs.
fn digest_of(run: &RunRecord) -> Result<Option<String>, HistoryError> {
    use sha2::{Digest as _, Sha256};
    if run.kind != RunKind::Scan {
        return Ok(None);
    }
    let json = serde_json::to_vec(&(
        run.commit.as_ref().map(|c| &c.id),
        &run.fetch_error,
        &run.errors,
        &run.findings,
        &run.metrics,
        &run.views,
    ))
    .map_err(|source| HistoryError::Json {
        context: "digesting the run",
        source,
    })?;
    Ok(Some(format!("{:x}", Sha256::digest(&json))))
}
