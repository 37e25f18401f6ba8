//! Typed views of rendered objects: workloads, containers, probes, env names, ingress, mesh, autoscalers.
//!
//! The model knows nothing about environments' meaning; it only turns one rendered overlay into values the
//! rules can compare, with the normalisation parity needs: names without the overlay's prefix/suffix and
//! generated hash, quantities parsed exactly, probe ports resolved, hostnames masked where structure matters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::quantity::Quantity;

mod diff;
mod ingress;
mod service;

pub use diff::{diff_paths, diff_paths_all, keyed, list_key, list_name, show_paths, value_at};

pub use crate::kustomization::{Naming, strip_generated_hash};

pub use ingress::routes as ingress_routes;
pub use service::{ContainerAcross, ServiceModel};

/// Kind and normalised name: how one object is matched across environments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Object kind.
    pub kind: String,
    /// Name without the overlay's namePrefix/nameSuffix and without a generated hash suffix.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One rendered object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Match key across environments.
    pub key: ObjectKey,
    /// API group (`""` for the core group).
    pub group: String,
    /// Name as rendered.
    pub rendered_name: String,
    /// The object.
    pub value: Value,
    /// Repo-relative file that declared the object.
    pub origin: Option<String>,
    /// Repo-relative kustomization files whose transformers changed it.
    pub transformed_by: Vec<String>,
}

/// A container's resources.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// `resources.requests`, by resource name.
    pub requests: BTreeMap<String, Quantity>,
    /// `resources.limits`, by resource name.
    pub limits: BTreeMap<String, Quantity>,
}

/// A container image reference, normalised as the Docker CLI and the kubelet's container runtime read it.
///
/// `nginx:1.25`, `docker.io/nginx:1.25` and `docker.io/library/nginx:1.25` pull the same image, so they are
/// equal. Equality looks at the normalised `repository` and `reference` only, never at `raw`.
#[derive(Debug, Clone)]
pub struct Image {
    /// As written in the repo; what findings show.
    pub raw: String,
    /// Registry and path with Docker Hub's defaults filled in (`docker.io/library/nginx`,
    /// `ghcr.io/acme/checkout`); `raw` itself when the reference does not parse.
    pub repository: String,
    /// Tag and/or digest (`1.4.2`, `sha256:…`, `1.4.2@sha256:…`); `latest` when neither is given; empty when
    /// the reference does not parse.
    pub reference: String,
}

impl Image {
    /// Parses and normalises a reference with `oci-spec`'s port of Docker's distribution/reference
    /// (`ParseNormalizedNamed` + `TagNameOnly`). A reference it rejects (upper case in the name, a digest
    /// of the wrong length…) is kept whole, so it is still compared, as written.
    pub fn parse(raw: &str) -> Image {
        match oci_spec::distribution::Reference::try_from(raw) {
            Ok(r) => {
                let reference = match (r.tag(), r.digest()) {
                    (Some(t), Some(d)) => format!("{t}@{d}"),
                    (Some(t), None) => t.to_string(),
                    (None, Some(d)) => d.to_string(),
                    // TagNameOnly: the parser already gives a bare name `latest`.
                    (None, None) => "latest".to_string(),
                };
                Image {
                    raw: raw.to_string(),
                    repository: format!("{}/{}", r.registry(), r.repository()),
                    reference,
                }
            }
            Err(_) => Image {
                raw: raw.to_string(),
                repository: raw.to_string(),
                reference: String::new(),
            },
        }
    }
}

impl PartialEq for Image {
    fn eq(&self, other: &Image) -> bool {
        self.repository == other.repository && self.reference == other.reference
    }
}

impl Eq for Image {}

/// A container (or init container) of a pod template.
#[derive(Debug, Clone)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// An init container.
    pub init: bool,
    /// Image, if set.
    pub image: Option<Image>,
    /// Requests and limits.
    pub resources: Resources,
    /// Names of env vars: `env[].name` plus the (prefixed) keys of ConfigMaps/Secrets in the same render that
    /// `envFrom` loads.
    pub env_names: BTreeSet<String>,
    /// `envFrom` sources as `configMap <name>` / `secret <name>` (names normalised), with the prefix if any.
    pub env_from: BTreeSet<String>,
    /// Probes by kind (`readinessProbe`, `livenessProbe`, `startupProbe`), normalised: keys sorted, named
    /// ports resolved to numbers, Kubernetes defaults filled in.
    pub probes: BTreeMap<&'static str, Value>,
}

/// A pod-template owner, by shape ([`pod_template`]): Deployment, StatefulSet, DaemonSet, Job, CronJob,
/// Rollout, Knative Service, DeploymentConfig, ….
#[derive(Debug, Clone)]
pub struct Workload {
    /// The owning object's key.
    pub key: ObjectKey,
    /// `spec.replicas`, when set.
    pub replicas: Option<i64>,
    /// Containers, then init containers.
    pub containers: Vec<Container>,
    /// Pod-template annotations.
    pub pod_annotations: BTreeMap<String, String>,
    /// Pod-template labels.
    pub pod_labels: BTreeMap<String, String>,
}

/// A problem with one object that does not stop the others from being checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {problem}")]
pub struct ModelError {
    /// `Kind/name` of the object.
    pub object: String,
    /// Field path.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// One environment's rendered service, ready for the rules.
#[derive(Debug, Clone, Default)]
pub struct EnvModel {
    /// Environment name (`base` for the base).
    pub env: String,
    /// How the overlay renames objects.
    pub naming: Naming,
    /// The namespace the GitOps object deploying the overlay fills in for objects without one (Argo CD's
    /// `destination.namespace`; Flux's `targetNamespace` is already set on every object by the render).
    pub destination_namespace: Option<String>,
    /// Every object, in render order.
    pub objects: Vec<Object>,
    /// Pod-template owners.
    pub workloads: Vec<Workload>,
}

/// The pod template of a workload, recognised by shape rather than by kind: `spec.jobTemplate.spec.template`
/// (CronJob) or `spec.template` (Deployment, StatefulSet, DaemonSet, Job, Argo Rollouts `Rollout`, Knative
/// `Service`, OpenShift `DeploymentConfig`, …) holding a pod spec with a `containers` list. An object whose
/// `spec.template` is something else (an ApplicationSet's Application template) is not a workload.
pub fn pod_template(object: &Value) -> Option<&Value> {
    ["/spec/jobTemplate/spec/template", "/spec/template"]
        .into_iter()
        .filter_map(|p| object.pointer(p))
        .find(|t| t.pointer("/spec/containers").is_some_and(Value::is_array))
}

impl EnvModel {
    /// Builds the model of one rendered overlay. Problems with single fields are returned beside it.
    pub fn build(
        env: &str,
        naming: Naming,
        rendered: Vec<crate::render::RenderedObject>,
    ) -> (EnvModel, Vec<ModelError>) {
        let mut errors = Vec::new();
        let objects: Vec<Object> = rendered
            .into_iter()
            .filter_map(|r| {
                let kind = r.value.get("kind")?.as_str()?.to_string();
                let rendered_name = r.value.pointer("/metadata/name")?.as_str()?.to_string();
                let group = r
                    .value
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.rsplit_once('/').map(|(g, _)| g.to_string()))
                    .unwrap_or_default();
                Some(Object {
                    key: ObjectKey {
                        kind,
                        name: naming.normalize(&rendered_name),
                    },
                    group,
                    rendered_name,
                    value: r.value,
                    origin: r.origin,
                    transformed_by: r.transformed_by,
                })
            })
            .collect();
        let mut model = EnvModel {
            env: env.to_string(),
            naming,
            destination_namespace: None,
            objects,
            workloads: Vec::new(),
        };
        let workloads = model
            .objects
            .iter()
            .filter(|o| pod_template(&o.value).is_some())
            .map(|o| model.workload(o, &mut errors))
            .collect();
        model.workloads = workloads;
        (model, errors)
    }

    /// The object with this key.
    pub fn object(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.iter().find(|o| &o.key == key)
    }

    /// The workload with this key.
    pub fn workload_by_key(&self, key: &ObjectKey) -> Option<&Workload> {
        self.workloads.iter().find(|w| &w.key == key)
    }

    /// Objects of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.key.kind == kind)
    }

    /// Whether this object is the environment's own Namespace (not a parity difference).
    pub fn is_env_namespace(&self, object: &Object) -> bool {
        object.key.kind == "Namespace"
            && (self.naming.namespace.as_deref() == Some(object.rendered_name.as_str())
                || object.rendered_name.contains(self.env.as_str()))
    }

    fn workload(&self, object: &Object, errors: &mut Vec<ModelError>) -> Workload {
        let template = pod_template(&object.value);
        let empty = Value::Null;
        let template = template.unwrap_or(&empty);
        let pod = template.get("spec").unwrap_or(&empty);
        let mut containers = Vec::new();
        for (list, init) in [("containers", false), ("initContainers", true)] {
            for c in pod
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                containers.push(self.container(object, c, init, errors));
            }
        }
        Workload {
            key: object.key.clone(),
            replicas: object
                .value
                .pointer("/spec/replicas")
                .and_then(Value::as_i64),
            containers,
            pod_annotations: string_map(template.pointer("/metadata/annotations")),
            pod_labels: string_map(template.pointer("/metadata/labels")),
        }
    }

    fn container(
        &self,
        object: &Object,
        c: &Value,
        init: bool,
        errors: &mut Vec<ModelError>,
    ) -> Container {
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut resources = Resources::default();
        for (section, target) in [
            ("requests", &mut resources.requests),
            ("limits", &mut resources.limits),
        ] {
            let Some(map) = c
                .pointer(&format!("/resources/{section}"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for (resource, raw) in map {
                match Quantity::from_json(raw) {
                    Ok(q) => {
                        target.insert(resource.clone(), q);
                    }
                    Err(e) => errors.push(ModelError {
                        object: object.key.to_string(),
                        field: format!("containers[{name}].resources.{section}.{resource}"),
                        problem: e.to_string(),
                    }),
                }
            }
        }
        let mut env_names: BTreeSet<String> = c
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let mut env_from = BTreeSet::new();
        for source in c
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let prefix = source.get("prefix").and_then(Value::as_str).unwrap_or("");
            for (field, kind, label) in [
                ("configMapRef", "ConfigMap", "configMap"),
                ("secretRef", "Secret", "secret"),
            ] {
                let Some(rendered) = source
                    .pointer(&format!("/{field}/name"))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                let normalized = self.naming.normalize(rendered);
                env_from.insert(if prefix.is_empty() {
                    format!("{label} {normalized}")
                } else {
                    format!("{label} {normalized} (prefix {prefix})")
                });
                let loaded = self
                    .objects
                    .iter()
                    .find(|o| o.key.kind == kind && o.rendered_name == rendered);
                if let Some(loaded) = loaded {
                    for section in ["data", "binaryData", "stringData"] {
                        if let Some(keys) = loaded.value.get(section).and_then(Value::as_object) {
                            env_names.extend(keys.keys().map(|k| format!("{prefix}{k}")));
                        }
                    }
                }
            }
        }
        let ports: BTreeMap<String, i64> = c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.get("name")?.as_str()?.to_string(),
                    p.get("containerPort")?.as_i64()?,
                ))
            })
            .collect();
        let probes = ["readinessProbe", "livenessProbe", "startupProbe"]
            .into_iter()
            .filter_map(|kind| Some((kind, normalize_probe(c.get(kind)?, &ports))))
            .collect();
        Container {
            name,
            init,
            image: c.get("image").and_then(Value::as_str).map(Image::parse),
            resources,
            env_names,
            env_from,
            probes,
        }
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect()
}

/// Kubernetes' probe defaults: a probe that spells a default out equals one that leaves it implicit.
const PROBE_DEFAULTS: [(&str, i64); 4] = [
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
];

fn normalize_probe(probe: &Value, ports: &BTreeMap<String, i64>) -> Value {
    let mut probe = canonical(probe);
    if let Some(map) = probe.as_object_mut() {
        for (key, default) in PROBE_DEFAULTS {
            map.entry(key).or_insert(Value::from(default));
        }
        map.entry("initialDelaySeconds").or_insert(Value::from(0));
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            let Some(h) = map.get_mut(handler).and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(port) = h.get("port") {
                let resolved = match port {
                    Value::String(s) => s
                        .parse::<i64>()
                        .ok()
                        .or_else(|| ports.get(s).copied())
                        .map_or_else(|| port.clone(), Value::from),
                    other => other.clone(),
                };
                h.insert("port".to_string(), resolved);
            }
            if handler == "httpGet" {
                h.entry("scheme").or_insert(Value::from("HTTP"));
                h.entry("path").or_insert(Value::from("/"));
            }
        }
    }
    canonical(&probe)
}

/// A copy with every object's keys sorted, so that equal values print the same.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Keys whose string values are hostnames: masked where only structure must match.
const HOST_KEYS: [&str; 5] = ["host", "hosts", "hostname", "hostnames", "sni"];

/// A canonical copy with every string under a host-like key replaced by `<host>`.
pub fn mask_hosts(value: &Value) -> Value {
    fn walk(value: &Value, masked: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, HOST_KEYS.contains(&k.as_str()))))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, masked)).collect()),
            Value::String(_) if masked => Value::from("<host>"),
            other => other.clone(),
        }
    }
    canonical(&walk(value, false))
}

/// A compact one-line rendering of a value for messages and tables.
pub fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_hash_is_stripped_but_words_are_not() {
        assert_eq!(strip_generated_hash("app-config-7g8m2kd4hb"), "app-config");
        assert_eq!(
            strip_generated_hash("app-config-production"),
            "app-config-production"
        );
        assert_eq!(
            strip_generated_hash("payments-aaaaaaaaaa"),
            "payments-aaaaaaaaaa"
        );
    }

    #[test]
    fn naming_removes_prefix_suffix_and_hash() {
        let n = Naming {
            prefix: "dev-".into(),
            suffix: "-v2".into(),
            namespace: None,
            inner: Vec::new(),
        };
        assert_eq!(n.normalize("dev-web-v2"), "web");
        assert_eq!(n.normalize("dev-cfg-v2-9f2k5m7tbc"), "cfg");
        // An intermediate overlay's rename (eu- over prod-, -x under -v2) comes off too.
        let n = Naming {
            prefix: "eu-".into(),
            inner: vec![("prod-".into(), "-x".into())],
            ..Naming::default()
        };
        assert_eq!(n.normalize("eu-prod-cfg-x-9f2k5m7tbc"), "cfg");
        assert_eq!(n.normalize("eu-web"), "web");
    }

    /// The parser must fill in Docker Hub's defaults exactly as the Docker CLI does before `Image` relies on it.
    #[test]
    fn reference_parser_fills_in_docker_hub_defaults_like_the_docker_cli() {
        use oci_spec::distribution::Reference;
        let whole = |s: &str| Reference::try_from(s).map(|r| r.whole());
        let digest = format!("sha256:{}", "a".repeat(64));
        for (input, expected) in [
            ("nginx:1.25", "docker.io/library/nginx:1.25".to_string()),
            ("nginx", "docker.io/library/nginx:latest".to_string()),
            (
                "library/nginx:1.25",
                "docker.io/library/nginx:1.25".to_string(),
            ),
            (
                "docker.io/nginx:1.25",
                "docker.io/library/nginx:1.25".to_string(),
            ),
            (
                "index.docker.io/library/nginx:1.25",
                "docker.io/library/nginx:1.25".to_string(),
            ),
            ("user/app:1", "docker.io/user/app:1".to_string()),
            (
                &format!("ghcr.io/acme/app@{digest}"),
                format!("ghcr.io/acme/app@{digest}"),
            ),
            (
                &format!("nginx@{digest}"),
                format!("docker.io/library/nginx@{digest}"),
            ),
            (
                &format!("nginx:1.25@{digest}"),
                format!("docker.io/library/nginx:1.25@{digest}"),
            ),
            ("localhost:5000/app:1", "localhost:5000/app:1".to_string()),
            ("localhost/app", "localhost/app:latest".to_string()),
            // A first component with a port is a registry; without `.`, `:` or `localhost` it is a path.
            ("registry:5000/app", "registry:5000/app:latest".to_string()),
            (
                "registry/app:5000",
                "docker.io/registry/app:5000".to_string(),
            ),
            // A lone name with a colon: the part after it is a tag, never a port.
            (
                "registry:5000",
                "docker.io/library/registry:5000".to_string(),
            ),
        ] {
            assert_eq!(whole(input).as_deref(), Ok(expected.as_str()), "{input}");
        }
        for invalid in [
            "Nginx:1.25",
            "nginx:1.25@sha256:abc",
            "",
            "nginx::1",
            "-nginx",
        ] {
            assert!(Reference::try_from(invalid).is_err(), "{invalid:?} parsed");
        }
    }

    #[test]
    fn workloads_are_recognised_by_the_shape_of_their_pod_template() {
        let pod = json!({"spec": {"containers": [{"name": "app", "image": "app:1"}]}});
        let objects = [
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "checkout"}, "spec": {"template": pod}}),
            json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                "metadata": {"name": "hello"}, "spec": {"template": pod}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "nightly"}, "spec": {"jobTemplate": {"spec": {"template": pod}}}}),
            // An ApplicationSet's template is an Application, not a pod.
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                "metadata": {"name": "apps"}, "spec": {"template": {"spec": {"project": "default"}}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80}]}}),
        ];
        let rendered = objects
            .into_iter()
            .map(|value| crate::render::RenderedObject {
                value,
                origin: None,
                transformed_by: Vec::new(),
            })
            .collect();
        let (model, errors) = EnvModel::build("prod", Naming::default(), rendered);
        assert!(errors.is_empty(), "{errors:?}");
        let workloads: Vec<String> = model.workloads.iter().map(|w| w.key.to_string()).collect();
        assert_eq!(
            workloads,
            ["Rollout/checkout", "Service/hello", "CronJob/nightly"]
        );
        assert_eq!(model.workloads[0].containers[0].name, "app");
    }

    #[test]
    fn image_references() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let i = Image::parse(&format!("registry:5000/acme/web:1.2@{digest}"));
        assert_eq!(i.repository, "registry:5000/acme/web");
        assert_eq!(i.reference, format!("1.2@{digest}"));
        assert_eq!(Image::parse("nginx").reference, "latest");
        assert_eq!(
            Image::parse("registry:5000/nginx").repository,
            "registry:5000/nginx"
        );
        // One image, spelled the ways people write it: equal, and each keeps its spelling.
        let short = Image::parse("nginx:1.25");
        for same in [
            "docker.io/library/nginx:1.25",
            "docker.io/nginx:1.25",
            "index.docker.io/library/nginx:1.25",
            "library/nginx:1.25",
        ] {
            let other = Image::parse(same);
            assert_eq!(short, other, "{same}");
            assert_eq!(other.raw, same);
        }
        assert_eq!(short.raw, "nginx:1.25");
        assert_eq!(short.repository, "docker.io/library/nginx");
        assert_eq!(
            Image::parse("nginx"),
            Image::parse("docker.io/library/nginx:latest")
        );
        assert_ne!(Image::parse("nginx:1.25"), Image::parse("nginx:1.26"));
        assert_ne!(Image::parse("nginx:1.25"), Image::parse("user/nginx:1.25"));
        assert_ne!(
            Image::parse("nginx:1.25"),
            Image::parse("ghcr.io/library/nginx:1.25")
        );
        assert_ne!(
            Image::parse("nginx"),
            Image::parse(&format!("nginx@{digest}"))
        );
        // Unparseable references are kept whole and compared as written, never dropped.
        let bad = Image::parse("Registry.example.com/Shop/Web:1");
        assert_eq!(bad.raw, "Registry.example.com/Shop/Web:1");
        assert_eq!(bad.repository, bad.raw);
        assert_eq!(bad, Image::parse("Registry.example.com/Shop/Web:1"));
        assert_ne!(bad, Image::parse("Registry.example.com/Shop/Web:2"));
        assert_ne!(bad, Image::parse("registry.example.com/shop/web:1"));
        let long = "a".repeat(100_000);
        assert_eq!(Image::parse(&long).raw, long);
    }

    #[test]
    fn probes_normalise_order_ports_and_defaults() {
        let ports = BTreeMap::from([("http".to_string(), 8080)]);
        let a = normalize_probe(
            &json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10}),
            &ports,
        );
        let b = normalize_probe(
            &json!({"httpGet": {"port": "http", "path": "/ready"}}),
            &ports,
        );
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
    }

    #[test]
    fn hosts_are_masked() {
        let a = mask_hosts(
            &json!({"hosts": ["a.example.com"], "http": [{"route": [{"destination": {"host": "a"}}]}]}),
        );
        let b = mask_hosts(
            &json!({"hosts": ["b.example.com"], "http": [{"route": [{"destination": {"host": "b"}}]}]}),
        );
        assert_eq!(a, b);
    }
}
