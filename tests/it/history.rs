//! The history store on real SQLite files: round trips, finding lifecycles (including runs with errors
//! and runs recorded out of timeline order), metric series, a crash in the middle of a run, and the
//! files it must refuse without touching.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use envparity::codes::EventKind;
use envparity::finding::CheckError;
use envparity::finding::{Finding, Severity};
use envparity::history::{
    CRASH_AFTER_FIRST_WRITE, CommitRef, Durations, Event, History, HistoryError, Lifecycle,
    Outcome, RunKind, RunRecord, schema,
};
use envparity::metrics::{Metric, MetricKind};

/// Passes the database path to [`crash_child`].
const CHILD_DB_ENV: &str = "ENVPARITY_CRASH_CHILD_DB";

/// Day `n` of the test timeline, at 08:00 UTC.
fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
        .single()
        .expect("valid date")
        + Duration::days(n)
}

fn finding(service: &str, name: &str, severity: Severity) -> Finding {
    crate::support::inversion_finding(service, name, severity)
}

fn metric(service: &str, kind: MetricKind, value: f64) -> Metric {
    Metric {
        service: service.into(),
        env: "production".into(),
        other_env: None,
        workload: "Deployment/web".into(),
        container: Some("web".into()),
        resource: "memory".into(),
        kind,
        value,
    }
}

/// A scan on day `n` of commit `c<n>` by `author<n>`, with these findings.
fn run(kind: RunKind, n: i64, findings: Vec<Finding>) -> RunRecord {
    RunRecord {
        kind,
        started_at: day(n) + Duration::minutes(1),
        time: day(n),
        commit: Some(CommitRef {
            id: format!("c{n}"),
            time: day(n) - Duration::hours(1),
            author: format!("author{n}"),
            summary: format!("commit {n}"),
        }),
        durations: Durations {
            total_ms: 1200,
            fetch_ms: Some(100),
            render_ms: Some(900),
            check_ms: None,
        },
        fetch_error: None,
        errors: Vec::new(),
        findings,
        metrics: Vec::new(),
        events: Vec::new(),
        views: Vec::new(),
    }
}

fn scan(n: i64, findings: Vec<Finding>) -> RunRecord {
    run(RunKind::Scan, n, findings)
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("history.sqlite");
    (dir, path)
}

fn open(path: &Path) -> History {
    History::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Episodes as (fingerprint, opened commit, last-seen commit, resolved commit): comparable across
/// databases whose run ids differ.
fn episodes(h: &History, fingerprints: &[&str]) -> Vec<(String, String, String, Option<String>)> {
    let commit = |s: &envparity::history::Seen| s.commit.clone().expect("commit");
    fingerprints
        .iter()
        .flat_map(|fp| h.lifecycle(fp).expect("lifecycle"))
        .map(|l| {
            (
                l.finding.fingerprint.clone(),
                commit(&l.opened),
                commit(&l.last_seen),
                l.resolved.as_ref().map(commit),
            )
        })
        .collect()
}

fn quick_check(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open with rusqlite");
    conn.query_row("PRAGMA quick_check", [], |row| row.get(0))
        .expect("quick_check")
}

#[test]
fn run_round_trip() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    assert_eq!(h.path(), path);
    assert!(h.last_run().expect("last run").is_none());

    let mut record = scan(
        1,
        vec![
            finding("web", "web", Severity::Block),
            finding("web", "worker", Severity::Warn),
            finding("api", "api", Severity::Info),
        ],
    );
    record.errors = vec![CheckError {
        service: Some("batch".into()),
        env: Some("qa".into()),
        kind: envparity::codes::ErrorKind::Render,
        message: "apps/batch/overlays/qa: kustomize failed".into(),
    }];
    record.metrics = vec![metric("web", MetricKind::Limit, 1073741824.0)];
    record.events = vec![Event {
        time: day(1),
        kind: EventKind::ArgoSelfHeal,
        service: Some("web".into()),
        env: Some("production".into()),
        message: "replicas scaled by hand".into(),
        data: serde_json::json!({"manager": "kubectl-scale", "replicas": [3, 5]}),
    }];
    let id = h.record(&record).expect("record");

    let runs = h.runs(10).expect("runs");
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.id, id);
    assert_eq!(r.kind, RunKind::Scan);
    assert_eq!(r.time, record.time);
    assert_eq!(r.started_at, record.started_at);
    assert_eq!(r.commit, record.commit);
    assert_eq!(r.outcome, Outcome::Errors);
    assert_eq!((r.block, r.warn, r.info, r.error_count), (1, 1, 1, 1));
    assert_eq!(r.errors, record.errors);
    assert_eq!(r.fetch_error, None);
    assert_eq!(r.durations, record.durations);
    assert_eq!(h.last_run().expect("last run").as_ref(), Some(r));
    assert!(h.has_commit("c1").expect("has_commit"));
    assert!(!h.has_commit("c2").expect("has_commit"));

    let open_findings = h.open_findings(None).expect("open findings");
    let mut stored: Vec<Finding> = open_findings.iter().map(|l| l.finding.clone()).collect();
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    let mut expected = record.findings.clone();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(stored, expected);
    assert_eq!(h.open_findings(Some("api")).expect("api").len(), 1);

    let series = h.metric_series("web", None).expect("series");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].metric, record.metrics[0]);
    assert_eq!(series[0].commit.as_deref(), Some("c1"));

    let events = h.events(day(0), None).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].run, Some(id));
    assert_eq!(events[0].event, record.events[0]);

    let digest = Event {
        time: day(2),
        kind: EventKind::DigestSent,
        service: None,
        env: None,
        message: "weekly digest sent".into(),
        data: serde_json::json!({"to": ["team@example.com"]}),
    };
    h.record_event(&digest).expect("record event");
    let sent = h
        .events(day(0), Some(EventKind::DigestSent))
        .expect("events");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].run, None);
    assert_eq!(sent[0].event, digest);

    // Everything survives closing and reopening.
    drop(h);
    let h = open(&path);
    assert_eq!(h.runs(10).expect("runs"), runs);
}

#[test]
fn outcomes_follow_the_worst_problem() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    let mut fetch_failed = scan(5, Vec::new());
    fetch_failed.fetch_error = Some("cannot reach git.example.com".into());
    for (record, outcome) in [
        (scan(1, Vec::new()), Outcome::Clean),
        (
            scan(2, vec![finding("a", "a", Severity::Info)]),
            Outcome::Clean,
        ),
        (
            scan(3, vec![finding("a", "a", Severity::Warn)]),
            Outcome::Findings,
        ),
        (
            scan(4, vec![finding("a", "a", Severity::Block)]),
            Outcome::Blocking,
        ),
        (fetch_failed, Outcome::FetchFailed),
    ] {
        h.record(&record).expect("record");
        let last = h.last_run().expect("last").expect("a run");
        assert_eq!(last.outcome, outcome, "run on {}", record.time);
    }
}

#[test]
fn lifecycle_opens_resolves_and_reopens() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    let f = finding("web", "web", Severity::Block);
    let steady = finding("api", "api", Severity::Warn);
    let mut ids = Vec::new();
    for (n, present) in [(1, false), (2, true), (3, true), (4, false), (5, true)] {
        let mut findings = vec![steady.clone()];
        if present {
            findings.push(f.clone());
        }
        ids.push(h.record(&scan(n, findings)).expect("record"));
    }

    let episodes = h.lifecycle(&f.fingerprint).expect("lifecycle");
    assert_eq!(episodes.len(), 2, "{episodes:#?}");
    let first = &episodes[0];
    assert_eq!(first.finding, f);
    assert_eq!(first.opened.run, ids[1]);
    assert_eq!(first.opened.commit.as_deref(), Some("c2"));
    assert_eq!(first.opened.author.as_deref(), Some("author2"));
    assert_eq!(first.opened.time, day(2));
    assert_eq!(first.opened.commit_time, Some(day(2) - Duration::hours(1)));
    assert_eq!(first.last_seen.run, ids[2]);
    assert_eq!(first.last_seen.commit.as_deref(), Some("c3"));
    let resolved = first.resolved.as_ref().expect("resolved");
    assert_eq!(resolved.run, ids[3]);
    assert_eq!(resolved.commit.as_deref(), Some("c4"));
    assert_eq!(resolved.time, day(4));
    assert_eq!(first.age_days(day(100)), 2);

    let second = &episodes[1];
    assert_eq!(second.opened.run, ids[4]);
    assert_eq!(second.opened.commit.as_deref(), Some("c5"));
    assert_eq!(second.resolved, None);
    assert_eq!(second.age_days(day(8)), 3);

    let steady_episodes = h.lifecycle(&steady.fingerprint).expect("lifecycle");
    assert_eq!(steady_episodes.len(), 1);
    assert_eq!(steady_episodes[0].opened.run, ids[0]);
    assert_eq!(steady_episodes[0].last_seen.run, ids[4]);

    let open_now: Vec<String> = h
        .open_findings(None)
        .expect("open")
        .into_iter()
        .map(|l| l.finding.fingerprint)
        .collect();
    assert_eq!(
        open_now,
        [steady.fingerprint.clone(), f.fingerprint.clone()]
    );
    assert_eq!(h.open_findings(Some("web")).expect("open web").len(), 1);

    let resolved_since: Vec<Lifecycle> = h.resolved_since(day(3), None).expect("resolved");
    assert_eq!(resolved_since.len(), 1);
    assert_eq!(resolved_since[0].opened.run, ids[1]);
    assert!(h.resolved_since(day(5), None).expect("resolved").is_empty());
    assert!(
        h.resolved_since(day(3), Some("api"))
            .expect("resolved")
            .is_empty()
    );
}

#[test]
fn errors_do_not_resolve_findings_they_hide() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    let x = finding("x", "x", Severity::Warn);
    let y = finding("y", "y", Severity::Warn);
    let r1 = h
        .record(&scan(1, vec![x.clone(), y.clone()]))
        .expect("run 1");

    // x could not be rendered: its absence says nothing; y was checked and is gone.
    let mut x_failed = scan(2, Vec::new());
    x_failed.errors = vec![CheckError {
        service: Some("x".into()),
        env: Some("production".into()),
        kind: envparity::codes::ErrorKind::Render,
        message: "apps/x/overlays/production: kustomize failed".into(),
    }];
    let r2 = h.record(&x_failed).expect("run 2");
    let x_now = h.lifecycle(&x.fingerprint).expect("x");
    assert_eq!(x_now.len(), 1);
    assert_eq!(x_now[0].resolved, None);
    assert_eq!(x_now[0].last_seen.run, r1, "not seen by the failed run");
    let y_now = h.lifecycle(&y.fingerprint).expect("y");
    assert_eq!(y_now[0].resolved.as_ref().map(|s| s.run), Some(r2));

    // Nothing fetched, or an error about no particular service: nothing is resolved.
    let mut fetch_failed = scan(3, Vec::new());
    fetch_failed.fetch_error = Some("connection refused".into());
    h.record(&fetch_failed).expect("run 3");
    let mut global = scan(4, Vec::new());
    global.errors = vec![CheckError {
        service: None,
        env: None,
        kind: envparity::codes::ErrorKind::Config,
        message: "layout glob matched nothing".into(),
    }];
    h.record(&global).expect("run 4");
    assert_eq!(h.open_findings(Some("x")).expect("open").len(), 1);

    // A clean run that checked x resolves it.
    let r5 = h.record(&scan(5, Vec::new())).expect("run 5");
    let x_now = h.lifecycle(&x.fingerprint).expect("x");
    assert_eq!(x_now.len(), 1);
    assert_eq!(x_now[0].resolved.as_ref().map(|s| s.run), Some(r5));
}

#[test]
fn check_runs_stay_off_the_timeline() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    let f = finding("web", "web", Severity::Block);
    h.record(&scan(1, vec![f.clone()])).expect("scan");
    // A scoped `check` without the finding must not resolve it, nor open others.
    let mut check = run(
        RunKind::Check,
        2,
        vec![finding("api", "api", Severity::Warn)],
    );
    check.metrics = vec![metric("web", MetricKind::Limit, 1.0)];
    h.record(&check).expect("check");
    assert_eq!(h.open_findings(None).expect("open").len(), 1);
    assert_eq!(
        h.lifecycle(&f.fingerprint).expect("lifecycle")[0].resolved,
        None
    );
    assert!(h.metric_series("web", None).expect("series").is_empty());
    assert_eq!(h.runs(10).expect("runs").len(), 2);
}

#[test]
fn out_of_order_backfill_gives_the_in_order_lifecycle() {
    let a = finding("web", "a", Severity::Block);
    let b = finding("web", "b", Severity::Warn);
    let c = finding("api", "c", Severity::Warn);
    let runs = [
        run(RunKind::Backfill, 1, vec![a.clone(), b.clone()]),
        scan(3, vec![a.clone(), c.clone()]),
        scan(4, vec![c.clone()]),
    ];
    let fps = [
        a.fingerprint.as_str(),
        b.fingerprint.as_str(),
        c.fingerprint.as_str(),
    ];

    let (_d1, in_order_path) = temp_db();
    let mut in_order = open(&in_order_path);
    for r in &runs {
        in_order.record(r).expect("record");
    }
    let (_d2, shuffled_path) = temp_db();
    let mut shuffled = open(&shuffled_path);
    for r in [&runs[1], &runs[2], &runs[0]] {
        shuffled.record(r).expect("record");
    }

    let expected = episodes(&in_order, &fps);
    assert_eq!(
        expected,
        [
            (
                a.fingerprint.clone(),
                "c1".into(),
                "c3".into(),
                Some("c4".into())
            ),
            (
                b.fingerprint.clone(),
                "c1".into(),
                "c1".into(),
                Some("c3".into())
            ),
            (c.fingerprint.clone(), "c3".into(), "c4".into(), None),
        ]
    );
    assert_eq!(episodes(&shuffled, &fps), expected);
}

#[test]
fn backfill_inside_an_episode_splits_it() {
    let a = finding("web", "a", Severity::Block);
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    h.record(&scan(1, vec![a.clone()])).expect("day 1");
    h.record(&scan(5, vec![a.clone()])).expect("day 5");
    assert_eq!(
        episodes(&h, &[&a.fingerprint]),
        [(a.fingerprint.clone(), "c1".into(), "c5".into(), None)]
    );
    // A commit in between without the finding: it was fixed, then broken again.
    h.record(&run(RunKind::Backfill, 3, Vec::new()))
        .expect("day 3");
    assert_eq!(
        episodes(&h, &[&a.fingerprint]),
        [
            (
                a.fingerprint.clone(),
                "c1".into(),
                "c1".into(),
                Some("c3".into())
            ),
            (a.fingerprint.clone(), "c5".into(), "c5".into(), None),
        ]
    );
    // And one before everything, with it: the first episode now opens earlier.
    h.record(&run(RunKind::Backfill, 0, vec![a.clone()]))
        .expect("day 0");
    h.record(&run(RunKind::Backfill, 2, vec![a.clone()]))
        .expect("day 2");
    assert_eq!(
        episodes(&h, &[&a.fingerprint]),
        [
            (
                a.fingerprint.clone(),
                "c0".into(),
                "c2".into(),
                Some("c3".into())
            ),
            (a.fingerprint.clone(), "c5".into(), "c5".into(), None),
        ]
    );
}

#[test]
fn metric_series_is_ordered_by_time() {
    let (_dir, path) = temp_db();
    let mut h = open(&path);
    // Recorded out of order: a scan first, then backfilled older commits.
    for n in [3, 1, 2] {
        let mut r = run(
            if n == 3 {
                RunKind::Scan
            } else {
                RunKind::Backfill
            },
            n,
            Vec::new(),
        );
        r.metrics = vec![
            metric("web", MetricKind::Limit, n as f64),
            metric("web", MetricKind::LimitRatio, n as f64 / 10.0),
            metric("api", MetricKind::Limit, 100.0),
        ];
        h.record(&r).expect("record");
    }
    let all = h.metric_series("web", None).expect("series");
    let times: Vec<DateTime<Utc>> = all.iter().map(|p| p.time).collect();
    assert_eq!(times, [day(1), day(1), day(2), day(2), day(3), day(3)]);
    let limits = h
        .metric_series("web", Some(MetricKind::Limit))
        .expect("limits");
    let values: Vec<f64> = limits.iter().map(|p| p.metric.value).collect();
    assert_eq!(values, [1.0, 2.0, 3.0]);
    let commits: Vec<&str> = limits.iter().filter_map(|p| p.commit.as_deref()).collect();
    assert_eq!(commits, ["c1", "c2", "c3"]);
    assert!(limits.iter().all(|p| p.metric.kind == MetricKind::Limit));
    assert_eq!(h.metric_series("nope", None).expect("empty").len(), 0);
}

/// The child half of [`crash_mid_run_leaves_only_complete_runs`]: records a run with the crash hook set,
/// so the process aborts inside the run's transaction. Does nothing when run on its own.
#[test]
#[ignore = "run in a child process by crash_mid_run_leaves_only_complete_runs"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let _failpoints = fail::FailScenario::setup();
    let mut h = open(Path::new(&path));
    let mut r = scan(3, vec![finding("web", "new", Severity::Block)]);
    r.metrics = vec![metric("web", MetricKind::Limit, 3.0)];
    h.record(&r).expect("record");
    panic!("the crash hook did not abort the process");
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn crash_mid_run_leaves_only_complete_runs() {
    let (_dir, path) = temp_db();
    let f = finding("web", "web", Severity::Warn);
    let before = {
        let mut h = open(&path);
        h.record(&scan(1, vec![f.clone()])).expect("run 1");
        h.record(&scan(2, vec![f.clone()])).expect("run 2");
        h.runs(10).expect("runs")
    };

    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .args([
            "history::crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DB_ENV, &path)
        .env("FAILPOINTS", format!("{CRASH_AFTER_FIRST_WRITE}=return"))
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the child should have aborted: {stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "the child should die of SIGABRT, not {:?}:\n{}\n{stderr}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }

    let h = open(&path);
    assert_eq!(quick_check(&path), "ok");
    assert_eq!(h.runs(10).expect("runs"), before);
    let open_findings = h.open_findings(None).expect("open");
    assert_eq!(open_findings.len(), 1);
    assert_eq!(open_findings[0].finding, f);
    assert!(h.metric_series("web", None).expect("series").is_empty());
}

#[test]
fn random_bytes_are_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    // A fixed pseudo-random sequence (xorshift), so the test is reproducible.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..16384)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(&path, &bytes).expect("write");

    let err = History::open(&path).expect_err("garbage must be refused");
    assert!(
        matches!(&err, HistoryError::Corrupt { path: p, .. } if p == &path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("left untouched"), "{message}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "the file changed"
    );
}

#[test]
fn damaged_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let mut h = open(&path);
        for n in 0..40 {
            let findings = (0..20)
                .map(|i| finding("web", &format!("w{n}-{i}"), Severity::Warn))
                .collect();
            h.record(&scan(n, findings)).expect("record");
        }
    }
    // Overwrite pages past the header with junk: SQLite still opens it, quick_check does not pass.
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(
        bytes.len() > 64 * 1024,
        "database too small to damage: {}",
        bytes.len()
    );
    for b in &mut bytes[8192..40960] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).expect("write");

    let err = History::open(&path).expect_err("damage must be refused");
    assert!(matches!(&err, HistoryError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "the file changed"
    );
}

#[test]
fn newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    drop(open(&path));
    let newer = schema::supported_version() + 1;
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", newer)
            .expect("set user_version");
    }
    let bytes = std::fs::read(&path).expect("read");
    match History::open(&path) {
        Err(HistoryError::TooNew {
            path: p,
            found,
            supported,
        }) => {
            assert_eq!(p, path);
            assert_eq!(found, newer);
            assert_eq!(supported, schema::supported_version());
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
}

#[test]
fn another_programs_database_is_refused() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE notes (body TEXT);")
            .expect("create");
    }
    let err = History::open(&path).expect_err("foreign database");
    assert!(matches!(err, HistoryError::NotHistory { .. }), "{err:?}");
}

#[test]
fn missing_database_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a").join("b").join("history.sqlite");
    drop(open(&path));
    assert!(path.is_file());
    // Reopening applies no migration twice.
    let mut h = open(&path);
    h.record(&scan(1, Vec::new())).expect("record");
    drop(h);
    let conn = rusqlite::Connection::open(&path).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("user_version");
    assert_eq!(version, schema::supported_version());
}

fn view(service: &str, image: &str) -> envparity::view::ServiceView {
    envparity::view::ServiceView {
        service: service.into(),
        envs: vec!["production".into()],
        workloads: vec![envparity::view::WorkloadView {
            workload: format!("Deployment/{service}"),
            replicas: [("production".to_string(), Some(2))].into_iter().collect(),
            containers: vec![envparity::view::ContainerView {
                name: service.into(),
                init: false,
                per_env: [(
                    "production".to_string(),
                    envparity::view::ContainerEnv {
                        image: Some(image.into()),
                        ..Default::default()
                    },
                )]
                .into_iter()
                .collect(),
                env_names: Vec::new(),
            }],
        }],
        ingresses: Vec::new(),
    }
}

#[test]
fn service_views_keep_the_newest_timeline_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = History::open(&dir.path().join("history.sqlite")).expect("open");
    let mut r3 = run(RunKind::Scan, 3, Vec::new());
    r3.views = vec![view("web", "web:3")];
    h.record(&r3).expect("record");
    // A backfilled older run does not replace the newer view…
    let mut r1 = run(RunKind::Backfill, 1, Vec::new());
    r1.views = vec![view("web", "web:1"), view("api", "api:1")];
    h.record(&r1).expect("record");
    // …and a check run is not on the timeline at all.
    let mut c = run(RunKind::Check, 9, Vec::new());
    c.views = vec![view("web", "web:check")];
    h.record(&c).expect("record");
    let views = h.service_views().expect("views");
    let images: Vec<(&str, Option<&str>)> = views
        .iter()
        .map(|v| {
            (
                v.service.as_str(),
                v.workloads[0].containers[0].per_env["production"]
                    .image
                    .as_deref(),
            )
        })
        .collect();
    assert_eq!(images, [("api", Some("api:1")), ("web", Some("web:3"))]);
}

#[cfg(unix)]
#[test]
fn the_state_directory_and_the_history_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let path = state.join("history.sqlite");
    let mut history = open(&path);
    history.record(&scan(1, Vec::new())).expect("record");
    assert_eq!(mode(&state), 0o700, "a state directory envparity creates");
    assert_eq!(mode(&path), 0o600, "a history envparity creates");
    let wal = state.join("history.sqlite-wal");
    if wal.exists() {
        assert_eq!(
            mode(&wal),
            0o600,
            "SQLite gives the WAL the database's mode"
        );
    }
    drop(history);

    // A history an older envparity left world-readable is tightened, and still opens.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let history = open(&path);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(history.runs(10).expect("runs").len(), 1);
}
