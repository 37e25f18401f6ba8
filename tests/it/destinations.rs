//! Clusters from the deployment map (issue 14): an environment without `[clusters.<env>]` is read from the
//! cluster config maps to the Argo CD destination the repo's Application sends it to
//! (`[destinations."<name or server>"]`); a destination no config maps is one error, not drift.

use std::path::Path;

use serde_json::Value;

use crate::apiserver::ApiServer;
use crate::support::{envparity, json};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn application(env: &str, destination: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/acme/infra.git\n    path: apps/web/overlays/{env}\n  destination:\n    name: {destination}\n    namespace: shop\n"
    )
}

#[test]
fn an_environment_is_read_from_the_cluster_of_its_argo_cd_destination() {
    let server = ApiServer::start();
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    write(
        root,
        "apps/web/base/kustomization.yaml",
        "resources: [service.yaml]\n",
    );
    write(
        root,
        "apps/web/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 80\n",
    );
    for env in ["staging", "production"] {
        write(
            root,
            &format!("apps/web/overlays/{env}/kustomization.yaml"),
            "resources: [../../base]\n",
        );
    }
    write(
        root,
        "argocd/staging.yaml",
        &application("staging", "staging-cluster"),
    );
    write(
        root,
        "argocd/production.yaml",
        &application("production", "prod-eu"),
    );
    let kubeconfig = server.kubeconfig(root);
    write(
        root,
        "config.toml",
        &format!(
            "[destinations.prod-eu]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\ntimeout_seconds = 5\n",
            kubeconfig.display()
        ),
    );
    let out = envparity(
        root,
        &[
            "drift", "--repo", ".", "--state", ".state", "--format", "json",
        ],
    );
    let report = json(&out);
    // production: read from prod-eu's cluster, in the Application's namespace; the Service is not there.
    let missing: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "live-missing" && f["envs"][0] == "production")
        .collect();
    assert_eq!(missing.len(), 1, "{report:#}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains("/api/v1/namespaces/shop/services")),
        "{:?}",
        server.requests()
    );
    // staging: its destination has no cluster in config: one error naming it, no drift.
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["env"], "staging");
    assert_eq!(errors[0]["kind"], "config");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("staging-cluster") && m.contains("[destinations.")),
        "{report:#}"
    );
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["envs"][0] != "staging"),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(2), "{report:#}");
}
