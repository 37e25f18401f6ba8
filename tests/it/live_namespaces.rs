//! Live drift on overlays that set no namespace (issue 14): the namespace comes from what deploys them — an
//! Argo CD Application, an ApplicationSet, a Flux Kustomization — or from config, and it is used both to
//! list and to match. Five hand-made drifts are found in each case; a second namespace holding same-named
//! objects of another application stays silent; with nothing naming the namespace, the check says so.
//!
//! Each case runs twice: from a directory of dumps (`--live-dir`), and through the real kube client
//! against the test API server (`apiserver.rs`), which also shows what was asked of the cluster — one list
//! per kind and namespace, never a cluster-wide list of a namespaced kind, never a GET per object.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::apiserver::ApiServer;
use crate::support::{envparity, json, write, write_web_repo};

/// Where production's `web` runs.
const NS: &str = "shop-production";
/// Another team's namespace on the same cluster, with objects of the same names.
const OTHER_NS: &str = "other-team";
/// Argo CD's (or Flux's) last sync of the objects.
const SYNCED: &str = "2026-11-18T15:35:00Z";
/// `kubectl scale deployment web --replicas=6`.
const SCALED: &str = "2026-11-21T10:00:00Z";
/// `kubectl edit deployment web`: memory limit 1Gi, env var DEBUG added.
const EDITED: &str = "2026-11-21T10:02:00Z";
/// `kubectl create deployment web-debug`.
const CREATED: &str = "2026-11-21T10:05:00Z";
/// `kubectl label deployment web-debug app.kubernetes.io/instance=web`.
const LABELLED: &str = "2026-11-21T10:05:40Z";

/// How the repo says where production goes.
#[derive(Debug, Clone, Copy)]
enum Mapping {
    Application,
    ApplicationSet,
    Flux,
    /// Nothing in the repo: the Argo CD Applications live elsewhere, config names the namespace.
    Config,
}

const MAPPINGS: [Mapping; 4] = [
    Mapping::Application,
    Mapping::ApplicationSet,
    Mapping::Flux,
    Mapping::Config,
];

impl Mapping {
    /// The field manager that applied Git's objects.
    fn manager(self) -> &'static str {
        match self {
            Mapping::Flux => "kustomize-controller",
            _ => "argocd-controller",
        }
    }

    /// `[clusters.production] namespace`, which only the config-only mapping needs.
    fn configured_namespace(self) -> Option<&'static str> {
        matches!(self, Mapping::Config).then_some(NS)
    }

    /// What the GitOps tool marks `web`'s Deployment with: (annotations, labels) — Argo CD's tracking
    /// annotation (its default since 3.0), Flux's ownership labels.
    fn marks(self) -> (Value, Value) {
        match self {
            Mapping::Flux => (
                json!({}),
                json!({"kustomize.toolkit.fluxcd.io/name": "web",
                       "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}),
            ),
            _ => (
                json!({"argocd.argoproj.io/tracking-id": format!("web-production:apps/Deployment:{NS}/web")}),
                json!({}),
            ),
        }
    }
}

/// The repo's GitOps objects for `mapping` (none for the config-only one).
fn write_mapping(root: &Path, mapping: Mapping) {
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
        Mapping::Config => {}
    }
}

/// `config.toml` with `[clusters.production]`: `reach` (how to get to a cluster, empty for dumps) and, for
/// the config-only mapping, the namespace. None when there is nothing to say.
fn write_config(root: &Path, mapping: Mapping, reach: &str) {
    let namespace = mapping
        .configured_namespace()
        .map(|ns| format!("namespace = \"{ns}\"\n"))
        .unwrap_or_default();
    if reach.is_empty() && namespace.is_empty() {
        return;
    }
    write(
        root,
        "config.toml",
        &format!("[clusters.production]\n{reach}{namespace}"),
    );
}

// ---------------------------------------------------------------------------------------------------------
// The cluster: production after an incident, as the API server returns it.

/// A `managedFields` entry.
fn managed(
    manager: &str,
    operation: &str,
    time: &str,
    subresource: Option<&str>,
    fields: Value,
) -> Value {
    let mut entry = json!({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
                           "manager": manager, "operation": operation, "time": time});
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    entry
}

/// Fields of a `fieldsV1` tree, merged (`b` into `a`).
fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(json!({})), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// The controller's entries: the revision annotation (rewritten with each template change) and `status`.
fn controller_fields(revised: &str) -> [Value; 2] {
    [
        managed(
            "kube-controller-manager",
            "Update",
            revised,
            None,
            json!({"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}),
        ),
        managed(
            "kube-controller-manager",
            "Update",
            revised,
            Some("status"),
            json!({"f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {},
                   "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}}),
        ),
    ]
}

/// A Deployment as the API server returns it: one container `web`, server defaults, metadata, `status`.
struct LiveDeployment {
    namespace: &'static str,
    name: &'static str,
    /// The pod label `app` (selector and template).
    app: &'static str,
    image: &'static str,
    replicas: i64,
    memory: &'static str,
    env: Option<Value>,
    /// Besides the controller's revision annotation.
    annotations: Value,
    labels: Value,
    /// Already in the server's order: Apply before Update, then by time (seconds), then by manager.
    managed_fields: Vec<Value>,
    /// Makes uid and resourceVersion unique.
    seed: u32,
}

impl LiveDeployment {
    fn build(self) -> Value {
        let mut container = json!({
            "image": self.image, "imagePullPolicy": "IfNotPresent", "name": "web",
            "resources": {"limits": {"cpu": "1", "memory": self.memory},
                          "requests": {"cpu": "250m", "memory": "256Mi"}},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        });
        if let Some(env) = self.env {
            container["env"] = env;
        }
        let mut annotations = json!({"deployment.kubernetes.io/revision": "2"});
        merge(&mut annotations, self.annotations);
        let replicas = self.replicas;
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "annotations": annotations,
                "creationTimestamp": "2026-09-01T08:00:00Z",
                "generation": 4,
                "labels": self.labels,
                "managedFields": self.managed_fields,
                "name": self.name, "namespace": self.namespace,
                "resourceVersion": format!("{}", 48_200 + self.seed),
                "uid": format!("3f6c2a8e-1b4d-4e7a-9c0f-{:012x}", self.seed)
            },
            "spec": {
                "progressDeadlineSeconds": 600, "replicas": replicas, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": self.app}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": self.app}},
                    "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                             "schedulerName": "default-scheduler", "securityContext": {},
                             "terminationGracePeriodSeconds": 30}
                }
            },
            "status": {"availableReplicas": replicas, "observedGeneration": 4, "readyReplicas": replicas,
                       "replicas": replicas, "updatedReplicas": replicas,
                       "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                       "lastTransitionTime": "2026-09-01T08:00:10Z",
                                       "lastUpdateTime": "2026-09-01T08:00:10Z",
                                       "message": "Deployment has minimum availability."}]}
        })
    }
}

/// The Service `web` of the other team, with their own selector and ports.
fn other_team_service(labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"creationTimestamp": "2026-06-10T12:00:00Z", "labels": labels,
            "annotations": {"argocd.argoproj.io/tracking-id": format!("other-web:/Service:{OTHER_NS}/web")},
            "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "argocd-controller",
                "operation": "Apply", "time": "2026-06-10T12:00:00Z",
                "fieldsV1": {"f:spec": {"f:ports": {"k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {},
                    "f:targetPort": {}}}, "f:selector": {}}}}],
            "name": "web", "namespace": OTHER_NS, "resourceVersion": "31207",
            "uid": "9a1b2c3d-4e5f-4a6b-8c7d-00000000a001"},
        "spec": {"clusterIP": "10.96.40.12", "clusterIPs": ["10.96.40.12"], "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"port": 443, "protocol": "TCP", "targetPort": 9443}],
                 "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}}})
}

/// Production after an incident, with `mapping`'s GitOps tool having applied Git: `web` scaled to 6 by
/// `kubectl scale`, its memory limit raised and an env var added by `kubectl edit`, the Service deleted, a
/// `web-debug` Deployment created by hand and labelled as the app's — and in another namespace, another
/// team's `web` Deployment and Service: same names, same instance label (their app is called `web` too),
/// quite different.
fn live_objects(mapping: Mapping) -> Vec<Value> {
    let gitops = mapping.manager();
    let container = r#"k:{"name":"web"}"#;
    let (annotations, marks) = mapping.marks();
    let mut labels = json!({"app.kubernetes.io/instance": "web"});
    merge(&mut labels, marks.clone());
    // Git's fields, less the two a hand took over: an Update moves a field's ownership to its manager.
    let mut applied = json!({
        "f:metadata": {"f:labels": {"f:app.kubernetes.io/instance": {}}},
        "f:spec": {"f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {container: {".": {}, "f:image": {}, "f:name": {},
                "f:resources": {"f:limits": {"f:cpu": {}}, "f:requests": {"f:cpu": {}, "f:memory": {}}}}}}}}
    });
    for (field, marks) in [("f:annotations", &annotations), ("f:labels", &marks)] {
        for key in marks.as_object().into_iter().flat_map(|m| m.keys()) {
            merge(
                &mut applied,
                json!({"f:metadata": {field: {format!("f:{key}"): {}}}}),
            );
        }
    }
    let [revision, status] = controller_fields(EDITED);
    let web = LiveDeployment {
        namespace: NS,
        name: "web",
        app: "web",
        image: "registry.example.com/shop/web:1.4.2",
        replicas: 6,
        memory: "1Gi",
        env: Some(json!([{"name": "DEBUG", "value": "1"}])),
        annotations,
        labels,
        managed_fields: vec![
            managed(gitops, "Apply", SYNCED, None, applied),
            managed(
                "kubectl-scale",
                "Update",
                SCALED,
                Some("scale"),
                json!({"f:spec": {"f:replicas": {}}}),
            ),
            // The edit changed the template: the controller rolled out revision 2 in the same second, and
            // the server orders same-second entries by manager name.
            revision,
            status,
            managed(
                "kubectl-edit",
                "Update",
                EDITED,
                None,
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {container: {
                    "f:env": {".": {}, r#"k:{"name":"DEBUG"}"#: {".": {}, "f:name": {}, "f:value": {}}},
                    "f:resources": {"f:limits": {"f:memory": {}}}}}}}}}),
            ),
        ],
        seed: 1,
    }
    .build();
    // `kubectl create deployment web-debug --image=…`, then `kubectl label … app.kubernetes.io/instance=web`.
    // The controller annotated it in the creating second, so its entry comes first.
    let [revision, status] = controller_fields(CREATED);
    let debug = LiveDeployment {
        namespace: NS,
        name: "web-debug",
        app: "web-debug",
        image: "registry.example.com/shop/web:1.4.2-debug",
        replicas: 1,
        memory: "512Mi",
        env: None,
        annotations: json!({}),
        labels: json!({"app": "web-debug", "app.kubernetes.io/instance": "web"}),
        managed_fields: vec![
            revision,
            status,
            managed(
                "kubectl-create",
                "Update",
                CREATED,
                None,
                json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                       "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                           "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                           "f:spec": {"f:containers": {container: {".": {}, "f:image": {}, "f:name": {},
                               "f:resources": {}}}}}}}),
            ),
            managed(
                "kubectl-label",
                "Update",
                LABELLED,
                None,
                json!({"f:metadata": {"f:labels": {"f:app.kubernetes.io/instance": {}}}}),
            ),
        ],
        seed: 2,
    }
    .build();
    let [revision, status] = controller_fields("2026-06-10T12:00:00Z");
    let other_labels = json!({"app.kubernetes.io/instance": "web", "team": "other"});
    let other = LiveDeployment {
        namespace: OTHER_NS,
        name: "web",
        app: "web",
        image: "registry.example.com/other/web:7.0.0",
        replicas: 9,
        memory: "4Gi",
        env: None,
        annotations: json!({"argocd.argoproj.io/tracking-id": format!("other-web:apps/Deployment:{OTHER_NS}/web")}),
        labels: other_labels.clone(),
        managed_fields: vec![
            managed(
                "argocd-controller",
                "Apply",
                "2026-06-10T12:00:00Z",
                None,
                json!({"f:metadata": {"f:labels": {"f:app.kubernetes.io/instance": {}, "f:team": {}}},
                       "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {}}}),
            ),
            revision,
            status,
        ],
        seed: 3,
    }
    .build();
    vec![web, debug, other, other_team_service(other_labels)]
}

/// The objects as `kubectl get deploy,svc -A -o yaml` prints them, into `live/production/`.
fn write_dump(root: &Path, mapping: Mapping) {
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                      "items": live_objects(mapping)});
    write(
        root,
        "live/production/objects.yaml",
        &serde_json::to_string_pretty(&list).expect("json"),
    );
}

/// `envparity drift --format json` in `root`, with `extra` arguments.
fn drift(root: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["drift", "--repo", ".", "--state", ".state"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let out = envparity(root, &args);
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

/// The finding of `rule` on `field`.
fn finding<'v>(report: &'v Value, rule: &str, field: &str) -> &'v Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == rule && f["field"] == field)
        .unwrap_or_else(|| panic!("no {rule} on {field}: {report:#}"))
}

/// The five hand-made drifts, each with its rule, who did it and when; nothing of the other namespace.
fn assert_the_five_drifts(case: &str, out: &Output, report: &Value) {
    let env_field = "spec.template.spec.containers[web].env";
    let memory_field = "spec.template.spec.containers[web].resources.limits.memory";
    let expected: Vec<(String, String, String)> = [
        ("live-extra", "web-debug", "(object)"),
        // Git sets no env list: the whole list is the hand's.
        ("live-manual-field", "web", env_field),
        ("live-missing", "web", "(object)"),
        ("live-value", "web", "spec.replicas"),
        ("live-value", "web", memory_field),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(report["errors"], json!([]), "{case}: {report:#}");
    assert_eq!(found(report), expected, "{case}: {report:#}");
    assert_eq!(out.status.code(), Some(1), "{case}");
    for f in report["findings"].as_array().expect("findings") {
        assert_eq!(f["envs"], json!(["production"]), "{case}: {f:#}");
    }

    // Who did it, and when.
    for (rule, field, manager, time) in [
        ("live-value", "spec.replicas", "kubectl-scale", SCALED),
        ("live-value", memory_field, "kubectl-edit", EDITED),
        ("live-manual-field", env_field, "kubectl-edit", EDITED),
    ] {
        let f = finding(report, rule, field);
        assert_eq!(f["values"]["manager"], manager, "{case}: {f:#}");
        assert_eq!(f["values"]["changed"], time, "{case}: {f:#}");
        let message = f["message"].as_str().unwrap_or("");
        assert!(message.contains(manager), "{case}: {message}");
    }
    let scaled = finding(report, "live-value", "spec.replicas");
    assert_eq!(
        (&scaled["values"]["git"], &scaled["values"]["production"]),
        (&json!("2"), &json!("6")),
        "{case}"
    );
    let memory = finding(report, "live-value", memory_field);
    assert_eq!(
        (&memory["values"]["git"], &memory["values"]["production"]),
        (&json!("512Mi"), &json!("1Gi")),
        "{case}"
    );
    // The hand-added value is never shown.
    let added = finding(report, "live-manual-field", env_field);
    assert_eq!(
        added["values"]["production"], r#"[{"name":"DEBUG","value":"<redacted>"}]"#,
        "{case}"
    );
    // Created by a person, not by the controller that annotated it in the same second.
    let extra = finding(report, "live-extra", "(object)");
    assert_eq!(extra["values"]["manager"], "kubectl-create", "{case}");
    let message = extra["message"].as_str().unwrap_or("");
    assert!(message.contains(NS), "{case}: {message}");
    // The missing Service is looked for in the production namespace, not in the other team's.
    let missing = finding(report, "live-missing", "(object)");
    assert_eq!(missing["kind"], "Service", "{case}");
    assert!(
        missing["message"].as_str().unwrap_or("").contains(NS),
        "{case}: {missing:#}"
    );
    assert!(
        !report.to_string().contains(OTHER_NS),
        "{case}: the other namespace leaked in: {report:#}"
    );
}

#[test]
fn overlays_without_a_namespace_are_listed_and_matched_where_their_gitops_object_or_config_puts_them()
 {
    for mapping in MAPPINGS {
        let t = tempfile::tempdir().expect("tempdir");
        write_web_repo(t.path());
        write_mapping(t.path(), mapping);
        write_config(t.path(), mapping, "");
        write_dump(t.path(), mapping);
        let (out, report) = drift(t.path(), &["--live-dir", "live"]);
        assert_the_five_drifts(&format!("{mapping:?}, dumps"), &out, &report);
    }
}

/// The same through the real kube client: `[clusters.production]` reaches the test API server through a
/// kubeconfig whose context's namespace (`shop`) is not production's — only the repo's GitOps objects, or
/// config for the config-only mapping, say where `web` runs.
fn drift_through_the_api_server(mapping: Mapping) {
    let t = tempfile::tempdir().expect("tempdir");
    write_web_repo(t.path());
    write_mapping(t.path(), mapping);
    let server = ApiServer::start();
    for o in live_objects(mapping) {
        server.add(o);
    }
    server.kubeconfig(t.path());
    write_config(
        t.path(),
        mapping,
        "kubeconfig = \"kubeconfig\"\ncontext = \"envparity-test\"\ntimeout_seconds = 10\n",
    );
    let (out, report) = drift(t.path(), &[]);
    let case = format!("{mapping:?}, API server");
    assert_the_five_drifts(&case, &out, &report);

    // Discovery of the two group versions, then one list per kind, in production's namespace only: no
    // cluster-wide list (which would hand the other team's objects to the matching), no GET per object.
    // The GitOps object deploying the overlay is read too (live-sync-disabled), one list in its namespace.
    let mut seen = server.requests();
    seen.sort();
    let mut expected = vec![
        "GET /api/v1".to_string(),
        format!("GET /api/v1/namespaces/{NS}/services?&limit=500"),
        "GET /apis/apps/v1".to_string(),
        format!("GET /apis/apps/v1/namespaces/{NS}/deployments?&limit=500"),
    ];
    match mapping {
        Mapping::Application | Mapping::ApplicationSet => expected.extend([
            "GET /apis/argoproj.io/v1alpha1".to_string(),
            "GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications?&limit=500".to_string(),
        ]),
        Mapping::Flux => expected.extend([
            "GET /apis/kustomize.toolkit.fluxcd.io/v1".to_string(),
            "GET /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations?&limit=500"
                .to_string(),
        ]),
        Mapping::Config => {}
    }
    expected.sort();
    assert_eq!(seen, expected, "{case}");
}

#[test]
fn through_the_kube_client_an_argo_cd_application_names_the_namespace() {
    drift_through_the_api_server(Mapping::Application);
}

#[test]
fn through_the_kube_client_an_applicationset_names_the_namespace() {
    drift_through_the_api_server(Mapping::ApplicationSet);
}

#[test]
fn through_the_kube_client_a_flux_target_namespace_names_the_namespace() {
    drift_through_the_api_server(Mapping::Flux);
}

#[test]
fn through_the_kube_client_config_names_the_namespace() {
    drift_through_the_api_server(Mapping::Config);
}

#[test]
fn a_namespace_nothing_names_is_an_error_per_kind_not_missing_objects() {
    let t = tempfile::tempdir().expect("tempdir");
    write_web_repo(t.path());
    // Two namespaces in the dump, no GitOps object, no config: nothing says which is production's.
    write_dump(t.path(), Mapping::Config);
    let (out, report) = drift(t.path(), &["--live-dir", "live"]);
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
