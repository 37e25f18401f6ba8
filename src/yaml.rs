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
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(err: serde_saphyr::Error) -> Self {
        let location = err.location();
        // The rendered message may still echo a scalar; keep its first line, which is the parser's words,
        // without the location it appends (kept in fields instead).
        let rendered = err.without_snippet().to_string();
        let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
        let message = match first.rfind(" at line ") {
            Some(pos) if first[pos..].contains("column") => &first[..pos],
            _ => first,
        };
        YamlError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message: message.trim().to_string(),
        }
    }
}

/// YAML 1.2 core schema, as kustomize (kyaml) reads it: `yes`, `on` and `y` are strings, not booleans. No
/// snippets in errors: they would quote the input.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Parses every document of a YAML stream (empty documents are skipped).
pub fn documents<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    Ok(serde_saphyr::from_multiple_with_options(text, options())?)
}

/// Parses kustomize's own output for a whole environment, which can exceed the parser's default budget
/// (1,024 documents, 250,000 nodes) that guards against hostile input.
pub fn documents_unbounded<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    let mut options = options();
    options.budget = None;
    Ok(serde_saphyr::from_multiple_with_options(text, options)?)
}

/// Parses a single YAML document.
pub fn document<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_saphyr::from_str_with_options(text, options())?)
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
    fn syntax_error_has_line_and_no_secret() {
        let text = "kind: Secret\nstringData:\n  password: hunter2\n bad: [\n";
        let err = documents::<serde_json::Value>(text).expect_err("invalid");
        assert!(err.line.is_some(), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
