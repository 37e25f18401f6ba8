//! The digest email: subject, a plain-text and an HTML body (askama: `templates/digest.txt`,
//! `templates/digest.html`), the ratio charts of the services that drifted most as inline PNG images, and
//! the MIME message lettre sends.
//!
//! The MIME tree is `multipart/alternative` { `text/plain`, `multipart/related` { `text/html`, `image/png`… } }:
//! clients that show HTML resolve the `cid:` references inside the related part, the others show the text.

use std::collections::BTreeSet;

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::NotifyError;
use super::select::Selection;
use crate::history::{History, Lifecycle};
use crate::metrics::MetricKind;
use crate::report::charts::{self, Chart};
use crate::report::service_charts::{ChartKind, service_charts};
use crate::report::{Drift, slug};

/// Size of the inline charts: readable on a phone, sharp enough on a desktop.
pub const CHART_SIZE: (u32, u32) = (640, 320);

/// How to build the message.
#[derive(Debug, Clone)]
pub struct MessageOptions {
    /// The report site, for links (`report.base_url`).
    pub base_url: Option<String>,
    /// At most this many inline charts.
    pub charts: usize,
    /// The Date header.
    pub date: DateTime<Utc>,
    /// Sender.
    pub from: Mailbox,
    /// Recipients.
    pub to: Vec<Mailbox>,
    /// Copy recipients.
    pub cc: Vec<Mailbox>,
}

/// A chart as an inline image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineImage {
    /// Content-ID without angle brackets (the HTML says `cid:<this>`).
    pub cid: String,
    /// PNG bytes.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// What it shows.
    pub alt: String,
}

/// The rendered digest, before it becomes a MIME message.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// Inline charts.
    pub images: Vec<InlineImage>,
    /// The Message-ID (with angle brackets).
    pub message_id: String,
}

/// `envparity: 3 services drifting apart — a, b, c`, or what else the week had.
pub fn subject(selection: &Selection) -> String {
    let services = selection.drifting_services();
    let week = selection.period.label();
    match services.len() {
        0 if selection.is_quiet() => format!("envparity: all quiet in {week}"),
        0 => format!(
            "envparity: no environments drifting apart in {week} ({} opened, {} resolved)",
            selection.opened.len(),
            selection.resolved.len()
        ),
        1 => format!("envparity: 1 service drifting apart — {}", services[0]),
        n => format!(
            "envparity: {n} services drifting apart — {}",
            services.join(", ")
        ),
    }
}

#[derive(Clone)]
struct FindingRow {
    service: String,
    service_href: String,
    severity: &'static str,
    rule: String,
    object: String,
    field: String,
    message: String,
    age: String,
    since: String,
    commit: String,
    author: String,
}

struct DriftRow {
    service: String,
    service_href: String,
    what: String,
    envs: String,
    before: String,
    after: String,
}

struct GrowthRow {
    service: String,
    service_href: String,
    before: usize,
    after: usize,
}

struct EventRow {
    time: String,
    service: String,
    env: String,
    message: String,
}

struct ImageRef {
    cid: String,
    alt: String,
    width: u32,
    height: u32,
}

/// What both templates show.
struct Body {
    period: String,
    summary: String,
    report: Option<String>,
    widened: Vec<DriftRow>,
    growing: Vec<GrowthRow>,
    opened: Vec<FindingRow>,
    resolved: Vec<FindingRow>,
    live: Vec<FindingRow>,
    self_heals: Vec<EventRow>,
    oldest: Vec<FindingRow>,
    /// Opened, resolved and live, titled (the HTML shows them alike).
    sections: Vec<(&'static str, Vec<FindingRow>)>,
    open_total: usize,
    images: Vec<ImageRef>,
}

#[derive(Template)]
#[template(path = "digest.txt")]
struct TextBody<'a> {
    b: &'a Body,
}

#[derive(Template)]
#[template(path = "digest.html")]
struct HtmlBody<'a> {
    b: &'a Body,
    subject: &'a str,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn short(id: &str) -> String {
    id.get(..10).unwrap_or(id).to_string()
}

fn ratio(v: f64) -> String {
    format!("{v:.2}×")
}

fn service_href(base: Option<&str>, service: &str) -> String {
    base.map(|b| {
        format!(
            "{}/services/{}.html",
            b.trim_end_matches('/'),
            slug(service)
        )
    })
    .unwrap_or_default()
}

fn finding_row(l: &Lifecycle, now: DateTime<Utc>, base: Option<&str>) -> FindingRow {
    let f = &l.finding;
    FindingRow {
        service: f.service.clone(),
        service_href: service_href(base, &f.service),
        severity: f.severity.as_str(),
        rule: f.rule.to_string(),
        object: match &f.container {
            Some(c) => format!("{}/{} [{c}]", f.kind, f.name),
            None => format!("{}/{}", f.kind, f.name),
        },
        field: f.field.clone(),
        message: f.message.clone(),
        age: match l.age_days(now) {
            0 => "today".into(),
            1 => "1 day".into(),
            n => format!("{n} days"),
        },
        since: day(l.opened.when()),
        commit: l.opened.commit.as_deref().map(short).unwrap_or_default(),
        author: l.opened.author.clone().unwrap_or_default(),
    }
}

/// The ratio chart behind a [`Drift`], drawn from the service's metric series.
/// Only points before `end` (the period's end): a past week's digest shows what was known then.
fn drift_chart(
    history: &History,
    d: &Drift,
    end: DateTime<Utc>,
) -> Result<Option<Chart>, NotifyError> {
    let points = history.metric_series(&d.service, None)?;
    let env_order = history
        .service_views()?
        .into_iter()
        .find(|v| v.service == d.service)
        .map(|v| v.envs)
        .unwrap_or_default();
    let points: Vec<_> = points
        .into_iter()
        .filter(|p| p.metric.kind == MetricKind::LimitRatio && p.time < end)
        .collect();
    Ok(service_charts(&slug(&d.service), &env_order, &points)
        .into_iter()
        .find(|c| {
            c.kind == ChartKind::LimitRatio
                && format!(
                    "{} [{}] {}",
                    c.workload,
                    c.container.as_deref().unwrap_or_default(),
                    c.resource
                ) == d.what
        })
        .map(|mut c| {
            c.chart.title = format!("{} — {}", d.service, c.chart.title);
            c.chart
        }))
}

/// Renders the digest of a selection.
#[tracing::instrument(skip_all, fields(period = %selection.period.label()))]
pub fn build(
    history: &History,
    selection: &Selection,
    options: &MessageOptions,
) -> Result<Digest, NotifyError> {
    let base = options.base_url.as_deref();
    let now = selection.as_of();
    let domain = options.from.email.domain().to_string();
    let nonce = options.date.timestamp_nanos_opt().unwrap_or_default();
    let message_id = format!(
        "<envparity-digest.{}.{nonce:x}@{domain}>",
        selection.period.label()
    );

    // The charts of the ratios that widened most, one per distinct limit.
    let mut images = Vec::new();
    let mut charted: BTreeSet<(String, String)> = BTreeSet::new();
    for d in &selection.widened {
        if images.len() >= options.charts {
            break;
        }
        let key = (d.service.clone(), d.what.clone());
        if charted.contains(&key) {
            continue;
        }
        let Some(chart) = drift_chart(history, d, now)? else {
            continue;
        };
        let (width, height) = CHART_SIZE;
        let png = charts::png(&chart, width, height)?;
        let cid = format!(
            "chart{}.{}.{}@envparity",
            images.len() + 1,
            selection.period.label(),
            nonce
        );
        charted.insert(key);
        images.push(InlineImage {
            cid,
            png,
            width,
            height,
            alt: chart.title.clone(),
        });
    }

    let opened = rows(&selection.opened, now, base);
    let resolved = rows(&selection.resolved, now, base);
    let live = rows(&selection.live, now, base);
    let body = Body {
        sections: vec![
            ("Opened this week", opened.clone()),
            ("Resolved this week", resolved.clone()),
            ("Changed in a cluster", live.clone()),
        ],
        period: selection.period.to_string(),
        summary: summary(selection),
        report: base.map(|b| format!("{}/index.html", b.trim_end_matches('/'))),
        widened: selection
            .widened
            .iter()
            .map(|d| DriftRow {
                service: d.service.clone(),
                service_href: service_href(base, &d.service),
                what: d.what.clone(),
                envs: d.envs.clone(),
                before: ratio(d.before),
                after: ratio(d.after),
            })
            .collect(),
        growing: selection
            .growing
            .iter()
            .map(|g| GrowthRow {
                service: g.service.clone(),
                service_href: service_href(base, &g.service),
                before: g.before,
                after: g.after,
            })
            .collect(),
        opened,
        resolved,
        live,
        self_heals: selection
            .self_heals
            .iter()
            .map(|e| EventRow {
                time: e.time.format("%Y-%m-%d %H:%M UTC").to_string(),
                service: e.service.clone().unwrap_or_default(),
                env: e.env.clone().unwrap_or_default(),
                message: e.message.clone(),
            })
            .collect(),
        oldest: rows(&selection.oldest, now, base),
        open_total: selection.open_total,
        images: images
            .iter()
            .map(|i| ImageRef {
                cid: i.cid.clone(),
                alt: i.alt.clone(),
                width: i.width,
                height: i.height,
            })
            .collect(),
    };
    let subject = subject(selection);
    let text = TextBody { b: &body }
        .render()
        .map_err(|source| NotifyError::Template {
            part: "text",
            source,
        })?;
    let html = HtmlBody {
        b: &body,
        subject: &subject,
    }
    .render()
    .map_err(|source| NotifyError::Template {
        part: "html",
        source,
    })?;
    Ok(Digest {
        subject,
        text,
        html,
        images,
        message_id,
    })
}

fn rows(ls: &[Lifecycle], now: DateTime<Utc>, base: Option<&str>) -> Vec<FindingRow> {
    ls.iter().map(|l| finding_row(l, now, base)).collect()
}

fn summary(s: &Selection) -> String {
    if s.is_quiet() {
        return format!(
            "All quiet: nothing opened, resolved or drifted further apart. {} finding(s) still open.",
            s.open_total
        );
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    format!(
        "{} widened, {} opened, {} resolved, {} still open.",
        plural(s.widened.len(), "ratio", "ratios"),
        plural(s.opened.len(), "finding", "findings"),
        s.resolved.len(),
        s.open_total
    )
}

impl Digest {
    /// The MIME message: `multipart/alternative` with the text and the HTML (+ inline PNGs) parts.
    pub fn to_message(&self, options: &MessageOptions) -> Result<Message, NotifyError> {
        let mut builder = Message::builder()
            .from(options.from.clone())
            .subject(self.subject.clone())
            .date(options.date.into())
            .message_id(Some(self.message_id.clone()))
            .user_agent(format!("envparity {}", env!("CARGO_PKG_VERSION")));
        for to in &options.to {
            builder = builder.to(to.clone());
        }
        for cc in &options.cc {
            builder = builder.cc(cc.clone());
        }
        let png = ContentType::parse("image/png")
            .map_err(|_| NotifyError::ContentType { value: "image/png" })?;
        let mut related = MultiPart::related().singlepart(SinglePart::html(self.html.clone()));
        for image in &self.images {
            related = related.singlepart(
                Attachment::new_inline(image.cid.clone()).body(image.png.clone(), png.clone()),
            );
        }
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(self.text.clone()))
            .multipart(related);
        builder
            .multipart(alternative)
            .map_err(|source| NotifyError::Build { source })
    }
}
