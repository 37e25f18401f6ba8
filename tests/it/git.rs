//! `source`: the mirror, fetches, history walks and snapshots against real git servers on 127.0.0.1
//! (`git daemon`, and `git http-backend` behind basic auth).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::DateTime;
use envparity::source::{Credential, GitRepo, Snapshot, SourceError, SourceSpec, redact_url};

use crate::gitserver::{EPOCH, GitServer, HttpGitServer, WorkRepo, git};

fn spec(url: &str) -> SourceSpec {
    SourceSpec {
        url: url.to_string(),
        ..SourceSpec::default()
    }
}

fn ids(commits: &[envparity::source::CommitInfo]) -> Vec<String> {
    commits.iter().map(|c| c.id.clone()).collect()
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

/// A state directory and the mirror path inside it.
fn state() -> (tempfile::TempDir, PathBuf) {
    let state = tempfile::tempdir().expect("tempdir");
    let dir = state.path().join("mirrors").join("infra");
    (state, dir)
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn clones_over_git_daemon_and_fetch_returns_the_new_head() {
    let server = GitServer::start();
    let work = server.repo("infra");
    work.write("apps/web/base/kustomization.yaml", "resources: []\n");
    work.commit("first");
    let c2 = work
        .write("README.md", "hi\n")
        .commit("second: add a readme\n\nbody");
    let (_state, dir) = state();

    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");
    assert_eq!(mirror.path(), dir);
    assert!(dir.join("HEAD").is_file(), "a bare repository");
    let head = mirror.head().expect("head");
    assert_eq!(head.id, c2);
    assert_eq!(head.author, "Ada Lovelace <ada@example.org>");
    assert_eq!(head.summary, "second: add a readme");
    assert_eq!(
        head.time,
        DateTime::from_timestamp(EPOCH + 3600, 0).expect("time")
    );
    assert_eq!(
        entries(dir.parent().expect("parent")),
        vec!["infra".to_string()],
        "no temporary dir left"
    );

    let c3 = work.write("README.md", "hello\n").commit("third");
    assert_eq!(
        mirror.head().expect("head").id,
        c2,
        "head() does not touch the network"
    );
    assert_eq!(mirror.fetch().expect("fetch").id, c3);
    assert_eq!(mirror.head().expect("head").id, c3);

    // Reopening the existing mirror does not clone again.
    let again = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("reopen");
    assert_eq!(again.head().expect("head").id, c3);
}

#[test]
fn fetch_failure_keeps_the_mirror_and_its_last_commit() {
    let mut server = GitServer::start();
    let work = server.repo("infra");
    let c1 = work.write("a.txt", "a\n").commit("first");
    let (_state, dir) = state();
    let url = server.url("infra");
    let mirror = GitRepo::mirror(&spec(&url), &dir).expect("clone");

    work.write("a.txt", "b\n").commit("second");
    server.stop();
    let err = mirror.fetch().expect_err("the server is gone");
    assert!(matches!(err, SourceError::FetchFailed { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(dir.join("HEAD").is_file(), "the mirror is intact");
    assert_eq!(mirror.head().expect("head").id, c1);
    assert_eq!(
        GitRepo::mirror(&spec(&url), &dir)
            .expect("reopen")
            .head()
            .expect("head")
            .id,
        c1
    );
}

#[test]
fn fetch_follows_a_force_pushed_branch() {
    let server = GitServer::start();
    let work = server.repo("infra");
    let c1 = work.write("a.txt", "1\n").commit("one");
    work.write("a.txt", "2\n").commit("two");
    let c3 = work.write("a.txt", "3\n").commit("three");
    let (_state, dir) = state();
    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");
    assert_eq!(mirror.head().expect("head").id, c3);

    work.git(&["reset", "-q", "--hard", &c1]);
    let r2 = work.write("a.txt", "rewritten\n").commit("rewritten");
    assert_eq!(mirror.fetch().expect("fetch").id, r2);
    let history = mirror
        .first_parent_history("HEAD", None, None)
        .expect("history");
    assert_eq!(ids(&history), vec![c1, r2]);
}

#[test]
fn fetch_prunes_deleted_branches_and_follows_a_configured_branch() {
    let server = GitServer::start();
    let work = server.repo("infra");
    work.write("a.txt", "1\n").commit("one");
    work.git(&["checkout", "-q", "-b", "release"]);
    let r1 = work.write("a.txt", "release\n").commit("release");
    work.git(&["checkout", "-q", "-b", "temp"]);
    work.git(&["checkout", "-q", "main"]);
    let (_state, dir) = state();
    let followed = SourceSpec {
        branch: Some("release".into()),
        ..spec(&server.url("infra"))
    };
    let mirror = GitRepo::mirror(&followed, &dir).expect("clone");
    assert_eq!(mirror.head().expect("head").id, r1);
    assert_eq!(mirror.resolve("temp").expect("temp").id, r1);

    work.git(&["branch", "-q", "-D", "temp"]);
    assert_eq!(mirror.fetch().expect("fetch").id, r1);
    let err = mirror.resolve("temp").expect_err("pruned");
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err:?}");

    let (_state2, dir2) = state();
    let missing = SourceSpec {
        branch: Some("nope".into()),
        ..spec(&server.url("infra"))
    };
    let err = GitRepo::mirror(&missing, &dir2).expect_err("no such branch");
    assert!(
        matches!(&err, SourceError::BranchNotFound { branch, .. } if branch == "nope"),
        "{err:?}"
    );
    assert!(!dir2.exists());
}

#[test]
fn resolve_branches_tags_ids_and_unknown_refs() {
    let server = GitServer::start();
    let work = server.repo("infra");
    let c1 = work.write("a.txt", "1\n").commit("one");
    let c2 = work.write("a.txt", "2\n").commit("two");
    work.git(&["checkout", "-q", "-b", "feature"]);
    let f1 = work.write("f.txt", "f\n").commit("feature");
    work.git(&["checkout", "-q", "main"]);
    let c3 = work.write("a.txt", "3\n").commit("three");
    work.git(&["tag", "-a", "v1", "-m", "release v1", &c1]);
    work.git(&["tag", "light", &c2]);
    let (_state, dir) = state();
    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");

    let resolve = |rev: &str| {
        mirror
            .resolve(rev)
            .unwrap_or_else(|e| panic!("{rev}: {e}"))
            .id
    };
    assert_eq!(resolve("main"), c3);
    assert_eq!(resolve("feature"), f1);
    assert_eq!(resolve("origin/feature"), f1);
    assert_eq!(resolve("refs/remotes/origin/main"), c3);
    assert_eq!(resolve("v1"), c1, "an annotated tag peels to its commit");
    assert_eq!(resolve("light"), c2);
    assert_eq!(resolve(&c2[..8]), c2);
    assert_eq!(resolve(&c2), c2);
    assert_eq!(resolve("HEAD"), c3);
    assert_eq!(resolve("HEAD~1"), c2);
    assert_eq!(resolve("main~2"), c1);

    let err = mirror.resolve("main2").expect_err("unknown");
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("`main2`") && msg.contains(&dir.display().to_string()),
        "{msg}"
    );

    let tree = work.rev("HEAD^{tree}");
    let err = mirror.resolve(&tree).expect_err("a tree is not a commit");
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err:?}");
}

#[test]
fn first_parent_history_is_oldest_first_and_limited_by_since_and_max() {
    let server = GitServer::start();
    let work = server.repo("infra");
    let c1 = work.write("a.txt", "1\n").commit("c1");
    let c2 = work.write("a.txt", "2\n").commit("c2");
    work.git(&["checkout", "-q", "-b", "side"]);
    let s1 = work.write("s.txt", "1\n").commit("s1");
    let s2 = work.write("s.txt", "2\n").commit("s2");
    work.git(&["checkout", "-q", "main"]);
    let t3 = work.next_time();
    let c3 = work.write("b.txt", "3\n").commit("c3");
    work.git(&["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
    let merge = work.head();
    let m = work.write("c.txt", "4\n").commit("c4");
    let (_state, dir) = state();
    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");

    let all = mirror
        .first_parent_history("main", None, None)
        .expect("history");
    assert_eq!(
        ids(&all),
        vec![c1.clone(), c2.clone(), c3.clone(), merge.clone(), m.clone()]
    );
    assert!(all.windows(2).all(|w| w[0].time <= w[1].time));

    let since = DateTime::from_timestamp(t3, 0).expect("time");
    let recent = mirror
        .first_parent_history("main", Some(since), None)
        .expect("since");
    assert_eq!(ids(&recent), vec![c3.clone(), merge.clone(), m.clone()]);

    let newest = mirror
        .first_parent_history("main", None, Some(2))
        .expect("max");
    assert_eq!(ids(&newest), vec![merge.clone(), m.clone()]);
    let both = mirror
        .first_parent_history("main", Some(since), Some(10))
        .expect("both");
    assert_eq!(ids(&both), vec![c3, merge, m]);
    assert!(
        mirror
            .first_parent_history("main", None, Some(0))
            .expect("zero")
            .is_empty()
    );

    let side = mirror
        .first_parent_history("side", None, None)
        .expect("side");
    assert_eq!(ids(&side), vec![c1, c2, s1, s2]);
}

#[test]
fn changed_files_between_commits() {
    let server = GitServer::start();
    let work = server.repo("infra");
    work.write("a.txt", "a\n")
        .write("b.txt", "b\n")
        .write("dir/c.txt", "c\n");
    let c1 = work.write("old.txt", "a file that moves\n").commit("one");
    work.write("a.txt", "a2\n")
        .write("d.txt", "d\n")
        .remove("b.txt");
    work.git(&["mv", "old.txt", "new.txt"]);
    let c2 = work.commit("two");
    let (_state, dir) = state();
    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");

    assert_eq!(
        mirror.changed_files(Some(&c1), &c2).expect("diff"),
        paths(&["a.txt", "b.txt", "d.txt", "new.txt", "old.txt"])
    );
    assert_eq!(
        mirror.changed_files(None, &c1).expect("all"),
        paths(&["a.txt", "b.txt", "dir/c.txt", "old.txt"])
    );
    assert!(
        mirror
            .changed_files(Some("main"), "main")
            .expect("none")
            .is_empty()
    );
}

/// What a snapshot directory should hold for one entry.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File {
        content: Vec<u8>,
        executable: bool,
    },
    Link(PathBuf),
    /// A directory with nothing in it (never expected: git has no empty directories).
    EmptyDir,
}

fn git_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The files of `commit` by `git ls-tree`, minus the `skipped` paths (submodules, outside symlinks).
fn expected(work: &WorkRepo, commit: &str, skipped: &[&str]) -> BTreeMap<PathBuf, Entry> {
    let listing = git_bytes(&work.dir, &["ls-tree", "-r", "-z", "--full-tree", commit]);
    let mut out = BTreeMap::new();
    for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let (meta, path) = record.split_once('\t').expect("tab");
        let mut meta = meta.split(' ');
        let (mode, kind, oid) = (
            meta.next().expect("mode"),
            meta.next().expect("type"),
            meta.next().expect("oid"),
        );
        if skipped.contains(&path) {
            continue;
        }
        assert_eq!(kind, "blob", "{path} is a {kind}: list it in `skipped`");
        let content = git_bytes(&work.dir, &["cat-file", "blob", oid]);
        let entry = match mode {
            "120000" => Entry::Link(PathBuf::from(
                String::from_utf8(content).expect("utf-8 target"),
            )),
            "100755" => Entry::File {
                content,
                executable: true,
            },
            _ => Entry::File {
                content,
                executable: false,
            },
        };
        out.insert(PathBuf::from(path), entry);
    }
    out
}

fn actual(root: &Path) -> BTreeMap<PathBuf, Entry> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        let mut empty = true;
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            empty = false;
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(root).expect("inside").to_path_buf();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    Entry::Link(std::fs::read_link(&path).expect("readlink")),
                );
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                let executable = meta.permissions().mode() & 0o111 != 0;
                out.insert(
                    rel,
                    Entry::File {
                        content: std::fs::read(&path).expect("read"),
                        executable,
                    },
                );
            }
        }
        if empty && dir != root {
            out.insert(
                dir.strip_prefix(root).expect("inside").to_path_buf(),
                Entry::EmptyDir,
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn set_executable(path: &Path, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn symlink(work: &WorkRepo, target: &str, path: &str) {
    let p = work.dir.join(path);
    let _ = std::fs::remove_file(&p);
    std::os::unix::fs::symlink(target, p).expect("symlink");
}

#[test]
fn snapshot_moves_between_commits_and_holds_exactly_each_tree() {
    let server = GitServer::start();
    let work = server.repo("infra");
    work.write("a.txt", "a1\n")
        .write("keep.txt", "same\n")
        .write("dir/b.txt", "b\n");
    work.write("dir/gone/x.txt", "x\n")
        .write("becomes-dir", "a file for now\n");
    work.write("script.sh", "#!/bin/sh\necho hi\n");
    set_executable(&work.dir.join("script.sh"), true);
    symlink(&work, "dir/b.txt", "link-in");
    symlink(&work, "../../etc/passwd", "link-out");
    symlink(&work, "/etc/passwd", "abs-link");
    work.git(&["add", "-A"]);
    work.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{},vendor/sub", "1".repeat(40)),
    ]);
    work.git(&["commit", "-q", "-m", "A"]);
    let a = work.head();
    let a_skipped = ["link-out", "abs-link", "vendor/sub"];

    work.write("a.txt", "a2\n");
    std::fs::remove_file(work.dir.join("link-out")).expect("rm");
    work.write("link-out", "now a plain file\n");
    symlink(&work, "keep.txt", "link-in");
    set_executable(&work.dir.join("script.sh"), false);
    std::fs::remove_dir_all(work.dir.join("dir")).expect("rm dir");
    std::fs::remove_file(work.dir.join("becomes-dir")).expect("rm");
    work.write("becomes-dir/inner.txt", "now a directory\n");
    work.write("new/deep/file.txt", "new\n");
    work.git(&["rm", "-q", "--cached", "vendor/sub"]);
    let b = work.commit("B");
    let b_skipped = ["abs-link"];

    let (_state, dir) = state();
    let mirror = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");
    let mut snapshot = Snapshot::new().expect("snapshot");
    assert_eq!(snapshot.commit(), None);
    assert!(actual(snapshot.path()).is_empty());

    snapshot.checkout(&mirror, &a).expect("checkout A");
    assert_eq!(snapshot.commit(), Some(a.as_str()));
    assert_eq!(actual(snapshot.path()), expected(&work, &a, &a_skipped));

    snapshot.checkout(&mirror, &b).expect("checkout B");
    assert_eq!(snapshot.commit(), Some(b.as_str()));
    assert_eq!(actual(snapshot.path()), expected(&work, &b, &b_skipped));
    assert!(
        !snapshot.path().join("dir").exists(),
        "emptied directories are removed"
    );

    snapshot.checkout(&mirror, &a).expect("back to A");
    assert_eq!(actual(snapshot.path()), expected(&work, &a, &a_skipped));

    let dir_of_snapshot = snapshot.path().to_path_buf();
    drop(snapshot);
    assert!(
        !dir_of_snapshot.exists(),
        "the temporary directory goes away with the snapshot"
    );
}

#[test]
fn cloning_a_missing_repository_fails_clearly_and_leaves_nothing() {
    let server = GitServer::start();
    let (state, dir) = state();
    let url = server.url("does-not-exist");
    let err = GitRepo::mirror(&spec(&url), &dir).expect_err("no such repository");
    assert!(matches!(err, SourceError::CloneFailed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(!dir.exists());
    assert!(
        entries(&state.path().join("mirrors")).is_empty(),
        "no temporary clone left behind"
    );
}

#[test]
fn a_local_path_and_a_file_url_are_sources_too() {
    let origin = tempfile::tempdir().expect("tempdir");
    let work = WorkRepo::init(&origin.path().join("infra"));
    let c1 = work.write("a.txt", "1\n").commit("one");
    let (_state, dir) = state();
    let (_state2, dir2) = state();
    let by_path = GitRepo::mirror(&spec(&work.dir.display().to_string()), &dir).expect("path");
    let by_url =
        GitRepo::mirror(&spec(&format!("file://{}", work.dir.display())), &dir2).expect("file://");
    assert_eq!(by_path.head().expect("head").id, c1);
    assert_eq!(by_url.head().expect("head").id, c1);

    let c2 = work.write("a.txt", "2\n").commit("two");
    assert_eq!(by_path.fetch().expect("fetch").id, c2);
    assert_eq!(by_url.fetch().expect("fetch").id, c2);
}

#[test]
fn open_local_discovers_the_checkout_and_never_fetches() {
    let origin = tempfile::tempdir().expect("tempdir");
    let work = WorkRepo::init(&origin.path().join("upstream"));
    let c1 = work.write("a.txt", "1\n").commit("one");
    work.git(&["checkout", "-q", "-b", "base-only-upstream"]);
    let u1 = work.write("a.txt", "u\n").commit("upstream");
    work.git(&["checkout", "-q", "main"]);
    let checkout = origin.path().join("checkout");
    git(
        origin.path(),
        &["clone", "-q", &work.dir.display().to_string(), "checkout"],
        &[],
    );
    std::fs::create_dir_all(checkout.join("apps/web")).expect("mkdir");

    let local = GitRepo::open_local(&checkout.join("apps/web")).expect("discover");
    assert_eq!(
        local.path().canonicalize().expect("canon"),
        checkout.canonicalize().expect("canon")
    );
    assert_eq!(local.head().expect("head").id, c1);
    assert_eq!(local.resolve("main").expect("main").id, c1);
    assert_eq!(
        local
            .resolve("base-only-upstream")
            .expect("falls back to origin/")
            .id,
        u1,
        "a branch CI has only as origin/<name>"
    );
    assert!(matches!(local.fetch(), Err(SourceError::NotAMirror { .. })));

    let err = GitRepo::open_local(&std::env::temp_dir().join("envparity-surely-not-a-repo"))
        .expect_err("none");
    assert!(matches!(err, SourceError::NotARepo { .. }), "{err:?}");
}

#[test]
fn a_password_in_the_url_is_refused() {
    let (state, dir) = state();
    let err = GitRepo::mirror(&spec("https://bob:hunter2@127.0.0.1:9/infra.git"), &dir)
        .expect_err("refused");
    assert!(matches!(err, SourceError::PasswordInUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("token_env") && !msg.contains("hunter2"),
        "{msg}"
    );
    assert!(!format!("{err:?}").contains("hunter2"));
    assert!(!state.path().join("mirrors").exists());
    assert_eq!(
        redact_url("https://bob:hunter2@host/x?t=1"),
        "https://host/x"
    );
}

const USER: &str = "x-access-token";
const GOOD_TOKEN: &str = "good-7c1f0e9a4b";
const BAD_TOKEN: &str = "wrong-3d8b2a6f51";
/// Env vars the child process of `http_token_from_env_var` gets; unique to that test, so nothing races.
const CHILD_MARKER: &str = "ENVPARITY_IT_HTTP_TOKEN_CHILD";
const GOOD_VAR: &str = "ENVPARITY_IT_HTTP_GOOD_TOKEN";
const BAD_VAR: &str = "ENVPARITY_IT_HTTP_BAD_TOKEN";

/// Setting an env var is `unsafe` in edition 2024 (and the crate forbids unsafe code), so the env-var token
/// test runs in a child process of this same test binary, started with the variables set.
#[test]
fn http_token_from_env_var() {
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "git::http_token_from_env_var_in_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, "1")
        .env(GOOD_VAR, GOOD_TOKEN)
        .env(BAD_VAR, BAD_TOKEN)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn http_token_from_env_var_in_child() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return; // only meaningful inside `http_token_from_env_var`'s child process
    }
    let server = HttpGitServer::start(USER, GOOD_TOKEN);
    let c1 = server.repo("infra").write("a.txt", "1\n").commit("one");
    let url = server.url("infra");

    let (_state, dir) = state();
    let good = SourceSpec {
        token_env: Some(GOOD_VAR.into()),
        ..spec(&url)
    };
    let mirror = GitRepo::mirror(&good, &dir).expect("the right token clones");
    assert_eq!(mirror.head().expect("head").id, c1);
    assert_eq!(mirror.fetch().expect("fetch").id, c1);
    let config = std::fs::read_to_string(dir.join("config")).expect("config");
    assert!(
        !config.contains(GOOD_TOKEN),
        "the token never lands on disk"
    );

    let (state2, dir2) = state();
    let bad = SourceSpec {
        token_env: Some(BAD_VAR.into()),
        ..spec(&url)
    };
    let err = GitRepo::mirror(&bad, &dir2).expect_err("the wrong token is rejected");
    match &err {
        SourceError::AuthFailed {
            credential: Credential::TokenEnv { var, username },
            ..
        } => {
            assert_eq!((var.as_str(), username.as_str()), (BAD_VAR, USER));
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    let (display, debug) = (err.to_string(), format!("{err:?}"));
    assert!(
        display.contains(&format!("${BAD_VAR}")) && display.contains(&url),
        "{display}"
    );
    assert!(
        !display.contains(BAD_TOKEN) && !debug.contains(BAD_TOKEN),
        "{display} / {debug}"
    );
    assert!(!dir2.exists() && entries(&state2.path().join("mirrors")).is_empty());

    // An existing mirror whose token went bad keeps its last commit.
    let rotated = GitRepo::mirror(&bad, &dir).expect("reopen");
    assert!(matches!(
        rotated.fetch(),
        Err(SourceError::AuthFailed { .. })
    ));
    assert_eq!(rotated.head().expect("head").id, c1);
}

#[test]
fn http_token_env_var_not_set() {
    let server = HttpGitServer::start(USER, GOOD_TOKEN);
    server.repo("infra").write("a.txt", "1\n").commit("one");
    let (_state, dir) = state();
    let var = "ENVPARITY_IT_TOKEN_THAT_IS_NEVER_SET";
    let err = GitRepo::mirror(
        &SourceSpec {
            token_env: Some(var.into()),
            ..spec(&server.url("infra"))
        },
        &dir,
    )
    .expect_err("unset");
    assert!(
        matches!(&err, SourceError::TokenEnvNotSet { var: v } if v == var),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("${var}")), "{err}");
    assert!(!dir.exists());
}

#[test]
fn http_without_a_token_says_one_is_needed() {
    let server = HttpGitServer::start(USER, GOOD_TOKEN);
    server.repo("infra").write("a.txt", "1\n").commit("one");
    let (_state, dir) = state();
    let err = GitRepo::mirror(&spec(&server.url("infra")), &dir).expect_err("no credentials");
    assert!(matches!(err, SourceError::AuthRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("token_env"), "{err}");
}

#[test]
fn http_token_from_file() {
    let server = HttpGitServer::start("deploy", GOOD_TOKEN);
    let c1 = server.repo("infra").write("a.txt", "1\n").commit("one");
    let secrets = tempfile::tempdir().expect("tempdir");
    let good_file = secrets.path().join("good");
    let bad_file = secrets.path().join("bad");
    std::fs::write(&good_file, format!("{GOOD_TOKEN}\n")).expect("write");
    std::fs::write(&bad_file, BAD_TOKEN).expect("write");
    let url = server.url("infra");

    let (_state, dir) = state();
    let good = SourceSpec {
        token_file: Some(good_file),
        username: Some("deploy".into()),
        ..spec(&url)
    };
    assert_eq!(
        GitRepo::mirror(&good, &dir)
            .expect("clone")
            .head()
            .expect("head")
            .id,
        c1
    );

    let (_state2, dir2) = state();
    let bad = SourceSpec {
        token_file: Some(bad_file.clone()),
        username: Some("deploy".into()),
        ..spec(&url)
    };
    let err = GitRepo::mirror(&bad, &dir2).expect_err("rejected");
    assert!(
        matches!(
            err,
            SourceError::AuthFailed {
                credential: Credential::TokenFile { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let (display, debug) = (err.to_string(), format!("{err:?}"));
    assert!(
        display.contains(&bad_file.display().to_string()),
        "{display}"
    );
    assert!(
        !display.contains(BAD_TOKEN) && !debug.contains(BAD_TOKEN),
        "{display} / {debug}"
    );

    let (_state3, dir3) = state();
    let missing = SourceSpec {
        token_file: Some(secrets.path().join("nope")),
        ..spec(&url)
    };
    let err = GitRepo::mirror(&missing, &dir3).expect_err("unreadable");
    assert!(
        matches!(err, SourceError::TokenFileUnreadable { .. }),
        "{err:?}"
    );
}

#[test]
fn a_server_that_accepts_and_then_says_nothing_fails_the_scan_after_the_timeout() {
    // Accepts connections and holds them open without a byte of answer: a stalled git server.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = stalled.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in stalled.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[source]\nurl = \"git://127.0.0.1:{port}/infra\"\ntimeout_seconds = 2\n[state]\ndir = \"state\"\n"
        ),
    )
    .expect("config");
    let started = std::time::Instant::now();
    let out = crate::support::envparity(dir.path(), &["scan", "--config", "config.toml"]);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("could not clone"), "{stderr}");
    assert!(
        elapsed < std::time::Duration::from_secs(30),
        "gave up after {elapsed:?}: {stderr}"
    );
}

#[test]
fn a_clone_left_behind_by_a_killed_process_is_swept_and_a_recent_one_kept() {
    let server = GitServer::start();
    server.repo("infra").write("a.txt", "a\n").commit("first");
    let (_state, dir) = state();
    let parent = dir.parent().expect("parent");
    std::fs::create_dir_all(parent).expect("mkdir");
    let stale = parent.join("infra.tmp-killed");
    let running = parent.join("infra.tmp-running");
    for d in [&stale, &running] {
        std::fs::create_dir_all(d.join("objects")).expect("mkdir");
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::open(&stale)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("age the stale clone");

    GitRepo::mirror(&spec(&server.url("infra")), &dir).expect("clone");
    assert_eq!(
        entries(parent),
        vec!["infra".to_string(), "infra.tmp-running".to_string()]
    );
}
