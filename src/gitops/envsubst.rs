//! Flux's post-build variable substitution (`spec.postBuild` of a Flux `Kustomization`), applied to rendered
//! YAML text as kustomize-controller applies it to each rendered object.
//!
//! Flux documents (Kustomization API, "Post build variable substitution"): `${var}` is replaced by the
//! variable's value, and an undefined variable becomes an empty string unless a default is given
//! (`${var:=default}`); `$var` without braces is *not* substituted (Flux recommends it to keep shell variables
//! in embedded scripts); `$${var}` prints `${var}`; with the `StrictPostBuildSubstitutions` feature gate an
//! undefined variable without a default fails the build; variable names must match
//! `^[_[:alpha:]][_[:alpha:][:digit:]]*$`; and substitution happens only when at least one variable is
//! defined. The syntax is that of drone/envsubst as forked in fluxcd/pkg (its README, "Supported
//! Functions"), which this module follows down to its parser's quirks:
//!
//! | expression | value |
//! |---|---|
//! | `${var}` | the value |
//! | `${#var}` | its length in bytes |
//! | `${var^}` `${var^^}` `${var,}` `${var,,}` | first / all characters upper- or lower-cased |
//! | `${var:n}` `${var:n:len}` | a substring by byte offsets (negative offsets count from the end) |
//! | `${var#pat}` `${var##pat}` `${var%pat}` `${var%%pat}` | the shortest / longest prefix or suffix matching the glob removed (`*` matches `/` here) |
//! | `${var=d}` `${var:=d}` `${var:-d}` `${var:?d}` `${var:+d}` | the value, or `d` when it is empty or unset (all five behave alike; `d` may hold `${...}`) |
//! | `${var/a/b}` `${var//a/b}` `${var/#a/b}` `${var/%a/b}` | the first / every / a prefix / a suffix occurrence of the plain string `a` replaced by `b` |
//!
//! `$$` is one `$` anywhere in the text (not only before `{`). Inside `${...}` the parser is as strict as
//! drone's: `${var-d}`, `${var+d}` and an unterminated `${` are errors, never a panic. The one deliberate
//! difference: drone's scanner stops at a NUL character and drops the rest of the text; this one does not
//! (YAML cannot hold a raw NUL anyway). Identifier characters are Unicode letters and digits as Rust's
//! `char::is_alphanumeric` sees them, a close match of Go's `unicode.IsLetter`/`IsDigit`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use thiserror::Error;

use super::pathmatch::{self, Slash};

/// How deeply `${...}` may nest inside defaults and arguments (hostile input must not exhaust the stack).
const MAX_DEPTH: usize = 64;

/// Why a text could not be substituted. Offsets are byte offsets into the text; messages never quote it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubstError {
    /// A malformed `${...}` expression (drone's "bad substitution").
    #[error("bad substitution at byte {offset}")]
    BadSubstitution {
        /// Where the parser gave up.
        offset: usize,
    },
    /// `${name` followed by something other than `}` or an operator.
    #[error("missing closing brace at byte {offset}")]
    MissingClosingBrace {
        /// Where the `}` was expected.
        offset: usize,
    },
    /// `${` not followed by a variable name (`${}`, `${-x}`, `${` at the end).
    #[error("unable to parse variable name at byte {offset}")]
    VariableName {
        /// Where the name was expected.
        offset: usize,
    },
    /// An operator's argument is missing or unterminated (`${var:=default` without `}`, `${var#}`).
    #[error("unable to parse substitution within function at byte {offset}")]
    FuncSubstitution {
        /// Where the argument was expected.
        offset: usize,
    },
    /// `${...}` nested more deeply than envparity follows.
    #[error("substitutions nested more than {MAX_DEPTH} deep at byte {offset}")]
    TooDeep {
        /// Where the expression that is too deep starts.
        offset: usize,
    },
    /// Strict mode: a variable is referenced without a default and is not defined.
    #[error("variable not set (strict mode): {name}")]
    NotSet {
        /// The variable.
        name: String,
    },
    /// A defined variable's name is not one Flux accepts (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`): Flux fails
    /// the whole substitution.
    #[error("'{name}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")]
    InvalidName {
        /// The offending name.
        name: String,
    },
}

/// What becomes of a variable that is referenced but not defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// Flux's default: an empty string (a default, `${var:=d}`, applies).
    Empty,
    /// Flux's `StrictPostBuildSubstitutions`: an error, unless the expression gives a default.
    Error,
    /// The whole `${...}` expression stays as written, default or not: for variables that may come from a
    /// Secret envparity does not read, so that their values are neither guessed nor blanked.
    Keep,
}

/// The result of [`substitute_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substituted {
    /// The substituted text.
    pub text: String,
    /// Variables referenced but not defined: with [`Unset::Keep`] every one (its expressions kept as
    /// written); otherwise those used without a default (blanked).
    pub unresolved: BTreeSet<String>,
}

/// Substitutes `vars` into `text` as Flux does by default: nothing happens when no variable is defined;
/// otherwise every `${...}` is evaluated and an undefined variable without a default becomes empty.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, SubstError> {
    if vars.is_empty() {
        return Ok(text.to_string());
    }
    Ok(substitute_with(text, vars, Unset::Empty)?.text)
}

/// Substitutes `vars` into `text`, evaluating every `${...}` even when `vars` is empty, with `unset` deciding
/// what an undefined variable becomes. Fails, as Flux does, when a name in `vars` is invalid.
pub fn substitute_with(
    text: &str,
    vars: &BTreeMap<String, String>,
    unset: Unset,
) -> Result<Substituted, SubstError> {
    if let Some(name) = vars.keys().find(|name| !valid_name(name)) {
        return Err(SubstError::InvalidName { name: name.clone() });
    }
    let nodes = Parser { text, pos: 0 }.parse_text()?;
    let mut eval = Eval {
        vars,
        unset,
        unresolved: BTreeSet::new(),
    };
    let mut out = String::with_capacity(text.len());
    for node in &nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Func(f) => match eval.func(f)? {
                Some(value) => out.push_str(&value),
                None => out.push_str(&text[f.span.clone()]),
            },
        }
    }
    Ok(Substituted {
        text: out,
        unresolved: eval.unresolved,
    })
}

/// Whether Flux accepts `name` as a variable name: `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (ASCII classes, as
/// in Go's regular expressions).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[derive(Debug)]
enum Node {
    Text(String),
    Func(Func),
}

/// One `${...}`: `op` is the operator as written (`""` for a plain `${var}`, `":="`, `"//"`, ...).
#[derive(Debug)]
struct Func {
    op: String,
    var: String,
    args: Vec<Node>,
    /// The expression in the original text, `${` to `}`.
    span: Range<usize>,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at(&self, s: &str) -> bool {
        self.text[self.pos..].starts_with(s)
    }

    /// An escape at the cursor: `$$` (always), and `\/` or `\\` where backslashes escape. Consumes it and
    /// returns the character it stands for.
    fn escape(&mut self, backslash: bool) -> Option<char> {
        let c = match (self.peek(), self.peek_second()) {
            (Some('$'), Some('$')) => '$',
            (Some('\\'), Some(c @ ('/' | '\\'))) if backslash => c,
            _ => return None,
        };
        self.pos += 1 + c.len_utf8();
        Some(c)
    }

    /// The whole text: literal runs (with `$$` unescaped) and `${...}` expressions.
    fn parse_text(&mut self) -> Result<Vec<Node>, SubstError> {
        let mut nodes = Vec::new();
        while self.pos < self.text.len() {
            if self.at("${") {
                let start = self.pos;
                self.pos += 2;
                nodes.push(Node::Func(self.parse_func(start, 0)?));
                continue;
            }
            let mut literal = String::new();
            while self.pos < self.text.len() && !self.at("${") {
                match self.escape(false) {
                    Some(c) => literal.push(c),
                    None => literal.extend(self.bump()),
                }
            }
            nodes.push(Node::Text(literal));
        }
        Ok(nodes)
    }

    /// After `${` (which starts at `start`).
    fn parse_func(&mut self, start: usize, depth: usize) -> Result<Func, SubstError> {
        if depth >= MAX_DEPTH {
            return Err(SubstError::TooDeep { offset: start });
        }
        if self.peek() == Some('#') {
            self.bump();
            let var = self.ident();
            if var.is_empty() {
                return Err(SubstError::BadSubstitution { offset: self.pos });
            }
            self.close()?;
            return Ok(self.func(start, "#", var, Vec::new()));
        }
        let var = self.ident();
        if var.is_empty() {
            return Err(SubstError::VariableName { offset: self.pos });
        }
        match self.peek() {
            Some(':') => match self.peek_second() {
                Some('=' | '-' | '?' | '+') => self.parse_default(start, var, depth),
                _ => self.parse_substr(start, var, depth),
            },
            Some('=') => self.parse_default(start, var, depth),
            Some(',' | '^') => {
                let op = self.operator(|c, i| (c == ',' || c == '^') && i < 2);
                self.close()?;
                Ok(self.func(start, &op, var, Vec::new()))
            }
            Some('/') => self.parse_replace(start, var, depth),
            Some(c @ ('#' | '%')) => {
                let op = self.operator(|d, i| d == c && i < 2);
                let arg = self.parse_param(|c| c != '}', false, depth)?;
                self.close()?;
                Ok(self.func(start, &op, var, vec![arg]))
            }
            Some('}') => {
                self.bump();
                Ok(self.func(start, "", var, Vec::new()))
            }
            _ => Err(SubstError::MissingClosingBrace { offset: self.pos }),
        }
    }

    fn func(&self, start: usize, op: &str, var: String, args: Vec<Node>) -> Func {
        Func {
            op: op.to_string(),
            var,
            args,
            span: start..self.pos,
        }
    }

    fn ident(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.bump();
        }
        name
    }

    /// The characters of an operator, `accept(c, index)` deciding each.
    fn operator(&mut self, accept: impl Fn(char, usize) -> bool) -> String {
        let mut op = String::new();
        while let Some(c) = self.peek().filter(|&c| accept(c, op.chars().count())) {
            op.push(c);
            self.bump();
        }
        op
    }

    fn close(&mut self) -> Result<(), SubstError> {
        if self.peek() == Some('}') {
            self.bump();
            Ok(())
        } else {
            Err(SubstError::BadSubstitution { offset: self.pos })
        }
    }

    /// `${var=d}`, `${var:=d}`, `${var:-d}`, `${var:?d}`, `${var:+d}`: the default is a run of literal
    /// text and nested expressions up to `}`.
    fn parse_default(
        &mut self,
        start: usize,
        var: String,
        depth: usize,
    ) -> Result<Func, SubstError> {
        let op = if self.peek() == Some('=') {
            self.operator(|c, i| c == '=' && i == 0)
        } else {
            self.operator(|c, i| (i == 0 && c == ':') || (i == 1 && "=-?+".contains(c)))
        };
        let mut args = Vec::new();
        loop {
            match self.peek() {
                Some('}') => {
                    self.bump();
                    return Ok(self.func(start, &op, var, args));
                }
                _ => args.push(self.parse_param(|c| c != '}', false, depth)?),
            }
        }
    }

    /// `${var:offset}` and `${var:offset:length}`.
    fn parse_substr(
        &mut self,
        start: usize,
        var: String,
        depth: usize,
    ) -> Result<Func, SubstError> {
        self.bump();
        let mut args = vec![self.parse_param(|c| c != ':' && c != '}', false, depth)?];
        match self.peek() {
            Some('}') => {
                self.bump();
                return Ok(self.func(start, ":", var, args));
            }
            Some(':') => {
                while self.peek() == Some(':') {
                    self.bump();
                }
            }
            _ => return Err(SubstError::BadSubstitution { offset: self.pos }),
        }
        args.push(self.parse_param(|c| c != '}', false, depth)?);
        self.close()?;
        Ok(self.func(start, ":", var, args))
    }

    /// `${var/a/b}`, `${var//a/b}`, `${var/#a/b}`, `${var/%a/b}`, with `\/`, `\\` and `$$` escapes.
    fn parse_replace(
        &mut self,
        start: usize,
        var: String,
        depth: usize,
    ) -> Result<Func, SubstError> {
        let op = self.operator(|c, i| (i == 0 && c == '/') || (i == 1 && "/#%".contains(c)));
        let pattern = if self.peek() == Some('/') {
            Node::Text(String::new())
        } else {
            self.parse_param(|c| c != '/', true, depth)?
        };
        if self.peek() != Some('/') {
            return Err(SubstError::BadSubstitution { offset: self.pos });
        }
        while self.peek() == Some('/') {
            self.bump();
        }
        let mut args = vec![pattern];
        if self.peek() != Some('}') {
            args.push(self.parse_param(|c| c != '}', true, depth)?);
        }
        self.close()?;
        Ok(self.func(start, &op, var, args))
    }

    /// One argument: a nested `${...}`, or a literal run of characters `accept` takes (stopping before `${`).
    fn parse_param(
        &mut self,
        accept: impl Fn(char) -> bool,
        escapes: bool,
        depth: usize,
    ) -> Result<Node, SubstError> {
        if self.at("${") {
            let start = self.pos;
            self.pos += 2;
            return Ok(Node::Func(self.parse_func(start, depth + 1)?));
        }
        let mut literal = String::new();
        match (escapes.then(|| self.escape(true)).flatten(), self.peek()) {
            (Some(c), _) => literal.push(c),
            (None, Some(c)) if accept(c) => {
                literal.push(c);
                self.bump();
            }
            _ => return Err(SubstError::FuncSubstitution { offset: self.pos }),
        }
        while self.pos < self.text.len() && !self.at("${") {
            if escapes && let Some(c) = self.escape(true) {
                literal.push(c);
                continue;
            }
            match self.peek() {
                Some(c) if accept(c) => {
                    literal.push(c);
                    self.bump();
                }
                _ => break,
            }
        }
        Ok(Node::Text(literal))
    }
}

struct Eval<'a> {
    vars: &'a BTreeMap<String, String>,
    unset: Unset,
    unresolved: BTreeSet<String>,
}

impl Eval<'_> {
    /// The value of an expression; `None` when it is kept as written (an undefined variable with
    /// [`Unset::Keep`], here or nested).
    fn node(&mut self, node: &Node) -> Result<Option<String>, SubstError> {
        match node {
            Node::Text(t) => Ok(Some(t.clone())),
            Node::Func(f) => self.func(f),
        }
    }

    fn func(&mut self, f: &Func) -> Result<Option<String>, SubstError> {
        // Arguments first, as drone does (a strict-mode error in a default is an error even when unused).
        let mut args = Vec::with_capacity(f.args.len());
        let mut kept = false;
        for arg in &f.args {
            match self.node(arg)? {
                Some(value) => args.push(value),
                None => kept = true,
            }
        }
        let value = self.vars.get(&f.var);
        if value.is_none() {
            let defaulted = is_default_op(&f.op);
            match self.unset {
                Unset::Keep => {
                    self.unresolved.insert(f.var.clone());
                    kept = true;
                }
                Unset::Error if !defaulted => {
                    return Err(SubstError::NotSet {
                        name: f.var.clone(),
                    });
                }
                _ if !defaulted => {
                    self.unresolved.insert(f.var.clone());
                }
                _ => {}
            }
        }
        if kept {
            return Ok(None);
        }
        Ok(Some(apply(&f.op, value.map_or("", String::as_str), &args)))
    }
}

/// The operators that supply their own value for an unset variable (exempt from strict mode).
fn is_default_op(op: &str) -> bool {
    matches!(op, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

/// drone's `lookupFunc` and the functions it returns.
fn apply(op: &str, value: &str, args: &[String]) -> String {
    let first = |s: &str| args.first().map_or(s.to_string(), String::clone);
    match op {
        "," => map_first(value, |c| c.to_lowercase().collect()),
        ",," => value.to_lowercase(),
        "^" => map_first(value, |c| c.to_uppercase().collect()),
        "^^" => value.to_uppercase(),
        "#" if args.is_empty() => value.len().to_string(),
        "#" => trim_shortest(value, &first("")),
        "##" => trim_longest(value, &first("")),
        "%" => reversed(&trim_shortest(&reversed(value), &reversed(&first("")))),
        "%%" => reversed(&trim_longest(&reversed(value), &reversed(&first("")))),
        ":" => substring(value, args),
        "/" | "//" => match args {
            [] => value.to_string(),
            [from] if op == "/" => value.replacen(from.as_str(), "", 1),
            [from] => value.replace(from.as_str(), ""),
            [from, to, ..] if op == "/" => value.replacen(from.as_str(), to, 1),
            [from, to, ..] => value.replace(from.as_str(), to),
        },
        "/#" => match args {
            [from, to] if value.starts_with(from.as_str()) => value.replacen(from.as_str(), to, 1),
            _ => value.to_string(),
        },
        "/%" => match args {
            [from, to] => match value.strip_suffix(from.as_str()) {
                Some(stem) => format!("{stem}{to}"),
                None => value.to_string(),
            },
            _ => value.to_string(),
        },
        // Plain `${var}`, every default operator, and unknown casing combinations (`${var,^}`).
        _ if value.is_empty() && !args.is_empty() => args.concat(),
        _ => value.to_string(),
    }
}

fn map_first(value: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// `${var:offset[:length]}` over bytes, as Go slices strings (an offset inside a character yields U+FFFD).
fn substring(value: &str, args: &[String]) -> String {
    let bytes = value.as_bytes();
    let len = bytes.len() as i128;
    let slice = |from: i128, to: i128| {
        let (from, to) = (from.clamp(0, len) as usize, to.clamp(0, len) as usize);
        String::from_utf8_lossy(&bytes[from..to.max(from)]).into_owned()
    };
    let Some(Ok(pos)) = args.first().map(|a| a.parse::<i64>()) else {
        return value.to_string();
    };
    let mut pos = i128::from(pos);
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let Some(length) = args.get(1) else {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    };
    let Ok(length) = length.parse::<i64>() else {
        return value.to_string();
    };
    let length = i128::from(length);
    if length < 0 {
        let end = len + length;
        return if end < pos {
            String::new()
        } else {
            slice(pos, end)
        };
    }
    if pos + length >= len {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    }
    slice(pos, pos + length)
}

/// Removes the shortest non-empty prefix matching `pattern` (unchanged when none does, or the pattern is
/// malformed).
fn trim_shortest(value: &str, pattern: &str) -> String {
    let bytes = value.as_bytes();
    let mut shortest = 0;
    for end in (1..=bytes.len()).rev() {
        match pathmatch::matches_bytes(pattern.as_bytes(), &bytes[..end], Slash::Ordinary) {
            Err(_) => return value.to_string(),
            Ok(true) => shortest = end,
            Ok(false) => {}
        }
    }
    String::from_utf8_lossy(&bytes[shortest..]).into_owned()
}

/// Removes the longest non-empty prefix matching `pattern`.
fn trim_longest(value: &str, pattern: &str) -> String {
    let bytes = value.as_bytes();
    for end in (1..=bytes.len()).rev() {
        match pathmatch::matches_bytes(pattern.as_bytes(), &bytes[..end], Slash::Ordinary) {
            Err(_) => return value.to_string(),
            Ok(true) => return String::from_utf8_lossy(&bytes[end..]).into_owned(),
            Ok(false) => {}
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn eval(text: &str, pairs: &[(&str, &str)]) -> Result<String, SubstError> {
        substitute_with(text, &vars(pairs), Unset::Empty).map(|s| s.text)
    }

    #[test]
    fn plain_and_default_forms() {
        let set = [("A", "alpha"), ("E", "")];
        assert_eq!(eval("x: ${A}", &set).as_deref(), Ok("x: alpha"));
        assert_eq!(eval("${A:=x}", &set).as_deref(), Ok("alpha"));
        assert_eq!(eval("${B:=x}", &set).as_deref(), Ok("x"));
        assert_eq!(eval("${B:-x}", &set).as_deref(), Ok("x"));
        assert_eq!(eval("${B=x}", &set).as_deref(), Ok("x"));
        // Every default operator also replaces an empty value (drone's toDefault, not bash's).
        assert_eq!(eval("${E=x}", &set).as_deref(), Ok("x"));
        assert_eq!(eval("${E:+x}", &set).as_deref(), Ok("x"));
        // Undefined without a default: empty, and reported.
        let out = substitute_with("[${B}]", &vars(&set), Unset::Empty).expect("valid");
        assert_eq!(out.text, "[]");
        assert_eq!(out.unresolved, BTreeSet::from(["B".to_string()]));
        // `$VAR` without braces is not Flux's syntax: left alone.
        assert_eq!(
            eval("echo $A and $B", &set).as_deref(),
            Ok("echo $A and $B")
        );
    }

    #[test]
    fn nested_defaults_and_escapes() {
        let set = [("default_var", "foo"), ("v", "abcdEFGH28ij")];
        assert_eq!(eval("${x=${default_var}}", &set).as_deref(), Ok("foo"));
        assert_eq!(
            eval("${x=pre${default_var}-suffix}", &set).as_deref(),
            Ok("prefoo-suffix")
        );
        assert_eq!(
            eval("${x:=${y:=${default_var}}}", &set).as_deref(),
            Ok("foo")
        );
        assert_eq!(eval("${x=${v^^}}", &set).as_deref(), Ok("ABCDEFGH28IJ"));
        assert_eq!(eval("$${v}", &set).as_deref(), Ok("${v}"));
        assert_eq!(
            eval("t ${v}$${x$${v}$v${v}", &set).as_deref(),
            Ok("t abcdEFGH28ij${x${v}$vabcdEFGH28ij")
        );
        assert_eq!(eval("$$${v}", &set).as_deref(), Ok("$abcdEFGH28ij"));
        assert_eq!(eval("a$$b $$$", &set).as_deref(), Ok("a$b $$"));
        assert_eq!(
            eval("keep ${x=${default_var}} $${y=${default_var}}", &set).as_deref(),
            Ok("keep foo ${y=foo}")
        );
        // A backslash outside an expression is text.
        assert_eq!(
            eval("\\\\a ${v}", &set).as_deref(),
            Ok("\\\\a abcdEFGH28ij")
        );
        // A lone `}` or `$` is text.
        assert_eq!(eval("} $ {", &set).as_deref(), Ok("} $ {"));
    }

    #[test]
    fn string_functions() {
        let set = [
            ("v", "abcdEFGH28ij"),
            ("p", "/home/bozo/ideas/thoughts.for.today"),
            ("f", "bash.string.txt"),
            ("q", "path/to/file"),
            ("z", "abcABC123ABCabc"),
            ("s", "foo/bar/baz"),
            ("n", "-5"),
        ];
        let cases = [
            ("${#v}", "12"),
            ("${v^}", "AbcdEFGH28ij"),
            ("${v,,}", "abcdefgh28ij"),
            ("${v,}", "abcdEFGH28ij"),
            ("${p:11}", "ideas/thoughts.for.today"),
            ("${p:11:5}", "ideas"),
            // `:-` is the default operator, so a negative offset needs a nested expression.
            ("${p:-5}", "/home/bozo/ideas/thoughts.for.today"),
            ("${p:${n}}", "today"),
            ("${p:1:-30}", "home"),
            ("${p:99}", ""),
            ("${p:x}", "/home/bozo/ideas/thoughts.for.today"),
            ("${f#*.}", "string.txt"),
            ("${f##*.}", "txt"),
            ("${f%.*}", "bash.string"),
            ("${f%%.*}", "bash"),
            ("${q#*/}", "to/file"),
            ("${q##*/}", "file"),
            ("${z/abc/xyz}", "xyzABC123ABCabc"),
            ("${z//abc/xyz}", "xyzABC123ABCxyz"),
            ("${z/#abc/XYZ}", "XYZABC123ABCabc"),
            ("${z/%abc/XYZ}", "abcABC123ABCXYZ"),
            ("${v/#/pre-}", "pre-abcdEFGH28ij"),
            ("${v/%/-post}", "abcdEFGH28ij-post"),
            ("${s//\\//-}", "foo-bar-baz"),
            ("${s/\\//-}", "foo-bar/baz"),
            ("${z/ABC/}", "abc123ABCabc"),
        ];
        for (text, want) in cases {
            assert_eq!(eval(text, &set).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn malformed_expressions_are_errors_not_panics() {
        let cases = [
            ("abc ${", SubstError::VariableName { offset: 6 }),
            ("${}", SubstError::VariableName { offset: 2 }),
            ("${A", SubstError::MissingClosingBrace { offset: 3 }),
            ("${A-x}", SubstError::MissingClosingBrace { offset: 3 }),
            ("${A+x}", SubstError::MissingClosingBrace { offset: 3 }),
            ("${A:=x", SubstError::FuncSubstitution { offset: 6 }),
            ("${A:=${B}", SubstError::FuncSubstitution { offset: 9 }),
            ("${A#}", SubstError::FuncSubstitution { offset: 4 }),
            ("${#}", SubstError::BadSubstitution { offset: 3 }),
            ("${A:1x", SubstError::BadSubstitution { offset: 6 }),
            ("${A/x}", SubstError::BadSubstitution { offset: 6 }),
            ("${A^^x}", SubstError::BadSubstitution { offset: 5 }),
        ];
        for (text, want) in cases {
            assert_eq!(eval(text, &[("A", "a")]), Err(want), "{text:?}");
        }
        let deep = format!("{}{}", "${a:=".repeat(200), "}".repeat(200));
        assert!(matches!(
            eval(&deep, &[("A", "a")]),
            Err(SubstError::TooDeep { .. })
        ));
    }

    #[test]
    fn strict_mode_fails_on_undefined_without_default() {
        let set = vars(&[("foo", "bar"), ("empty", "")]);
        let strict = |t: &str| substitute_with(t, &set, Unset::Error).map(|s| s.text);
        assert_eq!(strict("${foo}").as_deref(), Ok("bar"));
        assert_eq!(strict("${empty}").as_deref(), Ok(""));
        assert_eq!(strict("${missing:=default}").as_deref(), Ok("default"));
        assert_eq!(strict("${missing=d}").as_deref(), Ok("d"));
        for text in [
            "${missing}",
            "${#missing}",
            "${missing^^}",
            "${missing:0:2}",
            "${missing/a/b}",
            "${missing%%x}",
            // An undefined variable inside an unused default still fails: arguments come first.
            "${foo:=${missing}}",
        ] {
            assert_eq!(
                strict(text),
                Err(SubstError::NotSet {
                    name: "missing".into()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn keep_mode_leaves_expressions_that_may_come_from_a_secret() {
        let set = vars(&[("region", "eu")]);
        let out = substitute_with(
            "r: ${region}\ntoken: ${token}\nx: ${other:=d}-${region}\ny: ${a:=${token}}\n",
            &set,
            Unset::Keep,
        )
        .expect("valid");
        assert_eq!(
            out.text,
            "r: eu\ntoken: ${token}\nx: ${other:=d}-eu\ny: ${a:=${token}}\n"
        );
        assert_eq!(
            out.unresolved,
            BTreeSet::from(["a".to_string(), "other".into(), "token".into()])
        );
    }

    #[test]
    fn flux_rules_around_the_variables() {
        // No variable defined: Flux does not substitute at all, not even defaults or malformed text.
        let none = BTreeMap::new();
        assert_eq!(substitute("${A:=x} ${", &none).as_deref(), Ok("${A:=x} ${"));
        assert_eq!(
            substitute("${A:=x} ${B}", &vars(&[("C", "c")])).as_deref(),
            Ok("x ")
        );
        assert_eq!(
            substitute("${A}", &vars(&[("bad-name", "x")])),
            Err(SubstError::InvalidName {
                name: "bad-name".into()
            })
        );
        assert!(valid_name("_a1") && valid_name("cluster_env"));
        assert!(!valid_name("1a") && !valid_name("") && !valid_name("é"));
    }

    /// Arbitrary strings over the characters the parser cares about never panic, and text without `$`
    /// comes back unchanged.
    #[test]
    fn never_panics_on_generated_strings() {
        const ALPHABET: &[char] = &[
            '$', '{', '}', ':', '=', '-', '?', '+', '#', '%', '/', '\\', '^', ',', 'a', 'B', '_',
            '0', '1', ' ', '\n', 'é', '*', '[', ']',
        ];
        let set = vars(&[("a", "a/b.c"), ("B", "ÉtÉ"), ("_0", "")]);
        let mut rng = fastrand::Rng::with_seed(13);
        for _ in 0..20_000 {
            let len = rng.usize(0..24);
            let text: String = (0..len)
                .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())])
                .collect();
            for unset in [Unset::Empty, Unset::Error, Unset::Keep] {
                let result = substitute_with(&text, &set, unset);
                if !text.contains('$') {
                    assert_eq!(result.map(|s| s.text).as_deref(), Ok(text.as_str()));
                }
            }
        }
    }
}
