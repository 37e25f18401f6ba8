//! The daemon's job runs: one row per run of `scan`, `report` or `digest`, successful or not.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use super::{History, HistoryError, bad, parse_ts, sql_err, ts};

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobOutcome {
    /// It did its work.
    Ok,
    /// It returned an error.
    Failed,
    /// It panicked (caught; the daemon went on).
    Panicked,
}

impl JobOutcome {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Ok => "ok",
            JobOutcome::Failed => "failed",
            JobOutcome::Panicked => "panicked",
        }
    }

    fn parse(value: &str) -> Result<JobOutcome, HistoryError> {
        match value {
            "ok" => Ok(JobOutcome::Ok),
            "failed" => Ok(JobOutcome::Failed),
            "panicked" => Ok(JobOutcome::Panicked),
            other => Err(bad("job_runs.outcome", other, "ok, failed or panicked")),
        }
    }
}

/// One run of a daemon job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRun {
    /// `scan`, `report` or `digest`.
    pub job: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: JobOutcome,
    /// What failed: `fetch`, `cluster`, `render`, `source`, `history`, `report`, `send`, `lock`, `panic`.
    pub failure: Option<String>,
    /// Why, credential-free.
    pub error: Option<String>,
    /// The scan's run in `runs`, when one was recorded.
    pub run: Option<i64>,
}

type RawJobRun = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

impl JobRun {
    fn from_raw(raw: RawJobRun) -> Result<JobRun, HistoryError> {
        let (job, started, finished, outcome, failure, error, run) = raw;
        Ok(JobRun {
            job,
            started_at: parse_ts("job_runs.started_at", &started)?,
            finished_at: parse_ts("job_runs.finished_at", &finished)?,
            outcome: JobOutcome::parse(&outcome)?,
            failure,
            error,
            run,
        })
    }
}

/// How long job runs are kept (a daemon on the default schedule records ~200 a day).
pub const JOB_RUNS_KEPT_DAYS: i64 = 90;

const COLUMNS: &str = "job, started_at, finished_at, outcome, failure, error, run_id";

fn raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawJobRun> {
    RawJobRun::try_from(row)
}

impl History {
    /// Records one job run, and forgets that job's runs older than [`JOB_RUNS_KEPT_DAYS`] before it.
    pub fn record_job_run(&mut self, run: &JobRun) -> Result<i64, HistoryError> {
        let cutoff = run.started_at - chrono::Duration::days(JOB_RUNS_KEPT_DAYS);
        self.conn
            .execute(
                "DELETE FROM job_runs WHERE job = ?1 AND started_at < ?2",
                params![run.job, ts(cutoff)],
            )
            .map_err(sql_err("forgetting old job runs"))?;
        self.conn
            .execute(
                &format!("INSERT INTO job_runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    run.job,
                    ts(run.started_at),
                    ts(run.finished_at),
                    run.outcome.as_str(),
                    run.failure,
                    run.error,
                    run.run
                ],
            )
            .map_err(sql_err("recording a job run"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest runs of `job` (all jobs when `None`), newest first.
    pub fn job_runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<JobRun>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM job_runs WHERE ?1 IS NULL OR job = ?1
                 ORDER BY started_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(sql_err("reading job runs"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![job, limit], raw)
            .map_err(sql_err("reading job runs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err("reading job runs"))?;
        rows.into_iter().map(JobRun::from_raw).collect()
    }

    /// The newest successful run of `job`.
    pub fn last_ok_job_run(&self, job: &str) -> Result<Option<JobRun>, HistoryError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM job_runs WHERE job = ?1 AND outcome = 'ok'
                     ORDER BY started_at DESC, id DESC LIMIT 1"
                ),
                params![job],
                raw,
            )
            .optional()
            .map_err(sql_err("reading job runs"))?;
        row.map(JobRun::from_raw).transpose()
    }

    /// How many runs of `job` failed since its last successful one (the backoff exponent), and when the
    /// newest of them ended.
    pub fn job_failure_streak(
        &self,
        job: &str,
    ) -> Result<(u32, Option<DateTime<Utc>>), HistoryError> {
        let (count, last): (i64, Option<String>) = self
            .conn
            .query_row(
                "SELECT count(*), max(finished_at) FROM job_runs
                 WHERE job = ?1 AND outcome != 'ok' AND started_at > coalesce(
                     (SELECT max(started_at) FROM job_runs WHERE job = ?1 AND outcome = 'ok'), '')",
                params![job],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(sql_err("reading job runs"))?;
        let last = last
            .map(|t| parse_ts("job_runs.finished_at", &t))
            .transpose()?;
        Ok((u32::try_from(count).unwrap_or(u32::MAX), last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(job: &str, started_at: DateTime<Utc>, outcome: JobOutcome) -> JobRun {
        JobRun {
            job: job.into(),
            started_at,
            finished_at: started_at,
            outcome,
            failure: (outcome != JobOutcome::Ok).then(|| "fetch".into()),
            error: None,
            run: None,
        }
    }

    #[test]
    fn streaks_count_failures_since_the_last_success_and_old_runs_are_forgotten() {
        let dir = tempfile::tempdir().expect("dir");
        let mut h = History::open(&dir.path().join("h.sqlite")).expect("open");
        let now = Utc::now();
        let ago = |days: i64| now - chrono::Duration::days(days);
        h.record_job_run(&run("scan", ago(100), JobOutcome::Ok))
            .expect("record");
        h.record_job_run(&run("digest", ago(100), JobOutcome::Ok))
            .expect("record");
        h.record_job_run(&run("scan", ago(3), JobOutcome::Ok))
            .expect("record");
        h.record_job_run(&run("scan", ago(2), JobOutcome::Failed))
            .expect("record");
        h.record_job_run(&run("scan", ago(1), JobOutcome::Panicked))
            .expect("record");
        assert_eq!(
            h.job_failure_streak("scan").expect("streak"),
            (2, Some(ago(1)))
        );
        assert_eq!(h.job_failure_streak("digest").expect("streak"), (0, None));
        let scans = h.job_runs(Some("scan"), 10).expect("runs");
        assert_eq!(
            scans.len(),
            3,
            "the 100-day-old scan run is gone: {scans:?}"
        );
        assert_eq!(
            h.job_runs(Some("digest"), 10).expect("runs").len(),
            1,
            "other jobs keep theirs"
        );
        assert_eq!(
            h.last_ok_job_run("scan")
                .expect("last")
                .map(|r| r.started_at),
            Some(ago(3))
        );
    }
}
