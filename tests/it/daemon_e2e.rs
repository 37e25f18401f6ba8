//! `envparity daemon` end to end with nothing faked: the real binary on second-level schedules, mirroring
//! an infra repo from a real `git daemon` on 127.0.0.1, rendering with the real kustomize, recording in
//! SQLite, republishing the report site after every scan and sending the weekly digest through a real
//! SMTP server (aiosmtpd) on 127.0.0.1 — once, however many digest ticks follow — until SIGTERM.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use envparity::codes::EventKind;
use envparity::history::{History, JobOutcome, JobRun, RunKind, RunSummary};
use envparity::notify::Period;
use mail_parser::MessageParser;

use crate::daemon::{repo, spawn_with, term, wait_exit};
use crate::digest::Smtp;
use crate::gitserver::GitServer;
use crate::support::{envparity, free_port, http_get};

/// Bound of each wait for the daemon to do something (a scan with three kustomize renders and a site
/// takes a few seconds on a slow 2-core machine; the schedules fire every 2 and 3 seconds).
const WAIT: Duration = Duration::from_secs(60);
/// The daemon waits up to 30 s for running jobs after SIGTERM.
const STOP: Duration = Duration::from_secs(35);
const RECIPIENT: &str = "platform@example.com";

/// The daemon process, its stderr collected by a thread (so that a full pipe never blocks it and every
/// failure can show what it logged); killed on drop if still running.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    started: Instant,
}

impl Running {
    fn start(dir: &Path, config: &str) -> Running {
        Running::start_with(dir, config, &[])
    }

    fn start_with(dir: &Path, config: &str, env: &[(&str, &str)]) -> Running {
        let mut child = spawn_with(dir, config, env);
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        Running {
            child,
            log,
            reader: Some(reader),
            started: Instant::now(),
        }
    }

    /// What the daemon logged so far.
    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many log lines contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Polls `probe` until it gives a value; panics (with the daemon's log) after [`WAIT`] or when the
    /// daemon exits.
    fn wait_for<T>(&mut self, what: &str, mut probe: impl FnMut(&Running) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "the daemon exited ({status}) while waiting for {what}\n{}",
                    self.dump()
                );
            }
            assert!(
                start.elapsed() < WAIT,
                "{what}: not within {WAIT:?}\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM, then the exit status (within [`STOP`]) and the complete log.
    fn stop(&mut self) -> (ExitStatus, String) {
        term(&self.child);
        let status = wait_exit(&mut self.child, STOP).unwrap_or_else(|| {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "the daemon did not exit within {STOP:?} of SIGTERM\n{}",
                self.dump()
            )
        });
        // The pipe closes with the daemon; give the reader a moment to take the last lines.
        if let Some(reader) = self.reader.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        (status, self.log())
    }

    fn dump(&self) -> String {
        format!(
            "--- daemon stderr ({:.1} s after start) ---\n{}",
            self.started.elapsed().as_secs_f64(),
            self.log()
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The recorded runs, newest first; `None` while the daemon has not created the database yet (opening it
/// here would create it) or it cannot be read right now.
fn runs(db: &Path) -> Option<Vec<RunSummary>> {
    if !db.is_file() {
        return None;
    }
    History::open(db).and_then(|h| h.runs(1000)).ok()
}

/// A scan (not the backfill before the daemon started) recorded for `commit`.
fn scanned(db: &Path, commit: &str) -> Option<RunSummary> {
    runs(db)?
        .into_iter()
        .find(|r| r.kind == RunKind::Scan && r.commit.as_ref().is_some_and(|c| c.id == commit))
}

/// The published site: `index.html` and `data/latest.json` (parsed), once both are there.
fn published(site: &Path) -> Option<(String, serde_json::Value)> {
    let index = std::fs::read_to_string(site.join("index.html")).ok()?;
    let latest = std::fs::read(site.join("data/latest.json")).ok()?;
    Some((index, serde_json::from_slice(&latest).ok()?))
}

/// The rules of the open findings in a `latest.json`.
fn rules(latest: &serde_json::Value) -> Vec<String> {
    latest["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
        .collect()
}

fn config(dir: &Path, url: &str, smtp_port: u16, http_port: u16) -> String {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nurl = \"{url}\"\n\n\
             [state]\ndir = \"state\"\n\n\
             [report]\nout = \"site\"\n\n\
             [digest]\ntimezone = \"UTC\"\nsend_when_quiet = true\n\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
             from = \"envparity <envparity@example.com>\"\nto = [\"{RECIPIENT}\"]\ntimeout_seconds = 10\n\n\
             [daemon]\nscan = \"*/2 * * * * *\"\nreport = \"after-scan\"\ndigest = \"*/3 * * * * *\"\n\
             listen = \"127.0.0.1:{http_port}\"\nserve_site = true\n"
        ),
    )
    .expect("write config");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn the_daemon_follows_a_served_repo_republishes_the_site_sends_one_digest_and_stops_on_sigterm() {
    let server = GitServer::start();
    let infra = repo(server.base()); // served as git://…/infra
    let first = infra.head();
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = Smtp::mailbox(dir.path());
    let http = free_port();
    let config = config(dir.path(), &server.url("infra"), smtp.port, http);
    let db = dir.path().join("state/history.sqlite");
    let site: PathBuf = dir.path().join("site");
    let week_before = Period::last_complete(chrono::Utc::now(), chrono_tz::UTC).label();

    // The history starts with the repo's past (its commits are dated before last week ended), so the
    // digest has scans to speak about; a week nobody scanned gets no digest.
    let out = envparity(dir.path(), &["backfill", "--config", &config]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut daemon = Running::start(dir.path(), &config);

    // The first scan is recorded with the served commit, and the site shows it.
    let run = daemon.wait_for("a scan of the first commit", |_| scanned(&db, &first));
    assert!(run.fetch_error.is_none(), "{run:?}\n{}", daemon.dump());
    assert!(daemon.log().contains("scan recorded"), "{}", daemon.dump());
    let (_, latest) = daemon.wait_for("the site of the first commit", |_| {
        published(&site).filter(|(_, latest)| latest["commit"] == first.as_str())
    });
    assert!(
        !rules(&latest).iter().any(|r| r == "image"),
        "no image finding before the change: {latest:#}\n{}",
        daemon.dump()
    );

    // A new commit on the server: production runs another inventory image than dev and staging.
    infra.write(
        "apps/inventory/overlays/production/kustomization.yaml",
        "resources:\n  - ../../base\nnamespace: production\nimages:\n  - name: ghcr.io/acme/inventory\n    newTag: 0.9.0\n",
    );
    let second = infra.commit("pin production inventory to 0.9.0");
    assert_ne!(first, second);
    let run = daemon.wait_for("a scan of the pushed commit", |_| scanned(&db, &second));
    assert!(
        run.block >= 1,
        "the image finding blocks: {run:?}\n{}",
        daemon.dump()
    );
    let (index, latest) = daemon.wait_for("the site republished with the pushed commit", |_| {
        published(&site).filter(|(_, latest)| latest["commit"] == second.as_str())
    });
    assert!(
        rules(&latest).iter().any(|r| r == "image"),
        "the published site shows the image finding: {latest:#}\n{}",
        daemon.dump()
    );
    assert!(
        index.contains("pin production inventory to 0.9.0"),
        "index.html names the new commit:\n{index}\n{}",
        daemon.dump()
    );

    // The listener: healthy after a fresh scan, metrics of that scan, the site itself.
    let (code, health) = daemon.wait_for("/healthz", |_| http_get(http, "/healthz"));
    assert_eq!(code, 200, "{health}\n{}", daemon.dump());
    let health: serde_json::Value = serde_json::from_str(&health).expect("healthz is JSON");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["last_scan"].is_string(), "{health}");
    let (code, metrics) = http_get(http, "/metrics").expect("/metrics answers");
    assert_eq!(code, 200);
    for needle in [
        "envparity_last_scan_timestamp_seconds ",
        "envparity_last_scan_duration_seconds ",
        "envparity_findings{severity=\"block\",rule=\"image\"} 1",
        "envparity_job_runs_total{job=\"scan\",outcome=\"ok\"}",
        "envparity_next_run_timestamp_seconds{job=\"digest\"}",
        "envparity_fetch_failures_total 0",
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }
    let (code, page) = http_get(http, "/").expect("the site answers");
    assert_eq!(code, 200);
    assert!(page.contains("pin production inventory to 0.9.0"), "{page}");
    assert_eq!(http_get(http, "/no/such/page").map(|r| r.0), Some(404));

    // The digest of the last complete week: sent once, then every tick finds it sent.
    let first_seen = daemon.wait_for("the digest email", |_| {
        Some(smtp.messages().len()).filter(|n| *n > 0)
    });
    let ticks = daemon.count("digest already sent");
    daemon.wait_for("three more digest ticks after the email", |d| {
        (d.count("digest already sent") >= ticks + 3).then_some(())
    });
    let week_after = Period::last_complete(chrono::Utc::now(), chrono_tz::UTC).label();
    // Only a test that straddles Monday 00:00 UTC legitimately sees the next week's digest too.
    let weeks = if week_before == week_after { 1 } else { 2 };
    let received = smtp.messages();
    assert_eq!(
        received.len(),
        weeks,
        "exactly one digest per week after several ticks ({first_seen} when first seen)\n{}",
        daemon.dump()
    );
    assert_eq!(daemon.count("digest sent"), weeks, "{}", daemon.dump());
    let msg = MessageParser::default()
        .parse(&received[0])
        .expect("parse the digest");
    let subject = msg.subject().unwrap_or_default().to_string();
    let week = [&week_before, &week_after]
        .into_iter()
        .find(|w| subject.contains(w.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "the subject {subject:?} names neither {week_before} nor {week_after}\n{}",
                daemon.dump()
            )
        })
        .clone();
    let to: Vec<String> = msg
        .to()
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .collect();
    assert_eq!(to, [RECIPIENT], "To: of {subject:?}");
    // The envelope too (aiosmtpd's Mailbox handler records it).
    let rcpt = msg
        .header_raw("X-RcptTo")
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(rcpt, RECIPIENT, "envelope recipients of {subject:?}");

    // SIGTERM: a clean exit, and the history stays readable.
    let (status, log) = daemon.stop();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{log}");
    assert!(
        http_get(http, "/healthz").is_none(),
        "the listener stopped with the daemon"
    );
    assert!(log.contains("SIGTERM"), "{log}");
    let history = History::open(&db).expect("the history opens after the daemon stopped");
    let runs = history.runs(1000).expect("runs");
    assert!(
        runs.iter()
            .any(|r| r.commit.as_ref().is_some_and(|c| c.id == second)),
        "{runs:?}"
    );
    let sent: Vec<_> = history
        .events(chrono::DateTime::UNIX_EPOCH, Some(EventKind::DigestSent))
        .expect("events")
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(sent.len(), weeks, "one digest-sent event: {sent:?}\n{log}");
    assert_eq!(sent[0].data["period"], week.as_str(), "{sent:?}");
    assert_eq!(
        sent[0].data["recipients"],
        serde_json::json!([RECIPIENT]),
        "{sent:?}"
    );
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn failed_jobs_are_recorded_and_backed_off_and_a_panicking_job_does_not_stop_the_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = free_port();
    // Nothing serves this repo: every scan fails to fetch. The report job panics (test hook).
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nurl = \"git://127.0.0.1:{}/infra\"\n[state]\ndir = \"state\"\n\
             [daemon]\nscan = \"* * * * * *\"\nreport = \"* * * * * *\"\nbackoff_seconds = 2\n\
             max_backoff_seconds = 4\nlisten = \"127.0.0.1:{http}\"\n",
            free_port()
        ),
    )
    .expect("config");
    let config = path.to_str().expect("utf-8");
    let db = dir.path().join("state/history.sqlite");
    let failpoints = format!(
        "{}report=panic",
        envparity::daemon::jobs::PANIC_IN_JOB_PREFIX
    );
    let mut daemon = Running::start_with(dir.path(), config, &[("FAILPOINTS", &failpoints)]);

    let job_runs = |job: &str| -> Vec<JobRun> {
        if !db.is_file() {
            return Vec::new();
        }
        let mut runs = History::open(&db)
            .and_then(|h| h.job_runs(Some(job), 100))
            .unwrap_or_default();
        runs.reverse();
        runs
    };
    let scans = daemon.wait_for("four failed scans", |_| {
        Some(job_runs("scan")).filter(|r| r.len() >= 4)
    });
    for run in &scans {
        assert_eq!(run.outcome, JobOutcome::Failed, "{run:?}");
        assert_eq!(run.failure.as_deref(), Some("fetch"), "{run:?}");
        assert!(
            run.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{run:?}"
        );
    }
    // Ticks come every second; after failures the waits are 2 s, then 4 s (less up to 20 % jitter).
    let gap = |i: usize| (scans[i + 1].started_at - scans[i].started_at).num_milliseconds();
    assert!(
        gap(0) >= 1500,
        "first backoff {} ms\n{}",
        gap(0),
        daemon.dump()
    );
    assert!(
        gap(1) >= 3000,
        "second backoff {} ms\n{}",
        gap(1),
        daemon.dump()
    );
    assert!(
        gap(2) >= 3000,
        "capped backoff {} ms\n{}",
        gap(2),
        daemon.dump()
    );
    assert!(
        daemon.count("backing off after failures") > 0,
        "{}",
        daemon.dump()
    );

    let reports = daemon.wait_for("two panicked report runs", |_| {
        Some(job_runs("report")).filter(|r| r.len() >= 2)
    });
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == JobOutcome::Panicked && r.failure.as_deref() == Some("panic")),
        "{reports:?}"
    );
    assert!(
        daemon.child.try_wait().expect("try_wait").is_none(),
        "still running"
    );

    let (code, metrics) = http_get(http, "/metrics").expect("/metrics answers");
    assert_eq!(code, 200);
    assert!(
        !metrics.contains("envparity_fetch_failures_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("envparity_job_runs_total{job=\"report\",outcome=\"panicked\"}"),
        "{metrics}"
    );

    let (status, log) = daemon.stop();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{log}");
}

#[test]
fn a_tick_missed_while_down_runs_once_at_start_up_and_not_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo(dir.path());
    // Yearly schedules: their last tick (1 January) passed before the first start, and not since.
    let config =
        crate::daemon::config(dir.path(), "scan = \"0 0 1 1 *\"\ndigest = \"0 0 1 1 *\"\n");
    let db = dir.path().join("state/history.sqlite");
    let job_runs = |job: &str| {
        History::open(&db)
            .and_then(|h| h.job_runs(Some(job), 100))
            .map(|r| r.len())
            .unwrap_or(0)
    };

    let mut first = Running::start(dir.path(), &config);
    first.wait_for("the missed scan and digest at start-up", |_| {
        (db.is_file() && job_runs("scan") == 1 && job_runs("digest") == 1).then_some(())
    });
    let (status, log) = first.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(log.matches("running it now").count(), 2, "{log}");

    // Restarted: both ran after their last tick, nothing is due until next January.
    let mut second = Running::start(dir.path(), &config);
    second.wait_for("the restarted daemon", |d| {
        d.log().contains("daemon started").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let (status, log) = second.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("running it now"), "{log}");
    assert_eq!((job_runs("scan"), job_runs("digest")), (1, 1), "{log}");
    assert!(log.contains("next=20"), "the next tick is logged: {log}");
}
