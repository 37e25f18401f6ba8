// The render module against the real `kubectl kustomize`, on throwaway repositories built in temp dirs.
//
// kustomize runs are counted through a tiny shell wrapper around kubectl, so the tests can say how many
// processes a render took (batching) and that a refused input never reached kustomize.

use std::path::{Path, PathBuf};

use envparity::render::{
    CacheStats, CachedRenderer, Kustomize, KustomizeCommand, RenderError, RenderRequest, Rendered,
    Renderer, Seal, input_digest, input_files,
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{self, copy_dir};

/// A throwaway GitOps repository.
struct Repo {
    _tmp: TempDir,
    root: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().canonicalize().expect("canonical temp dir");
        Repo { _tmp: tmp, root }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn dir(&self, service: &str, env: &str) -> PathBuf {
        if env == "base" {
            self.root.join(format!("apps/{service}/base"))
        } else {
            self.root.join(format!("apps/{service}/overlays/{env}"))
        }
    }

    fn request(&self, service: &str, env: &str) -> RenderRequest {
        RenderRequest {
            service: service.to_string(),
            env: env.to_string(),
            dir: self.dir(service, env),
            layer: None,
            generate: false,
        }
    }

    /// A service base: a Deployment, a Service and a generated ConfigMap.
    fn base(&self, service: &str) {
        self.write(
            &format!("apps/{service}/base/kustomization.yaml"),
            &format!(
                "resources: [deployment.yaml, service.yaml]\nconfigMapGenerator:\n- name: {service}-config\n  literals: [LOG_LEVEL=info, COLOR=blue]\n"
            ),
        );
        self.write(
            &format!("apps/{service}/base/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {service}\nspec:\n  replicas: 1\n  template:\n    metadata:\n      labels: {{app: {service}}}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.25\n        envFrom: [{{configMapRef: {{name: {service}-config}}}}]\n"
            ),
        );
        self.write(
            &format!("apps/{service}/base/service.yaml"),
            &format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {service}\nspec:\n  ports: [{{port: 80}}]\n"),
        );
    }

    /// A dev overlay: namePrefix, a patch file and a merged ConfigMap.
    fn dev(&self, service: &str) {
        self.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            &format!(
                "resources: [../../base]\nnamePrefix: dev-\npatches:\n- path: replicas.yaml\nconfigMapGenerator:\n- name: {service}-config\n  behavior: merge\n  literals: [LOG_LEVEL=debug]\n"
            ),
        );
        self.write(
            &format!("apps/{service}/overlays/dev/replicas.yaml"),
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {service}\nspec:\n  replicas: 2\n"),
        );
    }

    /// A prod overlay: a namespace, its own common annotation and an image tag.
    fn prod(&self, service: &str) {
        self.write(
            &format!("apps/{service}/overlays/prod/kustomization.yaml"),
            "resources: [../../base]\nnamespace: prod\ncommonAnnotations: {team: payments}\nimages: [{name: nginx, newTag: \"1.27\"}]\n",
        );
    }
}

/// kubectl behind a shell script that logs every invocation.
struct CountingKubectl {
    _tmp: TempDir,
    script: PathBuf,
    log: PathBuf,
}

impl CountingKubectl {
    fn new() -> CountingKubectl {
        let tmp = tempfile::tempdir().expect("temp dir");
        let script = tmp.path().join("kubectl");
        let log = tmp.path().join("calls.log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec kubectl \"$@\"\n",
                log.display()
            ),
        )
        .expect("script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        CountingKubectl {
            _tmp: tmp,
            script,
            log,
        }
    }

    fn kustomize(&self, repo: &Repo) -> Kustomize {
        Kustomize::with_command(KustomizeCommand::Kubectl(self.script.clone()), &repo.root)
            .expect("kubectl works")
    }

    /// How many `kubectl kustomize` processes ran so far.
    fn builds(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("kustomize "))
            .count()
    }
}

/// What plain `kubectl kustomize <dir>` prints, parsed, with Secret values blanked like envparity does.
fn plain_kustomize(dir: &Path) -> Vec<Value> {
    let output = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("yaml");
    for doc in &mut docs {
        if doc["kind"] == "Secret" {
            for field in ["data", "stringData"] {
                if let Some(map) = doc.get_mut(field).and_then(Value::as_object_mut) {
                    map.values_mut().for_each(|v| *v = json!(""));
                }
            }
        }
    }
    docs
}

/// Asserts that `actual` equals `expected` object by object, naming the first difference.
fn assert_same_objects(actual: &[Value], expected: &[Value], what: &str) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            a == e,
            "{what}: object {i} differs\nrendered: {a}\nexpected: {e}"
        );
    }
    assert_eq!(actual.len(), expected.len(), "{what}: object count");
}

fn ok(result: &Result<Rendered, RenderError>) -> &Rendered {
    match result {
        Ok(rendered) => rendered,
        Err(err) => panic!("render failed: {err}"),
    }
}

fn values(rendered: &Rendered) -> Vec<Value> {
    rendered.objects.iter().map(|o| o.value.clone()).collect()
}

fn object<'a>(rendered: &'a Rendered, kind: &str) -> &'a envparity::render::RenderedObject {
    rendered
        .objects
        .iter()
        .find(|o| o.value["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {rendered:?}"))
}

fn assert_no_envparity_annotations(rendered: &Rendered) {
    for object in &rendered.objects {
        let text = object.value.to_string();
        for key in [
            "envparity.io/overlay",
            "config.kubernetes.io/origin",
            "alpha.config.kubernetes.io",
        ] {
            assert!(!text.contains(key), "{key} left in {text}");
        }
    }
}

#[test]
fn batch_render_equals_rendering_each_overlay_alone() {
    let repo = Repo::new();
    for service in ["web", "api", "worker"] {
        repo.base(service);
        repo.dev(service);
    }
    repo.prod("web");
    repo.prod("api");
    // The worker's dev overlay asks for fifo order, which only a top kustomization can honour: it must
    // be batched apart and still print in its own order. Its CronJob has templates in templates.
    repo.write(
        "apps/worker/overlays/dev/kustomization.yaml",
        "resources: [../../base, cronjob.yaml]\nnamePrefix: dev-\nsortOptions: {order: fifo}\npatches:\n- path: replicas.yaml\n",
    );
    repo.write(
        "apps/worker/overlays/dev/cronjob.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: sweep}\nspec:\n  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: sweep, image: busybox}]\n",
    );
    let requests = vec![
        repo.request("web", "dev"),
        repo.request("api", "dev"),
        repo.request("worker", "dev"),
        repo.request("web", "prod"),
        repo.request("api", "prod"),
    ];
    let kubectl = CountingKubectl::new();
    let kustomize = kubectl.kustomize(&repo);

    let batched = kustomize.render(&requests);
    // dev, dev with fifo order, prod.
    assert_eq!(kubectl.builds(), 3);

    for (request, batch) in requests.iter().zip(&batched) {
        let batch = ok(batch);
        let alone = kustomize.render(std::slice::from_ref(request));
        let alone = ok(&alone[0]);
        assert_eq!(batch, alone, "{}", request.dir.display());
        assert_eq!(
            values(batch),
            plain_kustomize(&request.dir),
            "{}",
            request.dir.display()
        );
        assert_no_envparity_annotations(batch);
        let config = object(batch, "ConfigMap").value["metadata"]["name"]
            .as_str()
            .expect("name");
        let expected_prefix = match request.env.as_str() {
            "dev" => format!("dev-{}-config-", request.service),
            _ => format!("{}-config-", request.service),
        };
        assert!(config.starts_with(&expected_prefix), "{config}");
        assert_eq!(
            config.len(),
            expected_prefix.len() + 10,
            "hash suffix in {config}"
        );
    }
    // The overlay's own commonAnnotations stay, on the object and its pod template.
    let web_prod = object(ok(&batched[3]), "Deployment");
    assert_eq!(
        web_prod.value["metadata"]["annotations"],
        json!({"team": "payments"})
    );
    assert_eq!(
        web_prod.value["spec"]["template"]["metadata"]["annotations"],
        json!({"team": "payments"})
    );
}

#[test]
fn overlays_declaring_the_same_ids_render_in_one_run() {
    let repo = Repo::new();
    // Every service's dev overlay brings the shared namespace and the same CRD (kinds `namePrefix` leaves
    // alone), and every service names its objects alike: one run would register each id three times.
    repo.write(
        "shared/dev-namespace/kustomization.yaml",
        "resources: [namespace.yaml, crd.yaml]\n",
    );
    repo.write(
        "shared/dev-namespace/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n",
    );
    repo.write(
        "shared/dev-namespace/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced}\n",
    );
    let services = ["web", "api", "worker"];
    repo.base("web");
    for service in services {
        // Same object names in every service: copies of the web base.
        if service != "web" {
            copy_dir(&repo.dir("web", "base"), &repo.dir(service, "base"));
        }
        repo.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            "resources: [../../base, ../../../../shared/dev-namespace]\nnamespace: dev\n",
        );
    }
    let requests: Vec<RenderRequest> = services.iter().map(|s| repo.request(s, "dev")).collect();
    let kubectl = CountingKubectl::new();
    let results = kubectl.kustomize(&repo).render(&requests);
    for (request, result) in requests.iter().zip(&results) {
        let rendered = ok(result);
        assert_eq!(values(rendered), plain_kustomize(&request.dir));
        assert_eq!(
            object(rendered, "Namespace").origin.as_deref(),
            Some("shared/dev-namespace/namespace.yaml")
        );
        assert_eq!(
            object(rendered, "Deployment").origin.as_deref(),
            Some(format!("apps/{}/base/deployment.yaml", request.service).as_str())
        );
        assert_no_envparity_annotations(rendered);
    }
    assert_eq!(kubectl.builds(), 1, "one run, nothing split off");
}

#[test]
fn a_namespace_spelled_with_a_yaml_escape_still_renders_exactly() {
    let repo = Repo::new();
    repo.base("web");
    for service in ["api", "worker"] {
        copy_dir(&repo.dir("web", "base"), &repo.dir(service, "base"));
    }
    for service in ["web", "api", "worker"] {
        repo.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            "resources: [../../base, ns.yaml]\nnamespace: dev\n",
        );
    }
    // No file of the worker's overlay spells the kind, so its wrapper does not rename Namespaces: the
    // object comes out without a marker, and the shared run is split until the worker is alone.
    for service in ["web", "api"] {
        repo.write(
            &format!("apps/{service}/overlays/dev/ns.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n",
        );
    }
    repo.write(
        "apps/worker/overlays/dev/ns.yaml",
        "apiVersion: v1\nkind: \"N\\u0061mespace\"\nmetadata: {name: dev}\n",
    );
    let requests: Vec<RenderRequest> = ["web", "api", "worker"]
        .iter()
        .map(|s| repo.request(s, "dev"))
        .collect();
    let kubectl = CountingKubectl::new();
    let results = kubectl.kustomize(&repo).render(&requests);
    for (request, result) in requests.iter().zip(&results) {
        let rendered = ok(result);
        assert_eq!(values(rendered), plain_kustomize(&request.dir));
        assert_eq!(
            object(rendered, "Namespace").value["metadata"]["name"],
            "dev"
        );
    }
    // The shared run, then web alone and api + worker, then api and worker alone.
    assert_eq!(kubectl.builds(), 5);
}

#[test]
fn a_broken_overlay_gets_its_own_error_while_the_rest_of_its_batch_renders() {
    let repo = Repo::new();
    for service in ["web", "api", "worker", "cart", "mail"] {
        repo.base(service);
        repo.dev(service);
    }
    // A patch file that does not exist.
    repo.write(
        "apps/api/overlays/dev/kustomization.yaml",
        "resources: [../../base]\npatches:\n- path: missing.yaml\n",
    );
    // A YAML syntax error on line 4.
    repo.write(
        "apps/worker/overlays/dev/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: dev-\n  nested: oops\n",
    );
    // Valid inputs that only kustomize can refuse: the patch targets no object.
    repo.write(
        "apps/cart/overlays/dev/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nope\nspec:\n  replicas: 2\n",
    );
    let requests: Vec<RenderRequest> = ["web", "api", "worker", "cart", "mail"]
        .iter()
        .map(|s| repo.request(s, "dev"))
        .collect();
    let results = Kustomize::detect(&repo.root)
        .expect("kustomize")
        .render(&requests);

    for i in [0, 4] {
        assert_eq!(values(ok(&results[i])), plain_kustomize(&requests[i].dir));
    }
    match &results[1] {
        Err(
            err @ RenderError::MissingFile {
                kustomization,
                path,
            },
        ) => {
            assert_eq!(
                kustomization,
                Path::new("apps/api/overlays/dev/kustomization.yaml")
            );
            assert_eq!(path, Path::new("apps/api/overlays/dev/missing.yaml"));
            assert_eq!(
                err.to_string(),
                "apps/api/overlays/dev/kustomization.yaml refers to apps/api/overlays/dev/missing.yaml, which does not exist"
            );
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
    match &results[2] {
        Err(err @ RenderError::KustomizationSyntax { file, line, .. }) => {
            assert_eq!(
                file,
                Path::new("apps/worker/overlays/dev/kustomization.yaml")
            );
            assert_eq!(*line, Some(4));
            assert_eq!(
                err.to_string(),
                "YAML syntax error in apps/worker/overlays/dev/kustomization.yaml at line 4, column 9: \
                 mapping values are not allowed in this context"
            );
        }
        other => panic!("expected KustomizationSyntax, got {other:?}"),
    }
    match &results[3] {
        Err(err @ RenderError::KustomizeFailed { dir, message }) => {
            assert_eq!(dir, Path::new("apps/cart/overlays/dev"));
            assert!(message.contains("nope"), "{message}");
            let text = err.to_string();
            for leak in [
                repo.root.to_string_lossy().as_ref(),
                "envparity-kustomize",
                "'w3'",
                "E1125",
                "run.go",
            ] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
        }
        other => panic!("expected KustomizeFailed, got {other:?}"),
    }
}

#[test]
fn a_remote_base_is_refused_without_running_kustomize() {
    let repo = Repo::new();
    repo.write(
        "apps/x/overlays/prod/kustomization.yaml",
        "resources:\n- https://github.com/org/infra//apps/x/base?ref=v1.2.0\n",
    );
    // Reached through a local base, the error names the base's file.
    repo.write(
        "apps/y/overlays/prod/kustomization.yaml",
        "resources: [../../base]\n",
    );
    repo.write(
        "apps/y/base/kustomization.yaml",
        "resources: [github.com/org/infra/apps/y?ref=main]\n",
    );
    let kubectl = CountingKubectl::new();
    let results = kubectl
        .kustomize(&repo)
        .render(&[repo.request("x", "prod"), repo.request("y", "prod")]);
    assert_eq!(kubectl.builds(), 0);
    match &results[0] {
        Err(err @ RenderError::RemoteResource { .. }) => {
            assert_eq!(
                err.to_string(),
                "unsupported input: remote resource https://github.com/org/infra//apps/x/base?ref=v1.2.0 in apps/x/overlays/prod/kustomization.yaml; envparity does not fetch remote bases"
            );
            assert_eq!(err.kind(), envparity::codes::ErrorKind::Unsupported);
        }
        other => panic!("expected RemoteResource, got {other:?}"),
    }
    match &results[1] {
        Err(RenderError::RemoteResource { kustomization, url }) => {
            assert_eq!(kustomization, Path::new("apps/y/base/kustomization.yaml"));
            assert_eq!(url, "github.com/org/infra/apps/y?ref=main");
        }
        other => panic!("expected RemoteResource, got {other:?}"),
    }
}

#[test]
fn cache_hits_unchanged_overlays_and_misses_exactly_the_changed_ones() {
    let repo = Repo::new();
    repo.base("web");
    repo.dev("web");
    repo.prod("web");
    repo.base("api");
    repo.dev("api");
    let requests = vec![
        repo.request("web", "dev"),
        repo.request("web", "prod"),
        repo.request("api", "dev"),
    ];
    let cache = tempfile::tempdir().expect("cache dir");
    let kubectl = CountingKubectl::new();
    let seal = Seal::load_or_create(&cache.path().join("render.key")).expect("seal");
    let cached = CachedRenderer::new(
        kubectl.kustomize(&repo),
        cache.path().join("render"),
        seal,
        repo.root.clone(),
    );
    let stats = |hits, misses| CacheStats { hits, misses };

    let first = cached.render(&requests);
    assert_eq!(cached.stats(), stats(0, 3));
    let uncached = kubectl.kustomize(&repo).render(&requests);
    for (a, b) in first.iter().zip(&uncached) {
        assert_eq!(ok(a), ok(b));
    }

    let builds = kubectl.builds();
    let second = cached.render(&requests);
    assert_eq!(cached.stats(), stats(3, 0));
    assert_eq!(kubectl.builds(), builds, "no kustomize run on all hits");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(ok(a), ok(b));
    }

    // A patch file of one overlay.
    repo.write(
        "apps/web/overlays/dev/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n",
    );
    let third = cached.render(&requests);
    assert_eq!(cached.stats(), stats(2, 1));
    assert_eq!(
        object(ok(&third[0]), "Deployment").value["spec"]["replicas"],
        5
    );

    // A base file: every overlay of that base.
    repo.write(
        "apps/web/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 8080}]\n",
    );
    cached.render(&requests);
    assert_eq!(cached.stats(), stats(1, 2));

    // A corrupt entry is a miss, and is rewritten.
    let entry = cached
        .entry_path(&repo.dir("api", "dev"))
        .expect("entry path");
    std::fs::write(&entry, "{\"format\": 1, \"rendered\": {\"objects\": [").expect("corrupt");
    let fifth = cached.render(&requests);
    assert_eq!(cached.stats(), stats(2, 1));
    assert_eq!(ok(&fifth[2]), ok(&first[2]));
    let rewritten = std::fs::read_to_string(&entry).expect("entry");
    let (head, body) = rewritten.split_once('\n').expect("a seal line");
    assert!(head.starts_with("envparity-render-cache 2 "), "{head}");
    let rewritten: Value = serde_json::from_str(body).expect("valid json");
    assert_eq!(rewritten["format"], 2);

    // The key of an entry is computable from public inputs; the seal is not. An entry that says something
    // else than the render (a pull request planting a cache), sealed by another machine or copied from
    // another entry, is a miss and is rewritten.
    let forged = body.replace("nginx:1.25", "nginx:forged");
    assert_ne!(forged, body, "the entry holds the image");
    let stranger = tempfile::tempdir().expect("dir");
    let stranger = Seal::load_or_create(&stranger.path().join("render.key")).expect("seal");
    let web = cached.entry_path(&repo.dir("web", "dev")).expect("entry");
    for planted in [
        format!("{head}\n{forged}"),
        format!("envparity-render-cache 2 {}\n{forged}", "0".repeat(64)),
        std::fs::read_to_string(&web).expect("another entry"),
        forged.clone(),
    ] {
        std::fs::write(&entry, planted).expect("plant");
        let again = cached.render(&requests);
        assert_eq!(cached.stats(), stats(2, 1));
        assert_eq!(ok(&again[2]), ok(&first[2]));
    }
    // Another machine's cache over the same directory: neither trusts the other's entries.
    let other = CachedRenderer::new(
        kubectl.kustomize(&repo),
        cache.path().join("render"),
        stranger,
        repo.root.clone(),
    );
    other.render(&requests);
    assert_eq!(other.stats(), stats(0, 3));
    cached.render(&requests);
    assert_eq!(cached.stats(), stats(0, 3));

    // Errors are not cached: a broken overlay misses every time.
    repo.write(
        "apps/api/overlays/dev/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nope\n",
    );
    for _ in 0..2 {
        let results = cached.render(&requests);
        assert!(
            matches!(results[2], Err(RenderError::KustomizeFailed { .. })),
            "{:?}",
            results[2]
        );
        assert_eq!(cached.stats(), stats(2, 1));
    }
}

#[test]
fn origin_and_transformers_point_at_repo_files() {
    let repo = Repo::new();
    repo.base("web");
    repo.dev("web");
    repo.prod("web");
    let results = Kustomize::detect(&repo.root).expect("kustomize").render(&[
        repo.request("web", "dev"),
        repo.request("web", "prod"),
        repo.request("web", "base"),
    ]);
    let dev = ok(&results[0]);
    let deployment = object(dev, "Deployment");
    assert_eq!(
        deployment.origin.as_deref(),
        Some("apps/web/base/deployment.yaml")
    );
    assert_eq!(
        deployment.transformed_by,
        vec!["apps/web/overlays/dev/kustomization.yaml"]
    );
    assert_eq!(
        deployment.value["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web"}})
    );
    assert!(deployment.value["metadata"].get("annotations").is_none());
    assert_eq!(
        object(dev, "Service").origin.as_deref(),
        Some("apps/web/base/service.yaml")
    );
    // Generated objects name the kustomization that configured the generator.
    assert_eq!(
        object(dev, "ConfigMap").origin.as_deref(),
        Some("apps/web/base/kustomization.yaml")
    );

    let prod = object(ok(&results[1]), "Deployment");
    assert_eq!(
        prod.transformed_by,
        vec!["apps/web/overlays/prod/kustomization.yaml"]
    );
    let base = ok(&results[2]);
    assert!(
        base.objects.iter().all(|o| o.transformed_by.is_empty()),
        "{base:?}"
    );
    for rendered in [dev, ok(&results[1]), base] {
        assert_no_envparity_annotations(rendered);
    }
}

#[test]
fn secret_values_are_blanked_in_results_cache_and_errors() {
    let repo = Repo::new();
    repo.write(
        "apps/vault/overlays/dev/kustomization.yaml",
        "resources: [secret.yaml]\nsecretGenerator:\n- name: generated\n  literals: [password=hunter2-literal]\n  envs: [creds.env]\n",
    );
    repo.write("apps/vault/overlays/dev/creds.env", "TOKEN=hunter2-env\n");
    repo.write(
        "apps/vault/overlays/dev/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: static}\ndata: {key: aHVudGVyMi1kYXRh}\nstringData: {other: hunter2-string}\n",
    );
    let cache = tempfile::tempdir().expect("cache dir");
    let cached = CachedRenderer::new(
        Kustomize::detect(&repo.root).expect("kustomize"),
        cache.path().to_path_buf(),
        Seal::load_or_create(&cache.path().join("render.key")).expect("seal"),
        repo.root.clone(),
    );
    let results = cached.render(&[repo.request("vault", "dev")]);
    let rendered = ok(&results[0]);
    let secrets: Vec<&Value> = rendered
        .objects
        .iter()
        .map(|o| &o.value)
        .filter(|v| v["kind"] == "Secret")
        .collect();
    assert_eq!(secrets.len(), 2);
    for secret in &secrets {
        let text = secret.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVy"),
            "{text}"
        );
    }
    let generated = secrets
        .iter()
        .find(|s| {
            s["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("generated-"))
        })
        .expect("generated");
    assert_eq!(generated["data"], json!({"TOKEN": "", "password": ""}));
    let fixed = secrets
        .iter()
        .find(|s| s["metadata"]["name"] == "static")
        .expect("static");
    assert_eq!(fixed["data"], json!({"key": ""}));
    assert_eq!(fixed["stringData"], json!({"other": ""}));
    for entry in std::fs::read_dir(cache.path()).expect("cache dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        assert!(!text.contains("hunter2") && !text.contains("aHVudGVy"));
    }

    // kustomize quotes a malformed literal in its error; envparity cuts it out.
    repo.write(
        "apps/vault/overlays/dev/kustomization.yaml",
        "secretGenerator:\n- name: generated\n  literals: [hunter2-malformed]\n",
    );
    let results = cached.render(&[repo.request("vault", "dev")]);
    match &results[0] {
        Err(err @ RenderError::KustomizeFailed { .. }) => {
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("invalid literal source"), "{text}");
        }
        other => panic!("expected KustomizeFailed, got {other:?}"),
    }
}

#[test]
fn input_files_cover_everything_a_kustomization_reads() {
    let repo = Repo::new();
    repo.base("web");
    repo.write(
        "components/probes/kustomization.yaml",
        "kind: Component\npatches: [{path: probe.yaml}]\n",
    );
    repo.write("components/probes/probe.yaml", "{}\n");
    let dev = "apps/web/overlays/dev";
    repo.write(
        &format!("{dev}/kustomization.yaml"),
        "resources: [../../base, extra.yaml]\n\
         components: [../../../../components/probes]\n\
         patches:\n- path: p1.yaml\n- patch: |-\n    - op: remove\n      path: /spec/replicas\n  target: {kind: Deployment}\n\
         patchesStrategicMerge:\n- p2.yaml\n- |-\n  apiVersion: v1\n  kind: Service\n  metadata: {name: web}\n\
         patchesJson6902:\n- target: {kind: Deployment, name: web}\n  path: p3.yaml\n\
         configMapGenerator:\n- name: files\n  files: [config.json, renamed=raw.txt]\n  envs: [a.env]\n\
         secretGenerator:\n- name: s\n  env: b.env\n\
         crds: [crd.yaml]\n\
         openapi: {path: schema.json}\n\
         replacements: [{path: repl.yaml}]\n\
         configurations: [conf.yaml]\n\
         transformers: [labels.yaml]\n",
    );
    let files = [
        "extra.yaml",
        "p1.yaml",
        "p2.yaml",
        "p3.yaml",
        "config.json",
        "raw.txt",
        "a.env",
        "b.env",
        "crd.yaml",
        "schema.json",
        "repl.yaml",
        "conf.yaml",
        "labels.yaml",
    ];
    for file in files {
        repo.write(&format!("{dev}/{file}"), "x: 1\n");
    }
    let mut expected: Vec<PathBuf> = files
        .iter()
        .map(|f| PathBuf::from(format!("{dev}/{f}")))
        .collect();
    expected.extend(
        [
            "apps/web/overlays/dev/kustomization.yaml",
            "apps/web/base/kustomization.yaml",
            "apps/web/base/deployment.yaml",
            "apps/web/base/service.yaml",
            "components/probes/kustomization.yaml",
            "components/probes/probe.yaml",
        ]
        .map(PathBuf::from),
    );
    expected.sort();
    let dir = repo.root.join(dev);
    assert_eq!(input_files(&dir, &repo.root).expect("inputs"), expected);
    let reader = envparity::input::Reader::new(&repo.root, envparity::input::DEFAULT_MAX_BYTES);
    let kustomization =
        envparity::kustomization::Kustomization::read(&dir, &reader).expect("kustomization");
    assert_eq!(kustomization.patches.len(), 5);

    // Any input change changes the digest; an unrelated file does not.
    let before = input_digest(&dir, &repo.root).expect("digest");
    repo.write("apps/other/unrelated.yaml", "x: 1\n");
    assert_eq!(input_digest(&dir, &repo.root).expect("digest"), before);
    repo.write("components/probes/probe.yaml", "{x: 2}\n");
    assert_ne!(input_digest(&dir, &repo.root).expect("digest"), before);

    // Inputs envparity refuses.
    repo.write(
        "apps/helm/base/kustomization.yaml",
        "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n",
    );
    let helm = input_files(&repo.dir("helm", "base"), &repo.root);
    assert!(matches!(
        helm,
        Err(RenderError::Unsupported {
            field: "helmCharts",
            ..
        })
    ));
    assert_eq!(
        helm.err().map(|e| e.kind()),
        Some(envparity::codes::ErrorKind::Unsupported)
    );
    repo.write(
        "apps/out/base/kustomization.yaml",
        "resources: [../../../../elsewhere]\n",
    );
    assert!(matches!(
        input_files(&repo.dir("out", "base"), &repo.root),
        Err(RenderError::OutsideRepo { .. })
    ));
    repo.write(
        "apps/nokust/base/kustomization.yaml",
        "resources: [../lib]\n",
    );
    std::fs::create_dir_all(repo.root.join("apps/nokust/lib")).expect("mkdir");
    match input_files(&repo.dir("nokust", "base"), &repo.root) {
        Err(RenderError::MissingKustomization {
            dir,
            referenced_from,
        }) => {
            assert_eq!(dir, Path::new("apps/nokust/lib"));
            assert_eq!(
                referenced_from.as_deref(),
                Some(Path::new("apps/nokust/base/kustomization.yaml"))
            );
        }
        other => panic!("expected MissingKustomization, got {other:?}"),
    }
}

#[test]
fn a_kustomize_run_that_hangs_is_stopped_and_reported() {
    let repo = Repo::new();
    repo.base("web");
    repo.prod("web");
    // A kustomize that answers `version` but hangs on a build, as a stuck exec plugin would.
    let tmp = tempfile::tempdir().expect("temp dir");
    let script = tmp.path().join("kubectl");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in version) exec kubectl \"$@\";; esac\nsleep 30\n",
    )
    .expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let kustomize = Kustomize::with_command(KustomizeCommand::Kubectl(script), &repo.root)
        .expect("version answers")
        .with_timeout(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let results = kustomize.render(&[repo.request("web", "prod")]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not stopped in time"
    );
    match &results[0] {
        Err(e @ RenderError::Timeout { seconds: 1, .. }) => {
            assert!(e.to_string().contains("apps/web/overlays/prod"), "{e}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_shared_run_that_times_out_renders_each_overlay_alone_and_only_the_slow_one_fails() {
    let repo = Repo::new();
    for service in ["web", "api", "slow"] {
        repo.base(service);
        repo.prod(service);
    }
    // A kustomize that hangs on any run that includes the `slow` overlay, shared or alone.
    let tmp = tempfile::tempdir().expect("temp dir");
    let script = tmp.path().join("kubectl");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in version) exec kubectl \"$@\";; esac\n\
         for a; do dir=$a; done\nif grep -rqs 'apps/slow' \"$dir\"; then sleep 30; fi\n\
         exec kubectl \"$@\"\n",
    )
    .expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let kustomize = Kustomize::with_command(KustomizeCommand::Kubectl(script), &repo.root)
        .expect("version answers")
        .with_timeout(std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let requests = [
        repo.request("web", "prod"),
        repo.request("slow", "prod"),
        repo.request("api", "prod"),
    ];
    let results = kustomize.render(&requests);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "not stopped in time"
    );
    let uncached = Kustomize::detect(&repo.root)
        .expect("kustomize")
        .render(&[repo.request("web", "prod"), repo.request("api", "prod")]);
    assert_eq!(ok(&results[0]), ok(&uncached[0]));
    assert_eq!(ok(&results[2]), ok(&uncached[1]));
    match &results[1] {
        Err(e @ RenderError::Timeout { .. }) => {
            assert!(e.to_string().contains("apps/slow/overlays/prod"), "{e}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// The kustomization directories under `root`, sorted.
fn kustomization_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                dirs.push(dir.clone());
            }
        }
    }
    dirs.sort();
    dirs
}

/// `plain_kustomize` of every directory, two at a time.
fn plain_kustomize_all(dirs: &[PathBuf]) -> Vec<Vec<Value>> {
    let mut out: Vec<Option<Vec<Value>>> = vec![None; dirs.len()];
    std::thread::scope(|scope| {
        let (even, odd): (Vec<_>, Vec<_>) =
            out.iter_mut().enumerate().partition(|(i, _)| i % 2 == 0);
        for half in [even, odd] {
            scope.spawn(move || {
                for (i, slot) in half {
                    *slot = Some(plain_kustomize(&dirs[i]));
                }
            });
        }
    });
    out.into_iter().map(|o| o.expect("rendered")).collect()
}

/// The request for a kustomization directory of a copied repo: `apps/<service>/base` or
/// `apps/<service>/overlays/<env>`.
fn request_for(root: &Path, dir: &Path) -> RenderRequest {
    let rel: Vec<String> = dir
        .strip_prefix(root)
        .expect("inside the repo")
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let env = match rel.as_slice() {
        [_, _, base] if base == "base" => "base".to_string(),
        [_, _, _, env] => env.clone(),
        other => panic!("unexpected layout: {other:?}"),
    };
    RenderRequest {
        service: rel[1].clone(),
        env,
        dir: dir.to_path_buf(),
        layer: None,
        generate: false,
    }
}

/// The byte-identity proof of shared runs (DESIGN.md, "Rendering fast with the real kustomize"): every
/// base and overlay of the example repo and of every fixture repo, copied side by side into one repo, is
/// rendered in shared runs, one per environment. The fixtures all call their service `web`, so each run
/// holds dozens of overlays declaring `Deployment/web`, `Service/web`, `ConfigMap/web-config-<hash>`, a
/// `Namespace` per environment, ... Each overlay's objects must equal what `kubectl kustomize <dir>`
/// alone prints, whole: names, every name reference, generated hash suffixes, order. Origins and
/// transformers must equal those of a run of the overlay alone.
#[test]
fn shared_runs_render_every_example_and_fixture_overlay_as_kustomize_alone_does() {
    let repo = Repo::new();
    let mut sources = vec![(
        "example".to_string(),
        support::root().join("examples/infra"),
    )];
    let fixtures = support::root().join("tests/fixtures/rules");
    for rule in std::fs::read_dir(&fixtures).expect("fixtures") {
        let rule = rule.expect("entry").path();
        for case in ["fires", "silent"] {
            let dir = rule.join(case);
            if dir.is_dir() {
                let label = format!(
                    "{}-{case}",
                    rule.file_name().expect("name").to_string_lossy()
                );
                sources.push((label, dir));
            }
        }
    }
    assert!(sources.len() > 20, "{sources:?}");
    for (label, source) in &sources {
        for service in std::fs::read_dir(source.join("apps")).expect("apps") {
            let service = service.expect("entry");
            copy_dir(
                &service.path(),
                &repo.root.join(format!(
                    "apps/{label}-{}",
                    service.file_name().to_string_lossy()
                )),
            );
        }
    }
    let dirs = kustomization_dirs(&repo.root.join("apps"));
    let requests: Vec<RenderRequest> = dirs.iter().map(|d| request_for(&repo.root, d)).collect();
    let envs: std::collections::BTreeSet<&str> = requests.iter().map(|r| r.env.as_str()).collect();

    let kubectl = CountingKubectl::new();
    let kustomize = kubectl.kustomize(&repo);
    let shared = kustomize.render(&requests);
    assert_eq!(
        kubectl.builds(),
        envs.len(),
        "one shared run per environment, none split or repeated alone"
    );

    let plain = plain_kustomize_all(&dirs);
    let mut objects = 0;
    for ((request, result), plain) in requests.iter().zip(&shared).zip(&plain) {
        let rendered = ok(result);
        assert_same_objects(&values(rendered), plain, &request.dir.display().to_string());
        assert_no_envparity_annotations(rendered);
        objects += rendered.objects.len();
    }
    assert!(objects > 2 * dirs.len(), "{objects} objects");

    // Origins and transformers: as a run of the overlay alone reports them.
    let alone: Vec<Result<Rendered, RenderError>> = std::thread::scope(|scope| {
        let halves: Vec<_> = requests
            .chunks(requests.len().div_ceil(2))
            .map(|chunk| {
                let kustomize = &kustomize;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|r| kustomize.render(std::slice::from_ref(r)).remove(0))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    for ((request, shared), alone) in requests.iter().zip(&shared).zip(&alone) {
        assert_eq!(ok(shared), ok(alone), "{}", request.dir.display());
    }
}

/// Shared runs on what an overlay can do to names: every name reference kustomize rewrites (generated
/// ConfigMaps and Secrets with their hashes, volumes, service accounts, RBAC subjects and role refs,
/// ingress backends and TLS secrets, HPA targets, StatefulSet service names, priority classes, image pull
/// secrets), an overlay's own `namePrefix` and `nameSuffix`, objects of one overlay that another's
/// references could catch, vars, an APIService, a `namePrefix` below the root, custom name-reference
/// configurations. Every overlay must render exactly as `kubectl kustomize` alone renders it.
#[test]
fn shared_runs_keep_every_name_reference_and_hash_as_kustomize_alone() {
    let repo = Repo::new();
    repo.write(
        "apps/a/base/kustomization.yaml",
        "resources: [workload.yaml, access.yaml, storage.yaml]\n\
         configMapGenerator:\n- name: web-config\n  literals: [MODE=base, LEVEL=info]\n- name: web-files\n  literals: [app.conf=x]\n\
         secretGenerator:\n- name: web-secret\n  literals: [password=hunter2-base]\n",
    );
    repo.write(
        "apps/a/base/workload.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      priorityClassName: web-priority
      imagePullSecrets: [{name: web-pull}]
      containers:
      - name: web
        image: nginx:1.25
        envFrom: [{configMapRef: {name: web-config}}, {secretRef: {name: web-secret}}]
        env:
        - name: LEVEL
          valueFrom: {configMapKeyRef: {name: web-config, key: LEVEL}}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: web-secret, key: password}}
        volumeMounts: [{name: files, mountPath: /etc/web}, {name: data, mountPath: /data}]
      volumes:
      - name: files
        configMap: {name: web-files}
      - name: secret
        secret: {secretName: web-secret}
      - name: data
        persistentVolumeClaim: {claimName: web-data}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web-db}
spec:
  serviceName: web-db
  selector: {matchLabels: {app: web-db}}
  template:
    metadata: {labels: {app: web-db}}
    spec:
      containers: [{name: db, image: postgres:16}]
---
apiVersion: v1
kind: Service
metadata: {name: web-db}
spec:
  clusterIP: None
  selector: {app: web-db}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: web-cron}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: cron
            image: busybox
            envFrom: [{configMapRef: {name: web-config}}]
"#,
    );
    repo.write(
        "apps/a/base/access.yaml",
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web}
subjects: [{kind: ServiceAccount, name: web}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: web-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: web-reader}
subjects: [{kind: ServiceAccount, name: web, namespace: dev}]
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: web-priority}
value: 1000
---
apiVersion: v1
kind: Secret
metadata: {name: web-pull}
type: kubernetes.io/dockerconfigjson
data: {.dockerconfigjson: e30=}
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls}
type: kubernetes.io/tls
data: {tls.crt: eA==, tls.key: eA==}
"#,
    );
    repo.write(
        "apps/a/base/storage.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: web-data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    );
    // Every service a copy of that base: the same names everywhere.
    let services = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];
    for service in &services[1..] {
        copy_dir(&repo.dir("a", "base"), &repo.dir(service, "base"));
    }
    let overlay = |service: &str, text: &str| {
        repo.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            text,
        )
    };
    let plain = "resources: [../../base]\nnamespace: dev\n";
    // Prefixes compose: the overlay's own inside, the marker outside.
    overlay(
        "a",
        "resources: [../../base]\nnamespace: dev\nnamePrefix: dev-\nnameSuffix: -v1\n",
    );
    // A merged generator: another hash.
    overlay(
        "b",
        &format!(
            "{plain}configMapGenerator:\n- name: web-config\n  behavior: merge\n  literals: [MODE=b]\n"
        ),
    );
    // The kinds namePrefix leaves alone, the same ids as in other overlays.
    overlay(
        "c",
        "resources: [../../base, ns.yaml, crd.yaml]\nnamespace: dev\nnamePrefix: c-\n",
    );
    repo.write(
        "apps/c/overlays/dev/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n",
    );
    repo.write(
        "apps/c/overlays/dev/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced}\n",
    );
    for service in ["e", "g", "k"] {
        copy_dir(
            &repo.root.join("apps/c/overlays/dev"),
            &repo.dir(service, "dev"),
        );
    }
    // d refers to a ConfigMap only e generates: alone, kustomize leaves the reference as it is; in a
    // shared run it would catch e's.
    overlay("d", "resources: [../../base, job.yaml]\nnamespace: dev\n");
    repo.write(
        "apps/d/overlays/dev/job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: once, image: busybox, envFrom: [{configMapRef: {name: only-in-e}}]}]\n",
    );
    overlay(
        "e",
        "resources: [../../base, ns.yaml, crd.yaml]\nnamespace: dev\nconfigMapGenerator:\n- name: only-in-e\n  literals: [X=1]\n",
    );
    // f declares a var (a value that is no name, so no marker shows where it went); g spells `$(WEB_APP)`
    // as Kubernetes' own env expansion, which must stay as it is.
    overlay(
        "f",
        "resources: [../../base, pod.yaml]\nnamespace: dev\nvars:\n- name: WEB_APP\n  objref: {kind: Service, name: web, apiVersion: v1}\n  fieldref: {fieldPath: spec.selector.app}\n",
    );
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: probe}\nspec:\n  containers: [{name: p, image: busybox, args: [\"--app=$(WEB_APP)\"]}]\n";
    repo.write("apps/f/overlays/dev/pod.yaml", pod);
    overlay(
        "g",
        "resources: [../../base, ns.yaml, crd.yaml, pod.yaml]\nnamespace: dev\nnamePrefix: g-\n",
    );
    repo.write("apps/g/overlays/dev/pod.yaml", pod);
    // h: an APIService names its Service, which the overlay prefixes.
    overlay(
        "h",
        "resources: [../../base, apiservice.yaml]\nnamespace: dev\nnamePrefix: dev-\n",
    );
    repo.write(
        "apps/h/overlays/dev/apiservice.yaml",
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.example.com}\nspec:\n  group: metrics.example.com\n  version: v1beta1\n  groupPriorityMinimum: 100\n  versionPriority: 100\n  service: {name: web, namespace: dev}\n",
    );
    // i: a prefix on one part of the overlay only.
    overlay(
        "i",
        "resources: [../../base, ../../../../lib/cache]\nnamespace: dev\n",
    );
    repo.write(
        "lib/cache/kustomization.yaml",
        "namePrefix: cache-\nresources: [cache.yaml]\nconfigMapGenerator:\n- name: web-config\n  literals: [MODE=cache]\n",
    );
    repo.write(
        "lib/cache/cache.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: redis}\nspec:\n  selector: {matchLabels: {app: redis}}\n  template:\n    metadata: {labels: {app: redis}}\n    spec:\n      containers: [{name: redis, image: redis:7, envFrom: [{configMapRef: {name: web-config}}]}]\n",
    );
    // j teaches kustomize a name reference of its own; k has the object it would rewrite, and no such
    // configuration.
    overlay(
        "j",
        "resources: [../../base, widget.yaml]\nnamespace: dev\nnamePrefix: j-\nconfigurations: [widgets.yaml]\n",
    );
    repo.write(
        "apps/j/overlays/dev/widgets.yaml",
        "nameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - path: spec/configName\n    kind: Widget\n",
    );
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {configName: web-config}\n";
    repo.write("apps/j/overlays/dev/widget.yaml", widget);
    overlay(
        "k",
        "resources: [../../base, ns.yaml, crd.yaml, widget.yaml]\nnamespace: dev\nnamePrefix: k-\n",
    );
    repo.write("apps/k/overlays/dev/widget.yaml", widget);

    // l: a cluster-scoped object names a Secret that two bases below the root prefix, in two namespaces.
    // Alone, kustomize compares the PersistentVolume's empty prefix list with theirs and leaves the name;
    // with a marker on every list it would take the first of the two.
    overlay(
        "l",
        "resources: [pv.yaml, ../../../../lib/creds-a, ../../../../lib/creds-b]\n",
    );
    repo.write(
        "apps/l/overlays/dev/pv.yaml",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: share}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteMany]\n  azureFile: {secretName: creds, shareName: share}\n",
    );
    for ns in ["a", "b"] {
        repo.write(
            &format!("lib/creds-{ns}/kustomization.yaml"),
            &format!("namePrefix: x-\nnamespace: {ns}\nresources: [secret.yaml]\n"),
        );
        repo.write(
            &format!("lib/creds-{ns}/secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n",
        );
    }

    let requests: Vec<RenderRequest> = services.iter().map(|s| repo.request(s, "dev")).collect();
    let kubectl = CountingKubectl::new();
    let results = kubectl.kustomize(&repo).render(&requests);
    let dirs: Vec<PathBuf> = requests.iter().map(|r| r.dir.clone()).collect();
    for ((request, result), plain) in requests
        .iter()
        .zip(&results)
        .zip(plain_kustomize_all(&dirs))
    {
        let rendered = ok(result);
        assert_same_objects(&values(rendered), &plain, &request.service);
        assert_no_envparity_annotations(rendered);
    }
    // Spot checks of what the comparison covers.
    let by_name = |i: usize, kind: &str| -> Vec<String> {
        ok(&results[i])
            .objects
            .iter()
            .filter(|o| o.value["kind"] == kind)
            .map(|o| {
                o.value["metadata"]["name"]
                    .as_str()
                    .expect("name")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(by_name(0, "Deployment"), vec!["dev-web-v1"]);
    assert_eq!(by_name(2, "Namespace"), vec!["dev"]);
    assert_eq!(
        by_name(2, "CustomResourceDefinition"),
        vec!["widgets.example.com"]
    );
    let d_job = ok(&results[3])
        .objects
        .iter()
        .find(|o| o.value["kind"] == "Job")
        .expect("job");
    assert_eq!(
        d_job.value["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        "only-in-e"
    );
    let pv = ok(&results[11])
        .objects
        .iter()
        .find(|o| o.value["kind"] == "PersistentVolume")
        .expect("pv");
    assert_eq!(pv.value["spec"]["azureFile"]["secretName"], "creds");
    // One shared run for a, b, c, d, e, g, h, k; then d (it caught e's ConfigMap) and h (an APIService)
    // alone; f (vars), i and l (a prefix below the root) and j (its own configurations) alone from the
    // start.
    assert_eq!(kubectl.builds(), 7);
}

#[test]
fn a_broken_overlay_is_found_by_bisection() {
    let repo = Repo::new();
    repo.base("web");
    let services: Vec<String> = (0..16).map(|i| format!("s{i:02}")).collect();
    for service in &services {
        // The same names in every service.
        copy_dir(&repo.dir("web", "base"), &repo.dir(service, "base"));
        repo.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            "resources: [../../base]\nnamespace: dev\n",
        );
    }
    let requests: Vec<RenderRequest> = services.iter().map(|s| repo.request(s, "dev")).collect();
    // Valid inputs that only kustomize can refuse: a patch that targets no object.
    let break_overlay = |service: &str| {
        repo.write(
            &format!("apps/{service}/overlays/dev/kustomization.yaml"),
            "resources: [../../base]\nnamespace: dev\npatches:\n- path: nope.yaml\n",
        );
        repo.write(
            &format!("apps/{service}/overlays/dev/nope.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nope}\nspec: {replicas: 2}\n",
        );
    };
    let runs = |broken: &[usize]| -> usize {
        let kubectl = CountingKubectl::new();
        let results = kubectl.kustomize(&repo).render(&requests);
        for (i, result) in results.iter().enumerate() {
            if broken.contains(&i) {
                assert!(
                    matches!(result, Err(RenderError::KustomizeFailed { .. })),
                    "{i}: {result:?}"
                );
            } else {
                assert_eq!(values(ok(result)), plain_kustomize(&requests[i].dir));
            }
        }
        kubectl.builds()
    };
    break_overlay("s05");
    // The failed run, s05 alone, and the other 15 in two halves.
    assert_eq!(runs(&[5]), 4);
    break_overlay("s11");
    break_overlay("s13");
    // 16 fail (naming s05); s05 alone, s00-s07 fine, s08-s15 fail (naming s11); s11 alone, s08-s10
    // fine, s12-s15 fail (naming s13); s13 alone, s12 and s14-s15 fine. However many overlays are broken,
    // no chain of retries is deeper than the halvings of the batch.
    assert_eq!(runs(&[5, 11, 13]), 10);
}
