//! The real `kube` client, through `KubeSource`, against the in-process API server (`apiserver.rs`):
//! discovery, one LIST per kind and namespace, objects kept exactly as served (managedFields included), the
//! drift diff on them, and the faults a cluster shows (403, slow lists, a server that is down, a bad
//! token, kinds it does not serve).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use envparity::config::ClusterConfig;
use envparity::live::argo::{self, SyncTrigger};
use envparity::live::diff::{DriftKind, Managers, diff_object};
use envparity::live::kube::KubeSource;
use envparity::live::source::{ListRequest, Listed, LiveError, LiveSource};
use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Fault, TOKEN, standard_resources};

const ENV: &str = "production";
const NS: &str = "shop";
const CREATED: &str = "2026-03-01T10:00:00Z";
const SYNCED: &str = "2026-05-01T08:30:12Z";
const SCALED: &str = "2026-05-02T14:03:27Z";
const EDITED: &str = "2026-05-03T09:17:45Z";

fn request(api_version: &str, kind: &str, namespace: Option<&str>) -> ListRequest {
    ListRequest {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
    }
}

fn source_for(clusters: BTreeMap<String, ClusterConfig>, dir: &std::path::Path) -> KubeSource {
    KubeSource::new(&clusters, dir).expect("kube source")
}

/// A source for `production` reaching `server` with `timeout` seconds per request.
fn source(server: &ApiServer, dir: &tempfile::TempDir, timeout: u64) -> KubeSource {
    let clusters = BTreeMap::from([(ENV.to_string(), server.cluster_config(dir.path(), timeout))]);
    source_for(clusters, dir.path())
}

fn objects<'a>(listed: &'a [Listed], kind: &str) -> &'a [Value] {
    let l = listed
        .iter()
        .find(|l| l.request.kind == kind)
        .unwrap_or_else(|| panic!("no answer for {kind}"));
    match &l.result {
        Ok(objects) => objects,
        Err(e) => panic!("{kind} not listed: {e}"),
    }
}

fn named<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no object {name}"))
}

fn lists(server: &ApiServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.contains("?"))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures: what Git declares (kustomize output) and what a real API server returns for it.

/// The Deployment as `kustomize build` renders it.
fn git_deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "labels": {"app": name, "app.kubernetes.io/instance": format!("{name}-production")},
            "name": name,
            "namespace": NS
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name,
                    "image": format!("registry.example.com/shop/{name}:1.42.0"),
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                    "resources": {
                        "limits": {"cpu": "1000m", "memory": "0.5Gi"},
                        "requests": {"cpu": "250m", "memory": "256Mi"}
                    }
                }]}
            }
        }
    })
}

/// Hand changes made to a live Deployment after Argo CD applied it.
#[derive(Default)]
struct Edits {
    /// `kubectl scale --replicas=N` (the scale subresource).
    scaled_to: Option<i64>,
    /// `kubectl edit`: a new memory limit.
    memory_limit: Option<&'static str>,
    /// `kubectl edit`: an env var added (name, value).
    env_added: Option<(&'static str, &'static str)>,
}

/// The argocd-controller Apply entry's fieldsV1: everything Git sets, less what a hand took over (an
/// Update of a field moves its ownership away from the applier).
fn argocd_fields(name: &str, edits: &Edits) -> Value {
    let container = format!("k:{{\"name\":\"{name}\"}}");
    let mut limits = json!({"f:cpu": {}, "f:memory": {}});
    if edits.memory_limit.is_some() {
        limits = json!({"f:cpu": {}});
    }
    let mut spec = json!({
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {container: {
                ".": {},
                "f:env": {"k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:value": {}}},
                "f:image": {},
                "f:name": {},
                "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
                    ".": {}, "f:containerPort": {}, "f:name": {}
                }},
                "f:readinessProbe": {"f:httpGet": {"f:path": {}, "f:port": {}}},
                "f:resources": {"f:limits": limits, "f:requests": {"f:cpu": {}, "f:memory": {}}}
            }}}
        }
    });
    if edits.scaled_to.is_some()
        && let Some(m) = spec.as_object_mut()
    {
        m.remove("f:replicas");
    }
    json!({
        "f:metadata": {"f:labels": {"f:app": {}, "f:app.kubernetes.io/instance": {}}},
        "f:spec": spec
    })
}

/// The Deployment as the API server returns it: defaults filled in, quantities canonical, server metadata,
/// `status`, and `managedFields` of Argo CD, the controller manager and any hand edits.
fn live_deployment(name: &str, uid_seed: u32, edits: &Edits) -> Value {
    let replicas = edits.scaled_to.unwrap_or(3);
    let mut env = vec![json!({"name": "LOG_LEVEL", "value": "info"})];
    if let Some((n, v)) = edits.env_added {
        env.push(json!({"name": n, "value": v}));
    }
    let mut managed = vec![
        json!({
            "manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1",
            "time": SYNCED, "fieldsType": "FieldsV1", "fieldsV1": argocd_fields(name, edits)
        }),
        json!({
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
            "time": SYNCED, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}
        }),
        json!({
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
            "time": SYNCED, "fieldsType": "FieldsV1", "subresource": "status",
            "fieldsV1": {"f:status": {
                "f:availableReplicas": {}, "f:conditions": {".": {},
                    "k:{\"type\":\"Available\"}": {".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {},
                        "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}},
                    "k:{\"type\":\"Progressing\"}": {".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {},
                        "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}},
                "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}
            }}
        }),
    ];
    if edits.scaled_to.is_some() {
        managed.push(json!({
            "manager": "kubectl-scale", "operation": "Update", "apiVersion": "apps/v1",
            "time": SCALED, "fieldsType": "FieldsV1", "subresource": "scale",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}
        }));
    }
    let container = format!("k:{{\"name\":\"{name}\"}}");
    let mut edited = serde_json::Map::new();
    if edits.memory_limit.is_some() {
        edited.insert("f:resources".into(), json!({"f:limits": {"f:memory": {}}}));
    }
    if let Some((n, _)) = edits.env_added {
        edited.insert(
            "f:env".into(),
            json!({format!("k:{{\"name\":\"{n}\"}}"): {".": {}, "f:name": {}, "f:value": {}}}),
        );
    }
    if !edited.is_empty() {
        managed.push(json!({
            "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
            "time": EDITED, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {container: edited}}}}}
        }));
    }
    let generation = 4 + i64::from(edits.scaled_to.is_some()) + i64::from(!edited.is_empty());
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": "4"},
            "creationTimestamp": CREATED,
            "generation": generation,
            "labels": {"app": name, "app.kubernetes.io/instance": format!("{name}-production")},
            "managedFields": managed,
            "name": name,
            "namespace": NS,
            "resourceVersion": format!("{}", 48_213 + uid_seed),
            "uid": format!("3f6c2a8e-1b4d-4e7a-9c0f-{uid_seed:012x}")
        },
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": name}},
                "spec": {
                    "containers": [{
                        "env": env,
                        "image": format!("registry.example.com/shop/{name}:1.42.0"),
                        "imagePullPolicy": "IfNotPresent",
                        "name": name,
                        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                        "readinessProbe": {
                            "failureThreshold": 3,
                            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                            "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1
                        },
                        "resources": {
                            "limits": {"cpu": "1", "memory": edits.memory_limit.unwrap_or("512Mi")},
                            "requests": {"cpu": "250m", "memory": "256Mi"}
                        },
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {
            "availableReplicas": replicas,
            "conditions": [
                {"lastTransitionTime": CREATED, "lastUpdateTime": CREATED, "message": "Deployment has minimum availability.",
                 "reason": "MinimumReplicasAvailable", "status": "True", "type": "Available"},
                {"lastTransitionTime": CREATED, "lastUpdateTime": SYNCED,
                 "message": format!("ReplicaSet \"{name}-6d4cf56db6\" has successfully progressed."),
                 "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"}
            ],
            "observedGeneration": generation,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas
        }
    })
}

fn git_service(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"labels": {"app": name}, "name": name, "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], "selector": {"app": name}}
    })
}

fn live_service(name: &str, seed: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "creationTimestamp": CREATED, "labels": {"app": name},
            "managedFields": [{
                "manager": "argocd-controller", "operation": "Apply", "apiVersion": "v1", "time": SYNCED,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {
                    "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
                    "f:selector": {}}}
            }],
            "name": name, "namespace": NS,
            "resourceVersion": format!("{}", 31_000 + seed),
            "uid": format!("9a1b2c3d-4e5f-4a6b-8c7d-{seed:012x}")
        },
        "spec": {
            "clusterIP": format!("10.96.{}.{}", seed / 250, seed % 250 + 2),
            "clusterIPs": [format!("10.96.{}.{}", seed / 250, seed % 250 + 2)],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
            "selector": {"app": name},
            "sessionAffinity": "None",
            "type": "ClusterIP"
        },
        "status": {"loadBalancer": {}}
    })
}

fn git_virtual_service(name: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"hosts": [name], "http": [{"route": [{"destination": {"host": name, "port": {"number": 80}}}],
                  "timeout": "5s", "retries": {"attempts": 3, "perTryTimeout": "2s"}}]}
    })
}

fn live_virtual_service(name: &str, seed: u32) -> Value {
    let mut vs = git_virtual_service(name);
    vs["apiVersion"] = json!("networking.istio.io/v1");
    vs["metadata"] = json!({
        "annotations": {"argocd.argoproj.io/tracking-id": format!("{name}-production:networking.istio.io/VirtualService:{NS}/{name}")},
        "creationTimestamp": CREATED, "generation": 1,
        "managedFields": [{
            "manager": "argocd-controller", "operation": "Apply", "apiVersion": "networking.istio.io/v1beta1",
            "time": SYNCED, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:argocd.argoproj.io/tracking-id": {}}},
                         "f:spec": {"f:hosts": {}, "f:http": {}}}
        }],
        "name": name, "namespace": NS,
        "resourceVersion": format!("{}", 52_000 + seed),
        "uid": format!("77e0d5a1-2c3b-4d9e-8f10-{seed:012x}")
    });
    vs
}

fn git_config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS},
           "data": {"LOG_FORMAT": "json"}})
}

fn live_config_map(name: &str, namespace: &str, seed: u32) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"creationTimestamp": CREATED, "name": name, "namespace": namespace,
                        "managedFields": [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "v1",
                                           "time": SYNCED, "fieldsType": "FieldsV1",
                                           "fieldsV1": {"f:data": {"f:LOG_FORMAT": {}}}}],
                        "resourceVersion": format!("{}", 60_000 + seed),
                        "uid": format!("0c1d2e3f-4a5b-4c6d-9e7f-{seed:012x}")},
           "data": {"LOG_FORMAT": "json"}})
}

fn git_hpa(name: &str) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"maxReplicas": 10, "minReplicas": 3,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                 "target": {"type": "Utilization", "averageUtilization": 70}}}],
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}}})
}

fn live_hpa(name: &str, seed: u32) -> Value {
    let mut h = git_hpa(name);
    h["metadata"] = json!({"creationTimestamp": CREATED, "name": name, "namespace": NS,
        "managedFields": [
            {"manager": "argocd-controller", "operation": "Apply", "apiVersion": "autoscaling/v2", "time": SYNCED,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:maxReplicas": {}, "f:metrics": {}, "f:minReplicas": {}, "f:scaleTargetRef": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "autoscaling/v2", "time": SYNCED,
             "fieldsType": "FieldsV1", "subresource": "status",
             "fieldsV1": {"f:status": {"f:conditions": {}, "f:currentMetrics": {}, "f:currentReplicas": {}, "f:desiredReplicas": {}}}}],
        "resourceVersion": format!("{}", 70_000 + seed), "uid": format!("5e6f7a8b-9c0d-4e1f-a2b3-{seed:012x}")});
    h["status"] = json!({"currentReplicas": 3, "desiredReplicas": 3,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 41, "averageValue": "102m"}}}]});
    h
}

// ---------------------------------------------------------------------------------------------------------

#[test]
fn a_live_deployment_with_only_defaults_and_canonical_quantities_is_no_drift() {
    let server = ApiServer::start();
    let live = live_deployment("checkout", 1, &Edits::default());
    server.add(live.clone());
    server.add(live_service("checkout", 1));
    server.add(live_virtual_service("checkout", 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let source = source(&server, &dir, 5);
    assert!(source.covers(ENV));
    assert!(!source.covers("staging"));

    let listed = source
        .list(
            ENV,
            &[
                request("apps/v1", "Deployment", Some(NS)),
                request("v1", "Service", Some(NS)),
                // Git still says v1beta1; the cluster prefers v1 and serves both (a CRD).
                request("networking.istio.io/v1beta1", "VirtualService", Some(NS)),
            ],
        )
        .expect("listed");

    let deployment = named(objects(&listed, "Deployment"), "checkout");
    // Exactly what the server holds: managedFields, status, timestamps, key order — and the apiVersion and
    // kind the list items came without.
    assert_eq!(deployment, &live);
    assert_eq!(
        deployment
            .as_object()
            .map(|m| m.keys().take(2).cloned().collect::<Vec<_>>()),
        Some(vec!["apiVersion".to_string(), "kind".to_string()])
    );
    let managers = Managers::default();
    assert_eq!(
        diff_object(&git_deployment("checkout"), deployment, &managers),
        vec![]
    );

    let service = named(objects(&listed, "Service"), "checkout");
    assert_eq!(service["apiVersion"], "v1");
    assert_eq!(service["kind"], "Service");
    assert_eq!(
        diff_object(&git_service("checkout"), service, &managers),
        vec![]
    );

    let vs = named(objects(&listed, "VirtualService"), "checkout");
    assert_eq!(vs["apiVersion"], "networking.istio.io/v1beta1");
    assert_eq!(
        diff_object(&git_virtual_service("checkout"), vs, &managers),
        vec![]
    );
    assert!(server.requests().iter().all(|r| r.starts_with("GET ")));
}

#[test]
fn a_scale_an_edit_and_a_hand_added_env_var_are_drift_with_manager_and_time() {
    let server = ApiServer::start();
    server.add(live_deployment(
        "checkout",
        1,
        &Edits {
            scaled_to: Some(5),
            memory_limit: Some("1Gi"),
            env_added: Some(("DEBUG_TOKEN", "hunter2-typed-by-hand")),
        },
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(ENV, &[request("apps/v1", "Deployment", Some(NS))])
        .expect("listed");
    let live = named(objects(&listed, "Deployment"), "checkout");
    let drifts = diff_object(&git_deployment("checkout"), live, &Managers::default());
    let time = |t: &str| Some(t.parse::<chrono::DateTime<chrono::Utc>>().expect("time"));

    let by_path: BTreeMap<&str, _> = drifts.iter().map(|d| (d.path.as_str(), d)).collect();
    assert_eq!(by_path.len(), 3, "{drifts:#?}");

    let replicas = by_path["spec.replicas"];
    assert_eq!(replicas.kind, DriftKind::Value);
    assert_eq!(
        (replicas.git.as_deref(), replicas.live.as_deref()),
        (Some("3"), Some("5"))
    );
    let owner = replicas.owner.as_ref().expect("owner");
    assert_eq!(
        (owner.manager.as_str(), owner.time),
        ("kubectl-scale", time(SCALED))
    );

    let memory = by_path["spec.template.spec.containers[checkout].resources.limits.memory"];
    assert_eq!(memory.kind, DriftKind::Value);
    assert_eq!(
        (memory.git.as_deref(), memory.live.as_deref()),
        (Some("0.5Gi"), Some("1Gi"))
    );
    assert_eq!(memory.container.as_deref(), Some("checkout"));
    let owner = memory.owner.as_ref().expect("owner");
    assert_eq!(
        (owner.manager.as_str(), owner.operation.as_str(), owner.time),
        ("kubectl-edit", "Update", time(EDITED))
    );

    let env = by_path["spec.template.spec.containers[checkout].env[DEBUG_TOKEN]"];
    assert_eq!(env.kind, DriftKind::ManualField);
    assert_eq!(
        env.owner.as_ref().map(|o| o.manager.as_str()),
        Some("kubectl-edit")
    );
    assert!(
        !format!("{drifts:?}").contains("hunter2"),
        "an env value leaked: {drifts:#?}"
    );
}

#[test]
fn a_forbidden_kind_is_reported_alone_and_the_other_kinds_are_listed() {
    let server = ApiServer::start();
    server.add(live_deployment("checkout", 1, &Edits::default()));
    server.add(live_service("checkout", 1));
    server.add(live_config_map("checkout-config", NS, 1));
    server.fault(
        "/apis/apps/v1/namespaces/shop/deployments",
        Fault::Forbidden,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(
            ENV,
            &[
                request("apps/v1", "Deployment", Some(NS)),
                request("v1", "Service", Some(NS)),
                request("v1", "ConfigMap", Some(NS)),
            ],
        )
        .expect("the environment as a whole is readable");
    match &listed[0].result {
        Err(LiveError::Forbidden {
            kind,
            namespace,
            reason,
        }) => {
            assert_eq!(kind, "Deployment");
            assert_eq!(namespace.as_deref(), Some(NS));
            assert!(
                reason.contains("cannot list resource \"deployments\""),
                "{reason}"
            );
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert_eq!(
        listed[0].result.as_ref().err().map(LiveError::kind),
        Some(envparity::codes::ErrorKind::ClusterForbidden)
    );
    assert_eq!(objects(&listed, "Service").len(), 1);
    assert_eq!(objects(&listed, "ConfigMap").len(), 1);
}

#[test]
fn a_list_slower_than_the_timeout_times_out_alone() {
    let server = ApiServer::start();
    server.add(live_deployment("checkout", 1, &Edits::default()));
    server.add(live_service("checkout", 1));
    server.fault(
        "/api/v1/namespaces/shop/services",
        Fault::Delay(Duration::from_secs(4)),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let listed = source(&server, &dir, 1)
        .list(
            ENV,
            &[
                request("v1", "Service", Some(NS)),
                request("apps/v1", "Deployment", Some(NS)),
            ],
        )
        .expect("listed");
    let elapsed = started.elapsed();
    assert!(
        matches!(&listed[0].result, Err(LiveError::Timeout { kind, seconds: 1 }) if kind == "Service"),
        "{:?}",
        listed[0].result
    );
    assert_eq!(objects(&listed, "Deployment").len(), 1);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn a_stopped_server_makes_the_environment_unreachable_quickly() {
    let mut server = ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = source(&server, &dir, 20);
    server.stop();
    let started = Instant::now();
    let err = source
        .list(
            ENV,
            &[
                request("apps/v1", "Deployment", Some(NS)),
                request("v1", "Service", Some(NS)),
            ],
        )
        .expect_err("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        LiveError::Unreachable { env, reason } => {
            assert_eq!(env, ENV);
            assert!(reason.to_lowercase().contains("connect"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[test]
fn a_rejected_token_fails_the_environment_without_showing_the_token() {
    let server = ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = server.cluster_config(dir.path(), 5);
    let path = config.kubeconfig.clone().expect("kubeconfig");
    let wrong = "wrong-s3cret-token-0000";
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace(TOKEN, wrong);
    std::fs::write(&path, text).expect("write");
    let source = source_for(BTreeMap::from([(ENV.to_string(), config)]), dir.path());
    let err = source
        .list(ENV, &[request("apps/v1", "Deployment", Some(NS))])
        .expect_err("rejected");
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, LiveError::Unreachable { .. }), "{shown}");
    assert!(shown.contains("401"), "{shown}");
    assert!(!shown.contains(wrong) && !shown.contains(TOKEN), "{shown}");
}

#[test]
fn without_a_context_the_kubeconfig_current_context_is_used() {
    // The helper's current context points at a port where nothing listens.
    let server = ApiServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = server.cluster_config(dir.path(), 5);
    config.context = None;
    let source = source_for(BTreeMap::from([(ENV.to_string(), config)]), dir.path());
    let err = source
        .list(ENV, &[request("apps/v1", "Deployment", Some(NS))])
        .expect_err("the other cluster is down");
    assert!(matches!(err, LiveError::Unreachable { .. }), "{err:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_missing_kubeconfig_or_an_unconfigured_environment_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ClusterConfig {
        kubeconfig: Some("does-not-exist.yaml".into()),
        context: Some("x".into()),
        ..ClusterConfig::default()
    };
    let source = source_for(BTreeMap::from([(ENV.to_string(), config)]), dir.path());
    let err = source
        .list(ENV, &[request("v1", "Service", Some(NS))])
        .expect_err("no kubeconfig");
    assert!(
        matches!(&err, LiveError::Unreachable { reason, .. } if reason.contains("does-not-exist.yaml")),
        "{err:?}"
    );
    assert!(matches!(
        source.list("staging", &[request("v1", "Service", Some(NS))]),
        Err(LiveError::NotConfigured { .. })
    ));
}

#[test]
fn kinds_the_cluster_does_not_serve_are_unknown_per_request() {
    let server = ApiServer::start();
    server.add(live_service("checkout", 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(
            ENV,
            &[
                // A CRD that is not installed: the group is not served at all.
                request("monitoring.coreos.com/v1", "ServiceMonitor", Some(NS)),
                // A served group without that kind.
                request("apps/v1", "CronTab", Some(NS)),
                request("v1", "Service", Some(NS)),
            ],
        )
        .expect("listed");
    assert!(
        matches!(
            &listed[0].result,
            Err(LiveError::UnknownKind { api_version, kind }) if api_version == "monitoring.coreos.com/v1" && kind == "ServiceMonitor"
        ),
        "{:?}",
        listed[0].result
    );
    assert!(
        matches!(&listed[1].result, Err(LiveError::UnknownKind { .. })),
        "{:?}",
        listed[1].result
    );
    assert_eq!(
        listed[1].result.as_ref().err().map(LiveError::kind),
        Some(envparity::codes::ErrorKind::ClusterKind)
    );
    assert_eq!(objects(&listed, "Service").len(), 1);
}

#[test]
fn a_version_the_cluster_no_longer_serves_resolves_through_the_group() {
    let server = ApiServer::start();
    server.add(live_virtual_service("checkout", 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(
            ENV,
            &[request(
                "networking.istio.io/v1alpha1",
                "VirtualService",
                Some(NS),
            )],
        )
        .expect("listed");
    let vs = named(objects(&listed, "VirtualService"), "checkout");
    // Listed at the preferred version.
    assert_eq!(vs["apiVersion"], "networking.istio.io/v1");
    assert!(lists(&server).iter().any(|r| {
        r.starts_with("GET /apis/networking.istio.io/v1/namespaces/shop/virtualservices?")
    }));
}

#[test]
fn one_list_per_kind_and_namespace_plus_discovery() {
    let server = ApiServer::start();
    for i in 0..40 {
        server.add(live_deployment(
            &format!("svc-{i:02}"),
            i,
            &Edits::default(),
        ));
        server.add(live_service(&format!("svc-{i:02}"), i));
    }
    // Noise in another namespace, not asked for.
    server.add(live_config_map("other", "payments", 1));
    let dir = tempfile::tempdir().expect("tempdir");
    // One request per declared object, as a naive caller would send them: still one LIST per kind.
    let mut requests = Vec::new();
    for _ in 0..40 {
        requests.push(request("apps/v1", "Deployment", Some(NS)));
        requests.push(request("v1", "Service", Some(NS)));
    }
    let listed = source(&server, &dir, 5)
        .list(ENV, &requests)
        .expect("listed");
    assert_eq!(listed.len(), 80);
    assert!(
        listed
            .iter()
            .all(|l| l.result.as_ref().map(Vec::len) == Ok(40))
    );
    let mut seen = server.requests();
    seen.sort();
    assert_eq!(
        seen,
        [
            "GET /api/v1",
            "GET /api/v1/namespaces/shop/services?&limit=500",
            "GET /apis/apps/v1",
            "GET /apis/apps/v1/namespaces/shop/deployments?&limit=500",
        ]
    );
}

#[test]
fn large_lists_are_paged_and_cluster_scoped_kinds_ignore_the_namespace() {
    let server = ApiServer::start();
    for i in 0..1_100 {
        server.add(live_config_map(&format!("cm-{i:04}"), NS, i));
    }
    server.add(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "envparity-reader", "uid": "1", "resourceVersion": "5", "creationTimestamp": CREATED},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}));
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(
            ENV,
            &[
                request("v1", "ConfigMap", Some(NS)),
                request("rbac.authorization.k8s.io/v1", "ClusterRole", Some(NS)),
            ],
        )
        .expect("listed");
    let cms = objects(&listed, "ConfigMap");
    assert_eq!(cms.len(), 1_100);
    assert_eq!(cms[1_099]["metadata"]["name"], "cm-1099");
    assert_eq!(objects(&listed, "ClusterRole").len(), 1);
    let lists = lists(&server);
    assert_eq!(
        lists.iter().filter(|r| r.contains("/configmaps?")).count(),
        3,
        "{lists:#?}"
    );
    assert!(
        lists.contains(
            &"GET /apis/rbac.authorization.k8s.io/v1/clusterroles?&limit=500".to_string()
        )
    );
}

#[test]
fn the_source_works_when_called_from_inside_an_async_runtime() {
    let server = ApiServer::start();
    server.add(live_service("checkout", 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let source = source(&server, &dir, 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // A daemon job lists and drops its source inside its own runtime: neither may panic.
    let listed = rt.block_on(async move {
        let listed = source.list(ENV, &[request("v1", "Service", Some(NS))]);
        drop(source);
        listed
    });
    assert_eq!(objects(&listed.expect("listed"), "Service").len(), 1);
}

#[test]
fn argo_cd_applications_are_read_as_plain_data_and_absent_argo_is_none() {
    let server = ApiServer::start();
    server.add(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {
            "name": "checkout-production", "namespace": "argocd", "generation": 812,
            "creationTimestamp": CREATED, "resourceVersion": "90211", "uid": "a0b1c2d3-e4f5-4a6b-8c7d-000000000001",
            "managedFields": [{"manager": "argocd-application-controller", "operation": "Update",
                               "apiVersion": "argoproj.io/v1alpha1", "time": EDITED, "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:status": {".": {}, "f:health": {}, "f:history": {}, "f:operationState": {}, "f:sync": {}}}}]
        },
        "spec": {
            "project": "shop",
            "source": {"repoURL": "https://git.example.com/infra.git", "path": "apps/checkout/overlays/production", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        },
        "status": {
            "sync": {"status": "Synced", "revision": "9f8e7d6c", "comparedTo": {"destination": {"namespace": NS}}},
            "health": {"status": "Healthy"},
            "history": [
                {"id": 41, "revision": "9f8e7d6c", "deployStartedAt": SYNCED, "deployedAt": SYNCED,
                 "source": {"path": "apps/checkout/overlays/production"}, "initiatedBy": {"automated": true}},
                {"id": 42, "revision": "9f8e7d6c", "deployStartedAt": "2026-05-03T09:20:01Z", "deployedAt": "2026-05-03T09:20:03Z",
                 "source": {"path": "apps/checkout/overlays/production"}, "initiatedBy": {"automated": true}}
            ],
            "operationState": {
                "operation": {"sync": {"revision": "9f8e7d6c"}, "initiatedBy": {"automated": true}, "retry": {"limit": 5}},
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": "2026-05-03T09:20:01Z", "finishedAt": "2026-05-03T09:20:03Z",
                "syncResult": {"revision": "9f8e7d6c"}
            }
        }
    }));
    let dir = tempfile::tempdir().expect("tempdir");
    let source = source(&server, &dir, 5);
    let apps = argo::applications(&source, ENV, Some("argocd"))
        .expect("readable")
        .expect("Argo CD is installed");
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(
        app.path.as_deref(),
        Some("apps/checkout/overlays/production")
    );
    assert_eq!(app.destination_namespace.as_deref(), Some(NS));
    assert_eq!(
        (app.sync_status.as_deref(), app.health.as_deref()),
        (Some("Synced"), Some("Healthy"))
    );
    let triggers: Vec<_> = app.syncs.iter().map(|s| s.trigger).collect();
    assert_eq!(triggers, [SyncTrigger::Automated, SyncTrigger::SelfHeal]);
    assert_eq!(
        app.syncs[1].finished_at,
        "2026-05-03T09:20:03Z".parse().ok()
    );

    // A cluster without Argo CD.
    let bare = ApiServer::start_with(
        standard_resources()
            .into_iter()
            .filter(|r| r.group != "argoproj.io")
            .collect(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let source = self::source(&bare, &dir, 5);
    assert_eq!(argo::applications(&source, ENV, Some("argocd")), Ok(None));
}

/// `benches/live.sh`: 1,000 declared objects across 5 kinds in 2 namespaces, listed from the test API
/// server and diffed; prints the HTTP requests and the wall time.
#[test]
#[ignore = "benchmark: run by benches/live.sh"]
fn live_benchmark() {
    let server = ApiServer::start();
    let namespaces = ["shop", "payments"];
    let mut git: Vec<Value> = Vec::new();
    let mut seed = 0;
    for ns in namespaces {
        for i in 0..100 {
            seed += 1;
            let name = format!("svc-{i:03}");
            let with_ns = |mut o: Value| {
                o["metadata"]["namespace"] = json!(ns);
                o
            };
            let edits = Edits {
                scaled_to: (i % 10 == 0).then_some(5),
                ..Edits::default()
            };
            server.add(with_ns(live_deployment(&name, seed, &edits)));
            server.add(with_ns(live_service(&name, seed)));
            server.add(with_ns(live_config_map(
                &format!("{name}-config"),
                ns,
                seed,
            )));
            server.add(with_ns(live_hpa(&name, seed)));
            server.add(with_ns(live_virtual_service(&name, seed)));
            git.push(with_ns(git_deployment(&name)));
            git.push(with_ns(git_service(&name)));
            git.push(with_ns(git_config_map(&format!("{name}-config"))));
            git.push(with_ns(git_hpa(&name)));
            git.push(with_ns(git_virtual_service(&name)));
        }
    }
    let kinds = [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.istio.io/v1beta1", "VirtualService"),
    ];
    let requests: Vec<ListRequest> = namespaces
        .iter()
        .flat_map(|ns| kinds.iter().map(move |(v, k)| request(v, k, Some(ns))))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = source(&server, &dir, 20);
    let managers = Managers::default();

    for round in ["cold (client built, discovery)", "warm (client reused)"] {
        server.clear_requests();
        let started = Instant::now();
        let listed = source.list(ENV, &requests).expect("listed");
        let listed_in = started.elapsed();
        let live: BTreeMap<(String, String, String), &Value> = listed
            .iter()
            .flat_map(|l| l.result.as_ref().expect("listed").iter())
            .map(|o| {
                let key = |p: &str| {
                    o.pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (
                    (
                        key("/kind"),
                        key("/metadata/namespace"),
                        key("/metadata/name"),
                    ),
                    o,
                )
            })
            .collect();
        let mut drifts = 0;
        for g in &git {
            let key = |p: &str| {
                g.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let l = live[&(
                key("/kind"),
                key("/metadata/namespace"),
                key("/metadata/name"),
            )];
            drifts += diff_object(g, l, &managers).len();
        }
        let total = started.elapsed();
        let seen = server.requests();
        let list_requests = seen.iter().filter(|r| r.contains('?')).count();
        println!(
            "live_benchmark {round}: {} objects, {} kinds x {} namespaces; HTTP requests: {} ({} discovery + {} list); \
             list wall {:.1} ms (test server busy {:.1} ms of it, summed over requests); \
             list + diff wall {:.1} ms; drifts: {drifts}",
            live.len(),
            kinds.len(),
            namespaces.len(),
            seen.len(),
            seen.len() - list_requests,
            list_requests,
            listed_in.as_secs_f64() * 1e3,
            server.busy().as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
        );
        assert_eq!(live.len(), 1_000);
        assert_eq!(drifts, 20, "the 20 scaled deployments");
    }
}

#[test]
fn a_rollout_is_listed_through_discovery_and_diffed_like_any_workload() {
    // Argo Rollouts' CRD, served next to the standard kinds: found through discovery, not a fixed list.
    let mut resources = standard_resources();
    resources.push(crate::apiserver::Resource {
        group: "argoproj.io",
        versions: &["v1alpha1"],
        kind: "Rollout",
        plural: "rollouts",
        namespaced: true,
        short_names: &["ro"],
        subresources: &["scale", "status"],
        custom: true,
    });
    let server = ApiServer::start_with(resources);
    let as_rollout = |mut object: Value| {
        object["apiVersion"] = json!("argoproj.io/v1alpha1");
        object["kind"] = json!("Rollout");
        if let Some(entries) = object["metadata"]["managedFields"].as_array_mut() {
            for entry in entries {
                entry["apiVersion"] = json!("argoproj.io/v1alpha1");
            }
        }
        object
    };
    server.add(as_rollout(live_deployment(
        "checkout",
        1,
        &Edits {
            scaled_to: Some(5),
            ..Edits::default()
        },
    )));
    let dir = tempfile::tempdir().expect("tempdir");
    let listed = source(&server, &dir, 5)
        .list(ENV, &[request("argoproj.io/v1alpha1", "Rollout", Some(NS))])
        .expect("listed");
    let live = named(objects(&listed, "Rollout"), "checkout");
    let drifts = diff_object(
        &as_rollout(git_deployment("checkout")),
        live,
        &Managers::default(),
    );
    assert_eq!(drifts.len(), 1, "{drifts:#?}");
    assert_eq!(drifts[0].path, "spec.replicas");
    assert_eq!(
        drifts[0].owner.as_ref().map(|o| o.manager.as_str()),
        Some("kubectl-scale")
    );
}
