//! The GitOps objects themselves, live against Git (`live-sync-disabled`, `live-destination`): the emergency
//! that was never closed. The usual recovery from an incident is "disable auto-sync, change the cluster by
//! hand, then update Git and re-enable auto-sync"; when the last step is forgotten, the Argo CD Application
//! (or Flux Kustomization) in the cluster no longer does what the repo's copy says. Each such object is named
//! with the field manager that last wrote its sync policy and when, and the hand changes made since.
//!
//! One list request per kind and namespace in each environment, through the same [`LiveSource`] as the
//! drift stage. A cluster that does not serve the kind (no Argo CD or Flux there) has nothing to compare; one
//! that refuses the list is an error for that kind alone.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::LiveDraft;
use super::argo::{self, Application};
use super::diff::Written;
use super::flux::{self, Kustomization};
use super::source::{ListRequest, LiveError, LiveSource};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::gitops::{Deployer, Destination, Owner, SyncPolicy, Syncing};

/// One overlay the repo deploys through a GitOps object: what the live object is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The service.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The GitOps object and what Git says about its syncing.
    pub deployer: Deployer,
    /// The repo file that holds the GitOps object.
    pub file: Option<String>,
}

/// What one environment's cluster holds of the GitOps kinds listed.
#[derive(Default)]
struct Found {
    applications: Vec<Application>,
    kustomizations: Vec<Kustomization>,
}

/// A live object found by name and namespace.
trait Named {
    fn name(&self) -> &str;
    fn namespace(&self) -> Option<&str>;
}

impl Named for Application {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

impl Named for Kustomization {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

/// The one live object named `name` in `namespace` (in any namespace when Git names none, if only one
/// has the name).
fn one<'a, T: Named>(items: &'a [T], name: &str, namespace: Option<&str>) -> Option<&'a T> {
    let mut matching = items
        .iter()
        .filter(|i| i.name() == name && (namespace.is_none() || i.namespace() == namespace));
    let first = matching.next()?;
    // Same-named objects in several namespaces, and Git names none: which one deploys is unknown.
    matching.next().is_none().then_some(first)
}

/// The list request for a GitOps object's kind, in its namespace (all namespaces when Git names none).
fn request_for(owner: &Owner) -> ListRequest {
    match owner {
        Owner::Application { namespace, .. } => argo::request(namespace.as_deref()),
        Owner::FluxKustomization { namespace, .. } => flux::request(namespace.as_deref()),
    }
}

/// The live GitOps objects of every declared overlay in `envs` (each with the source target it is read
/// from: see [`super::EnvListing::target`]), against Git: the drafts of `live-sync-disabled` and
/// `live-destination`, and what could not be listed (per environment).
pub fn check(
    source: &dyn LiveSource,
    declared: &[Declared],
    envs: &[(String, String)],
) -> (Vec<LiveDraft>, Vec<(String, LiveError)>) {
    let mut drafts = Vec::new();
    let mut errors = Vec::new();
    for (env, target) in envs {
        let wanted: Vec<&Declared> = declared.iter().filter(|d| &d.env == env).collect();
        let requests: BTreeSet<ListRequest> = wanted
            .iter()
            .map(|d| request_for(&d.deployer.owner))
            .collect();
        if requests.is_empty() {
            continue;
        }
        let requests: Vec<ListRequest> = requests.into_iter().collect();
        let listed = match source.list(target, &requests) {
            Ok(listed) => listed,
            Err(e) => {
                errors.push((env.clone(), e));
                continue;
            }
        };
        let mut found = Found::default();
        for l in listed {
            let argo = l.request == argo::request(l.request.namespace.as_deref());
            match l.served() {
                // Argo CD or Flux is not installed in this cluster: nothing of it to compare.
                Ok(None) => {}
                Ok(Some(objects)) if argo => found
                    .applications
                    .extend(objects.iter().map(argo::application)),
                Ok(Some(objects)) => found
                    .kustomizations
                    .extend(objects.iter().map(flux::kustomization)),
                Err(e) => errors.push((env.clone(), e)),
            }
        }
        for d in wanted {
            drafts.extend(compare(d, &found));
        }
    }
    (drafts, errors)
}

/// The drafts of one declared overlay against its live GitOps object (none when the object is not there:
/// Argo CD may run in another cluster than the one configured for the environment).
fn compare(d: &Declared, found: &Found) -> Vec<LiveDraft> {
    match (&d.deployer.owner, &d.deployer.syncing) {
        (
            Owner::Application {
                name, namespace, ..
            },
            Syncing::Argo {
                policy,
                destination,
            },
        ) => {
            let Some(live) = one(&found.applications, name, namespace.as_deref()) else {
                return Vec::new();
            };
            let mut out: Vec<LiveDraft> = sync_off(d, policy, live).into_iter().collect();
            out.extend(moved(d, destination, live));
            out
        }
        (Owner::FluxKustomization { name, namespace }, Syncing::Flux { suspend }) => {
            let Some(live) = one(&found.kustomizations, name, namespace.as_deref()) else {
                return Vec::new();
            };
            suspended(d, *suspend, live).into_iter().collect()
        }
        // Discovery pairs an owner with its own kind of syncing; nothing to compare otherwise.
        _ => Vec::new(),
    }
}

/// `ns/name`, or `name` without a namespace.
fn qualified(name: &str, namespace: Option<&str>) -> String {
    namespace.map_or_else(|| name.to_string(), |ns| format!("{ns}/{name}"))
}

/// ` — spec.syncPolicy last written by argocd-server at 2026-11-21 10:00 UTC`, and the values that carry
/// it (`manager`, `changed`: the site and the digest show them).
fn attribution(
    field: &str,
    written: Option<&Written>,
    values: &mut IndexMap<String, String>,
) -> String {
    let Some(w) = written else {
        return String::new();
    };
    values.insert("manager".into(), w.by.manager.clone());
    if let Some(t) = w.by.time {
        values.insert(
            "changed".into(),
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    let when =
        w.by.time
            .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
    if w.exact {
        format!(" — {field} last written by {}{when}", w.by.manager)
    } else {
        format!(
            " — {field} is owned by no manager any more; spec last written by {}{when}",
            w.by.manager
        )
    }
}

fn draft(d: &Declared, rule: RuleId, kind: &str, name: &str, field: &str) -> LiveDraft {
    LiveDraft {
        rule,
        service: d.service.clone(),
        env: d.env.clone(),
        draft: Draft {
            kind: kind.into(),
            name: name.into(),
            container: None,
            envs: vec![d.env.clone()],
            field: field.into(),
            values: IndexMap::new(),
            message: String::new(),
            at_most: None,
            env: None,
        },
        file: d.file.clone(),
        destination: None,
    }
}

/// How an Argo CD sync policy reads: `automated, selfHeal`, `automated`, `off`.
fn policy_text(automated: bool, self_heal: bool) -> &'static str {
    match (automated, self_heal) {
        (true, true) => "automated, selfHeal",
        (true, false) => "automated, no selfHeal",
        (false, _) => "off (manual sync)",
    }
}

/// `live-sync-disabled` of an Application: automated sync, or self-heal, on in Git and off live.
fn sync_off(d: &Declared, git: &SyncPolicy, live: &Application) -> Option<LiveDraft> {
    let what = if git.automated && !live.automated {
        "automated sync"
    } else if git.automated && git.self_heal && !live.self_heal {
        "self-heal"
    } else {
        return None;
    };
    let field = "spec.syncPolicy";
    let mut l = draft(d, RuleId::LiveSyncDisabled, argo::KIND, &live.name, field);
    let mut values = IndexMap::from([
        (
            "git".to_string(),
            policy_text(git.automated, git.self_heal).to_string(),
        ),
        (
            d.env.clone(),
            policy_text(live.automated, live.self_heal).to_string(),
        ),
    ]);
    let by = attribution(field, live.sync_policy_by.as_ref(), &mut values);
    l.draft.values = values;
    l.draft.message = format!(
        "{what} of Argo CD Application {} is off in the {} cluster but on in Git{by}",
        qualified(&live.name, live.namespace.as_deref()),
        d.env
    );
    Some(l)
}

/// `live-sync-disabled` of a Flux Kustomization: suspended live, not in Git.
fn suspended(d: &Declared, git: bool, live: &Kustomization) -> Option<LiveDraft> {
    if git || !live.suspend {
        return None;
    }
    let field = "spec.suspend";
    let mut l = draft(d, RuleId::LiveSyncDisabled, flux::KIND, &live.name, field);
    let mut values = IndexMap::from([
        ("git".to_string(), "not suspended".to_string()),
        (d.env.clone(), "suspended".to_string()),
    ]);
    let by = attribution(field, live.suspend_by.as_ref(), &mut values);
    l.draft.values = values;
    l.draft.message = format!(
        "Flux Kustomization {} is suspended in the {} cluster but not in Git{by}",
        qualified(&live.name, live.namespace.as_deref()),
        d.env
    );
    Some(l)
}

/// Argo CD's name for the cluster it runs in, and that cluster's API address.
const IN_CLUSTER_NAME: &str = "in-cluster";
const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// A destination cluster as far as it can be told without Argo CD's cluster secrets.
#[derive(Debug, PartialEq, Eq)]
enum Cluster<'a> {
    /// The cluster Argo CD runs in (by server or by name).
    Local,
    /// By API address.
    Server(&'a str),
    /// By Argo CD cluster name.
    Name(&'a str),
    /// Neither given.
    Unset,
}

fn cluster<'a>(server: Option<&'a str>, name: Option<&'a str>) -> Cluster<'a> {
    let server = server.map(|s| s.trim_end_matches('/'));
    match (server, name) {
        (Some(IN_CLUSTER_SERVER), _) | (None, Some(IN_CLUSTER_NAME)) => Cluster::Local,
        (Some(s), _) => Cluster::Server(s),
        (None, Some(n)) => Cluster::Name(n),
        (None, None) => Cluster::Unset,
    }
}

/// Whether two clusters are known to differ: a server and another cluster's name may be the same cluster.
fn clusters_differ(git: &Cluster<'_>, live: &Cluster<'_>) -> bool {
    match (git, live) {
        (Cluster::Server(_), Cluster::Name(_)) | (Cluster::Name(_), Cluster::Server(_)) => false,
        (a, b) => a != b,
    }
}

fn destination_text(server: Option<&str>, name: Option<&str>, namespace: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = server {
        parts.push(format!("server {s}"));
    }
    if let Some(n) = name {
        parts.push(format!("cluster {n}"));
    }
    parts.push(format!("namespace {}", namespace.unwrap_or("(none)")));
    parts.join(", ")
}

/// `live-destination`: the live Application deploys to another cluster or namespace than Git's.
fn moved(d: &Declared, git: &Destination, live: &Application) -> Option<LiveDraft> {
    let git_cluster = cluster(git.server.as_deref(), git.name.as_deref());
    let live_cluster = cluster(
        live.destination_server.as_deref(),
        live.destination_name.as_deref(),
    );
    let cluster_moved = clusters_differ(&git_cluster, &live_cluster);
    let namespace_moved = git.namespace != live.destination_namespace;
    if !cluster_moved && !namespace_moved {
        return None;
    }
    let field = "spec.destination";
    let mut l = draft(d, RuleId::LiveDestination, argo::KIND, &live.name, field);
    let git_text = destination_text(
        git.server.as_deref(),
        git.name.as_deref(),
        git.namespace.as_deref(),
    );
    let live_text = destination_text(
        live.destination_server.as_deref(),
        live.destination_name.as_deref(),
        live.destination_namespace.as_deref(),
    );
    let mut values = IndexMap::from([
        ("git".to_string(), git_text.clone()),
        (d.env.clone(), live_text.clone()),
    ]);
    let by = attribution(field, live.destination_by.as_ref(), &mut values);
    l.draft.values = values;
    let what = match (cluster_moved, namespace_moved) {
        (true, true) => "cluster and namespace",
        (true, false) => "cluster",
        _ => "namespace",
    };
    l.draft.message = format!(
        "Argo CD Application {} in the {} cluster deploys to another {what} than Git says: {live_text} \
         (Git: {git_text}){by}",
        qualified(&live.name, live.namespace.as_deref()),
        d.env,
    );
    Some(l)
}

/// The most hand changes a `live-sync-disabled` message lists by name.
const LISTED: usize = 3;

/// Adds to each `live-sync-disabled` draft the hand changes made in its service and environment since auto-sync
/// was switched off: the `live-value` and `live-manual-field` drafts of `drift` whose change is at or after it
/// (a change without a time, or a switch-off without one, cannot be placed and is left out).
pub fn meanwhile(sync: &mut [LiveDraft], drift: &[LiveDraft]) {
    let time = |l: &LiveDraft| {
        l.draft
            .values
            .get("changed")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    for s in sync
        .iter_mut()
        .filter(|s| s.rule == RuleId::LiveSyncDisabled)
    {
        let Some(off) = time(s) else {
            continue;
        };
        let since: Vec<String> = drift
            .iter()
            .filter(|l| {
                l.service == s.service
                    && l.env == s.env
                    && matches!(l.rule, RuleId::LiveValue | RuleId::LiveManualField)
                    && time(l).is_some_and(|t| t >= off)
            })
            .map(|l| {
                let manager = l
                    .draft
                    .values
                    .get("manager")
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                format!(
                    "{} {} {}{manager}",
                    l.draft.kind, l.draft.name, l.draft.field
                )
            })
            .collect();
        if since.is_empty() {
            continue;
        }
        s.draft
            .values
            .insert("hand changes since".into(), since.len().to_string());
        let more = since.len().saturating_sub(LISTED);
        let mut listed = since
            .into_iter()
            .take(LISTED)
            .collect::<Vec<_>>()
            .join(", ");
        if more > 0 {
            listed.push_str(&format!(" and {more} more"));
        }
        s.draft
            .message
            .push_str(&format!("; changed by hand since: {listed}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The production environment, read from its own cluster.
    fn production() -> (String, String) {
        ("production".to_string(), "production".to_string())
    }
    use crate::live::source::{DirSource, Listed};
    use serde_json::{Value, json};

    fn declared(automated: bool, self_heal: bool) -> Declared {
        Declared {
            service: "web".into(),
            env: "production".into(),
            deployer: Deployer {
                owner: Owner::Application {
                    name: "web-production".into(),
                    namespace: Some("argocd".into()),
                    generated_by: None,
                },
                syncing: Syncing::Argo {
                    policy: SyncPolicy {
                        automated,
                        prune: true,
                        self_heal,
                    },
                    destination: Destination {
                        server: Some(IN_CLUSTER_SERVER.into()),
                        name: None,
                        namespace: Some("shop".into()),
                    },
                },
            },
            file: Some("argocd/web-production.yaml".into()),
        }
    }

    fn live_app(sync_policy: Value, destination: Value) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web-production", "namespace": "argocd", "managedFields": [
                {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-10-01T08:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:destination": {"f:server": {}, "f:namespace": {}},
                     "f:source": {"f:path": {}}}}},
                {"manager": "argocd-server", "operation": "Update", "time": "2026-11-21T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:syncPolicy": {".": {}, "f:syncOptions": {}}}}}
            ]},
            "spec": {"destination": destination, "syncPolicy": sync_policy,
                     "source": {"repoURL": "https://git.example.com/infra.git", "path": "apps/web/overlays/production"}}
        })
    }

    /// A source that answers every request from `objects`, or with `error` for Applications.
    struct Fixed {
        objects: Vec<Value>,
        forbid_applications: bool,
    }

    impl LiveSource for Fixed {
        fn list(&self, _: &str, requests: &[ListRequest]) -> Result<Vec<Listed>, LiveError> {
            Ok(requests
                .iter()
                .map(|r| Listed {
                    request: r.clone(),
                    result: if self.forbid_applications && r.kind == argo::KIND {
                        Err(LiveError::Forbidden {
                            kind: r.kind.clone(),
                            namespace: r.namespace.clone(),
                            reason: "applications.argoproj.io is forbidden".into(),
                        })
                    } else {
                        Ok(self
                            .objects
                            .iter()
                            .filter(|o| o["kind"] == r.kind.as_str())
                            .cloned()
                            .collect())
                    },
                })
                .collect())
        }
        fn covers(&self, _: &str) -> bool {
            true
        }
    }

    fn run(declared: &[Declared], objects: Vec<Value>) -> Vec<LiveDraft> {
        let source = Fixed {
            objects,
            forbid_applications: false,
        };
        let (drafts, errors) = check(&source, declared, &[production()]);
        assert!(errors.is_empty(), "{errors:?}");
        drafts
    }

    fn destination() -> Value {
        json!({"server": IN_CLUSTER_SERVER, "namespace": "shop"})
    }

    #[test]
    fn automated_sync_removed_live_is_reported_with_its_manager_and_time() {
        let drafts = run(
            &[declared(true, true)],
            vec![live_app(
                json!({"syncOptions": ["CreateNamespace=true"]}),
                destination(),
            )],
        );
        assert_eq!(drafts.len(), 1, "{drafts:#?}");
        let d = &drafts[0];
        assert_eq!(d.rule, RuleId::LiveSyncDisabled);
        assert_eq!(
            (
                d.draft.kind.as_str(),
                d.draft.name.as_str(),
                d.draft.field.as_str()
            ),
            ("Application", "web-production", "spec.syncPolicy")
        );
        assert_eq!(d.draft.values["manager"], "argocd-server");
        assert_eq!(d.draft.values["changed"], "2026-11-21T10:00:00Z");
        assert_eq!(d.draft.values["production"], "off (manual sync)");
        assert_eq!(
            d.draft.message,
            "automated sync of Argo CD Application argocd/web-production is off in the production cluster but \
             on in Git — spec.syncPolicy last written by argocd-server at 2026-11-21 10:00 UTC"
        );
        assert_eq!(d.file.as_deref(), Some("argocd/web-production.yaml"));
    }

    #[test]
    fn self_heal_off_live_is_reported_and_an_automated_enabled_false_is_off() {
        let drafts = run(
            &[declared(true, true)],
            vec![live_app(
                json!({"automated": {"prune": true}}),
                destination(),
            )],
        );
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0].draft.message.starts_with("self-heal of"),
            "{drafts:#?}"
        );

        let drafts = run(
            &[declared(true, false)],
            vec![live_app(
                json!({"automated": {"enabled": false}}),
                destination(),
            )],
        );
        assert!(
            drafts[0].draft.message.starts_with("automated sync of"),
            "{drafts:#?}"
        );
    }

    #[test]
    fn in_sync_or_off_in_git_too_is_nothing() {
        let on = json!({"automated": {"prune": true, "selfHeal": true}});
        assert!(run(&[declared(true, true)], vec![live_app(on, destination())]).is_empty());
        // Git itself says manual: the live state agrees.
        assert!(
            run(
                &[declared(false, false)],
                vec![live_app(json!({}), destination())]
            )
            .is_empty()
        );
        // In-cluster by name is the same cluster as by server.
        let by_name = json!({"name": "in-cluster", "namespace": "shop"});
        let on = json!({"automated": {"selfHeal": true}});
        assert!(run(&[declared(true, true)], vec![live_app(on, by_name)]).is_empty());
        // No live Application of that name: nothing to compare.
        assert!(run(&[declared(true, true)], vec![]).is_empty());
    }

    #[test]
    fn a_live_application_pointing_elsewhere_names_both_destinations() {
        let on = json!({"automated": {"selfHeal": true}});
        let drafts = run(
            &[declared(true, true)],
            vec![live_app(
                on.clone(),
                json!({"server": "https://prod-eu.example.com:6443", "namespace": "shop"}),
            )],
        );
        assert_eq!(drafts.len(), 1);
        let d = &drafts[0];
        assert_eq!(d.rule, RuleId::LiveDestination);
        assert_eq!(
            d.draft.values["git"],
            "server https://kubernetes.default.svc, namespace shop"
        );
        assert_eq!(
            d.draft.values["production"],
            "server https://prod-eu.example.com:6443, namespace shop"
        );
        assert!(
            d.draft.message.contains("another cluster"),
            "{}",
            d.draft.message
        );
        assert_eq!(d.draft.values["manager"], "kubectl-client-side-apply");
        // A server and another cluster's name may be one cluster: not reported.
        let named = json!({"name": "prod-eu", "namespace": "shop"});
        let mut git = declared(true, true);
        if let Syncing::Argo { destination, .. } = &mut git.deployer.syncing {
            destination.server = Some("https://prod-eu.example.com".into());
        }
        assert!(run(&[git], vec![live_app(on, named)]).is_empty());
    }

    #[test]
    fn a_forbidden_list_is_an_error_of_that_kind_only() {
        let mut flux = declared(true, true);
        flux.deployer = Deployer {
            owner: Owner::FluxKustomization {
                name: "web".into(),
                namespace: Some("flux-system".into()),
            },
            syncing: Syncing::Flux { suspend: false },
        };
        let source = Fixed {
            objects: vec![
                json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "web", "namespace": "flux-system"}, "spec": {"suspend": true}}),
            ],
            forbid_applications: true,
        };
        let (drafts, errors) = check(&source, &[declared(true, true), flux], &[production()]);
        assert_eq!(errors.len(), 1);
        assert!(matches!(&errors[0].1, LiveError::Forbidden { kind, .. } if kind == "Application"));
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].draft.kind, "Kustomization");
        assert_eq!(drafts[0].draft.values.get("manager"), None);
    }

    #[test]
    fn hand_changes_after_the_switch_off_are_listed() {
        let mut sync = run(
            &[declared(true, true)],
            vec![live_app(json!({}), destination())],
        );
        let change = |field: &str, manager: &str, at: &str| LiveDraft {
            rule: RuleId::LiveValue,
            service: "web".into(),
            env: "production".into(),
            draft: Draft {
                kind: "Deployment".into(),
                name: "web".into(),
                container: None,
                envs: vec!["production".into()],
                field: field.into(),
                values: IndexMap::from([
                    ("manager".to_string(), manager.to_string()),
                    ("changed".to_string(), at.to_string()),
                ]),
                message: String::new(),
                at_most: None,
                env: None,
            },
            file: None,
            destination: None,
        };
        let drift = [
            change("spec.replicas", "kubectl-scale", "2026-11-21T10:05:00Z"),
            // Before the switch-off: the self-heal of the time would have reverted it, or Git has it.
            change("spec.paused", "kubectl-patch", "2026-11-20T09:00:00Z"),
        ];
        meanwhile(&mut sync, &drift);
        assert_eq!(sync[0].draft.values["hand changes since"], "1");
        assert!(
            sync[0]
                .draft
                .message
                .ends_with("; changed by hand since: Deployment web spec.replicas (kubectl-scale)"),
            "{}",
            sync[0].draft.message
        );
    }

    #[test]
    fn a_dump_holding_the_gitops_objects_is_read_like_a_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("production")).expect("mkdir");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [live_app(json!({}), destination())]});
        std::fs::write(
            dir.path().join("production/argocd.yaml"),
            serde_json::to_string(&list).expect("json"),
        )
        .expect("write");
        let source = DirSource::new(dir.path(), 1 << 20);
        let (drafts, errors) = check(&source, &[declared(true, true)], &[production()]);
        assert!(errors.is_empty());
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].draft.values["manager"], "argocd-server");
    }
}
