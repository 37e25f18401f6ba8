//! Live drift on overlays that set no namespace (issue 14): the namespace comes from what deploys them — an
//! Argo CD Application, an ApplicationSet, a Flux Kustomization — or from config, and it is used both to
//! list and to match. Five hand-made drifts are found in each case; a second namespace holding same-named
//! objects of another application stays silent; with nothing naming the namespace, the check says so.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{envparity, json};

const NS: &str = "shop-production";

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The service `web`: a Deployment and a Service, overlays for staging and production without `namespace:`.
fn write_repo(root: &Path) {
    write(
        root,
        "apps/web/base/kustomization.yaml",
        "resources: [deployment.yaml, service.yaml]\nlabels:\n  - pairs: {app.kubernetes.io/instance: web}\n",
    );
    write(
        root,
        "apps/web/base/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.4.2
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
"#,
    );
    write(
        root,
        "apps/web/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 80\n      targetPort: 8080\n",
    );
    for env in ["staging", "production"] {
        write(
            root,
            &format!("apps/web/overlays/{env}/kustomization.yaml"),
            "resources: [../../base]\n",
        );
    }
}

/// How the repo says where production goes.
enum Mapping {
    Application,
    ApplicationSet,
    Flux,
    Config,
}

fn write_mapping(root: &Path, mapping: &Mapping) {
    let application = |env: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/acme/infra.git\n    path: apps/web/overlays/{env}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop-{env}\n"
        )
    };
    match mapping {
        Mapping::Application => {
            write(root, "argocd/web-staging.yaml", &application("staging"));
            write(
                root,
                "argocd/web-production.yaml",
                &application("production"),
            );
        }
        Mapping::ApplicationSet => write(
            root,
            "argocd/web.yaml",
            r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: web
  namespace: argocd
spec:
  generators:
    - list:
        elements:
          - env: staging
          - env: production
  template:
    metadata:
      name: 'web-{{env}}'
    spec:
      project: default
      source:
        repoURL: https://git.example.com/acme/infra.git
        path: 'apps/web/overlays/{{env}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: 'shop-{{env}}'
"#,
        ),
        Mapping::Flux => {
            for env in ["staging", "production"] {
                write(
                    root,
                    &format!("clusters/{env}/web.yaml"),
                    &format!(
                        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./apps/web/overlays/{env}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  targetNamespace: shop-{env}\n"
                    ),
                );
            }
        }
        Mapping::Config => write(
            root,
            "config.toml",
            "[clusters.production]\nnamespace = \"shop-production\"\n",
        ),
    }
}

fn managed(manager: &str, operation: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

/// A Deployment `name` in `namespace` as the API server returns it, with `replicas` and `memory`.
fn live_deployment(
    name: &str,
    namespace: &str,
    instance: &str,
    replicas: i64,
    memory: &str,
    env: Value,
) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}"),
            "resourceVersion": "41", "generation": 3,
            "labels": {"app.kubernetes.io/instance": instance},
            "managedFields": []},
        "spec": {
            "replicas": replicas, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "app.kubernetes.io/instance": instance}},
                "spec": {"containers": [{
                    "name": "web", "image": "registry.example.com/shop/web:1.4.2",
                    "imagePullPolicy": "IfNotPresent", "env": env,
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": memory}},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}}
        },
        "status": {"replicas": replicas}
    })
}

/// Production after an incident: scaled by hand, memory limit edited, an env var added, the Service
/// deleted, a debug Deployment created with the app's label — and in another namespace, another team's
/// objects with the same names, quite different.
fn write_dump(root: &Path) {
    let web_key = r#"k:{"name":"web"}"#;
    let mut web = live_deployment(
        "web",
        NS,
        "web",
        6,
        "1Gi",
        json!([{"name": "DEBUG", "value": "1"}]),
    );
    web["metadata"]["managedFields"] = json!([
        managed(
            "argocd-controller",
            "Apply",
            "2026-11-18T15:35:00Z",
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {web_key: {".": {}, "f:image": {},
                "f:name": {}}}}}}})
        ),
        managed(
            "kubectl-scale",
            "Update",
            "2026-11-21T10:00:00Z",
            json!({"f:spec": {"f:replicas": {}}})
        ),
        managed(
            "kubectl-edit",
            "Update",
            "2026-11-21T10:02:00Z",
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {web_key: {
                "f:resources": {"f:limits": {"f:memory": {}}},
                "f:env": {r#"k:{"name":"DEBUG"}"#: {".": {}, "f:name": {}, "f:value": {}}}}}}}}})
        ),
    ]);
    let mut debug = live_deployment("web-debug", NS, "web", 1, "512Mi", json!([]));
    debug["metadata"]["managedFields"] = json!([managed(
        "kubectl-create",
        "Update",
        "2026-11-21T10:05:00Z",
        json!({"f:spec": {"f:replicas": {}}})
    )]);
    let other = live_deployment("web", "other-team", "other", 9, "4Gi", json!([]));
    let other_service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "other-team", "uid": "uid-other-svc",
            "labels": {"app.kubernetes.io/instance": "other"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 443, "targetPort": 9443, "protocol": "TCP"}],
                 "type": "ClusterIP", "clusterIP": "10.0.0.12"}});
    let list =
        json!({"apiVersion": "v1", "kind": "List", "items": [web, debug, other, other_service]});
    write(
        root,
        "live/production/objects.yaml",
        &serde_json::to_string_pretty(&list).expect("json"),
    );
}

fn drift(root: &Path) -> (Output, Value) {
    let out = envparity(
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
    );
    let report = json(&out);
    (out, report)
}

/// (rule, name, field) of every finding.
fn found(report: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("rule"), s("name"), s("field"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn overlays_without_a_namespace_are_listed_and_matched_where_their_gitops_object_or_config_puts_them()
 {
    let expected: Vec<(String, String, String)> = [
        ("live-extra", "web-debug", "(object)"),
        (
            "live-manual-field",
            "web",
            // Git sets no env list: the whole list is the hand's.
            "spec.template.spec.containers[web].env",
        ),
        ("live-missing", "web", "(object)"),
        ("live-value", "web", "spec.replicas"),
        (
            "live-value",
            "web",
            "spec.template.spec.containers[web].resources.limits.memory",
        ),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    for (name, mapping) in [
        ("application", Mapping::Application),
        ("applicationset", Mapping::ApplicationSet),
        ("flux", Mapping::Flux),
        ("config", Mapping::Config),
    ] {
        let t = tempfile::tempdir().expect("tempdir");
        write_repo(t.path());
        write_mapping(t.path(), &mapping);
        write_dump(t.path());
        let (out, report) = drift(t.path());
        assert_eq!(report["errors"], json!([]), "{name}: {report:#}");
        assert_eq!(found(&report), expected, "{name}: {report:#}");
        assert_eq!(out.status.code(), Some(1), "{name}");
        // Who did it, and when.
        let scaled = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["field"] == "spec.replicas")
            .expect("scaled");
        let message = scaled["message"].as_str().unwrap_or("");
        assert!(message.contains("kubectl-scale"), "{name}: {message}");
        // The missing Service is looked for in the production namespace, not in the other team's.
        let missing = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["rule"] == "live-missing")
            .expect("missing");
        assert!(
            missing["message"].as_str().unwrap_or("").contains(NS),
            "{name}: {missing:#}"
        );
    }
}

#[test]
fn a_namespace_nothing_names_is_an_error_per_kind_not_missing_objects() {
    let t = tempfile::tempdir().expect("tempdir");
    write_repo(t.path());
    // Two namespaces in the dump, no GitOps object, no config: nothing says which is production's.
    write_dump(t.path());
    let (out, report) = drift(t.path());
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    let errors = report["errors"].as_array().expect("errors");
    let kinds: Vec<&str> = errors
        .iter()
        .filter(|e| e["kind"] == "config")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        kinds
            .iter()
            .any(|m| m.contains("Deployment") && m.contains("namespace"))
            && kinds.iter().any(|m| m.contains("Service")),
        "{report:#}"
    );
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["rule"] != "live-missing"),
        "{report:#}"
    );
}
