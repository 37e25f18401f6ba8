//! Every rule has a fixture that fires it and one that must stay silent (tests/fixtures/rules/<rule>/);
//! the rule's findings on each are snapshotted with insta so a change in what it reports is reviewed, and
//! the silent fixture must give no warn/block finding from any rule.

use envparity::config::Config;
use envparity::finding::{Finding, Severity};
use envparity::pipeline::{Report, Scope, check_tree};
use envparity::render::Kustomize;
use envparity::rules::RULES;

use crate::support::root;

fn run(dir: &std::path::Path) -> Report {
    let kustomize = Kustomize::detect(dir).expect("kustomize or kubectl on PATH");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    check_tree(
        &Config::default(),
        dir,
        &Scope::default(),
        &kustomize,
        today,
        None,
    )
}

#[test]
fn every_rule_fires_on_its_fixture_and_stays_silent_on_the_near_miss() {
    let mut failures = Vec::new();
    for rule in RULES {
        let id = rule.id().as_str();
        for kind in ["fires", "silent"] {
            let dir = root().join("tests/fixtures/rules").join(id).join(kind);
            assert!(dir.is_dir(), "missing fixture {}", dir.display());
            let report = run(&dir);
            assert!(
                report.errors.is_empty(),
                "{id}/{kind}: {:#?}",
                report.errors
            );
            // The snapshot holds the rule's own findings: another rule's are its own fixtures' business.
            let own: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == id).collect();
            match kind {
                "fires" if own.is_empty() => failures.push(format!("{id}: did not fire on fires/")),
                "silent" if !own.is_empty() => failures.push(format!("{id}: fired on silent/")),
                _ => {}
            }
            if kind == "silent" {
                // Near misses (500m vs 0.5, 1Gi vs 1024Mi, reordered keys, other hosts…) are no problem at all.
                let loud: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.severity > Severity::Info)
                    .collect();
                if !loud.is_empty() {
                    failures.push(format!("{id}/silent has warn/block findings: {loud:#?}"));
                }
            }
            insta::with_settings!({snapshot_suffix => format!("{id}-{kind}"), prepend_module_to_snapshot => false}, {
                insta::assert_json_snapshot!("rule", own);
            });
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
