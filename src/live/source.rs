//! Where live objects come from: a cluster (see `kube` once wired) or a directory of `kubectl get -o yaml`
//! dumps. Sources only list (one request per kind and namespace); they never write.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::codes::ErrorKind;

/// One list request: every object of a kind in a namespace (`None`: cluster-scoped, or all namespaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListRequest {
    /// `apps/v1`, `v1`, `networking.istio.io/v1beta1`…
    pub api_version: String,
    /// `Deployment`…
    pub kind: String,
    /// The namespace, or `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
}

/// The answer to one list request.
#[derive(Debug, Clone)]
pub struct Listed {
    /// What was asked.
    pub request: ListRequest,
    /// The objects (as the API server returns them, `managedFields` included), or why not.
    pub result: Result<Vec<Value>, LiveError>,
}

impl Listed {
    /// The objects of the requested kind, `None` when the cluster does not serve the kind (a CRD not
    /// installed: Argo CD or Flux does not run there, nothing to read); any other failure is an error.
    pub fn served(self) -> Result<Option<Vec<Value>>, LiveError> {
        match self.result {
            Err(LiveError::UnknownKind { .. }) => Ok(None),
            Err(e) => Err(e),
            Ok(objects) => Ok(Some(
                objects
                    .into_iter()
                    .filter(|o| {
                        o.get("kind").and_then(Value::as_str) == Some(self.request.kind.as_str())
                    })
                    .collect(),
            )),
        }
    }
}

/// Why live objects could not be read. Never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The cluster could not be reached at all.
    #[error("cluster of `{env}` unreachable: {reason}")]
    Unreachable {
        /// Environment.
        env: String,
        /// Why (connection refused, timeout, TLS…).
        reason: String,
    },
    /// The API server refused a list (RBAC).
    #[error("not allowed to list {kind} in {}: {reason}", namespace.as_deref().unwrap_or("the cluster"))]
    Forbidden {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: Option<String>,
        /// The server's message.
        reason: String,
    },
    /// The API server does not know the kind (a CRD not installed).
    #[error("the cluster does not serve {api_version} {kind}")]
    UnknownKind {
        /// apiVersion.
        api_version: String,
        /// Kind.
        kind: String,
    },
    /// A request took too long.
    #[error("listing {kind} timed out after {seconds} s")]
    Timeout {
        /// Kind.
        kind: String,
        /// The timeout.
        seconds: u64,
    },
    /// Any other failed request.
    #[error("listing {kind}: {reason}")]
    Request {
        /// Kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// A namespaced object's namespace is named nowhere: not in the rendered object, not by the GitOps
    /// object deploying the overlay, not in config, and the dump holds more than one namespace.
    #[error(
        "cannot tell which namespace the {kind} objects of {service} run in, in `{env}`: the overlay sets no \
         `namespace:`, no Argo CD Application or Flux Kustomization of the repo names one, and \
         `[clusters.{env}] namespace` is not set"
    )]
    NoNamespace {
        /// Environment.
        env: String,
        /// The service.
        service: String,
        /// The kind.
        kind: String,
    },
    /// The repo's Argo CD Applications deploy the environment to destinations no config maps to a cluster.
    #[error(
        "`{env}` is deployed to {} by the repo's Argo CD Applications, and no cluster is configured for it: \
         add `[clusters.{env}]`{}",
        destinations.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", "),
        if destinations.len() == 1 {
            format!(" or `[destinations.\"{}\"]` (kubeconfig, context)", destinations[0])
        } else {
            " (live drift of one environment spread over several destinations reads one cluster)".to_string()
        }
    )]
    DestinationNotConfigured {
        /// Environment.
        env: String,
        /// The destinations (`name`, else `server`).
        destinations: Vec<String>,
    },
    /// No source for this environment (no cluster configured, no dump folder).
    #[error("no cluster configured for `{env}`")]
    NotConfigured {
        /// Environment.
        env: String,
    },
    /// A dump file could not be read boundedly: a link leaving the dump directory, a device, a FIFO, a file
    /// over `limits.max_file_bytes` (the error names the file).
    #[error(transparent)]
    Read(#[from] crate::input::ReadError),
    /// A dump file could not be read.
    #[error("{}: {reason}", path.display())]
    Dump {
        /// The file.
        path: PathBuf,
        /// Why (with line for YAML errors).
        reason: String,
    },
}

impl LiveError {
    /// The stable kind this error has in `errors[]`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LiveError::Unreachable { .. }
            | LiveError::Timeout { .. }
            | LiveError::Request { .. } => ErrorKind::ClusterUnreachable,
            LiveError::Forbidden { .. } => ErrorKind::ClusterForbidden,
            LiveError::UnknownKind { .. } => ErrorKind::ClusterKind,
            LiveError::NotConfigured { .. }
            | LiveError::NoNamespace { .. }
            | LiveError::DestinationNotConfigured { .. } => ErrorKind::Config,
            LiveError::Dump { .. } | LiveError::Read(_) => ErrorKind::Read,
        }
    }
}

/// The name a source knows an Argo CD destination's cluster by (`[destinations."<name or server>"]`); no
/// environment name starts with `@`.
pub fn destination_target(destination: &str) -> String {
    format!("@{destination}")
}

/// Whether a source's key is a [`destination_target`] (not an environment).
pub fn is_destination_target(key: &str) -> bool {
    key.starts_with('@')
}

/// A source of live objects, per environment (or per destination: see [`destination_target`]).
pub trait LiveSource: Sync {
    /// Answers every request for `env`; `Err` when the environment as a whole cannot be read.
    fn list(&self, env: &str, requests: &[ListRequest]) -> Result<Vec<Listed>, LiveError>;

    /// Whether this source has anything for `env` (environments without a cluster are skipped quietly).
    fn covers(&self, env: &str) -> bool;

    /// The namespace of every namespaced object the source holds for `env`, when there is exactly one (a
    /// dump of one namespace): the last resort for objects whose namespace nothing else names.
    fn sole_namespace(&self, _env: &str) -> Option<String> {
        None
    }

    /// Whether the source maps Argo CD destinations to clusters (`[destinations]` is configured), so that
    /// an environment deployed to a destination no config maps is an error rather than skipped, as an
    /// environment without a cluster (or a dump folder) is.
    fn maps_destinations(&self) -> bool {
        false
    }

    /// Whether the source reads clusters (not dumps): an environment deployed to a destination it cannot
    /// reach is then worth a notice even without `[destinations]`.
    fn reads_clusters(&self) -> bool {
        false
    }
}

/// `kubectl get -o yaml` dumps: `<dir>/<env>/*.yaml`, each a `List` or single objects.
#[derive(Debug, Clone)]
pub struct DirSource {
    dir: PathBuf,
    /// Dump files are read with it: inside `dir`, regular, at most `limits.max_file_bytes` each.
    reader: crate::input::Reader,
}

impl DirSource {
    /// Dumps under `dir`, reading at most `max_file_bytes` of each file.
    pub fn new(dir: &Path, max_file_bytes: u64) -> DirSource {
        DirSource {
            dir: dir.to_path_buf(),
            reader: crate::input::Reader::new(dir, max_file_bytes).with_full_names(),
        }
    }

    fn objects(&self, env: &str) -> Result<Vec<Value>, LiveError> {
        let dir = self.dir.join(env);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| LiveError::Dump {
                path: dir.clone(),
                reason: e.to_string(),
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        let mut out = Vec::new();
        for path in files {
            let text = self.reader.read_to_string(&path)?;
            let docs: Vec<Value> = crate::yaml::documents(&text).map_err(|e| LiveError::Dump {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            for doc in docs {
                match doc.get("items").and_then(Value::as_array) {
                    Some(items)
                        if doc
                            .get("kind")
                            .and_then(Value::as_str)
                            .is_some_and(|k| k.ends_with("List")) =>
                    {
                        out.extend(items.iter().cloned());
                    }
                    _ => out.push(doc),
                }
            }
        }
        Ok(out)
    }
}

impl LiveSource for DirSource {
    fn list(&self, env: &str, requests: &[ListRequest]) -> Result<Vec<Listed>, LiveError> {
        let objects = self.objects(env)?;
        Ok(requests
            .iter()
            .map(|r| Listed {
                request: r.clone(),
                result: Ok(objects
                    .iter()
                    .filter(|o| {
                        o.get("kind").and_then(Value::as_str) == Some(r.kind.as_str())
                            && group(o.get("apiVersion").and_then(Value::as_str).unwrap_or(""))
                                == group(&r.api_version)
                            && (r.namespace.is_none()
                                || o.pointer("/metadata/namespace").and_then(Value::as_str)
                                    == r.namespace.as_deref())
                    })
                    .cloned()
                    .collect()),
            })
            .collect())
    }

    fn covers(&self, env: &str) -> bool {
        self.dir.join(env).is_dir()
    }

    fn sole_namespace(&self, env: &str) -> Option<String> {
        let objects = self.objects(env).ok()?;
        // The GitOps tool's own objects (Applications in `argocd`, Flux Kustomizations in `flux-system`)
        // do not say where the applications run.
        let namespaces: std::collections::BTreeSet<&str> = objects
            .iter()
            .filter(|o| !is_gitops_object(o))
            .filter_map(|o| o.pointer("/metadata/namespace").and_then(Value::as_str))
            .collect();
        (namespaces.len() == 1)
            .then(|| namespaces.into_iter().next().map(str::to_string))
            .flatten()
    }
}

/// Whether `o` is an object of Argo CD or Flux (they live in the tool's namespace, not the application's).
fn is_gitops_object(o: &Value) -> bool {
    let g = group(o.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
    let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
    // Not the whole `argoproj.io` group: an Argo Rollout is the application's own workload.
    (g == "argoproj.io" && matches!(kind, "Application" | "ApplicationSet" | "AppProject"))
        || g.ends_with(".toolkit.fluxcd.io")
}

/// The API group of an apiVersion (`apps/v1` → `apps`, `v1` → ``): versions of one kind are the same objects.
pub fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_dump_file_that_is_a_fifo_or_too_large_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = dir.path().join("dev");
        std::fs::create_dir_all(&dev).expect("mkdir");
        let requests = [ListRequest {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: None,
        }];
        std::fs::write(
            dev.join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .expect("write");
        let source = DirSource::new(dir.path(), 1024);
        let listed = source.list("dev", &requests).expect("listed");
        assert_eq!(listed[0].result.as_ref().map(Vec::len), Ok(1));

        let fifo = dev.join("b.yaml");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        let err = source.list("dev", &requests).expect_err("a FIFO");
        assert_eq!(
            err.to_string(),
            format!("{} is a FIFO, not a regular file", fifo.display())
        );

        std::fs::remove_file(&fifo).expect("rm");
        std::fs::write(&fifo, "#".repeat(2048)).expect("write");
        assert!(matches!(
            source.list("dev", &requests),
            Err(LiveError::Read(crate::input::ReadError::TooLarge {
                limit: 1024,
                ..
            }))
        ));
    }
}
