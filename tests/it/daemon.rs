//! `envparity daemon` end to end: `--once`, the single-instance lock and a scheduled run ended by
//! SIGTERM (the real binary, a local git repo, the real kustomize and SQLite).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use envparity::history::{History, JobOutcome};

use crate::gitserver::WorkRepo;
use crate::support::envparity;

pub(crate) fn repo(dir: &Path) -> WorkRepo {
    let repo = WorkRepo::init(&dir.join("infra"));
    repo.write(
        "apps/inventory/base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    repo.write(
        "apps/inventory/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: inventory\nspec:\n  selector:\n    matchLabels: {app: inventory}\n  template:\n    metadata:\n      labels: {app: inventory}\n    spec:\n      containers:\n        - name: inventory\n          image: ghcr.io/acme/inventory:1.0.0\n",
    );
    for env in ["dev", "staging", "production"] {
        repo.write(
            &format!("apps/inventory/overlays/{env}/kustomization.yaml"),
            &format!("resources:\n  - ../../base\nnamespace: {env}\n"),
        );
    }
    repo.commit("initial");
    repo
}

/// A config next to the repo with `[daemon]` `extra` lines; returns its path.
pub(crate) fn config(dir: &Path, extra: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!("[source]\npath = \"infra\"\n[state]\ndir = \"state\"\n[daemon]\n{extra}"),
    )
    .expect("config");
    path.to_str().expect("utf-8").to_string()
}

pub(crate) fn spawn(dir: &Path, config: &str) -> Child {
    spawn_with(dir, config, &[])
}

/// [`spawn`] with extra environment variables.
pub(crate) fn spawn_with(dir: &Path, config: &str, env: &[(&str, &str)]) -> Child {
    crate::support::command()
        .args(["daemon", "--config", config])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon")
}

fn scans(state: &Path) -> usize {
    History::open(&state.join("history.sqlite"))
        .and_then(|h| h.runs(100))
        .map(|r| r.len())
        .unwrap_or(0)
}

pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub(crate) fn term(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -TERM");
}

#[test]
fn once_scans_publishes_the_report_and_skips_the_digest_without_smtp() {
    let dir = tempfile::tempdir().expect("dir");
    repo(dir.path());
    let config = config(dir.path(), "");
    let out = envparity(dir.path(), &["daemon", "--once", "--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(scans(&dir.path().join("state")), 1, "{stderr}");
    assert!(dir.path().join("reports/index.html").is_file(), "{stderr}");
    assert!(stderr.contains("scan recorded"), "{stderr}");
    assert!(stderr.contains("digest skipped"), "{stderr}");

    // A failing job (the site cannot be published over a plain file) is logged and recorded, not fatal:
    // the scan before it is still recorded, the digest still runs, the exit code says 1 (for cron). An
    // invalid config is exit 2 with the line.
    std::fs::write(dir.path().join("blocker"), "a file").expect("file");
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[source]\npath = \"infra\"\n[state]\ndir = \"state\"\n[report]\nout = \"blocker/site\"\n",
    )
    .expect("config");
    let broken = broken.to_str().expect("utf-8");
    let out = envparity(dir.path(), &["daemon", "--once", "--config", broken]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("job failed"), "{stderr}");
    assert!(stderr.contains("digest skipped"), "{stderr}");
    // The repo did not change: the second scan confirmed the first run (one run, two scan job runs).
    assert_eq!(scans(&dir.path().join("state")), 1, "{stderr}");
    let history = History::open(&dir.path().join("state/history.sqlite")).expect("open");
    let report = history.job_runs(Some("report"), 1).expect("job runs");
    assert_eq!(report[0].outcome, JobOutcome::Failed);
    assert_eq!(report[0].failure.as_deref(), Some("report"));
    assert!(
        report[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("blocker"))
    );
    let scans_ok = history.job_runs(Some("scan"), 10).expect("job runs");
    assert_eq!(scans_ok.len(), 2);
    assert!(
        scans_ok
            .iter()
            .all(|r| r.outcome == JobOutcome::Ok && r.run == Some(1))
    );
    drop(history);
    // What an operator reads: the job runs, newest first.
    let out = envparity(dir.path(), &["history", "--jobs", "--config", broken]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("daemon job runs (6)"), "{text}");
    assert!(
        lines[1].contains("digest") && lines[1].contains("ok"),
        "{text}"
    );
    assert!(
        lines[2].contains("report")
            && lines[2].contains("failed (report)")
            && lines[2].contains("blocker"),
        "{text}"
    );
    let out = envparity(
        dir.path(),
        &["history", "--jobs", "--format", "json", "--config", broken],
    );
    let runs = crate::support::json(&out);
    assert_eq!(runs[1]["outcome"], "failed", "{runs:#}");
    assert_eq!(runs[2]["job"], "scan", "{runs:#}");
    assert!(runs[2]["run"].is_i64(), "{runs:#}");
    let bad = self::config(dir.path(), "scan = \"every minute\"\n");
    let out = envparity(dir.path(), &["daemon", "--once", "--config", &bad]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config.toml:6:"), "{stderr}");
}

#[test]
fn a_scheduled_daemon_scans_refuses_a_second_one_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    repo(dir.path());
    // 6-field (seconds) schedule: a scan every 2 seconds.
    let config = config(dir.path(), "scan = \"*/2 * * * * *\"\n");
    let state = dir.path().join("state");
    let mut first = spawn(dir.path(), &config);

    let start = Instant::now();
    while scans(&state) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no scan recorded within 60 s"
        );
        if let Some(status) = first.try_wait().expect("wait") {
            panic!("daemon exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = envparity(dir.path(), &["daemon", "--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another envparity daemon") && stderr.contains("daemon.lock"),
        "{stderr}"
    );

    term(&first);
    let status = wait_exit(&mut first, Duration::from_secs(40)).unwrap_or_else(|| {
        let _ = first.kill();
        panic!("daemon did not stop within 40 s of SIGTERM")
    });
    let mut stderr = String::new();
    if let Some(mut e) = first.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let history = History::open(&state.join("history.sqlite")).expect("opens cleanly");
    assert!(!history.runs(100).expect("runs").is_empty());
    assert!(dir.path().join("reports/index.html").is_file());
}

#[test]
fn a_listen_address_in_use_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().expect("dir");
    repo(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let config = config(dir.path(), &format!("listen = \"127.0.0.1:{port}\"\n"));
    let out = envparity(dir.path(), &["daemon", "--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(scans(&dir.path().join("state")), 0, "nothing ran: {stderr}");
}
