//! The three jobs — scan, report, digest — as blocking calls into [`crate::pipeline`], [`crate::report`]
//! and [`crate::notify`], each ending in [`Done`] or a [`Failure`] that names what failed.

use std::time::Instant;

use chrono::Utc;

use super::Daemon;
use crate::pipeline;

/// Fail points (exist only in builds with the `failpoints` feature): `daemon-job-<job>` configured to panic
/// (`FAILPOINTS=daemon-job-report=panic`) makes that job panic when it runs.
pub const PANIC_IN_JOB_PREFIX: &str = "daemon-job-";

/// A daemon job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Fetch, check and record.
    Scan,
    /// Republish the report site.
    Report,
    /// Send the weekly digest when it is due.
    Digest,
}

impl Job {
    /// The job's name in config, logs, metrics and the history.
    pub fn name(self) -> &'static str {
        match self {
            Job::Scan => "scan",
            Job::Report => "report",
            Job::Digest => "digest",
        }
    }
}

/// A job that did its work.
#[derive(Debug, Default)]
pub struct Done {
    /// The run it recorded in `runs` (scans).
    pub run: Option<i64>,
}

/// A job that did not: what failed and why (credential-free), and the run it still recorded, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `fetch`, `cluster`, `render`, `source`, `history`, `report`, `send` or `lock` (another process held
    /// the job's state lock for longer than `state.lock_timeout_seconds`).
    pub what: &'static str,
    /// Why.
    pub message: String,
    /// The run recorded despite the failure (a scan whose fetch failed scans the last fetched commit).
    pub run: Option<i64>,
}

impl Failure {
    fn new(what: &'static str, message: impl std::fmt::Display) -> Failure {
        Failure {
            what,
            message: message.to_string(),
            run: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.what, self.message)
    }
}

fn pipeline_failure(e: pipeline::PipelineError) -> Failure {
    use pipeline::PipelineError as E;
    let what = match &e {
        E::Source(_) => "fetch",
        E::History(_) => "history",
        E::Render(_) | E::Workers { .. } => "render",
        E::Live(_) | E::NoLiveSource => "cluster",
        E::NotGit { .. }
        | E::NoDir { .. }
        | E::GateMoved { .. }
        | E::CheckoutCredentials { .. } => "source",
        E::Report(_) => "report",
        E::Notify(_) => "send",
        E::JobBusy { .. } | E::JobLock { .. } => "lock",
    };
    Failure::new(what, e)
}

impl Daemon {
    /// Fetch, check and record. The scan records its own fetch failure (and scans the last fetched
    /// commit); a failed fetch or cluster read still fails the job, so it is retried with backoff. Errors
    /// about single services (a malformed overlay) are findings about the repo, recorded in the run: the
    /// job succeeded.
    pub fn scan_job(&self) -> Result<Done, Failure> {
        let started = Instant::now();
        let outcome = pipeline::scan(
            &self.config,
            &self.state,
            &self.origin,
            self.live_dir.as_deref(),
        )
        .map_err(pipeline_failure)?;
        let report = &outcome.report;
        tracing::info!(
            run = outcome.run,
            unchanged = outcome.confirmed,
            commit = outcome.commit.as_ref().map(|c| c.id.as_str()),
            findings = report.findings.len(),
            errors = report.errors.len(),
            opened = outcome.opened,
            resolved = outcome.resolved,
            "scan recorded"
        );
        let clusters: Vec<String> = report
            .errors
            .iter()
            .filter(|e| e.kind.is_cluster())
            .map(|e| match &e.env {
                Some(env) => format!("{env}: {}", e.message),
                None => e.message.clone(),
            })
            .collect();
        self.status.cluster_failed(clusters.len() as u64);
        let failure = if let Some(e) = &outcome.fetch_error {
            Some(Failure::new(
                "fetch",
                format!("{e} (the last fetched commit was scanned)"),
            ))
        } else if !clusters.is_empty() {
            Some(Failure::new("cluster", clusters.join("; ")))
        } else {
            None
        };
        match failure {
            Some(failure) => Err(Failure {
                run: Some(outcome.run),
                ..failure
            }),
            None => {
                self.status.scan_succeeded(
                    Utc::now(),
                    started.elapsed(),
                    &report.envs,
                    &report.findings,
                );
                Ok(Done {
                    run: Some(outcome.run),
                })
            }
        }
    }

    /// Renders the site from the history and publishes it atomically.
    pub fn report_job(&self) -> Result<Done, Failure> {
        let out = self.config.report_dir();
        let files = pipeline::report(&self.config, &self.state, &out).map_err(pipeline_failure)?;
        tracing::info!(files, out = %out.display(), "report published");
        Ok(Done::default())
    }

    /// Sends the last complete period's digest when it is due (not sent yet, no backoff pending); skipped
    /// without `[smtp]`. Every attempt is recorded by [`crate::notify::run`].
    pub fn digest_job(&self) -> Result<Done, Failure> {
        use crate::notify::{Period, Request, RunOutcome};
        if self.config.smtp.is_none() {
            tracing::info!("digest skipped: no [smtp] in config");
            return Ok(Done::default());
        }
        let now = Utc::now();
        let period = Period::last_complete(now, self.config.digest.tz());
        let request = Request {
            period,
            force: false,
            dry_run: false,
            now,
        };
        match pipeline::digest(&self.config, &self.state, &request).map_err(pipeline_failure)? {
            RunOutcome::Sent { delivery, .. } => {
                tracing::info!(period = %period.label(), message_id = %delivery.message_id, "digest sent");
                Ok(Done::default())
            }
            RunOutcome::Partial {
                delivery, error, ..
            } => Err(Failure::new(
                "send",
                format!(
                    "digest {} sent to {} but not to everyone ({}): {error}",
                    period.label(),
                    delivery.accepted.join(", "),
                    delivery.message_id
                ),
            )),
            RunOutcome::Failed { error } => Err(Failure::new(
                "send",
                format!("digest {} not sent: {error}", period.label()),
            )),
            RunOutcome::Quiet => {
                tracing::info!(period = %period.label(), "digest: all quiet, nothing sent");
                Ok(Done::default())
            }
            RunOutcome::NothingScanned => {
                tracing::info!(period = %period.label(), "digest skipped: nothing was scanned up to the end of the period");
                Ok(Done::default())
            }
            RunOutcome::AlreadySent(_) => {
                tracing::info!(period = %period.label(), "digest already sent");
                Ok(Done::default())
            }
            RunOutcome::DryRun { .. } => Ok(Done::default()),
        }
    }

    /// Runs `job` (blocking).
    pub fn run_job(&self, job: Job) -> Result<Done, Failure> {
        // Test builds only: a job that panics, to prove the daemon records it and goes on.
        fail::fail_point!(&format!("{PANIC_IN_JOB_PREFIX}{}", job.name()));
        match job {
            Job::Scan => self.scan_job(),
            Job::Report => self.report_job(),
            Job::Digest => self.digest_job(),
        }
    }
}
