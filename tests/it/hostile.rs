//! Hostile files in the checked repository (DESIGN.md, "Untrusted input"): a link to `/dev/zero`, a FIFO, a
//! chain of links leaving the repository, a file over `limits.max_file_bytes`. Each is an error naming the
//! file for its overlay only; the rest of the repository is still checked, quickly and in small memory.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{copy_dir, json, root};

const CLEAN: &str = "tests/fixtures/rules/image/silent";

/// A temp directory holding `repo/` (a copy of the clean fixture) and `outside/secret.yaml`.
struct Trap {
    tmp: tempfile::TempDir,
}

impl Trap {
    fn new() -> Trap {
        let tmp = tempfile::tempdir().expect("tempdir");
        copy_dir(&root().join(CLEAN), &tmp.path().join("repo"));
        fs::create_dir_all(tmp.path().join("outside")).expect("mkdir");
        fs::write(
            tmp.path().join("outside/secret.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\ndata: {token: s3cr3t-outside}\n",
        )
        .expect("write");
        Trap { tmp }
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    /// Copies service `web` to `service` and adds `file` to the resources of its `env` overlay.
    fn service_with_resource(&self, service: &str, env: &str, file: &str) -> PathBuf {
        let repo = self.repo();
        copy_dir(
            &repo.join("apps/web"),
            &repo.join(format!("apps/{service}")),
        );
        let overlay = repo.join(format!("apps/{service}/overlays/{env}"));
        let k = overlay.join("kustomization.yaml");
        let text = fs::read_to_string(&k).expect("read");
        let text = text.replace("  - ../../base\n", &format!("  - ../../base\n  - {file}\n"));
        fs::write(&k, text).expect("write");
        overlay
    }
}

/// Runs `envparity` in `cwd`, killed after `limit`; returns its output, how long it took and its peak
/// resident memory (VmHWM, read while it runs).
fn run_bounded(cwd: &Path, args: &[&str], limit: Duration) -> (Output, Duration, u64) {
    run_bounded_env(cwd, args, &[], limit)
}

/// [`run_bounded`] with `envs` set for envparity.
fn run_bounded_env(
    cwd: &Path,
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> (Output, Duration, u64) {
    let started = Instant::now();
    let mut child = crate::support::command()
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn envparity");
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kib = 0;
    // Pipes are drained by threads: a chatty child must not block on a full pipe while we poll.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).map(|_| buf)
    });
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("envparity {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stdout = out_reader.join().expect("join").expect("stdout");
    let stderr = err_reader.join().expect("join").expect("stderr");
    (
        Output {
            status,
            stdout,
            stderr,
        },
        elapsed,
        peak_kib * 1024,
    )
}

fn errors_of<'v>(report: &'v serde_json::Value, service: &str) -> Vec<&'v serde_json::Value> {
    report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["service"] == service)
        .collect()
}

fn findings_of<'v>(report: &'v serde_json::Value, service: &str) -> Vec<&'v serde_json::Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["service"] == service)
        .collect()
}

#[test]
fn a_link_to_dev_zero_a_fifo_and_a_link_out_of_the_repo_are_errors_naming_them_and_the_rest_is_checked()
 {
    let trap = Trap::new();
    let dev = trap.service_with_resource("zero", "dev", "zero.yaml");
    symlink("/dev/zero", dev.join("zero.yaml")).expect("symlink");
    let staging = trap.service_with_resource("fifo", "staging", "pipe.yaml");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        staging.join("pipe.yaml"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
    // a.yaml -> b.yaml, both in the repo; b.yaml -> ../../../../../outside/secret.yaml, out of it.
    let production = trap.service_with_resource("escape", "production", "a.yaml");
    symlink(
        "../../../../../outside/secret.yaml",
        production.join("b.yaml"),
    )
    .expect("symlink b");
    symlink("b.yaml", production.join("a.yaml")).expect("symlink a");
    let state = tempfile::tempdir().expect("tempdir");
    let state_dir = state.path().to_string_lossy().into_owned();

    let (out, elapsed, peak) = run_bounded(
        &trap.repo(),
        &[
            "check", "--repo", ".", "--state", &state_dir, "--format", "json",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let v = json(&out);
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?}: a hostile file must not slow the scan down"
    );
    assert!(
        peak < 512 * 1024 * 1024,
        "peak memory {} MiB",
        peak / 1024 / 1024
    );

    let one_error = |service: &str, env: &str, names: &str, says: &str| {
        let errors = errors_of(&v, service);
        assert_eq!(errors.len(), 1, "{service}: {errors:#?}");
        assert_eq!(errors[0]["env"], env, "{:#?}", errors[0]);
        let message = errors[0]["message"].as_str().expect("message");
        assert!(message.contains(names), "{message}");
        assert!(message.contains(says), "{message}");
    };
    one_error(
        "zero",
        "dev",
        "apps/zero/overlays/dev/zero.yaml",
        "is a device, not a regular file",
    );
    one_error(
        "fifo",
        "staging",
        "apps/fifo/overlays/staging/pipe.yaml",
        "is a FIFO, not a regular file",
    );
    one_error(
        "escape",
        "production",
        "apps/escape/overlays/production/a.yaml",
        "outside",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("s3cr3t-outside") && !stderr.contains("s3cr3t-outside"),
        "nothing is read through a link leaving the repository"
    );

    // The ordinary service is checked as if nothing happened, and so are the trap services' other
    // environments.
    assert!(errors_of(&v, "web").is_empty(), "{v:#}");
    let web = findings_of(&v, "web");
    assert_eq!(web.len(), 1, "{web:#?}");
    assert_eq!(web[0]["rule"], "replicas");
    assert_eq!(
        web[0]["envs"],
        serde_json::json!(["dev", "staging", "production"])
    );
    let zero = findings_of(&v, "zero");
    assert!(
        zero.iter().any(|f| f["rule"] == "replicas"
            && f["envs"] == serde_json::json!(["staging", "production"])),
        "{zero:#?}"
    );
}

#[test]
fn a_small_max_file_bytes_makes_an_ordinary_overlay_file_an_error_naming_it() {
    let trap = Trap::new();
    let repo = trap.repo();
    let staging = repo.join("apps/web/overlays/staging/kustomization.yaml");
    let mut text = fs::read_to_string(&staging).expect("read");
    text.push_str(&"# padding\n".repeat(400));
    fs::write(&staging, text).expect("write");
    fs::write(
        repo.join("config.toml"),
        "[source]\npath = \".\"\n\n[limits]\nmax_file_bytes = 3000\n",
    )
    .expect("write");
    let state = tempfile::tempdir().expect("tempdir");
    let state_dir = state.path().to_string_lossy().into_owned();
    let (out, _, _) = run_bounded(
        &repo,
        &["check", "--state", &state_dir, "--format", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let errors = errors_of(&v, "web");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["env"], "staging");
    assert_eq!(
        errors[0]["message"],
        "apps/web/overlays/staging/kustomization.yaml is larger than 3000 bytes (limits.max_file_bytes)"
    );
    // dev and production are still compared.
    let replicas = findings_of(&v, "web");
    assert!(
        replicas
            .iter()
            .any(|f| f["envs"] == serde_json::json!(["dev", "production"])),
        "{v:#}"
    );

    fs::write(repo.join("config.toml"), "[limits]\nmax_file_bytes = 0\n").expect("write");
    let (out, _, _) = run_bounded(&repo, &["check"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.toml:2: `limits.max_file_bytes` must be positive"),
        "{stderr}"
    );
}

/// Runs `check --format json` in `repo` with a fresh state directory; the report, the run's output, how
/// long it took and its peak memory.
fn check_json(
    repo: &Path,
    envs: &[(&str, &std::ffi::OsStr)],
) -> (serde_json::Value, Output, Duration, u64) {
    let state = tempfile::tempdir().expect("tempdir");
    let state_dir = state.path().to_string_lossy().into_owned();
    let (out, elapsed, peak) = run_bounded_env(
        repo,
        &[
            "check", "--repo", ".", "--state", &state_dir, "--format", "json",
        ],
        envs,
        Duration::from_secs(90),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (json(&out), out, elapsed, peak)
}

#[test]
fn a_kustomization_file_that_is_a_link_to_dev_zero_or_a_fifo_is_an_error_naming_it() {
    let trap = Trap::new();
    let repo = trap.repo();
    copy_dir(&repo.join("apps/web"), &repo.join("apps/zero"));
    let dev = repo.join("apps/zero/overlays/dev/kustomization.yaml");
    fs::remove_file(&dev).expect("rm");
    symlink("/dev/zero", &dev).expect("symlink");
    copy_dir(&repo.join("apps/web"), &repo.join("apps/fifo"));
    let staging = repo.join("apps/fifo/overlays/staging/kustomization.yaml");
    fs::remove_file(&staging).expect("rm");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &staging,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");

    let (v, _, elapsed, peak) = check_json(&repo, &[]);
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    assert!(peak < 512 * 1024 * 1024, "peak {} MiB", peak >> 20);
    for (service, env, file, says) in [
        (
            "zero",
            "dev",
            "apps/zero/overlays/dev/kustomization.yaml",
            "is a device",
        ),
        (
            "fifo",
            "staging",
            "apps/fifo/overlays/staging/kustomization.yaml",
            "is a FIFO",
        ),
    ] {
        let errors = errors_of(&v, service);
        assert!(
            errors.iter().any(|e| e["env"] == env
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(file) && m.contains(says))),
            "{service}: {v:#}"
        );
        // The service's other environments are still compared.
        assert!(
            findings_of(&v, service)
                .iter()
                .any(|f| f["rule"] == "replicas"),
            "{service}: {v:#}"
        );
    }
    assert!(errors_of(&v, "web").is_empty(), "{v:#}");
}

#[test]
fn a_document_nested_nine_thousand_deep_is_an_error_naming_its_file_in_bounded_time_and_memory() {
    let trap = Trap::new();
    let overlay = trap.service_with_resource("deep", "dev", "deep.yaml");
    // Compact nested sequences (`- - - 1`): 18 kB on disk, which kustomize would print re-indented,
    // one level of indentation more per line.
    fs::write(
        overlay.join("deep.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nnested:\n{}1\n",
            "- ".repeat(9000)
        ),
    )
    .expect("write");
    let (v, _, elapsed, peak) = check_json(&trap.repo(), &[]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(peak < 512 * 1024 * 1024, "peak {} MiB", peak >> 20);
    let errors = errors_of(&v, "deep");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["env"], "dev");
    let message = errors[0]["message"].as_str().expect("message");
    assert!(
        message.contains("apps/deep/overlays/dev/deep.yaml") && message.contains("depth"),
        "{message}"
    );
    assert!(errors_of(&v, "web").is_empty(), "{v:#}");
}

/// Writes an executable shell script.
fn script(file: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    fs::write(file, text).expect("write");
    fs::set_permissions(file, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn kustomize_runs_boxed_found_on_absolute_path_entries_only_and_its_output_is_capped() {
    let trap = Trap::new();
    let repo = trap.repo();
    let spy = trap.tmp.path().join("spy");
    fs::create_dir_all(&spy).expect("mkdir");
    // A `kustomize` the pull request plants, reachable only through the relative PATH entry `bin`.
    script(
        &repo.join("bin/kustomize"),
        &format!(
            "#!/bin/sh\n: > '{}/planted-ran'\necho v5.5.0\n",
            spy.display()
        ),
    );
    // The one on an absolute entry: records its environment and arguments, then prints without end
    // (ignoring SIGPIPE, so only a kill stops it).
    let tools = trap.tmp.path().join("tools");
    script(
        &tools.join("kustomize"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo v5.5.0-spy; exit 0; fi\n\
             /usr/bin/env > '{spy}/env.'$$\necho \"$@\" > '{spy}/args.'$$\n\
             trap '' PIPE\nwhile :; do /bin/cat /dev/zero; done\n",
            spy = spy.display()
        ),
    );
    fs::write(
        repo.join("config.toml"),
        "[source]\npath = \".\"\n\n[limits]\nmax_file_bytes = 100000\n",
    )
    .expect("write");
    let path = format!("bin:{}:/usr/bin:/bin", tools.display());
    let (v, out, elapsed, peak) = check_json(
        &repo,
        &[
            ("PATH", path.as_ref()),
            ("GIT_TOKEN", "planted-git-token".as_ref()),
            ("SMTP_PASSWORD", "planted-smtp".as_ref()),
        ],
    );
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    assert!(peak < 512 * 1024 * 1024, "peak {} MiB", peak >> 20);
    assert!(
        !spy.join("planted-ran").exists(),
        "a relative PATH entry was searched"
    );

    let seen = |prefix: &str| -> Vec<String> {
        fs::read_dir(&spy)
            .expect("spy")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| fs::read_to_string(e.path()).expect("read"))
            .collect()
    };
    let envs = seen("env.");
    assert!(!envs.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    for env in &envs {
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        assert!(!env.contains("planted"), "{env}");
        for name in &names {
            assert!(
                [
                    "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PWD", "SHLVL", "_"
                ]
                .contains(name),
                "{name} reached kustomize: {env}"
            );
        }
        assert!(
            env.lines()
                .any(|l| l == format!("PATH={}:/usr/bin:/bin", tools.display())),
            "{env}"
        );
        let home = env
            .lines()
            .find_map(|l| l.strip_prefix("HOME="))
            .expect("HOME");
        assert!(home.contains("envparity-kustomize-"), "{home}");
    }
    for args in seen("args.") {
        assert!(
            args.starts_with("build --enable-exec=false --load-restrictor LoadRestrictionsRootOnly --enable-alpha-plugins=false --enable-helm=false "),
            "{args}"
        );
    }

    // Every overlay's run printed without end: each is an error naming the overlay.
    for env in ["dev", "staging", "production"] {
        let dir = format!("apps/web/overlays/{env}");
        assert!(
            errors_of(&v, "web").iter().any(|e| e["env"] == env
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&dir) && m.contains("larger than 800000 bytes"))),
            "{env}: {v:#}"
        );
    }
}

#[test]
fn a_hundred_mib_resource_is_an_error_naming_it_under_the_default_limit_in_bounded_time_and_memory()
{
    let trap = Trap::new();
    let overlay = trap.service_with_resource("huge", "staging", "huge.yaml");
    // A real manifest head, then a sparse tail to 100 MiB: the size a generated bundle or a committed
    // dump reaches, past the default `limits.max_file_bytes` (32 MiB) without costing the disk.
    let file = fs::File::create(overlay.join("huge.yaml")).expect("create");
    std::io::Write::write_all(
        &mut &file,
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  blob: |\n    ",
    )
    .expect("write");
    file.set_len(100 << 20).expect("set_len");
    drop(file);

    let (v, out, elapsed, peak) = check_json(&trap.repo(), &[]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(peak < 512 * 1024 * 1024, "peak {} MiB", peak >> 20);
    let errors = errors_of(&v, "huge");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["env"], "staging");
    assert_eq!(
        errors[0]["message"],
        "apps/huge/overlays/staging/huge.yaml is larger than 33554432 bytes (limits.max_file_bytes)"
    );
    // The service's other environments, and the ordinary service, are checked.
    assert!(
        findings_of(&v, "huge")
            .iter()
            .any(|f| f["rule"] == "replicas"
                && f["envs"] == serde_json::json!(["dev", "production"])),
        "{v:#}"
    );
    assert!(errors_of(&v, "web").is_empty(), "{v:#}");
    assert_eq!(findings_of(&v, "web").len(), 1, "{v:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("s3cr3t-outside"), "{stderr}");
}

/// A Secret's value, planted where kustomize's own error would quote it.
const PLANTED: &str = "s3cr3t-PLANTED-9f2c";

#[test]
fn a_secret_value_kustomize_quotes_in_its_error_is_shown_in_no_format() {
    let trap = Trap::new();
    let repo = trap.repo();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  password: {PLANTED}\n"
    );
    // A replacement that walks into the base Secret's value: kyaml quotes the node it reached
    // ("expected MappingNode but got ScalarNode: node contents:\n<value>").
    let vault = trap.service_with_resource("vault", "dev", "secret.yaml");
    fs::write(vault.join("secret.yaml"), &secret).expect("write");
    let k = vault.join("kustomization.yaml");
    let mut text = fs::read_to_string(&k).expect("read");
    text.push_str(
        "replacements:\n  - source: {kind: Service, name: web, fieldPath: metadata.name}\n    \
         targets:\n      - select: {kind: Secret, name: db}\n        fieldPaths: [stringData.password.user]\n",
    );
    fs::write(&k, text).expect("write");
    // A patch giving the Secret's value the wrong shape: kyaml quotes the patch's node.
    let patched = trap.service_with_resource("patched", "staging", "secret.yaml");
    fs::write(patched.join("secret.yaml"), &secret).expect("write");
    fs::write(
        patched.join("secret-patch.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  password:\n    - {PLANTED}\n"
        ),
    )
    .expect("write");
    let k = patched.join("kustomization.yaml");
    let mut text = fs::read_to_string(&k).expect("read");
    text.push_str("patches:\n  - path: secret-patch.yaml\n");
    fs::write(&k, text).expect("write");

    let (v, _, elapsed, peak) = check_json(&repo, &[]);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(peak < 512 * 1024 * 1024, "peak {} MiB", peak >> 20);
    for (service, env, says) in [
        ("vault", "dev", "in replacement target"),
        ("patched", "staging", "wrong node kind"),
    ] {
        let errors = errors_of(&v, service);
        assert_eq!(errors.len(), 1, "{service}: {errors:#?}");
        assert_eq!(errors[0]["env"], env);
        let message = errors[0]["message"].as_str().expect("message");
        assert!(
            message.contains(&format!("apps/{service}/overlays/{env}")) && message.contains(says),
            "{message}"
        );
        assert!(
            findings_of(&v, service)
                .iter()
                .any(|f| f["rule"] == "replicas"),
            "{service}: {v:#}"
        );
    }
    assert!(errors_of(&v, "web").is_empty(), "{v:#}");
    assert_eq!(findings_of(&v, "web").len(), 1, "{v:#}");

    for format in ["json", "text", "github", "markdown", "sarif"] {
        let state = tempfile::tempdir().expect("tempdir");
        let state_dir = state.path().to_string_lossy().into_owned();
        let (out, _, _) = run_bounded(
            &repo,
            &[
                "check", "--repo", ".", "--state", &state_dir, "--format", format, "-vv",
            ],
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(2), "{format}");
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(PLANTED),
                "{format} {stream} shows the Secret's value: {text}"
            );
        }
        // Every format names the failed overlays (SARIF as the run's tool execution notifications).
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("apps/vault/overlays/dev")
                && shown.contains("apps/patched/overlays/staging"),
            "{format}: {shown}"
        );
    }
}
