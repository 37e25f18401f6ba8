//! What the daemon knows about itself: the health answer of `/healthz` and the metrics of `/metrics`
//! (prometheus-client, OpenMetrics text, which Prometheus scrapes natively).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::finding::Finding;

/// The content type of [`Status::encode`]'s output.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    severity: String,
    rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabels {
    env: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    job: String,
    outcome: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The health and metrics of one daemon process.
#[derive(Debug)]
pub struct Status {
    registry: Registry,
    started: DateTime<Utc>,
    max_scan_age: chrono::Duration,
    scheduler_running: AtomicBool,
    last_scan: Mutex<Option<DateTime<Utc>>>,
    last_scan_timestamp: FloatGauge,
    last_scan_duration: FloatGauge,
    findings: Family<FindingLabels, Gauge>,
    drift: Family<EnvLabels, Gauge>,
    job_runs: Family<RunLabels, Counter>,
    job_failures: Family<JobLabels, Counter>,
    fetch_failures: Counter,
    cluster_failures: Counter,
    send_failures: Counter,
    next_run: Family<JobLabels, FloatGauge>,
}

/// The answer of `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok`, or why not.
    pub status: &'static str,
    /// Whether the scheduler is running (false while shutting down).
    pub scheduler: bool,
    /// The end of the last successful scan, if any.
    pub last_scan: Option<DateTime<Utc>>,
    /// Seconds since the last successful scan, or since start-up when there was none.
    pub age_seconds: i64,
    /// The bound (`daemon.max_scan_age_minutes`) in seconds.
    pub max_age_seconds: i64,
}

impl Health {
    /// Whether `/healthz` answers 200.
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl Status {
    /// A fresh status: started at `started`, no scan seen yet.
    pub fn new(started: DateTime<Utc>, max_scan_age: chrono::Duration) -> Status {
        let mut status = Status {
            registry: Registry::with_prefix("envparity"),
            started,
            max_scan_age,
            scheduler_running: AtomicBool::new(false),
            last_scan: Mutex::new(None),
            last_scan_timestamp: FloatGauge::default(),
            last_scan_duration: FloatGauge::default(),
            findings: Family::default(),
            drift: Family::default(),
            job_runs: Family::default(),
            job_failures: Family::default(),
            fetch_failures: Counter::default(),
            cluster_failures: Counter::default(),
            send_failures: Counter::default(),
            next_run: Family::default(),
        };
        status.registry.register(
            "last_scan_timestamp_seconds",
            "End of the last successful scan (Unix time)",
            status.last_scan_timestamp.clone(),
        );
        status.registry.register(
            "last_scan_duration_seconds",
            "How long the last successful scan took",
            status.last_scan_duration.clone(),
        );
        status.registry.register(
            "findings",
            "Open findings of the last scan, by severity and rule",
            status.findings.clone(),
        );
        status.registry.register(
            "drift",
            "Live objects out of sync with Git in the last scan, by environment",
            status.drift.clone(),
        );
        status.registry.register(
            "job_runs",
            "Job runs since start-up, by job and outcome (ok, failed, panicked)",
            status.job_runs.clone(),
        );
        status.registry.register(
            "job_failures",
            "Failed or panicked job runs since start-up, by job",
            status.job_failures.clone(),
        );
        status.registry.register(
            "fetch_failures",
            "Failed fetches of the infra repo since start-up",
            status.fetch_failures.clone(),
        );
        status.registry.register(
            "cluster_failures",
            "Failed cluster reads since start-up (one per environment and scan)",
            status.cluster_failures.clone(),
        );
        status.registry.register(
            "send_failures",
            "Failed digest sends since start-up",
            status.send_failures.clone(),
        );
        status.registry.register(
            "next_run_timestamp_seconds",
            "When each job runs next (Unix time)",
            status.next_run.clone(),
        );
        status
    }

    /// When the last successful scan ended (from the history at start-up, then from each scan).
    pub fn set_last_scan(&self, ended: DateTime<Utc>) {
        if let Ok(mut last) = self.last_scan.lock() {
            *last = Some(ended);
        }
        self.last_scan_timestamp.set(secs(ended));
    }

    /// The scheduler started (true) or is stopping (false).
    pub fn set_scheduler_running(&self, running: bool) {
        self.scheduler_running.store(running, Ordering::SeqCst);
    }

    /// When `job` runs next.
    pub fn set_next_run(&self, job: &str, at: DateTime<Utc>) {
        self.next_run
            .get_or_create(&JobLabels { job: job.into() })
            .set(secs(at));
    }

    /// A job run ended; `failure` names what failed (`fetch`, `cluster`, `send`…) when it did not succeed.
    pub fn job_ended(&self, job: &str, outcome: &str, failure: Option<&str>) {
        self.job_runs
            .get_or_create(&RunLabels {
                job: job.into(),
                outcome: outcome.into(),
            })
            .inc();
        if outcome != "ok" {
            self.job_failures
                .get_or_create(&JobLabels { job: job.into() })
                .inc();
        }
        match failure {
            Some("fetch") => {
                self.fetch_failures.inc();
            }
            Some("send") => {
                self.send_failures.inc();
            }
            _ => {}
        }
    }

    /// Cluster reads that failed in a scan (counted whether or not the job failed).
    pub fn cluster_failed(&self, count: u64) {
        self.cluster_failures.inc_by(count);
    }

    /// A scan succeeded: its time, duration, findings and drift become the current values.
    pub fn scan_succeeded(
        &self,
        ended: DateTime<Utc>,
        duration: std::time::Duration,
        envs: &[String],
        findings: &[Finding],
    ) {
        self.set_last_scan(ended);
        self.last_scan_duration.set(duration.as_secs_f64());
        self.findings.clear();
        self.drift.clear();
        for env in envs {
            self.drift
                .get_or_create(&EnvLabels { env: env.clone() })
                .set(0);
        }
        for f in findings {
            self.findings
                .get_or_create(&FindingLabels {
                    severity: f.severity.to_string(),
                    rule: f.rule.to_string(),
                })
                .inc();
            if f.rule.is_live() {
                for env in &f.envs {
                    self.drift
                        .get_or_create(&EnvLabels { env: env.clone() })
                        .inc();
                }
            }
        }
    }

    /// The answer of `/healthz` at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> Health {
        let last_scan = self.last_scan.lock().map(|l| *l).unwrap_or(None);
        let since = last_scan.map_or(self.started, |t| t.max(self.started));
        let age = now - since;
        let scheduler = self.scheduler_running.load(Ordering::SeqCst);
        let status = if !scheduler {
            "scheduler not running"
        } else if age > self.max_scan_age {
            "last scan too old"
        } else {
            "ok"
        };
        Health {
            status,
            scheduler,
            last_scan,
            age_seconds: age.num_seconds(),
            max_age_seconds: self.max_scan_age.num_seconds(),
        }
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn health_needs_a_running_scheduler_and_a_fresh_scan_with_a_grace_period_after_start() {
        let status = Status::new(at(10, 0), chrono::Duration::minutes(60));
        status.set_last_scan(at(8, 0));
        assert_eq!(status.health(at(10, 5)).status, "scheduler not running");
        status.set_scheduler_running(true);
        assert!(
            status.health(at(10, 59)).ok(),
            "an hour's grace after start"
        );
        assert_eq!(status.health(at(11, 1)).status, "last scan too old");
        status.scan_succeeded(at(11, 2), std::time::Duration::from_secs(3), &[], &[]);
        let health = status.health(at(11, 30));
        assert!(health.ok());
        assert_eq!(health.age_seconds, 28 * 60);
        status.set_scheduler_running(false);
        assert!(!status.health(at(11, 30)).ok());
    }

    #[test]
    fn metrics_are_openmetrics_text_with_the_last_scan_and_failures() {
        let status = Status::new(at(10, 0), chrono::Duration::minutes(60));
        status.job_ended("scan", "failed", Some("fetch"));
        status.job_ended("digest", "failed", Some("send"));
        status.cluster_failed(2);
        status.set_next_run("scan", at(10, 15));
        status.scan_succeeded(at(10, 1), std::time::Duration::from_millis(1500), &[], &[]);
        let text = status.encode();
        for line in [
            "envparity_last_scan_duration_seconds 1.5",
            "envparity_fetch_failures_total 1",
            "envparity_send_failures_total 1",
            "envparity_cluster_failures_total 2",
            "envparity_job_failures_total{job=\"scan\"} 1",
            "envparity_job_runs_total{job=\"digest\",outcome=\"failed\"} 1",
            "envparity_next_run_timestamp_seconds{job=\"scan\"} 1795601700.0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
