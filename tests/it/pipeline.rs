//! scan, backfill, history and the ratchet gate end to end: the real binary, a real git daemon on
//! 127.0.0.1, the real kustomize and a real SQLite file.

use std::path::Path;

use envparity::finding::fingerprint;
use envparity::history::History;
use envparity::metrics::MetricKind;

use crate::gitserver::{EPOCH, GitServer, HttpGitServer, WorkRepo};
use crate::support::{envparity, finding, json};

/// One service, `inventory`, whose memory limit is `limits[env]` in each environment.
fn write_inventory(repo: &WorkRepo, staging_limit: &str) {
    repo.write(
        "apps/inventory/base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    repo.write(
        "apps/inventory/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: inventory\nspec:\n  selector:\n    matchLabels: {app: inventory}\n  template:\n    metadata:\n      labels: {app: inventory}\n    spec:\n      containers:\n        - name: inventory\n          image: ghcr.io/acme/inventory:1.0.0\n          resources:\n            requests: {memory: 512Mi}\n            limits: {memory: 512Mi}\n",
    );
    for env in ["dev", "staging", "production"] {
        let mut k = format!("resources:\n  - ../../base\nnamespace: {env}\n");
        if env == "staging" {
            k.push_str("patches:\n  - path: memory.yaml\n");
            repo.write(
                "apps/inventory/overlays/staging/memory.yaml",
                &format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: inventory\nspec:\n  template:\n    spec:\n      containers:\n        - name: inventory\n          resources:\n            requests: {{memory: {staging_limit}}}\n            limits: {{memory: {staging_limit}}}\n"
                ),
            );
        }
        repo.write(
            &format!("apps/inventory/overlays/{env}/kustomization.yaml"),
            &k,
        );
    }
}

fn inversion() -> String {
    fingerprint(
        "limit-inversion",
        "inventory",
        "Deployment",
        "inventory",
        Some("inventory"),
        "resources.limits.memory",
    )
}

fn run(cwd: &Path, args: &[&str]) -> std::process::Output {
    envparity(cwd, args)
}

#[test]
fn backfill_dates_a_limit_inversion_to_its_commit_and_author() {
    let server = GitServer::start();
    let repo = server.repo("infra");
    write_inventory(&repo, "512Mi");
    let c1 = repo.commit("all environments at 512Mi");
    repo.write("README.md", "# infra\n");
    let c2 = repo.commit("unrelated: a README");
    write_inventory(&repo, "2Gi");
    let t3 = repo.next_time();
    let c3 = repo.commit_as(
        "staging: 2Gi for load tests",
        "Grace Hopper",
        "grace@example.org",
    );
    write_inventory(&repo, "512Mi");
    let t4 = repo.next_time();
    let c4 = repo.commit("staging back to 512Mi");

    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let url = server.url("infra");
    let out = run(state.path(), &["backfill", "--repo", &url, "--state", st]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 commit(s) walked, 4 recorded"), "{text}");
    // Only the changed overlays were rendered: 4 at the first commit (base + 3), none for the README, the
    // staging overlay twice (2Gi, then back to a digest seen before: a cache hit).
    assert!(text.contains("5 overlay render(s)"), "{text}");

    let history = History::open(&state.path().join("history.sqlite")).expect("history");
    let episodes = history.lifecycle(&inversion()).expect("lifecycle");
    assert_eq!(episodes.len(), 1, "{episodes:#?}");
    let e = &episodes[0];
    assert_eq!(e.opened.commit.as_deref(), Some(c3.as_str()));
    assert_eq!(
        e.opened.author.as_deref(),
        Some("Grace Hopper <grace@example.org>")
    );
    assert_eq!(e.opened.when().timestamp(), t3);
    let resolved = e.resolved.as_ref().expect("resolved");
    assert_eq!(resolved.commit.as_deref(), Some(c4.as_str()));
    assert_eq!(resolved.when().timestamp(), t4);
    assert_eq!(e.finding.values["staging"], "2Gi");

    let ratios: Vec<(String, f64)> = history
        .metric_series("inventory", Some(MetricKind::LimitRatio))
        .expect("series")
        .into_iter()
        .filter(|p| p.metric.env == "staging" && p.metric.resource == "memory")
        .map(|p| (p.commit.unwrap_or_default(), p.metric.value))
        .collect();
    assert_eq!(
        ratios,
        vec![(c1, 1.0), (c2, 1.0), (c3, 4.0), (c4.clone(), 1.0)]
    );
    assert!(
        history
            .runs(10)
            .expect("runs")
            .iter()
            .all(|r| r.time.timestamp() >= EPOCH)
    );

    // Idempotent: a second backfill records nothing and changes nothing.
    let before = history.runs(100).expect("runs").len();
    let out = run(state.path(), &["backfill", "--repo", &url, "--state", st]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 recorded, 4 already in history"));
    assert_eq!(history.runs(100).expect("runs").len(), before);
    assert_eq!(
        history.lifecycle(&inversion()).expect("lifecycle"),
        episodes
    );
}

#[test]
fn scan_follows_new_and_force_pushed_commits_and_records_a_failed_fetch() {
    let mut server = GitServer::start();
    let repo = server.repo("infra");
    write_inventory(&repo, "512Mi");
    let c1 = repo.commit("initial");
    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let url = server.url("infra");
    let scan = |args: &[&str]| {
        let mut all = vec!["scan", "--repo", url.as_str(), "--state", st];
        all.extend_from_slice(args);
        run(state.path(), &all)
    };

    let out = scan(&["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["commit"], c1.as_str());

    write_inventory(&repo, "2Gi");
    let c2 = repo.commit_as("staging 2Gi", "Grace Hopper", "grace@example.org");
    let out = scan(&["--format", "json"]);
    let v = json(&out);
    assert_eq!(v["commit"], c2.as_str());
    let f = finding(&v, "limit-inversion");
    assert_eq!(f["first_seen"]["commit"], c2.as_str());
    assert_eq!(
        f["first_seen"]["author"],
        "Grace Hopper <grace@example.org>"
    );
    assert!(f["age_days"].as_i64().is_some());

    // A force push replaces c2: the next scan follows the rewritten branch and the finding is resolved.
    repo.git(&["reset", "-q", "--hard", &c1]);
    repo.write("README.md", "staging stays at 512Mi\n");
    let c2b = repo.commit("staging stays at 512Mi");
    let out = scan(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&c2b[..10]) && text.contains("1 resolved"),
        "{text}"
    );

    // The server goes away: the scan reports the failed fetch, scans the last fetched commit, records it.
    server.stop();
    let out = scan(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["commit"], c2b.as_str());
    assert!(
        v["fetch_error"]
            .as_str()
            .expect("fetch error")
            .contains("127.0.0.1"),
        "{v}"
    );
    let history = History::open(&state.path().join("history.sqlite")).expect("history");
    let last = history.last_run().expect("last").expect("a run");
    assert_eq!(last.outcome.as_str(), "fetch-failed");
    assert!(last.fetch_error.is_some());
    assert_eq!(history.runs(10).expect("runs").len(), 4);
}

#[test]
fn a_scan_that_finds_the_same_confirms_the_previous_run_instead_of_copying_it() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_inventory(&repo, "2Gi");
    let c1 = repo.commit("staging 2Gi");
    let infra = dir.path().join("infra");
    let args = [
        "scan",
        "--repo",
        infra.to_str().expect("utf-8"),
        "--state",
        "state",
        "--format",
        "json",
    ];
    let scan = || json(&run(dir.path(), &args));

    let first = scan();
    assert_eq!(
        (first["run"].as_i64(), &first["unchanged"]),
        (Some(1), &false.into())
    );
    let again = scan();
    let third = scan();
    for v in [&again, &third] {
        assert_eq!(v["run"], 1, "{v}");
        assert_eq!(v["unchanged"], true, "{v}");
        assert_eq!(v["commit"], c1.as_str());
        let f = finding(v, "limit-inversion");
        assert_eq!(f["first_seen"]["commit"], c1.as_str(), "{f}");
    }
    let db = dir.path().join("state/history.sqlite");
    let runs = History::open(&db).expect("open").runs(10).expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].repeats, 2);
    assert!(runs[0].confirmed_at.is_some_and(|t| t > runs[0].time));

    // A new commit is a new run, confirmed in turn; the finding stays open from c1.
    write_inventory(&repo, "1Gi");
    let c2 = repo.commit("staging 1Gi");
    let v = scan();
    assert_eq!(
        (v["run"].as_i64(), &v["unchanged"]),
        (Some(2), &false.into()),
        "{v}"
    );
    assert_eq!(v["commit"], c2.as_str());
    assert_eq!(scan()["run"], 2);
    let history = History::open(&db).expect("open");
    let runs = history.runs(10).expect("runs");
    assert_eq!(
        runs.iter().map(|r| (r.id, r.repeats)).collect::<Vec<_>>(),
        [(2, 1), (1, 2)]
    );
    let open = history.open_findings(Some("inventory")).expect("open");
    let inversion = open
        .iter()
        .find(|l| l.finding.fingerprint == inversion())
        .expect("still open");
    assert_eq!(inversion.opened.commit.as_deref(), Some(c1.as_str()));

    // The site is as of the last confirmation.
    let out = run(dir.path(), &["report", "--state", "state", "--out", "site"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let latest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("site/data/latest.json")).expect("latest.json"),
    )
    .expect("json");
    assert_eq!(latest["run"]["id"], 2);
    assert_eq!(latest["run"]["repeats"], 1);
    assert!(latest["run"]["confirmed_at"].is_string(), "{latest}");
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_scan_killed_mid_write_leaves_the_previous_complete_run() {
    let dir = tempfile::tempdir().expect("repo");
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_inventory(&repo, "512Mi");
    repo.commit("initial");
    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let path = repo.dir.to_str().expect("utf-8");
    let out = run(state.path(), &["scan", "--repo", path, "--state", st]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    write_inventory(&repo, "2Gi");
    repo.commit("staging 2Gi");
    let crashed = crate::support::command()
        .args(["scan", "--repo", path, "--state", st])
        .current_dir(state.path())
        .env(
            "FAILPOINTS",
            format!("{}=return", envparity::history::CRASH_AFTER_FIRST_WRITE),
        )
        .output()
        .expect("run");
    assert!(
        !crashed.status.success(),
        "the fail point aborts the process"
    );
    assert_eq!(
        crashed.status.code(),
        None,
        "killed by a signal, not an exit"
    );

    let history = History::open(&state.path().join("history.sqlite")).expect("opens cleanly");
    assert_eq!(history.runs(10).expect("runs").len(), 1);
    assert!(
        history
            .open_findings(None)
            .expect("open")
            .iter()
            .all(|l| l.finding.rule != "limit-inversion")
    );
    let out = run(state.path(), &["history", "--repo", path, "--state", st]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_ratchet_gate_fails_only_for_what_the_change_introduces() {
    let dir = tempfile::tempdir().expect("repo");
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_inventory(&repo, "2Gi");
    repo.commit("staging 2Gi: an inversion that is already there");
    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let path = repo.dir.to_str().expect("utf-8");
    let gate = |base: &str| {
        run(
            state.path(),
            &[
                "check", "--repo", path, "--state", st, "--base", base, "--format", "json",
            ],
        )
    };

    // The working tree equals the base: the inversion is already present, so the gate passes.
    let out = gate("main");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let f = finding(&v, "limit-inversion");
    assert_eq!(f["new"], false);
    // Plain check still fails on it.
    let out = run(state.path(), &["check", "--repo", path, "--state", st]);
    assert_eq!(out.status.code(), Some(1));

    // An uncommitted change that adds a new blocking finding (an image that differs) fails the gate.
    let k = repo
        .dir
        .join("apps/inventory/overlays/production/kustomization.yaml");
    let text = std::fs::read_to_string(&k).expect("read");
    std::fs::write(
        &k,
        format!("{text}images:\n  - name: ghcr.io/acme/inventory\n    newTag: 0.9.0\n"),
    )
    .expect("write");
    let out = gate("main");
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let image = finding(&v, "image");
    assert_eq!(image["new"], true);
    let out = run(
        state.path(),
        &["check", "--repo", path, "--state", st, "--base", "main"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("already present at the base (1)"), "{text}");

    let out = gate("no-such-branch");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--base") && err.contains("no-such-branch"),
        "{err}"
    );
}

#[test]
fn bad_sources_and_a_corrupt_history_are_clear_errors() {
    let server = GitServer::start();
    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let url = server.url("missing");
    let out = run(state.path(), &["scan", "--repo", &url, "--state", st]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing"), "{err}");

    let repo = server.repo("infra");
    write_inventory(&repo, "512Mi");
    repo.commit("initial");
    let db = state.path().join("history.sqlite");
    std::fs::write(&db, b"this is not a database, but somebody's data").expect("write");
    let out = run(
        state.path(),
        &["scan", "--repo", &server.url("infra"), "--state", st],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("history.sqlite"), "{err}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        b"this is not a database, but somebody's data"
    );
}

#[test]
fn a_wrong_token_is_a_clear_error_that_never_prints_the_token() {
    let server = HttpGitServer::start("bot", "the-right-token-4711");
    let repo = server.repo("infra");
    write_inventory(&repo, "512Mi");
    repo.commit("initial");
    let state = tempfile::tempdir().expect("state");
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nurl = \"{}\"\ntoken_env = \"EP_TEST_TOKEN\"\nusername = \"bot\"\n\n[state]\ndir = \"state\"\n",
            server.url("infra")
        ),
    )
    .expect("config");
    let scan = |token: &str| {
        crate::support::command()
            .args(["scan", "--config", config.to_str().expect("utf-8"), "-v"])
            .current_dir(state.path())
            .env("EP_TEST_TOKEN", token)
            .env("CI", "1")
            .output()
            .expect("run")
    };
    let out = scan("a-wrong-token-0815");
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("EP_TEST_TOKEN"), "{all}");
    assert!(!all.contains("a-wrong-token-0815"), "{all}");

    let out = scan("the-right-token-4711");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("the-right-token-4711"), "{all}");
    let history = std::fs::read(state.path().join("state/history.sqlite")).expect("history");
    assert!(!String::from_utf8_lossy(&history).contains("the-right-token-4711"));
}

#[test]
fn scan_reads_the_cluster_records_drift_and_argo_syncs_once_and_survives_a_dead_cluster() {
    use crate::apiserver::ApiServer;
    use serde_json::json;

    let dir = tempfile::tempdir().expect("repo");
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_inventory(&repo, "512Mi");
    repo.commit("initial");
    let mut server = ApiServer::start();
    server.add(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "inventory", "namespace": "production", "uid": "0b1c", "resourceVersion": "812",
            "generation": 4, "creationTimestamp": "2026-03-01T10:00:00Z",
            "managedFields": [
                {"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1",
                 "time": "2026-03-01T10:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:selector": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"inventory\"}": {".": {}, "f:image": {}}}}}}}},
                {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "apiVersion": "apps/v1",
                 "time": "2026-05-02T14:03:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ]},
        "spec": {"replicas": 5, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "inventory"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "inventory"}}, "spec": {
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "inventory", "image": "ghcr.io/acme/inventory:1.0.0",
                    "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "resources": {"requests": {"memory": "512Mi"}, "limits": {"memory": "512Mi"}}}]}}},
        "status": {"replicas": 5, "readyReplicas": 5}
    }));
    server.add(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "inventory-production", "namespace": "argocd", "uid": "a0", "resourceVersion": "9",
            "creationTimestamp": "2026-03-01T10:00:00Z"},
        "spec": {"source": {"repoURL": "https://git.example.com/infra.git", "path": "apps/inventory/overlays/production"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "production"},
            "syncPolicy": {"automated": {"selfHeal": true}}},
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"},
            "history": [{"id": 1, "revision": "abc123", "deployStartedAt": "2026-03-01T10:00:00Z",
                         "deployedAt": "2026-03-01T10:00:05Z", "initiatedBy": {"automated": true}},
                        {"id": 2, "revision": "abc123", "deployStartedAt": "2026-05-02T14:10:00Z",
                         "deployedAt": "2026-05-02T14:10:02Z", "initiatedBy": {"automated": true}}]}
    }));
    let state = tempfile::tempdir().expect("state");
    let cluster = server.cluster_config(state.path(), 3);
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[environments]\norder = [\"dev\", \"staging\", \"production\"]\n\n[clusters.production]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\ntimeout_seconds = 3\n",
            cluster.kubeconfig.expect("kubeconfig").display()
        ),
    )
    .expect("config");
    let st = state.path().to_str().expect("utf-8");
    let path = repo.dir.to_str().expect("utf-8");
    let cfg = config.to_str().expect("utf-8");
    let scan = || {
        run(
            state.path(),
            &[
                "scan", "--config", cfg, "--repo", path, "--state", st, "--format", "json",
            ],
        )
    };

    let out = scan();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let drift = finding(&v, "live-manual-field");
    // Git does not set replicas for this service: the scale is a field set by hand, with who and when.
    assert_eq!(
        v["findings"].as_array().map(Vec::len),
        Some(1),
        "only the scale drifts: {v}"
    );
    assert_eq!(drift["field"], "spec.replicas");
    assert_eq!(drift["values"]["manager"], "kubectl-scale");
    assert_eq!(drift["values"]["changed"], "2026-05-02T14:03:00Z");
    assert_eq!(drift["envs"], json!(["production"]));

    let history = History::open(&state.path().join("history.sqlite")).expect("history");
    let count = |kind: envparity::codes::EventKind| {
        history
            .events(chrono::DateTime::UNIX_EPOCH, Some(kind))
            .expect("events")
            .into_iter()
            .filter(|e| {
                e.event.service.as_deref() == Some("inventory")
                    && e.event.env.as_deref() == Some("production")
            })
            .count()
    };
    // The second deployment of the same revision is Argo CD putting the scaled Deployment back: a self-heal.
    assert_eq!(
        (
            count(envparity::codes::EventKind::ArgoSync),
            count(envparity::codes::EventKind::ArgoSelfHeal),
            count(envparity::codes::EventKind::ArgoStatus)
        ),
        (1, 1, 1)
    );

    // A second scan records the syncs and the unchanged status again: no duplicate events.
    let out = scan();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        (
            count(envparity::codes::EventKind::ArgoSync),
            count(envparity::codes::EventKind::ArgoSelfHeal),
            count(envparity::codes::EventKind::ArgoStatus)
        ),
        (1, 1, 1)
    );

    // The cluster goes away: the scan still finishes, records the run and says why production was not read.
    server.stop();
    let out = scan();
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    let errors = v["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["env"] == "production"
            && e["kind"] == "cluster-unreachable"
            && e["message"].as_str().unwrap_or("").contains("unreachable")),
        "{errors:?}"
    );
    // Three scans, two runs: the second found exactly what the first did and confirmed it.
    let runs = history.runs(10).expect("runs");
    assert_eq!(runs.iter().map(|r| r.repeats).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn the_markdown_comment_says_what_a_change_breaks_fixes_and_leaves() {
    let dir = tempfile::tempdir().expect("repo");
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_inventory(&repo, "2Gi");
    repo.commit("staging 2Gi: an inversion the change fixes");
    let state = tempfile::tempdir().expect("state");
    let st = state.path().to_str().expect("utf-8");
    let path = repo.dir.to_str().expect("utf-8");

    // The change fixes staging's memory and pins production to an older image.
    write_inventory(&repo, "512Mi");
    let k = repo
        .dir
        .join("apps/inventory/overlays/production/kustomization.yaml");
    let text = std::fs::read_to_string(&k).expect("read");
    std::fs::write(
        &k,
        format!("{text}images:\n  - name: ghcr.io/acme/inventory\n    newTag: 0.9.0\n"),
    )
    .expect("write");
    let comment = || {
        let out = run(
            state.path(),
            &[
                "check", "--repo", path, "--state", st, "--base", "main", "--format", "markdown",
            ],
        );
        let md = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), md)
    };
    let (code, md) = comment();
    assert_eq!(code, Some(1), "{md}");
    assert!(
        md.starts_with("## envparity: ❌ this change adds 1 blocking finding(s)\n"),
        "{md}"
    );
    assert!(
        md.contains("**1 new** (1 block, 0 warn, 0 info) · **1 fixed** · 0 already present"),
        "{md}"
    );
    // What breaks, with its values side by side in promotion order.
    let breaks = &md[md.find("### Breaks (1)").expect("breaks")..];
    assert!(
        breaks.contains(
            "**BLOCK** <code>image</code> · inventory · <code>Deployment/inventory</code> [<code>inventory</code>] · <code>image</code>"
        ),
        "{md}"
    );
    assert!(
        breaks.contains(
            "| dev | staging | production |\n|---|---|---|\n| <code>ghcr.io/acme/inventory:1.0.0</code> | <code>ghcr.io/acme/inventory:1.0.0</code> | <code>ghcr.io/acme/inventory:0.9.0</code> |\n"
        ),
        "{md}"
    );
    // What it fixes, collapsed.
    let fixes = &md[md
        .find("<details><summary>Fixes (1)</summary>")
        .expect("fixes")..];
    assert!(
        fixes.contains("- **block** <code>limit-inversion</code> · inventory"),
        "{md}"
    );
    assert!(!md.contains("Already present") && !md.contains("Could not be checked"));

    // Once merged, the same finding is already present at the base, and nothing new blocks.
    repo.commit("pin production to 0.9.0, fix staging's memory");
    let (code, md) = comment();
    assert_eq!(code, Some(0), "{md}");
    assert!(
        md.starts_with("## envparity: ✅ nothing new blocks\n"),
        "{md}"
    );
    assert!(
        md.contains("**0 new** (0 block, 0 warn, 0 info) · **0 fixed** · 1 already present"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>Already present at the base (1)</summary>\n\n- **block** <code>image</code>"),
        "{md}"
    );
    assert!(!md.contains("### Breaks"), "{md}");
}
