//! The static report site end to end: the demo history (`examples/make-demo-repo.sh`, backfilled and
//! reported by the real binary) opened in headless Chromium, every link and reference checked, hostile
//! names escaped everywhere, byte-identical output for the same history, and a crash while publishing that
//! leaves the previous site.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration as StdDuration, Instant, SystemTime};

use chrono::{DateTime, Duration, TimeZone, Utc};
use envparity::codes::RuleId;
use envparity::config::Prices;
use envparity::finding::CheckError;
use envparity::finding::{Finding, Severity, fingerprint};
use envparity::history::{CommitRef, Durations, History, RunKind, RunRecord};
use envparity::metrics::{Metric, MetricKind};
use envparity::report::{self, Options};
use envparity::view::{
    ContainerEnv, ContainerView, EnvName, IngressView, ServiceView, WorkloadView,
};
use indexmap::IndexMap;

use crate::support::{envparity, root};

type Files = BTreeMap<String, Vec<u8>>;

// ------------------------------------------------------------------------------------------ the demo

/// The six services of `examples/infra`, as the overview lists them.
const DEMO_SERVICES: [&str; 6] = [
    "catalog-service",
    "checkout-service",
    "inventory-service",
    "notifications-service",
    "payments-service",
    "search-service",
];

/// The demo history and its site, made by the real binary: `make-demo-repo.sh`, `backfill`, `report`.
struct Demo {
    _dir: tempfile::TempDir,
    state: PathBuf,
    site: PathBuf,
}

impl Demo {
    fn build() -> Demo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        let state = dir.path().join("state");
        let site = dir.path().join("site");
        let cwd = dir.path().join("cwd");
        std::fs::create_dir_all(&cwd).expect("mkdir cwd");

        let out = Command::new("bash")
            .arg(root().join("examples/make-demo-repo.sh"))
            .arg(&repo)
            .current_dir(&cwd)
            .output()
            .expect("run bash examples/make-demo-repo.sh");
        assert!(
            out.status.success(),
            "make-demo-repo.sh failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );

        let (repo_s, state_s, site_s) = (utf8(&repo), utf8(&state), utf8(&site));
        let out = envparity(&cwd, &["backfill", "--repo", repo_s, "--state", state_s]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "backfill failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("38 commit(s) walked, 38 recorded"), "{text}");

        let out = envparity(
            &cwd,
            &[
                "report", "--repo", repo_s, "--state", state_s, "--out", site_s,
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "report failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Demo {
            _dir: dir,
            state,
            site,
        }
    }

    fn history(&self) -> History {
        History::open(&self.state.join("history.sqlite")).expect("open the demo history")
    }
}

/// The demo, built once for the tests that run at the same time (backfilling takes a while) and removed
/// when the last of them is done.
fn demo() -> Arc<Demo> {
    static SHARED: Mutex<Weak<Demo>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(d) = slot.upgrade() {
        return d;
    }
    let d = Arc::new(Demo::build());
    *slot = Arc::downgrade(&d);
    d
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every file under `dir`, by path relative to it (with `/`).
fn read_tree(dir: &Path) -> Files {
    fn walk(dir: &Path, prefix: &str, out: &mut Files) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name().into_string().expect("utf-8 file name");
            let rel = format!("{prefix}{name}");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out);
            } else {
                assert!(kind.is_file(), "{rel} is neither a file nor a directory");
                out.insert(rel, std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    let mut out = Files::new();
    walk(dir, "", &mut out);
    out
}

/// Panics with the first difference between two sites.
fn assert_same_site(what: &str, a: &Files, b: &Files) {
    let ka: Vec<&String> = a.keys().collect();
    let kb: Vec<&String> = b.keys().collect();
    assert_eq!(ka, kb, "{what}: the file lists differ");
    for (path, bytes) in a {
        assert!(
            b[path] == *bytes,
            "{what}: {path} differs ({} vs {} bytes)",
            bytes.len(),
            b[path].len()
        );
    }
}

// ------------------------------------------------------------------------------------------ Chromium

const CHROMIUM: &str = "/usr/bin/chromium";

/// What one headless Chromium run printed.
struct BrowserRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `url` with a fresh profile, plus `extra` flags (`--screenshot=…`,
/// `--dump-dom`). Besides the usual flags, `--vmodule=file_url_loader_factory=1` makes Chromium log every
/// file:// URL it loads (`FileURLLoader::Start: file:///…`): for file:// pages that is the only trace a
/// broken `<img>` or stylesheet leaves on stderr (see [`page_problems`]).
fn chromium(url: &str, extra: &[String]) -> BrowserRun {
    assert!(
        Path::new(CHROMIUM).exists(),
        "headless Chromium is required at {CHROMIUM} for the report site test (scripts/deps.sh \
         installs it: apt-get install chromium); this test fails rather than skips without it"
    );
    let work = tempfile::tempdir().expect("tempdir");
    let profile = work.path().join("profile");
    let stdout = work.path().join("stdout");
    let stderr = work.path().join("stderr");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--vmodule=file_url_loader_factory=1",
            "--window-size=1300,2000",
        ])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let deadline = Instant::now() + StdDuration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish {url} within 120 s:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(StdDuration::from_millis(50));
    };
    BrowserRun {
        status,
        stdout: String::from_utf8_lossy(&std::fs::read(&stdout).expect("read stdout")).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&stderr).expect("read stderr")).into_owned(),
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `file:///a/b%20c` → `/a/b c`.
fn url_path(url: &str) -> Option<PathBuf> {
    let raw = url.strip_prefix("file://")?;
    let raw = raw.split(['?', '#']).next().unwrap_or_default();
    Some(PathBuf::from(percent_decode(raw)))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && hex.bytes().all(|c| c.is_ascii_hexdigit())
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file:// URLs Chromium loaded (needs `--vmodule=file_url_loader_factory=1`).
fn loaded_urls(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("FileURLLoader::Start: "))
        .map(|(_, url)| url.trim().to_string())
        .collect()
}

/// What went wrong while Chromium showed a page of the site under `root`:
///
/// - console messages: Chromium logs every console message as `INFO:CONSOLE:<line>] "<text>", source: …`
///   whatever its level (a `console.error("x")` is just `"x"`, an uncaught exception `"Uncaught Error: …"`),
///   so, the site having no script at all, *any* console line is a problem; plus the generic
///   `Failed to load resource` / `ERR_FILE_NOT_FOUND` net errors in case a build prints them;
/// - a file:// URL it loaded that does not exist or lies outside the site. For a file:// page a broken
///   `<img>` or stylesheet prints *nothing* on stderr at `--v=0` (no console message, no net error), so this
///   is the check that catches it.
///
/// The dbus / GPU / sandbox noise of a headless container is ignored.
fn page_problems(run: &BrowserRun, root: &Path) -> Vec<String> {
    let mut problems: Vec<String> = run
        .stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Failed to load resource")
                || l.contains("ERR_FILE_NOT_FOUND")
        })
        .map(|l| format!("console: {l}"))
        .collect();
    for url in loaded_urls(&run.stderr) {
        match url_path(&url) {
            Some(path) if !path.starts_with(root) => {
                problems.push(format!("loaded a file outside the site: {url}"));
            }
            Some(path) if !path.is_file() => {
                problems.push(format!("loaded a file that does not exist: {url}"));
            }
            Some(_) => {}
            None => problems.push(format!("loaded a non-file URL: {url}")),
        }
    }
    problems
}

/// A screenshot of `page` (relative to `root`) at 1300×2000: checks that Chromium exited cleanly and wrote
/// the file; returns the PNG and the run (for [`page_problems`]).
fn screenshot(root: &Path, page: &str, png: &Path) -> (Vec<u8>, BrowserRun) {
    let run = chromium(
        &file_url(&root.join(page)),
        &[format!("--screenshot={}", png.display())],
    );
    assert!(
        run.status.success(),
        "chromium failed on {page} ({}):\n{}",
        run.status,
        run.stderr
    );
    let bytes = std::fs::read(png)
        .unwrap_or_else(|e| panic!("no screenshot of {page} at {}: {e}", png.display()));
    (bytes, run)
}

/// The PNG signature, then the IHDR chunk with the width and height.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24, "a PNG is longer than {} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR", "the first PNG chunk is not IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// `href="…"` / `src="…"` values of one HTML page, resolved to site paths.
fn page_refs(files: &Files, page: &str) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(&files[page]);
    tags(&text)
        .iter()
        .filter(|t| t.name == "img" || t.name == "link")
        .flat_map(|t| t.attrs.iter())
        .filter(|(k, _)| k == "src" || k == "href")
        .filter_map(|(_, v)| resolve(page, v))
        .collect()
}

#[test]
fn the_demo_site_renders_in_headless_chromium_without_errors() {
    // First, prove the checks catch what they are for on this Chromium: a page with a missing image, a
    // missing stylesheet and a console.error.
    let scratch = tempfile::tempdir().expect("tempdir");
    let broken = scratch.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!doctype html><html><head><meta charset=\"utf-8\"><link rel=\"stylesheet\" href=\"missing.css\">\
         </head><body><h1>broken</h1><img src=\"charts/missing.svg\" alt=\"\">\
         <script>console.error(\"canary-console-error\");</script></body></html>",
    )
    .expect("write broken.html");
    let (png, run) = screenshot(scratch.path(), "broken.html", &scratch.path().join("b.png"));
    assert_eq!(png_size(&png), (1300, 2000));
    let problems = page_problems(&run, scratch.path());
    for expected in ["canary-console-error", "charts/missing.svg", "missing.css"] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "the console/resource check no longer sees {expected:?} on this Chromium; it found \
             {problems:#?}\nstderr:\n{}",
            run.stderr
        );
    }

    let demo = demo();
    let site = &demo.site;
    let files = read_tree(site);
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/site-screenshots");
    std::fs::create_dir_all(&shots).expect("create target/site-screenshots");
    let tmp = tempfile::tempdir().expect("tempdir");
    for page in ["index.html", "services/inventory-service.html"] {
        let name = format!(
            "{}.png",
            page.trim_end_matches(".html")
                .rsplit('/')
                .next()
                .unwrap_or(page)
        );
        let (png, run) = screenshot(site, page, &tmp.path().join(&name));
        std::fs::write(shots.join(&name), &png).expect("keep a copy of the screenshot");
        assert_eq!(png_size(&png), (1300, 2000), "{page}: screenshot size");
        let problems = page_problems(&run, site);
        assert!(
            problems.is_empty(),
            "{page}: {problems:#?}\nstderr:\n{}",
            run.stderr
        );
        // Chromium really loaded the page, its stylesheet and every chart it shows (so the check above saw
        // them).
        let loaded: BTreeSet<PathBuf> = loaded_urls(&run.stderr)
            .iter()
            .filter_map(|u| url_path(u))
            .collect();
        let mut wanted = page_refs(&files, page);
        wanted.insert(page.to_string());
        assert!(wanted.contains("style.css"), "{page} links style.css");
        assert!(
            wanted.iter().any(|p| p.ends_with(".svg")),
            "{page} shows charts"
        );
        for rel in &wanted {
            assert!(
                loaded.contains(&site.join(rel)),
                "{page}: chromium did not load {rel}; it loaded {loaded:#?}"
            );
        }
    }

    // The rendered DOM of the overview: the services × rules matrix with one row per demo service.
    let run = chromium(
        &file_url(&site.join("index.html")),
        &["--dump-dom".to_string()],
    );
    assert!(run.status.success(), "--dump-dom: {}", run.stderr);
    let dom = &run.stdout;
    let table = between(dom, "<table class=\"matrix\">", "</table>")
        .unwrap_or_else(|| panic!("no services × rules table in the DOM:\n{dom}"));
    let head = between(table, "<thead>", "</thead>").expect("thead");
    assert_eq!(
        head.matches("<th").count(),
        RuleId::scanned().count() + 2,
        "columns: service, one per rule, open:\n{head}"
    );
    for rule in RuleId::scanned() {
        assert!(head.contains(&format!(">{}</a>", rule)), "{} column", rule);
    }
    let body = between(table, "<tbody>", "</tbody>").expect("tbody");
    let rows: Vec<&str> = body.split("<tr>").skip(1).collect();
    assert_eq!(rows.len(), 6, "six service rows:\n{body}");
    for (row, service) in rows.iter().zip(DEMO_SERVICES) {
        assert!(
            row.contains(&format!(
                "<a href=\"services/{service}.html\">{service}</a>"
            )),
            "row for {service}: {row}"
        );
        assert_eq!(
            row.matches("<td class=\"cell ").count(),
            RuleId::scanned().count(),
            "{service}: one cell per rule: {row}"
        );
    }
    // The story of the demo: inventory's production memory limit below staging's since May.
    assert!(
        rows[2].contains("title=\"inventory-service: limit-inversion block\""),
        "{}",
        rows[2]
    );
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

// ------------------------------------------------------------------------------------------ markup

/// A start tag and its attributes (values with character references decoded).
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// The start tags of an HTML or SVG document, lower-cased names. Enough for generated markup, where text
/// never holds a raw `<` (escaped) and comments hold none.
fn tags(text: &str) -> Vec<Tag> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        i += off + 1;
        if text[i..].starts_with("!--") {
            i += text[i..].find("-->").map_or(text.len() - i, |n| n + 3);
            continue;
        }
        if matches!(b.get(i), Some(b'/' | b'!' | b'?') | None) {
            continue;
        }
        let name_len = text[i..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(text.len() - i);
        let name = text[i..i + name_len].to_ascii_lowercase();
        i += name_len;
        let mut attrs = Vec::new();
        loop {
            while b.get(i).is_some_and(u8::is_ascii_whitespace) || b.get(i) == Some(&b'/') {
                i += 1;
            }
            match b.get(i) {
                None => break,
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(_) => {}
            }
            let n = text[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(text.len() - i);
            let key = text[i..i + n].to_ascii_lowercase();
            i += n;
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                match b.get(i) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let end = text[i + 1..]
                            .find(q as char)
                            .map_or(text.len(), |n| i + 1 + n);
                        value = decode_entities(&text[i + 1..end]);
                        i = (end + 1).min(text.len());
                    }
                    _ => {
                        let n = text[i..]
                            .find(|c: char| c.is_whitespace() || c == '>')
                            .unwrap_or(text.len() - i);
                        value = decode_entities(&text[i..i + n]);
                        i += n;
                    }
                }
            }
            if key.is_empty() {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            } else {
                attrs.push((key, value));
            }
        }
        out.push(Tag { name, attrs });
    }
    out
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and numeric character references.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|&n| n <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Attributes whose value is a URL the browser may fetch or navigate to.
const URL_ATTRS: [&str; 11] = [
    "href",
    "src",
    "xlink:href",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "cite",
    "ping",
];

/// `https:`, `mailto:`, `javascript:`, `//host`: anything not relative to the site.
fn is_external(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("//") || url.starts_with('/') || url.starts_with('\\') {
        return true;
    }
    let scheme_len = url
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .unwrap_or(url.len());
    scheme_len > 0 && url.as_bytes()[0].is_ascii_alphabetic() && url[scheme_len..].starts_with(':')
}

/// `target` (relative, as written in `page`) as a site path; `None` when it climbs out of the site.
fn resolve(page: &str, target: &str) -> Option<String> {
    let target = target.split(['#', '?']).next().unwrap_or_default();
    let target = percent_decode(target);
    let mut parts: Vec<&str> = page.split('/').collect();
    parts.pop();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Every `url(…)` in CSS text.
fn css_urls(css: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = css;
    while let Some(at) = rest.to_ascii_lowercase().find("url(") {
        rest = &rest[at + 4..];
        let end = rest.find(')').unwrap_or(rest.len());
        out.push(
            rest[..end]
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string(),
        );
        rest = &rest[end..];
    }
    out
}

/// Links that do not resolve to a file of the site, and references to anything outside it.
fn link_problems(files: &Files) -> Vec<String> {
    let mut problems = Vec::new();
    let check = |file: &str, what: &str, url: &str, problems: &mut Vec<String>| {
        if url.starts_with('#') {
            return;
        }
        if is_external(url) {
            problems.push(format!("{file}: external {what} {url:?}"));
            return;
        }
        match resolve(file, url) {
            Some(path) if files.contains_key(&path) => {}
            Some(path) => problems.push(format!(
                "{file}: {what} {url:?} → {path}, which is not in the site"
            )),
            None => problems.push(format!("{file}: {what} {url:?} climbs out of the site")),
        }
    };
    for (file, bytes) in files {
        let text = String::from_utf8_lossy(bytes);
        let lower = text.to_ascii_lowercase();
        if file.ends_with(".html") || file.ends_with(".svg") {
            for tag in tags(&text) {
                for (key, value) in &tag.attrs {
                    if URL_ATTRS.contains(&key.as_str()) {
                        check(file, &format!("<{} {key}>", tag.name), value, &mut problems);
                    } else if key == "style" {
                        for url in css_urls(value) {
                            check(file, "style url()", &url, &mut problems);
                        }
                    } else if !key.starts_with("xmlns")
                        && (value.contains("http://") || value.contains("https://"))
                    {
                        problems.push(format!("{file}: <{} {key}={value:?}>", tag.name));
                    }
                }
            }
            // <style> blocks.
            let mut rest = lower.as_str();
            while let Some(at) = rest.find("<style") {
                rest = &rest[at..];
                let end = rest.find("</style").unwrap_or(rest.len());
                let block = &rest[..end];
                if block.contains("@import") {
                    problems.push(format!("{file}: @import in a <style> block"));
                }
                for url in css_urls(block) {
                    check(file, "<style> url()", &url, &mut problems);
                }
                rest = &rest[end..];
            }
        }
        if file.ends_with(".css") {
            if lower.contains("@import") {
                problems.push(format!("{file}: @import"));
            }
            for url in css_urls(&text) {
                check(file, "url()", &url, &mut problems);
            }
            for scheme in ["http:", "https:"] {
                if lower.contains(scheme) {
                    problems.push(format!("{file}: mentions {scheme}"));
                }
            }
        }
    }
    problems
}

#[test]
fn every_link_of_the_site_resolves_inside_it() {
    // The checker itself: a broken link, a link out of the site, external references.
    let mut bad = Files::new();
    bad.insert(
        "services/x.html".into(),
        b"<a href=\"../index.html#top\">ok</a><a href=\"#frag\">ok</a><a href=\"y.html\">broken</a>\
          <img src=\"../../etc/passwd\"><img src='//cdn.example/x.svg'><link href=HTTPS://e.example/s.css>\
          <div style=\"background: url(http://e.example/a.png)\"></div>"
            .to_vec(),
    );
    bad.insert("index.html".into(), Vec::new());
    bad.insert(
        "style.css".into(),
        b"@import 'x.css'; a { background: url(\"https://e.example/b.png\") }".to_vec(),
    );
    let found = link_problems(&bad);
    for expected in [
        "\"y.html\"",
        "etc/passwd",
        "//cdn.example/x.svg",
        "HTTPS://e.example/s.css",
        "http://e.example/a.png",
        "style.css: @import",
        "https://e.example/b.png",
    ] {
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "the link check misses {expected}: {found:#?}"
        );
    }
    assert!(
        !found
            .iter()
            .any(|p| p.contains("#top") || p.contains("#frag")),
        "{found:#?}"
    );

    let demo = demo();
    let files = read_tree(&demo.site);
    assert!(files.keys().any(|p| p.ends_with(".svg")));
    let problems = link_problems(&files);
    assert!(problems.is_empty(), "the demo site: {problems:#?}");

    // A history with awkward names: slugs that collide, names that are markup.
    let dir = tempfile::tempdir().expect("tempdir");
    let history = hostile_history(&dir.path().join("history.sqlite"));
    let site = report::render(&history, &hostile_options()).expect("render");
    let problems = link_problems(&site.files);
    assert!(problems.is_empty(), "the hostile site: {problems:#?}");
}

#[test]
fn a_resolved_finding_of_a_service_without_a_page_links_to_no_missing_page() {
    // `retired` had a finding, resolved since, and no view: a history from before views were stored
    // (schema version 1, upgraded in place), or any run recorded without views. It gets no page of its
    // own, but history.html lists its resolved finding.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = History::open(&dir.path().join("history.sqlite")).expect("open history");
    let web = || {
        finding(
            "image",
            Severity::Warn,
            "web",
            "web",
            &["staging", "production"],
            "image differs",
        )
    };
    let mut r = record(0, vec![web()], Vec::new());
    r.findings.push(finding(
        "probes",
        Severity::Block,
        "retired",
        "old",
        &["staging", "production"],
        "no readiness probe",
    ));
    h.record(&r).expect("record day 0");
    h.record(&record(3, vec![web()], Vec::new()))
        .expect("record day 3");
    assert_eq!(
        h.resolved_since(day(-1), None).expect("resolved").len(),
        1,
        "retired's finding is resolved"
    );
    let site = report::render(&h, &Options::default()).expect("render");
    assert!(site.files.contains_key("services/web.html"));
    assert!(
        String::from_utf8_lossy(&site.files["history.html"]).contains("retired"),
        "history.html lists the resolved finding"
    );
    let problems = link_problems(&site.files);
    assert!(problems.is_empty(), "{problems:#?}");
}

// ------------------------------------------------------------------------------------------ escaping

const SCRIPT: &str = "<script>alert(1)</script>";
const ENV_PAYLOAD: &str = "\"'><img src=x onerror=alert(2)>";
const IMG_PAYLOAD: &str = "\"'><img src=x onerror=alert(3)>";

/// Day `n` of the test timeline, at 08:00 UTC.
fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
        .single()
        .expect("valid date")
        + Duration::days(n)
}

fn finding(
    rule: &str,
    severity: Severity,
    service: &str,
    name: &str,
    envs: &[&str],
    message: &str,
) -> Finding {
    let field = "resources.limits.memory";
    Finding {
        rule: rule.parse().expect("rule id"),
        severity,
        service: service.into(),
        kind: "Deployment".into(),
        name: name.into(),
        container: Some(name.into()),
        envs: envs.iter().map(|e| e.to_string()).collect(),
        field: field.into(),
        values: envs
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    e.to_string(),
                    if i == 0 { IMG_PAYLOAD } else { SCRIPT }.to_string(),
                )
            })
            .collect(),
        message: message.into(),
        fingerprint: fingerprint(rule, service, "Deployment", name, Some(name), field),
        files: envs
            .iter()
            .map(|e| {
                (
                    e.to_string(),
                    format!("apps/{service}/overlays/{e}/patch.yaml"),
                )
            })
            .collect(),
    }
}

fn metric(
    service: &str,
    env: &str,
    kind: MetricKind,
    resource: &str,
    value: f64,
    other: Option<&str>,
) -> Metric {
    Metric {
        service: service.into(),
        env: env.into(),
        other_env: other.map(str::to_string),
        workload: format!("Deployment/{SCRIPT}"),
        container: (kind != MetricKind::Replicas).then(|| SCRIPT.to_string()),
        resource: resource.into(),
        kind,
        value,
    }
}

/// Memory limits of `service` in `env` and production (GiB), their ratio, requests and replicas.
fn metrics(service: &str, env: &str, env_gib: f64, prod_gib: f64) -> Vec<Metric> {
    let gib = f64::from(1u32 << 30);
    vec![
        metric(
            service,
            env,
            MetricKind::Limit,
            "memory",
            env_gib * gib,
            None,
        ),
        metric(
            service,
            "production",
            MetricKind::Limit,
            "memory",
            prod_gib * gib,
            None,
        ),
        metric(
            service,
            env,
            MetricKind::Request,
            "memory",
            env_gib * gib / 2.0,
            None,
        ),
        metric(
            service,
            "production",
            MetricKind::Request,
            "memory",
            prod_gib * gib / 2.0,
            None,
        ),
        metric(service, env, MetricKind::Request, "cpu", 0.25, None),
        metric(service, env, MetricKind::Limit, "cpu", 1.0, None),
        metric(service, env, MetricKind::Replicas, "replicas", 1.0, None),
        metric(
            service,
            "production",
            MetricKind::Replicas,
            "replicas",
            3.0,
            None,
        ),
        metric(
            service,
            env,
            MetricKind::LimitRatio,
            "memory",
            env_gib / prod_gib,
            Some("production"),
        ),
    ]
}

/// A view whose every name is markup.
fn hostile_view() -> ServiceView {
    let envs = vec![ENV_PAYLOAD.to_string(), "production".to_string()];
    let per_env = |image: &str, limit: &str| ContainerEnv {
        image: Some(image.into()),
        requests: BTreeMap::from([("memory".to_string(), "1Gi".to_string())]),
        limits: BTreeMap::from([("memory".to_string(), limit.to_string())]),
        ratios: BTreeMap::from([("memory".to_string(), IMG_PAYLOAD.to_string())]),
        probes: BTreeMap::from([("livenessProbe".to_string(), format!("GET /{SCRIPT} :80"))]),
    };
    ServiceView {
        service: SCRIPT.into(),
        envs: envs.clone(),
        workloads: vec![WorkloadView {
            workload: format!("Deployment/{SCRIPT}"),
            replicas: IndexMap::from([
                (ENV_PAYLOAD.to_string(), Some(1)),
                ("production".to_string(), None),
            ]),
            containers: vec![ContainerView {
                name: SCRIPT.into(),
                init: false,
                per_env: IndexMap::from([
                    (
                        ENV_PAYLOAD.to_string(),
                        per_env(&format!("registry.example/{IMG_PAYLOAD}:1"), "2Gi"),
                    ),
                    (
                        "production".to_string(),
                        per_env("registry.example/app:1", SCRIPT),
                    ),
                ]),
                env_names: vec![
                    EnvName {
                        name: SCRIPT.into(),
                        present: vec![ENV_PAYLOAD.to_string()],
                        partial: true,
                    },
                    EnvName {
                        name: "LOG_LEVEL".into(),
                        present: envs.clone(),
                        partial: false,
                    },
                ],
            }],
        }],
        ingresses: vec![IngressView {
            name: SCRIPT.into(),
            routes: IndexMap::from([
                (
                    ENV_PAYLOAD.to_string(),
                    vec![format!("/{SCRIPT} (Prefix) → {IMG_PAYLOAD}:80")],
                ),
                ("production".to_string(), Vec::new()),
            ]),
        }],
    }
}

fn plain_view(service: &str) -> ServiceView {
    ServiceView {
        service: service.into(),
        envs: vec!["staging".into(), "production".into()],
        workloads: Vec::new(),
        ingresses: Vec::new(),
    }
}

fn record(n: i64, findings: Vec<Finding>, metrics: Vec<Metric>) -> RunRecord {
    RunRecord {
        kind: RunKind::Scan,
        started_at: day(n) + Duration::minutes(1),
        time: day(n),
        commit: Some(CommitRef {
            id: format!("{n:02}{}", "ab".repeat(19)),
            time: day(n) - Duration::hours(1),
            author: format!("{IMG_PAYLOAD} <{SCRIPT}@example.org>"),
            summary: format!("{SCRIPT} fix {IMG_PAYLOAD}"),
        }),
        durations: Durations {
            total_ms: 1000,
            fetch_ms: Some(10),
            render_ms: Some(800),
            check_ms: Some(100),
        },
        fetch_error: None,
        errors: Vec::new(),
        findings,
        metrics,
        events: Vec::new(),
        views: Vec::new(),
    }
}

/// Four scans over ten days: a service named `<script>alert(1)</script>` with an environment named
/// `"'><img src=x onerror=alert(2)>`, markup in every finding, commit, view and error; `a b` and `a_b`
/// (one slug) and `web`.
fn hostile_history(path: &Path) -> History {
    let mut h = History::open(path).expect("open history");
    let hostile = |sev| {
        finding(
            "limit-inversion",
            sev,
            SCRIPT,
            SCRIPT,
            &[ENV_PAYLOAD, "production"],
            &format!("{SCRIPT} shrinks {IMG_PAYLOAD}"),
        )
    };
    let others = || {
        vec![
            finding(
                "image",
                Severity::Warn,
                "web",
                "web",
                &["staging", "production"],
                "image differs",
            ),
            finding(
                "replicas",
                Severity::Info,
                "a b",
                "a",
                &["staging", "production"],
                "replicas differ",
            ),
            finding(
                "replicas",
                Severity::Info,
                "a_b",
                "a",
                &["staging", "production"],
                "replicas differ",
            ),
        ]
    };
    let views = || {
        vec![
            hostile_view(),
            plain_view("web"),
            plain_view("a b"),
            plain_view("a_b"),
        ]
    };

    let r = record(0, others(), metrics(SCRIPT, ENV_PAYLOAD, 2.0, 2.0));
    h.record(&r).expect("record day 0");

    let mut r = record(3, others(), metrics(SCRIPT, ENV_PAYLOAD, 2.0, 1.0));
    r.findings.push(hostile(Severity::Warn));
    r.views = views();
    h.record(&r).expect("record day 3");

    let mut r = record(9, others(), metrics(SCRIPT, ENV_PAYLOAD, 4.0, 1.0));
    r.findings.push(hostile(Severity::Block));
    r.metrics.extend(metrics("web", "staging", 1.0, 1.0));
    r.views = views();
    r.errors = vec![CheckError {
        service: Some(SCRIPT.into()),
        env: Some(ENV_PAYLOAD.into()),
        kind: envparity::codes::ErrorKind::Render,
        message: format!("kustomize failed: {IMG_PAYLOAD} {SCRIPT}"),
    }];
    h.record(&r).expect("record day 9");

    let mut r = record(10, others(), metrics(SCRIPT, ENV_PAYLOAD, 4.0, 1.0));
    r.findings.push(hostile(Severity::Block));
    r.views = views();
    r.fetch_error = Some(format!("fetching {SCRIPT}: {IMG_PAYLOAD}"));
    h.record(&r).expect("record day 10");
    h
}

fn hostile_options() -> Options {
    Options {
        prices: Some(Prices {
            core_hour: 0.04,
            gib_hour: 0.005,
            currency: SCRIPT.into(),
        }),
    }
}

#[test]
fn names_from_the_repo_are_escaped_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = hostile_history(&dir.path().join("history.sqlite"));
    let site = report::render(&history, &hostile_options()).expect("render");

    for path in site.files.keys() {
        assert!(
            !path.is_empty()
                && !path.starts_with('/')
                && !path.contains("..")
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
                && path.split('/').all(|s| !s.is_empty() && s != "."),
            "unsafe file name in the site: {path:?}"
        );
    }
    let service_pages: Vec<&String> = site
        .files
        .keys()
        .filter(|p| p.starts_with("services/"))
        .collect();
    assert_eq!(
        service_pages.len(),
        4,
        "one page per service with a view or an open finding ({SCRIPT}, a b and a_b apart, web): \
         {service_pages:?}"
    );
    assert!(
        site.files
            .keys()
            .any(|p| p.starts_with("charts/") && p.contains("_script_alert_1___script_")),
        "the hostile service has charts: {:?}",
        site.files.keys().collect::<Vec<_>>()
    );

    let mut escaped_pages = 0;
    for (path, bytes) in &site.files {
        let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{path} is UTF-8"));
        let lower = text.to_ascii_lowercase();
        if path.ends_with(".html") {
            assert!(!lower.contains("<script"), "{path} holds a <script>");
            assert!(
                !lower.contains("<img src=x"),
                "{path} holds the <img> payload"
            );
            for tag in tags(text) {
                assert!(
                    !matches!(
                        tag.name.as_str(),
                        "script" | "iframe" | "object" | "embed" | "base" | "form"
                    ),
                    "{path}: <{}>",
                    tag.name
                );
                for (key, value) in &tag.attrs {
                    assert!(!key.starts_with("on"), "{path}: <{} {key}>", tag.name);
                    assert!(
                        !value
                            .trim_start()
                            .to_ascii_lowercase()
                            .starts_with("javascript:"),
                        "{path}: <{} {key}={value:?}>",
                        tag.name
                    );
                }
                if tag.name == "img" {
                    let src = tag.attrs.iter().find(|(k, _)| k == "src");
                    assert!(
                        src.is_some_and(|(_, v)| v.ends_with(".svg")),
                        "{path}: an <img> that is not a chart: {tag:?}"
                    );
                }
            }
            if text.contains("&#60;script&#62;") || text.contains("&lt;script&gt;") {
                escaped_pages += 1;
            }
        }
        if path.ends_with(".svg") {
            let doc = roxmltree::Document::parse(text)
                .unwrap_or_else(|e| panic!("{path} is not well-formed XML: {e}\n{text}"));
            assert_eq!(doc.root_element().tag_name().name(), "svg", "{path}");
            for node in doc.descendants().filter(|n| n.is_element()) {
                let name = node.tag_name().name().to_ascii_lowercase();
                assert!(
                    !matches!(name.as_str(), "script" | "foreignobject" | "iframe" | "a"),
                    "{path}: <{name}>"
                );
                for a in node.attributes() {
                    assert!(
                        !a.name().to_ascii_lowercase().starts_with("on"),
                        "{path}: <{name} {}>",
                        a.name()
                    );
                }
            }
        }
    }

    // The names are shown, escaped (askama writes `&#60;script&#62;`), not dropped.
    let page = |p: &str| {
        String::from_utf8(site.files[p].clone()).unwrap_or_else(|_| panic!("{p} is UTF-8"))
    };
    let index = page("index.html");
    let service = page("services/_script_alert_1___script_.html");
    let history_page = page("history.html");
    for (what, text, needles) in [
        (
            "index.html",
            &index,
            vec![
                "&#60;script&#62;alert(1)&#60;/script&#62;",
                "&#34;&#39;&#62;&#60;img src=x onerror=alert(2)&#62;",
                "&#34;&#39;&#62;&#60;img src=x onerror=alert(3)&#62;",
            ],
        ),
        (
            "the hostile service page",
            &service,
            vec![
                "<h1>&#60;script&#62;alert(1)&#60;/script&#62;</h1>",
                "<th scope=\"col\">&#34;&#39;&#62;&#60;img src=x onerror=alert(2)&#62;</th>",
                "<code>&#60;script&#62;alert(1)&#60;/script&#62;</code>",
                "&#60;script&#62;alert(1)&#60;/script&#62; shrinks &#34;&#39;&#62;&#60;img src=x onerror=alert(3)&#62;",
            ],
        ),
        (
            "history.html",
            &history_page,
            vec![
                "&#60;script&#62;alert(1)&#60;/script&#62; fix &#34;&#39;&#62;&#60;img src=x onerror=alert(3)&#62;",
            ],
        ),
    ] {
        for needle in needles {
            assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
        }
    }
    assert!(
        escaped_pages >= 3,
        "{escaped_pages} pages show the escaped name"
    );

    // Charts name the service's workload and environments in their titles and legends: the parsed text is
    // the name itself (escaped once, not mangled).
    let chart_texts: Vec<String> = site
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("charts/_script_alert_1___script_/"))
        .flat_map(|(p, bytes)| {
            let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{p} is UTF-8"));
            let doc = roxmltree::Document::parse(text).expect("parsed above");
            doc.descendants()
                .filter_map(|n| n.text())
                .map(|t| t.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        chart_texts
            .iter()
            .any(|t| t.contains(&format!("Deployment/{SCRIPT} [{SCRIPT}]"))),
        "a chart title names the workload: {chart_texts:#?}"
    );
    assert!(
        chart_texts.iter().any(|t| t == ENV_PAYLOAD),
        "a legend names the environment: {chart_texts:#?}"
    );
}

// ------------------------------------------------------------------------------------------ determinism

#[test]
fn the_same_history_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = hostile_history(&dir.path().join("history.sqlite"));
    let demo = demo();
    let demo_history = demo.history();
    for (what, history, options) in [
        ("hostile", &hostile, hostile_options()),
        ("demo", &demo_history, Options::default()),
    ] {
        let first = report::render(history, &options).expect("render");
        let second = report::render(history, &options).expect("render again");
        assert!(
            first.files.len() > 20,
            "{what}: {} files",
            first.files.len()
        );
        assert_same_site(
            &format!("{what}: render twice"),
            &first.files,
            &second.files,
        );

        let out = tempfile::tempdir().expect("tempdir");
        let (a, b) = (out.path().join("a/site"), out.path().join("b/site"));
        let n = report::build(history, &options, &a, dir.path()).expect("build a");
        assert_eq!(n, first.files.len(), "{what}: build counts its files");
        report::build(history, &options, &b, dir.path()).expect("build b");
        let (ta, tb) = (read_tree(&a), read_tree(&b));
        assert_same_site(&format!("{what}: build twice"), &ta, &tb);
        assert_same_site(&format!("{what}: build vs render"), &ta, &first.files);
    }
    // The binary's site (`report` from a temp cwd, another process) is the same too.
    let from_binary = read_tree(&demo.site);
    let rendered = report::render(&demo_history, &Options::default()).expect("render");
    assert_same_site("demo: binary vs library", &from_binary, &rendered.files);
}

// ------------------------------------------------------------------------------------------ atomicity

/// The `.envparity-site-*` directories next to the output.
fn staging_dirs(parent: &Path) -> BTreeSet<String> {
    std::fs::read_dir(parent)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".envparity-site-"))
        .collect()
}

/// A site published once into `<dir>/public/site` from a history of hostile names in `<dir>/state`.
struct Published {
    state: PathBuf,
    cwd: PathBuf,
    parent: PathBuf,
    out: PathBuf,
    history: History,
}

fn published(dir: &Path) -> Published {
    let state = dir.join("state");
    let cwd = dir.join("cwd");
    let parent = dir.join("public");
    let out = parent.join("site");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let history = hostile_history(&state.join("history.sqlite"));
    let run = envparity(
        &cwd,
        &["report", "--state", utf8(&state), "--out", utf8(&out)],
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Published {
        state,
        cwd,
        parent,
        out,
        history,
    }
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_crash_while_publishing_leaves_the_previous_site() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Published {
        state,
        cwd,
        parent,
        out,
        mut history,
    } = published(dir.path());
    let (state_s, out_s) = (utf8(&state), utf8(&out));
    let report_args = ["report", "--state", state_s, "--out", out_s];
    assert_same_site(
        "first publish",
        &read_tree(&out),
        &report::render(&history, &Options::default())
            .expect("render")
            .files,
    );
    // A file envparity did not write lives beside the site through the crash and the next publishes.
    std::fs::write(out.join("README.md"), b"# our site\n").expect("write");
    let old = read_tree(&out);
    assert!(
        staging_dirs(&parent).is_empty(),
        "{:?}",
        staging_dirs(&parent)
    );

    // One more run: the new site differs.
    let mut r = record(12, Vec::new(), metrics(SCRIPT, ENV_PAYLOAD, 1.0, 1.0));
    r.views = vec![hostile_view()];
    history.record(&r).expect("record day 12");
    let rendered = report::render(&history, &Options::default())
        .expect("render")
        .files;
    let mut new = rendered.clone();
    new.insert("README.md".into(), b"# our site\n".to_vec());
    assert_ne!(old, new, "the extra run changes the site");

    let crashed = crate::support::command()
        .args(report_args)
        .current_dir(&cwd)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .env(
            "FAILPOINTS",
            format!("{}=return", envparity::report::CRASH_BEFORE_SWAP),
        )
        .output()
        .expect("run envparity");
    assert_eq!(
        crashed.status.code(),
        None,
        "the fail point aborts the process (a signal, not an exit): {}\n{}",
        crashed.status,
        String::from_utf8_lossy(&crashed.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(crashed.status.signal(), Some(6), "SIGABRT");
    }
    assert_same_site("after the crash, out", &read_tree(&out), &old);
    // What the crash left behind: the complete new site, never swapped in.
    let left = staging_dirs(&parent);
    assert_eq!(left.len(), 1, "{left:?}");
    let leftover = parent.join(left.iter().next().expect("one"));
    assert_same_site("the crashed staging dir", &read_tree(&leftover), &new);

    // A normal run swaps the new site in and sweeps the crashed run's staging dir (no live publish holds
    // its lock), leaving nothing behind.
    let run = envparity(&cwd, &report_args);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(&format!("{} files written", rendered.len())),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert_same_site("after the normal run, out", &read_tree(&out), &new);
    assert!(
        staging_dirs(&parent).is_empty(),
        "{:?}",
        staging_dirs(&parent)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("stat").permissions().mode();
        assert_eq!(
            mode & 0o755,
            0o755,
            "the site is readable by a web server: {mode:o}"
        );
    }

    // A staging dir whose publish is alive (it holds the lock; here, this test) is kept, however old;
    // once its lock is released, the next publish sweeps it.
    let live = parent.join(".envparity-site-live");
    std::fs::create_dir(&live).expect("mkdir");
    std::fs::File::open(&live)
        .expect("open the live dir")
        .set_modified(SystemTime::now() - StdDuration::from_secs(11 * 60))
        .expect("age the live dir");
    let lock = std::fs::File::open(&live).expect("open the live dir");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    let run = envparity(&cwd, &report_args);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(
        staging_dirs(&parent),
        BTreeSet::from([".envparity-site-live".to_string()])
    );
    drop(lock);
    let run = envparity(&cwd, &report_args);
    assert_eq!(run.status.code(), Some(0));
    assert!(
        staging_dirs(&parent).is_empty(),
        "{:?}",
        staging_dirs(&parent)
    );
    assert_same_site("after the sweep, out", &read_tree(&out), &new);
}

// ------------------------------------------------------------------------------------------ safe publishing

/// A history with one run, its directory (the state directory) kept alive with it.
fn small_history() -> (tempfile::TempDir, History) {
    let state = tempfile::tempdir().expect("tempdir");
    let mut history = History::open(&state.path().join("history.sqlite")).expect("open");
    history
        .record(&record(
            1,
            Vec::new(),
            metrics(SCRIPT, ENV_PAYLOAD, 1.0, 1.0),
        ))
        .expect("record");
    (state, history)
}

#[test]
fn publishing_refuses_a_directory_that_holds_no_envparity_site_and_deletes_nothing() {
    let (state, history) = small_history();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("photos");
    std::fs::create_dir_all(out.join("2024")).expect("mkdir");
    std::fs::write(out.join("2024/beach.jpg"), b"jpeg").expect("write");
    std::fs::write(out.join("index.html"), b"<h1>my homepage</h1>").expect("write");
    let before = read_tree(&out);

    let err = report::build(&history, &Options::default(), &out, state.path())
        .expect_err("a foreign directory is refused");
    assert!(
        matches!(err, report::ReportError::NotASite { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(utf8(&out)),
        "names the directory: {err}"
    );
    assert_same_site("the refused directory", &read_tree(&out), &before);
    assert!(staging_dirs(dir.path()).is_empty());

    // A plain file is refused too.
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"notes").expect("write");
    let err = report::build(&history, &Options::default(), &file, state.path())
        .expect_err("a file is refused");
    assert!(
        matches!(err, report::ReportError::NotASite { .. }),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), b"notes");
}

#[test]
fn publishing_refuses_an_output_that_overlaps_the_state_directory() {
    let (state, history) = small_history();
    let layout = envparity::pipeline::State {
        dir: state.path().to_path_buf(),
    };
    let parent = state.path().parent().expect("parent").to_path_buf();
    // Another spelling of the state directory itself (`x/../state`) is caught too.
    let respelled = state
        .path()
        .join("..")
        .join(state.path().file_name().expect("name"));
    for out in [
        state.path().to_path_buf(),
        respelled,
        parent,
        layout.history(),
        layout.render_cache(),
        layout.render_cache().parent().expect("cache").to_path_buf(),
        layout.mirror("https://example.com/infra.git"),
        state.path().join("daemon.lock"),
    ] {
        let err = report::build(&history, &Options::default(), &out, state.path())
            .expect_err("overlap is refused");
        assert!(
            matches!(err, report::ReportError::OverlapsState { .. }),
            "{}: {err:?}",
            out.display()
        );
    }
    assert!(!state.path().join("cache").exists());
    assert!(
        state.path().join("history.sqlite").is_file(),
        "the history is untouched"
    );

    // A directory of its own inside the state directory is what deploy/ configures
    // (`/var/lib/envparity/site`): the daemon keeps publishing there after an upgrade.
    let site = state.path().join("site");
    report::build(&history, &Options::default(), &site, state.path()).expect("publish");
    report::build(&history, &Options::default(), &site, state.path()).expect("publish again");
    assert!(site.join(report::MARKER).is_file());
}

#[test]
fn a_site_published_before_the_marker_is_replaced_and_files_envparity_did_not_write_are_kept() {
    let (state, history) = small_history();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reports");
    // An old-style site (no marker; its pages carry the brand link) with a README beside it.
    std::fs::create_dir_all(out.join("services")).expect("mkdir");
    std::fs::write(
        out.join("index.html"),
        "<html><nav>\n<a class=\"brand\" href=\"index.html\">envparity</a>\n</nav></html>",
    )
    .expect("write");
    std::fs::write(out.join("services/retired-service.html"), b"old page").expect("write");
    std::fs::write(out.join("README.md"), b"# our reports\n").expect("write");
    std::fs::create_dir_all(out.join("notes")).expect("mkdir");
    std::fs::write(out.join("notes/runbook.md"), b"runbook").expect("write");

    report::build(&history, &Options::default(), &out, state.path()).expect("upgrade publish");
    let site = report::render(&history, &Options::default())
        .expect("render")
        .files;
    let mut expected = site.clone();
    expected.insert("README.md".into(), b"# our reports\n".to_vec());
    expected.insert("notes/runbook.md".into(), b"runbook".to_vec());
    assert_same_site("after the upgrade", &read_tree(&out), &expected);
    assert!(
        site.contains_key(report::MARKER),
        "the site carries its marker"
    );

    // From now on the marker decides: a file added by hand is kept, a page the site no longer writes goes.
    std::fs::create_dir_all(out.join("services")).expect("mkdir");
    std::fs::write(out.join("services/by-hand.txt"), b"mine").expect("write");
    let marker = String::from_utf8(site[report::MARKER].clone()).expect("utf-8");
    let listed = marker.lines().nth(1).expect("a listed page").to_string();
    std::fs::write(
        out.join(report::MARKER),
        format!("{marker}services/gone.html\n"),
    )
    .expect("write");
    std::fs::write(out.join("services/gone.html"), b"gone").expect("write");
    report::build(&history, &Options::default(), &out, state.path()).expect("second publish");
    expected.insert("services/by-hand.txt".into(), b"mine".to_vec());
    assert_same_site("after the second publish", &read_tree(&out), &expected);
    assert!(out.join(&listed).is_file());
    assert!(staging_dirs(dir.path()).is_empty());
}

#[test]
fn a_folder_holding_only_its_readme_is_published_into_keeping_the_readme() {
    // This repository's own `reports/` is kept in git for its README.
    let (state, history) = small_history();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reports");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("README.md"), b"readme").expect("write");
    report::build(&history, &Options::default(), &out, state.path()).expect("publish");
    assert_eq!(
        std::fs::read(out.join("README.md")).expect("read"),
        b"readme"
    );
    assert!(out.join("index.html").is_file());
    assert!(out.join(report::MARKER).is_file());
}

/// Starts `envparity report` with `failpoints` armed, waits until `reached` says the publish is where the
/// test wants it (it stalls there in a fail point's `sleep`), and kills it with SIGKILL.
fn kill_publish_when(cwd: &Path, args: &[&str], failpoints: &str, reached: impl Fn() -> bool) {
    let mut child = crate::support::command()
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .env("FAILPOINTS", failpoints)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn envparity");
    let started = Instant::now();
    while !reached() {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the publish ended ({status}) before reaching {failpoints}");
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(30),
            "the publish did not reach {failpoints}"
        );
        std::thread::sleep(StdDuration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    }
}

/// Every file under `dir` (relative paths), directories left out.
fn files_under(dir: &Path) -> BTreeSet<String> {
    read_tree(dir).into_keys().collect()
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_publish_killed_with_sigkill_mid_write_or_before_the_swap_leaves_the_previous_site_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Published {
        state,
        cwd,
        parent,
        out,
        mut history,
    } = published(dir.path());
    let (state_s, out_s) = (utf8(&state), utf8(&out));
    let report_args = ["report", "--state", state_s, "--out", out_s];
    std::fs::write(out.join("README.md"), b"# our site\n").expect("write");

    // Mid-write: four files staged, the fifth never comes. Before the swap: the whole new site staged and
    // the README carried over into it.
    // Whether the publish stalled where the scenario wants it, given its staging dir.
    type Reached = fn(&Path) -> bool;
    let scenarios: [(String, Reached); 2] = [
        (
            format!(
                "{}=3*off->sleep(20000)",
                envparity::report::AFTER_STAGED_FILE
            ),
            |staging: &Path| files_under(staging).len() >= 4,
        ),
        (
            format!("{}=sleep(20000)", envparity::report::CRASH_BEFORE_SWAP),
            |staging: &Path| staging.join("README.md").exists(),
        ),
    ];
    for (day, (failpoints, reached)) in (12..).zip(scenarios) {
        let old = read_tree(&out);
        assert!(old.contains_key("README.md"), "{:?}", old.keys());
        let mut r = record(day, Vec::new(), metrics(SCRIPT, ENV_PAYLOAD, 1.0, 1.0));
        r.views = vec![hostile_view()];
        history.record(&r).expect("record");
        let mut new = report::render(&history, &Options::default())
            .expect("render")
            .files;
        new.insert("README.md".into(), b"# our site\n".to_vec());
        assert_ne!(old, new, "{failpoints}: the extra run changes the site");

        let staging = || {
            staging_dirs(&parent)
                .into_iter()
                .next()
                .map(|name| parent.join(name))
        };
        kill_publish_when(&cwd, &report_args, &failpoints, || {
            staging().is_some_and(|dir| reached(&dir))
        });

        // The previous site is whole, byte for byte, README included, and its front page loads.
        assert_same_site(
            &format!("{failpoints}: after SIGKILL"),
            &read_tree(&out),
            &old,
        );
        let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
        assert!(
            index.trim_end().ends_with("</html>"),
            "{failpoints}: {index}"
        );
        let left = staging_dirs(&parent);
        assert_eq!(left.len(), 1, "{failpoints}: {left:?}");

        // The next publish needs no hand: it sweeps the killed run's staging dir and swaps in the new
        // site, the README still beside it.
        let run = envparity(&cwd, &report_args);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{failpoints}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            staging_dirs(&parent).is_empty(),
            "{failpoints}: {:?}",
            staging_dirs(&parent)
        );
        assert_same_site(
            &format!("{failpoints}: next publish"),
            &read_tree(&out),
            &new,
        );
    }
}
