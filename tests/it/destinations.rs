//! Clusters from the deployment map (issue 14): an environment without `[clusters.<env>]` is read from the
//! cluster config maps to the Argo CD destination the repo's Application sends it to
//! (`[destinations."<name or server>"]`); a destination no config maps is one error, not drift.

use serde_json::Value;

use crate::apiserver::ApiServer;
use crate::support::{envparity, json, write};

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

    // Without [destinations], configuring production's cluster alone is a choice: staging is not read, said
    // once as a warning, and the run is not failed for it.
    write(
        root,
        "config.toml",
        &format!(
            "[clusters.production]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\nnamespace = \"shop\"\n",
            kubeconfig.display()
        ),
    );
    let out = envparity(root, &["drift", "--repo", ".", "--state", ".state"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("warning: not read").count(), 1, "{stdout}");
    assert!(stdout.contains("staging-cluster"), "{stdout}");
}

#[test]
fn one_environment_on_two_clusters_is_read_and_reported_per_destination() {
    let eu = ApiServer::start();
    let us = ApiServer::start();
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
    // One production overlay, sent to two clusters (each with its own namespace).
    let app = |name: &str, env: &str, destination: &str, namespace: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/acme/infra.git\n    path: apps/web/overlays/{env}\n  destination:\n    name: {destination}\n    namespace: {namespace}\n"
        )
    };
    write(
        root,
        "argocd/apps.yaml",
        &[
            app("web-staging", "staging", "staging-cluster", "shop"),
            app("web-prod-eu", "production", "prod-eu", "shop-eu"),
            app("web-prod-us", "production", "prod-us", "shop-us"),
        ]
        .join("---\n"),
    );
    let dir_eu = root.join("eu");
    let dir_us = root.join("us");
    std::fs::create_dir_all(&dir_eu).expect("mkdir");
    std::fs::create_dir_all(&dir_us).expect("mkdir");
    let (k_eu, k_us) = (eu.kubeconfig(&dir_eu), us.kubeconfig(&dir_us));
    write(
        root,
        "config.toml",
        &format!(
            "[destinations.prod-eu]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\n\n[destinations.prod-us]\nkubeconfig = \"{}\"\ncontext = \"envparity-test\"\n",
            k_eu.display(),
            k_us.display()
        ),
    );
    let out = envparity(
        root,
        &[
            "drift",
            "--repo",
            ".",
            "--state",
            ".state",
            "--env",
            "production",
            "--format",
            "json",
        ],
    );
    let report = json(&out);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    let missing: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "live-missing")
        .collect();
    assert_eq!(missing.len(), 2, "{report:#}");
    let destinations: Vec<&str> = missing
        .iter()
        .filter_map(|f| f["values"]["destination"].as_str())
        .collect();
    assert_eq!(destinations, ["prod-eu", "prod-us"], "{report:#}");
    assert_ne!(missing[0]["fingerprint"], missing[1]["fingerprint"]);
    for (f, ns) in missing.iter().zip(["shop-eu", "shop-us"]) {
        let message = f["message"].as_str().unwrap_or("");
        assert!(
            message.contains(ns) && message.contains("destination"),
            "{message}"
        );
    }
    // Each cluster was asked for its own namespace only.
    assert!(
        eu.requests()
            .iter()
            .any(|r| r.contains("/namespaces/shop-eu/services"))
    );
    assert!(
        us.requests()
            .iter()
            .any(|r| r.contains("/namespaces/shop-us/services"))
    );
    assert!(!eu.requests().iter().any(|r| r.contains("shop-us")));
}
