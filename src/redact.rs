//! What of a Kubernetes object may be shown: the one place that hides values before they become text.
//!
//! Everything envparity shows (findings in every output format, the history, the site, the email) is built
//! from values that passed through here, so nothing secret typed into a cluster by hand reaches them
//! (DESIGN.md, "Untrusted input"):
//! - an env var's `value` (anywhere in a shown subtree: a container added by hand, a whole `env` list) is
//!   [`REDACTED`]; `valueFrom` stays, as it only names where the value comes from;
//! - a Secret's `data` and `stringData` values are [`REDACTED`] (their keys stay);
//! - a ConfigMap's `data`/`binaryData` values are shown as a short hash (`sha256:1a2b3c4d`), so a change is
//!   seen without its content;
//! - probe and hook `exec.command` arguments (the program stays) and `httpHeaders[*].value` are
//!   [`REDACTED`];
//! - `kubectl.kubernetes.io/last-applied-configuration` (a whole manifest, env values included) is dropped
//!   before diffing ([`without_last_applied`]) and from any shown subtree;
//! - every shown value is cut to [`MAX_SHOWN`] characters ([`bound`]).
//!
//! Paths are the drift paths of `live::diff` (`spec.template.spec.containers[web].env[TOKEN].value`,
//! `data.app.properties`); the rules look only at field names, so a subtree's path may also be a short tail
//! (`readinessProbe`).

use std::borrow::Cow;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What a hidden value is shown as.
pub const REDACTED: &str = "<redacted>";
/// The most characters of one value that are shown; longer values are cut, their full length noted.
pub const MAX_SHOWN: usize = 200;
/// The annotation `kubectl apply` leaves: the whole applied manifest, env values included.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How a value is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Replaced by [`REDACTED`]: nothing of it is shown.
    Redacted,
    /// Replaced by a short hash of it: equal values show equal hashes, a change shows.
    Hashed,
}

/// One step of a path: a field, or an item of a list (its key, or its position).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Item(String),
}

/// Fields whose keys are free-form (dots and slashes allowed): the rest of a path after one of them is one
/// key. `data`, `binaryData` and `stringData` only at the top of an object.
const MAP_FIELDS: [&str; 4] = ["annotations", "labels", "nodeSelector", "matchLabels"];
const DATA_FIELDS: [&str; 3] = ["data", "binaryData", "stringData"];

/// The steps of a drift path (`a.b[key].c`; `[…]` may contain dots).
fn parse(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let free_key = match steps.last() {
            Some(Step::Field(f)) if MAP_FIELDS.contains(&f.as_str()) => true,
            Some(Step::Field(f)) if steps.len() == 1 => DATA_FIELDS.contains(&f.as_str()),
            _ => false,
        };
        if free_key {
            steps.push(Step::Field(rest.to_string()));
            break;
        }
        // One segment: up to the first `.` outside brackets.
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                '.' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let segment = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        let (name, mut items) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            steps.push(Step::Field(name.to_string()));
        }
        while let Some(inner) = items.strip_prefix('[') {
            let close = inner.find(']').unwrap_or(inner.len());
            steps.push(Step::Item(inner[..close].to_string()));
            items = inner.get(close + 1..).unwrap_or("");
        }
    }
    steps
}

/// Whether the value at `steps` in an object of `kind` is hidden, and how.
fn verdict(kind: &str, steps: &[Step]) -> Option<Hidden> {
    let field = |i: usize| match steps.get(i) {
        Some(Step::Field(f)) => Some(f.as_str()),
        _ => None,
    };
    let from_end = |back: usize| {
        steps
            .len()
            .checked_sub(back)
            .and_then(|i| steps.get(i))
            .map(|s| match s {
                Step::Field(f) => f.as_str(),
                Step::Item(_) => "[]",
            })
    };
    // Top-level data maps: a Secret's values are never shown, a ConfigMap's only as a hash.
    if steps.len() >= 2 && matches!(field(0), Some(f) if DATA_FIELDS.contains(&f)) {
        return Some(if kind == "Secret" || field(0) == Some("stringData") {
            Hidden::Redacted
        } else {
            Hidden::Hashed
        });
    }
    let tail = |names: &[&str]| {
        names
            .iter()
            .rev()
            .enumerate()
            .all(|(i, n)| from_end(i + 1) == Some(n))
    };
    if tail(&["env", "[]", "value"]) || tail(&["httpHeaders", "[]", "value"]) {
        return Some(Hidden::Redacted);
    }
    // `exec.command`: the program is shown, its arguments are not (`sh -c "curl -H 'Authorization: …'"`).
    if tail(&["exec", "command", "[]"]) {
        let program = matches!(steps.last(), Some(Step::Item(i)) if i == "0");
        return (!program).then_some(Hidden::Redacted);
    }
    if tail(&["annotations", LAST_APPLIED]) {
        return Some(Hidden::Redacted);
    }
    None
}

/// How the value at `path` of an object of `kind` is hidden, if it is (`kind` may be empty when unknown).
pub fn hidden(kind: &str, path: &str) -> Option<Hidden> {
    verdict(kind, &parse(path))
}

/// `value`, which sits at `path` in an object of `kind`, with everything that must not be shown hidden
/// (recursively) and `last-applied-configuration` annotations dropped.
pub fn subtree(kind: &str, path: &str, value: &Value) -> Value {
    let mut steps = parse(path);
    walk(kind, &mut steps, value)
}

fn walk(kind: &str, steps: &mut Vec<Step>, value: &Value) -> Value {
    if let Some(how) = verdict(kind, steps) {
        return conceal(how, value);
    }
    match value {
        Value::Object(map) => {
            let annotations = matches!(steps.last(), Some(Step::Field(f)) if f == "annotations");
            let mut out = Map::new();
            for (k, v) in map {
                if annotations && k == LAST_APPLIED {
                    continue;
                }
                steps.push(Step::Field(k.clone()));
                out.insert(k.clone(), walk(kind, steps, v));
                steps.pop();
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    steps.push(Step::Item(i.to_string()));
                    let shown = walk(kind, steps, v);
                    steps.pop();
                    shown
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn conceal(how: Hidden, value: &Value) -> Value {
    match how {
        Hidden::Redacted => Value::String(REDACTED.into()),
        Hidden::Hashed => Value::String(short_hash(value)),
    }
}

/// `sha256:` and the first 8 hex digits of the SHA-256 of a value (a string's own bytes, else its JSON).
pub fn short_hash(value: &Value) -> String {
    let bytes = match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    };
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// How the value at `path` of an object of `kind` is shown: hidden where it must be, compact (a string as
/// itself, anything else as JSON), at most [`MAX_SHOWN`] characters.
pub fn show(kind: &str, path: &str, value: &Value) -> String {
    let shown = match subtree(kind, path, value) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    bound(&shown)
}

/// `text` cut to at most [`MAX_SHOWN`] characters, with `…` and the full length noted when cut. Bounding an
/// already bounded text changes nothing.
pub fn bound(text: &str) -> String {
    let length = text.chars().count();
    if length <= MAX_SHOWN {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_SHOWN - 30).collect();
    format!("{kept}… ({length} chars)")
}

/// `object` without the `last-applied-configuration` annotation, and without the managed-field entries
/// that own it (else the annotation map it leaves would read as a field set by hand). Borrowed when there
/// is none.
pub fn without_last_applied(object: &Value) -> Cow<'_, Value> {
    let annotated = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .is_some();
    let owned = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e.pointer("/fieldsV1/f:metadata/f:annotations")
                    .and_then(|a| a.get(format!("f:{LAST_APPLIED}")))
                    .is_some()
            })
        });
    if !annotated && !owned {
        return Cow::Borrowed(object);
    }
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let emptied = match metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            Some(annotations) => {
                annotations.remove(LAST_APPLIED);
                annotations.is_empty()
            }
            None => false,
        };
        if emptied {
            metadata.remove("annotations");
        }
        for entry in metadata
            .get_mut("managedFields")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(fields) = entry.get_mut("fieldsV1").and_then(Value::as_object_mut) else {
                continue;
            };
            let meta_emptied = match fields.get_mut("f:metadata").and_then(Value::as_object_mut) {
                Some(meta) => {
                    let ann_emptied =
                        match meta.get_mut("f:annotations").and_then(Value::as_object_mut) {
                            Some(ann) => {
                                ann.remove(&format!("f:{LAST_APPLIED}"));
                                ann.keys().all(|k| k == ".")
                            }
                            None => false,
                        };
                    if ann_emptied {
                        meta.remove("f:annotations");
                    }
                    meta.keys().all(|k| k == ".")
                }
                None => false,
            };
            if meta_emptied {
                fields.remove("f:metadata");
            }
        }
    }
    Cow::Owned(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "ep-planted-s3cr3t";

    #[test]
    fn paths_are_split_outside_brackets_and_free_keys_stay_whole() {
        assert_eq!(
            parse("spec.template.spec.containers[web].volumeMounts[/etc/a.yaml].subPath"),
            [
                Step::Field("spec".into()),
                Step::Field("template".into()),
                Step::Field("spec".into()),
                Step::Field("containers".into()),
                Step::Item("web".into()),
                Step::Field("volumeMounts".into()),
                Step::Item("/etc/a.yaml".into()),
                Step::Field("subPath".into()),
            ]
        );
        assert_eq!(
            parse("metadata.annotations.kubectl.kubernetes.io/last-applied-configuration"),
            [
                Step::Field("metadata".into()),
                Step::Field("annotations".into()),
                Step::Field(LAST_APPLIED.into()),
            ]
        );
        assert_eq!(
            parse("data.app.properties"),
            [
                Step::Field("data".into()),
                Step::Field("app.properties".into())
            ]
        );
        // Only a top-level `data` is a map of free keys.
        assert_eq!(parse("spec.data.a.b").len(), 4);
        assert_eq!(parse(""), []);
    }

    #[test]
    fn env_values_are_redacted_anywhere_and_value_from_stays() {
        let path = "spec.template.spec.containers[web].env[TOKEN].value";
        assert_eq!(hidden("Deployment", path), Some(Hidden::Redacted));
        assert_eq!(show("Deployment", path, &json!(SECRET)), REDACTED);
        // A sidecar added by hand: its env, probe headers and exec arguments, whatever the depth.
        let sidecar = json!({
            "name": "sidecar", "image": "proxy:1",
            "env": [
                {"name": "TOKEN", "value": SECRET},
                {"name": "FROM", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
            ],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080,
                "httpHeaders": [{"name": "Authorization", "value": SECRET}]}},
            "livenessProbe": {"exec": {"command": ["sh", "-c", SECRET]}},
            "lifecycle": {"preStop": {"exec": {"command": ["/bin/stop", SECRET]}}}
        });
        let shown = show(
            "Deployment",
            "spec.template.spec.containers[sidecar]",
            &sidecar,
        );
        assert!(!shown.contains(SECRET), "{shown}");
        let tree = subtree(
            "Deployment",
            "spec.template.spec.containers[sidecar]",
            &sidecar,
        );
        assert_eq!(tree["env"][0]["value"], REDACTED);
        assert_eq!(tree["env"][1]["valueFrom"]["secretKeyRef"]["key"], "k");
        assert_eq!(
            tree["livenessProbe"]["exec"]["command"],
            json!(["sh", REDACTED, REDACTED])
        );
        assert_eq!(
            tree["readinessProbe"]["httpGet"]["httpHeaders"][0]["name"],
            "Authorization"
        );
        assert_eq!(tree["readinessProbe"]["httpGet"]["path"], "/ready");
        // A whole env list, one env item, a short tail of a path.
        let env = json!([{"name": "TOKEN", "value": SECRET}]);
        assert!(!show("", "spec.template.spec.containers[web].env", &env).contains(SECRET));
        assert!(!show("", "containers[web].env[TOKEN]", &env[0]).contains(SECRET));
        assert!(!show("", "readinessProbe", &tree["readinessProbe"]).contains(SECRET));
    }

    #[test]
    fn secret_data_is_redacted_and_config_map_data_hashed() {
        let secret = json!({"kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": SECRET}, "stringData": {"token": SECRET}});
        let shown = subtree("Secret", "", &secret);
        assert_eq!(shown["data"]["password"], REDACTED);
        assert_eq!(shown["stringData"]["token"], REDACTED);
        assert_eq!(hidden("Secret", "data.password"), Some(Hidden::Redacted));

        assert_eq!(
            hidden("ConfigMap", "data.app.properties"),
            Some(Hidden::Hashed)
        );
        let a = show("ConfigMap", "data.GREETING", &json!("hello"));
        let b = show("ConfigMap", "data.GREETING", &json!(SECRET));
        assert!(
            a.starts_with("sha256:") && a.len() == "sha256:".len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(a, show("ConfigMap", "data.OTHER", &json!("hello")));
        let whole = show("ConfigMap", "data", &json!({"A": SECRET}));
        assert!(
            whole.contains("\"A\":\"sha256:") && !whole.contains(SECRET),
            "{whole}"
        );
        // Not a data map: shown as is.
        assert_eq!(hidden("ConfigMap", "metadata.name"), None);
        assert_eq!(show("Deployment", "spec.replicas", &json!(3)), "3");
    }

    #[test]
    fn last_applied_is_dropped_with_the_fields_that_own_it() {
        let manifest = format!("{{\"env\":[{{\"name\":\"T\",\"value\":\"{SECRET}\"}}]}}");
        let live = json!({"kind": "Deployment", "metadata": {
            "name": "web",
            "annotations": {LAST_APPLIED: manifest},
            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, format!("f:{LAST_APPLIED}"): {}}},
                             "f:spec": {"f:replicas": {}}}}]
        }});
        let clean = without_last_applied(&live);
        assert!(!clean.to_string().contains(SECRET));
        assert!(!clean.to_string().contains(LAST_APPLIED));
        assert!(clean.pointer("/metadata/annotations").is_none());
        assert_eq!(
            clean.pointer("/metadata/managedFields/0/fieldsV1"),
            Some(&json!({"f:spec": {"f:replicas": {}}}))
        );
        // Other annotations stay, and an object without it is borrowed as is.
        let mut other = live.clone();
        other["metadata"]["annotations"]["team"] = json!("shop");
        assert_eq!(
            without_last_applied(&other).pointer("/metadata/annotations"),
            Some(&json!({"team": "shop"}))
        );
        let plain = json!({"metadata": {"name": "web"}});
        assert!(matches!(without_last_applied(&plain), Cow::Borrowed(_)));
        // In a shown subtree, too.
        assert!(!show("Deployment", "metadata", &live["metadata"]).contains(SECRET));
        assert_eq!(
            show(
                "Deployment",
                &format!("metadata.annotations.{LAST_APPLIED}"),
                &json!(manifest)
            ),
            REDACTED
        );
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = "x".repeat(1000);
        let shown = bound(&long);
        assert!(shown.chars().count() <= MAX_SHOWN, "{}", shown.len());
        assert!(shown.ends_with("… (1000 chars)"), "{shown}");
        assert_eq!(bound(&shown), shown);
        assert_eq!(bound("short"), "short");
        let multibyte = "é".repeat(300);
        assert!(bound(&multibyte).chars().count() <= MAX_SHOWN);
        assert!(show("", "spec.x", &json!(long)).ends_with("(1000 chars)"));
    }
}
