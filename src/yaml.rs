//! The one place that knows which YAML crate envparity uses (serde-saphyr: pure Rust, maintained; see
//! DESIGN.md), so the choice can change without touching the rest.
//!
//! Error messages never quote the input: a YAML error inside a Secret manifest must not print its value.

use serde::de::DeserializeOwned;

/// A YAML document that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct YamlError {
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<u64>,
    /// 1-based column of the problem, when the parser knows it.
    pub column: Option<u64>,
    /// The parser's message, without any excerpt of the input.
    pub message: String,
    /// Whether a resource limit (depth, size, aliases) stopped the parse, rather than a syntax error.
    pub limit: bool,
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(err: serde_saphyr::Error) -> Self {
        use serde_saphyr::Error as E;
        let location = err.location();
        // A breach met while replaying an alias comes wrapped with the alias's locations.
        let mut original = &err;
        while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = original {
            original = error;
        }
        // Flow collections (`[[[…`) nested past the scanner's limit are a scanner error, not a budget
        // breach; its words are the only sign of it.
        let limit = matches!(
            original,
            E::Budget { .. }
                | E::AliasReplayLimitExceeded { .. }
                | E::AliasExpansionLimitExceeded { .. }
                | E::AliasReplayStackDepthExceeded { .. }
                | E::AliasReplayCounterOverflow { .. }
        ) || err.to_string().contains("recursion limit exceeded");
        // The rendered message may still echo a scalar; keep its first line, which is the parser's words,
        // without the location it appends (kept in fields instead).
        let rendered = original.to_string();
        let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
        let message = match first.rfind(" at line ") {
            Some(pos) if first[pos..].contains("column") => &first[..pos],
            _ => first,
        };
        YamlError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message: message.trim().to_string(),
            limit,
        }
    }
}

/// YAML 1.2 core schema, as kustomize (kyaml) reads it: `yes`, `on` and `y` are strings, not booleans. No
/// snippets in errors: they would quote the input.
///
/// Aliases replay at most one event per byte of `text` (and [`REPLAY_FLOOR`] however short it is): the
/// parser's default, a million replayed events, let a 300-byte billion-laughs document build 250,000 values
/// before the node budget stopped it, about a second per parse in a debug build and once per reader of the
/// file. Expansion stays linear in the input; real files replay a few hundred events.
fn options(text: &str) -> serde_saphyr::Options {
    let mut options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    };
    options.alias_limits.max_total_replayed_events = text
        .len()
        .max(REPLAY_FLOOR)
        .min(options.alias_limits.max_total_replayed_events);
    options
}

/// Events any YAML text may replay through aliases, however short (see [`options`]).
const REPLAY_FLOOR: usize = 1 << 14;

/// Parses every document of a YAML stream (empty documents are skipped).
pub fn documents<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    Ok(serde_saphyr::from_multiple_with_options(
        text,
        options(text),
    )?)
}

/// How deep a manifest or kustomize's output may nest. The parser's default (64) guards kustomization
/// files; manifests are deeper (a CRD's OpenAPI schema nests two levels per field, and one embedding a
/// pod template goes far), but nothing real comes near this, while a 9,000-deep document costs kustomize
/// seconds and tens of MiB to re-indent, and envparity its stack.
pub const MANIFEST_MAX_DEPTH: usize = 128;

/// The stack a manifest is parsed on: deserializing recurses once per level, ~22 KiB a level in a debug
/// build, more than a 2 MiB worker thread holds at [`MANIFEST_MAX_DEPTH`]. Only touched pages cost memory.
const PARSE_STACK_BYTES: usize = 32 << 20;

/// Runs `parse` on a thread of its own with [`PARSE_STACK_BYTES`] of stack.
fn on_parse_stack<R: Send>(
    parse: impl FnOnce() -> Result<R, YamlError> + Send,
) -> Result<R, YamlError> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("envparity-yaml".to_string())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, parse)
            .map_err(|err| YamlError {
                line: None,
                column: None,
                message: format!("cannot start a parser thread: {err}"),
                limit: true,
            })?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A budget for manifests and renders: bounded depth; counts of nodes and documents bounded only by the
/// size of the text (a file is at most `limits.max_file_bytes`, kustomize's output at most 8 times that).
///
/// Scalar bytes are bounded by the text's length too, because the budget also charges scalars replayed
/// through aliases: without it one anchored 8 MiB quoted scalar named by 3,000 aliases made the parser copy
/// 24 GB (17 s; a 32 MiB file could hold minutes of it). Without aliases a scalar never outgrows its source;
/// the slack covers the modest reuse real manifests make of anchors.
fn manifest_options(text: &str) -> serde_saphyr::Options {
    let mut options = options(text);
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MANIFEST_MAX_DEPTH;
    budget.max_documents = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_events = usize::MAX;
    budget.max_total_scalar_bytes = text
        .len()
        .saturating_mul(2)
        .saturating_add(MANIFEST_SCALAR_SLACK);
    options.budget = Some(budget);
    options
}

/// Scalar bytes a manifest may hold beyond twice its length (see [`manifest_options`]).
const MANIFEST_SCALAR_SLACK: usize = 1 << 20;

/// Parses kustomize's own output for a whole environment, which can exceed the parser's default counts
/// (1,024 documents, 250,000 nodes) but not [`MANIFEST_MAX_DEPTH`].
pub fn documents_rendered<T: DeserializeOwned + Send>(text: &str) -> Result<Vec<T>, YamlError> {
    on_parse_stack(|| {
        Ok(serde_saphyr::from_multiple_with_options(
            text,
            manifest_options(text),
        )?)
    })
}

/// An upper bound on how deep `text` can nest, from its bytes alone: a block level takes at least one more
/// column of indentation or a `- ` / `? ` on the same line, and a flow level a `[` or `{` (every one counted,
/// closed or not, so quoting cannot hide one). Far above the real depth for flow-heavy text; never below.
fn depth_bound(text: &str) -> usize {
    let mut flow = 0usize;
    let mut block = 0usize;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let markers = line.matches("- ").count() + line.matches("? ").count();
        block = block.max(indent + markers + 1);
        flow += line.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    }
    block + flow
}

/// Parses a manifest stream only to see it stays within the limits, keeping nothing: `Err` only for a
/// breached limit (a syntax error is left for kustomize to report in its own words). Text whose
/// [`depth_bound`] is within the limit is not parsed at all (the check runs on every walk, warm ones too).
pub fn check_manifest(text: &str) -> Result<(), YamlError> {
    if depth_bound(text) <= MANIFEST_MAX_DEPTH {
        return Ok(());
    }
    on_parse_stack(|| {
        match serde_saphyr::from_multiple_with_options::<serde::de::IgnoredAny>(
            text,
            manifest_options(text),
        ) {
            Err(err) => {
                let err = YamlError::from(err);
                if err.limit { Err(err) } else { Ok(()) }
            }
            Ok(_) => Ok(()),
        }
    })
}

/// Parses a single YAML document.
pub fn document<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_saphyr::from_str_with_options(text, options(text))?)
}

/// Serialises a value as YAML.
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_stream() {
        let docs: Vec<serde_json::Value> =
            documents("a: 1\n---\nb: [x, y]\n---\n").expect("valid yaml");
        assert_eq!(docs.len(), 2);
        // YAML 1.2: `y` is a string (YAML 1.1 would read a boolean).
        assert_eq!(docs[1]["b"][1], "y");
    }

    #[test]
    fn depth_is_bounded_for_every_parse() {
        let deep = |depth: usize| format!("a: {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        let started = std::time::Instant::now();
        let err = document::<serde_json::Value>(&deep(9000)).expect_err("too deep");
        assert!(err.limit, "{err:?}");
        let err = check_manifest(&deep(9000)).expect_err("too deep");
        assert!(err.limit, "{err:?}");
        let err = documents_rendered::<serde_json::Value>(&deep(9000)).expect_err("too deep");
        assert!(err.limit, "{err:?}");
        let block: String = (0..9000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        let err = check_manifest(&block).expect_err("too deep");
        assert!(err.limit && err.message.contains("depth"), "{err:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Deep, but within the limit; a syntax error is not a limit.
        let within: String = (0..MANIFEST_MAX_DEPTH - 2)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        assert_eq!(check_manifest(&within), Ok(()));
        assert!(documents_rendered::<serde_json::Value>(&within).is_ok());
        assert_eq!(check_manifest("a: [\n"), Ok(()));
        // The byte bound never undercounts: quoted brackets and closers cannot hide levels.
        let hidden = format!("a: {}1{}\n", "[\"]\", ".repeat(200), "]".repeat(200));
        assert!(depth_bound(&hidden) > MANIFEST_MAX_DEPTH);
        assert!(check_manifest(&hidden).is_err());
        let compact = format!("{}1\n", "- ".repeat(300));
        assert!(check_manifest(&compact).is_err());
    }

    /// Regression: `check_manifest` and `documents_rendered` lifted the scalar-byte budget, and the budget is
    /// what charges scalars replayed through aliases, so a quoted scalar anchored once and aliased thousands
    /// of times (extra anchors keep the alias/anchor ratio heuristic quiet) was copied per alias: 17 s for
    /// an 8 MiB file, minutes for a 32 MiB one.
    #[test]
    fn alias_bomb_of_a_large_quoted_scalar_is_bounded() {
        let mut text = format!("deep: \"{}\"\n", "[".repeat(200));
        text.push_str(&format!("a: &a \"{}\\n\"\n", "x".repeat(8 << 20)));
        for i in 0..400 {
            text.push_str(&format!("d{i}: &d{i} 1\n"));
        }
        text.push_str(&format!("b: [{}]\n", "*a, ".repeat(3000)));
        let started = std::time::Instant::now();
        let err = check_manifest(&text).expect_err("an alias bomb breaches a limit");
        assert!(err.limit, "{err:?}");
        let err = documents_rendered::<serde::de::IgnoredAny>(&text).expect_err("alias bomb");
        assert!(err.limit, "{err:?}");
        let err = documents::<serde_json::Value>(&text).expect_err("alias bomb");
        assert!(err.limit, "{err:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // Real reuse of an anchor stays within the budget.
        let block = "x".repeat(4096);
        let reuse = format!(
            "a: &a \"{block}\"\n{}",
            (0..50).map(|i| format!("b{i}: *a\n")).collect::<String>()
        );
        assert!(documents_rendered::<serde_json::Value>(&reuse).is_ok());
    }

    /// Regression: the parser's default replay limit (a million events) let a 300-byte document expand
    /// to 250,000 values in every reader of it, a second each in a debug build.
    #[test]
    fn alias_expansion_is_linear_in_the_text() {
        let mut text = "l0: &l0 x\n".to_string();
        for level in 1..=6 {
            let aliases = vec![format!("*l{}", level - 1); 8].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{aliases}]\n"));
        }
        let started = std::time::Instant::now();
        for err in [
            documents::<serde_json::Value>(&text).map(drop),
            document::<serde_json::Value>(&text).map(drop),
            documents_rendered::<serde_json::Value>(&text).map(drop),
        ]
        .map(|r| r.expect_err("8^6 scalars from 300 bytes"))
        {
            assert!(err.limit && err.message.contains("replay"), "{err:?}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // Real reuse: an anchored block named a few times.
        let reuse =
            "env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\na: *env\nb: *env\nc: *env\n";
        assert!(document::<serde_json::Value>(reuse).is_ok());
    }

    #[test]
    fn syntax_error_has_line_and_no_secret() {
        let text = "kind: Secret\nstringData:\n  password: hunter2\n bad: [\n";
        let err = documents::<serde_json::Value>(text).expect_err("invalid");
        assert!(err.line.is_some(), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
