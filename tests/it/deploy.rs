//! deploy/: the manifests as `kubectl kustomize` renders them (the daemon by default, the CronJob in
//! deploy/cronjob/), checked against k8s-openapi's types and for what the daemon relies on (probes on its
//! port, a grace period above its shutdown timeout, one pod at a time, read-only RBAC); and the systemd
//! unit (`systemd-analyze verify` when it is installed).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::root;

/// `daemon.shutdown_timeout_seconds`' default: how long a running job gets after SIGTERM.
const SHUTDOWN_TIMEOUT_SECONDS: i64 = 30;
/// `daemon.scan`'s default period.
const SCAN_INTERVAL_SECONDS: i64 = 15 * 60;
/// What the daemon listens on in the cluster (`daemon.listen = "0.0.0.0:9464"`).
const PORT: i64 = 9464;

/// `kubectl kustomize deploy/<rel>`, parsed.
fn kustomize(rel: &str) -> Vec<Value> {
    let dir = root().join("deploy").join(rel);
    let output = match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "kubectl is not on PATH: the deploy tests render deploy/ with `kubectl kustomize` \
             (scripts/deps.sh installs it)"
        ),
        Err(e) => panic!("cannot run kubectl: {e}"),
    };
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("kustomize prints YAML");
    docs.iter().for_each(schema_check);
    docs
}

fn id(doc: &Value) -> String {
    format!("{}/{}", doc["kind"], doc["metadata"]["name"]).replace('"', "")
}

/// The object read into its k8s-openapi type (Kubernetes 1.33) and written back is the same object: a
/// misspelt or misplaced field, which the API server would drop or reject, does not survive the trip.
fn schema_check(doc: &Value) {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, core::v1 as core, rbac::v1 as rbac,
    };
    fn trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> Value {
        let typed: T = serde_json::from_value(doc.clone())
            .unwrap_or_else(|e| panic!("{}: not a valid object: {e}", id(doc)));
        serde_json::to_value(typed).expect("serialize")
    }
    let back = match doc["kind"].as_str().unwrap_or_default() {
        "Deployment" => trip::<apps::Deployment>(doc),
        "CronJob" => trip::<batch::CronJob>(doc),
        "Service" => trip::<core::Service>(doc),
        "ServiceAccount" => trip::<core::ServiceAccount>(doc),
        "PersistentVolumeClaim" => trip::<core::PersistentVolumeClaim>(doc),
        "ClusterRole" => trip::<rbac::ClusterRole>(doc),
        "ClusterRoleBinding" => trip::<rbac::ClusterRoleBinding>(doc),
        other => panic!("{}: kind {other} is not checked here; add it", id(doc)),
    };
    if let Some(difference) = first_difference(doc, &back, "") {
        panic!(
            "{}: {difference} (k8s-openapi, Kubernetes 1.33): misspelt, misplaced or of the wrong type",
            id(doc)
        );
    }
}

/// Where the object as written and the object after the trip through its type first differ.
fn first_difference(written: &Value, read: &Value, at: &str) -> Option<String> {
    match (written, read) {
        (Value::Object(w), Value::Object(r)) => w
            .iter()
            .find_map(|(key, value)| match r.get(key) {
                None => Some(format!("{at}.{key} is not a field there")),
                Some(back) => first_difference(value, back, &format!("{at}.{key}")),
            })
            .or_else(|| {
                r.keys()
                    .find(|key| !w.contains_key(*key))
                    .map(|key| format!("{at}.{key} appeared"))
            }),
        (Value::Array(w), Value::Array(r)) if w.len() == r.len() => w
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (value, back))| first_difference(value, back, &format!("{at}[{i}]"))),
        _ if written == read => None,
        // A quantity written as a number (`cpu: 1`) is read as its string, as the API server does.
        (Value::Number(n), Value::String(s)) if n.to_string() == *s => None,
        _ => Some(format!("{at}: {written} became {read}")),
    }
}

fn kinds(docs: &[Value]) -> BTreeSet<&str> {
    docs.iter().filter_map(|d| d["kind"].as_str()).collect()
}

/// The one object of `kind`.
fn only<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind}");
    found[0]
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A probe's or a Service's target port as a number: a name is looked up among the container's ports.
fn resolve_port(port: &Value, container: &Value) -> i64 {
    if let Some(n) = port.as_i64() {
        return n;
    }
    let name = port.as_str().expect("a port is a number or a name");
    container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_i64())
        .unwrap_or_else(|| panic!("no container port named {name}"))
}

/// The config paths `key = "…"` that a deploy file's comments show (its example config).
fn documented_paths(text: &str, key: &str) -> Vec<String> {
    let needle = format!("{key} = \"");
    text.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(&needle))
        .filter_map(|(_, rest)| rest.split_once('"'))
        .map(|(path, _)| path.to_string())
        .collect()
}

#[test]
fn the_default_layout_is_the_daemon_with_probes_on_its_port_and_one_pod_at_a_time() {
    let docs = kustomize("");
    assert_eq!(
        kinds(&docs),
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PersistentVolumeClaim",
            "Service",
            "ServiceAccount"
        ]),
        "the daemon and the CronJob are alternatives on one volume: the default has no CronJob"
    );
    let deployment = only(&docs, "Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1, "one daemon per state directory");
    assert_eq!(
        spec["strategy"]["type"], "Recreate",
        "a rolling update would start a second daemon on the locked, ReadWriteOnce volume"
    );
    let pod = &spec["template"]["spec"];
    let grace = pod["terminationGracePeriodSeconds"].as_i64().expect("set");
    assert!(
        grace > SHUTDOWN_TIMEOUT_SECONDS,
        "SIGKILL after {grace} s would cut the {SHUTDOWN_TIMEOUT_SECONDS} s shutdown short"
    );

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let args = strs(&container["args"]);
    assert_eq!(args.first(), Some(&"daemon"), "{args:?}");
    assert!(
        container["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["containerPort"] == PORT),
        "the container exposes {PORT}"
    );
    let mut windows = Vec::new();
    for kind in ["livenessProbe", "readinessProbe"] {
        let probe = &container[kind];
        assert_eq!(probe["httpGet"]["path"], "/healthz", "{kind}");
        assert_eq!(
            resolve_port(&probe["httpGet"]["port"], container),
            PORT,
            "{kind}"
        );
        // Kubernetes' defaults: every 10 s, 3 failures.
        let period = probe["periodSeconds"].as_i64().unwrap_or(10);
        let failures = probe["failureThreshold"].as_i64().unwrap_or(3);
        windows.push(period * failures);
    }
    let (liveness, readiness) = (windows[0], windows[1]);
    assert!(
        liveness >= SCAN_INTERVAL_SECONDS,
        "liveness restarts after {liveness} s of 503s: a scan that is merely late must not be a restart"
    );
    assert!(
        readiness < liveness,
        "readiness reports a stale daemon before liveness restarts it"
    );

    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert!(strs(&security["capabilities"]["drop"]).contains(&"ALL"));

    // The volumes are the ones the command line and the example config name.
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let mount_of = |path: &str| {
        container["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .find(|m| m["mountPath"] == path)
            .map(|m| volume(m["name"].as_str().expect("name")))
            .unwrap_or_else(|| panic!("nothing is mounted at {path}"))
    };
    let config = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1])
        .expect("--config");
    let state = args
        .iter()
        .position(|a| *a == "--state")
        .map(|i| args[i + 1])
        .expect("--state");
    let config_dir = Path::new(config)
        .parent()
        .expect("dir")
        .to_str()
        .expect("utf-8");
    assert_eq!(
        mount_of(config_dir)["configMap"]["name"],
        "envparity-config"
    );
    let claim = &mount_of(state)["persistentVolumeClaim"]["claimName"];
    assert_eq!(
        claim,
        &only(&docs, "PersistentVolumeClaim")["metadata"]["name"]
    );
    let text = std::fs::read_to_string(root().join("deploy/daemon.yaml")).expect("daemon.yaml");
    let credentials = [
        documented_paths(&text, "token_file"),
        documented_paths(&text, "password_file"),
    ]
    .concat();
    assert_eq!(credentials.len(), 2, "{credentials:?}");
    for file in &credentials {
        let dir = Path::new(file)
            .parent()
            .expect("dir")
            .to_str()
            .expect("utf-8");
        assert!(
            mount_of(dir)["secret"]["secretName"].is_string(),
            "{file}: the example config's credential file is in a mounted Secret"
        );
    }
    assert!(
        !container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["valueFrom"]["secretKeyRef"].is_object()),
        "credentials are files, not env vars inherited by kubectl"
    );
    assert_eq!(
        documented_paths(&text, "out"),
        [format!("{state}/site")],
        "the report site is a subdirectory of the volume"
    );

    // The Service reaches the pod's port, also while it is not ready.
    let service = only(&docs, "Service");
    let labels = pod_labels(deployment);
    for (key, value) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(labels.get(key), Some(value), "selector {key}");
    }
    assert!(
        service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["port"] == PORT && resolve_port(&p["targetPort"], container) == PORT)
    );
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);

    assert_bound_to_the_read_only_role(&docs, &pod["serviceAccountName"]);
}

fn pod_labels(workload: &Value) -> serde_json::Map<String, Value> {
    workload["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The pod's ServiceAccount is bound to a ClusterRole of the rendered output (not a built-in one).
fn assert_bound_to_the_read_only_role(docs: &[Value], account: &Value) {
    let binding = only(docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(
        binding["roleRef"]["name"],
        only(docs, "ClusterRole")["metadata"]["name"]
    );
    let subject = &binding["subjects"][0];
    assert_eq!(subject["kind"], "ServiceAccount");
    assert_eq!(&subject["name"], account);
    assert_eq!(&only(docs, "ServiceAccount")["metadata"]["name"], account);
}

#[test]
fn the_cronjob_variant_scans_only_on_the_same_account_and_volume() {
    let cron = kustomize("cronjob");
    let daemon = kustomize("");
    assert_eq!(
        kinds(&cron),
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "CronJob",
            "PersistentVolumeClaim",
            "ServiceAccount"
        ])
    );
    for kind in [
        "PersistentVolumeClaim",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
    ] {
        assert_eq!(
            only(&cron, kind),
            only(&daemon, kind),
            "{kind}: switching between the daemon and the CronJob keeps the history"
        );
    }
    let job = only(&cron, "CronJob");
    assert_eq!(job["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(strs(&pod["containers"][0]["args"]).first(), Some(&"scan"));
    assert_bound_to_the_read_only_role(&cron, &pod["serviceAccountName"]);
}

#[test]
fn rbac_grants_reads_only_and_never_secrets() {
    for layout in ["", "cronjob"] {
        let docs = kustomize(layout);
        let roles: Vec<&Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
            .collect();
        assert!(!roles.is_empty());
        for role in roles {
            for rule in role["rules"].as_array().expect("rules") {
                let verbs = strs(&rule["verbs"]);
                assert!(
                    !verbs.is_empty() && verbs.iter().all(|v| ["get", "list", "watch"].contains(v)),
                    "{}: verbs {verbs:?}",
                    id(role)
                );
                let resources = strs(&rule["resources"]);
                assert!(
                    !resources.contains(&"secrets"),
                    "{}: grants secrets",
                    id(role)
                );
                let groups = strs(&rule["apiGroups"]);
                if groups.contains(&"") || groups.contains(&"*") {
                    assert!(
                        !resources.contains(&"*"),
                        "{}: `*` in the core group includes secrets",
                        id(role)
                    );
                }
            }
        }
    }
}

#[test]
fn rbac_lets_live_drift_read_the_gitops_objects() {
    let docs = kustomize("");
    let role = only(&docs, "ClusterRole");
    let grants = |group: &str, resource: &str| {
        role["rules"].as_array().expect("rules").iter().any(|r| {
            strs(&r["apiGroups"]).contains(&group)
                && strs(&r["resources"]).contains(&resource)
                && strs(&r["verbs"]).contains(&"list")
        })
    };
    // `live-sync-disabled` and the Argo CD events read them; a refusal is an error of the scan.
    assert!(grants("argoproj.io", "applications"));
    assert!(grants("kustomize.toolkit.fluxcd.io", "kustomizations"));
}

/// `Key=value` settings of a unit file (comments and section headers left out), in order.
fn unit_settings(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect()
}

#[test]
fn the_systemd_unit_stops_gracefully_and_loads_the_credentials_the_config_names() {
    let path = root().join("deploy/envparity.service");
    let text = std::fs::read_to_string(&path).expect("envparity.service");
    let settings = unit_settings(&text);
    let get = |key: &str| {
        settings
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{key}= is not set"))
    };
    assert_eq!(get("Type"), "exec");
    assert_ne!(get("User"), "root");
    assert_eq!(get("StateDirectory"), "envparity");
    assert!(
        get("ExecStart")
            .contains(" daemon --config /etc/envparity/config.toml --state /var/lib/envparity"),
        "{}",
        get("ExecStart")
    );
    assert_eq!(get("Restart"), "on-failure");
    assert_eq!(get("KillSignal"), "SIGTERM");
    let stop = get("TimeoutStopSec");
    let stop: i64 = stop
        .strip_suffix('s')
        .unwrap_or(stop)
        .parse()
        .unwrap_or_else(|_| panic!("TimeoutStopSec={stop}: write it in seconds"));
    assert!(stop > SHUTDOWN_TIMEOUT_SECONDS, "TimeoutStopSec={stop}");
    assert_eq!(get("ProtectSystem"), "strict");
    assert_eq!(get("NoNewPrivileges"), "yes");

    // The example config's credential files are the credentials the unit loads.
    let loaded: Vec<&str> = settings
        .iter()
        .filter(|(k, _)| *k == "LoadCredential")
        .filter_map(|(_, v)| v.split_once(':'))
        .map(|(name, _)| name)
        .collect();
    let documented = [
        documented_paths(&text, "token_file"),
        documented_paths(&text, "password_file"),
    ]
    .concat();
    assert_eq!(documented.len(), 2, "{documented:?}");
    for file in &documented {
        let name = file
            .strip_prefix("/run/credentials/envparity.service/")
            .unwrap_or_else(|| panic!("{file} is not in the unit's credentials directory"));
        assert!(loaded.contains(&name), "{file}: no LoadCredential={name}:…");
    }

    verify_unit(&text);
}

/// `systemd-analyze verify` on the unit with ExecStart pointing at the binary under test. Optional: CI
/// does not install systemd; the unit's own problems are the lines that name it.
fn verify_unit(text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join("envparity.service");
    let text = text.replace("/usr/local/bin/envparity", env!("CARGO_BIN_EXE_envparity"));
    std::fs::write(&unit, text).expect("write unit");
    let output = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("systemd-analyze is not installed: deploy/envparity.service not verified");
            return;
        }
        Err(e) => panic!("cannot run systemd-analyze: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("envparity.service"))
        .collect();
    assert!(
        own.is_empty(),
        "systemd-analyze verify:\n{}",
        own.join("\n")
    );
}
