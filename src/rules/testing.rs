//! Hand-built services for the rules' unit tests: no kustomize, no files.
//!
//! A test lists what each environment renders — JSON objects, or a [`deployment`] built here — and
//! [`ServiceBuilder::build`] turns each list into an [`EnvModel`] through the real [`EnvModel::build`], so a
//! rule sees exactly the model production would build from those objects. [`draft`] spells out the finding a
//! test expects, field by field.
//!
//! ```ignore
//! let model = service("web")
//!     .env("staging", [web(|c| c.limits(json!({"memory": "2Gi"})))])
//!     .env("prod-us", [web(|c| c.limits(json!({"memory": "512Mi"})))])
//!     .peer("prod-eu", [web(|c| c.limits(json!({"memory": "512Mi"})))])
//!     .build();
//! assert_eq!(check(&LimitInversion, &model), [draft("Deployment/web").container("web") /* … */]);
//! ```

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::{Rule, ServiceModel, Settings};
use crate::finding::Draft;
use crate::model::{EnvModel, Naming};
use crate::render::RenderedObject;

/// Starts a service called `name`, with no environments and no base.
pub(crate) fn service(name: &str) -> ServiceBuilder {
    ServiceBuilder {
        name: name.to_string(),
        base: None,
        tiers: Vec::new(),
        patches: IndexMap::new(),
    }
}

/// A service under construction; see [`service`].
pub(crate) struct ServiceBuilder {
    name: String,
    base: Option<Vec<Value>>,
    /// Tiers in promotion order, each reference peer first: (environment, naming, objects).
    tiers: Vec<Vec<(String, Naming, Vec<Value>)>>,
    patches: IndexMap<String, usize>,
}

impl ServiceBuilder {
    /// Adds an environment rendering `objects`, as a tier of its own. Environments are in promotion order:
    /// the last tier added is the reference.
    pub(crate) fn env(
        self,
        env: &str,
        objects: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Self {
        self.env_named(env, Naming::default(), objects)
    }

    /// Adds an environment whose overlay renames what it renders (`namePrefix`, `nameSuffix`, `namespace`).
    pub(crate) fn env_named(
        mut self,
        env: &str,
        naming: Naming,
        objects: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Self {
        let objects = objects.into_iter().map(Into::into).collect();
        self.tiers.push(vec![(env.to_string(), naming, objects)]);
        self
    }

    /// Adds an environment rendering `objects` as a peer in the tier of the environment added last (whose
    /// reference peer is the first environment of that tier), as discovery places `prod-eu` next to `prod-us`.
    ///
    /// # Panics
    /// When no environment was added yet.
    pub(crate) fn peer(
        mut self,
        env: &str,
        objects: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Self {
        let objects = objects.into_iter().map(Into::into).collect();
        self.tiers
            .last_mut()
            .expect("a peer of an environment added before")
            .push((env.to_string(), Naming::default(), objects));
        self
    }

    /// The service's rendered base.
    pub(crate) fn base(mut self, objects: impl IntoIterator<Item = impl Into<Value>>) -> Self {
        self.base = Some(objects.into_iter().map(Into::into).collect());
        self
    }

    /// The number of patches `env`'s overlay declares (0 unless set).
    pub(crate) fn patches(mut self, env: &str, count: usize) -> Self {
        self.patches.insert(env.to_string(), count);
        self
    }

    /// Builds every environment (and the base) with [`EnvModel::build`].
    ///
    /// # Panics
    /// When the model reports a problem with an object (a test's objects are meant to be valid), or when a
    /// patch count names an environment the service does not have.
    pub(crate) fn build(self) -> ServiceModel {
        let build = |env: &str, naming: Naming, objects: Vec<Value>| {
            let rendered = objects
                .into_iter()
                .map(|value| RenderedObject {
                    value,
                    origin: None,
                    transformed_by: Vec::new(),
                })
                .collect();
            let (model, errors) = EnvModel::build(env, naming, rendered);
            assert!(errors.is_empty(), "{env}: {errors:?}");
            model
        };
        // Like discovery: tier by tier, each tier's reference peer after its other peers.
        let mut tiers = IndexMap::new();
        let mut envs = Vec::new();
        for (i, tier) in self.tiers.into_iter().enumerate() {
            for (env, naming, objects) in tier.into_iter().rev() {
                tiers.insert(env.clone(), i);
                envs.push((env, naming, objects));
            }
        }
        for env in self.patches.keys() {
            assert!(
                tiers.contains_key(env),
                "patch count for `{env}`, which is no environment of the service"
            );
        }
        // Like the pipeline, every overlay has a patch count, in promotion order.
        let patch_counts = envs
            .iter()
            .map(|(env, _, _)| (env.clone(), self.patches.get(env).copied().unwrap_or(0)))
            .collect();
        ServiceModel {
            service: self.name,
            base: self
                .base
                .map(|objects| build("base", Naming::default(), objects)),
            envs: envs
                .into_iter()
                .map(|(env, naming, objects)| build(&env, naming, objects))
                .collect(),
            tiers,
            patch_counts,
        }
    }
}

/// A [`Naming`] with this `namePrefix` and `nameSuffix`.
pub(crate) fn naming(prefix: &str, suffix: &str) -> Naming {
    Naming {
        inner: Vec::new(),
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
        namespace: None,
    }
}

/// A rendered object: `apiVersion`, `kind`, `metadata.name`, then the top-level fields of `body`
/// (`{"spec": …}`, `{"data": …}`).
pub(crate) fn object(api_version: &str, kind: &str, name: &str, body: Value) -> Value {
    let mut value = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
    if let (Some(map), Value::Object(fields)) = (value.as_object_mut(), body) {
        map.extend(fields);
    }
    value
}

/// A Deployment `web` with one container `web`, which `f` configures: the shape most rule tests need.
pub(crate) fn web(f: impl FnOnce(Container) -> Container) -> Workload {
    deployment("web").container("web", f)
}

/// A Deployment called `name`, with no containers yet.
pub(crate) fn deployment(name: &str) -> Workload {
    workload("Deployment", name)
}

/// A pod-template owner of any kind (a CronJob's template goes under `spec.jobTemplate`).
pub(crate) fn workload(kind: &str, name: &str) -> Workload {
    Workload {
        kind: kind.to_string(),
        name: name.to_string(),
        replicas: None,
        containers: Vec::new(),
        init_containers: Vec::new(),
        annotations: Map::new(),
        labels: Map::new(),
    }
}

/// A workload under construction; it becomes a rendered object with `.into()`.
pub(crate) struct Workload {
    kind: String,
    name: String,
    replicas: Option<i64>,
    containers: Vec<Value>,
    init_containers: Vec<Value>,
    annotations: Map<String, Value>,
    labels: Map<String, Value>,
}

impl Workload {
    /// `spec.replicas`.
    pub(crate) fn replicas(mut self, replicas: i64) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// Adds a container called `name`, which `f` configures.
    pub(crate) fn container(mut self, name: &str, f: impl FnOnce(Container) -> Container) -> Self {
        self.containers.push(f(Container::named(name)).0.into());
        self
    }

    /// Adds an init container called `name`, which `f` configures.
    pub(crate) fn init_container(
        mut self,
        name: &str,
        f: impl FnOnce(Container) -> Container,
    ) -> Self {
        self.init_containers
            .push(f(Container::named(name)).0.into());
        self
    }

    /// A pod-template annotation.
    pub(crate) fn pod_annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.into());
        self
    }

    /// A pod-template label.
    pub(crate) fn pod_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.into());
        self
    }
}

impl From<Workload> for Value {
    fn from(w: Workload) -> Value {
        let mut metadata = Map::new();
        if !w.annotations.is_empty() {
            metadata.insert("annotations".into(), w.annotations.into());
        }
        if !w.labels.is_empty() {
            metadata.insert("labels".into(), w.labels.into());
        }
        let mut pod = json!({"containers": w.containers});
        if !w.init_containers.is_empty() {
            pod["initContainers"] = w.init_containers.into();
        }
        let template = json!({"metadata": metadata, "spec": pod});
        let mut spec = if w.kind == "CronJob" {
            json!({"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}})
        } else {
            json!({"template": template})
        };
        if let Some(r) = w.replicas {
            spec["replicas"] = r.into();
        }
        let api_version = match w.kind.as_str() {
            "Job" | "CronJob" => "batch/v1",
            _ => "apps/v1",
        };
        object(api_version, &w.kind, &w.name, json!({ "spec": spec }))
    }
}

/// A container under construction; see [`Workload::container`].
pub(crate) struct Container(Map<String, Value>);

impl Container {
    fn named(name: &str) -> Container {
        let mut map = Map::new();
        map.insert("name".into(), name.into());
        Container(map)
    }

    /// Sets any field of the container (`readinessProbe`, `resources`…) to `value`.
    pub(crate) fn set(mut self, field: &str, value: Value) -> Self {
        self.0.insert(field.to_string(), value);
        self
    }

    /// `image`.
    pub(crate) fn image(self, image: &str) -> Self {
        self.set("image", image.into())
    }

    /// `resources.requests`, e.g. `json!({"cpu": "500m", "memory": "1Gi"})`.
    pub(crate) fn requests(self, requests: Value) -> Self {
        self.resources("requests", requests)
    }

    /// `resources.limits`, e.g. `json!({"cpu": 0.5, "memory": "1024Mi"})`.
    pub(crate) fn limits(self, limits: Value) -> Self {
        self.resources("limits", limits)
    }

    fn resources(mut self, section: &str, values: Value) -> Self {
        let resources = self
            .0
            .entry("resources")
            .or_insert_with(|| Value::Object(Map::new()));
        resources[section] = values;
        self
    }

    /// Appends `{name, value}` to `env`.
    pub(crate) fn env(self, name: &str, value: &str) -> Self {
        self.push("env", json!({"name": name, "value": value}))
    }

    /// Appends a source to `envFrom`, e.g. `json!({"configMapRef": {"name": "web-config"}})`.
    pub(crate) fn env_from(self, source: Value) -> Self {
        self.push("envFrom", source)
    }

    /// Appends a named container port.
    pub(crate) fn port(self, name: &str, container_port: i64) -> Self {
        self.push(
            "ports",
            json!({"name": name, "containerPort": container_port}),
        )
    }

    /// A probe (`readinessProbe`, `livenessProbe`, `startupProbe`).
    pub(crate) fn probe(self, kind: &str, probe: Value) -> Self {
        self.set(kind, probe)
    }

    fn push(mut self, list: &str, item: Value) -> Self {
        let entry = self
            .0
            .entry(list)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(item);
        }
        self
    }
}

/// What `rule` reports on `model` with default settings.
pub(crate) fn check(rule: &dyn Rule, model: &ServiceModel) -> Vec<Draft> {
    check_with(rule, model, Settings::default())
}

/// What `rule` reports on `model` with `settings`.
pub(crate) fn check_with(rule: &dyn Rule, model: &ServiceModel, settings: Settings) -> Vec<Draft> {
    let mut drafts = Vec::new();
    rule.check(model, settings, &mut drafts);
    drafts
}

/// The finding a test expects about `object` (`Kind/name`); the methods below fill in the rest.
pub(crate) fn draft(object: &str) -> Draft {
    let (kind, name) = object
        .split_once('/')
        .expect("an object is written Kind/name");
    Draft {
        kind: kind.to_string(),
        name: name.to_string(),
        container: None,
        envs: Vec::new(),
        field: String::new(),
        values: IndexMap::new(),
        message: String::new(),
        at_most: None,
        env: None,
    }
}

/// Builder methods for expected drafts (tests only).
impl Draft {
    /// The container the finding is about.
    pub(crate) fn container(mut self, name: &str) -> Self {
        self.container = Some(name.to_string());
        self
    }

    /// The field path.
    pub(crate) fn field(mut self, field: &str) -> Self {
        self.field = field.to_string();
        self
    }

    /// The environments involved, in promotion order.
    pub(crate) fn envs<const N: usize>(mut self, envs: [&str; N]) -> Self {
        self.envs = envs.iter().map(ToString::to_string).collect();
        self
    }

    /// The value in each environment, in promotion order.
    pub(crate) fn values<const N: usize>(mut self, values: [(&str, &str); N]) -> Self {
        self.values = values
            .iter()
            .map(|(e, v)| (e.to_string(), v.to_string()))
            .collect();
        self
    }

    /// The most the finding may weigh.
    pub(crate) fn at_most(mut self, severity: crate::finding::Severity) -> Self {
        self.at_most = Some(severity);
        self
    }

    /// The one environment the finding is about (part of its fingerprint).
    pub(crate) fn env(mut self, env: &str) -> Self {
        self.env = Some(env.to_string());
        self
    }

    /// The message.
    pub(crate) fn message(mut self, message: &str) -> Self {
        self.message = message.to_string();
        self
    }
}
