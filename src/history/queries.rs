//! Reading: runs, finding lifecycles, metric series and events.

use chrono::{DateTime, Utc};
use rusqlite::{Row, ToSql, params};

use super::{
    CommitRef, Durations, Event, History, HistoryError, Lifecycle, MetricPoint, Outcome,
    RecordedEvent, RunKind, RunSummary, Seen, metric_kind, parse_ts, sql_err, ts,
};
use crate::codes::{ErrorKind, EventKind};
use crate::finding::CheckError;
use crate::finding::Finding;
use crate::metrics::{Metric, MetricKind};

const RUN_COLUMNS: &str = "id, kind, started_at, time, commit_id, commit_time, commit_author, \
     commit_summary, outcome, total_ms, fetch_ms, render_ms, check_ms, errors, fetch_error, \
     block_count, warn_count, info_count, error_count, confirmed_at, repeats";

/// A `runs` row as stored, before parsing.
struct RawRun {
    id: i64,
    kind: String,
    started_at: String,
    time: String,
    commit_id: Option<String>,
    commit_time: Option<String>,
    commit_author: Option<String>,
    commit_summary: Option<String>,
    outcome: String,
    durations: [Option<i64>; 4],
    errors: String,
    fetch_error: Option<String>,
    counts: [i64; 4],
    confirmed_at: Option<String>,
    repeats: i64,
}

impl RawRun {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRun {
            id: row.get(0)?,
            kind: row.get(1)?,
            started_at: row.get(2)?,
            time: row.get(3)?,
            commit_id: row.get(4)?,
            commit_time: row.get(5)?,
            commit_author: row.get(6)?,
            commit_summary: row.get(7)?,
            outcome: row.get(8)?,
            durations: [row.get(9)?, row.get(10)?, row.get(11)?, row.get(12)?],
            errors: row.get(13)?,
            fetch_error: row.get(14)?,
            counts: [row.get(15)?, row.get(16)?, row.get(17)?, row.get(18)?],
            confirmed_at: row.get(19)?,
            repeats: row.get(20)?,
        })
    }

    fn parse(self) -> Result<RunSummary, HistoryError> {
        let commit = match (self.commit_id, self.commit_time) {
            (Some(id), Some(time)) => Some(CommitRef {
                id,
                time: parse_ts("runs.commit_time", &time)?,
                author: self.commit_author.unwrap_or_default(),
                summary: self.commit_summary.unwrap_or_default(),
            }),
            _ => None,
        };
        let ms = |v: Option<i64>| v.map(|v| u64::try_from(v).unwrap_or(0));
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(RunSummary {
            id: self.id,
            kind: RunKind::parse(&self.kind)?,
            started_at: parse_ts("runs.started_at", &self.started_at)?,
            time: parse_ts("runs.time", &self.time)?,
            commit,
            outcome: Outcome::parse(&self.outcome)?,
            block: count(self.counts[0]),
            warn: count(self.counts[1]),
            info: count(self.counts[2]),
            error_count: count(self.counts[3]),
            errors: check_errors(&self.errors)?,
            fetch_error: self.fetch_error,
            durations: Durations {
                total_ms: ms(self.durations[0]).unwrap_or(0),
                fetch_ms: ms(self.durations[1]),
                render_ms: ms(self.durations[2]),
                check_ms: ms(self.durations[3]),
            },
            confirmed_at: self
                .confirmed_at
                .map(|t| parse_ts("runs.confirmed_at", &t))
                .transpose()?,
            repeats: count(self.repeats),
        })
    }
}

/// `runs.errors` back into [`CheckError`]s (which only serialise, so this reads the fields by hand).
fn check_errors(json: &str) -> Result<Vec<CheckError>, HistoryError> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|source| HistoryError::Json {
            context: "reading runs.errors",
            source,
        })?;
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).map(str::to_string);
    values
        .iter()
        .map(|v| {
            let (service, env) = (text(v, "service"), text(v, "env"));
            let kind = match text(v, "kind") {
                Some(kind) => kind.parse().map_err(|source| HistoryError::Code {
                    context: "reading runs.errors",
                    source,
                })?,
                None => legacy_error_kind(service.as_deref(), env.as_deref()),
            };
            Ok(CheckError {
                service,
                env,
                kind,
                message: text(v, "message").unwrap_or_default(),
            })
        })
        .collect()
}

/// The kind of an error recorded before errors had one, from the only distinction the record makes: an
/// environment without a service was a cluster that could not be read, an error without either was about
/// the repo's layout or config, and one about a service was its overlay failing to render.
fn legacy_error_kind(service: Option<&str>, env: Option<&str>) -> ErrorKind {
    match (service, env) {
        (None, Some(_)) => ErrorKind::ClusterUnreachable,
        (None, None) => ErrorKind::Config,
        (Some(_), _) => ErrorKind::Render,
    }
}

/// A `Seen` as selected: run, commit id, run time, commit author, commit time.
type RawSeen = (i64, Option<String>, String, Option<String>, Option<String>);

fn read_seen(row: &Row<'_>, at: usize) -> rusqlite::Result<RawSeen> {
    Ok((
        row.get(at)?,
        row.get(at + 1)?,
        row.get(at + 2)?,
        row.get(at + 3)?,
        row.get(at + 4)?,
    ))
}

fn parse_seen((run, commit, time, author, commit_time): RawSeen) -> Result<Seen, HistoryError> {
    Ok(Seen {
        run,
        commit,
        time: parse_ts("runs.time", &time)?,
        author,
        commit_time: commit_time
            .map(|t| parse_ts("runs.commit_time", &t))
            .transpose()?,
    })
}

/// Selects episodes with their runs; `{where}` and `{order}` are filled in per query.
const EPISODE_SELECT: &str = "SELECT o.finding,
        e.opened_run, ro.commit_id, ro.time, ro.commit_author, ro.commit_time,
        e.last_seen_run, rl.commit_id, coalesce(rl.confirmed_at, rl.time), rl.commit_author,
        rl.commit_time,
        e.resolved_run, rr.commit_id, rr.time, rr.commit_author, rr.commit_time
     FROM episodes e
     JOIN runs ro ON ro.id = e.opened_run
     JOIN runs rl ON rl.id = e.last_seen_run
     LEFT JOIN runs rr ON rr.id = e.resolved_run
     JOIN observations o ON o.run_id = e.last_seen_run AND o.fingerprint = e.fingerprint";

impl History {
    /// Whether any run checked `commit` (so backfill can skip it).
    pub fn has_commit(&self, commit: &str) -> Result<bool, HistoryError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE commit_id = ?1)",
                [commit],
                |row| row.get(0),
            )
            .map_err(sql_err("looking up a commit"))
    }

    /// The most recently *recorded* run (highest id), whatever its place on the timeline.
    pub fn last_run(&self) -> Result<Option<RunSummary>, HistoryError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT 1");
        Ok(self.query_runs(&sql, &[])?.pop())
    }

    /// The most recently recorded run of one kind (the scheduler's "last scan").
    pub fn last_run_of(&self, kind: RunKind) -> Result<Option<RunSummary>, HistoryError> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE kind = ?1 ORDER BY id DESC LIMIT 1");
        Ok(self.query_runs(&sql, &[&kind.as_str()])?.pop())
    }

    /// Whether any scan or backfill run sits on the timeline before `time` (a digest needs one to speak
    /// about a period).
    pub fn has_timeline_before(&self, time: DateTime<Utc>) -> Result<bool, HistoryError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE kind IN ('scan', 'backfill') AND time < ?1)",
                [ts(time)],
                |row| row.get(0),
            )
            .map_err(sql_err("reading runs"))
    }

    /// Up to `limit` runs of every kind, newest on the timeline first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, HistoryError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY time DESC, id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_runs(&sql, &[&limit])
    }

    fn query_runs(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<RunSummary>, HistoryError> {
        let mut stmt = self.conn.prepare(sql).map_err(sql_err("reading runs"))?;
        let raw = stmt
            .query_map(params, RawRun::read)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("reading runs"))?;
        raw.into_iter().map(RawRun::parse).collect()
    }

    /// Open findings (of one service, or all), oldest first.
    pub fn open_findings(&self, service: Option<&str>) -> Result<Vec<Lifecycle>, HistoryError> {
        self.query_episodes(
            "e.resolved_run IS NULL AND (?1 IS NULL OR e.service = ?1)",
            "ro.time, ro.id, e.fingerprint",
            &[&service],
        )
    }

    /// Findings resolved by a run at or after `since` (timeline time), oldest resolution first.
    pub fn resolved_since(
        &self,
        since: DateTime<Utc>,
        service: Option<&str>,
    ) -> Result<Vec<Lifecycle>, HistoryError> {
        self.query_episodes(
            "e.resolved_run IS NOT NULL AND rr.time >= ?2 AND (?1 IS NULL OR e.service = ?1)",
            "rr.time, rr.id, e.fingerprint",
            &[&service, &ts(since)],
        )
    }

    /// Every episode of one fingerprint, oldest first.
    pub fn lifecycle(&self, fingerprint: &str) -> Result<Vec<Lifecycle>, HistoryError> {
        self.query_episodes("e.fingerprint = ?1", "ro.time, ro.id", &[&fingerprint])
    }

    fn query_episodes(
        &self,
        filter: &str,
        order: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Lifecycle>, HistoryError> {
        let sql = format!("{EPISODE_SELECT} WHERE {filter} ORDER BY {order}");
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(sql_err("reading finding lifecycles"))?;
        let raw = stmt
            .query_map(params, |row| {
                let resolved = match row.get::<_, Option<i64>>(11)? {
                    Some(_) => Some(read_seen(row, 11)?),
                    None => None,
                };
                Ok((
                    row.get::<_, String>(0)?,
                    read_seen(row, 1)?,
                    read_seen(row, 6)?,
                    resolved,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("reading finding lifecycles"))?;
        raw.into_iter()
            .map(|(finding, opened, last_seen, resolved)| {
                let finding: Finding =
                    serde_json::from_str(&finding).map_err(|source| HistoryError::Json {
                        context: "reading a stored finding",
                        source,
                    })?;
                Ok(Lifecycle {
                    finding,
                    opened: parse_seen(opened)?,
                    last_seen: parse_seen(last_seen)?,
                    resolved: resolved.map(parse_seen).transpose()?,
                })
            })
            .collect()
    }

    /// Per timeline run id: how many findings it opened and how many it resolved.
    pub fn run_changes(&self) -> Result<std::collections::BTreeMap<i64, (u64, u64)>, HistoryError> {
        let mut out: std::collections::BTreeMap<i64, (u64, u64)> =
            std::collections::BTreeMap::new();
        for (column, opened) in [("opened_run", true), ("resolved_run", false)] {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT {column}, COUNT(*) FROM episodes WHERE {column} IS NOT NULL GROUP BY {column}"
                ))
                .map_err(sql_err("counting opened and resolved findings"))?;
            let rows: Vec<(i64, i64)> = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err("counting opened and resolved findings"))?;
            for (run, n) in rows {
                let entry = out.entry(run).or_default();
                let n = u64::try_from(n).unwrap_or(0);
                if opened {
                    entry.0 = n;
                } else {
                    entry.1 = n;
                }
            }
        }
        Ok(out)
    }

    /// What each service's environments run, as of the newest timeline run that checked it, by service name.
    pub fn service_views(&self) -> Result<Vec<crate::view::ServiceView>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT view FROM service_views ORDER BY service")
            .map_err(sql_err("reading service views"))?;
        let rows: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("reading service views"))?;
        rows.iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|source| HistoryError::Json {
                    context: "reading a service view",
                    source,
                })
            })
            .collect()
    }

    /// Every service that has metrics, by name.
    pub fn metric_services(&self) -> Result<Vec<String>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT service FROM metrics ORDER BY service")
            .map_err(sql_err("listing services with metrics"))?;
        stmt.query_map([], |row| row.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(sql_err("listing services with metrics"))
    }

    /// The metrics of one service (optionally of one kind) over the timeline (scan and backfill runs),
    /// ordered by time.
    pub fn metric_series(
        &self,
        service: &str,
        kind: Option<MetricKind>,
    ) -> Result<Vec<MetricPoint>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.run_id, m.time, r.commit_id, m.service, m.env, m.other_env, m.workload,
                        m.container, m.resource, m.kind, m.value
                 FROM metrics m JOIN runs r ON r.id = m.run_id
                 WHERE m.service = ?1 AND (?2 IS NULL OR m.kind = ?2)
                   AND r.kind IN ('scan', 'backfill')
                 ORDER BY m.time, m.run_id, m.rowid",
            )
            .map_err(sql_err("reading a metric series"))?;
        // A year of daily runs is thousands of rows per service: timestamps are parsed once per run, and the
        // service and kind are not copied out of every row.
        let mut times: std::collections::HashMap<String, DateTime<Utc>> =
            std::collections::HashMap::new();
        let mut out = Vec::new();
        let err = sql_err("reading a metric series");
        let mut rows = stmt
            .query(params![service, kind.map(MetricKind::as_str)])
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(sql_err("reading a metric series"))? {
            let text = |i: usize| -> Result<&str, HistoryError> {
                row.get_ref(i)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(sql_err("reading a metric series"))
            };
            let time_text = text(1)?;
            let time = match times.get(time_text) {
                Some(t) => *t,
                None => {
                    let t = parse_ts("metrics.time", time_text)?;
                    times.insert(time_text.to_string(), t);
                    t
                }
            };
            out.push(MetricPoint {
                run: column(row, 0)?,
                time,
                commit: column(row, 2)?,
                metric: Metric {
                    service: service.to_string(),
                    env: column(row, 4)?,
                    other_env: column(row, 5)?,
                    workload: column(row, 6)?,
                    container: column(row, 7)?,
                    resource: column(row, 8)?,
                    kind: metric_kind(text(9)?)?,
                    value: column(row, 10)?,
                },
            });
        }
        Ok(out)
    }

    /// Events at or after `since` (optionally of one kind), oldest first.
    pub fn events(
        &self,
        since: DateTime<Utc>,
        kind: Option<EventKind>,
    ) -> Result<Vec<RecordedEvent>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run_id, time, kind, service, env, message, data FROM events
                 WHERE time >= ?1 AND (?2 IS NULL OR kind = ?2)
                 ORDER BY time, id",
            )
            .map_err(sql_err("reading events"))?;
        type RawEvent = (
            i64,
            Option<i64>,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let raw: Vec<RawEvent> = stmt
            .query_map(params![ts(since), kind.map(EventKind::as_str)], |row| {
                RawEvent::try_from(row)
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("reading events"))?;
        raw.into_iter()
            .map(|(id, run, time, kind, service, env, message, data)| {
                Ok(RecordedEvent {
                    id,
                    run,
                    event: Event {
                        time: parse_ts("events.time", &time)?,
                        kind: kind.parse().map_err(|source| HistoryError::Code {
                            context: "reading an event's kind",
                            source,
                        })?,
                        service,
                        env,
                        message,
                        data: serde_json::from_str(&data).map_err(|source| HistoryError::Json {
                            context: "reading an event's data",
                            source,
                        })?,
                    },
                })
            })
            .collect()
    }
}

/// One column of a metric row.
fn column<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    i: usize,
) -> Result<T, HistoryError> {
    row.get(i).map_err(sql_err("reading a metric series"))
}
