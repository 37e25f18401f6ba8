//! Nothing hidden is shown (issue 14): a secret-looking value planted by hand in every place of a live dump
//! that could carry one appears in no output — `drift` in every format, `scan`'s history file, every file of
//! the site, the digest email, the logs at `-vv` — while each of those hand changes is still reported.

use std::path::Path;
use std::process::Output;

use chrono::Datelike;
use mail_parser::MessageParser;
use serde_json::{Value, json};

/// What is planted; each place adds its own suffix, so a leak names where it came from.
const PLANTED: &str = "ep-planted-s3cr3t";

fn planted(place: &str) -> String {
    format!("{PLANTED}-{place}-9f3c2a")
}

/// A service `web` with a Deployment (two containers, probes with a header and an exec command) and a
/// ConfigMap, deployed to staging and production.
fn write_repo(dir: &Path) {
    let files = [
        (
            "apps/web/base/kustomization.yaml",
            "resources:\n  - deployment.yaml\n  - configmap.yaml\n",
        ),
        (
            "apps/web/base/deployment.yaml",
            r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app.kubernetes.io/name: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.4.2
          env:
            - name: MODE
              value: standard
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
              httpHeaders:
                - name: X-Probe
                  value: from-git
          livenessProbe:
            exec:
              command: [cat, /tmp/healthy]
        - name: worker
          image: registry.example.com/shop/worker:1.4.2
"#,
        ),
        (
            "apps/web/base/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  GREETING: hello\n",
        ),
        (
            "apps/web/overlays/staging/kustomization.yaml",
            "resources:\n  - ../../base\nnamespace: web-staging\n",
        ),
        (
            "apps/web/overlays/production/kustomization.yaml",
            "resources:\n  - ../../base\nnamespace: web-production\n",
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

/// The production cluster as `kubectl get -o json` shows it after a few hands went at it.
fn write_dump(dir: &Path) {
    let ns = "web-production";
    // What a manual `kubectl apply` leaves behind: the whole manifest, env values included.
    let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"name": "web",
            "env": [{"name": "MODE", "value": planted("last-applied")}]}]}}}})
    .to_string();
    let web_key = r#"k:{"name":"web"}"#;
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": ns, "uid": "1", "resourceVersion": "7", "generation": 4,
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": manifest},
            "managedFields": [
                {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-18T15:35:00Z",
                 "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                     web_key: {".": {}, "f:image": {}}}}}}}},
                {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-20T08:00:00Z",
                 "fieldsV1": {"f:metadata": {"f:annotations": {".": {},
                     "f:kubectl.kubernetes.io/last-applied-configuration": {}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-21T10:02:31Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     web_key: {
                         "f:env": {r#"k:{"name":"MODE"}"#: {"f:value": {}}},
                         "f:readinessProbe": {"f:httpGet": {"f:httpHeaders": {}}},
                         "f:livenessProbe": {"f:exec": {"f:command": {}}}
                     },
                     r#"k:{"name":"worker"}"#: {"f:env": {}},
                     r#"k:{"name":"sidecar"}"#: {".": {}, "f:name": {}, "f:image": {}, "f:env": {}}
                 }}}}}}
            ]
        },
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                "spec": {
                    "dnsPolicy": "ClusterFirst",
                    "containers": [
                        {"name": "web", "image": "registry.example.com/shop/web:1.4.2",
                         "imagePullPolicy": "IfNotPresent",
                         // An env value changed by hand on a declared var.
                         "env": [{"name": "MODE", "value": planted("env-value")}],
                         // A token typed into a probe's header and exec command.
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP",
                             "httpHeaders": [{"name": "X-Probe", "value": planted("probe-header")}]},
                             "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                             "failureThreshold": 3},
                         "livenessProbe": {"exec": {"command":
                             ["sh", "-c", format!("check --token {}", planted("probe-exec"))]},
                             "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                             "failureThreshold": 3}},
                        // A whole env list where Git sets none.
                        {"name": "worker", "image": "registry.example.com/shop/worker:1.4.2",
                         "env": [{"name": "EXTRA_TOKEN", "value": planted("env-list")}]},
                        // A sidecar added by hand.
                        {"name": "sidecar", "image": "debug/proxy:1",
                         "env": [{"name": "SIDECAR_TOKEN", "value": planted("sidecar")},
                                 {"name": "FROM_SECRET", "valueFrom":
                                     {"secretKeyRef": {"name": "web-credentials", "key": "password"}}}]}
                    ]
                }
            }
        },
        "status": {"replicas": 2}
    });
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-settings", "namespace": ns, "uid": "2", "resourceVersion": "8",
            "labels": {"app.kubernetes.io/instance": "web"},
            "managedFields": [{"manager": "kubectl-edit", "operation": "Update",
                "time": "2026-11-21T10:05:00Z", "fieldsV1": {"f:data": {"f:GREETING": {}}}}]},
        // A ConfigMap value edited by hand.
        "data": {"GREETING": planted("config-map")}
    });
    // Objects Git does not declare, tracked as the service's: a Secret (never listed), a ConfigMap.
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "web-credentials", "namespace": ns, "uid": "3",
            "labels": {"app.kubernetes.io/instance": "web"}},
        "data": {"password": planted("secret")}
    });
    let extra = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-debug", "namespace": ns, "uid": "4",
            "labels": {"app.kubernetes.io/instance": "web"},
            "managedFields": [{"manager": "kubectl-create", "operation": "Update",
                "time": "2026-11-21T10:06:00Z", "fieldsV1": {"f:data": {"f:TOKEN": {}}}}]},
        "data": {"TOKEN": planted("extra-object")}
    });
    let list = json!({"apiVersion": "v1", "kind": "List",
        "items": [deployment, config_map, secret, extra]});
    let env_dir = dir.join("live/production");
    std::fs::create_dir_all(&env_dir).expect("mkdir");
    std::fs::write(
        env_dir.join("objects.yaml"),
        serde_json::to_string_pretty(&list).expect("json"),
    )
    .expect("write dump");
}

fn run(dir: &Path, args: &[&str]) -> Output {
    crate::support::command()
        .args(args)
        .arg("-vv")
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .output()
        .expect("run envparity")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Where `needle` occurs in `bytes`, if it does.
fn find(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes.windows(needle.len()).position(|w| w == needle)
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Fails naming the stream and the planted place when `bytes` hold a planted value.
fn assert_clean(what: &str, bytes: &[u8]) {
    if let Some(at) = find(bytes, PLANTED.as_bytes()) {
        let from = at.saturating_sub(200);
        let to = (at + 200).min(bytes.len());
        panic!(
            "a planted value leaked into {what}: …{}…",
            String::from_utf8_lossy(&bytes[from..to])
        );
    }
}

fn finding<'a>(findings: &'a [Value], rule: &str, field: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["rule"] == rule && f["field"] == field)
        .unwrap_or_else(|| panic!("no {rule} finding at {field}: {findings:#?}"))
}

#[test]
fn a_value_planted_by_hand_reaches_no_output_but_the_change_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write_repo(root);
    write_dump(root);
    std::fs::write(
        root.join("config.toml"),
        "[state]\ndir = \"state\"\n\n[report]\nout = \"site\"\nbase_url = \"https://parity.example.com\"\n\n\
         [digest]\ntimezone = \"UTC\"\n",
    )
    .expect("config");
    let mut streams: Vec<(String, Vec<u8>)> = Vec::new();
    let mut keep = |what: String, out: &Output| {
        streams.push((format!("{what} stdout"), out.stdout.clone()));
        streams.push((format!("{what} stderr (logs)"), out.stderr.clone()));
    };

    // drift, in every format.
    let mut json_out = None;
    for format in ["text", "json", "sarif", "github", "markdown"] {
        let out = run(
            root,
            &[
                "drift",
                "--repo",
                ".",
                "--live-dir",
                "live",
                "--format",
                format,
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "drift --format {format}: {}",
            describe(&out)
        );
        if format == "json" {
            json_out = Some(out.clone());
        }
        keep(format!("drift --format {format}"), &out);
    }
    let report: Value = serde_json::from_slice(&json_out.expect("json run").stdout).expect("json");
    let findings = report["findings"].as_array().expect("findings").clone();
    assert_eq!(report["errors"], json!([]), "{report:#}");

    // Each hand change is reported, its value hidden.
    let c = "spec.template.spec.containers";
    let value = finding(
        &findings,
        "live-value",
        &format!("{c}[web].env[MODE].value"),
    );
    assert_eq!(value["values"]["git"], "<redacted>");
    assert_eq!(value["values"]["production"], "<redacted>");
    assert_eq!(value["values"]["manager"], "kubectl-edit");
    let sidecar = finding(&findings, "live-manual-field", &format!("{c}[sidecar]"));
    let shown = sidecar["values"]["production"].as_str().expect("shown");
    assert!(
        shown.contains(r#""name":"SIDECAR_TOKEN","value":"<redacted>""#),
        "{shown}"
    );
    assert!(shown.contains("secretKeyRef"), "a reference stays: {shown}");
    let list = finding(&findings, "live-manual-field", &format!("{c}[worker].env"));
    assert_eq!(
        list["values"]["production"],
        r#"[{"name":"EXTRA_TOKEN","value":"<redacted>"}]"#
    );
    let cm = finding(&findings, "live-value", "data.GREETING");
    let (git, live) = (
        envparity::redact::short_hash(&json!("hello")),
        envparity::redact::short_hash(&json!(planted("config-map"))),
    );
    assert_eq!(cm["values"]["git"], git.as_str());
    assert_eq!(cm["values"]["production"], live.as_str());
    assert!(
        cm["message"].as_str().is_some_and(|m| m.contains(&format!(
            "differs in the production cluster from Git ({git} → {live})"
        ))),
        "{cm:#}"
    );
    let header = finding(
        &findings,
        "live-value",
        &format!("{c}[web].readinessProbe.httpGet.httpHeaders"),
    );
    assert_eq!(
        header["values"]["production"],
        r#"[{"name":"X-Probe","value":"<redacted>"}]"#
    );
    assert!(
        header["message"].as_str().is_some_and(
            |m| m.contains("differs in the production cluster from Git (value not shown)")
        ),
        "{header:#}"
    );
    let exec = finding(
        &findings,
        "live-value",
        &format!("{c}[web].livenessProbe.exec.command"),
    );
    assert_eq!(
        exec["values"]["production"],
        r#"["sh","<redacted>","<redacted>"]"#
    );
    finding(&findings, "live-extra", "(object)");
    assert!(
        findings
            .iter()
            .all(|f| !f["field"].as_str().unwrap_or("").contains("annotations")),
        "last-applied-configuration is never a drift field: {findings:#?}"
    );

    // scan records the run in the history; report writes the site; digest writes the email.
    let out = run(root, &["scan", "--repo", ".", "--live-dir", "live"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        describe(&out)
    );
    keep("scan".into(), &out);
    let out = run(root, &["report"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    keep("report".into(), &out);
    let now = chrono::Utc::now().iso_week();
    let week = format!("{}-W{:02}", now.year(), now.week());
    let eml = root.join("digest.eml");
    let out = run(
        root,
        &[
            "digest",
            "--period",
            &week,
            "--dry-run",
            "--out",
            eml.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    keep("digest".into(), &out);

    // The outputs are there and speak of the drift…
    let latest = std::fs::read_to_string(root.join("site/data/latest.json")).expect("latest.json");
    assert!(latest.contains("data.GREETING"), "{latest}");
    let page = std::fs::read_to_string(root.join("site/services/web.html")).expect("service page");
    assert!(page.contains("&#60;redacted&#62;"), "{page}");
    let mail = std::fs::read(&eml).expect("eml");
    assert!(!mail.is_empty());

    // …and no byte of them holds a planted value: not the streams, not a file of the state directory (the
    // SQLite history and its WAL, the render cache), the site or the email.
    for (what, bytes) in &streams {
        assert_clean(what, bytes);
    }
    for dir in ["state", "site"] {
        let all = files(&root.join(dir));
        assert!(!all.is_empty(), "nothing under {dir}");
        for file in all {
            let bytes = std::fs::read(&file).expect("read");
            assert_clean(&file.display().to_string(), &bytes);
        }
    }
    assert!(
        files(&root.join("state"))
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "sqlite")),
        "the history file is among them"
    );
    assert_clean("the digest email", &mail);
    // Decoded too: a quoted-printable or base64 body would hide a leak from the raw bytes.
    let message = MessageParser::default().parse(&mail).expect("parse email");
    let text = message.body_text(0).expect("text part");
    let html = message.body_html(0).expect("html part");
    assert!(
        text.contains("CHANGED IN A CLUSTER") && text.contains("data.GREETING differs"),
        "the digest speaks of the drift: {text}"
    );
    assert_clean("the digest's text", text.as_bytes());
    assert_clean("the digest's HTML", html.as_bytes());
}
