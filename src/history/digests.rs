//! The digest's send-once bookkeeping (`digest_copies`, migration 6): a copy per recipient and round,
//! written as pending before it is sent and confirmed as soon as the server accepted it.
//!
//! Each write is its own short transaction, so what the table says survives a crash between two copies.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{History, HistoryError, bad, parse_ts, sql_err, ts};

/// Where one copy of a digest stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum CopyState {
    /// Written before sending; not known to be accepted (never tried, refused for now, or the process
    /// stopped before the acceptance was recorded). A retry sends it.
    Pending,
    /// The server accepted it.
    Sent {
        /// When.
        at: DateTime<Utc>,
    },
    /// The server refused the recipient permanently; not retried.
    Refused {
        /// When.
        at: DateTime<Utc>,
        /// The server's answer (credential-free).
        error: String,
    },
}

/// One recipient's copy of one round of a period's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestCopy {
    /// The ISO week, `2026-W47`.
    pub period: String,
    /// 1 for the first send of the period, +1 per `--force`.
    pub round: i64,
    /// The envelope address.
    pub recipient: String,
    /// The round's Message-ID (with angle brackets).
    pub message_id: String,
    /// When the round started (the message's Date).
    pub created_at: DateTime<Utc>,
    /// Whether `--force` started the round.
    pub forced: bool,
    /// Where it stands.
    pub state: CopyState,
}

impl DigestCopy {
    /// Whether a retry still has to send it.
    pub fn is_pending(&self) -> bool {
        self.state == CopyState::Pending
    }
}

type RawCopy = (
    String,
    i64,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str =
    "period, round, recipient, message_id, created_at, forced, state, done_at, error";

fn from_raw(raw: RawCopy) -> Result<DigestCopy, HistoryError> {
    let (period, round, recipient, message_id, created_at, forced, state, done_at, error) = raw;
    let done = |value: Option<String>| -> Result<DateTime<Utc>, HistoryError> {
        let value = value.unwrap_or_default();
        parse_ts("digest_copies.done_at", &value)
    };
    let state = match state.as_str() {
        "pending" => CopyState::Pending,
        "sent" => CopyState::Sent { at: done(done_at)? },
        "refused" => CopyState::Refused {
            at: done(done_at)?,
            error: error.unwrap_or_default(),
        },
        other => {
            return Err(bad(
                "digest_copies.state",
                other,
                "pending, sent or refused",
            ));
        }
    };
    Ok(DigestCopy {
        period,
        round,
        recipient,
        message_id,
        created_at: parse_ts("digest_copies.created_at", &created_at)?,
        forced,
        state,
    })
}

impl History {
    /// The copies of the newest round of `period`'s digest, in the order they were written (empty when it
    /// was never sent under this bookkeeping).
    pub fn digest_round(&self, period: &str) -> Result<Vec<DigestCopy>, HistoryError> {
        let round: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(round) FROM digest_copies WHERE period = ?1",
                params![period],
                |row| row.get(0),
            )
            .map_err(sql_err("reading digest copies"))?;
        let Some(round) = round else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM digest_copies WHERE period = ?1 AND round = ?2
                 ORDER BY position, recipient"
            ))
            .map_err(sql_err("reading digest copies"))?;
        let rows = stmt
            .query_map(params![period, round], |row| RawCopy::try_from(row))
            .map_err(sql_err("reading digest copies"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err("reading digest copies"))?;
        rows.into_iter().map(from_raw).collect()
    }

    /// Starts the next round of `period`'s digest: one pending copy per recipient, all in one transaction,
    /// before anything is sent. Returns the round's number.
    pub fn start_digest_round(
        &mut self,
        period: &str,
        message_id: &str,
        created_at: DateTime<Utc>,
        forced: bool,
        recipients: &[String],
    ) -> Result<i64, HistoryError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err("starting a digest round"))?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT max(round) FROM digest_copies WHERE period = ?1",
                params![period],
                |row| row.get(0),
            )
            .map_err(sql_err("starting a digest round"))?;
        let round = last.unwrap_or(0) + 1;
        for (position, recipient) in recipients.iter().enumerate() {
            // A recipient listed twice (in To and Cc) gets one copy.
            tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO digest_copies ({COLUMNS}, position)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', NULL, NULL, ?7)"
                ),
                params![
                    period,
                    round,
                    recipient,
                    message_id,
                    ts(created_at),
                    forced,
                    i64::try_from(position).unwrap_or(i64::MAX)
                ],
            )
            .map_err(sql_err("writing a pending digest copy"))?;
        }
        tx.commit().map_err(sql_err("starting a digest round"))?;
        Ok(round)
    }

    /// Records that the server accepted `recipient`'s copy.
    pub fn confirm_digest_copy(
        &mut self,
        period: &str,
        round: i64,
        recipient: &str,
        at: DateTime<Utc>,
    ) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "UPDATE digest_copies SET state = 'sent', done_at = ?4, error = NULL
                 WHERE period = ?1 AND round = ?2 AND recipient = ?3",
                params![period, round, recipient, ts(at)],
            )
            .map_err(sql_err("confirming a digest copy"))?;
        Ok(())
    }

    /// Records that the server refused `recipient` for good (not retried).
    pub fn refuse_digest_copy(
        &mut self,
        period: &str,
        round: i64,
        recipient: &str,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "UPDATE digest_copies SET state = 'refused', done_at = ?4, error = ?5
                 WHERE period = ?1 AND round = ?2 AND recipient = ?3 AND state = 'pending'",
                params![period, round, recipient, ts(at), error],
            )
            .map_err(sql_err("recording a refused digest copy"))?;
        Ok(())
    }
}
