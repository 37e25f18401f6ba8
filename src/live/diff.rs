//! The drift between what Git declares and what runs, object by object, and who changed it.
//!
//! Only what Git sets is compared (a live object's defaults are not drift), with the normalisation parity
//! uses: quantities (`500m` == `0.5`), int-or-string, empty == absent, container images by their normalised
//! reference (`nginx:1.25` == `docker.io/library/nginx:1.25`), and lists of named items matched by
//! their key (containers, env, volumes by `name`, ports by `containerPort`), never by position. A field that
//! is live but not in Git is drift only when `metadata.managedFields` says a manager other than the GitOps
//! tool (and other than the cluster's own controllers) owns it: a `kubectl edit`, `kubectl scale`, a patch.
//!
//! Values become text only through [`crate::redact`]: env var values, Secret data, probe headers and exec
//! arguments are never shown, ConfigMap data only as a short hash, and `last-applied-configuration` is
//! dropped from both sides before anything is compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::codes::RuleId;
use crate::model::{Image, keyed, list_key, list_name};
use crate::quantity::Quantity;
use crate::redact::{self, Hidden};

/// Which managers are the GitOps tool, and which are the cluster's own (neither counts as a hand edit).
#[derive(Debug, Clone)]
pub struct Managers {
    /// Field managers of the GitOps tool (Argo CD, Flux).
    pub gitops: Vec<String>,
    /// Field managers of the cluster itself (controllers, scheduler, kubelet).
    pub cluster: Vec<String>,
}

impl Default for Managers {
    fn default() -> Self {
        Managers {
            gitops: [
                "argocd-controller",
                "argocd-application-controller",
                "argocd-server",
                "kustomize-controller",
                "helm-controller",
                "flux",
            ]
            .map(String::from)
            .to_vec(),
            cluster: [
                "kube-controller-manager",
                "kube-scheduler",
                "kubelet",
                "kube-apiserver",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Managers {
    /// Whether `manager` is a person's tool (`kubectl-edit`, `kubectl-create`…): neither the GitOps tool
    /// nor the cluster's own controllers.
    pub fn is_hand(&self, manager: &str) -> bool {
        !self.gitops.iter().any(|m| manager.starts_with(m.as_str()))
            && !self.cluster.iter().any(|m| manager.starts_with(m.as_str()))
    }
}

/// Who last wrote a field, from `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The field manager (`kubectl-edit`, `kubectl-scale`, `argocd-controller`…).
    pub manager: String,
    /// `Update` or `Apply`.
    pub operation: String,
    /// When, if the entry says.
    pub time: Option<DateTime<Utc>>,
}

/// What kind of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriftKind {
    /// A field Git sets has another value live (`live-value`).
    Value,
    /// A field set live by hand that Git does not set (`live-manual-field`).
    ManualField,
    /// Declared in Git, absent live (`live-missing`).
    Missing,
    /// Live, tracked as the service's, absent from Git (`live-extra`).
    Extra,
}

impl DriftKind {
    /// The rule id findings of this kind carry.
    pub fn rule(self) -> RuleId {
        match self {
            DriftKind::Value => RuleId::LiveValue,
            DriftKind::ManualField => RuleId::LiveManualField,
            DriftKind::Missing => RuleId::LiveMissing,
            DriftKind::Extra => RuleId::LiveExtra,
        }
    }
}

/// One difference between Git and the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// What kind.
    pub kind: DriftKind,
    /// Field path (`spec.template.spec.containers[web].resources.limits.memory`); empty for whole objects.
    pub path: String,
    /// The container the path is in, if any.
    pub container: Option<String>,
    /// Git's value (none for manual fields and extra objects).
    pub git: Option<String>,
    /// The live value (none for missing objects); env var values are never shown.
    pub live: Option<String>,
    /// How the values at `path` are hidden, when they are (then `git` and `live` say only that, or a hash).
    pub hidden: Option<Hidden>,
    /// Who last wrote the field live.
    pub owner: Option<Owner>,
}

impl Drift {
    /// What changed, in words, for a field Git sets (`live-value`): the two values, their hashes, or only
    /// that they differ when all that differs is hidden.
    pub fn describe(&self, env: &str) -> String {
        let git = self.git.as_deref().unwrap_or("not set");
        match (self.hidden, &self.live) {
            (Some(Hidden::Hashed), Some(live)) => {
                format!(
                    "{} differs in the {env} cluster from Git ({git} → {live})",
                    self.path
                )
            }
            (_, Some(live)) if self.git.as_ref() == Some(live) => format!(
                "{} differs in the {env} cluster from Git (value not shown)",
                self.path
            ),
            (_, live) => format!(
                "{} is {} in the {env} cluster, {git} in Git",
                self.path,
                live.as_deref().unwrap_or("absent"),
            ),
        }
    }
}

/// Top-level metadata fields the server owns.
const SERVER_METADATA: [&str; 8] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Compares one object as Git declares it with its live version.
pub fn diff_object(git: &Value, live: &Value, managers: &Managers) -> Vec<Drift> {
    // A manual `kubectl apply` leaves the whole manifest in an annotation: never a field to compare or show.
    let (git, live) = (
        redact::without_last_applied(git),
        redact::without_last_applied(live),
    );
    let (git, live) = (git.as_ref(), live.as_ref());
    let kind = git.get("kind").and_then(Value::as_str).unwrap_or("");
    let owners = owners(live);
    let mut out = Vec::new();
    let mut ctx = Ctx {
        kind,
        owners: &owners,
        managers,
        out: &mut out,
    };
    if let (Some(g), Some(l)) = (git.as_object(), live.as_object()) {
        for (key, gv) in g {
            match key.as_str() {
                "status" | "apiVersion" | "kind" => {}
                "metadata" => ctx.metadata(gv, l.get("metadata")),
                _ => ctx.value(key, gv, l.get(key)),
            }
        }
    }
    // Fields a hand owns that Git does not set.
    for (owner, fields) in &owners {
        if !managers.is_hand(&owner.manager) {
            continue;
        }
        walk_owned(
            fields,
            "",
            Some(git),
            Some(live),
            &mut |path, live_value| {
                if path.starts_with("status") || path.starts_with("metadata.managedFields") {
                    return;
                }
                out.push(Drift {
                    kind: DriftKind::ManualField,
                    container: container_of(path),
                    path: path.to_string(),
                    git: None,
                    live: live_value.map(|v| redact::show(kind, path, v)),
                    hidden: redact::hidden(kind, path),
                    owner: Some(owner.clone()),
                });
            },
        );
    }
    out.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    out.dedup_by(|a, b| a.kind == b.kind && a.path == b.path);
    out
}

struct Ctx<'a> {
    /// The object's kind (what may be shown of a value depends on it: a Secret's data, a ConfigMap's).
    kind: &'a str,
    owners: &'a [(Owner, Value)],
    managers: &'a Managers,
    out: &'a mut Vec<Drift>,
}

impl Ctx<'_> {
    fn metadata(&mut self, git: &Value, live: Option<&Value>) {
        let Some(g) = git.as_object() else { return };
        for (key, gv) in g {
            if SERVER_METADATA.contains(&key.as_str()) || key == "namespace" {
                continue;
            }
            let lv = live.and_then(|l| l.get(key));
            self.value(&format!("metadata.{key}"), gv, lv);
        }
    }

    fn value(&mut self, path: &str, git: &Value, live: Option<&Value>) {
        match (git, live) {
            (Value::Object(g), Some(Value::Object(l))) => {
                for (k, gv) in g {
                    self.value(&join(path, k), gv, l.get(k));
                }
            }
            (Value::Array(g), Some(Value::Array(l)))
                if !g.is_empty()
                    && keyed(list_name(path), g).is_some()
                    && keyed(list_name(path), l).is_some() =>
            {
                let list = list_name(path);
                let live_items: BTreeMap<String, &Value> = keyed(list, l).unwrap_or_default();
                for (key, gv) in keyed(list, g).unwrap_or_default() {
                    let p = format!("{path}[{key}]");
                    match live_items.get(&key) {
                        Some(lv) => self.value(&p, gv, Some(lv)),
                        None => self.push(&p, Some(gv), None),
                    }
                }
            }
            (_, None) if is_empty(git) => {}
            (_, None) => self.push(path, Some(git), None),
            (g, Some(l)) => {
                if !same(path, g, l) {
                    self.push(path, Some(g), Some(l));
                }
            }
        }
    }

    fn push(&mut self, path: &str, git: Option<&Value>, live: Option<&Value>) {
        self.out.push(Drift {
            kind: DriftKind::Value,
            container: container_of(path),
            path: path.to_string(),
            git: git.map(|v| redact::show(self.kind, path, v)),
            live: live.map(|v| redact::show(self.kind, path, v)),
            hidden: redact::hidden(self.kind, path),
            owner: owner_of(self.owners, path, self.managers),
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn is_quantity_path(path: &str) -> bool {
    let mut parts = path.rsplit('.');
    let last = parts.next().unwrap_or("");
    let parent = parts.next().unwrap_or("");
    matches!(parent, "limits" | "requests" | "capacity" | "hard") || last == "storage"
}

/// A container's image: `…containers[web].image` (also init and ephemeral containers).
fn is_image_path(path: &str) -> bool {
    let Some(container) = path.strip_suffix(".image") else {
        return false;
    };
    let item = container.rsplit('.').next().unwrap_or("");
    ["containers[", "initContainers[", "ephemeralContainers["]
        .iter()
        .any(|list| item.starts_with(list))
}

/// Equal after normalisation: quantities by value, images as parity compares them, int-or-string, lists
/// element-wise.
fn same(path: &str, git: &Value, live: &Value) -> bool {
    if git == live {
        return true;
    }
    // Git's `nginx:1.25` runs as the cluster's `docker.io/library/nginx:1.25`: the same image, not drift.
    if is_image_path(path)
        && let (Value::String(g), Value::String(l)) = (git, live)
    {
        return Image::parse(g) == Image::parse(l);
    }
    if is_quantity_path(path)
        && let (Ok(a), Ok(b)) = (Quantity::from_json(git), Quantity::from_json(live))
    {
        return a == b;
    }
    match (git, live) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(path, x, y))
        }
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| match b.get(k) {
            Some(w) => same(&join(path, k), v, w),
            None => is_empty(v),
        }),
        _ => false,
    }
}

/// The container a path points into (`…containers[web]…`).
fn container_of(path: &str) -> Option<String> {
    for marker in ["containers[", "initContainers["] {
        if let Some(i) = path.find(marker) {
            let rest = &path[i + marker.len()..];
            return rest.split(']').next().map(str::to_string);
        }
    }
    None
}

/// `metadata.managedFields`: each manager with its `fieldsV1` tree.
pub fn owners(live: &Value) -> Vec<(Owner, Value)> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("subresource").and_then(Value::as_str) != Some("status"))
        .filter_map(|e| {
            let manager = e.get("manager")?.as_str()?.to_string();
            let operation = e
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let time = e
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            Some((
                Owner {
                    manager,
                    operation,
                    time,
                },
                e.get("fieldsV1")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
            ))
        })
        .collect()
}

/// Who last wrote a part of an object, from `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The newest entry that owns the part or a field below it, else (see `exact`) the newest entry that
    /// owns anything under the fallback path.
    pub by: Owner,
    /// Whether `by` owns the part itself (or a field below it). A field removed by an update is owned by
    /// nobody afterwards, so a policy taken out entirely leaves only the fallback: the newest writer of the
    /// enclosing object part, which is likely, not certain, to be who removed it.
    pub exact: bool,
}

/// Who last wrote `path` (a dotted path, `spec.syncPolicy`) or anything below it, else the newest writer of
/// anything below `fallback` (`spec`). Entries of the `status` subresource never count.
pub fn written(live: &Value, path: &str, fallback: &str) -> Option<Written> {
    let owners = owners(live);
    let newest_under = |wanted: &str| {
        owners
            .iter()
            .filter(|(_, fields)| {
                let mut hit = false;
                walk_fields(fields, "", &mut |p| {
                    hit |= p == wanted || p.starts_with(&format!("{wanted}."));
                });
                hit
            })
            .map(|(o, _)| o)
            // The newest; an entry without a time counts as oldest, and the later entry wins a tie.
            .fold(None::<&Owner>, |best, o| match best {
                Some(b) if b.time > o.time => Some(b),
                _ => Some(o),
            })
            .cloned()
    };
    newest_under(path)
        .map(|by| Written { by, exact: true })
        .or_else(|| newest_under(fallback).map(|by| Written { by, exact: false }))
}

/// The manager that owns `path` (or the closest owned ancestor of it); the most recent when several do.
fn owner_of(owners: &[(Owner, Value)], path: &str, _: &Managers) -> Option<Owner> {
    let mut best: Option<(&Owner, usize)> = None;
    for (owner, fields) in owners {
        let mut depth = 0;
        walk_fields(fields, "", &mut |p| {
            if (p == path
                || path.starts_with(&format!("{p}."))
                || path.starts_with(&format!("{p}[")))
                && p.len() >= depth
            {
                depth = p.len().max(1);
            }
        });
        if depth > 0 {
            let better = match best {
                None => true,
                Some((b, d)) => depth > d || (depth == d && owner.time > b.time),
            };
            if better {
                best = Some((owner, depth));
            }
        }
    }
    best.map(|(o, _)| o.clone())
}

/// Every path a `fieldsV1` tree owns (items labelled by their list key, from the `k:` keys).
fn walk_fields(fields: &Value, path: &str, f: &mut dyn FnMut(&str)) {
    let Some(map) = fields.as_object() else {
        return;
    };
    for (k, sub) in map {
        let Some(p) = field_path(path, k) else {
            continue;
        };
        f(&p);
        walk_fields(sub, &p, f);
    }
}

/// Our path for one `fieldsV1` key under `path`.
fn field_path(path: &str, key: &str) -> Option<String> {
    if let Some(name) = key.strip_prefix("f:") {
        return Some(join(path, name));
    }
    if let Some(k) = key.strip_prefix("k:") {
        let item: Value = serde_json::from_str(k).ok()?;
        return Some(format!("{path}[{}]", list_key(list_name(path), &item)?));
    }
    if let Some(v) = key.strip_prefix("v:") {
        let value: Value = serde_json::from_str(v).ok()?;
        return Some(format!("{path}[{}]", crate::model::compact(&value)));
    }
    None
}

/// Walks the fields a manager owns alongside Git and live; calls `report` for each owned node Git lacks
/// (once, at the highest such node) that exists live.
fn walk_owned(
    fields: &Value,
    path: &str,
    git: Option<&Value>,
    live: Option<&Value>,
    report: &mut dyn FnMut(&str, Option<&Value>),
) {
    let Some(map) = fields.as_object() else {
        return;
    };
    for (k, sub) in map {
        if k == "." {
            continue;
        }
        let Some(p) = field_path(path, k) else {
            continue;
        };
        let (g, l) = if let Some(name) = k.strip_prefix("f:") {
            (
                git.and_then(|g| g.get(name)),
                live.and_then(|l| l.get(name)),
            )
        } else if let Some(key) = k.strip_prefix("k:") {
            let list = list_name(path);
            let label = serde_json::from_str::<Value>(key)
                .ok()
                .and_then(|v| list_key(list, &v));
            (
                item(git, |i| list_key(list, i) == label),
                item(live, |i| list_key(list, i) == label),
            )
        } else {
            // `v:` set members: present in Git when the list contains the value.
            let value = k
                .strip_prefix("v:")
                .and_then(|v| serde_json::from_str::<Value>(v).ok());
            (
                item(git, |i| Some(i) == value.as_ref()),
                item(live, |i| Some(i) == value.as_ref()),
            )
        };
        if path == "metadata" && matches!(k.as_str(), "f:managedFields" | "f:resourceVersion") {
            continue;
        }
        match (g, l) {
            (None, Some(lv)) => report(&p, Some(lv)),
            (Some(gv), lv) => walk_owned(sub, &p, Some(gv), lv, report),
            (None, None) => {}
        }
    }
}

/// The first item of a list for which `matches` holds.
fn item(list: Option<&Value>, matches: impl Fn(&Value) -> bool) -> Option<&Value> {
    list.and_then(Value::as_array)
        .and_then(|items| items.iter().find(|i| matches(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, memory: &str, env: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{
                "name": "web", "image": "web:1",
                "ports": [{"containerPort": 8080}],
                "env": env,
                "resources": {"limits": {"cpu": "500m", "memory": memory}}
            }]}}}
        })
    }

    #[test]
    fn defaults_and_canonical_quantities_are_no_drift() {
        let git = deployment(3, "1024Mi", json!([{"name": "A", "value": "1"}]));
        let mut live = deployment(3, "1Gi", json!([{"name": "A", "value": "1"}]));
        live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
            json!("500m");
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        live["spec"]["template"]["spec"]["dnsPolicy"] = json!("ClusterFirst");
        live["spec"]["revisionHistoryLimit"] = json!(10);
        live["metadata"]["uid"] = json!("abc");
        live["status"] = json!({"replicas": 3});
        assert_eq!(diff_object(&git, &live, &Managers::default()), vec![]);
    }

    #[test]
    fn list_items_are_matched_as_parity_matches_them() {
        // Two mounts of one volume (subPath), listed live in another order, and a named port the server
        // gave its default protocol: the same items, no drift.
        let mut git = deployment(3, "1Gi", json!([]));
        let c = &mut git["spec"]["template"]["spec"]["containers"][0];
        c["ports"] = json!([{"name": "http", "containerPort": 8080}]);
        c["volumeMounts"] = json!([
            {"name": "config", "mountPath": "/etc/app/a.yaml", "subPath": "a.yaml"},
            {"name": "config", "mountPath": "/etc/app/b.yaml", "subPath": "b.yaml"}
        ]);
        let mut live = git.clone();
        let c = &mut live["spec"]["template"]["spec"]["containers"][0];
        c["ports"][0]["protocol"] = json!("TCP");
        let mounts = c["volumeMounts"].as_array_mut().expect("mounts");
        mounts.reverse();
        assert_eq!(diff_object(&git, &live, &Managers::default()), vec![]);
        // One mount made writable by hand is named by its mountPath.
        live["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["subPath"] =
            json!("c.yaml");
        let drifts = diff_object(&git, &live, &Managers::default());
        let paths: Vec<&str> = drifts.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.template.spec.containers[web].volumeMounts[/etc/app/b.yaml].subPath"]
        );
    }

    #[test]
    fn a_scale_and_an_edit_are_value_drift_with_their_manager() {
        let git = deployment(3, "512Mi", json!([]));
        let mut live = deployment(5, "2Gi", json!([]));
        live["metadata"]["managedFields"] = json!([
            {"manager": "argocd-controller", "operation": "Apply", "time": "2026-03-01T10:00:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}}},
            {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "time": "2026-05-02T14:03:00Z",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-05-03T09:00:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:resources": {"f:limits": {"f:memory": {}}}}}}}}}}
        ]);
        let drifts = diff_object(&git, &live, &Managers::default());
        let by_path: BTreeMap<&str, &Drift> = drifts.iter().map(|d| (d.path.as_str(), d)).collect();
        let scale = by_path["spec.replicas"];
        assert_eq!(
            (scale.git.as_deref(), scale.live.as_deref()),
            (Some("3"), Some("5"))
        );
        assert_eq!(
            scale.owner.as_ref().map(|o| o.manager.as_str()),
            Some("kubectl-scale")
        );
        let mem = by_path["spec.template.spec.containers[web].resources.limits.memory"];
        assert_eq!(
            mem.owner.as_ref().map(|o| o.manager.as_str()),
            Some("kubectl-edit")
        );
        assert_eq!(mem.container.as_deref(), Some("web"));
        assert_eq!(drifts.len(), 2, "{drifts:#?}");
    }

    #[test]
    fn an_env_var_added_by_hand_is_a_manual_field_without_its_value() {
        let git = deployment(3, "512Mi", json!([{"name": "A", "value": "1"}]));
        let mut live = deployment(
            3,
            "512Mi",
            json!([{"name": "A", "value": "1"}, {"name": "DEBUG_TOKEN", "value": "s3cr3t"}]),
        );
        live["metadata"]["managedFields"] = json!([
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-05-03T09:00:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {"k:{\"name\":\"DEBUG_TOKEN\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}
        ]);
        let drifts = diff_object(&git, &live, &Managers::default());
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        let d = &drifts[0];
        assert_eq!(d.kind, DriftKind::ManualField);
        assert_eq!(
            d.path,
            "spec.template.spec.containers[web].env[DEBUG_TOKEN]"
        );
        assert!(!format!("{d:?}").contains("s3cr3t"));
        assert_eq!(
            d.owner.as_ref().map(|o| o.manager.as_str()),
            Some("kubectl-edit")
        );
    }

    #[test]
    fn hand_edits_are_reported_without_the_values_they_hold() {
        const SECRET: &str = "ep-planted-s3cr3t";
        let edit = |fields: Value| {
            json!([{"manager": "kubectl-edit", "operation": "Update", "time": "2026-05-03T09:00:00Z",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": fields}}}}}])
        };
        // An env value changed on a declared var.
        let git = deployment(3, "512Mi", json!([{"name": "MODE", "value": "standard"}]));
        let mut live = deployment(3, "512Mi", json!([{"name": "MODE", "value": SECRET}]));
        let drifts = diff_object(&git, &live, &Managers::default());
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        assert!(!format!("{drifts:?}").contains(SECRET));
        assert_eq!(drifts[0].hidden, Some(Hidden::Redacted));
        assert_eq!(
            drifts[0].describe("production"),
            "spec.template.spec.containers[web].env[MODE].value differs in the production cluster \
             from Git (value not shown)"
        );
        // A sidecar added by hand, and a whole env list where Git sets none.
        let mut git = deployment(3, "512Mi", json!(null));
        if let Some(web) = git["spec"]["template"]["spec"]["containers"][0].as_object_mut() {
            web.remove("env");
        }
        live["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "EXTRA", "value": SECRET}]);
        let containers = live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .expect("containers");
        containers.push(json!({"name": "sidecar", "image": "proxy:1",
            "env": [{"name": "TOKEN", "value": SECRET}],
            "livenessProbe": {"exec": {"command": ["sh", "-c", SECRET]}}}));
        live["metadata"]["managedFields"] = edit(json!({
            "k:{\"name\":\"web\"}": {"f:env": {}},
            "k:{\"name\":\"sidecar\"}": {".": {}, "f:name": {}, "f:env": {}}
        }));
        let drifts = diff_object(&git, &live, &Managers::default());
        let paths: Vec<&str> = drifts.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.template.spec.containers[sidecar]",
                "spec.template.spec.containers[web].env"
            ]
        );
        assert!(!format!("{drifts:?}").contains(SECRET), "{drifts:#?}");
        assert!(
            drifts.iter().all(|d| d
                .live
                .as_deref()
                .is_some_and(|v| v.contains(redact::REDACTED))),
            "{drifts:#?}"
        );
    }

    #[test]
    fn a_config_map_value_shows_as_a_hash_of_each_side() {
        let cm = |v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"},
                "data": {"GREETING": v}})
        };
        let drifts = diff_object(&cm("hello"), &cm("ep-planted-s3cr3t"), &Managers::default());
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        let d = &drifts[0];
        assert_eq!(d.hidden, Some(Hidden::Hashed));
        let git = redact::short_hash(&json!("hello"));
        let live = redact::short_hash(&json!("ep-planted-s3cr3t"));
        assert_eq!(
            (d.git.as_deref(), d.live.as_deref()),
            (Some(git.as_str()), Some(live.as_str()))
        );
        assert_eq!(
            d.describe("production"),
            format!("data.GREETING differs in the production cluster from Git ({git} → {live})")
        );
    }

    #[test]
    fn a_manual_kubectl_apply_leaves_no_last_applied_field() {
        let git = deployment(3, "512Mi", json!([]));
        let mut live = git.clone();
        let manifest = "{\"spec\":{\"template\":{\"env\":[{\"value\":\"ep-planted-s3cr3t\"}]}}}";
        live["metadata"]["annotations"] = json!({redact::LAST_APPLIED: manifest});
        live["metadata"]["managedFields"] = json!([
            {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-05-03T09:00:00Z",
             "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}}}
        ]);
        assert_eq!(diff_object(&git, &live, &Managers::default()), vec![]);
        // Declared in Git (a rendered object carrying one): not compared either.
        let mut declared = git.clone();
        declared["metadata"]["annotations"] = json!({redact::LAST_APPLIED: "{}"});
        assert_eq!(diff_object(&declared, &live, &Managers::default()), vec![]);
    }

    #[test]
    fn an_image_spelled_with_docker_hub_defaults_is_no_drift_but_another_tag_is() {
        let container = "spec.template.spec.containers[web].image";
        let mut git = deployment(3, "512Mi", json!([]));
        git["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.25");
        git["spec"]["template"]["spec"]["initContainers"] =
            json!([{"name": "init", "image": "busybox"}]);
        let mut live = git.clone();
        live["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("docker.io/library/nginx:1.25");
        live["spec"]["template"]["spec"]["initContainers"][0]["image"] =
            json!("docker.io/library/busybox:latest");
        assert_eq!(diff_object(&git, &live, &Managers::default()), vec![]);

        live["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("docker.io/library/nginx:1.26");
        let drifts = diff_object(&git, &live, &Managers::default());
        assert_eq!(drifts.len(), 1, "{drifts:#?}");
        assert_eq!(drifts[0].path, container);
        // Shown as written on each side.
        assert_eq!(drifts[0].git.as_deref(), Some("nginx:1.25"));
        assert_eq!(
            drifts[0].live.as_deref(),
            Some("docker.io/library/nginx:1.26")
        );
        // Only container images are normalised: another field named `image` is compared as written.
        assert!(is_image_path(container));
        assert!(is_image_path(
            "spec.jobTemplate.spec.template.spec.initContainers[x].image"
        ));
        assert!(is_image_path("spec.ephemeralContainers[debug].image"));
        assert!(!is_image_path("spec.image"));
        assert!(!is_image_path(
            "spec.template.spec.containers[web].image.name"
        ));
    }

    #[test]
    fn fields_owned_by_the_gitops_tool_or_controllers_are_not_manual() {
        let git = deployment(3, "512Mi", json!([]));
        let mut live = deployment(3, "512Mi", json!([]));
        live["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(30);
        live["metadata"]["managedFields"] = json!([
            {"manager": "argocd-controller", "operation": "Apply",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:terminationGracePeriodSeconds": {}}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "fieldsV1": {"f:status": {"f:replicas": {}}}}
        ]);
        assert_eq!(diff_object(&git, &live, &Managers::default()), vec![]);
    }
}
