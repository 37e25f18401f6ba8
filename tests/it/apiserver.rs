//! An in-process Kubernetes API server on 127.0.0.1 for the live tests (no kube-apiserver runs on these
//! machines, DESIGN.md "Live drift"). It speaks the HTTP API the real `kube` client calls: `/version`,
//! discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>` as `APIResourceList` documents with
//! subresources, verbs and short names, one CRD group of Istio's among them), LIST (namespaced, all
//! namespaces and cluster-scoped, with `limit`/`continue` paging) and GET, with bearer-token auth.
//!
//! Like a real server it leaves `apiVersion` and `kind` out of list items of built-in kinds (custom
//! resources keep them), answers errors with `Status` documents (and a bare `404 page not found` for paths
//! it does not serve at all), and serves objects exactly as the test gave them: the fixtures carry the
//! defaults, `status` and `managedFields` a real server would. Faults are injected per path; every request
//! is recorded.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use envparity::config::ClusterConfig;
use serde_json::{Value, json};

/// The bearer token the server accepts (and that must never show up in an error).
pub const TOKEN: &str = "kube-token-7d3f9c0e1b2a4d5c";

/// A served resource type.
#[derive(Debug, Clone)]
pub struct Resource {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Versions served, preferred first.
    pub versions: &'static [&'static str],
    /// Kind.
    pub kind: &'static str,
    /// Plural (the path segment).
    pub plural: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`…).
    pub short_names: &'static [&'static str],
    /// Subresources (`status`, `scale`).
    pub subresources: &'static [&'static str],
    /// A custom resource: its list items keep `apiVersion` and `kind`.
    pub custom: bool,
}

const fn builtin(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        versions,
        kind,
        plural,
        namespaced,
        short_names,
        subresources,
        custom: false,
    }
}

const fn crd(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        versions,
        kind,
        plural,
        namespaced: true,
        short_names,
        subresources: &[],
        custom: true,
    }
}

/// What a cluster with Istio, Argo CD and Flux installed serves (a realistic subset).
pub fn standard_resources() -> Vec<Resource> {
    vec![
        builtin(
            "",
            &["v1"],
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            &["status", "finalize"],
        ),
        builtin("", &["v1"], "ConfigMap", "configmaps", true, &["cm"], &[]),
        builtin("", &["v1"], "Secret", "secrets", true, &[], &[]),
        builtin(
            "",
            &["v1"],
            "Service",
            "services",
            true,
            &["svc"],
            &["status", "proxy"],
        ),
        builtin(
            "",
            &["v1"],
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            &["token"],
        ),
        builtin(
            "",
            &["v1"],
            "Pod",
            "pods",
            true,
            &["po"],
            &["status", "log", "exec"],
        ),
        builtin(
            "",
            &["v1"],
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
            &["pvc"],
            &["status"],
        ),
        builtin(
            "apps",
            &["v1"],
            "Deployment",
            "deployments",
            true,
            &["deploy"],
            &["status", "scale"],
        ),
        builtin(
            "apps",
            &["v1"],
            "StatefulSet",
            "statefulsets",
            true,
            &["sts"],
            &["status", "scale"],
        ),
        builtin(
            "apps",
            &["v1"],
            "DaemonSet",
            "daemonsets",
            true,
            &["ds"],
            &["status"],
        ),
        builtin(
            "apps",
            &["v1"],
            "ReplicaSet",
            "replicasets",
            true,
            &["rs"],
            &["status", "scale"],
        ),
        builtin(
            "autoscaling",
            &["v2", "v1"],
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            &["hpa"],
            &["status"],
        ),
        builtin(
            "networking.k8s.io",
            &["v1"],
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            &["status"],
        ),
        builtin(
            "networking.k8s.io",
            &["v1"],
            "NetworkPolicy",
            "networkpolicies",
            true,
            &["netpol"],
            &[],
        ),
        builtin(
            "policy",
            &["v1"],
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            &["status"],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            &["v1"],
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            &[],
        ),
        crd(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "VirtualService",
            "virtualservices",
            &["vs"],
        ),
        crd(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "DestinationRule",
            "destinationrules",
            &["dr"],
        ),
        crd(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "Gateway",
            "gateways",
            &["gw"],
        ),
        crd(
            "security.istio.io",
            &["v1", "v1beta1"],
            "PeerAuthentication",
            "peerauthentications",
            &["pa"],
        ),
        crd(
            "security.istio.io",
            &["v1", "v1beta1"],
            "AuthorizationPolicy",
            "authorizationpolicies",
            &["ap"],
        ),
        crd(
            "argoproj.io",
            &["v1alpha1"],
            "Application",
            "applications",
            &["app", "apps"],
        ),
        crd(
            "kustomize.toolkit.fluxcd.io",
            &["v1", "v1beta2"],
            "Kustomization",
            "kustomizations",
            &["ks"],
        ),
    ]
}

/// An injected fault for one path (without its query).
#[derive(Debug, Clone)]
pub enum Fault {
    /// 403 with a real RBAC `Status` body.
    Forbidden,
    /// Answer only after this long (longer than the client's timeout makes it time out).
    Delay(Duration),
}

#[derive(Default)]
struct State {
    data: Data,
    faults: HashMap<String, Fault>,
    requests: Vec<String>,
    busy: Duration,
}

/// What is served; answers work on a snapshot so concurrent requests do not wait on one lock.
#[derive(Default, Clone)]
struct Data {
    resources: Arc<Vec<Resource>>,
    objects: Arc<Vec<Value>>,
    resource_version: u64,
}

/// The server; stopped on drop.
pub struct ApiServer {
    server: Option<Arc<tiny_http::Server>>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    state: Arc<Mutex<State>>,
}

impl ApiServer {
    /// Serves [`standard_resources`] on a random port of 127.0.0.1.
    pub fn start() -> ApiServer {
        ApiServer::start_with(standard_resources())
    }

    /// Serves `resources` on a random port of 127.0.0.1.
    pub fn start_with(resources: Vec<Resource>) -> ApiServer {
        // TCP_NODELAY, as Go's net/http (the real API server) has it: without it tiny_http's split
        // writes wait on the client's delayed ACK, ~40 ms per request on a reused connection. Accepted
        // sockets inherit it from the listener.
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_tcp_nodelay(true).expect("nodelay");
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
        socket.bind(&addr.into()).expect("bind 127.0.0.1:0");
        socket.listen(1024).expect("listen");
        let listener: std::net::TcpListener = socket.into();
        let server = Arc::new(tiny_http::Server::from_listener(listener, None).expect("server"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let state = Arc::new(Mutex::new(State {
            data: Data {
                resources: Arc::new(resources),
                objects: Arc::new(Vec::new()),
                resource_version: 48_000,
            },
            ..State::default()
        }));
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let state = Arc::clone(&state);
                    // A thread per request: a delayed answer must not hold up the others.
                    std::thread::spawn(move || handle(&state, request));
                }
            })
        };
        ApiServer {
            server: Some(server),
            thread: Some(thread),
            port,
            state,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state lock")
    }

    /// Serves `object` (as given: apiVersion, kind, metadata…) from now on.
    pub fn add(&self, object: Value) {
        let mut state = self.lock();
        state.data.resource_version += 1;
        Arc::make_mut(&mut state.data.objects).push(object);
    }

    /// Injects `fault` on `path` (no query string), e.g. `/apis/apps/v1/namespaces/shop/deployments`.
    pub fn fault(&self, path: &str, fault: Fault) {
        self.lock().faults.insert(path.to_string(), fault);
    }

    /// Every request so far, as `METHOD /path?query`, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests and the busy time.
    pub fn clear_requests(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.busy = Duration::ZERO;
    }

    /// Time spent answering (summed over requests, injected delays left out): the server's share of a
    /// benchmark's wall time.
    pub fn busy(&self) -> Duration {
        self.lock().busy
    }

    /// Stops listening; returns once connections to the port are refused.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.unblock();
            if let Some(thread) = self.thread.take() {
                thread.join().expect("server thread");
            }
            drop(server);
            let deadline = Instant::now() + Duration::from_secs(5);
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Writes a kubeconfig into `dir`: context `envparity-test` (namespace `shop`) reaches this server with
    /// [`TOKEN`]; the current context is another one, pointing at a port where nothing listens, so a
    /// client that ignores the configured context fails.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {url}
- name: elsewhere
  cluster:
    server: http://127.0.0.1:9
contexts:
- name: envparity-test
  context:
    cluster: test
    user: reader
    namespace: shop
- name: elsewhere
  context:
    cluster: elsewhere
    user: reader
current-context: elsewhere
users:
- name: reader
  user:
    token: {TOKEN}
",
            url = self.url()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// A `[clusters.<env>]` entry for this server (kubeconfig written into `dir`).
    pub fn cluster_config(&self, dir: &Path, timeout_seconds: u64) -> ClusterConfig {
        ClusterConfig {
            kubeconfig: Some(self.kubeconfig(dir)),
            context: Some("envparity-test".into()),
            namespace: Some("shop".into()),
            timeout_seconds: Some(timeout_seconds),
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP answer.
struct Answer {
    code: u16,
    body: String,
    json: bool,
}

impl Answer {
    fn json(code: u16, body: &Value) -> Answer {
        Answer {
            code,
            body: body.to_string(),
            json: true,
        }
    }

    fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Answer {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code,
        });
        if let Some(d) = details {
            status["details"] = d;
        }
        Answer::json(code, &status)
    }

    fn page_not_found() -> Answer {
        Answer {
            code: 404,
            body: "404 page not found\n".into(),
            json: false,
        }
    }
}

fn handle(state: &Mutex<State>, request: tiny_http::Request) {
    let started = Instant::now();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = request.method().to_string();
    let fault = {
        let mut s = state.lock().expect("state lock");
        s.requests.push(format!("{method} {url}"));
        s.faults.get(path).cloned()
    };
    let authorized = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("Authorization") && h.value.as_str() == format!("Bearer {TOKEN}"));
    let answer = if !authorized {
        Answer::status(401, "Unauthorized", "Unauthorized", None)
    } else if method != "GET" {
        Answer::status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        )
    } else {
        match &fault {
            Some(Fault::Forbidden) => forbidden(state, path),
            Some(Fault::Delay(d)) => {
                std::thread::sleep(*d);
                route(state, path, query)
            }
            None => route(state, path, query),
        }
    };
    let mut response = tiny_http::Response::from_string(answer.body).with_status_code(answer.code);
    let content_type = if answer.json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    response
        .add_header(tiny_http::Header::from_bytes("Content-Type", content_type).expect("header"));
    response.add_header(
        tiny_http::Header::from_bytes("Audit-Id", "5c0f1d2e-6a7b-4c8d-9e0f-1a2b3c4d5e6f")
            .expect("header"),
    );
    // The client may have given up (timeout) before the answer: nothing to do then.
    let _ = request.respond(response);
    if !matches!(fault, Some(Fault::Delay(_))) {
        state.lock().expect("state lock").busy += started.elapsed();
    }
}

/// 403 as RBAC words it.
fn forbidden(state: &Mutex<State>, path: &str) -> Answer {
    let s = state.lock().expect("state lock").data.clone();
    let (resource, group, namespace) = match parse_resource_path(&s.resources, path) {
        Some(p) => (p.resource.plural, p.resource.group, p.namespace),
        None => ("", "", None),
    };
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    let scope = namespace.map_or_else(
        || " at the cluster scope".to_string(),
        |ns| format!(" in the namespace \"{ns}\""),
    );
    Answer::status(
        403,
        "Forbidden",
        &format!(
            "{qualified} is forbidden: User \"system:serviceaccount:envparity:reader\" cannot list \
             resource \"{resource}\" in API group \"{group}\"{scope}"
        ),
        Some(json!({"group": group, "kind": resource})),
    )
}

/// A parsed object path.
struct ResourcePath<'a> {
    resource: &'a Resource,
    version: &'a str,
    namespace: Option<String>,
    name: Option<String>,
}

/// `/api/v1[/namespaces/<ns>]/<plural>[/<name>]`, `/apis/<g>/<v>[/namespaces/<ns>]/<plural>[/<name>]`.
fn parse_resource_path<'a>(resources: &'a [Resource], path: &str) -> Option<ResourcePath<'a>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return None,
    };
    let resource = resources
        .iter()
        .find(|r| r.group == group && r.plural == plural && r.versions.contains(&version))?;
    let version = resource.versions.iter().find(|v| **v == version)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    Some(ResourcePath {
        resource,
        version,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
    })
}

fn route(state: &Mutex<State>, path: &str, query: &str) -> Answer {
    let s = state.lock().expect("state lock").data.clone();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Answer::json(
            200,
            &json!({
                "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
                "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
                "gitVersion": "v1.33.4", "gitCommit": "74cdb426e3bc1d4e2a7b0a5e2d4c6f8a1b3c5d7e",
                "gitTreeState": "clean", "buildDate": "2026-08-12T18:04:44Z",
                "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"
            }),
        ),
        ["api"] => Answer::json(
            200,
            &json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "172.18.0.2:6443"}]
            }),
        ),
        ["apis"] => Answer::json(200, &group_list(&s.resources)),
        ["api", v] => resource_list(&s.resources, "", v),
        ["apis", g, v] => resource_list(&s.resources, g, v),
        _ => match parse_resource_path(&s.resources, path) {
            None if known_group_version(&s.resources, &segments) => Answer::status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                Some(json!({})),
            ),
            None => Answer::page_not_found(),
            Some(p) => match &p.name {
                Some(name) => get(&s, &p, name),
                None => list(&s, &p, query),
            },
        },
    }
}

fn known_group_version(resources: &[Resource], segments: &[&str]) -> bool {
    let (g, v) = match segments {
        ["api", v, ..] => ("", *v),
        ["apis", g, v, ..] => (*g, *v),
        _ => return false,
    };
    resources
        .iter()
        .any(|r| r.group == g && r.versions.contains(&v))
}

fn group_list(resources: &[Resource]) -> Value {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in resources.iter().filter(|r| !r.group.is_empty()) {
        let versions = groups.entry(r.group).or_default();
        for v in r.versions {
            if !versions.contains(v) {
                versions.push(v);
            }
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let gv = |v: &str| json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({
                "name": g,
                "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
                "preferredVersion": gv(versions[0]),
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(resources: &[Resource], g: &str, v: &str) -> Answer {
    let served: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.group == g && r.versions.contains(&v))
        .collect();
    if served.is_empty() {
        return Answer::page_not_found();
    }
    let verbs = json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ]);
    let mut list = Vec::new();
    for r in served {
        let singular = r.kind.to_ascii_lowercase();
        let mut entry = json!({
            "name": r.plural, "singularName": singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.custom {
            entry["storageVersionHash"] = json!(format!("{:x}", fnv(r.plural)));
        } else {
            entry["categories"] = json!(["istio-io", "all"]);
        }
        list.push(entry);
        for sub in r.subresources {
            let (kind, group, version, verbs) = match *sub {
                "scale" => (
                    "Scale",
                    "autoscaling",
                    "v1",
                    json!(["get", "patch", "update"]),
                ),
                "status" => (r.kind, "", "", json!(["get", "patch", "update"])),
                "log" | "proxy" => ("Pod", "", "", json!(["get"])),
                _ => (r.kind, "", "", json!(["create"])),
            };
            let mut s = json!({
                "name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": kind, "verbs": verbs,
            });
            if !group.is_empty() {
                s["group"] = json!(group);
                s["version"] = json!(version);
            }
            list.push(s);
        }
    }
    let group_version = if g.is_empty() {
        v.to_string()
    } else {
        format!("{g}/{v}")
    };
    Answer::json(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}),
    )
}

/// A stable fake hash for `storageVersionHash`.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The objects served for `p`, sorted as etcd returns them (by namespace, then name), typed as requested.
fn matching(s: &Data, p: &ResourcePath<'_>) -> Vec<Value> {
    let api_version = if p.resource.group.is_empty() {
        p.version.to_string()
    } else {
        format!("{}/{}", p.resource.group, p.version)
    };
    let mut out: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| {
            o["kind"] == p.resource.kind
                && o["apiVersion"]
                    .as_str()
                    .map_or("", |v| v.rsplit_once('/').map_or("", |(g, _)| g))
                    == p.resource.group
                && (p.namespace.is_none()
                    || o.pointer("/metadata/namespace").and_then(Value::as_str)
                        == p.namespace.as_deref())
        })
        .cloned()
        .map(|mut o| {
            // Served at the version asked for: the server converts.
            o["apiVersion"] = json!(api_version);
            o
        })
        .collect();
    let key = |o: &Value| {
        (
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    out.sort_by_key(key);
    out
}

fn list(s: &Data, p: &ResourcePath<'_>, query: &str) -> Answer {
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let mut items = matching(s, p);
    let api_version = items
        .first()
        .and_then(|o| o["apiVersion"].as_str().map(str::to_string))
        .unwrap_or_else(|| {
            if p.resource.group.is_empty() {
                p.version.to_string()
            } else {
                format!("{}/{}", p.resource.group, p.version)
            }
        });
    if !p.resource.custom {
        // Typed lists leave the item types out; custom resources (unstructured) keep them.
        for o in &mut items {
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
        }
    }
    let offset: usize = params
        .get("continue")
        .and_then(|c| c.strip_prefix("eyJvZmZzZXQiO"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut metadata = json!({"resourceVersion": s.resource_version.to_string()});
    let end = offset.saturating_add(page.len());
    if end < total {
        metadata["continue"] = json!(format!("eyJvZmZzZXQiO{end}"));
        metadata["remainingItemCount"] = json!(total - end);
    }
    Answer::json(
        200,
        &json!({
            "kind": format!("{}List", p.resource.kind),
            "apiVersion": api_version,
            "metadata": metadata,
            "items": page,
        }),
    )
}

fn get(s: &Data, p: &ResourcePath<'_>, name: &str) -> Answer {
    match matching(s, p)
        .into_iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
    {
        Some(o) => Answer::json(200, &o),
        None => {
            let qualified = if p.resource.group.is_empty() {
                p.resource.plural.to_string()
            } else {
                format!("{}.{}", p.resource.plural, p.resource.group)
            };
            Answer::status(
                404,
                "NotFound",
                &format!("{qualified} \"{name}\" not found"),
                Some(json!({"name": name, "group": p.resource.group, "kind": p.resource.plural})),
            )
        }
    }
}
