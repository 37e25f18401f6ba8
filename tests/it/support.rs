//! Shared helpers: throwaway copies of fixture repos, running the binary.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies `src` (a directory) into `dst`.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

/// A temp copy of a fixture repo (path relative to the crate root).
pub fn fixture_copy(rel: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join(rel), t.path());
    t
}

/// The envparity binary as every test runs it: no `RUST_LOG`, `CI` set (no progress bars), and a user cache
/// directory of the tests' own (`XDG_CACHE_HOME`), where state directories default to when none is given.
pub fn command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_envparity"));
    command
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .env("XDG_CACHE_HOME", cache_home());
    command
}

/// The tests' user cache directory (under cargo's temporary directory for integration tests).
pub fn cache_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Runs `envparity` with `args` in `cwd`.
pub fn envparity(cwd: &Path, args: &[&str]) -> Output {
    command()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run envparity")
}

/// Stdout parsed as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A `limit-inversion` finding of container `name` in `service` (staging 2Gi, production 1Gi), with the
/// fingerprint the engine would give it.
pub fn inversion_finding(
    service: &str,
    name: &str,
    severity: envparity::finding::Severity,
) -> envparity::finding::Finding {
    let field = "resources.limits.memory";
    envparity::finding::Finding {
        rule: envparity::codes::RuleId::LimitInversion,
        severity,
        service: service.into(),
        kind: "Deployment".into(),
        name: name.into(),
        container: Some(name.into()),
        envs: vec!["staging".into(), "production".into()],
        field: field.into(),
        values: indexmap::IndexMap::from([
            ("staging".to_string(), "2Gi".to_string()),
            ("production".to_string(), "1Gi".to_string()),
        ]),
        message: format!("{service} {name}: staging allows more memory than production"),
        fingerprint: envparity::finding::fingerprint(
            "limit-inversion",
            service,
            "Deployment",
            name,
            Some(name),
            field,
        ),
        files: indexmap::IndexMap::new(),
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.1, connection closed after): the status code and the body, or
/// `None` while nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// The first finding of `rule` in a JSON report (`check`/`scan --format json`); panics with the report when
/// there is none.
pub fn finding<'v>(report: &'v serde_json::Value, rule: &str) -> &'v serde_json::Value {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no `{rule}` finding in: {report}"))
}

/// Writes `text` to `root/path`, creating its directories.
pub fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The service `web` of the live tests: a Deployment (2 replicas, memory limit 512Mi) and a Service in
/// `apps/web/base`, labelled `app.kubernetes.io/instance: web`, and overlays for staging and production
/// that set no namespace.
pub fn write_web_repo(root: &Path) {
    write(
        root,
        "apps/web/base/kustomization.yaml",
        "resources: [deployment.yaml, service.yaml]\nlabels:\n  - pairs: {app.kubernetes.io/instance: web}\n",
    );
    write(
        root,
        "apps/web/base/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.4.2
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
"#,
    );
    write(
        root,
        "apps/web/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 80\n      targetPort: 8080\n",
    );
    for env in ["staging", "production"] {
        write(
            root,
            &format!("apps/web/overlays/{env}/kustomization.yaml"),
            "resources: [../../base]\n",
        );
    }
}
