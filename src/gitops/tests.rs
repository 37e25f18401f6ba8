//! Scans of small trees in the shapes real GitOps repositories take, written here for the tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::input::DEFAULT_MAX_BYTES;

const REMOTE: &str = "git@github.com:acme/platform.git";

const KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
";

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
    }
    dir
}

fn scan_tree(dir: &Path, identity: &RepoIdentity) -> GitOpsObjects {
    scan(dir, &Reader::new(dir, DEFAULT_MAX_BYTES), identity)
}

fn overlays(envs: &[(&str, &str)]) -> Vec<(String, String)> {
    envs.iter()
        .map(|(app, env)| {
            (
                format!("apps/{app}/overlays/{env}/kustomization.yaml"),
                KUSTOMIZATION.to_string(),
            )
        })
        .collect()
}

const APPLICATIONS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-prod
  namespace: argocd
spec:
  project: default
  source:
    repoURL: git@github.com:acme/platform.git
    targetRevision: main
    path: apps/web/overlays/prod
    kustomize:
      namePrefix: prod-
      nameSuffix: -v2
      namespace: web
      images:
        - ghcr.io/acme/web:1.4.2
      commonLabels:
        team: storefront
      commonAnnotations:
        owner: web-team
      replicas:
        - name: web
          count: 4
      patches:
        - target:
            kind: Deployment
            name: web
          patch: |-
            - op: replace
              path: /spec/replicas
              value: 4
  destination:
    server: https://prod.k8s.acme.internal
    namespace: web
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-staging
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/acme/platform
    path: ignored/because/sources/is/set
  sources:
    - repoURL: https://github.com/acme/platform
      path: ./apps/web/overlays/staging/
      targetRevision: HEAD
    - repoURL: https://charts.example.com/stable
      chart: redis
      targetRevision: 18.1.0
    - repoURL: https://github.com/acme/platform.git
      targetRevision: HEAD
      ref: values
  destination:
    name: staging
    namespace: web
  syncPolicy:
    automated:
      enabled: false
      selfHeal: true
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: monitoring
  namespace: argocd
spec:
  source:
    repoURL: https://x-access-token:s3cr3t@github.com/acme/monitoring.git
    path: deploy/prod
  destination:
    server: https://kubernetes.default.svc
"#;

#[test]
fn applications_with_source_sources_destinations_and_kustomize() {
    let mut files = overlays(&[("web", "prod"), ("web", "staging")]);
    files.push(("argocd/apps.yaml".into(), APPLICATIONS.into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tree(&files);
    let objects = scan_tree(dir.path(), &RepoIdentity::from_remotes([REMOTE]));
    assert_eq!(objects.notices, vec![]);
    let names: Vec<&str> = objects
        .applications
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["web-prod", "web-staging", "monitoring"]);

    let prod = &objects.applications[0];
    assert_eq!(prod.namespace.as_deref(), Some("argocd"));
    assert_eq!(
        prod.found,
        Found {
            file: PathBuf::from("argocd/apps.yaml"),
            document: 0
        }
    );
    let source = prod.source.as_ref().expect("source");
    assert_eq!(source.path.as_deref(), Some("apps/web/overlays/prod"));
    assert_eq!(source.target_revision.as_deref(), Some("main"));
    let k = source.kustomize.as_ref().expect("kustomize block");
    assert_eq!(k.name_prefix.as_deref(), Some("prod-"));
    assert_eq!(k.name_suffix.as_deref(), Some("-v2"));
    assert_eq!(k.namespace.as_deref(), Some("web"));
    assert_eq!(k.images, ["ghcr.io/acme/web:1.4.2"]);
    assert_eq!(k.common_labels["team"], "storefront");
    assert_eq!(k.common_annotations["owner"], "web-team");
    assert_eq!(
        k.replicas,
        [Replicas {
            name: "web".into(),
            count: "4".into()
        }]
    );
    assert_eq!(k.patches.len(), 1);
    assert_eq!(
        prod.destination,
        Destination {
            server: Some("https://prod.k8s.acme.internal".into()),
            name: None,
            namespace: Some("web".into()),
        }
    );
    assert_eq!(
        prod.sync,
        SyncPolicy {
            automated: true,
            prune: true,
            self_heal: true
        }
    );

    let staging = &objects.applications[1];
    assert_eq!(staging.sources.len(), 3);
    assert_eq!(
        staging.effective_sources().len(),
        3,
        "sources wins over source"
    );
    assert_eq!(staging.destination.name.as_deref(), Some("staging"));
    assert_eq!(staging.destination.server, None);
    assert!(!staging.sync.automated, "automated.enabled: false");
    assert!(staging.sync.self_heal);
    assert_eq!(staging.found.document, 1);

    let targets = targets(&objects, &RepoIdentity::from_remotes([REMOTE]));
    let local: Vec<(&str, &str, RepoMatch, bool)> = targets
        .local
        .iter()
        .map(|t| match &t.owner {
            Owner::Application { name, .. } => (name.as_str(), t.path.as_str(), t.repo, t.exists),
            Owner::FluxKustomization { .. } => unreachable!("no Flux here"),
        })
        .collect();
    assert_eq!(
        local,
        [
            ("web-prod", "apps/web/overlays/prod", RepoMatch::This, true),
            (
                "web-staging",
                "apps/web/overlays/staging",
                RepoMatch::This,
                true
            ),
        ]
    );
    let external: Vec<(&str, Option<&str>)> = targets
        .external
        .iter()
        .map(|t| (t.source.as_str(), t.path.as_deref()))
        .collect();
    assert_eq!(
        external,
        [
            ("https://charts.example.com/stable", Some("redis")),
            // The token in the URL is gone.
            (
                "https://github.com/acme/monitoring.git",
                Some("deploy/prod")
            ),
        ]
    );
    assert_eq!(targets.notices, vec![]);

    // Remotes unknown: a path that exists here is probably here; one that does not is elsewhere.
    let unknown = super::targets(&objects, &RepoIdentity::unknown());
    assert!(unknown.local.iter().all(|t| t.repo == RepoMatch::Maybe));
    assert_eq!(unknown.local.len(), 2);
    assert_eq!(unknown.external.len(), 2);
}

const APPLICATION_SETS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: overlays
  namespace: argocd
spec:
  generators:
    - git:
        repoURL: https://github.com/acme/platform.git
        revision: HEAD
        directories:
          - path: apps/legacy/overlays/*
            exclude: true
          - path: apps/*/overlays/*
  template:
    metadata:
      name: '{{path[1]}}-{{path.basename}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/acme/platform.git
        targetRevision: HEAD
        path: '{{path}}'
      destination:
        name: '{{path.basename}}'
        namespace: '{{path[1]}}'
      syncPolicy:
        automated:
          selfHeal: true
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: web-clusters
  namespace: argocd
spec:
  generators:
    - list:
        elements:
          - cluster: dev
            url: https://dev.k8s.acme.internal
          - cluster: prod
            url: https://prod.k8s.acme.internal
  template:
    metadata:
      name: 'web-{{cluster}}'
    spec:
      source:
        repoURL: https://github.com/acme/platform.git
        path: 'apps/web/overlays/{{cluster}}'
      destination:
        server: '{{url}}'
        namespace: web
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: matrix-fast
  namespace: argocd
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: git@github.com:acme/platform.git
              directories:
                - path: apps/*
                - path: apps/legacy
                  exclude: true
          - list:
              elements:
                - env: dev
                - env: prod
  template:
    metadata:
      name: 'm-{{path.basename}}-{{env}}'
    spec:
      source:
        repoURL: git@github.com:acme/platform.git
        path: '{{path}}/overlays/{{env}}'
      destination:
        name: '{{env}}'
        namespace: '{{path.basename}}'
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: matrix-go
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/acme/platform.git
              directories:
                - path: 'apps/*/overlays/prod'
          - list:
              elements:
                - cluster: eu
                  server: https://eu.k8s.acme.internal
                - cluster: us
                  server: https://us.k8s.acme.internal
  template:
    metadata:
      name: '{{ index .path.segments 1 }}-{{ .path.basename }}-{{ .cluster }}'
    spec:
      source:
        repoURL: https://github.com/acme/platform.git
        path: '{{ .path.path }}'
      destination:
        server: '{{ .server }}'
        namespace: '{{ index .path.segments 1 | normalize }}'
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: elsewhere
  namespace: argocd
spec:
  generators:
    - git:
        repoURL: https://github.com/other-org/addons.git
        directories:
          - path: '*'
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      source:
        repoURL: https://github.com/other-org/addons.git
        path: '{{path}}'
      destination:
        name: in-cluster
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: per-cluster
  namespace: argocd
spec:
  generators:
    - clusters: {}
  template:
    metadata:
      name: '{{name}}-web'
    spec:
      source:
        repoURL: https://github.com/acme/platform.git
        path: apps/web/overlays/prod
      destination:
        server: '{{server}}'
"#;

/// (name, path, destination server or name, destination namespace) of what `set` generated.
fn generated(objects: &GitOpsObjects, set: &str) -> Vec<(String, String, String, String)> {
    objects
        .applications
        .iter()
        .filter(|a| a.generated_by.as_deref() == Some(set))
        .map(|a| {
            let source = a.effective_sources()[0];
            let dest = &a.destination;
            (
                a.name.clone(),
                source.path.clone().unwrap_or_default(),
                dest.server
                    .clone()
                    .or(dest.name.clone())
                    .unwrap_or_default(),
                dest.namespace.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn tuples(rows: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    rows.iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

#[test]
fn application_sets_expand_against_the_tree() {
    let mut files = overlays(&[
        ("api", "dev"),
        ("api", "prod"),
        ("web", "dev"),
        ("web", "prod"),
        ("web_shop", "prod"),
        ("legacy", "dev"),
        // A directory starting with a dot is never generated, even where a pattern matches it.
        (".hidden", "dev"),
    ]);
    files.push(("argocd/appsets.yaml".into(), APPLICATION_SETS.into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tree(&files);
    let objects = scan_tree(dir.path(), &RepoIdentity::from_remotes([REMOTE]));

    assert_eq!(
        generated(&objects, "overlays"),
        tuples(&[
            ("api-dev", "apps/api/overlays/dev", "dev", "api"),
            ("api-prod", "apps/api/overlays/prod", "prod", "api"),
            ("web-dev", "apps/web/overlays/dev", "dev", "web"),
            ("web-prod", "apps/web/overlays/prod", "prod", "web"),
            (
                "web_shop-prod",
                "apps/web_shop/overlays/prod",
                "prod",
                "web_shop"
            ),
        ])
    );
    let api_dev = objects
        .applications
        .iter()
        .find(|a| a.name == "api-dev")
        .expect("generated");
    assert_eq!(api_dev.namespace.as_deref(), Some("argocd"));
    assert!(api_dev.sync.automated && api_dev.sync.self_heal && !api_dev.sync.prune);
    assert_eq!(api_dev.found.file, Path::new("argocd/appsets.yaml"));

    assert_eq!(
        generated(&objects, "web-clusters"),
        tuples(&[
            (
                "web-dev",
                "apps/web/overlays/dev",
                "https://dev.k8s.acme.internal",
                "web"
            ),
            (
                "web-prod",
                "apps/web/overlays/prod",
                "https://prod.k8s.acme.internal",
                "web"
            ),
        ])
    );
    assert_eq!(
        generated(&objects, "matrix-fast"),
        tuples(&[
            ("m-api-dev", "apps/api/overlays/dev", "dev", "api"),
            ("m-api-prod", "apps/api/overlays/prod", "prod", "api"),
            ("m-web-dev", "apps/web/overlays/dev", "dev", "web"),
            ("m-web-prod", "apps/web/overlays/prod", "prod", "web"),
            (
                "m-web_shop-dev",
                "apps/web_shop/overlays/dev",
                "dev",
                "web_shop"
            ),
            (
                "m-web_shop-prod",
                "apps/web_shop/overlays/prod",
                "prod",
                "web_shop"
            ),
        ])
    );
    let eu = "https://eu.k8s.acme.internal";
    let us = "https://us.k8s.acme.internal";
    assert_eq!(
        generated(&objects, "matrix-go"),
        tuples(&[
            ("api-prod-eu", "apps/api/overlays/prod", eu, "api"),
            ("api-prod-us", "apps/api/overlays/prod", us, "api"),
            ("web-prod-eu", "apps/web/overlays/prod", eu, "web"),
            ("web-prod-us", "apps/web/overlays/prod", us, "web"),
            (
                "web_shop-prod-eu",
                "apps/web_shop/overlays/prod",
                eu,
                "web-shop"
            ),
            (
                "web_shop-prod-us",
                "apps/web_shop/overlays/prod",
                us,
                "web-shop"
            ),
        ])
    );

    // What could not be expanded is a notice on the ApplicationSet, and nothing is generated.
    let reasons: BTreeMap<&str, &NoticeReason> = objects
        .notices
        .iter()
        .map(|n| (n.object.as_deref().unwrap_or(""), &n.reason))
        .collect();
    assert_eq!(reasons.len(), 2, "{:#?}", objects.notices);
    assert_eq!(
        reasons["ApplicationSet/elsewhere"],
        &NoticeReason::Expansion(ExpandError::ExternalRepository {
            url: "https://github.com/other-org/addons.git".into()
        })
    );
    assert_eq!(
        reasons["ApplicationSet/per-cluster"],
        &NoticeReason::Expansion(ExpandError::UnsupportedGenerator {
            generator: "clusters".into()
        })
    );
    let sets: BTreeMap<&str, (&[String], usize)> = objects
        .application_sets
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                (s.generators.as_slice(), s.generated.len()),
            )
        })
        .collect();
    assert_eq!(sets["overlays"].1, 5);
    assert_eq!(sets["matrix-go"], (&["matrix".to_string()][..], 6));
    assert_eq!(sets["per-cluster"], (&["clusters".to_string()][..], 0));
}

#[test]
fn an_application_set_whose_names_collide_generates_nothing() {
    let set = r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: clash
spec:
  goTemplate: true
  generators:
    - git:
        repoURL: https://github.com/acme/platform.git
        directories:
          - path: 'apps/*/overlays/*'
  template:
    metadata:
      name: '{{ .path.basename }}'
    spec:
      source:
        repoURL: https://github.com/acme/platform.git
        path: '{{ .path.path }}'
      destination:
        name: in-cluster
"#;
    let mut files = overlays(&[("api", "dev"), ("web", "dev")]);
    files.push(("argocd/clash.yaml".into(), set.into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tree(&files);
    // Remotes unknown: the generator's repository is probably this one, as its pattern matches here.
    let objects = scan_tree(dir.path(), &RepoIdentity::unknown());
    assert!(objects.applications.is_empty());
    assert_eq!(
        objects.notices[0].reason,
        NoticeReason::Expansion(ExpandError::Duplicate { name: "dev".into() })
    );
}

#[test]
fn a_matrix_that_explodes_is_refused_quickly() {
    let elements = |key: &str| {
        (0..200)
            .map(|i| format!("          - {key}: \"{i}\"\n"))
            .collect::<String>()
    };
    let set = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: boom
spec:
  generators:
    - matrix:
        generators:
          - list:
              elements:
{}          - list:
              elements:
{}  template:
    metadata:
      name: 'x-{{{{a}}}}-{{{{b}}}}'
    spec:
      source:
        repoURL: https://github.com/acme/platform.git
        path: apps
",
        elements("a").replace("          -", "                -"),
        elements("b").replace("          -", "                -"),
    );
    let dir = tree(&[("argocd/boom.yaml", &set)]);
    let started = std::time::Instant::now();
    let objects = scan_tree(dir.path(), &RepoIdentity::unknown());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(objects.applications.is_empty());
    assert_eq!(
        objects.notices[0].reason,
        NoticeReason::Expansion(ExpandError::TooMany),
        "{:#?}",
        objects.notices
    );
}

const FLUX_SYNC: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: ssh://git@github.com/acme/platform
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"#;

const FLUX_APPS: &str = r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/web/overlays/prod
  prune: true
  targetNamespace: web-prod
  namePrefix: prod-
  nameSuffix: -eu
  dependsOn:
    - name: infra
  sourceRef:
    kind: GitRepository
    name: flux-system
  images:
    - name: ghcr.io/acme/web
      newTag: 1.4.2
  patches:
    - target:
        kind: Deployment
        name: web
      patch: |
        - op: add
          path: /metadata/labels/tier
          value: gold
  postBuild:
    substitute:
      cluster_env: prod
      replicas: "3"
      unquoted_number: 3
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secrets
        optional: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata:
  name: vendor
  namespace: flux-system
spec:
  interval: 1h
  path: ./deploy
  suspend: true
  sourceRef:
    kind: GitRepository
    name: vendor-charts
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: vendor-charts
  namespace: flux-system
spec:
  interval: 1h
  url: https://github.com/vendor/charts.git
  ref:
    tag: v2.3.0
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: policies
  namespace: flux-system
spec:
  interval: 1h
  sourceRef:
    kind: OCIRepository
    name: policies
"#;

const CLUSTER_VARS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  cluster_region: eu-central-1
  cluster_env: replaced-by-the-inline-value
  banner: "two\nlines"
---
apiVersion: v1
kind: Secret
metadata:
  name: cluster-secrets
  namespace: flux-system
stringData:
  token: hunter2
"#;

#[test]
fn flux_kustomizations_sources_and_post_build_variables() {
    let dir = tree(&[
        ("clusters/prod/flux-system/gotk-sync.yaml", FLUX_SYNC),
        ("clusters/prod/apps.yaml", FLUX_APPS),
        ("clusters/prod/vars.yaml", CLUSTER_VARS),
        ("apps/web/overlays/prod/kustomization.yaml", KUSTOMIZATION),
        (
            "apps/web/base/kustomization.yaml",
            "resources: [deployment.yaml]\n",
        ),
    ]);
    let identity = RepoIdentity::from_remotes(["https://github.com/acme/platform.git"]);
    let objects = scan_tree(dir.path(), &identity);

    // kustomize's own Kustomization files are not Flux's.
    let names: Vec<&str> = objects
        .flux_kustomizations
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(names, ["web", "vendor", "policies", "flux-system"]);
    let web = &objects.flux_kustomizations[0];
    assert_eq!(web.api_version, "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(web.path.as_deref(), Some("./apps/web/overlays/prod"));
    assert_eq!(web.target_namespace.as_deref(), Some("web-prod"));
    assert_eq!(web.name_prefix.as_deref(), Some("prod-"));
    assert_eq!(web.name_suffix.as_deref(), Some("-eu"));
    assert_eq!(
        web.source_ref,
        Some(SourceRef {
            kind: "GitRepository".into(),
            name: "flux-system".into(),
            namespace: None
        })
    );
    assert_eq!(
        web.depends_on,
        [DependsOn {
            name: "infra".into(),
            namespace: None
        }]
    );
    assert_eq!(web.images[0].new_tag.as_deref(), Some("1.4.2"));
    assert_eq!(web.patches.len(), 1);
    assert!(!web.suspend && objects.flux_kustomizations[1].suspend);
    assert_eq!(
        web.post_build.substitute_from[1],
        SubstituteFrom {
            kind: "Secret".into(),
            name: "cluster-secrets".into(),
            optional: true
        }
    );
    let refs: Vec<(&str, Option<&str>)> = objects
        .git_repositories
        .iter()
        .map(|g| (g.name.as_str(), g.reference.as_deref()))
        .collect();
    assert_eq!(
        refs,
        [
            ("vendor-charts", Some("v2.3.0")),
            ("flux-system", Some("main"))
        ]
    );

    // An unquoted number in `substitute` is rejected by Flux: a notice, the rest kept.
    assert_eq!(
        objects.notices,
        [Notice {
            file: "clusters/prod/apps.yaml".into(),
            object: Some("Kustomization/web".into()),
            reason: NoticeReason::NotAString {
                field: "spec.postBuild.substitute.unquoted_number".into()
            },
        }]
    );

    // Variables: the ConfigMap from the repository (newlines removed), inline values on top; the Secret is
    // never read, so what it may define stays as written.
    let vars = web.variables(&objects);
    let want: BTreeMap<String, String> = [
        ("banner", "twolines"),
        ("cluster_env", "prod"),
        ("cluster_region", "eu-central-1"),
        ("replicas", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(vars.vars, want);
    assert_eq!(vars.unknown_sources, ["Secret/cluster-secrets"]);
    assert_eq!(
        vars.notices[0].reason,
        NoticeReason::SecretVariables {
            name: "cluster-secrets".into()
        }
    );
    assert!(vars.enabled());
    let out = vars
        .apply("env: ${cluster_env}\nregion: ${cluster_region:=us}\ntoken: ${token}\nlog: $HOME\n")
        .expect("substitutes");
    assert_eq!(
        out.text,
        "env: prod\nregion: eu-central-1\ntoken: ${token}\nlog: $HOME\n"
    );
    assert!(
        !format!("{objects:?}").contains("hunter2"),
        "Secret data kept"
    );

    // Sources: the GitRepository resolves to this repository over SSH; the vendor one is elsewhere; an OCI
    // artifact is not a Git repository.
    let targets = targets(&objects, &identity);
    let local: Vec<(&str, &str, RepoMatch)> = targets
        .local
        .iter()
        .map(|t| match &t.owner {
            Owner::FluxKustomization { name, .. } => (name.as_str(), t.path.as_str(), t.repo),
            Owner::Application { .. } => unreachable!("no Argo CD here"),
        })
        .collect();
    assert_eq!(
        local,
        [
            ("web", "apps/web/overlays/prod", RepoMatch::This),
            ("flux-system", "clusters/prod", RepoMatch::This),
        ]
    );
    let external: Vec<(&str, Option<&str>)> = targets
        .external
        .iter()
        .map(|t| (t.source.as_str(), t.path.as_deref()))
        .collect();
    assert_eq!(
        external,
        [
            ("https://github.com/vendor/charts.git", Some("./deploy")),
            ("OCIRepository/policies", None),
        ]
    );
}

#[test]
fn a_missing_config_map_and_a_missing_source_are_reported_not_guessed() {
    let apps = r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
spec:
  path: apps/web/overlays/prod
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: made-by-terraform
"#;
    let dir = tree(&[
        ("clusters/prod/apps.yaml", apps),
        ("apps/web/overlays/prod/kustomization.yaml", KUSTOMIZATION),
    ]);
    let identity = RepoIdentity::from_remotes([REMOTE]);
    let objects = scan_tree(dir.path(), &identity);
    let web = &objects.flux_kustomizations[0];
    let vars = web.variables(&objects);
    assert_eq!(vars.unknown_sources, ["ConfigMap/made-by-terraform"]);
    assert_eq!(vars.unset(), Unset::Keep);
    assert_eq!(
        vars.apply("a: ${x:=1}").expect("valid").text,
        "a: ${x:=1}",
        "the ConfigMap may define x"
    );
    let targets = targets(&objects, &identity);
    assert_eq!(targets.local[0].repo, RepoMatch::Maybe);
    assert_eq!(
        targets.notices[0].reason,
        NoticeReason::SourceNotInRepository {
            kind: "GitRepository".into(),
            name: "flux-system".into()
        }
    );
}

#[cfg(unix)]
#[test]
fn unreadable_and_hostile_files_are_notices_and_the_rest_is_found() {
    use std::os::unix::fs::symlink;

    let app = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  source:
    repoURL: https://github.com/acme/platform.git
    path: apps/web
  destination:
    name: in-cluster
";
    let outside = tree(&[("app.yaml", &app.replace("name: web", "name: outside"))]);
    let big = format!("# padding\n{}{app}", "#".repeat(5000));
    let dir = tree(&[
        ("argocd/web.yaml", app),
        ("argocd/notes.yaml", "key: [unclosed\n  - {\n"),
        ("argocd/big.yaml", &big),
        ("docs/readme.md", "not yaml and not looked at"),
        (
            ".git/config.yaml",
            &app.replace("name: web", "name: from-git-dir"),
        ),
    ]);
    std::fs::write(dir.path().join("argocd/latin1.yml"), b"kind: \xe9t\xe9\n").expect("write");
    symlink("/dev/zero", dir.path().join("argocd/zero.yaml")).expect("symlink");
    symlink(outside.path(), dir.path().join("linked-outside")).expect("symlink");
    symlink(dir.path().join("argocd"), dir.path().join("linked-inside")).expect("symlink");

    let reader = Reader::new(dir.path(), 4096);
    let started = std::time::Instant::now();
    let objects = scan(dir.path(), &reader, &RepoIdentity::unknown());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let names: Vec<&str> = objects
        .applications
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["web"], "links to directories are not followed");
    let notices: BTreeMap<PathBuf, &NoticeReason> = objects
        .notices
        .iter()
        .map(|n| (n.file.clone(), &n.reason))
        .collect();
    assert_eq!(notices.len(), 4, "{:#?}", objects.notices);
    assert!(matches!(
        notices[Path::new("argocd/notes.yaml")],
        NoticeReason::Yaml(_)
    ));
    assert!(matches!(
        notices[Path::new("argocd/big.yaml")],
        NoticeReason::Read(ReadError::TooLarge { limit: 4096, .. })
    ));
    assert!(matches!(
        notices[Path::new("argocd/zero.yaml")],
        NoticeReason::Read(ReadError::NotRegular { what: "device", .. })
    ));
    assert!(matches!(
        notices[Path::new("argocd/latin1.yml")],
        NoticeReason::Read(ReadError::NotUtf8 { .. })
    ));
    // Notices name the file relative to the root and never quote it.
    let text = objects.notices[0].to_string();
    assert!(text.starts_with("argocd/"), "{text}");
    assert!(!objects.directories.iter().any(|d| d.starts_with("linked")));
    assert!(!objects.directories.iter().any(|d| d.starts_with(".git")));
}

#[test]
fn substitute_is_flux_default_substitution() {
    let vars: BTreeMap<String, String> = [("A".to_string(), "a".to_string())].into();
    assert_eq!(
        substitute("${A}/${A:=x}/${B:=x}/${B}/$${A}", &vars).as_deref(),
        Ok("a/a/x//${A}")
    );
    assert!(matches!(
        substitute("${A", &vars),
        Err(SubstError::MissingClosingBrace { .. })
    ));
    let disabled: Value = serde_json::json!({
        "metadata": {"annotations": {SUBSTITUTE_KEY: "disabled"}}
    });
    assert!(substitution_disabled(&disabled));
    assert!(!substitution_disabled(&serde_json::json!({"metadata": {}})));
}
