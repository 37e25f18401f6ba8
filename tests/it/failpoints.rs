//! Fault injection stays out of the binaries users get. Every test hook (a writer aborted mid-transaction, a
//! publish aborted before the swap or stalled mid-write, a daemon job that panics) is a `fail` fail point,
//! which compiles to nothing unless the `failpoints` feature is on: the test suite turns it on (`scripts/test.sh`),
//! `cargo build --release` and `cargo install` do not. This keeps it so without a second build: no hook is
//! written any other way.

use std::path::{Path, PathBuf};

use crate::support::root;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((path, text));
        }
    }
    out
}

#[test]
fn fault_hooks_exist_only_as_fail_points() {
    let src = root().join("src");
    let files = sources(&src);
    assert!(
        files.len() > 20,
        "{} files under {}",
        files.len(),
        src.display()
    );
    let mut fail_points = 0;
    for (path, text) in &files {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let at = format!("{}:{}: {line}", path.display(), i + 1);
            // The environment-variable hooks that every build carried.
            assert!(!line.contains("ENVPARITY_TEST_"), "{at}");
            // An abort outside a fail point's action would be in every build.
            if line.contains("process::abort") {
                assert!(line.contains("fail::fail_point!("), "{at}");
            }
            if line.contains("fail::fail_point!(") {
                fail_points += 1;
            }
            // Arming fail points (FAILPOINTS, fail::cfg) only in builds with the feature.
            let arms = ["fail::FailScenario", "fail::cfg", "fail::eval", "FailGuard"];
            if arms.iter().any(|a| line.contains(a)) {
                let gate = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.trim_start().starts_with("//"));
                assert_eq!(
                    gate.map(|l| l.trim()),
                    Some("#[cfg(feature = \"failpoints\")]"),
                    "{at}"
                );
            }
        }
    }
    // History::record, Staging::commit, Staging::put, Daemon::run_job, and notify::run's two (before the
    // first copy is sent, between a copy's acceptance and its record): proves the scan above looked at them.
    assert_eq!(fail_points, 6, "fail points in src/");
}
