//! The live source for real clusters: one `kube` client per environment, read-only.
//!
//! A call to [`LiveSource::list`] discovers only the API group versions the requests name (so CRDs such as
//! Istio's resolve, and a group the cluster does not serve costs one request), then sends one LIST per kind
//! and namespace, a few at a time, each bounded by the configured timeout. The objects are returned as the
//! API server sent them — the list body is parsed straight into JSON, never through typed structs, so
//! `metadata.managedFields`, timestamps and fields this crate does not know survive untouched; only the
//! `apiVersion` and `kind` that a server leaves out of list items are filled in.
//!
//! Failures are scoped as narrowly as the server allows: a 403 or a timeout spoils one request, a cluster
//! that cannot be connected to (or that rejects the credentials) spoils the environment. Reasons are built
//! from the HTTP status and the transport error only, never from the kubeconfig's content, so no token or
//! key can end up in a message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::core::gvk::GroupVersion;
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope, verbs};
use kube::{Client, Config};
use serde_json::{Map, Value};

use super::source::{ListRequest, Listed, LiveError, LiveSource, group};
use crate::config::ClusterConfig;

/// Per-request timeout when the config sets none.
const DEFAULT_TIMEOUT_SECONDS: u64 = 20;
/// Requests in flight at once per environment: enough to hide latency, few enough not to worry an API
/// server's priority-and-fairness limits.
const CONCURRENCY: usize = 8;
/// Items per LIST page; larger lists are followed through `continue` tokens.
const PAGE_SIZE: u32 = 500;

/// Lists live objects from each environment's cluster through its kubeconfig.
///
/// Owns a small tokio runtime; `list` blocks on it, and may be called from inside another tokio runtime
/// too (it then blocks on a thread of its own), as may dropping the source. Clients are built on first use
/// of an environment and kept, so connections are reused across calls.
pub struct KubeSource {
    clusters: BTreeMap<String, Cluster>,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    clients: Mutex<HashMap<String, Client>>,
}

impl std::fmt::Debug for KubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource")
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

/// How to reach one environment's cluster.
#[derive(Debug, Clone)]
struct Cluster {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    timeout: Duration,
}

impl KubeSource {
    /// A source for the configured clusters; relative kubeconfig paths are resolved against `base_dir`
    /// (the config file's directory). Nothing is read or connected until [`LiveSource::list`].
    ///
    /// Fails only when the runtime cannot be started (reported as every environment being unreachable).
    pub fn new(
        clusters: &BTreeMap<String, ClusterConfig>,
        base_dir: &Path,
    ) -> Result<KubeSource, LiveError> {
        Self::with_destinations(clusters, &BTreeMap::new(), base_dir)
    }

    /// [`KubeSource::new`], also reaching the clusters of Argo CD destinations (by
    /// [`super::source::destination_target`]) for environments without a cluster of their own.
    pub fn with_destinations(
        clusters: &BTreeMap<String, ClusterConfig>,
        destinations: &BTreeMap<String, ClusterConfig>,
        base_dir: &Path,
    ) -> Result<KubeSource, LiveError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("envparity-kube")
            .enable_all()
            .build()
            .map_err(|e| LiveError::Unreachable {
                env: clusters.keys().cloned().collect::<Vec<_>>().join(", "),
                reason: format!("cannot start the client runtime: {e}"),
            })?;
        let clusters = clusters
            .iter()
            .map(|(env, c)| (env.clone(), c))
            .chain(
                destinations
                    .iter()
                    .map(|(d, c)| (super::source::destination_target(d), c)),
            )
            .map(|(env, c)| {
                (
                    env,
                    Cluster {
                        kubeconfig: c.kubeconfig.as_ref().map(|p| base_dir.join(p)),
                        context: c.context.clone(),
                        timeout: Duration::from_secs(
                            c.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS).max(1),
                        ),
                    },
                )
            })
            .collect();
        Ok(KubeSource {
            clusters,
            runtime: Some(runtime),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `fut` to completion on `runtime`, also when called from inside another tokio runtime (where
    /// `block_on` would panic): then on a scoped thread of its own.
    fn block_on<F: Future + Send>(runtime: &tokio::runtime::Runtime, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| match s.spawn(|| runtime.block_on(fut)).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            runtime.block_on(fut)
        }
    }

    /// The client of `env`, built on first use.
    async fn client(&self, env: &str, cluster: &Cluster) -> Result<Client, LiveError> {
        if let Some(c) = self.lock_clients().get(env) {
            return Ok(c.clone());
        }
        let client = connect(env, cluster).await?;
        self.lock_clients()
            .entry(env.to_string())
            .or_insert_with(|| client.clone());
        Ok(client)
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        // The map holds only finished clients: a panic elsewhere cannot leave it half-written.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks stop, which panics inside another runtime (a daemon's
        // job dropping its source); nothing of ours is left to finish, so let the workers go.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl LiveSource for KubeSource {
    #[tracing::instrument(skip(self, requests), fields(requests = requests.len()))]
    fn list(&self, env: &str, requests: &[ListRequest]) -> Result<Vec<Listed>, LiveError> {
        let cluster = self
            .clusters
            .get(env)
            .ok_or_else(|| LiveError::NotConfigured {
                env: env.to_string(),
            })?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let Some(runtime) = &self.runtime else {
            return Err(LiveError::Unreachable {
                env: env.to_string(),
                reason: "the client runtime is shut down".into(),
            });
        };
        Self::block_on(runtime, async {
            let client = self.client(env, cluster).await?;
            let lister = Lister {
                env,
                client,
                timeout: cluster.timeout,
            };
            lister.run(requests).await
        })
    }

    fn covers(&self, env: &str) -> bool {
        self.clusters.contains_key(env)
    }

    fn reads_clusters(&self) -> bool {
        true
    }

    fn maps_destinations(&self) -> bool {
        self.clusters
            .keys()
            .any(|k| super::source::is_destination_target(k))
    }
}

/// Builds the client of one environment from its kubeconfig (or the usual inference).
async fn connect(env: &str, cluster: &Cluster) -> Result<Client, LiveError> {
    let unreachable = |reason: String| LiveError::Unreachable {
        env: env.to_string(),
        reason,
    };
    let options = KubeConfigOptions {
        context: cluster.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = match (&cluster.kubeconfig, &cluster.context) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| unreachable(kubeconfig_reason(&e, Some(path))))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| unreachable(kubeconfig_reason(&e, Some(path))))?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| unreachable(kubeconfig_reason(&e, None)))?,
        (None, None) => Config::infer().await.map_err(|e| {
            let reason = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<KubeconfigError>())
                .map_or_else(
                    || "no kubeconfig and not running in a cluster".to_string(),
                    |k| kubeconfig_reason(k, None),
                );
            unreachable(format!("cannot find a cluster configuration: {reason}"))
        })?,
    };
    config.connect_timeout = Some(cluster.timeout);
    config.read_timeout = Some(cluster.timeout);
    Client::try_from(config).map_err(|e| unreachable(request_reason(&e)))
}

/// Why a kubeconfig could not be used, without quoting its content: a YAML error message can quote a
/// value, and a kubeconfig's values include tokens.
fn kubeconfig_reason(e: &KubeconfigError, path: Option<&Path>) -> String {
    let file = path.map_or_else(|| "the kubeconfig".to_string(), |p| p.display().to_string());
    match e {
        KubeconfigError::Parse(_) => format!("{file} is not a valid kubeconfig (YAML error)"),
        KubeconfigError::LoadClientKey(_) => format!("{file}: the client key cannot be loaded"),
        KubeconfigError::ReadConfig(io, _) => format!("cannot read {file}: {io}"),
        other => format!("{file}: {other}"),
    }
}

/// One environment's list run.
struct Lister<'a> {
    env: &'a str,
    client: Client,
    timeout: Duration,
}

/// What discovery says about one requested (group, version, kind).
#[derive(Debug, Clone)]
enum Resolved {
    Found(ApiResource, ApiCapabilities),
    Failed(LiveError),
}

/// One LIST target: (apiVersion, plural, namespace).
type Target = (String, String, Option<String>);

/// A failure that spoils the whole environment.
type EnvResult<T> = Result<T, LiveError>;

impl Lister<'_> {
    async fn run(&self, requests: &[ListRequest]) -> EnvResult<Vec<Listed>> {
        let resolved = self.discover(requests).await?;

        // One LIST per distinct (resource, namespace), however often it was asked for.
        let mut targets: BTreeMap<Target, (ApiResource, Option<String>)> = BTreeMap::new();
        let mut per_request = Vec::with_capacity(requests.len());
        for r in requests {
            let key = gvk_key(r);
            match resolved.get(&key) {
                Some(Resolved::Found(ar, caps)) => {
                    let namespace = match caps.scope {
                        Scope::Cluster => None,
                        Scope::Namespaced => r.namespace.clone(),
                    };
                    if !caps.supports_operation(verbs::LIST) {
                        per_request.push(Err(LiveError::Request {
                            kind: r.kind.clone(),
                            reason: format!("the API server does not allow list on {}", ar.plural),
                        }));
                        continue;
                    }
                    let target = (ar.api_version.clone(), ar.plural.clone(), namespace.clone());
                    targets
                        .entry(target.clone())
                        .or_insert_with(|| (ar.clone(), namespace));
                    per_request.push(Ok(target));
                }
                Some(Resolved::Failed(e)) => per_request.push(Err(e.clone())),
                None => per_request.push(Err(unknown(r))),
            }
        }

        let mut uses: HashMap<_, usize> = HashMap::new();
        for t in per_request.iter().flatten() {
            *uses.entry(t.clone()).or_default() += 1;
        }
        let mut fetched: HashMap<_, _> = stream::iter(targets)
            .map(|(key, (ar, ns))| async move {
                let result = self.list_all(&ar, ns.as_deref()).await;
                (key, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;

        Ok(requests
            .iter()
            .zip(per_request)
            .map(|(r, target)| Listed {
                request: r.clone(),
                result: target.and_then(|t| {
                    // The last request for a target takes its objects; earlier duplicates copy them.
                    let left = uses.get_mut(&t).map_or(0, |n| {
                        *n -= 1;
                        *n
                    });
                    let result = if left == 0 {
                        fetched.remove(&t)
                    } else {
                        fetched.get(&t).cloned()
                    };
                    result.unwrap_or_else(|| Err(unknown(r)))
                }),
            })
            .collect())
    }

    /// Resolves every requested kind, one discovery request per group version (plus the group list when a
    /// version is not served).
    async fn discover(
        &self,
        requests: &[ListRequest],
    ) -> EnvResult<HashMap<(String, String, String), Resolved>> {
        let mut by_gv: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for r in requests {
            let (g, v, k) = gvk_key(r);
            by_gv.entry((g, v)).or_default().insert(k);
        }
        let answers: Vec<EnvResult<Vec<_>>> = stream::iter(by_gv)
            .map(|((g, v), kinds)| async move {
                let found = self.discover_gv(&g, &v, &kinds).await?;
                Ok(kinds
                    .into_iter()
                    .map(|k| {
                        let resolved = match &found {
                            Ok(map) => match map.get(&k) {
                                Some((ar, caps)) => Resolved::Found(ar.clone(), caps.clone()),
                                None => Resolved::Failed(LiveError::UnknownKind {
                                    api_version: api_version(&g, &v),
                                    kind: k.clone(),
                                }),
                            },
                            Err(e) => Resolved::Failed(e.clone().for_kind(&k)),
                        };
                        ((g.clone(), v.clone(), k), resolved)
                    })
                    .collect())
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut out = HashMap::new();
        for a in answers {
            out.extend(a?);
        }
        Ok(out)
    }

    /// The resources of `kinds` in one group version: `Ok(Err)` when that group version answers with an
    /// error that concerns only its kinds (403, 404…).
    async fn discover_gv(
        &self,
        g: &str,
        v: &str,
        kinds: &BTreeSet<String>,
    ) -> EnvResult<Result<HashMap<String, (ApiResource, ApiCapabilities)>, KindError>> {
        let gv = GroupVersion::gv(g, v);
        let pinned = self
            .discovery_call(discovery::pinned_group(&self.client, &gv))
            .await?;
        let mut found = HashMap::new();
        match pinned {
            Ok(api_group) => {
                for (ar, caps) in api_group.versioned_resources(v) {
                    if kinds.contains(&ar.kind) {
                        found.insert(ar.kind.clone(), (ar, caps));
                    }
                }
            }
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Ok(Err(e)),
        }
        if found.len() < kinds.len() {
            // The version Git names is not served (or lacks the kind): the group's other versions hold
            // the same objects (`apiVersion` differs, the object does not).
            for (ar, caps) in self.discover_other_versions(g, v, kinds).await? {
                found.entry(ar.kind.clone()).or_insert((ar, caps));
            }
        }
        Ok(Ok(found))
    }

    /// Kinds of `kinds` in the versions of group `g` other than `v`, preferred version first.
    async fn discover_other_versions(
        &self,
        g: &str,
        v: &str,
        kinds: &BTreeSet<String>,
    ) -> EnvResult<Vec<(ApiResource, ApiCapabilities)>> {
        let versions: Vec<String> = if g.is_empty() {
            match self
                .discovery_call(self.client.list_core_api_versions())
                .await?
            {
                Ok(core) => core.versions,
                Err(_) => return Ok(Vec::new()),
            }
        } else {
            match self.discovery_call(self.client.list_api_groups()).await? {
                Ok(list) => list
                    .groups
                    .into_iter()
                    .filter(|grp| grp.name == g)
                    .flat_map(|grp| {
                        let preferred = grp.preferred_version.map(|p| p.version);
                        let mut vs: Vec<String> =
                            grp.versions.into_iter().map(|x| x.version).collect();
                        vs.sort_by_key(|x| Some(x) != preferred.as_ref());
                        vs
                    })
                    .collect(),
                Err(_) => return Ok(Vec::new()),
            }
        };
        let mut out: Vec<(ApiResource, ApiCapabilities)> = Vec::new();
        for version in versions.into_iter().filter(|x| x != v) {
            let missing = kinds
                .iter()
                .any(|k| !out.iter().any(|(ar, _)| &ar.kind == k));
            if !missing {
                break;
            }
            let gv = GroupVersion::gv(g, &version);
            if let Ok(api_group) = self
                .discovery_call(discovery::pinned_group(&self.client, &gv))
                .await?
            {
                out.extend(
                    api_group
                        .versioned_resources(&version)
                        .into_iter()
                        .filter(|(ar, _)| {
                            kinds.contains(&ar.kind) && !out.iter().any(|(o, _)| o.kind == ar.kind)
                        })
                        .collect::<Vec<_>>(),
                );
            }
        }
        Ok(out)
    }

    /// One discovery request with the timeout. A transport failure, a timeout or rejected credentials
    /// spoil the environment (`Err`); an HTTP error concerns the group version only (`Ok(Err)`).
    async fn discovery_call<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> EnvResult<Result<T, KindError>> {
        let unreachable = |reason: String| LiveError::Unreachable {
            env: self.env.to_string(),
            reason,
        };
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(unreachable(format!(
                "no answer to discovery within {} s",
                self.timeout.as_secs()
            ))),
            Ok(Ok(v)) => Ok(Ok(v)),
            Ok(Err(e)) => match classify(&e) {
                Failure::Status(401, _) => Err(unreachable(
                    "the API server rejected the credentials (401 Unauthorized)".into(),
                )),
                Failure::Status(code, message) => Ok(Err(KindError {
                    status: Some(code),
                    message,
                })),
                Failure::TimedOut => Err(unreachable(format!(
                    "no answer to discovery within {} s",
                    self.timeout.as_secs()
                ))),
                Failure::Transport(reason) => Err(unreachable(reason)),
                Failure::Other(message) => Ok(Err(KindError {
                    status: None,
                    message,
                })),
            },
        }
    }

    /// Every object of one resource in one namespace (`None`: all namespaces or cluster-scoped), page by
    /// page.
    async fn list_all(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, LiveError> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        };
        let request = kube::core::Request::new(api.resource_url());
        let mut params = ListParams::default().limit(PAGE_SIZE);
        let mut items = Vec::new();
        loop {
            let mut http = request.list(&params).map_err(|e| LiveError::Request {
                kind: ar.kind.clone(),
                reason: e.to_string(),
            })?;
            http.extensions_mut().insert("list");
            let page: Value =
                match tokio::time::timeout(self.timeout, self.client.request(http)).await {
                    Err(_) => return Err(self.timeout_error(ar)),
                    Ok(Ok(page)) => page,
                    Ok(Err(e)) => return Err(self.list_error(ar, namespace, &e)),
                };
            let next = page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            let list_api_version = page.get("apiVersion").and_then(Value::as_str);
            let list_kind = page
                .get("kind")
                .and_then(Value::as_str)
                .and_then(|k| k.strip_suffix("List"));
            let api_version = list_api_version.unwrap_or(&ar.api_version).to_string();
            let kind = list_kind.unwrap_or(&ar.kind).to_string();
            if let Some(Value::Array(page_items)) = page.get("items").cloned() {
                items.extend(
                    page_items
                        .into_iter()
                        .map(|item| with_type(item, &api_version, &kind)),
                );
            }
            match next {
                Some(token) => params.continue_token = Some(token),
                None => break,
            }
        }
        Ok(items)
    }

    fn timeout_error(&self, ar: &ApiResource) -> LiveError {
        LiveError::Timeout {
            kind: ar.kind.clone(),
            seconds: self.timeout.as_secs(),
        }
    }

    fn list_error(&self, ar: &ApiResource, namespace: Option<&str>, e: &kube::Error) -> LiveError {
        match classify(e) {
            Failure::Status(403, message) => LiveError::Forbidden {
                kind: ar.kind.clone(),
                namespace: namespace.map(str::to_string),
                reason: message,
            },
            Failure::TimedOut => self.timeout_error(ar),
            Failure::Status(code, message) => LiveError::Request {
                kind: ar.kind.clone(),
                reason: format!("HTTP {code}: {message}"),
            },
            Failure::Transport(reason) | Failure::Other(reason) => LiveError::Request {
                kind: ar.kind.clone(),
                reason,
            },
        }
    }
}

/// An error of one group version's discovery, turned into each of its kinds' errors.
#[derive(Debug, Clone)]
struct KindError {
    status: Option<u16>,
    message: String,
}

impl KindError {
    fn for_kind(self, kind: &str) -> LiveError {
        match self.status {
            Some(403) => LiveError::Forbidden {
                kind: kind.to_string(),
                namespace: None,
                reason: self.message,
            },
            Some(code) => LiveError::Request {
                kind: kind.to_string(),
                reason: format!("discovery: HTTP {code}: {}", self.message),
            },
            None => LiveError::Request {
                kind: kind.to_string(),
                reason: format!("discovery: {}", self.message),
            },
        }
    }
}

/// What went wrong with one request, in the terms the errors need.
enum Failure {
    /// The server answered with an error status (and its message).
    Status(u16, String),
    /// A read or connect timed out below us (hyper's timeouts).
    TimedOut,
    /// No HTTP exchange happened: connection refused, DNS, TLS…
    Transport(String),
    /// Anything else (an answer that is not JSON…).
    Other(String),
}

fn classify(e: &kube::Error) -> Failure {
    match e {
        kube::Error::Api(status) => {
            let message = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            Failure::Status(status.code, message)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_) => {
            if chain_has_timeout(e) {
                Failure::TimedOut
            } else {
                Failure::Transport(request_reason(e))
            }
        }
        _ => Failure::Other(request_reason(e)),
    }
}

fn chain_has_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// A one-line reason from an error and its sources. Credentials never reach these messages: the auth
/// layer's errors are replaced by a fixed text.
fn request_reason(e: &kube::Error) -> String {
    if let kube::Error::Auth(_) = e {
        return "could not obtain credentials from the kubeconfig's user".to_string();
    }
    // The transport wrappers' own words ("ServiceError: ") say nothing the source does not.
    let (mut out, mut current) = match e {
        kube::Error::Service(inner) => (inner.to_string(), inner.source()),
        kube::Error::HyperError(inner) => (inner.to_string(), std::error::Error::source(inner)),
        other => (other.to_string(), std::error::Error::source(other)),
    };
    while let Some(err) = current {
        let message = err.to_string();
        if !out.contains(&message) {
            out.push_str(": ");
            out.push_str(&message);
        }
        current = err.source();
    }
    out
}

/// A list item with `apiVersion` and `kind` first (servers leave them out of built-in kinds' items).
fn with_type(item: Value, api_version: &str, kind: &str) -> Value {
    match item {
        Value::Object(fields) => {
            let mut out = Map::with_capacity(fields.len() + 2);
            out.insert(
                "apiVersion".into(),
                fields
                    .get("apiVersion")
                    .cloned()
                    .unwrap_or_else(|| Value::String(api_version.to_string())),
            );
            out.insert(
                "kind".into(),
                fields
                    .get("kind")
                    .cloned()
                    .unwrap_or_else(|| Value::String(kind.to_string())),
            );
            out.extend(
                fields
                    .into_iter()
                    .filter(|(k, _)| k != "apiVersion" && k != "kind"),
            );
            Value::Object(out)
        }
        other => other,
    }
}

/// (group, version, kind) of a request.
fn gvk_key(r: &ListRequest) -> (String, String, String) {
    let g = group(&r.api_version).to_string();
    let v = r
        .api_version
        .rsplit_once('/')
        .map_or(r.api_version.as_str(), |(_, v)| v)
        .to_string();
    (g, v, r.kind.clone())
}

fn api_version(g: &str, v: &str) -> String {
    if g.is_empty() {
        v.to_string()
    } else {
        format!("{g}/{v}")
    }
}

fn unknown(r: &ListRequest) -> LiveError {
    LiveError::UnknownKind {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_items_get_their_type_first_and_keep_everything_else() {
        let item =
            json!({"metadata": {"name": "web", "managedFields": [{"manager": "m"}]}, "spec": {}});
        let typed = with_type(item, "apps/v1", "Deployment");
        let keys: Vec<&str> = typed
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(typed["metadata"]["managedFields"][0]["manager"], "m");
    }

    #[test]
    fn items_that_carry_their_type_keep_it() {
        let item = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"});
        let typed = with_type(item, "networking.istio.io/v1beta1", "Other");
        assert_eq!(typed["apiVersion"], "networking.istio.io/v1");
        assert_eq!(typed["kind"], "VirtualService");
    }

    #[test]
    fn request_keys_split_core_and_grouped_versions() {
        let r = |v: &str| ListRequest {
            api_version: v.into(),
            kind: "K".into(),
            namespace: None,
        };
        assert_eq!(gvk_key(&r("v1")), ("".into(), "v1".into(), "K".into()));
        assert_eq!(
            gvk_key(&r("networking.istio.io/v1")),
            ("networking.istio.io".into(), "v1".into(), "K".into())
        );
    }

    #[test]
    fn an_unparsable_kubeconfig_is_not_quoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, "users: [token-s3cr3t-value\n").expect("write");
        let err = Kubeconfig::read_from(&path).expect_err("invalid");
        let reason = kubeconfig_reason(&err, Some(&path));
        assert!(!reason.contains("s3cr3t"), "{reason}");
        assert!(reason.contains("not a valid kubeconfig"), "{reason}");
    }
}
