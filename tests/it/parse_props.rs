//! Property tests over every parser envparity runs on repository (and dump, and config) text (DESIGN.md,
//! "Untrusted input"): arbitrary bytes and YAML-shaped noise — deep `[`/`{`/`- ` nesting, anchors and
//! aliases up to billion-laughs expansions, huge scalars, odd indentation, tabs, BOMs, `---` streams,
//! invalid UTF-8 — never panic, never hang, and an expansion bomb is refused as a limit rather than built.
//!
//! Cases are capped (a few dozen per property) so the whole set runs in seconds; `PROPTEST_CASES` raises it
//! for a longer local run.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use envparity::gitops::RepoIdentity;
use envparity::input::Reader;
use envparity::kustomization::Kustomization;
use envparity::live::source::{DirSource, ListRequest, LiveSource};
use proptest::prelude::*;
use serde_json::Value;

/// Per-file limit the readers get: the default `limits.max_file_bytes`.
const MAX_FILE_BYTES: u64 = 32 << 20;

/// What one input may cost every parser together, in a debug build on a loaded CI machine.
const BOUND: Duration = Duration::from_secs(5);

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        // Shrinking a slow case could take minutes; the first failure is report enough.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

/// Tokens YAML's scanner treats specially, glued at random.
fn yamlish_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("- ".to_string()),
        Just("? ".to_string()),
        Just(": ".to_string()),
        Just(":".to_string()),
        Just(", ".to_string()),
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just("  ".to_string()),
        Just("\r\n".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("&b ".to_string()),
        Just("*b".to_string()),
        Just("<<: *a\n".to_string()),
        Just("---\n".to_string()),
        Just("...\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\\".to_string()),
        Just("|\n".to_string()),
        Just(">-\n".to_string()),
        Just("# c\n".to_string()),
        Just("!!str ".to_string()),
        Just("!!binary ".to_string()),
        Just("!e!x ".to_string()),
        Just("%YAML 1.2\n".to_string()),
        Just("%TAG !e! tag:e,2000:\n".to_string()),
        Just("~".to_string()),
        Just("null".to_string()),
        Just("0x1F".to_string()),
        Just("1e999".to_string()),
        Just("apiVersion: v1\n".to_string()),
        Just("kind: Secret\n".to_string()),
        Just("resources:\n".to_string()),
        "[a-z]{1,8}",
        "[ -~]{0,16}",
    ]
}

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(yamlish_token(), 0..120).prop_map(|tokens| tokens.concat())
}

/// Deep nesting of one kind, open or closed, with an optional tail of noise.
fn deep() -> impl Strategy<Value = String> {
    (0usize..3000, 0u8..6, any::<bool>(), yamlish()).prop_map(|(depth, kind, close, tail)| {
        let body = match kind {
            0 => format!(
                "a: {}1{}",
                "[".repeat(depth),
                if close {
                    "]".repeat(depth)
                } else {
                    String::new()
                }
            ),
            1 => format!(
                "a: {}{}",
                (0..depth).map(|i| format!("{{k{i}: ")).collect::<String>(),
                if close {
                    "}".repeat(depth)
                } else {
                    String::new()
                }
            ),
            2 => format!("{}x", "- ".repeat(depth)),
            3 => (0..depth.min(300))
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
            4 => (0..depth.min(300))
                .map(|i| format!("{}- k:\n", " ".repeat(i * 2)))
                .collect(),
            _ => (0..depth.min(300))
                .map(|i| format!("{}? k\n", "\t".repeat(i % 3) + &" ".repeat(i)))
                .collect(),
        };
        format!("{body}\n{tail}")
    })
}

/// A billion-laughs document: `levels` anchors, each a sequence of `fanout` aliases of the one before,
/// the first anchoring a scalar of `scalar` bytes (quoted, so the parser owns a copy of it). Extra anchors
/// keep serde-saphyr's alias/anchor ratio heuristic quiet, so the replay limits themselves are exercised.
#[derive(Debug, Clone)]
struct Bomb {
    levels: u32,
    fanout: u32,
    scalar: usize,
    padding_anchors: usize,
    deep_line: bool,
}

impl Bomb {
    fn text(&self) -> String {
        let mut text = String::new();
        if self.deep_line {
            // Past `depth_bound`'s quick exit, so `check_manifest` really parses.
            text.push_str(&format!("deep: \"{}\"\n", "[".repeat(200)));
        }
        text.push_str(&format!("l0: &l0 \"{}\\n\"\n", "x".repeat(self.scalar)));
        for level in 1..=self.levels {
            let aliases = vec![format!("*l{}", level - 1); self.fanout as usize].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{aliases}]\n"));
        }
        for i in 0..self.padding_anchors {
            text.push_str(&format!("p{i}: &p{i} 1\n"));
        }
        text
    }

    /// How many scalar bytes the fully expanded document holds.
    fn expanded_bytes(&self) -> f64 {
        (self.scalar as f64 + 1.0)
            * (0..=self.levels)
                .map(|l| f64::from(self.fanout).powi(l as i32))
                .sum::<f64>()
    }
}

fn bomb() -> impl Strategy<Value = Bomb> {
    (
        1u32..10,
        2u32..12,
        prop_oneof![Just(3usize), Just(4096), Just(256 << 10)],
        0usize..400,
        any::<bool>(),
    )
        .prop_map(
            |(levels, fanout, scalar, padding_anchors, deep_line)| Bomb {
                levels,
                fanout,
                scalar,
                padding_anchors,
                deep_line,
            },
        )
}

/// Raw bytes: arbitrary, or YAML-shaped noise cut at a random byte (splitting UTF-8), with a BOM or a stray
/// invalid byte in front.
fn raw_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        (yamlish(), any::<usize>(), 0u8..3).prop_map(|(text, cut, prefix)| {
            let mut bytes = match prefix {
                0 => Vec::new(),
                1 => vec![0xef, 0xbb, 0xbf],
                _ => vec![0xff, 0xfe],
            };
            let text = text.as_bytes();
            bytes.extend_from_slice(&text[..cut % (text.len() + 1)]);
            bytes
        }),
    ]
}

/// Fields a kustomization declares, with YAML-shaped (often wrong-typed) values.
fn kustomization_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "resources",
        "bases",
        "components",
        "patches",
        "patchesStrategicMerge",
        "patchesJson6902",
        "images",
        "replicas",
        "namePrefix",
        "nameSuffix",
        "namespace",
        "kind",
        "helmCharts",
        "helmChartInflationGenerator",
        "configMapGenerator",
        "secretGenerator",
        "generators",
        "transformers",
        "configurations",
        "crds",
    ]);
    let value = prop_oneof![
        Just(" []".to_string()),
        Just(" ~".to_string()),
        Just(" Component".to_string()),
        Just("\n- ../base\n- x.yaml".to_string()),
        Just("\n- path: p.yaml\n  target: {kind: Deployment, name: web}".to_string()),
        Just("\n- {name: nginx, newName: evil/nginx}".to_string()),
        Just(" [/etc/passwd, ../../outside, 'https://example.com/x']".to_string()),
        "[ -~]{0,24}".prop_map(|s| format!(" {s}")),
        yamlish().prop_map(|s| format!(" {s}")),
        deep().prop_map(|s| format!(" {s}")),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}\n"))
            .collect()
    })
}

/// Every parser of repository, dump and config text, on `bytes`. Returns the time they took together.
fn parse_everywhere(bytes: &[u8]) -> Duration {
    let started = Instant::now();
    let text = String::from_utf8_lossy(bytes);
    let _ = envparity::yaml::documents::<Value>(&text);
    let _ = envparity::yaml::document::<Value>(&text);
    let _ = envparity::yaml::documents_rendered::<Value>(&text);
    let _ = envparity::yaml::check_manifest(&text);
    let _ = envparity::config::Config::parse(&text, Path::new("envparity.toml"));
    // Flux's `${var}` substitution runs on repository text too.
    let vars = [("a".to_string(), "${a}".to_string())]
        .into_iter()
        .collect();
    let _ = envparity::gitops::substitute(&text, &vars);
    from_files(bytes);
    started.elapsed()
}

/// The readers that take files: a kustomization (and the input walk through it), GitOps objects, a live
/// dump, the config file.
fn from_files(bytes: &[u8]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let overlay = repo.join("overlay");
    fs::create_dir_all(&overlay).expect("mkdir overlay");
    fs::write(overlay.join("kustomization.yaml"), bytes).expect("write kustomization");
    fs::write(repo.join("apps.yaml"), bytes).expect("write gitops file");
    let reader = Reader::new(&repo, MAX_FILE_BYTES);
    let _ = Kustomization::read(&overlay, &reader);
    let _ = envparity::render::input_files(&overlay, &repo);
    let _ = envparity::gitops::scan(&repo, &reader, &RepoIdentity::unknown());

    // An overlay whose resource is the text: the manifest walk (`check_manifest` on a file).
    let manifest = repo.join("manifest");
    fs::create_dir_all(&manifest).expect("mkdir manifest");
    fs::write(
        manifest.join("kustomization.yaml"),
        "resources:\n- m.yaml\n",
    )
    .expect("write");
    fs::write(manifest.join("m.yaml"), bytes).expect("write manifest");
    let _ = envparity::render::input_files(&manifest, &repo);

    let dump = tmp.path().join("dump");
    fs::create_dir_all(dump.join("prod")).expect("mkdir dump");
    fs::write(dump.join("prod/objects.yaml"), bytes).expect("write dump");
    let source = DirSource::new(&dump, MAX_FILE_BYTES);
    let request = ListRequest {
        api_version: "apps/v1".to_string(),
        kind: "Deployment".to_string(),
        namespace: None,
    };
    let _ = source.list("prod", &[request]);
    let _ = source.sole_namespace("prod");

    fs::write(tmp.path().join("envparity.toml"), bytes).expect("write config");
    let _ = envparity::config::Config::load(&tmp.path().join("envparity.toml"));
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in raw_bytes()) {
        let took = parse_everywhere(&bytes);
        prop_assert!(took < BOUND, "took {took:?}");
    }

    #[test]
    fn yamlish_noise_never_panics(text in yamlish()) {
        let took = parse_everywhere(text.as_bytes());
        prop_assert!(took < BOUND, "took {took:?}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed(text in deep()) {
        let took = parse_everywhere(text.as_bytes());
        prop_assert!(took < BOUND, "took {took:?}");
    }

    #[test]
    fn kustomization_fields_of_any_shape(text in kustomization_text()) {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("kustomization.yaml"), &text).expect("write");
        let reader = Reader::new(tmp.path(), MAX_FILE_BYTES);
        let started = Instant::now();
        let _ = Kustomization::read(tmp.path(), &reader);
        let _ = envparity::render::input_files(tmp.path(), tmp.path());
        prop_assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    }

    #[test]
    fn config_text_of_any_shape(text in "[ -~\n\t\\[\\]{}=\"']{0,400}") {
        let _ = envparity::config::Config::parse(&text, Path::new("envparity.toml"));
    }
}

proptest! {
    // A bomb case costs up to a second of a debug build; a few cover the shapes.
    #![proptest_config(config(5))]

    /// An expansion bomb is refused as a limit by every YAML entry point (or, when its expansion is
    /// modest, parsed), and quickly either way: nothing builds the expansion.
    #[test]
    fn alias_expansion_bombs_are_bounded(bomb in bomb()) {
        let text = bomb.text();
        // More than any budget lets through: the default 64 MiB of scalars, or the manifest budget's
        // twice the text plus 1 MiB.
        let huge = bomb.expanded_bytes() > (64u64 << 20) as f64 + 4.0 * text.len() as f64;
        let started = Instant::now();
        for (parses, result) in [
            (true, envparity::yaml::documents::<Value>(&text).map(drop)),
            (true, envparity::yaml::document::<Value>(&text).map(drop)),
            (true, envparity::yaml::documents_rendered::<Value>(&text).map(drop)),
            // Text whose byte-level depth bound is within the limit is not parsed at all.
            (bomb.deep_line, envparity::yaml::check_manifest(&text)),
        ] {
            if let Err(err) = &result {
                prop_assert!(err.limit, "a bomb failed on something other than a limit: {err:?}");
            }
            prop_assert!(!(huge && parses && result.is_ok()), "{bomb:?} was expanded");
        }
        parse_everywhere(text.as_bytes());
        prop_assert!(started.elapsed() < BOUND * 2, "{bomb:?} took {:?}", started.elapsed());
    }
}
