//! Argo CD `Application` objects as plain data: which overlay (source path) goes to which namespace, the
//! sync status and health, and the syncs that happened — with self-heals told apart — for the event log.
//!
//! Read through any [`LiveSource`] (a cluster or a folder of dumps), so it stays read-only and testable.
//! A sync is a **self-heal** when Argo CD started it on its own (`initiatedBy.automated`) and deployed the
//! revision that was already deployed: nothing changed in Git, so it put back something changed live.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::diff::Written;
use super::source::{ListRequest, LiveError, LiveSource};

/// `apiVersion` of Argo CD's Application.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// Kind of Argo CD's Application.
pub const KIND: &str = "Application";

/// One Argo CD Application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (where Argo CD runs, usually `argocd`).
    pub namespace: Option<String>,
    /// `spec.project`.
    pub project: Option<String>,
    /// `spec.source.repoURL` (the first source for multi-source applications).
    pub repo_url: Option<String>,
    /// `spec.source.path`: the overlay directory in the repo.
    pub path: Option<String>,
    /// `spec.source.targetRevision`.
    pub target_revision: Option<String>,
    /// `spec.destination.server` or `.name`.
    pub destination_cluster: Option<String>,
    /// `spec.destination.server`.
    pub destination_server: Option<String>,
    /// `spec.destination.name`.
    pub destination_name: Option<String>,
    /// `spec.destination.namespace`.
    pub destination_namespace: Option<String>,
    /// `spec.syncPolicy.automated` is set and its `enabled` is not `false` (as Argo CD reads it).
    pub automated: bool,
    /// `spec.syncPolicy.automated.selfHeal`.
    pub self_heal: bool,
    /// Who last wrote `spec.syncPolicy` and when (`metadata.managedFields`): `argocd-server` for a toggle in
    /// Argo CD's UI or CLI, `kubectl-edit`, `kubectl-patch`…
    pub sync_policy_by: Option<Written>,
    /// Who last wrote `spec.destination` and when.
    pub destination_by: Option<Written>,
    /// `status.sync.status`: `Synced`, `OutOfSync`, `Unknown`.
    pub sync_status: Option<String>,
    /// `status.sync.revision`: the revision compared against.
    pub sync_revision: Option<String>,
    /// `status.health.status`: `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown`.
    pub health: Option<String>,
    /// `status.health.message`, when Argo CD gives one.
    pub health_message: Option<String>,
    /// Syncs, oldest first: `status.history`, then `status.operationState` when it is not in the history
    /// yet (running, failed).
    pub syncs: Vec<SyncOperation>,
}

/// Who started a sync and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncTrigger {
    /// A person (UI, CLI, API).
    Manual,
    /// Automated sync of a new revision.
    Automated,
    /// Automated sync of the revision already deployed: live drift put back.
    SelfHeal,
}

impl SyncTrigger {
    /// `manual`, `automated`, `self-heal`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Manual => "manual",
            SyncTrigger::Automated => "automated",
            SyncTrigger::SelfHeal => "self-heal",
        }
    }
}

/// One sync operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOperation {
    /// What started it.
    pub trigger: SyncTrigger,
    /// The Git revision deployed.
    pub revision: Option<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (none while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// `Succeeded`, `Failed`, `Error`, `Running`, `Terminating`; history entries are `Succeeded`.
    pub phase: String,
    /// Argo CD's message (failed operations say why).
    pub message: Option<String>,
    /// The user who started a manual sync.
    pub initiated_by: Option<String>,
}

/// The request that lists Applications in `namespace` (all namespaces with `None`).
pub fn request(namespace: Option<&str>) -> ListRequest {
    ListRequest {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        namespace: namespace.map(str::to_string),
    }
}

/// The Applications `source` serves for `env` (in `namespace`, or all namespaces), or `None` when the
/// cluster does not serve Applications (Argo CD not installed there). A 403 is an error: Argo CD is there
/// but envparity may not read it.
pub fn applications(
    source: &dyn LiveSource,
    env: &str,
    namespace: Option<&str>,
) -> Result<Option<Vec<Application>>, LiveError> {
    let listed = source.list(env, &[request(namespace)])?;
    match listed.into_iter().next() {
        None => Ok(None),
        Some(l) => Ok(l.served()?.map(|o| o.iter().map(application).collect())),
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn time(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One Application object as data.
pub fn application(o: &Value) -> Application {
    // Multi-source applications carry `sources`; the first one names the overlay as well as any.
    let source = o
        .pointer("/spec/source")
        .or_else(|| o.pointer("/spec/sources/0"))
        .cloned()
        .unwrap_or(Value::Null);
    // As Argo CD reads it: an `automated` object turns auto-sync on unless its `enabled` is `false`.
    let automated = o
        .pointer("/spec/syncPolicy/automated")
        .filter(|a| a.is_object());
    Application {
        name: text(o, "/metadata/name").unwrap_or_default(),
        namespace: text(o, "/metadata/namespace"),
        project: text(o, "/spec/project"),
        repo_url: text(&source, "/repoURL"),
        path: text(&source, "/path"),
        target_revision: text(&source, "/targetRevision"),
        destination_cluster: text(o, "/spec/destination/server")
            .or_else(|| text(o, "/spec/destination/name")),
        destination_server: text(o, "/spec/destination/server"),
        destination_name: text(o, "/spec/destination/name"),
        destination_namespace: text(o, "/spec/destination/namespace"),
        automated: automated
            .is_some_and(|a| a.get("enabled").and_then(Value::as_bool) != Some(false)),
        self_heal: automated
            .and_then(|a| a.get("selfHeal"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        sync_status: text(o, "/status/sync/status"),
        sync_revision: text(o, "/status/sync/revision"),
        health: text(o, "/status/health/status"),
        health_message: text(o, "/status/health/message"),
        syncs: syncs(o),
        sync_policy_by: super::diff::written(o, "spec.syncPolicy", "spec"),
        destination_by: super::diff::written(o, "spec.destination", "spec"),
    }
}

fn trigger(
    initiated_by: Option<&Value>,
    revision: Option<&str>,
    previous: Option<&str>,
) -> SyncTrigger {
    let automated = initiated_by
        .and_then(|i| i.get("automated"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match (automated, revision, previous) {
        (false, _, _) => SyncTrigger::Manual,
        (true, Some(r), Some(p)) if r == p => SyncTrigger::SelfHeal,
        (true, _, _) => SyncTrigger::Automated,
    }
}

fn syncs(o: &Value) -> Vec<SyncOperation> {
    let mut out: Vec<SyncOperation> = Vec::new();
    let mut history: Vec<&Value> = o
        .pointer("/status/history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    history.sort_by_key(|h| h.get("id").and_then(Value::as_i64).unwrap_or(0));
    let mut previous: Option<String> = None;
    for h in history {
        let revision = text(h, "/revision");
        out.push(SyncOperation {
            trigger: trigger(
                h.get("initiatedBy"),
                revision.as_deref(),
                previous.as_deref(),
            ),
            revision: revision.clone(),
            started_at: time(h, "/deployStartedAt"),
            finished_at: time(h, "/deployedAt"),
            phase: "Succeeded".into(),
            message: None,
            initiated_by: text(h, "/initiatedBy/username"),
        });
        previous = revision;
    }
    if let Some(op) = o.pointer("/status/operationState") {
        let revision =
            text(op, "/syncResult/revision").or_else(|| text(op, "/operation/sync/revision"));
        let started_at = time(op, "/startedAt");
        let finished_at = time(op, "/finishedAt");
        let phase = text(op, "/phase").unwrap_or_else(|| "Unknown".into());
        // A succeeded operation is the newest history entry already: enrich it rather than repeat it.
        let same = out.last_mut().filter(|last| {
            phase == "Succeeded" && last.revision == revision && last.finished_at == finished_at
        });
        match same {
            Some(last) => last.message = text(op, "/message"),
            None => {
                let before = out.last().and_then(|l| l.revision.clone());
                out.push(SyncOperation {
                    trigger: trigger(
                        op.pointer("/operation/initiatedBy"),
                        revision.as_deref(),
                        before.as_deref(),
                    ),
                    revision,
                    started_at,
                    finished_at,
                    phase,
                    message: text(op, "/message"),
                    initiated_by: text(op, "/operation/initiatedBy/username"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "checkout-production", "namespace": "argocd"},
            "spec": {
                "project": "shop",
                "source": {"repoURL": "https://git.example.com/infra.git", "path": "apps/checkout/overlays/production",
                           "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
            },
            "status": {
                "sync": {"status": "Synced", "revision": "b2c3"},
                "health": {"status": "Healthy"},
                "history": [
                    {"id": 2, "revision": "b2c3", "deployStartedAt": "2026-05-02T14:10:00Z", "deployedAt": "2026-05-02T14:10:04Z",
                     "initiatedBy": {"automated": true}},
                    {"id": 1, "revision": "a1b2", "deployStartedAt": "2026-05-01T08:30:00Z", "deployedAt": "2026-05-01T08:30:12Z",
                     "initiatedBy": {"username": "alice"}},
                    {"id": 3, "revision": "b2c3", "deployStartedAt": "2026-05-03T09:20:00Z", "deployedAt": "2026-05-03T09:20:02Z",
                     "initiatedBy": {"automated": true}}
                ],
                "operationState": {
                    "operation": {"sync": {"revision": "b2c3"}, "initiatedBy": {"automated": true}},
                    "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                    "startedAt": "2026-05-03T09:20:00Z", "finishedAt": "2026-05-03T09:20:02Z",
                    "syncResult": {"revision": "b2c3"}
                }
            }
        })
    }

    #[test]
    fn an_application_maps_its_overlay_to_a_namespace_with_status() {
        let a = application(&app());
        assert_eq!(a.name, "checkout-production");
        assert_eq!(a.path.as_deref(), Some("apps/checkout/overlays/production"));
        assert_eq!(a.destination_namespace.as_deref(), Some("shop"));
        assert_eq!(a.sync_status.as_deref(), Some("Synced"));
        assert_eq!(a.health.as_deref(), Some("Healthy"));
        assert!(a.automated && a.self_heal);
    }

    #[test]
    fn an_automated_sync_of_the_deployed_revision_is_a_self_heal() {
        let a = application(&app());
        let triggers: Vec<_> = a
            .syncs
            .iter()
            .map(|s| (s.trigger, s.revision.as_deref()))
            .collect();
        assert_eq!(
            triggers,
            [
                (SyncTrigger::Manual, Some("a1b2")),
                (SyncTrigger::Automated, Some("b2c3")),
                (SyncTrigger::SelfHeal, Some("b2c3")),
            ]
        );
        assert_eq!(a.syncs[0].initiated_by.as_deref(), Some("alice"));
        // The finished operation is the last history entry, not a fourth sync.
        assert_eq!(
            a.syncs[2].message.as_deref(),
            Some("successfully synced (all tasks run)")
        );
        assert_eq!(
            a.syncs[2].finished_at,
            "2026-05-03T09:20:02Z".parse::<DateTime<Utc>>().ok()
        );
    }

    #[test]
    fn a_failed_operation_is_a_sync_of_its_own() {
        let mut o = app();
        o["status"]["operationState"] = json!({
            "operation": {"sync": {"revision": "c3d4"}, "initiatedBy": {"username": "bob"}},
            "phase": "Failed", "message": "one or more objects failed to apply",
            "startedAt": "2026-05-04T10:00:00Z", "finishedAt": "2026-05-04T10:00:09Z"
        });
        let a = application(&o);
        let last = a.syncs.last().expect("a sync");
        assert_eq!(a.syncs.len(), 4);
        assert_eq!(
            (last.trigger, last.phase.as_str()),
            (SyncTrigger::Manual, "Failed")
        );
        assert_eq!(last.revision.as_deref(), Some("c3d4"));
    }
}
