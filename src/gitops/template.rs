//! ApplicationSet templating, the two syntaxes Argo CD renders every string field of a template with.
//!
//! - **fasttemplate** (the default): `{{key}}` (spaces inside allowed) is replaced by the string parameter
//!   `key`; an unknown key, or one whose value is not a string, stays as written. A string is only
//!   templated when one of its lines holds `{{` followed by `}}` (Argo's `.*{{.*}}.*` check); then a `{{`
//!   without a closing `}}` is an error.
//! - **Go text/template** (`goTemplate: true`), the subset ApplicationSets use: `{{ .a.b }}` field chains,
//!   `{{ index .path.segments 1 }}`, pipelines into `normalize` (Argo's DNS-name sanitiser), `lower`,
//!   `upper`, `trim`, `default`, `replace`, `trimPrefix`, `trimSuffix`; trim markers `{{-` `-}}`; comments.
//!   A missing key prints `<no value>` (Go's default) or is an error with `goTemplateOptions:
//!   ["missingkey=error"]`; a missing intermediate map is an error either way, as in Go. Values print as
//!   Go's `fmt` prints decoded JSON (numbers are `float64`: `3`, `1.5`, `1e+06`; lists `[a b]`). Anything
//!   else (`if`, `range`, variables, parentheses, other Sprig functions) is reported as unsupported rather
//!   than guessed.

use serde_json::{Map, Value};
use thiserror::Error;

/// Which syntax an ApplicationSet's template uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// fasttemplate, `{{path.basename}}`.
    Fast,
    /// Go text/template, `{{ .path.basename }}`.
    Go {
        /// `goTemplateOptions: ["missingkey=error"]`: a missing key is an error instead of `<no value>`.
        missing_key_error: bool,
    },
}

/// Why a template string could not be rendered. Messages name keys and functions, never parameter values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// A `{{` without its `}}`.
    #[error("unclosed {{{{ in a template")]
    Unclosed,
    /// A construct of Go templates envparity does not evaluate.
    #[error("unsupported in Go templates here: {construct}")]
    Unsupported {
        /// The keyword, function or character.
        construct: String,
    },
    /// An action that is not valid Go template syntax.
    #[error("malformed Go template action: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// `missingkey=error` and the key is missing.
    #[error("map has no entry for key \"{key}\"")]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A field of a missing or null value.
    #[error("nil pointer evaluating field {field}")]
    NilPointer {
        /// The field.
        field: String,
    },
    /// A field of a value that is not a map.
    #[error("can't evaluate field {field} in a {kind}")]
    NotAMap {
        /// The field.
        field: String,
        /// What the value is (`string`, `list`, ...).
        kind: &'static str,
    },
    /// `index` with a key of the wrong type, or out of range.
    #[error("error calling index: {reason}")]
    Index {
        /// What is wrong.
        reason: &'static str,
    },
    /// A function given a value it does not take.
    #[error("wrong argument for {function}: expected {expected}")]
    WrongArgument {
        /// The function.
        function: &'static str,
        /// What it takes.
        expected: &'static str,
    },
}

/// Renders every string of `value` (keys are not templated, as in Argo CD) with `params`.
pub fn render_value(value: &Value, params: &Value, syntax: Syntax) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => Value::String(render(s, params, syntax)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, params, syntax))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), render_value(v, params, syntax)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Renders one template string with `params` (an object: flat string keys for fasttemplate, nested values
/// for Go templates).
pub fn render(template: &str, params: &Value, syntax: Syntax) -> Result<String, TemplateError> {
    match syntax {
        Syntax::Fast => fast(template, params),
        Syntax::Go { missing_key_error } => go(template, params, missing_key_error),
    }
}

fn fast(template: &str, params: &Value) -> Result<String, TemplateError> {
    let templated = template.split('\n').any(|line| {
        line.find("{{")
            .is_some_and(|i| line[i + 2..].contains("}}"))
    });
    if !templated {
        return Ok(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let tag = &after[..end];
        let key = tag.trim();
        match params.get(key) {
            Some(Value::String(value)) if !key.is_empty() => out.push_str(value),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

const SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

fn go(template: &str, params: &Value, missing_key_error: bool) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        let mut inner = &rest[open + 2..];
        if let Some(after) = inner.strip_prefix('-')
            && after.starts_with(SPACE)
        {
            text = text.trim_end_matches(SPACE);
            inner = after;
        }
        out.push_str(text);
        let (action, trim_right, after) = split_action(inner)?;
        let action = action.trim_matches(SPACE);
        if let Some(comment) = action.strip_prefix("/*") {
            if !comment.ends_with("*/") {
                return Err(TemplateError::Malformed {
                    reason: "unclosed comment",
                });
            }
        } else {
            let tokens = lex(action)?;
            let value = pipeline(&tokens, params, missing_key_error)?;
            out.push_str(&print(value.as_ref()));
        }
        rest = if trim_right {
            after.trim_start_matches(SPACE)
        } else {
            after
        };
    }
    out.push_str(rest);
    Ok(out)
}

/// Splits `inner` (after `{{`) at the closing `}}` that is outside quotes: the action, whether it ended in
/// a ` -}}` trim marker, and the text after the `}}`.
fn split_action(inner: &str) -> Result<(&str, bool, &str), TemplateError> {
    let bytes = inner.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' && q != b'`' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None if b == b'"' || b == b'`' || b == b'\'' => quote = Some(b),
            None if inner[i..].starts_with("}}") => {
                let action = &inner[..i];
                let after = &inner[i + 2..];
                if let Some(stem) = action.strip_suffix('-')
                    && stem.ends_with(SPACE)
                {
                    return Ok((stem, true, after));
                }
                return Ok((action, false, after));
            }
            None => {}
        }
        i += 1;
    }
    Err(TemplateError::Unclosed)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// `.a.b` (empty for `.` itself).
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Int(i64),
    Bool(bool),
    Pipe,
}

fn lex(action: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut chars = action.char_indices().peekable();
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if SPACE.contains(&c) => {
                chars.next();
            }
            '|' => {
                chars.next();
                tokens.push(Token::Pipe);
            }
            '.' => {
                let mut fields = Vec::new();
                while chars.peek().is_some_and(|&(_, c)| c == '.') {
                    chars.next();
                    let mut name = String::new();
                    while let Some(&(_, c)) = chars.peek().filter(|&&(_, c)| ident_char(c)) {
                        name.push(c);
                        chars.next();
                    }
                    if name.is_empty() {
                        if fields.is_empty() && chars.peek().is_none_or(|&(_, c)| c != '.') {
                            break; // `.` itself
                        }
                        return Err(TemplateError::Malformed {
                            reason: "empty field name",
                        });
                    }
                    fields.push(name);
                }
                tokens.push(Token::Field(fields));
            }
            '"' | '`' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if d == '\\' && c == '"' {
                        match chars.next().map(|(_, e)| e) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(e @ ('\\' | '"')) => s.push(e),
                            _ => {
                                return Err(TemplateError::Unsupported {
                                    construct: "string escape".into(),
                                });
                            }
                        }
                        continue;
                    }
                    s.push(d);
                }
                if !closed {
                    return Err(TemplateError::Malformed {
                        reason: "unterminated string",
                    });
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                chars.next();
                let mut end = start + c.len_utf8();
                while let Some(&(j, d)) = chars.peek().filter(|&&(_, d)| ident_char(d) || d == '.')
                {
                    end = j + d.len_utf8();
                    chars.next();
                }
                let number = &action[start..end];
                let value = number
                    .parse::<i64>()
                    .map_err(|_| TemplateError::Unsupported {
                        construct: "number".into(),
                    })?;
                tokens.push(Token::Int(value));
            }
            c if ident_char(c) => {
                let mut name = String::new();
                while let Some(&(_, d)) = chars.peek().filter(|&&(_, d)| ident_char(d)) {
                    name.push(d);
                    chars.next();
                }
                tokens.push(match name.as_str() {
                    "true" => Token::Bool(true),
                    "false" => Token::Bool(false),
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                    | "break" | "continue" | "nil" => {
                        return Err(TemplateError::Unsupported { construct: name });
                    }
                    _ => Token::Ident(name),
                });
            }
            other => {
                return Err(TemplateError::Unsupported {
                    construct: other.to_string(),
                });
            }
        }
    }
    Ok(tokens)
}

/// A value during evaluation: `None` is Go's "no value" (a missing key).
type Val = Option<Value>;

fn pipeline(
    tokens: &[Token],
    params: &Value,
    missing_key_error: bool,
) -> Result<Val, TemplateError> {
    if tokens.is_empty() {
        return Err(TemplateError::Malformed {
            reason: "missing value for command",
        });
    }
    let mut piped: Option<Val> = None;
    for command in tokens.split(|t| *t == Token::Pipe) {
        let Some((head, rest)) = command.split_first() else {
            return Err(TemplateError::Malformed {
                reason: "missing command in pipeline",
            });
        };
        let value = match head {
            Token::Ident(function) => {
                let mut args = rest
                    .iter()
                    .map(|t| operand(t, params, missing_key_error))
                    .collect::<Result<Vec<Val>, _>>()?;
                args.extend(piped.take());
                call(function, args)?
            }
            _ if rest.is_empty() && piped.is_none() => operand(head, params, missing_key_error)?,
            _ => {
                return Err(TemplateError::Malformed {
                    reason: "can't give argument to non-function",
                });
            }
        };
        piped = Some(value);
    }
    Ok(piped.flatten())
}

fn operand(token: &Token, params: &Value, missing_key_error: bool) -> Result<Val, TemplateError> {
    match token {
        Token::Field(fields) => field(params, fields, missing_key_error),
        Token::Str(s) => Ok(Some(Value::String(s.clone()))),
        Token::Int(n) => Ok(Some(Value::from(*n))),
        Token::Bool(b) => Ok(Some(Value::Bool(*b))),
        Token::Ident(name) => Err(TemplateError::Unsupported {
            construct: format!("{name} as an argument"),
        }),
        Token::Pipe => Err(TemplateError::Malformed {
            reason: "unexpected |",
        }),
    }
}

fn field(root: &Value, fields: &[String], missing_key_error: bool) -> Result<Val, TemplateError> {
    let mut current = root;
    for (i, name) in fields.iter().enumerate() {
        match current {
            Value::Object(map) => match map.get(name) {
                Some(next) => current = next,
                None if missing_key_error => {
                    return Err(TemplateError::MissingKey { key: name.clone() });
                }
                None => {
                    return match fields.get(i + 1) {
                        None => Ok(None),
                        Some(next) => Err(TemplateError::NilPointer {
                            field: next.clone(),
                        }),
                    };
                }
            },
            Value::Null => {
                return Err(TemplateError::NilPointer {
                    field: name.clone(),
                });
            }
            other => {
                return Err(TemplateError::NotAMap {
                    field: name.clone(),
                    kind: kind(other),
                });
            }
        }
    }
    Ok(Some(current.clone()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn call(function: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let text = |f: &'static str, v: &Val| match v {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(TemplateError::WrongArgument {
            function: f,
            expected: "a string",
        }),
    };
    let arity = |f: &'static str, n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(TemplateError::WrongArgument {
                function: f,
                expected: match n {
                    1 => "one argument",
                    2 => "two arguments",
                    _ => "three arguments",
                },
            })
        }
    };
    let string = |s: String| Ok(Some(Value::String(s)));
    match function {
        "index" => index(args),
        "normalize" => {
            arity("normalize", 1)?;
            string(sanitize_name(&text("normalize", &args[0])?))
        }
        "lower" => {
            arity("lower", 1)?;
            string(text("lower", &args[0])?.to_lowercase())
        }
        "upper" => {
            arity("upper", 1)?;
            string(text("upper", &args[0])?.to_uppercase())
        }
        "trim" => {
            arity("trim", 1)?;
            string(text("trim", &args[0])?.trim().to_string())
        }
        "replace" => {
            arity("replace", 3)?;
            let (from, to) = (text("replace", &args[0])?, text("replace", &args[1])?);
            string(text("replace", &args[2])?.replace(&from, &to))
        }
        "trimPrefix" => {
            arity("trimPrefix", 2)?;
            let prefix = text("trimPrefix", &args[0])?;
            let s = text("trimPrefix", &args[1])?;
            string(s.strip_prefix(&prefix).unwrap_or(&s).to_string())
        }
        "trimSuffix" => {
            arity("trimSuffix", 2)?;
            let suffix = text("trimSuffix", &args[0])?;
            let s = text("trimSuffix", &args[1])?;
            string(s.strip_suffix(&suffix).unwrap_or(&s).to_string())
        }
        "default" => {
            let mut args = args.into_iter();
            let fallback = args.next().ok_or(TemplateError::WrongArgument {
                function: "default",
                expected: "at least one argument",
            })?;
            Ok(match args.next() {
                Some(given) if !empty(&given) => given,
                _ => fallback,
            })
        }
        other => Err(TemplateError::Unsupported {
            construct: format!("function {other}"),
        }),
    }
}

/// Sprig's notion of empty, for `default`.
fn empty(value: &Val) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
    }
}

fn index(args: Vec<Val>) -> Result<Val, TemplateError> {
    let mut args = args.into_iter();
    let mut current = match args.next() {
        Some(Some(v)) if !v.is_null() => v,
        _ => {
            return Err(TemplateError::Index {
                reason: "index of untyped nil",
            });
        }
    };
    for key in args {
        current = match (current, key) {
            (Value::Array(items), Some(Value::Number(n))) => {
                let i = n.as_i64().ok_or(TemplateError::Index {
                    reason: "cannot index a list with a non-integer",
                })?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.into_iter().nth(i))
                    .ok_or(TemplateError::Index {
                        reason: "index out of range",
                    })?
            }
            (Value::Object(mut map), Some(Value::String(k))) => match map.remove(&k) {
                Some(v) => v,
                None => return Ok(None),
            },
            (Value::Array(_) | Value::Object(_), _) => {
                return Err(TemplateError::Index {
                    reason: "key of the wrong type",
                });
            }
            _ => {
                return Err(TemplateError::Index {
                    reason: "can't index a value that is not a list or map",
                });
            }
        };
    }
    Ok(Some(current))
}

/// A value as Go's `fmt` prints what `encoding/json` decoded into `interface{}`.
fn print(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "<no value>".into(),
        Some(v) => print_inner(v),
    }
}

fn print_inner(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), go_float),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(print_inner).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", print_inner(v)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// `fmt.Sprint(f)` for a `float64`: the shortest digits, in `%e` form when the exponent is below -4 or at
/// least 6 (`1e+06`, `1.5`, `3`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// Argo CD's `SanitizeName` (`normalize`, `basenameNormalized`): lower-cased, every character other than
/// `a-z`, `0-9`, `-` and `.` replaced by `-`, cut at 253 bytes, `-` and `.` trimmed from both ends.
pub fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(253);
    out.trim_matches(['-', '.']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GO: Syntax = Syntax::Go {
        missing_key_error: false,
    };

    #[test]
    fn fasttemplate_replaces_string_params_and_keeps_the_rest() {
        let params = json!({"path": "apps/web", "path.basename": "web", "path[0]": "apps", "n": 3});
        let r = |t: &str| render(t, &params, Syntax::Fast);
        assert_eq!(
            r("{{path.basename}}-{{ path[0] }}").as_deref(),
            Ok("web-apps")
        );
        assert_eq!(
            r("{{unknown}}/{{n}}/{{}}").as_deref(),
            Ok("{{unknown}}/{{n}}/{{}}")
        );
        assert_eq!(r("plain").as_deref(), Ok("plain"));
        // `{{` and `}}` on different lines: not a template at all.
        assert_eq!(r("a {{\n}} b").as_deref(), Ok("a {{\n}} b"));
        assert_eq!(r("{{path}} {{"), Err(TemplateError::Unclosed));
    }

    #[test]
    fn go_template_fields_index_and_functions() {
        let params = json!({
            "path": {"path": "apps/web_ui/overlays/prod", "basename": "prod",
                     "segments": ["apps", "web_ui", "overlays", "prod"]},
            "cluster": "prod-eu", "replicas": 1000000, "ratio": 1.5, "count": 3, "empty": ""
        });
        let r = |t: &str| render(t, &params, GO);
        assert_eq!(
            r("{{.path.basename}}-{{ .cluster }}").as_deref(),
            Ok("prod-prod-eu")
        );
        assert_eq!(
            r("{{ index .path.segments 1 | normalize }}").as_deref(),
            Ok("web-ui")
        );
        assert_eq!(r("{{ .cluster | upper }}").as_deref(), Ok("PROD-EU"));
        assert_eq!(r("{{ .empty | default \"x\" }}").as_deref(), Ok("x"));
        assert_eq!(r("{{ default \"x\" .cluster }}").as_deref(), Ok("prod-eu"));
        assert_eq!(
            r("{{ replace \"-\" \"/\" .cluster }}").as_deref(),
            Ok("prod/eu")
        );
        assert_eq!(
            r("{{ .path.segments }}").as_deref(),
            Ok("[apps web_ui overlays prod]")
        );
        assert_eq!(
            r("{{.replicas}} {{.ratio}} {{.count}}").as_deref(),
            Ok("1e+06 1.5 3")
        );
        assert_eq!(r("a  {{- .cluster -}}  b").as_deref(), Ok("aprod-eub"));
        assert_eq!(r("{{/* note */}}x").as_deref(), Ok("x"));
        assert_eq!(r("{{ \"}}\" }}").as_deref(), Ok("}}"));
        // Missing keys: Go's `<no value>`, or an error with missingkey=error; a missing map is an error.
        assert_eq!(r("{{ .nope }}").as_deref(), Ok("<no value>"));
        assert_eq!(
            render(
                "{{ .nope }}",
                &params,
                Syntax::Go {
                    missing_key_error: true
                }
            ),
            Err(TemplateError::MissingKey { key: "nope".into() })
        );
        assert_eq!(
            r("{{ .nope.deeper }}"),
            Err(TemplateError::NilPointer {
                field: "deeper".into()
            })
        );
        assert!(matches!(
            r("{{ .cluster.name }}"),
            Err(TemplateError::NotAMap { .. })
        ));
        assert!(matches!(
            r("{{ index .path.segments 9 }}"),
            Err(TemplateError::Index { .. })
        ));
    }

    #[test]
    fn go_template_constructs_outside_the_subset_are_reported() {
        let params = json!({"a": "b"});
        for t in [
            "{{ if .a }}x{{ end }}",
            "{{ $x := .a }}",
            "{{ (index .a 0) }}",
            "{{ toYaml .a }}",
            "{{ .a",
        ] {
            let err = render(t, &params, GO).expect_err(t);
            assert!(
                matches!(
                    err,
                    TemplateError::Unsupported { .. } | TemplateError::Unclosed
                ),
                "{t}: {err:?}"
            );
        }
    }

    #[test]
    fn render_value_templates_strings_not_keys() {
        let template = json!({"{{k}}": "{{k}}", "n": 1, "list": ["{{k}}"]});
        let out = render_value(&template, &json!({"k": "v"}), Syntax::Fast).expect("renders");
        assert_eq!(out, json!({"{{k}}": "v", "n": 1, "list": ["v"]}));
    }

    #[test]
    fn names_are_sanitized_like_argo() {
        assert_eq!(sanitize_name("Directory_2"), "directory-2");
        assert_eq!(sanitize_name("-a.b-"), "a.b");
        assert_eq!(sanitize_name(&"x".repeat(300)).len(), 253);
    }
}
