//! The emergency that was never closed (issue 14, points 5 and 6): auto-sync or self-heal switched off on a
//! live Argo CD Application, or a Flux Kustomization suspended live, while Git says on — reported with the
//! manager and time of the switch-off and the hand changes made since (`live-sync-disabled`); a live
//! Application pointing elsewhere than the repo's (`live-destination`). Through a dump directory and through
//! the real kube client against the test API server, and on into the history, the site and the digest.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Fault};
use crate::support::{envparity, json, write, write_web_repo};

const NS: &str = "shop-production";
const SWITCHED_OFF: &str = "2026-11-21T10:00:00Z";
const SCALED: &str = "2026-11-21T10:05:00Z";

/// How the repo deploys `web`.
#[derive(Clone, Copy)]
enum Tool {
    Argo,
    Flux,
}

/// The service `web` (a Deployment and a Service; overlays for staging and production), deployed by an Argo
/// CD Application per environment with automated sync, prune and self-heal, or by a Flux Kustomization.
fn write_repo(root: &Path, tool: Tool) {
    write_web_repo(root);
    for env in ["staging", "production"] {
        match tool {
            Tool::Argo => write(
                root,
                &format!("argocd/web-{env}.yaml"),
                &format!(
                    "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/acme/infra.git\n    path: apps/web/overlays/{env}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop-{env}\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n    syncOptions: [CreateNamespace=true]\n"
                ),
            ),
            Tool::Flux => write(
                root,
                &format!("clusters/{env}/web.yaml"),
                &format!(
                    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./apps/web/overlays/{env}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  targetNamespace: shop-{env}\n"
                ),
            ),
        }
    }
}

fn managed(manager: &str, time: &str, api_version: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": "Update", "apiVersion": api_version, "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

/// Production's `web` Deployment as the API server returns it: in sync with Git at 2 replicas, or scaled
/// by hand to `replicas` by `kubectl-scale` after auto-sync was switched off.
fn live_deployment(replicas: i64) -> Value {
    let mut fields = vec![managed(
        "argocd-controller",
        "2026-11-18T15:35:00Z",
        "apps/v1",
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {r#"k:{"name":"web"}"#: {".": {},
            "f:image": {}, "f:name": {}}}}}}}),
    )];
    if replicas != 2 {
        fields.push(managed(
            "kubectl-scale",
            SCALED,
            "apps/v1",
            json!({"f:spec": {"f:replicas": {}}}),
        ));
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "uid": "uid-web", "resourceVersion": "41", "generation": 3,
            "labels": {"app.kubernetes.io/instance": "web"}, "managedFields": fields},
        "spec": {
            "replicas": replicas, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "registry.example.com/shop/web:1.4.2",
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": "512Mi"}},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}}
        },
        "status": {"replicas": replicas}
    })
}

fn live_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS, "uid": "uid-web-svc",
            "labels": {"app.kubernetes.io/instance": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                 "type": "ClusterIP", "clusterIP": "10.0.0.9"}})
}

/// The live `web-production` Application: applied by hand once, then its sync policy last written in Argo
/// CD's UI (`argocd-server`) with `sync_policy_fields`.
fn live_application(sync_policy: Value, sync_policy_fields: Value, destination: Value) -> Value {
    let api = "argoproj.io/v1alpha1";
    json!({
        "apiVersion": api, "kind": "Application",
        "metadata": {"name": "web-production", "namespace": "argocd", "uid": "uid-app", "resourceVersion": "9012",
            "generation": 7, "creationTimestamp": "2026-10-01T08:00:00Z",
            "managedFields": [
                managed("kubectl-client-side-apply", "2026-10-01T08:00:00Z", api,
                    json!({"f:spec": {".": {}, "f:project": {}, "f:destination": {".": {}, "f:server": {}, "f:namespace": {}},
                        "f:source": {".": {}, "f:path": {}, "f:repoURL": {}}}})),
                managed("argocd-server", SWITCHED_OFF, api, json!({"f:spec": {"f:syncPolicy": sync_policy_fields}})),
                managed("argocd-application-controller", "2026-11-21T10:06:00Z", api,
                    json!({"f:status": {".": {}, "f:health": {}, "f:sync": {}}}))
            ]},
        "spec": {"project": "default",
            "source": {"repoURL": "https://git.example.com/acme/infra.git", "path": "apps/web/overlays/production"},
            "destination": destination, "syncPolicy": sync_policy},
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}
    })
}

fn git_destination() -> Value {
    json!({"server": "https://kubernetes.default.svc", "namespace": NS})
}

/// Auto-sync toggled off in the UI: `automated` gone, the sync options stay.
fn auto_sync_off() -> Value {
    live_application(
        json!({"syncOptions": ["CreateNamespace=true"]}),
        json!({".": {}, "f:syncOptions": {}}),
        git_destination(),
    )
}

/// Self-heal toggled off: automated sync stays.
fn self_heal_off() -> Value {
    live_application(
        json!({"automated": {"prune": true, "selfHeal": false}, "syncOptions": ["CreateNamespace=true"]}),
        json!({"f:automated": {"f:selfHeal": {}}}),
        git_destination(),
    )
}

/// As Git says.
fn in_sync() -> Value {
    live_application(
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        json!({"f:automated": {"f:selfHeal": {}}}),
        git_destination(),
    )
}

/// The live Flux Kustomization, `flux suspend`ed or not.
fn live_flux(suspend: bool) -> Value {
    let api = "kustomize.toolkit.fluxcd.io/v1";
    let mut fields = vec![managed(
        "kustomize-controller",
        "2026-11-01T08:00:00Z",
        api,
        json!({"f:spec": {"f:interval": {}, "f:path": {}, "f:prune": {}, "f:sourceRef": {}, "f:targetNamespace": {}}}),
    )];
    if suspend {
        fields.push(managed(
            "flux",
            SWITCHED_OFF,
            api,
            json!({"f:spec": {"f:suspend": {}}}),
        ));
    }
    json!({
        "apiVersion": api, "kind": "Kustomization",
        "metadata": {"name": "web", "namespace": "flux-system", "uid": "uid-ks", "resourceVersion": "77",
            "managedFields": fields},
        "spec": {"interval": "5m", "path": "./apps/web/overlays/production", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"}, "targetNamespace": NS,
            "suspend": suspend}
    })
}

fn write_dump(root: &Path, objects: Vec<Value>) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    write(
        root,
        "live/production/objects.yaml",
        &serde_json::to_string_pretty(&list).expect("json"),
    );
}

fn run(root: &Path, args: &[&str]) -> (Output, Value) {
    let out = envparity(root, args);
    let report = json(&out);
    (out, report)
}

fn drift_dump(root: &Path) -> (Output, Value) {
    run(
        root,
        &[
            "drift",
            "--repo",
            ".",
            "--state",
            ".state",
            "--live-dir",
            "live",
            "--format",
            "json",
        ],
    )
}

fn findings<'v>(report: &'v Value, rule: &str) -> Vec<&'v Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn rules(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap_or(""),
                f["field"].as_str().unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or("")
}

/// The checks every "auto-sync switched off in the UI" finding passes, whatever the source.
fn assert_auto_sync_off(report: &Value) {
    let found = findings(report, "live-sync-disabled");
    assert_eq!(found.len(), 1, "{report:#}");
    let f = found[0];
    assert_eq!(
        (
            &f["severity"],
            &f["service"],
            &f["kind"],
            &f["name"],
            &f["field"]
        ),
        (
            &json!("warn"),
            &json!("web"),
            &json!("Application"),
            &json!("web-production"),
            &json!("spec.syncPolicy")
        ),
        "{f:#}"
    );
    assert_eq!(f["envs"], json!(["production"]));
    assert_eq!(f["values"]["manager"], "argocd-server");
    assert_eq!(f["values"]["changed"], SWITCHED_OFF);
    assert_eq!(f["values"]["git"], "automated, selfHeal");
    assert_eq!(f["values"]["production"], "off (manual sync)");
    assert_eq!(f["files"]["production"], "argocd/web-production.yaml");
    assert_eq!(
        message(f),
        "automated sync of Argo CD Application argocd/web-production is off in the production cluster but on \
         in Git — spec.syncPolicy last written by argocd-server at 2026-11-21 10:00 UTC; changed by hand \
         since: Deployment web spec.replicas (kubectl-scale)"
    );
}

#[test]
fn auto_sync_switched_off_in_a_dump_is_reported_with_manager_time_and_the_hand_changes_since() {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Argo);
    write_dump(
        t.path(),
        vec![live_deployment(6), live_service(), auto_sync_off()],
    );
    let (out, report) = drift_dump(t.path());
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(
        rules(&report),
        [
            "live-sync-disabled spec.syncPolicy",
            "live-value spec.replicas"
        ],
        "{report:#}"
    );
    assert_auto_sync_off(&report);
    // The scale blocks; the forgotten switch is a warning.
    assert_eq!(out.status.code(), Some(1));

    // The text output says it too.
    let out = envparity(
        t.path(),
        &[
            "drift",
            "--repo",
            ".",
            "--state",
            ".state",
            "--live-dir",
            "live",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("live-sync-disabled") && text.contains("argocd-server"),
        "{text}"
    );
}

#[test]
fn self_heal_switched_off_is_reported_and_a_cluster_as_git_says_is_silent() {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Argo);
    write_dump(
        t.path(),
        vec![live_deployment(2), live_service(), self_heal_off()],
    );
    let (out, report) = drift_dump(t.path());
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(rules(&report), ["live-sync-disabled spec.syncPolicy"]);
    let f = findings(&report, "live-sync-disabled")[0];
    assert_eq!(f["values"]["production"], "automated, no selfHeal");
    assert_eq!(
        message(f),
        "self-heal of Argo CD Application argocd/web-production is off in the production cluster but on in \
         Git — spec.syncPolicy last written by argocd-server at 2026-11-21 10:00 UTC"
    );
    assert_eq!(out.status.code(), Some(0), "a warning does not fail drift");

    // Everything as Git says: nothing at all.
    write_dump(
        t.path(),
        vec![live_deployment(2), live_service(), in_sync()],
    );
    let (out, report) = drift_dump(t.path());
    assert_eq!(
        (&report["findings"], &report["errors"]),
        (&json!([]), &json!([])),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_flux_kustomization_suspended_live_is_reported_with_who_suspended_it() {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Flux);
    write_dump(
        t.path(),
        vec![live_deployment(6), live_service(), live_flux(true)],
    );
    let (_, report) = drift_dump(t.path());
    assert_eq!(report["errors"], json!([]), "{report:#}");
    let found = findings(&report, "live-sync-disabled");
    assert_eq!(found.len(), 1, "{report:#}");
    let f = found[0];
    assert_eq!(
        (&f["kind"], &f["name"], &f["field"]),
        (
            &json!("Kustomization"),
            &json!("web"),
            &json!("spec.suspend")
        )
    );
    assert_eq!(
        (&f["values"]["manager"], &f["values"]["changed"]),
        (&json!("flux"), &json!(SWITCHED_OFF))
    );
    assert_eq!(f["files"]["production"], "clusters/production/web.yaml");
    assert_eq!(
        message(f),
        "Flux Kustomization flux-system/web is suspended in the production cluster but not in Git — \
         spec.suspend last written by flux at 2026-11-21 10:00 UTC; changed by hand since: Deployment web \
         spec.replicas (kubectl-scale)"
    );

    write_dump(
        t.path(),
        vec![live_deployment(2), live_service(), live_flux(false)],
    );
    let (_, report) = drift_dump(t.path());
    assert_eq!(report["findings"], json!([]), "{report:#}");
}

#[test]
fn a_live_application_pointing_elsewhere_than_the_repo_says_is_reported_with_both_destinations() {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Argo);
    let mut app = in_sync();
    app["spec"]["destination"] =
        json!({"server": "https://kubernetes.default.svc", "namespace": "shop-production-old"});
    write_dump(t.path(), vec![live_deployment(2), live_service(), app]);
    let (out, report) = drift_dump(t.path());
    assert_eq!(
        rules(&report),
        ["live-destination spec.destination"],
        "{report:#}"
    );
    let f = findings(&report, "live-destination")[0];
    assert_eq!(
        f["values"]["git"],
        "server https://kubernetes.default.svc, namespace shop-production"
    );
    assert_eq!(
        f["values"]["production"],
        "server https://kubernetes.default.svc, namespace shop-production-old"
    );
    assert_eq!(f["values"]["manager"], "kubectl-client-side-apply");
    assert!(message(f).contains("another namespace"), "{f:#}");
    assert_eq!(out.status.code(), Some(1), "a moved destination blocks");
}

/// A config reaching `server` for production.
fn cluster_config(root: &Path, server: &ApiServer) {
    let cluster = server.cluster_config(root, 5);
    write(
        root,
        "config.toml",
        &format!(
            "[clusters.production]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\ntimeout_seconds = 5\n",
            cluster.kubeconfig.expect("kubeconfig").display()
        ),
    );
}

fn drift_cluster(root: &Path) -> (Output, Value) {
    run(
        root,
        &[
            "drift",
            "--config",
            "config.toml",
            "--repo",
            ".",
            "--state",
            ".state",
            "--format",
            "json",
        ],
    )
}

#[test]
fn through_the_api_server_the_switch_off_is_found_and_a_forbidden_list_is_an_error_of_its_kind_only()
 {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Argo);
    let server = ApiServer::start();
    server.add(live_deployment(6));
    server.add(live_service());
    server.add(auto_sync_off());
    // Another team's Application of the same name in another Argo CD namespace is not looked at.
    let mut other = in_sync();
    other["metadata"]["namespace"] = json!("argocd-other");
    server.add(other);
    cluster_config(t.path(), &server);

    let (_, report) = drift_cluster(t.path());
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_auto_sync_off(&report);
    // One list of Applications, in their own namespace.
    let lists: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.contains("/applications"))
        .collect();
    assert_eq!(
        lists,
        ["GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications?&limit=500"]
    );

    // The ServiceAccount may not list Applications: an error for that kind, the rest still checked.
    server.fault(
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",
        Fault::Forbidden,
    );
    let (out, report) = drift_cluster(t.path());
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["kind"], "cluster-forbidden");
    assert_eq!(errors[0]["env"], "production");
    let shown = errors[0]["message"].as_str().unwrap_or("");
    assert!(
        shown.contains("Application") && shown.contains("argocd"),
        "{shown}"
    );
    assert_eq!(rules(&report), ["live-value spec.replicas"], "{report:#}");
}

#[test]
fn through_the_api_server_a_suspended_flux_kustomization_is_found_and_a_cluster_without_argo_cd_or_flux_is_quiet()
 {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path(), Tool::Flux);
    let server = ApiServer::start();
    server.add(live_deployment(2));
    server.add(live_service());
    server.add(live_flux(true));
    cluster_config(t.path(), &server);
    let (_, report) = drift_cluster(t.path());
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(
        rules(&report),
        ["live-sync-disabled spec.suspend"],
        "{report:#}"
    );
    assert_eq!(
        findings(&report, "live-sync-disabled")[0]["values"]["manager"],
        "flux"
    );

    // Flux is not installed there: nothing to compare, and no error.
    let bare = ApiServer::start_with(
        crate::apiserver::standard_resources()
            .into_iter()
            .filter(|r| r.group != "kustomize.toolkit.fluxcd.io")
            .collect(),
    );
    bare.add(live_deployment(2));
    bare.add(live_service());
    cluster_config(t.path(), &bare);
    let (out, report) = drift_cluster(t.path());
    assert_eq!(
        (&report["findings"], &report["errors"]),
        (&json!([]), &json!([])),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_scan_records_the_switch_off_and_the_site_and_the_digest_show_it_still_open() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    write_repo(root, Tool::Argo);
    write_dump(
        root,
        vec![live_deployment(6), live_service(), auto_sync_off()],
    );
    let scan = || {
        run(
            root,
            &[
                "scan",
                "--repo",
                ".",
                "--state",
                ".state",
                "--live-dir",
                "live",
                "--format",
                "json",
            ],
        )
    };
    let (_, report) = scan();
    assert_auto_sync_off(&report);
    let fingerprint = findings(&report, "live-sync-disabled")[0]["fingerprint"].clone();

    // A second scan follows the same finding (its age runs from the first).
    let (_, report) = scan();
    assert_eq!(
        findings(&report, "live-sync-disabled")[0]["fingerprint"],
        fingerprint
    );
    let history =
        envparity::history::History::open(&root.join(".state/history.sqlite")).expect("history");
    let open = history.open_findings(None).expect("open findings");
    let episode = open
        .iter()
        .find(|l| l.finding.rule == envparity::codes::RuleId::LiveSyncDisabled)
        .expect("open in the history");
    assert_eq!(
        serde_json::to_value(&episode.finding.fingerprint).ok(),
        Some(fingerprint)
    );

    // The site: the live table names the manager and the time.
    let out = envparity(
        root,
        &[
            "report", "--repo", ".", "--state", ".state", "--out", "site",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = std::fs::read_to_string(root.join("site/index.html")).expect("index");
    assert!(index.contains("live-sync-disabled"), "{index}");
    assert!(
        index.contains(&format!("argocd-server at {SWITCHED_OFF}")),
        "{index}"
    );
    let page = std::fs::read_to_string(root.join("site/services/web.html")).expect("service page");
    assert!(page.contains("live-sync-disabled"), "{page}");
    assert!(root.join("site/rules/live-sync-disabled.html").is_file());

    // The digest of this week lists it among the cluster changes and the findings still open.
    let week = envparity::notify::Period::containing(chrono::Utc::now(), chrono_tz::UTC).label();
    let eml = root.join("digest.eml");
    let out = envparity(
        root,
        &[
            "digest",
            "--repo",
            ".",
            "--state",
            ".state",
            "--period",
            &week,
            "--dry-run",
            "--out",
            eml.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read(&eml).expect("eml");
    let msg = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parse message");
    let text = msg.body_text(0).expect("text part");
    let live = text
        .split("CHANGED IN A CLUSTER")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap_or_else(|| panic!("no live section:\n{text}"));
    assert!(
        live.contains(
            "web live-sync-disabled: automated sync of Argo CD Application argocd/web-production"
        ),
        "{text}"
    );
    let oldest = text
        .split("OLDEST OPEN FINDINGS")
        .nth(1)
        .unwrap_or_else(|| panic!("no still-open section:\n{text}"));
    assert!(
        oldest.contains("[warn] web live-sync-disabled:")
            && oldest.contains("last written by argocd-server at 2026-11-21 10:00 UTC"),
        "{text}"
    );
    let html = msg.body_html(0).expect("html part");
    assert!(html.contains("live-sync-disabled"), "{html}");
}
