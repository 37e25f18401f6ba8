//! The weekly digest end to end: the selection on a history built here, the PNG charts, and the real
//! binary sending through real SMTP servers on 127.0.0.1 (aiosmtpd): plain, AUTH over STARTTLS with a
//! throwaway CA, a server that is down, one that refuses a recipient, one that drops the connection, one
//! that defers a recipient; the binary killed (SIGKILL) before and after the server accepted a copy; and
//! the `digest` job lock held by another process.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use envparity::codes::EventKind;
use envparity::finding::{Finding, Severity};
use envparity::history::{CommitRef, Durations, History, RunKind, RunRecord};
use envparity::metrics::{Metric, MetricKind};
use envparity::notify::{self, Period, SelectOptions};
use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::support::{free_port, root};

const WEEK: &str = "2026-W47";
const PASSWORD: &str = "s3cret-Pa55word";

/// 08:00 UTC on a day of November 2026.
fn nov(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 8, 0, 0)
        .single()
        .expect("valid date")
}

fn finding(service: &str, name: &str) -> Finding {
    crate::support::inversion_finding(service, name, Severity::Block)
}

/// staging's memory limit ÷ production's for one service's `web` container.
fn ratio(service: &str, value: f64) -> Metric {
    Metric {
        service: service.into(),
        env: "staging".into(),
        other_env: Some("production".into()),
        workload: "Deployment/web".into(),
        container: Some("web".into()),
        resource: "memory".into(),
        kind: MetricKind::LimitRatio,
        value,
    }
}

fn backfill(time: DateTime<Utc>, findings: Vec<Finding>, metrics: Vec<Metric>) -> RunRecord {
    RunRecord {
        kind: RunKind::Backfill,
        started_at: Utc::now(),
        time,
        commit: Some(CommitRef {
            id: format!("c{}", time.timestamp()),
            time,
            author: "Dana <dana@example.com>".into(),
            summary: "change limits".into(),
        }),
        durations: Durations::default(),
        fetch_error: None,
        errors: Vec::new(),
        findings,
        metrics,
        events: Vec::new(),
        views: Vec::new(),
    }
}

/// A history around ISO week 2026-W47 (16–22 November, UTC): before it (9 Nov), in it (18 Nov) and after it
/// (25 Nov). Three services' ratios widen in the week, catalog-service's narrows; payments-service opens a
/// finding in the week, catalog-service resolves one, search-service opens one only after the week.
fn build_history(path: &Path) {
    let mut h = History::open(path).expect("open history");
    let old = finding("inventory-service", "web");
    let resolved = finding("catalog-service", "web");
    let opened = finding("payments-service", "web");
    let later = finding("search-service", "web");
    h.record(&backfill(
        nov(9),
        vec![old.clone(), resolved],
        vec![
            ratio("inventory-service", 2.0),
            ratio("payments-service", 1.0),
            ratio("search-service", 0.5),
            ratio("catalog-service", 4.0),
        ],
    ))
    .expect("record");
    h.record(&backfill(
        nov(18),
        vec![old.clone(), opened.clone()],
        vec![
            ratio("inventory-service", 4.0),
            ratio("payments-service", 2.0),
            ratio("search-service", 0.25),
            ratio("catalog-service", 2.0),
        ],
    ))
    .expect("record");
    h.record(&backfill(
        nov(25),
        vec![old, opened, later],
        vec![
            ratio("inventory-service", 4.0),
            ratio("payments-service", 2.0),
            ratio("search-service", 0.125),
            ratio("catalog-service", 2.0),
        ],
    ))
    .expect("record");
}

#[test]
fn selection_finds_what_drifted_apart_in_the_week() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("history.sqlite");
    build_history(&db);
    let h = History::open(&db).expect("open");
    let period = Period::parse(WEEK, chrono_tz::UTC).expect("period");
    let s = notify::select::select(&h, &period, &SelectOptions::default()).expect("select");

    assert_eq!(s.base_run.as_ref().map(|r| r.time), Some(nov(9)));
    assert_eq!(s.last_run.as_ref().map(|r| r.time), Some(nov(18)));
    let widened: Vec<(&str, f64, f64)> = s
        .widened
        .iter()
        .map(|d| (d.service.as_str(), d.before, d.after))
        .collect();
    // Widest first: each moved one doubling further from 1; the narrowing catalog ratio is not there, nor
    // search-service's further widening after the week.
    assert_eq!(
        widened,
        vec![
            ("inventory-service", 2.0, 4.0),
            ("payments-service", 1.0, 2.0),
            ("search-service", 0.5, 0.25),
        ]
    );
    let services = |ls: &[envparity::history::Lifecycle]| -> Vec<String> {
        ls.iter().map(|l| l.finding.service.clone()).collect()
    };
    assert_eq!(services(&s.opened), ["payments-service"]);
    assert_eq!(services(&s.resolved), ["catalog-service"]);
    assert_eq!(
        services(&s.oldest),
        ["inventory-service", "payments-service"]
    );
    assert_eq!(s.open_total, 2);
    // Opened 9 Nov 08:00, measured to the end of the week (23 Nov 00:00).
    assert_eq!(s.oldest[0].age_days(s.as_of()), 13);
    let growing: Vec<(&str, usize, usize)> = s
        .growing
        .iter()
        .map(|g| (g.service.as_str(), g.before, g.after))
        .collect();
    assert_eq!(growing, vec![("payments-service", 0, 1)]);
    assert_eq!(
        s.drifting_services(),
        ["inventory-service", "payments-service", "search-service"]
    );
    assert!(!s.is_quiet());
    assert!(notify::message::subject(&s).starts_with(
        "envparity: 3 services drifting apart — inventory-service, payments-service, search-service"
    ));

    // A stricter threshold: 2× further apart is needed, and each moved exactly 2×.
    let strict = SelectOptions {
        min_widening: 2.5,
        oldest: 1,
    };
    let s = notify::select::select(&h, &period, &strict).expect("select");
    assert!(s.widened.is_empty());
    assert_eq!(s.oldest.len(), 1);

    // The week before has nothing to compare with (one run) but the opened findings; two weeks before is quiet.
    let quiet = Period::parse("2026-W45", chrono_tz::UTC).expect("period");
    let s = notify::select::select(&h, &quiet, &SelectOptions::default()).expect("select");
    assert!(s.is_quiet(), "{s:?}");
    assert_eq!(
        notify::message::subject(&s),
        "envparity: all quiet in 2026-W45"
    );
}

/// (width, height) from a PNG's IHDR.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// Decodes a PNG and counts the pixels that differ from the top-left (background) pixel.
fn non_background_pixels(png: &[u8]) -> usize {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let bpp = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let background = pixels[0];
    pixels.iter().filter(|p| **p != background).count()
}

#[test]
fn the_digest_charts_are_pngs_with_something_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("history.sqlite");
    build_history(&db);
    let h = History::open(&db).expect("open");
    let period = Period::parse(WEEK, chrono_tz::UTC).expect("period");
    let s = notify::select::select(&h, &period, &SelectOptions::default()).expect("select");
    let local: lettre::message::Mailbox = "envparity@localhost".parse().expect("mailbox");
    let options = notify::MessageOptions {
        base_url: Some("https://parity.example.com/".into()),
        charts: 2,
        date: nov(23),
        from: local.clone(),
        to: vec![local],
        cc: Vec::new(),
    };
    let digest = notify::message::build(&h, &s, &options).expect("build");
    assert_eq!(digest.images.len(), 2, "two charts asked for");
    for image in &digest.images {
        assert_eq!(png_size(&image.png), notify::message::CHART_SIZE);
        let drawn = non_background_pixels(&image.png);
        let total = (image.width * image.height) as usize;
        assert!(
            drawn > total / 50,
            "{}: only {drawn} of {total} pixels drawn",
            image.alt
        );
        assert!(digest.html.contains(&format!("cid:{}", image.cid)));
    }
    assert!(
        digest
            .html
            .contains("https://parity.example.com/services/inventory-service.html")
    );
    assert!(digest.text.contains("inventory-service"));
    // The image of a chart can be looked at: keep it when asked to.
    if let Some(out) = std::env::var_os("ENVPARITY_KEEP_DIGEST_CHART") {
        std::fs::write(out, &digest.images[0].png).expect("write chart");
    }
}

// ------------------------------------------------------------------------------------------ SMTP

/// A Python that has aiosmtpd: `$ENVPARITY_TEST_PYTHON`, `python3` on PATH, or Debian's (where
/// python3-aiosmtpd installs it, when PATH leads to another Python first).
fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let candidates = std::env::var("ENVPARITY_TEST_PYTHON")
            .into_iter()
            .chain(["python3".to_string(), "/usr/bin/python3".to_string()]);
        for python in candidates {
            let ok = Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return python;
            }
        }
        panic!("no python3 with aiosmtpd: install python3-aiosmtpd (apt) or aiosmtpd (pip)");
    })
}

/// A test SMTP server process, killed on drop.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    maildir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// `python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR`.
    pub(crate) fn mailbox(dir: &Path) -> Smtp {
        Smtp::mailbox_on(dir, free_port())
    }

    /// [`Smtp::mailbox`] on a given port (a server that comes up where a client already points).
    pub(crate) fn mailbox_on(dir: &Path, port: u16) -> Smtp {
        let maildir = dir.join("maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m aiosmtpd (install python3-aiosmtpd)");
        Smtp::ready(child, port, maildir)
    }

    /// tests/support/smtp_server.py with extra arguments.
    fn script(dir: &Path, extra: &[&str]) -> Smtp {
        Smtp::script_on(dir, free_port(), extra)
    }

    /// [`Smtp::script`] on a given port (the same server restarted with other options).
    fn script_on(dir: &Path, port: u16, extra: &[&str]) -> Smtp {
        let maildir = dir.join("maildir");
        let child = Command::new(python())
            .arg(root().join("tests/support/smtp_server.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--maildir")
            .arg(&maildir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tests/support/smtp_server.py");
        Smtp::ready(child, port, maildir)
    }

    fn ready(child: Child, port: u16, maildir: PathBuf) -> Smtp {
        let deadline = Instant::now() + StdDuration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "SMTP server on {port} not up");
            std::thread::sleep(StdDuration::from_millis(50));
        }
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Every message received, oldest first.
    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir.join(d)).ok())
            .flatten()
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }
}

/// A state directory with the week's history and a config.toml with these `[smtp]` lines.
fn setup(dir: &Path, smtp: &str) -> PathBuf {
    build_history(&dir.join("state/history.sqlite"));
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\ndir = \"state\"\n\n[report]\nbase_url = \"https://parity.example.com\"\n\n\
             [digest]\ntimezone = \"UTC\"\n\n[smtp]\n{smtp}"
        ),
    )
    .expect("write config");
    config
}

fn digest(dir: &Path, args: &[&str]) -> Output {
    crate::support::command()
        .arg("digest")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .env("DIGEST_TEST_SMTP_PASSWORD", PASSWORD)
        .output()
        .expect("run envparity digest")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn events(dir: &Path, kind: EventKind) -> Vec<envparity::history::Event> {
    let h = History::open(&dir.join("state/history.sqlite")).expect("open");
    h.events(DateTime::UNIX_EPOCH, Some(kind))
        .expect("events")
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// Checks a received digest: multipart/alternative with text and HTML, PNGs referenced by `cid:` that
/// decode at the chart size, the subject naming the drifting services. Returns the Message-ID.
fn check_received(raw: &[u8]) -> String {
    let msg = MessageParser::default().parse(raw).expect("parse message");
    assert_eq!(
        msg.subject(),
        Some(
            "envparity: 3 services drifting apart — inventory-service, payments-service, search-service"
        )
    );
    let ct = msg.content_type().expect("content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = msg.body_text(0).expect("text part");
    assert!(text.contains("DRIFTING APART"), "{text}");
    assert!(text.contains("https://parity.example.com/services/payments-service.html"));
    let html = msg.body_html(0).expect("html part");
    assert!(html.contains("<table"), "{html}");
    let mut images = 0;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        if ct.ctype() != "image" {
            continue;
        }
        assert_eq!(ct.subtype(), Some("png"));
        let cid = part.content_id().expect("Content-ID");
        assert!(
            html.contains(&format!("cid:{cid}")),
            "cid:{cid} not referenced"
        );
        let (PartType::InlineBinary(bytes) | PartType::Binary(bytes)) = &part.body else {
            panic!("image part is not binary: {:?}", part.body);
        };
        assert_eq!(png_size(bytes), (640, 320));
        images += 1;
    }
    assert_eq!(images, 3, "one chart per drifting service");
    assert!(msg.date().is_some(), "Date header");
    let id = msg.message_id().expect("Message-ID").to_string();
    assert!(
        !String::from_utf8_lossy(raw).contains(PASSWORD),
        "password in the message"
    );
    id
}

#[test]
fn digest_is_sent_once_per_period_over_smtp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Smtp::mailbox(dir.path());
    setup(
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"envparity <envparity@example.com>\"\n\
             to = [\"platform@example.com\"]\ncc = [\"lead@example.com\"]\n",
            server.port
        ),
    );
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let received = server.messages();
    assert_eq!(received.len(), 2, "one copy per recipient (to + cc)");
    let id = check_received(&received[0]);
    let sent = events(dir.path(), EventKind::DigestSent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].data["period"], WEEK);
    assert_eq!(
        sent[0].data["recipients"],
        serde_json::json!(["platform@example.com", "lead@example.com"])
    );
    assert_eq!(sent[0].data["message_id"], format!("<{id}>"));

    // A second run in the same period sends nothing.
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("already sent"), "{}", text(&out));
    assert_eq!(server.messages().len(), 2);
    assert_eq!(events(dir.path(), EventKind::DigestSent).len(), 1);

    // --force sends again, with a new Message-ID.
    let out = digest(dir.path(), &["--period", WEEK, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let received = server.messages();
    assert_eq!(received.len(), 4);
    let sent = events(dir.path(), EventKind::DigestSent);
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].data["message_id"], sent[1].data["message_id"]);
}

#[test]
fn dry_run_writes_the_message_without_smtp_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_history(&dir.path().join("state/history.sqlite"));
    std::fs::write(
        dir.path().join("config.toml"),
        "[state]\ndir = \"state\"\n\n[report]\nbase_url = \"https://parity.example.com\"\n",
    )
    .expect("config");
    let eml = dir.path().join("digest.eml");
    let out = digest(
        dir.path(),
        &[
            "--period",
            WEEK,
            "--dry-run",
            "--out",
            eml.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_received(&std::fs::read(&eml).expect("eml"));
    // To stdout too, and nothing is recorded.
    let out = digest(dir.path(), &["--period", WEEK, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_received(&out.stdout);
    assert!(events(dir.path(), EventKind::DigestSent).is_empty());
    // Sending without [smtp] is a config error, not a recorded failure.
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(events(dir.path(), EventKind::DigestFailed).is_empty());
}

/// A throwaway CA and a leaf for IP 127.0.0.1 signed by it (rustls refuses a self-signed end entity).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.pem");
    let key = dir.join("leaf.key");
    let csr = dir.join("leaf.csr");
    let leaf = dir.join("leaf.pem");
    let ext = dir.join("leaf.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &Path| p.to_str().expect("utf-8").to_string();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=envparity test CA",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&leaf),
    ]);
    (ca, leaf, key)
}

#[test]
fn digest_logs_in_over_starttls_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, key) = make_certs(dir.path());
    let auth = format!("digest-bot:{PASSWORD}");
    let server = Smtp::script(
        dir.path(),
        &[
            "--tls-cert",
            leaf.to_str().expect("utf-8"),
            "--tls-key",
            key.to_str().expect("utf-8"),
            "--auth",
            &auth,
        ],
    );
    let smtp = |password_line: &str, ca_line: &str| {
        format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\n{ca_line}username = \"digest-bot\"\n{password_line}\
             from = \"envparity@example.com\"\nto = [\"platform@example.com\"]\ntimeout_seconds = 10\n",
            server.port
        )
    };
    let ca_line = format!("ca_file = \"{}\"\n", ca.display());

    // Without the CA the server's certificate is not trusted: nothing sent, the failure is recorded.
    setup(
        dir.path(),
        &smtp("password_env = \"DIGEST_TEST_SMTP_PASSWORD\"\n", ""),
    );
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(server.messages().is_empty());

    // A wrong password (from a file): refused, and the password is in no error.
    std::fs::write(dir.path().join("password"), "wrong-password\n").expect("password file");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[state]\ndir = \"state\"\n\n[report]\nbase_url = \"https://parity.example.com\"\n\n[smtp]\n{}",
            smtp("password_file = \"password\"\n", &ca_line)
        ),
    )
    .expect("config");
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("wrong-password"), "{}", text(&out));
    assert!(server.messages().is_empty());

    // The right password from the environment, the CA trusted: sent.
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[state]\ndir = \"state\"\n\n[report]\nbase_url = \"https://parity.example.com\"\n\n[smtp]\n{}",
            smtp("password_env = \"DIGEST_TEST_SMTP_PASSWORD\"\n", &ca_line)
        ),
    )
    .expect("config");
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let received = server.messages();
    assert_eq!(received.len(), 1);
    check_received(&received[0]);
    let failed = events(dir.path(), EventKind::DigestFailed);
    assert_eq!(failed.len(), 2);
    for e in &failed {
        let json = serde_json::to_string(e).expect("json");
        assert!(
            !json.contains(PASSWORD) && !json.contains("wrong-password"),
            "{json}"
        );
    }
    assert_eq!(events(dir.path(), EventKind::DigestSent).len(), 1);
}

#[test]
fn a_server_that_is_down_is_recorded_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let smtp = format!(
        "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"envparity@example.com\"\n\
         to = [\"platform@example.com\"]\ntimeout_seconds = 5\n"
    );
    setup(dir.path(), &smtp);
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the next run retries"),
        "{}",
        text(&out)
    );
    assert_eq!(events(dir.path(), EventKind::DigestFailed).len(), 1);
    assert!(events(dir.path(), EventKind::DigestSent).is_empty());

    // The daemon's view: not sent yet, one failure recorded (its job backoff retries it).
    let h = History::open(&dir.path().join("state/history.sqlite")).expect("open");
    let period = Period::parse(WEEK, chrono_tz::UTC).expect("period");
    let status = notify::status(&h, &period).expect("status");
    assert!(status.sent.is_none());
    assert_eq!(status.failures.len(), 1);
    drop(h);

    // The server comes up on that port: the next run sends.
    let _server = Smtp::mailbox_on(dir.path(), port);
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(_server.messages().len(), 1);
    let h = History::open(&dir.path().join("state/history.sqlite")).expect("open");
    let sent = notify::status(&h, &period).expect("status").sent;
    assert!(sent.is_some(), "sent once the server is up");
}

#[test]
fn a_refused_recipient_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Smtp::script(dir.path(), &["--reject", "gone@example.com"]);
    setup(
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"envparity@example.com\"\n\
             to = [\"gone@example.com\", \"platform@example.com\"]\n",
            server.port
        ),
    );
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("gone@example.com was not accepted"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("550"), "{}", text(&out));
    assert_eq!(server.messages().len(), 1);
    let sent = events(dir.path(), EventKind::DigestSent);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].data["recipients"],
        serde_json::json!(["platform@example.com"])
    );
    assert_eq!(sent[0].data["rejected"][0]["address"], "gone@example.com");
}

#[test]
fn a_connection_dropped_mid_data_is_a_failure_to_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Smtp::script(dir.path(), &["--drop-data"]);
    setup(
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"envparity@example.com\"\n\
             to = [\"platform@example.com\"]\ntimeout_seconds = 10\n",
            server.port
        ),
    );
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(server.messages().is_empty());
    assert_eq!(events(dir.path(), EventKind::DigestFailed).len(), 1);
    assert!(events(dir.path(), EventKind::DigestSent).is_empty());
}

#[test]
fn a_week_before_anything_was_scanned_gets_no_digest_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Smtp::mailbox(dir.path());
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[state]\ndir = \"state\"\n[digest]\ntimezone = \"UTC\"\n[smtp]\nhost = \"127.0.0.1\"\n\
             port = {}\ntls = \"none\"\nfrom = \"envparity@example.com\"\nto = [\"platform@example.com\"]\n",
            server.port
        ),
    )
    .expect("config");
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing was scanned"), "{}", text(&out));
    assert!(server.messages().is_empty());
    assert!(events(dir.path(), EventKind::DigestSent).is_empty());

    let out = digest(dir.path(), &["--period", WEEK, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.messages().len(), 1, "{}", text(&out));
}

// ------------------------------------------------------------------------------ sent once, locks

/// (envelope recipient, Message-ID) of every message the server stored, oldest first: both servers write
/// the envelope recipients into an `X-RcptTo` header.
fn copies(server: &Smtp) -> Vec<(String, String)> {
    server
        .messages()
        .iter()
        .map(|raw| {
            let msg = MessageParser::default().parse(raw).expect("parse message");
            let rcpt = msg
                .header_raw("X-RcptTo")
                .expect("X-RcptTo header")
                .trim()
                .to_string();
            let id = msg.message_id().expect("Message-ID").to_string();
            (rcpt, format!("<{id}>"))
        })
        .collect()
}

fn copy_state(dir: &Path) -> notify::Status {
    let h = History::open(&dir.join("state/history.sqlite")).expect("open");
    let period = Period::parse(WEEK, chrono_tz::UTC).expect("period");
    notify::status(&h, &period).expect("status")
}

fn round(dir: &Path) -> Vec<envparity::history::DigestCopy> {
    let h = History::open(&dir.join("state/history.sqlite")).expect("open");
    h.digest_round(WEEK).expect("round")
}

/// `envparity digest --period WEEK` started in the background with fail points armed.
#[cfg(feature = "failpoints")]
fn spawn_digest(dir: &Path, failpoints: &str) -> Child {
    crate::support::command()
        .args(["digest", "--period", WEEK, "--config"])
        .arg(dir.join("config.toml"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .env("FAILPOINTS", failpoints)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start envparity digest")
}

/// Waits up to 60 s for `ready`.
#[cfg(feature = "failpoints")]
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(StdDuration::from_millis(50));
    }
}

fn two_recipients(port: u16) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"envparity@example.com\"\n\
         to = [\"platform@example.com\"]\ncc = [\"lead@example.com\"]\ntimeout_seconds = 10\n"
    )
}

#[test]
fn a_retry_sends_only_the_copies_not_confirmed_with_the_same_message_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = Smtp::script_on(dir.path(), port, &["--defer", "lead@example.com"]);
    setup(dir.path(), &two_recipients(port));

    // lead's mailbox is busy (450): platform gets its copy, lead's stays pending; exit 1, retried.
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not sent to everyone"),
        "{}",
        text(&out)
    );
    let first = copies(&server);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "platform@example.com");
    let id = first[0].1.clone();
    let status = copy_state(dir.path());
    assert!(status.sent.is_none(), "{status:?}");
    assert_eq!(status.pending, ["lead@example.com"]);
    assert_eq!(status.failures.len(), 1);
    let failed = events(dir.path(), EventKind::DigestFailed);
    assert_eq!(
        failed[0].data["recipients"],
        serde_json::json!(["lead@example.com"])
    );
    drop(server);

    // The mailbox is free again: only lead's copy goes out, with the same Message-ID.
    let server = Smtp::script_on(dir.path(), port, &[]);
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        copies(&server),
        [
            ("platform@example.com".to_string(), id.clone()),
            ("lead@example.com".to_string(), id.clone()),
        ]
    );
    let status = copy_state(dir.path());
    let sent = status.sent.clone().expect("sent");
    assert_eq!(sent.message_id, id);
    assert_eq!(
        sent.recipients,
        ["platform@example.com", "lead@example.com"]
    );
    assert!(
        status.pending.is_empty() && status.failures.is_empty(),
        "{status:?}"
    );
    // Both attempts are in the audit trail, each with what it delivered.
    let sent = events(dir.path(), EventKind::DigestSent);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].data["recipients"],
        serde_json::json!(["lead@example.com"])
    );
    assert_eq!(sent[1].data["message_id"], id.as_str());

    // Nothing is left to send.
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("already sent"), "{}", text(&out));
    assert_eq!(copies(&server).len(), 2);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_digest_killed_after_the_server_accepted_a_copy_resends_only_that_copy_with_the_same_message_id()
 {
    #[cfg(feature = "failpoints")]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Smtp::mailbox(dir.path());
        setup(dir.path(), &two_recipients(server.port));

        // Killed (SIGKILL) after the server took platform's copy, before the history confirmed it.
        let mut child = spawn_digest(
            dir.path(),
            &format!("{}=sleep(60000)", notify::AFTER_ACCEPT),
        );
        wait_for("the first copy to arrive", || !server.messages().is_empty());
        child.kill().expect("kill -9 the digest");
        let status = child.wait().expect("wait");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(9), "killed, not exited: {status:?}");
        }
        let first = copies(&server);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0, "platform@example.com");
        let id = first[0].1.clone();
        let round = round(dir.path());
        assert_eq!(round.len(), 2);
        assert!(round.iter().all(|c| c.is_pending() && c.message_id == id));

        // The rerun sends both pending copies, with the same Message-ID: platform's arrives again, as
        // the same message (mail clients fold it).
        let out = digest(dir.path(), &["--period", WEEK]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let all = copies(&server);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().all(|(_, m)| *m == id), "{all:?}");
        let platform = all.iter().filter(|(r, _)| r == "platform@example.com");
        assert_eq!(platform.count(), 2);
        let lead = all.iter().filter(|(r, _)| r == "lead@example.com");
        assert_eq!(lead.count(), 1);

        // A confirmed send is never repeated.
        let out = digest(dir.path(), &["--period", WEEK]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(text(&out).contains("already sent"), "{}", text(&out));
        assert_eq!(copies(&server).len(), 3);
        assert_eq!(copy_state(dir.path()).sent.expect("sent").message_id, id);
    }
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_digest_killed_before_sending_sends_each_copy_once_on_the_rerun() {
    #[cfg(feature = "failpoints")]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Smtp::mailbox(dir.path());
        setup(dir.path(), &two_recipients(server.port));

        // Killed with the pending copies written and nothing sent.
        let mut child = spawn_digest(dir.path(), &format!("{}=sleep(60000)", notify::BEFORE_SEND));
        wait_for("the pending copies", || {
            copy_state(dir.path()).pending.len() == 2
        });
        child.kill().expect("kill -9 the digest");
        let _ = child.wait();
        assert!(server.messages().is_empty());
        let pending = round(dir.path());
        let id = pending[0].message_id.clone();
        assert!(id.starts_with("<envparity-digest.2026-W47."), "{id}");

        let out = digest(dir.path(), &["--period", WEEK]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(
            copies(&server),
            [
                ("platform@example.com".to_string(), id.clone()),
                ("lead@example.com".to_string(), id.clone()),
            ]
        );
        let out = digest(dir.path(), &["--period", WEEK]);
        assert!(text(&out).contains("already sent"), "{}", text(&out));
        assert_eq!(server.messages().len(), 2);
    }
}

#[test]
fn a_digest_waits_for_the_digest_job_lock_and_gives_up_after_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Smtp::mailbox(dir.path());
    let config = setup(
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"envparity@example.com\"\n\
             to = [\"platform@example.com\"]\n",
            server.port
        ),
    );
    let original = std::fs::read_to_string(&config).expect("config");
    let with_timeout = |seconds: u64| {
        let text = original.replace(
            "dir = \"state\"\n",
            &format!("dir = \"state\"\nlock_timeout_seconds = {seconds}\n"),
        );
        std::fs::write(&config, text).expect("config");
    };

    // Another process (this one) holds the digest job's lock, as a daemon sending it would.
    let locks = dir.path().join("state/locks");
    std::fs::create_dir_all(&locks).expect("locks dir");
    let path = locks.join("digest.lock");
    let mut held = std::fs::File::create(&path).expect("lock file");
    held.lock().expect("take the lock");
    use std::io::Write as _;
    write!(held, "{}", std::process::id()).expect("pid");

    with_timeout(1);
    let started = Instant::now();
    let out = digest(dir.path(), &["--period", WEEK]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(started.elapsed() >= StdDuration::from_secs(1), "it waited");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`digest`"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(err.contains("lock_timeout_seconds"), "{err}");
    assert!(server.messages().is_empty());
    assert!(round(dir.path()).is_empty(), "nothing was started");
    assert!(events(dir.path(), EventKind::DigestFailed).is_empty());

    // Released while the digest waits: it goes on and sends.
    with_timeout(30);
    let mut child = crate::support::command()
        .args(["digest", "--period", WEEK, "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("CI", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start envparity digest");
    std::thread::sleep(StdDuration::from_millis(1500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the digest must wait for the lock"
    );
    assert!(server.messages().is_empty());
    drop(held);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.messages().len(), 1);
}
