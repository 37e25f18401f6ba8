//! The weekly email digest: which environments drifted apart in a period ([`select`]), the email that
//! says so ([`message`]), sending it over SMTP ([`send`]), and the bookkeeping that sends it once per period.
//!
//! A period is an ISO week in the configured time zone ([`Period`]). Sending it once, also across crashes
//! and restarts: before anything goes out, the history gets a pending copy per recipient (To and Cc) of the
//! period's *round*, all carrying the round's one Message-ID (`history::DigestCopy`); each copy goes out in
//! its own SMTP transaction and is confirmed in the history as soon as the server accepted it. A retry (the
//! daemon's job backoff, or `envparity digest` again) sends only the copies still pending, with the same
//! Message-ID and Date, so a copy accepted just before a crash arrives at most twice as the same message,
//! which mail clients fold into one. A round whose copies are all confirmed (or refused for good) is sent;
//! `--force` starts a new round with a new Message-ID.
//!
//! Each attempt is also recorded as an event, the audit trail the report shows: `digest-sent` (period,
//! the recipients accepted in that attempt, Message-ID) and `digest-failed` (period, the recipients still
//! pending, the error without credentials). [`status`] reads both back.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::codes::EventKind;
use crate::history::{CopyState, DigestCopy, Event, History, HistoryError};

pub mod message;
pub mod select;
pub mod send;

pub use message::{Digest, InlineImage, MessageOptions};
pub use select::{Growth, SelectOptions, Selection};
pub use send::{Attempt, Delivery, Mailer, Rejected};

/// Fail point (exists only in builds with the `failpoints` feature): armed with `sleep(…)` or `pause`
/// (`FAILPOINTS=digest-before-send=sleep(30000)`), the digest stops after the pending copies are in the
/// history and before the first is sent (the crash test kills the process there).
pub const BEFORE_SEND: &str = "digest-before-send";

/// Fail point (exists only in builds with the `failpoints` feature): the digest stops right after the server
/// accepted a copy and before the history confirms it (the crash test kills the process there: the copy is
/// sent again, with the same Message-ID).
pub const AFTER_ACCEPT: &str = "digest-after-accept";

/// Why a digest could not be selected, built or sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Reading or writing the history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// `--period` is not an ISO week.
    #[error("`{input}` is not an ISO week like 2026-W47")]
    BadPeriod {
        /// What was given.
        input: String,
    },
    /// A template failed to render.
    #[error("rendering the digest's {part}: {source}")]
    Template {
        /// `text` or `html`.
        part: &'static str,
        /// askama's error.
        source: askama::Error,
    },
    /// A chart failed to draw.
    #[error(transparent)]
    Chart(#[from] crate::report::charts::ChartError),
    /// An address in config does not parse.
    #[error("`{address}` is not an email address: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// lettre refused to assemble the message.
    #[error("assembling the digest email: {source}")]
    Build {
        /// lettre's error.
        source: lettre::error::Error,
    },
    /// Sending needs an `[smtp]` section.
    #[error("no [smtp] section in config: configure the mail server, or use --dry-run")]
    NoSmtp,
    /// A MIME content type did not parse (a bug).
    #[error("the content type `{value}` does not parse")]
    ContentType {
        /// The content type.
        value: &'static str,
    },
    /// The password could not be read from where config says it is (the value is never shown).
    #[error("the SMTP password: {reason}")]
    Password {
        /// Which variable or file, and what went wrong.
        reason: String,
    },
    /// The CA file could not be read boundedly (the error names it).
    #[error("the SMTP CA file: {source}")]
    CaFileUnreadable {
        /// Why: missing, unreadable, not a regular file, a link out of its directory, too large.
        source: crate::input::ReadError,
    },
    /// The CA file could not be parsed.
    #[error("the SMTP CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// TLS parameters could not be set up.
    #[error("setting up TLS for {host}: {reason}")]
    Tls {
        /// The mail server.
        host: String,
        /// Why.
        reason: String,
    },
    /// No recipient accepted the message (every per-recipient error, credentials removed).
    #[error("sending the digest through {server} failed: {}", errors.join("; "))]
    Send {
        /// `host:port`.
        server: String,
        /// What went wrong, per recipient (or once when the server could not be reached).
        errors: Vec<String>,
    },
}

/// One ISO week in a time zone: `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// ISO week-numbering year.
    pub year: i32,
    /// ISO week, 1 ..= 53.
    pub week: u32,
    /// The time zone whose Mondays bound the week.
    pub tz: Tz,
    /// Monday 00:00 in `tz`.
    pub start: DateTime<Utc>,
    /// The next Monday 00:00 in `tz` (exclusive).
    pub end: DateTime<Utc>,
}

impl Period {
    /// ISO week `week` of `year` in `tz`; `None` when the year has no such week.
    pub fn iso_week(year: i32, week: u32, tz: Tz) -> Option<Period> {
        let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        let next = monday.checked_add_signed(Duration::days(7))?;
        Some(Period {
            year,
            week,
            tz,
            start: local_midnight(monday, tz),
            end: local_midnight(next, tz),
        })
    }

    /// Parses `2026-W47` (also `2026W47`, `2026-w47`).
    pub fn parse(input: &str, tz: Tz) -> Result<Period, NotifyError> {
        let bad = || NotifyError::BadPeriod {
            input: input.to_string(),
        };
        let upper = input.trim().to_ascii_uppercase();
        let (year, week) = upper.split_once('W').ok_or_else(bad)?;
        let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        Period::iso_week(year, week, tz).ok_or_else(bad)
    }

    /// The ISO week containing `time` (in `tz`).
    pub fn containing(time: DateTime<Utc>, tz: Tz) -> Period {
        let iso = time.with_timezone(&tz).date_naive().iso_week();
        // Every date's own ISO week exists; the fallback only satisfies the types.
        Period::iso_week(iso.year(), iso.week(), tz).unwrap_or(Period {
            year: iso.year(),
            week: iso.week(),
            tz,
            start: time,
            end: time,
        })
    }

    /// The last complete ISO week before `now` (in `tz`): the default period of `envparity digest`.
    pub fn last_complete(now: DateTime<Utc>, tz: Tz) -> Period {
        let current = Period::containing(now, tz);
        Period::containing(current.start - Duration::hours(1), tz)
    }

    /// `2026-W47`: the period's name in history events and on the command line.
    pub fn label(&self) -> String {
        format!("{:04}-W{:02}", self.year, self.week)
    }

    /// Whether `time` lies in the period.
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time < self.end
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = |t: DateTime<Utc>| t.with_timezone(&self.tz).format("%a %-d %b %Y");
        write!(
            f,
            "{} ({} – {}, {})",
            self.label(),
            local(self.start),
            local(self.end - Duration::seconds(1)),
            self.tz.name()
        )
    }
}

/// 00:00 of `date` in `tz`, as UTC. Where midnight does not exist (a daylight-saving gap), the first
/// instant of the day.
fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_time(NaiveTime::MIN);
    for _ in 0..=4 {
        if let Some(local) = tz.from_local_datetime(&t).earliest() {
            return local.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    date.and_time(NaiveTime::MIN).and_utc()
}

/// A digest that was sent, as the history recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentRecord {
    /// When.
    pub time: DateTime<Utc>,
    /// Its Message-ID (with angle brackets).
    pub message_id: String,
    /// Who accepted it.
    pub recipients: Vec<String>,
}

/// What the history says about one period's digest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Status {
    /// The newest round, when every copy of it is confirmed (or refused for good): the period is sent.
    /// (For a period sent before the per-copy bookkeeping existed: the latest `digest-sent` event.)
    pub sent: Option<SentRecord>,
    /// Failed attempts after the latest successful send (all of them when none succeeded), oldest first.
    pub failures: Vec<DateTime<Utc>>,
    /// Recipients of the newest round whose copy is not confirmed: a retry sends them, with the round's
    /// Message-ID.
    pub pending: Vec<String>,
}

/// Reads `period`'s copies and its `digest-sent` and `digest-failed` events from the history.
pub fn status(history: &History, period: &Period) -> Result<Status, NotifyError> {
    let mut out = events_status(history, period)?;
    let round = history.digest_round(&period.label())?;
    if round.is_empty() {
        return Ok(out);
    }
    out.pending = pending_of(&round);
    out.sent = round_sent(&round);
    if let Some(sent) = &out.sent {
        out.failures.retain(|t| *t > sent.time);
    }
    Ok(out)
}

/// The round as a completed send, when no copy of it is pending.
fn round_sent(round: &[DigestCopy]) -> Option<SentRecord> {
    let first = round.first()?;
    let mut time = first.created_at;
    let mut recipients = Vec::new();
    for copy in round {
        match &copy.state {
            CopyState::Pending => return None,
            CopyState::Sent { at } => {
                time = time.max(*at);
                recipients.push(copy.recipient.clone());
            }
            CopyState::Refused { at, .. } => time = time.max(*at),
        }
    }
    Some(SentRecord {
        time,
        message_id: first.message_id.clone(),
        recipients,
    })
}

/// What the events alone say (all a period sent before `digest_copies` existed has).
fn events_status(history: &History, period: &Period) -> Result<Status, NotifyError> {
    let mut out = Status::default();
    // Events are recorded when they happen, after the period: reading from its start finds them all.
    for e in history.events(period.start, None)? {
        let e = e.event;
        if e.data.get("period").and_then(|p| p.as_str()) != Some(period.label().as_str()) {
            continue;
        }
        match e.kind {
            EventKind::DigestSent => {
                let text = |key: &str| {
                    e.data
                        .get(key)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                out.sent = Some(SentRecord {
                    time: e.time,
                    message_id: text("message_id"),
                    recipients: e
                        .data
                        .get("recipients")
                        .and_then(|v| v.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
                out.failures.clear();
            }
            EventKind::DigestFailed => out.failures.push(e.time),
            _ => {}
        }
    }
    Ok(out)
}

/// Records a successful send.
pub fn record_sent(
    history: &mut History,
    period: &Period,
    delivery: &Delivery,
    forced: bool,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let accepted = delivery.accepted.join(", ");
    let mut message = format!(
        "weekly digest {} sent to {accepted} ({})",
        period.label(),
        delivery.message_id
    );
    if !delivery.rejected.is_empty() {
        message.push_str(&format!(
            "; {} recipient(s) rejected",
            delivery.rejected.len()
        ));
    }
    history.record_event(&Event {
        time: now,
        kind: EventKind::DigestSent,
        service: None,
        env: None,
        message,
        data: serde_json::json!({
            "period": period.label(),
            "recipients": delivery.accepted,
            "rejected": delivery.rejected,
            "message_id": delivery.message_id,
            "forced": forced,
        }),
    })?;
    Ok(())
}

/// Records a failed send: `error` must already be free of credentials (every [`NotifyError`] is).
pub fn record_failed(
    history: &mut History,
    period: &Period,
    recipients: &[String],
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    history.record_event(&Event {
        time: now,
        kind: EventKind::DigestFailed,
        service: None,
        env: None,
        message: format!("weekly digest {} not sent: {error}", period.label()),
        data: serde_json::json!({
            "period": period.label(),
            "recipients": recipients,
            "error": error,
        }),
    })?;
    Ok(())
}

/// One `envparity digest` (or one daemon tick that found the digest due).
#[derive(Debug, Clone)]
pub struct Request {
    /// The period.
    pub period: Period,
    /// Send even when the history says it was sent.
    pub force: bool,
    /// Build the message only: no SMTP, nothing recorded.
    pub dry_run: bool,
    /// The clock (Date header, recorded events).
    pub now: DateTime<Utc>,
}

/// What [`run`] did.
#[derive(Debug)]
pub enum RunOutcome {
    /// The history says this period's digest was sent; nothing was done.
    AlreadySent(SentRecord),
    /// Nothing to say and `send_when_quiet = false`: nothing was sent or recorded.
    Quiet,
    /// The history holds no scan or backfill before the period ended (a fresh state): a digest would
    /// claim what nobody looked at. Nothing was sent or recorded (`--force` sends anyway).
    NothingScanned,
    /// `--dry-run`: the complete MIME message, not sent.
    DryRun {
        /// The subject.
        subject: String,
        /// The message as it would go over the wire.
        eml: Vec<u8>,
    },
    /// Sent and recorded: no copy of the round is left pending.
    Sent {
        /// The subject.
        subject: String,
        /// Who accepted it in this attempt, who was refused for good.
        delivery: Delivery,
    },
    /// Some copies were accepted, others not (refused for now, or not tried after the connection
    /// failed); both were recorded, and the next run sends the others, with the same Message-ID.
    Partial {
        /// The subject.
        subject: String,
        /// Who accepted it in this attempt (`rejected`: who was refused for good).
        delivery: Delivery,
        /// Why the others were not reached (credential-free).
        error: NotifyError,
    },
    /// Sending failed and the failure was recorded (the next run retries).
    Failed {
        /// Why (credential-free).
        error: NotifyError,
    },
}

/// Selects, builds and (unless dry-run) sends the digest of `request.period`, once: a period already
/// sent is skipped unless forced, a round left unfinished (a failure, a crash) is finished first with its
/// own Message-ID, and every attempt is recorded. Without `[smtp]`, only a dry run works (From and To then
/// default to `envparity@localhost`).
///
/// The caller holds the `digest` job lock (`pipeline::digest` takes it), so two processes never send
/// the same round at once.
#[tracing::instrument(skip_all, fields(period = %request.period.label(), force = request.force, dry_run = request.dry_run))]
pub fn run(
    history: &mut History,
    config: &crate::config::Config,
    request: &Request,
) -> Result<RunOutcome, NotifyError> {
    let label = request.period.label();
    let sending = !request.dry_run;
    // A round with pending copies was promised: it is finished whatever else changed since (a quiet
    // selection, a fresh `now`), with the Date and Message-ID it started with.
    let unfinished: Vec<DigestCopy> = if sending && !request.force {
        let round = history.digest_round(&label)?;
        if round.iter().any(DigestCopy::is_pending) {
            round
        } else {
            Vec::new()
        }
    } else {
        Vec::new()
    };
    let resume = unfinished.first();
    if sending
        && !request.force
        && resume.is_none()
        && let Some(sent) = status(history, &request.period)?.sent
    {
        return Ok(RunOutcome::AlreadySent(sent));
    }
    if sending
        && !request.force
        && resume.is_none()
        && !history.has_timeline_before(request.period.end)?
    {
        return Ok(RunOutcome::NothingScanned);
    }
    let selection = select::select(
        history,
        &request.period,
        &SelectOptions::from_config(&config.digest),
    )?;
    if selection.is_quiet() && !config.digest.send_when_quiet && sending && resume.is_none() {
        return Ok(RunOutcome::Quiet);
    }
    let local = send::mailbox("envparity <envparity@localhost>")?;
    let (from, to, cc) = match &config.smtp {
        Some(smtp) => (
            send::mailbox(&smtp.from)?,
            send::mailboxes(&smtp.to)?,
            send::mailboxes(&smtp.cc)?,
        ),
        None => (local.clone(), vec![local], Vec::new()),
    };
    let options = MessageOptions {
        base_url: config.report.base_url.clone(),
        charts: config.digest.charts,
        date: resume.map_or(request.now, |r| r.created_at),
        from,
        to,
        cc,
    };
    let mut digest = message::build(history, &selection, &options)?;
    if let Some(r) = resume {
        // The same as `build` derives from the same Date, unless the From domain changed since.
        digest.message_id = r.message_id.clone();
    }
    let email = digest.to_message(&options)?;
    if request.dry_run {
        return Ok(RunOutcome::DryRun {
            subject: digest.subject,
            eml: email.formatted(),
        });
    }
    let Some(smtp) = &config.smtp else {
        return Err(NotifyError::NoSmtp);
    };
    let mut recipients: Vec<String> = Vec::new();
    for r in email.envelope().to() {
        let r = r.to_string();
        if !recipients.contains(&r) {
            recipients.push(r);
        }
    }
    let mailer = match send::Mailer::from_config(smtp, &config.base_dir()) {
        Ok(m) => m,
        Err(error) => {
            let pending = if unfinished.is_empty() {
                recipients
            } else {
                pending_of(&unfinished)
            };
            record_failed(
                history,
                &request.period,
                &pending,
                &error.to_string(),
                request.now,
            )?;
            return Ok(RunOutcome::Failed { error });
        }
    };
    if resume.is_none() {
        history.start_digest_round(
            &label,
            &digest.message_id,
            options.date,
            request.force,
            &recipients,
        )?;
    }
    let round = history.digest_round(&label)?;
    let Some(number) = round.first().map(|c| c.round) else {
        return Err(NotifyError::Send {
            server: mailer.server().to_string(),
            errors: vec!["the digest has no recipients".into()],
        });
    };
    let pending = round
        .iter()
        .filter(|c| c.is_pending())
        .map(|c| {
            c.recipient
                .parse::<lettre::Address>()
                .map_err(|e| NotifyError::Address {
                    address: c.recipient.clone(),
                    reason: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    tracing::info!(round = number, message_id = %digest.message_id, copies = pending.len(), resumed = resume.is_some(), "sending the digest");

    // Test builds only: stop with the pending copies written and nothing sent (a crash test kills here).
    fail::fail_point!(BEFORE_SEND);
    let attempt = mailer.deliver_each(&email, &pending, &mut |recipient| {
        // Test builds only: stop between the server's acceptance and its record (a crash test kills here).
        fail::fail_point!(AFTER_ACCEPT);
        history.confirm_digest_copy(&label, number, recipient, request.now)?;
        Ok(())
    })?;

    // A recipient refused for good is not retried once the digest reached someone; a server that
    // refuses everyone is a failure to retry (a relay not yet allowing the sender, say).
    let reached = !attempt.accepted.is_empty()
        || round
            .iter()
            .any(|c| matches!(c.state, CopyState::Sent { .. }));
    let mut refused = Vec::new();
    let mut unsent = attempt.unsent;
    for r in attempt.refused {
        if reached {
            history.refuse_digest_copy(&label, number, &r.address, request.now, &r.error)?;
            refused.push(r);
        } else {
            unsent.push(r);
        }
    }
    let delivery = Delivery {
        message_id: digest.message_id.clone(),
        accepted: attempt.accepted,
        rejected: refused,
    };
    let forced = round.iter().any(|c| c.forced);
    if !delivery.accepted.is_empty() || unsent.is_empty() {
        record_sent(history, &request.period, &delivery, forced, request.now)?;
    }
    if unsent.is_empty() {
        return Ok(RunOutcome::Sent {
            subject: digest.subject,
            delivery,
        });
    }
    let error = mailer.failure(&unsent);
    let addresses: Vec<String> = unsent.iter().map(|r| r.address.clone()).collect();
    record_failed(
        history,
        &request.period,
        &addresses,
        &error.to_string(),
        request.now,
    )?;
    if delivery.accepted.is_empty() {
        Ok(RunOutcome::Failed { error })
    } else {
        Ok(RunOutcome::Partial {
            subject: digest.subject,
            delivery,
            error,
        })
    }
}

fn pending_of(round: &[DigestCopy]) -> Vec<String> {
    round
        .iter()
        .filter(|c| c.is_pending())
        .map(|c| c.recipient.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    #[test]
    fn iso_weeks_in_a_time_zone() {
        let berlin: Tz = "Europe/Berlin".parse().expect("tz");
        let p = Period::parse("2026-W47", berlin).expect("period");
        assert_eq!(p.label(), "2026-W47");
        // Monday 16 November 2026, 00:00 in Berlin (UTC+1).
        assert_eq!(p.start, utc("2026-11-15T23:00:00Z"));
        assert_eq!(p.end, utc("2026-11-22T23:00:00Z"));
        assert!(Period::parse("2026-W54", berlin).is_err());
        assert!(Period::parse("last week", berlin).is_err());
        // Wednesday of W48: the last complete week is W47.
        let last = Period::last_complete(utc("2026-11-25T12:00:00Z"), berlin);
        assert_eq!(last, p);
        // Sunday 23:30 UTC is already Monday in Berlin: W48 has begun, W47 is complete.
        assert_eq!(
            Period::last_complete(utc("2026-11-22T23:30:00Z"), berlin).label(),
            "2026-W47"
        );
        // The week containing a daylight-saving change is 169 hours long in autumn.
        let dst = Period::parse("2026-W43", berlin).expect("period");
        assert_eq!((dst.end - dst.start).num_hours(), 169);
        // Week 1 of 2027 starts on Monday 4 January.
        let w1 = Period::parse("2027W01", chrono_tz::UTC).expect("period");
        assert_eq!(w1.start, utc("2027-01-04T00:00:00Z"));
    }
}
