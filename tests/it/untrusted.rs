//! A pull request is code from someone else (DESIGN.md, "Untrusted input"): nothing in the checked tree
//! decides its own verdict. A render cache planted in the tree is never read, `check` leaves the checkout as
//! it found it, and a change to the repo's own config.toml that hides or lowers what the base's config
//! reports is a `policy-change` finding, listed first in every format, its severity the base's.

use std::path::Path;
use std::process::Output;

use envparity::render::{
    CachedRenderer, Kustomize, RenderError, RenderRequest, Rendered, Renderer, Seal,
};

use crate::gitserver::WorkRepo;
use crate::support::{command, json, write_web_repo};

const STAGING: &str = "apps/web/overlays/staging/kustomization.yaml";

/// The web service on `main` (staging and production run the same image), with `config` as the repo's
/// config.toml, committed; the checkout is left on branch `pr`.
fn repo(dir: &Path, config: &str) -> WorkRepo {
    let repo = WorkRepo::init(&dir.join("infra"));
    write_web_repo(&repo.dir);
    repo.write("config.toml", config);
    repo.commit("web: staging and production");
    repo.git(&["checkout", "-q", "-b", "pr"]);
    repo
}

/// The pull request's own break: staging runs another image than production.
fn break_staging(repo: &WorkRepo) {
    repo.write(
        STAGING,
        "resources: [../../base]\nimages:\n  - name: registry.example.com/shop/web\n    newTag: 1.5.0\n",
    );
}

fn check(repo: &WorkRepo, args: &[&str]) -> Output {
    command()
        .arg("check")
        .args(args)
        .current_dir(&repo.dir)
        .output()
        .expect("run envparity check")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A renderer that answers every request with one render, under kustomize's identity: what an attacker
/// needs to seal a render of their choosing under any key.
struct Replay(Rendered, Kustomize);

impl Renderer for Replay {
    fn render(&self, requests: &[RenderRequest]) -> Vec<Result<Rendered, RenderError>> {
        requests.iter().map(|_| Ok(self.0.clone())).collect()
    }

    fn identity(&self) -> String {
        self.1.identity()
    }
}

fn request(dir: &Path) -> RenderRequest {
    RenderRequest {
        service: "web".into(),
        env: "staging".into(),
        dir: dir.to_path_buf(),
        layer: None,
        generate: false,
    }
}

/// `git status` of everything, ignored files included: empty when the checkout is as it was.
fn untouched(repo: &WorkRepo) {
    let status = repo.git(&[
        "status",
        "--porcelain",
        "--ignored",
        "--untracked-files=all",
    ]);
    assert_eq!(status, "", "check left files in the checkout");
}

#[test]
fn a_render_cache_planted_in_the_pull_request_is_never_read_and_check_leaves_the_checkout_as_it_was()
 {
    let dir = tempfile::tempdir().expect("dir");
    // The repo's config puts the state inside the checkout, as `.envparity` was by default before.
    let repo = repo(dir.path(), "[state]\ndir = \".envparity\"\n");
    break_staging(&repo);

    // The attacker's cache entry: staging as it rendered on main (the same image as production), stored
    // under the key of staging's inputs as the pull request has them (keys are computable from public
    // inputs) and sealed on the attacker's machine.
    let scratch = tempfile::tempdir().expect("scratch");
    let attacker = Seal::load_or_create(&scratch.path().join("render.key")).expect("seal");
    let main_tree = tempfile::tempdir().expect("main tree");
    write_web_repo(main_tree.path());
    let kustomize = Kustomize::detect(main_tree.path()).expect("kustomize");
    let old = kustomize.render(&[request(&main_tree.path().join("apps/web/overlays/staging"))]);
    let old = old.into_iter().next().expect("one").expect("renders");
    let cache = repo.dir.join(".envparity/cache/render");
    let planter = CachedRenderer::new(
        Replay(old, kustomize),
        cache.clone(),
        attacker,
        repo.dir.clone(),
    );
    let staging = repo.dir.join("apps/web/overlays/staging");
    assert!(planter.render(&[request(&staging)])[0].is_ok());
    let pr_key = planter.entry_path(&staging).expect("key");
    assert!(pr_key.is_file(), "planted at {}", pr_key.display());
    repo.commit("staging: new image (and a cache that says it is not)");

    let out = check(&repo, &["--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json(&out);
    let image = crate::support::finding(&v, "image");
    assert_eq!(image["new"], true, "{v:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notice: the state directory")
            && stderr.contains("inside the checked tree"),
        "{stderr}"
    );
    // Plain check too.
    let out = check(&repo, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    untouched(&repo);

    // Even a state directory outside the tree that holds the forged entry (copied there by a careless job)
    // does not trust it: it is sealed with another key.
    let outside = tempfile::tempdir().expect("state");
    let copied = outside
        .path()
        .join("cache/render")
        .join(pr_key.file_name().expect("name"));
    std::fs::create_dir_all(copied.parent().expect("dir")).expect("mkdir");
    std::fs::copy(&pr_key, &copied).expect("copy");
    let st = outside.path().to_str().expect("utf-8");
    let out = check(&repo, &["--state", st, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    untouched(&repo);

    // The plant is aimed right: a state whose key the attacker holds (as one inside the tree would be)
    // answers staging from it, and the gate turns green. That is what the seal and the state's place stop.
    std::fs::copy(
        scratch.path().join("render.key"),
        outside.path().join("cache/render.key"),
    )
    .expect("copy key");
    // (The run above rewrote the entry with what staging really renders.)
    std::fs::copy(&pr_key, &copied).expect("copy");
    let out = check(&repo, &["--state", st, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn check_without_any_state_configured_leaves_nothing_in_the_checkout() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = repo(dir.path(), "");
    break_staging(&repo);
    repo.commit("staging: new image");
    for args in [&["--format", "json"][..], &["--base", "main"][..]] {
        let out = check(&repo, args);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("notice:"), "{stderr}");
    }
    untouched(&repo);
}

#[test]
fn an_exception_a_pull_request_grants_its_own_break_is_a_blocking_policy_change_listed_first() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = repo(dir.path(), "");
    break_staging(&repo);
    repo.write(
        "config.toml",
        "[[exceptions]]\nservice = \"web\"\nrule = \"image\"\nreason = \"trying 1.5.0 in staging\"\nexpires = 2099-01-01\n\n\
         # The change cannot switch the rule that reports it off either.\n[rules.policy-change]\nseverity = \"off\"\n",
    );
    repo.commit("staging: new image, excepted");

    let out = check(&repo, &["--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json(&out);
    let first = &v["findings"][0];
    assert_eq!(first["rule"], "policy-change", "{v:#}");
    assert_eq!(first["severity"], "block", "{v:#}");
    assert_eq!(first["new"], true);
    let message = first["message"].as_str().expect("message");
    assert!(
        message.contains("exception") && message.contains("`image`"),
        "{message}"
    );
    assert_eq!(v["summary"]["block"], 1, "{v:#}");

    // Listed first in every format.
    let text = String::from_utf8_lossy(&check(&repo, &["--base", "main"]).stdout).into_owned();
    let at = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
    assert!(at("policy-change") < at("hidden by exceptions"), "{text}");
    let github =
        String::from_utf8_lossy(&check(&repo, &["--base", "main", "--format", "github"]).stdout)
            .into_owned();
    assert!(
        github
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("::error") && l.contains("policy-change")),
        "{github}"
    );
    let markdown =
        String::from_utf8_lossy(&check(&repo, &["--base", "main", "--format", "markdown"]).stdout)
            .into_owned();
    let section = markdown.find("Policy changes (1)").expect(&markdown);
    assert!(
        markdown.find("Breaks").is_none_or(|b| section < b),
        "{markdown}"
    );
    let sarif = json(&check(&repo, &["--base", "main", "--format", "sarif"]))["runs"][0]["results"]
        [0]["ruleId"]
        .clone();
    assert_eq!(sarif, "policy-change");
    untouched(&repo);
}

#[test]
fn a_policy_change_on_what_was_already_there_warns_by_default_and_blocks_where_the_base_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    // main already runs another image in staging: a blocking finding the base has.
    let repo = WorkRepo::init(&dir.path().join("infra"));
    write_web_repo(&repo.dir);
    break_staging(&repo);
    repo.write("config.toml", "");
    repo.commit("staging on 1.5.0 already");
    repo.git(&["checkout", "-q", "-b", "pr"]);

    // Lowered: the change makes the image rule a warning.
    repo.write("config.toml", "[rules.image]\nseverity = \"warn\"\n");
    let out = check(&repo, &["--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json(&out);
    assert_eq!(v["findings"][0]["rule"], "policy-change", "{v:#}");
    assert_eq!(v["findings"][0]["severity"], "warn");
    let message = v["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("lowers it from block to warn"),
        "{message}"
    );

    // Turned off.
    repo.write("config.toml", "[rules.image]\nseverity = \"off\"\n");
    let v = json(&check(&repo, &["--base", "main", "--format", "json"]));
    let message = v["findings"][0]["message"].as_str().expect("message");
    assert!(message.contains("turns rule `image` off"), "{message}");

    // Excluded by path.
    repo.write("config.toml", "[layout]\nexclude = [\"apps/web/**\"]\n");
    let v = json(&check(&repo, &["--base", "main", "--format", "json"]));
    assert_eq!(v["findings"][0]["rule"], "policy-change", "{v:#}");
    let message = v["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("no longer checks service `web`"),
        "{message}"
    );

    // An environment left out.
    repo.write("config.toml", "[environments]\nignore = [\"staging\"]\n");
    let v = json(&check(&repo, &["--base", "main", "--format", "json"]));
    let message = v["findings"][0]["message"].as_str().expect("message");
    assert!(message.contains("leaves out `staging`"), "{message}");

    // A base that protects its policy blocks them all.
    repo.git(&["checkout", "-q", "-f", "main"]);
    repo.write(
        "config.toml",
        "[rules.policy-change]\nseverity = \"block\"\n",
    );
    repo.commit("policy is protected");
    repo.git(&["checkout", "-q", "pr"]);
    repo.git(&["merge", "-q", "--ff-only", "main"]);
    repo.write(
        "config.toml",
        "[rules.policy-change]\nseverity = \"block\"\n[rules.image]\nseverity = \"warn\"\n",
    );
    let out = check(&repo, &["--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json(&out)["findings"][0]["severity"], "block");

    // Same config on both sides: nothing to report.
    repo.write(
        "config.toml",
        "[rules.policy-change]\nseverity = \"block\"\n",
    );
    let v = json(&check(&repo, &["--base", "main", "--format", "json"]));
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["rule"] != "policy-change"),
        "{v:#}"
    );
}

#[test]
fn an_existing_envparity_history_next_to_the_config_keeps_being_used_and_a_new_one_goes_to_the_cache()
 {
    let dir = tempfile::tempdir().expect("dir");
    let infra = WorkRepo::init(&dir.path().join("infra"));
    write_web_repo(&infra.dir);
    infra.commit("web");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[source]\npath = \"infra\"\n").expect("config");
    let config = config.to_str().expect("utf-8");
    let scan = |extra: &[&str]| {
        let out = command()
            .args(["scan", "--config", config])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .expect("run scan");
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Without a history next to the config, the state goes to the user's cache directory.
    assert!(scan(&[]).starts_with("scan #1 "));
    assert!(!dir.path().join(".envparity").exists());

    // A history an earlier version kept in its default place, `.envparity` next to config.toml.
    let legacy = dir.path().join(".envparity");
    let legacy = legacy.to_str().expect("utf-8");
    assert!(scan(&["--state", legacy]).starts_with("scan #1 "));
    break_staging(&infra);
    infra.commit("staging: new image");
    let out = scan(&[]);
    assert!(
        out.starts_with("scan #2 "),
        "the old history goes on: {out}"
    );
}

#[test]
fn a_change_that_points_its_own_gate_elsewhere_is_an_error() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = repo(dir.path(), "[source]\npath = \".\"\n");
    break_staging(&repo);
    // A directory with nothing to check, and the config aimed at it.
    repo.write("elsewhere/README.md", "nothing here\n");
    repo.write("config.toml", "[source]\npath = \"elsewhere\"\n");
    repo.commit("staging: new image, gate looking elsewhere");

    // Refused before anything is read or fetched from where the change points.
    let out = check(&repo, &["--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot move what its own gate checks") && stderr.contains("elsewhere"),
        "{stderr}"
    );

    // Aimed at a remote, with a credential of the CI job's: refused before any fetch could send it.
    repo.write(
        "config.toml",
        "[source]\nurl = \"https://git.invalid/stolen.git\"\ntoken_env = \"CI_SECRET\"\n",
    );
    let out = command()
        .args(["check", "--base", "main", "--format", "json"])
        .current_dir(&repo.dir)
        .env("CI_SECRET", "ci-secret-PLANTED-77")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let all = describe(&out);
    assert!(
        all.contains("cannot move what its own gate checks"),
        "{all}"
    );
    assert!(
        all.contains("https://git.invalid/stolen.git") && !all.contains("ci-secret-PLANTED-77")
    );
    repo.write("config.toml", "[source]\npath = \"elsewhere\"\n");

    // With --repo the command line decides what is checked, whatever either config says.
    let out = check(
        &repo,
        &["--repo", ".", "--base", "main", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json(&out)["errors"], serde_json::json!([]));
    untouched(&repo);
}

#[test]
fn plain_check_does_not_follow_a_remote_with_credentials_that_a_config_in_the_checkout_names() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = repo(
        dir.path(),
        "[source]\nurl = \"https://git.invalid/stolen.git\"\ntoken_env = \"CI_SECRET\"\n",
    );
    let run = |args: &[&str]| {
        command()
            .arg("check")
            .args(args)
            .current_dir(&repo.dir)
            .env("CI_SECRET", "ci-secret-PLANTED-78")
            .output()
            .expect("run")
    };
    let out = run(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let all = describe(&out);
    assert!(
        all.contains("give --repo") && all.contains("https://git.invalid/stolen.git"),
        "{all}"
    );
    assert!(!all.contains("ci-secret-PLANTED-78"), "{all}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        1,
        "refused before any fetch, nothing else said: {all}"
    );
    // `--repo .` checks the checkout.
    let out = run(&["--repo", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    untouched(&repo);
}
