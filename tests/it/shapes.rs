//! The real-world GitOps repo shapes (issue 13, "Tests and evidence"): each `tests/fixtures/repos/<shape>/`
//! holds a small repo in `repo/` and, next to it, `expect.yaml` saying what `envparity discover` must map and
//! what `envparity check` must report and keep silent (`tests/fixtures/repos/README.md` describes the keys).
//!
//! Data-driven: a new shape is a new directory, nothing here changes. The real binary runs on a copy of the
//! repo, from an empty working directory (no `config.toml` is picked up) with a state directory of its own,
//! exactly as a user would point it at a checkout: `--repo <dir>`. The copy is named after the shape, so a
//! service named after the repo takes the shape's name.
//!
//! A shape whose `expect.yaml` has `pending:` describes the target behaviour of a feature still being built:
//! it is not asserted by the suite, only parsed; `cargo test --features failpoints --test it shapes --
//! --ignored` runs those too and says what they still miss.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::support::{copy_dir, envparity, root};

const SHAPES: &str = "tests/fixtures/repos";

/// `expect.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Set while the shape needs a feature that is not built yet: why.
    #[serde(default)]
    pending: Option<String>,
    /// service → environment → overlay directory, exactly as `discover --format json` reports it: every
    /// service and every environment, no more.
    map: BTreeMap<String, BTreeMap<String, String>>,
    /// service → its base directory (`~` for none); services not listed are not checked.
    #[serde(default)]
    bases: BTreeMap<String, Option<String>>,
    /// service → environment → a substring of the placement's reason.
    #[serde(default)]
    reasons: BTreeMap<String, BTreeMap<String, String>>,
    /// The promotion order, when it matters.
    #[serde(default)]
    order: Option<Vec<String>>,
    /// Every directory discovery leaves out (no more, no fewer).
    #[serde(default)]
    left_out: Vec<LeftOut>,
    /// Findings that must appear; every block and warn finding of `check` must be one of these.
    #[serde(default)]
    report: Vec<Want>,
    /// Rules that must not report at all (any severity), for one service or for all.
    #[serde(default)]
    silent: Vec<Silent>,
    /// Entries of `check`'s `errors` (no more, no fewer); none unless listed.
    #[serde(default)]
    errors: Vec<WantError>,
    /// `check`'s exit code.
    exit: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeftOut {
    dir: String,
    /// A substring of the reason.
    reason: String,
    /// A substring the reason must not hold.
    #[serde(default)]
    reason_lacks: Option<String>,
}

/// A finding that must appear: the fields given must equal the finding's, `envs` as a set, `values` as a
/// subset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Want {
    rule: String,
    service: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    envs: Option<BTreeSet<String>>,
    #[serde(default)]
    values: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Silent {
    rule: String,
    #[serde(default)]
    service: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WantError {
    kind: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    env: Option<String>,
    /// A substring of the message.
    #[serde(default)]
    message: Option<String>,
}

impl Want {
    fn matches(&self, f: &Value) -> bool {
        let eq = |key: &str, want: &Option<String>| want.as_ref().is_none_or(|w| f[key] == **w);
        f["rule"] == *self.rule
            && f["service"] == *self.service
            && eq("severity", &self.severity)
            && eq("kind", &self.kind)
            && eq("name", &self.name)
            && eq("container", &self.container)
            && self.envs.as_ref().is_none_or(|want| {
                let got: BTreeSet<String> = f["envs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect();
                got == *want
            })
            && self
                .values
                .iter()
                .all(|(env, value)| f["values"][env] == **value)
    }
}

impl WantError {
    fn matches(&self, e: &Value) -> bool {
        let eq = |key: &str, want: &Option<String>| want.as_ref().is_none_or(|w| e[key] == **w);
        e["kind"] == *self.kind
            && eq("service", &self.service)
            && eq("env", &self.env)
            && self.message.as_ref().is_none_or(|m| {
                e["message"]
                    .as_str()
                    .is_some_and(|text| text.contains(m.as_str()))
            })
    }
}

/// Every shape directory, sorted, with its parsed `expect.yaml`.
fn shapes() -> Vec<(String, PathBuf, Expect)> {
    let dir = root().join(SHAPES);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/repos") {
        let entry = entry.expect("entry");
        if !entry.file_type().expect("type").is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        assert!(
            path.join("repo").is_dir(),
            "{name}: the repo goes in {name}/repo/"
        );
        let text = std::fs::read_to_string(path.join("expect.yaml"))
            .unwrap_or_else(|e| panic!("{name}/expect.yaml: {e}"));
        let expect: Expect =
            envparity::yaml::document(&text).unwrap_or_else(|e| panic!("{name}/expect.yaml: {e}"));
        out.push((name, path, expect));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// What the binary printed (stdout parsed as JSON) and its exit code, or why it could not be read.
fn run(cwd: &Path, args: &[&str]) -> Result<(i32, Value), String> {
    let out = envparity(cwd, args);
    let code = out.status.code().unwrap_or(-1);
    serde_json::from_slice(&out.stdout)
        .map(|v| (code, v))
        .map_err(|e| {
            format!(
                "`envparity {}` exited {code}, stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// One line per finding, for failure messages.
fn finding_lines(findings: &[Value]) -> String {
    let mut s = String::new();
    for f in findings {
        let _ = writeln!(
            s,
            "    {} {} service={} {}/{} container={} envs={} field={} values={}",
            f["rule"],
            f["severity"],
            f["service"],
            f["kind"].as_str().unwrap_or("?"),
            f["name"].as_str().unwrap_or("?"),
            f["container"],
            f["envs"],
            f["field"],
            f["values"]
        );
    }
    if s.is_empty() {
        s.push_str("    (none)\n");
    }
    s
}

/// Runs `discover` and `check` on a copy of the shape's repo; every way the result differs from
/// `expect.yaml`, each with the actual output.
fn mismatches(name: &str, dir: &Path, expect: &Expect) -> Vec<String> {
    let t = tempfile::tempdir().expect("tempdir");
    let repo = t.path().join(name);
    copy_dir(&dir.join("repo"), &repo);
    let cwd = t.path().join("cwd");
    std::fs::create_dir(&cwd).expect("mkdir cwd");
    let state = t.path().join("state");
    let (repo, state) = (
        repo.to_str().expect("utf-8 temp path"),
        state.to_str().expect("utf-8 temp path"),
    );
    let mut problems = Vec::new();

    // The deployment map.
    let discover = [
        "discover", "--repo", repo, "--state", state, "--format", "json",
    ];
    match run(&cwd, &discover) {
        Err(e) => problems.push(e),
        Ok((code, d)) => {
            let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            let mut bases: BTreeMap<String, Option<String>> = BTreeMap::new();
            let mut reasons: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for s in d["services"].as_array().into_iter().flatten() {
                let service = s["name"].as_str().unwrap_or("?").to_string();
                let strings = |v: &Value| -> BTreeMap<String, String> {
                    v.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("?").to_string()))
                        .collect()
                };
                map.insert(service.clone(), strings(&s["overlays"]));
                reasons.insert(service.clone(), strings(&s["reasons"]));
                bases.insert(service, s["base"].as_str().map(String::from));
            }
            let shown = serde_json::to_string_pretty(&d).unwrap_or_default();
            let mut wrong = Vec::new();
            if code != 0 {
                wrong.push(format!("discover exited {code}, not 0"));
            }
            if d["problems"].as_array().is_some_and(|p| !p.is_empty()) {
                wrong.push(format!("discover reports problems: {}", d["problems"]));
            }
            if map != expect.map {
                wrong.push(format!(
                    "map differs:\n      expected {:?}\n      actual   {map:?}",
                    expect.map
                ));
            }
            for (service, base) in &expect.bases {
                if bases.get(service) != Some(base) {
                    wrong.push(format!(
                        "base of {service}: expected {base:?}, actual {:?}",
                        bases.get(service)
                    ));
                }
            }
            for (service, envs) in &expect.reasons {
                for (env, want) in envs {
                    let got = reasons.get(service).and_then(|r| r.get(env));
                    if !got.is_some_and(|g| g.contains(want.as_str())) {
                        wrong.push(format!(
                            "reason of {service}/{env}: expected to contain {want:?}, actual {got:?}"
                        ));
                    }
                }
            }
            if let Some(order) = &expect.order {
                let got: Vec<&str> = d["environments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if got != *order {
                    wrong.push(format!("order: expected {order:?}, actual {got:?}"));
                }
            }
            let left: BTreeMap<&str, &str> = d["left_out"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    (
                        l["dir"].as_str().unwrap_or("?"),
                        l["reason"].as_str().unwrap_or("?"),
                    )
                })
                .collect();
            for want in &expect.left_out {
                match left.get(want.dir.as_str()) {
                    None => wrong.push(format!("{} is not left out", want.dir)),
                    Some(reason) => {
                        if !reason.contains(want.reason.as_str()) {
                            wrong.push(format!(
                                "{} is left out for {reason:?}, expected a reason containing {:?}",
                                want.dir, want.reason
                            ));
                        }
                        if let Some(lacks) = &want.reason_lacks
                            && reason.contains(lacks.as_str())
                        {
                            wrong.push(format!(
                                "{} is left out for {reason:?}, which must not say {lacks:?}",
                                want.dir
                            ));
                        }
                    }
                }
            }
            for dir in left.keys() {
                if !expect.left_out.iter().any(|l| l.dir == *dir) {
                    wrong.push(format!(
                        "{dir} is left out, and expect.yaml does not say so"
                    ));
                }
            }
            if !wrong.is_empty() {
                problems.push(format!(
                    "discover:\n  - {}\n  actual discover output:\n{shown}",
                    wrong.join("\n  - ")
                ));
            }
        }
    }

    // The findings.
    let check = [
        "check", "--repo", repo, "--state", state, "--format", "json",
    ];
    match run(&cwd, &check) {
        Err(e) => problems.push(e),
        Ok((code, report)) => {
            let findings: Vec<Value> = report["findings"].as_array().cloned().unwrap_or_default();
            let errors: Vec<Value> = report["errors"].as_array().cloned().unwrap_or_default();
            let mut wrong = Vec::new();
            if code != expect.exit {
                wrong.push(format!("check exited {code}, expected {}", expect.exit));
            }
            for want in &expect.report {
                if !findings.iter().any(|f| want.matches(f)) {
                    wrong.push(format!("missing finding {want:?}"));
                }
            }
            for f in &findings {
                let loud = f["severity"] == "block" || f["severity"] == "warn";
                if loud && !expect.report.iter().any(|w| w.matches(f)) {
                    wrong.push(format!(
                        "unexpected {} finding: {}",
                        f["severity"],
                        finding_lines(std::slice::from_ref(f)).trim()
                    ));
                }
            }
            for s in &expect.silent {
                for f in findings.iter().filter(|f| {
                    f["rule"] == *s.rule
                        && s.service.as_ref().is_none_or(|svc| f["service"] == **svc)
                }) {
                    wrong.push(format!(
                        "must stay silent, but reported: {}",
                        finding_lines(std::slice::from_ref(f)).trim()
                    ));
                }
            }
            for want in &expect.errors {
                if !errors.iter().any(|e| want.matches(e)) {
                    wrong.push(format!("missing error {want:?}"));
                }
            }
            for e in &errors {
                if !expect.errors.iter().any(|w| w.matches(e)) {
                    wrong.push(format!("unexpected error: {e}"));
                }
            }
            if !wrong.is_empty() {
                problems.push(format!(
                    "check:\n  - {}\n  actual findings (summary {}):\n{}  actual errors: {}",
                    wrong.join("\n  - "),
                    report["summary"],
                    finding_lines(&findings),
                    report["errors"]
                ));
            }
        }
    }
    problems
}

fn assert_shapes(pending: bool) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, dir, expect) in shapes() {
        if expect.pending.is_some() != pending {
            continue;
        }
        ran += 1;
        let problems = mismatches(&name, &dir, &expect);
        if !problems.is_empty() {
            failures.push(format!(
                "== {SHAPES}/{name}{}\n{}",
                expect
                    .pending
                    .as_deref()
                    .map(|p| format!(" (pending: {p})"))
                    .unwrap_or_default(),
                problems.join("\n")
            ));
        }
    }
    assert!(ran > 0 || pending, "no shape ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} shapes differ from their expect.yaml:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_wired_shape_gives_its_expected_map_and_findings() {
    assert_shapes(false);
}

#[test]
#[ignore = "target behaviour of features still being built: run with --ignored to see what they miss"]
fn pending_shapes_meet_their_target() {
    assert_shapes(true);
}

#[test]
fn the_readme_lists_every_shape_with_whether_it_is_wired() {
    let readme = std::fs::read_to_string(root().join(SHAPES).join("README.md"))
        .expect("tests/fixtures/repos/README.md");
    for (name, _, expect) in shapes() {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("README.md has no row for `{name}`"));
        let wired = if expect.pending.is_some() {
            "no"
        } else {
            "yes"
        };
        assert!(
            row.trim_end().ends_with(&format!("| {wired} |")),
            "README.md row of `{name}` must end in `| {wired} |` (expect.yaml pending: {:?}): {row}",
            expect.pending
        );
    }
}
