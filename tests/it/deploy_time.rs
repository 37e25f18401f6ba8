//! What the repo's own Argo CD and Flux objects change at deploy time is applied before the check: Flux
//! `images`, `targetNamespace` and `postBuild` substitutions, Argo CD `source.kustomize` (images aimed at
//! the overlay's own renamed image, namePrefix). Rendered by the real kustomize.

use std::path::Path;

use serde_json::Value;

use crate::support::{envparity, json};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

fn deployment(app: &str, replicas: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec:
      containers:
        - name: {app}
          image: ghcr.io/acme/{app}:1.0
          env:
            - name: REGION
              value: ${{REGION}}
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
            limits: {{cpu: 500m, memory: 512Mi}}
"#
    )
}

fn flux_kustomization(cluster: &str, tag: &str, replicas: &str) -> String {
    format!(
        r#"apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/{cluster}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  targetNamespace: shop-{cluster}
  images:
    - name: ghcr.io/acme/web
      newTag: "{tag}"
  postBuild:
    substitute:
      REPLICAS: "{replicas}"
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
"#
    )
}

fn check(root: &Path) -> Value {
    let out = envparity(
        root,
        &[
            "check", "--repo", ".", "--state", ".state", "--format", "json",
        ],
    );
    json(&out)
}

/// `rule` findings of `name`, as (envs, values).
fn findings<'v>(report: &'v Value, rule: &str, name: &str) -> Vec<&'v Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule && f["name"] == name)
        .collect()
}

/// A cluster's root deploying the bases of two apps.
const ROOT: &str = "resources: [../base/web, ../base/api, quota.yaml]\n";

fn quota(cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: apps}}\nspec: {{hard: {{requests.cpu: \"{cpu}\"}}}}\n"
    )
}

#[test]
fn flux_images_namespace_and_substitutions_are_applied_before_the_check() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    write(
        root,
        &[
            (
                "apps/base/web/deploy.yaml",
                &deployment("web", "${REPLICAS:=2}"),
            ),
            (
                "apps/base/web/kustomization.yaml",
                "resources: [deploy.yaml]\n",
            ),
            (
                "apps/base/api/deploy.yaml",
                &deployment("api", "${REPLICAS:=2}"),
            ),
            (
                "apps/base/api/kustomization.yaml",
                "resources: [deploy.yaml]\n",
            ),
            // Each cluster's root deploys both apps, and a quota of its own.
            ("apps/staging/kustomization.yaml", ROOT),
            ("apps/production/kustomization.yaml", ROOT),
            ("apps/staging/quota.yaml", &quota("8")),
            ("apps/production/quota.yaml", &quota("32")),
            (
                "clusters/staging/apps.yaml",
                &flux_kustomization("staging", "1.1", "1"),
            ),
            (
                "clusters/production/apps.yaml",
                &flux_kustomization("production", "1.0", "3"),
            ),
            (
                "clusters/staging/vars.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-vars, namespace: flux-system}\ndata: {REGION: eu-west-1}\n",
            ),
        ],
    );
    let report = check(root);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    // The images override of each cluster's Kustomization is what runs: staging 1.1, production 1.0.
    let image = findings(&report, "image", "web");
    assert_eq!(image.len(), 1, "{report:#}");
    // The roots deploy two apps: each is a service of its own, checked against its own base.
    assert_eq!(image[0]["service"], "web");
    assert_eq!(image[0]["values"]["staging"], "ghcr.io/acme/web:1.1");
    assert_eq!(image[0]["values"]["production"], "ghcr.io/acme/web:1.0");
    assert_eq!(image[0]["files"]["staging"], "clusters/staging/apps.yaml");
    // `replicas: ${REPLICAS:=2}` is substituted (a number again), per cluster.
    let replicas = findings(&report, "replicas", "web");
    assert_eq!(replicas.len(), 1, "{report:#}");
    assert_eq!(replicas[0]["values"]["staging"], "1");
    assert_eq!(replicas[0]["values"]["production"], "3");
    let api = findings(&report, "replicas", "api");
    assert_eq!(api.len(), 1, "{report:#}");
    assert_eq!(api[0]["service"], "api");
    let discover = json(&envparity(
        root,
        &[
            "discover", "--repo", ".", "--state", ".state", "--format", "json",
        ],
    ));
    let services: Vec<&str> = discover["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(services.len(), 3, "{discover:#}");
    assert!(
        services.contains(&"web") && services.contains(&"api"),
        "{discover:#}"
    );
    // What the roots declare themselves (the quota) is the third service, under the roots' name.
    let quota = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "ResourceQuota");
    assert!(
        quota.is_none_or(|f| f["service"] != "web" && f["service"] != "api"),
        "{quota:?}"
    );
    // Nothing else differs: the namespaces Flux sets are not a difference.
    let other: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| {
            !["image", "replicas", "overlay-adds-resource"]
                .contains(&f["rule"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}

/// An overlay that renames the base's image (Argo CD's `kustomize edit set image` edits this entry).
const OVERLAY: &str = "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/web\n    newName: registry.acme.example/web\n";

#[test]
fn argo_cd_source_kustomize_is_applied_and_its_name_prefix_is_not_a_difference() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    let app = |env: &str, image: &str| {
        format!(
            r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example.com/acme/infra.git
    path: web/overlays/{env}
    kustomize:
      namePrefix: {env}-
      images:
        - {image}
  destination:
    server: https://kubernetes.default.svc
    namespace: web-{env}
"#
        )
    };
    write(
        root,
        &[
            ("web/base/deploy.yaml", &deployment("web", "2")),
            (
                "web/base/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {LOG_LEVEL: info}\n",
            ),
            (
                "web/base/kustomization.yaml",
                "resources: [deploy.yaml, config.yaml]\n",
            ),
            ("web/overlays/qa/kustomization.yaml", OVERLAY),
            ("web/overlays/prod/kustomization.yaml", OVERLAY),
            ("argocd/web-qa.yaml", &app("qa", "ghcr.io/acme/web:2.0")),
            ("argocd/web-prod.yaml", &app("prod", "ghcr.io/acme/web:1.0")),
        ],
    );
    let report = check(root);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    let image = findings(&report, "image", "web");
    assert_eq!(image.len(), 1, "{report:#}");
    assert_eq!(image[0]["values"]["qa"], "registry.acme.example/web:2.0");
    assert_eq!(image[0]["values"]["prod"], "registry.acme.example/web:1.0");
    // `qa-web` and `prod-web` are one object; the prefixed ConfigMap is no inventory difference.
    for rule in ["resource-set", "overlay-adds-resource", "env-names"] {
        let found: Vec<&Value> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == rule)
            .collect();
        assert!(found.is_empty(), "{rule}: {found:#?}");
    }
}

#[test]
fn a_flux_path_without_a_kustomization_renders_as_flux_generates_it() {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path();
    let flux = |env: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web-{env}\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./deploy/{env}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        )
    };
    let staging = deployment("web", "1").replace("web:1.0", "web:1.1");
    write(
        root,
        &[
            // Plain manifests, no kustomization: Flux lists every YAML file below the path.
            ("deploy/staging/web.yaml", &staging),
            ("deploy/production/web.yaml", &deployment("web", "3")),
            // A subdirectory with a kustomization is taken whole.
            (
                "deploy/staging/extra/kustomization.yaml",
                "resources: [config.yaml]\n",
            ),
            (
                "deploy/production/extra/kustomization.yaml",
                "resources: [config.yaml]\n",
            ),
            (
                "deploy/staging/extra/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-extra}\ndata: {MODE: a}\n",
            ),
            (
                "deploy/production/extra/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-extra}\ndata: {MODE: b}\n",
            ),
            ("deploy/README.txt", "not a manifest\n"),
            ("clusters/staging/web.yaml", &flux("staging")),
            ("clusters/production/web.yaml", &flux("production")),
        ],
    );
    let report = check(root);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    let image = findings(&report, "image", "web");
    assert_eq!(image.len(), 1, "{report:#}");
    assert_eq!(image[0]["values"]["staging"], "ghcr.io/acme/web:1.1");
    // The finding names the repository's file, not the copy the generated kustomization reads.
    assert_eq!(image[0]["files"]["staging"], "deploy/staging/web.yaml");
    // The subdirectory's ConfigMap is rendered in both: no inventory difference.
    assert!(
        findings(&report, "resource-set", "web-extra").is_empty(),
        "{report:#}"
    );

    // A manifest that is not YAML is an error naming it, for that environment only.
    std::fs::write(root.join("deploy/production/broken.yaml"), "a: [unclosed\n").expect("write");
    let report = check(root);
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["env"], "production");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deploy/production/broken.yaml")),
        "{report:#}"
    );
}
