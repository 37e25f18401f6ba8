//! Shell-style pattern matching as Go's `path.Match` does it, because the tools envparity imitates use it:
//! Argo CD's git directory generator matches every directory of the repository against its `path` entries
//! with `path.Match`, and Flux's `${var#pattern}` family (drone/envsubst) uses a copy of the same matcher in
//! which `*` and `?` also match `/`.
//!
//! The grammar (Go's documentation of `path.Match`):
//!
//! ```text
//! pattern:        { term }
//! term:           '*'  any sequence of characters (not '/' in path mode)
//!                 '?'  any single character (not '/' in path mode)
//!                 '[' [ '^' ] { range } ']'  a character class (Go lets a class match '/')
//!                 c    the character c (c != '*', '?', '\\', '[')
//!                 '\\' c  the character c
//! range:          c  (c != '\\', '-', ']')  |  '\\' c  |  lo '-' hi
//! ```
//!
//! A pattern must match the whole name. `**` is not special: it is two stars, so in path mode it still
//! stops at `/`. A malformed pattern (an unclosed class, a trailing backslash) is an error, reported even
//! when the name fails to match before the malformed part is reached, as Go does since 1.16.

use thiserror::Error;

/// The pattern is malformed (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Whether `/` is an ordinary character or separates path segments that `*`, `?` and classes never cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slash {
    /// Go's `path.Match`: `*`, `?` and classes never match `/` (Argo CD's directory generator).
    Separator,
    /// drone/envsubst's copy of the matcher: `/` is a character like any other (Flux's `${var#pattern}`).
    Ordinary,
}

/// Whether the whole of `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str, slash: Slash) -> Result<bool, BadPattern> {
    matches_bytes(pattern.as_bytes(), name.as_bytes(), slash)
}

/// [`matches`] over bytes, as Go matches strings that may hold a partial character (drone's trim functions
/// try every byte prefix of a value).
pub fn matches_bytes(
    mut pattern: &[u8],
    mut name: &[u8],
    slash: Slash,
) -> Result<bool, BadPattern> {
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest, unless the rest crosses a separator.
            return Ok(slash == Slash::Ordinary || !name.contains(&b'/'));
        }
        // A match at the current position; the last chunk must also use up the name.
        let (rest_of_name, matched) = match_chunk(chunk, name, slash)?;
        if matched && (rest_of_name.is_empty() || !pattern.is_empty()) {
            name = rest_of_name;
            continue;
        }
        if star {
            // The star swallows 1, 2, ... bytes (never a separator in path mode) before the chunk.
            let mut i = 0;
            while i < name.len() && (slash == Slash::Ordinary || name[i] != b'/') {
                let (rest_of_name, matched) = match_chunk(chunk, &name[i + 1..], slash)?;
                if matched && (!pattern.is_empty() || rest_of_name.is_empty()) {
                    name = rest_of_name;
                    continue 'chunks;
                }
                i += 1;
            }
        }
        // No match: the rest of the pattern must still be well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"", slash)?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the leading stars (whether there were any) and the chunk up to the next star outside a class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // The escaped byte is skipped here; a trailing backslash is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches `chunk` (no stars outside classes) against the start of `s`: the rest of `s` and whether it
/// matched. After a mismatch the chunk is still read to the end, to report a malformed pattern.
fn match_chunk<'a>(
    mut chunk: &[u8],
    mut s: &'a [u8],
    slash: Slash,
) -> Result<(&'a [u8], bool), BadPattern> {
    let mut failed = false;
    while let Some(&first) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let mut c = None;
                if !failed {
                    let (ch, width) = decode(s);
                    c = Some(ch);
                    s = &s[width..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if let Some(c) = c
                        && lo <= c
                        && c <= hi
                    {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if slash == Slash::Separator && s[0] == b'/' {
                        failed = true;
                    }
                    let (_, width) = decode(s);
                    s = &s[width..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if first == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    first
                };
                if !failed {
                    if literal != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// One character of a class (possibly escaped) and the rest of the chunk, which must not end there.
fn class_char(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (c, width) = decode(chunk);
    if c == char::REPLACEMENT_CHARACTER && width == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[width..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

/// The first character of `s` and its width in bytes; an invalid or empty sequence is U+FFFD of width 1
/// (0 when empty), as Go's `utf8.DecodeRune` reports it.
fn decode(s: &[u8]) -> (char, usize) {
    if s.is_empty() {
        return (char::REPLACEMENT_CHARACTER, 0);
    }
    for width in 1..=s.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&s[..width])
            && let Some(c) = text.chars().next()
        {
            return (c, width);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, n: &str) -> Result<bool, BadPattern> {
        matches(p, n, Slash::Separator)
    }

    /// Cases from the behaviour Go documents for `path.Match`, written out here.
    #[test]
    fn go_path_match_semantics() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[\\-x]", "z", Ok(false)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
            ("a[^x]b", "a/b", Ok(true)),
            ("\\", "a", Err(BadPattern)),
            ("a\\", "a", Err(BadPattern)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(&path(pattern, name), want, "{pattern:?} vs {name:?}");
        }
    }

    #[test]
    fn double_star_is_two_stars_and_stops_at_a_separator() {
        assert_eq!(path("apps/**", "apps/web"), Ok(true));
        assert_eq!(path("apps/**", "apps/web/overlays"), Ok(false));
        assert_eq!(path("apps/*/overlays/*", "apps/web/overlays/dev"), Ok(true));
        // Argo CD matches relative paths: a leading slash never matches.
        assert_eq!(path("/apps/*", "apps/web"), Ok(false));
    }

    #[test]
    fn ordinary_slash_lets_stars_cross_it() {
        assert_eq!(matches("*/", "path/to/", Slash::Ordinary), Ok(true));
        assert_eq!(matches("a?b", "a/b", Slash::Ordinary), Ok(true));
        assert_eq!(matches("*", "a/b/c", Slash::Ordinary), Ok(true));
    }
}
