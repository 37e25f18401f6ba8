//! Live drift: what runs in each environment's cluster against what Git declares, read-only (get/list
//! only), with who-changed-it attribution from `metadata.managedFields`.

pub mod argo;
pub mod diff;
pub mod flux;
pub mod kube;
pub mod source;
pub mod sync;

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde_json::Value;

use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::ServiceModel;
use crate::model::{EnvModel, Object};
use diff::{DriftKind, Managers, diff_object};
use source::{ListRequest, Listed, LiveError, LiveSource, group};

/// How live objects are judged.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Managers that are the GitOps tool or the cluster.
    pub managers: Managers,
    /// The label naming a live object's service.
    pub tracking_label: String,
    /// Namespace of objects Git declares without one, per environment.
    pub namespaces: BTreeMap<String, String>,
    /// The Argo CD destinations (`name`, else `server`, with the destination namespace) the repo's
    /// Applications deploy each environment to (from the deployment map): where to read an environment that
    /// has no cluster of its own.
    pub destinations: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            managers: Managers::default(),
            tracking_label: "app.kubernetes.io/instance".into(),
            namespaces: BTreeMap::new(),
            destinations: BTreeMap::new(),
        }
    }
}

impl LiveOptions {
    /// From config (defaults where it is silent).
    pub fn from_config(config: &crate::config::Config) -> LiveOptions {
        let mut options = LiveOptions::default();
        if !config.live.gitops_managers.is_empty() {
            options.managers.gitops = config.live.gitops_managers.clone();
        }
        if let Some(label) = &config.live.tracking_label {
            options.tracking_label = label.clone();
        }
        options.namespaces = config
            .clusters
            .iter()
            .filter_map(|(env, c)| Some((env.clone(), c.namespace.clone()?)))
            .collect();
        options
    }
}

/// A live-drift finding before policy: the rule it belongs to and the draft.
#[derive(Debug, Clone)]
pub struct LiveDraft {
    /// `live-value`, `live-manual-field`, `live-missing`, `live-extra`, `live-sync-disabled` or
    /// `live-destination`.
    pub rule: RuleId,
    /// The service.
    pub service: String,
    /// The environment whose cluster drifted.
    pub env: String,
    /// The finding (its `envs` is the one environment).
    pub draft: Draft,
    /// The repo file that declares the object, when Git declares it.
    pub file: Option<String>,
    /// The Argo CD destination whose cluster drifted, when the environment is deployed to several.
    pub destination: Option<String>,
}

impl LiveDraft {
    /// The environment as the finding's fingerprint knows it: with the destination when there are several,
    /// so each destination's drift is followed on its own.
    pub fn fingerprint_env(&self) -> String {
        match &self.destination {
            Some(d) => format!("{} @ {d}", self.env),
            None => self.env.clone(),
        }
    }
}

/// Kinds that are neither listed nor compared live: their data is secret (values were never read from Git).
const NOT_COMPARED: [&str; 1] = ["Secret"];

/// Where an object lives: (API group, kind, namespace, name).
type LiveKey = (String, String, Option<String>, String);

fn namespace_of(o: &Value) -> Option<String> {
    o.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn live_key(o: &Value) -> Option<LiveKey> {
    Some((
        group(o.get("apiVersion")?.as_str()?).to_string(),
        o.get("kind")?.as_str()?.to_string(),
        namespace_of(o),
        o.pointer("/metadata/name")?.as_str()?.to_string(),
    ))
}

/// Where a Git object lives, as the GitOps tools apply it — the one resolution both the list requests
/// and the matching use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    /// A cluster-scoped kind.
    Cluster,
    /// This namespace.
    Namespace(String),
    /// A namespaced object whose namespace nothing names.
    Unknown,
}

impl Placement {
    fn namespace(&self) -> Option<String> {
        match self {
            Placement::Namespace(ns) => Some(ns.clone()),
            _ => None,
        }
    }
}

/// The namespace a Git object lands in: its own (the overlay's `namespace:` and Flux's `targetNamespace`
/// are applied by the render), else the one Argo CD's `destination.namespace` fills in, else the
/// environment's configured one, else `fallback` (a dump of one namespace). Cluster-scoped kinds have none.
fn placement(
    o: &Object,
    env: &EnvModel,
    target: &Target,
    configured: Option<&str>,
    fallback: Option<&str>,
) -> Placement {
    if CLUSTER_SCOPED.contains(&o.key.kind.as_str()) {
        return Placement::Cluster;
    }
    namespace_of(&o.value)
        .or_else(|| target.namespace.clone())
        .or_else(|| env.destination_namespace.clone())
        .or_else(|| configured.or(fallback).map(str::to_string))
        .map_or(Placement::Unknown, Placement::Namespace)
}

/// Whether live drift looks at the object at all: not the environment's own Namespace, not a Secret.
fn compared(env: &EnvModel, o: &Object) -> bool {
    // Secrets are never listed: envparity does not read secret data (and its ClusterRole cannot).
    !((env.is_env_namespace(o) && o.key.kind == "Namespace")
        || NOT_COMPARED.contains(&o.key.kind.as_str()))
}

/// Kinds that live outside namespaces (the common ones; others are listed cluster-wide as well).
const CLUSTER_SCOPED: [&str; 9] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
];

/// One list request per kind and namespace that the services declare in `env`, and an error per service
/// and kind whose namespace nothing names (those objects are not listed, nor reported missing).
pub fn requests(
    models: &[&ServiceModel],
    env: &str,
    target: &Target,
    options: &LiveOptions,
    fallback: Option<&str>,
) -> (Vec<ListRequest>, Vec<LiveError>) {
    let configured = options.namespaces.get(env).map(String::as_str);
    let mut set: BTreeSet<ListRequest> = BTreeSet::new();
    let mut unplaced: BTreeSet<(String, String)> = BTreeSet::new();
    for m in models {
        let Some(e) = m.envs.iter().find(|e| e.env == env) else {
            continue;
        };
        for o in e.objects.iter().filter(|o| compared(e, o)) {
            let placed = placement(o, e, target, configured, fallback);
            if placed == Placement::Unknown {
                unplaced.insert((m.service.clone(), o.key.kind.clone()));
                continue;
            }
            set.insert(ListRequest {
                api_version: o
                    .value
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("v1")
                    .to_string(),
                kind: o.key.kind.clone(),
                namespace: placed.namespace(),
            });
        }
    }
    let errors = unplaced
        .into_iter()
        .map(|(service, kind)| LiveError::NoNamespace {
            env: env.to_string(),
            service,
            kind,
        })
        .collect();
    (set.into_iter().collect(), errors)
}

/// What the clusters answered: per environment, the listed objects and the namespace to assume for objects
/// Git declares without one when nothing else names it (a dump's only namespace); and what could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    /// Per environment that could be read.
    pub envs: BTreeMap<String, Vec<EnvListing>>,
    /// Environments, or single lists, that could not be read.
    pub errors: Vec<(String, LiveError)>,
    /// Environments deployed to destinations nothing configures while `[destinations]` is not in use:
    /// not read, said once (not an error: configuring one environment's cluster is a choice).
    pub notices: Vec<String>,
}

/// One environment's answers.
#[derive(Debug)]
pub struct EnvListing {
    /// One answer per list request.
    pub answers: Vec<Listed>,
    /// The only namespace among the listed objects, if there is exactly one.
    pub sole_namespace: Option<String>,
    /// Where the environment was read.
    pub target: Target,
}

/// Where one environment is read: its own cluster (or dump folder), or the cluster of an Argo CD
/// destination it is deployed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The key the source knows it by: the environment, or [`source::destination_target`].
    pub key: String,
    /// The destination, when the environment is deployed to several: findings name it, and each
    /// destination's are followed on their own.
    pub destination: Option<String>,
    /// The destination's namespace (Argo CD fills objects without one with it), when several.
    pub namespace: Option<String>,
}

impl Target {
    fn env(env: &str) -> Target {
        Target {
            key: env.to_string(),
            ..Target::default()
        }
    }
}

/// Where `env` is read: its own cluster (or dump folder), else each Argo CD destination the repo deploys it
/// to whose cluster config names; destinations no config names are an error (once `[destinations]` is in
/// use; else the environment is skipped, as one without a cluster always was).
fn targets(
    source: &dyn LiveSource,
    env: &str,
    options: &LiveOptions,
) -> (Vec<Target>, Option<LiveError>) {
    if source.covers(env) {
        return (vec![Target::env(env)], None);
    }
    let Some(destinations) = options
        .destinations
        .get(env)
        .filter(|d| !d.is_empty() && source.reads_clusters())
    else {
        return (Vec::new(), None);
    };
    let several = destinations.len() > 1;
    let (known, unknown): (Vec<_>, Vec<_>) = destinations
        .iter()
        .partition(|(d, _)| source.covers(&source::destination_target(d)));
    let targets = known
        .into_iter()
        .map(|(d, namespace)| Target {
            key: source::destination_target(d),
            destination: several.then(|| d.clone()),
            namespace: several.then(|| namespace.clone()).flatten(),
        })
        .collect();
    let error = (!unknown.is_empty()).then(|| LiveError::DestinationNotConfigured {
        env: env.to_string(),
        destinations: unknown.into_iter().map(|(d, _)| d.clone()).collect(),
    });
    (targets, error)
}

/// Lists what the services declare in every environment of `envs` that `source` covers: one list request
/// per kind and namespace, for all services at once.
pub fn list(
    source: &dyn LiveSource,
    models: &[&ServiceModel],
    envs: &[String],
    options: &LiveOptions,
) -> Listing {
    let mut listing = Listing::default();
    for env in envs {
        let (targets, unmapped) = targets(source, env, options);
        match unmapped {
            Some(e) if source.maps_destinations() => listing.errors.push((env.clone(), e)),
            Some(e) => listing.notices.push(format!("not read: {e}")),
            None => {}
        }
        for target in targets {
            // The same fallback for the requests and, through the listing, for the matching.
            let sole_namespace = source.sole_namespace(&target.key);
            let (requests, unplaced) =
                requests(models, env, &target, options, sole_namespace.as_deref());
            listing
                .errors
                .extend(unplaced.into_iter().map(|e| (env.clone(), e)));
            match source.list(&target.key, &requests) {
                Err(e) => listing.errors.push((env.clone(), e)),
                Ok(answers) => {
                    for a in &answers {
                        if let Err(e) = &a.result {
                            listing.errors.push((env.clone(), e.clone()));
                        }
                    }
                    listing
                        .envs
                        .entry(env.clone())
                        .or_default()
                        .push(EnvListing {
                            answers,
                            sole_namespace,
                            target,
                        });
                }
            }
        }
    }
    listing
}

/// The drift stage: each service's drift in each environment that was listed, services in the order given.
pub fn drift(models: &[&ServiceModel], listing: &Listing, options: &LiveOptions) -> Vec<LiveDraft> {
    let mut out = Vec::new();
    for model in models {
        for env in &model.envs {
            for listed in listing.envs.get(&env.env).into_iter().flatten() {
                let mut drafts = service_drift(model, env, listed, options);
                // One environment on several clusters: each finding says which.
                if let Some(d) = &listed.target.destination {
                    for live in &mut drafts {
                        live.draft.message = format!("{} (destination {d})", live.draft.message);
                        live.draft
                            .values
                            .insert("destination".to_string(), d.clone());
                    }
                }
                out.extend(drafts);
            }
        }
    }
    out
}

/// Drift of one service in one environment, from the listed live objects.
pub fn service_drift(
    model: &ServiceModel,
    env: &EnvModel,
    listing: &EnvListing,
    options: &LiveOptions,
) -> Vec<LiveDraft> {
    let listed = listing.answers.as_slice();
    let fallback = listing.sole_namespace.as_deref();
    let target = &listing.target;
    let configured = options.namespaces.get(&env.env).map(String::as_str);
    let mut live: BTreeMap<LiveKey, &Value> = BTreeMap::new();
    let mut listed_kinds: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    for l in listed {
        if let Ok(objects) = &l.result {
            listed_kinds.insert((
                group(&l.request.api_version).to_string(),
                l.request.kind.clone(),
                l.request.namespace.clone(),
            ));
            for o in objects {
                if let Some(k) = live_key(o) {
                    live.insert(k, o);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut declared: BTreeSet<LiveKey> = BTreeSet::new();
    for o in env.objects.iter().filter(|o| compared(env, o)) {
        let api_version = o
            .value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("v1");
        let placed = placement(o, env, target, configured, fallback);
        // Reported by `requests` as an error for its kind: never listed, so never "missing".
        if placed == Placement::Unknown {
            continue;
        }
        let ns = placed.namespace();
        let key = (
            group(api_version).to_string(),
            o.key.kind.clone(),
            ns.clone(),
            o.rendered_name.clone(),
        );
        declared.insert(key.clone());
        // A kind that could not be listed is reported as an error by the caller, not as missing objects.
        if !listed_kinds.contains(&(key.0.clone(), key.1.clone(), key.2.clone())) {
            continue;
        }
        let draft =
            |rule: RuleId, container, field: String, values: IndexMap<String, String>, message| {
                LiveDraft {
                    rule,
                    service: model.service.clone(),
                    env: env.env.clone(),
                    draft: Draft {
                        kind: o.key.kind.clone(),
                        name: o.key.name.clone(),
                        container,
                        envs: vec![env.env.clone()],
                        field,
                        values,
                        message,
                        at_most: None,
                        env: None,
                    },
                    file: o.origin.clone(),
                    destination: target.destination.clone(),
                }
            };
        let Some(live_object) = live.get(&key) else {
            let values = IndexMap::from([
                ("git".to_string(), "declared".to_string()),
                (env.env.clone(), "absent".to_string()),
            ]);
            let message = format!(
                "{} {} is in Git but not in the {} cluster (namespace {})",
                o.key.kind,
                o.rendered_name,
                env.env,
                ns.as_deref().unwrap_or("-")
            );
            out.push(draft(
                RuleId::LiveMissing,
                None,
                "(object)".into(),
                values,
                message,
            ));
            continue;
        };
        for d in diff_object(&o.value, live_object, &options.managers) {
            let by = d
                .owner
                .as_ref()
                .map(|w| {
                    let when = w
                        .time
                        .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default();
                    format!(" — set by {}{when}", w.manager)
                })
                .unwrap_or_default();
            let mut values = IndexMap::new();
            values.insert(
                "git".to_string(),
                d.git.clone().unwrap_or_else(|| "(not set)".into()),
            );
            values.insert(
                env.env.clone(),
                d.live.clone().unwrap_or_else(|| "(absent)".into()),
            );
            if let Some(w) = &d.owner {
                values.insert("manager".to_string(), w.manager.clone());
                if let Some(t) = w.time {
                    values.insert(
                        "changed".to_string(),
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    );
                }
            }
            let (rule, message) = match d.kind {
                DriftKind::ManualField => (
                    RuleId::LiveManualField,
                    format!(
                        "{} is set in the {} cluster but not in Git{by}",
                        d.path, env.env
                    ),
                ),
                _ => (RuleId::LiveValue, format!("{}{by}", d.describe(&env.env))),
            };
            out.push(draft(
                rule,
                d.container.clone(),
                d.path.clone(),
                values,
                message,
            ));
        }
    }
    // Live objects tracked as this service's that Git does not declare.
    let names = [
        model.service.clone(),
        format!("{}-{}", model.service, env.env),
    ];
    for (key, o) in &live {
        if declared.contains(key) || !tracked_as(o, &names, &options.tracking_label) {
            continue;
        }
        // The first hand among the managers: the server orders them by time, so the one who created the
        // object — not the controller that annotated it in the same second (same-second entries are
        // ordered by manager name, and `kube-controller-manager` sorts before `kubectl-create`).
        let by = diff::owners(o)
            .into_iter()
            .filter(|(w, _)| options.managers.is_hand(&w.manager))
            .map(|(w, _)| w.manager)
            .next();
        let mut values = IndexMap::from([
            ("git".to_string(), "(not declared)".to_string()),
            (env.env.clone(), "present".to_string()),
        ]);
        if let Some(m) = &by {
            values.insert("manager".to_string(), m.clone());
        }
        out.push(LiveDraft {
            rule: RuleId::LiveExtra,
            service: model.service.clone(),
            env: env.env.clone(),
            draft: Draft {
                kind: key.1.clone(),
                name: env.naming.normalize(&key.3),
                container: None,
                envs: vec![env.env.clone()],
                field: "(object)".into(),
                message: format!(
                    "{} {} runs in the {} cluster (namespace {}) but is not in Git{}",
                    key.1,
                    key.3,
                    env.env,
                    key.2.as_deref().unwrap_or("-"),
                    by.map(|m| format!(" — created by {m}")).unwrap_or_default()
                ),
                values,
                at_most: None,
                env: None,
            },
            file: None,
            destination: target.destination.clone(),
        });
    }
    out
}

/// Whether a live object carries the service's tracking label or Argo CD's tracking annotation.
fn tracked_as(o: &Value, names: &[String], label: &str) -> bool {
    let labelled = o
        .pointer("/metadata/labels")
        .and_then(|l| l.get(label))
        .and_then(Value::as_str)
        .is_some_and(|v| names.iter().any(|n| n == v));
    let annotated = o
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
        .and_then(Value::as_str)
        .and_then(|v| v.split(':').next())
        .is_some_and(|app| names.iter().any(|n| n == app));
    labelled || annotated
}
