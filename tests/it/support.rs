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

/// Runs `envparity` with `args` in `cwd`.
pub fn envparity(cwd: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_envparity"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("CI", "1")
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
        rule: "limit-inversion".into(),
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
