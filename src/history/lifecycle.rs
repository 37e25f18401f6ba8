//! Episodes: the lifecycle of each finding, derived from the observations of the timeline's runs.
//!
//! Runs can be recorded out of timeline order (a backfill of old commits after scans already ran), so
//! episodes are not simply appended to. Recording a run replays the timeline *from that run on*: episodes
//! settled before it (resolved earlier on the timeline) cannot change and are kept; every other episode is
//! deleted, the state just before the run is rebuilt from the observations (which episodes were open, and
//! where each was last seen), and the run and every later timeline run are replayed. For the usual case,
//! a run newer than all others, that is exactly an incremental update of the open episodes. For a
//! backfill, cost grows with the runs after the inserted one, so backfill should record commits oldest
//! first.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, params};

use super::{HistoryError, RunKind, sql_err};

/// One episode while it is being replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Episode {
    fingerprint: String,
    service: String,
    opened_run: i64,
    last_seen_run: i64,
    resolved_run: Option<i64>,
}

/// Which absent findings a run may resolve.
#[derive(Debug)]
enum Coverage {
    /// None: the run fetched nothing, or had an error not tied to a service.
    Nothing,
    /// All, except those of services that had errors.
    AllBut(HashSet<String>),
}

impl Coverage {
    fn of(fetch_error: Option<&str>, errors_json: &str) -> Result<Self, HistoryError> {
        if fetch_error.is_some() {
            return Ok(Coverage::Nothing);
        }
        let errors: Vec<serde_json::Value> =
            serde_json::from_str(errors_json).map_err(|source| HistoryError::Json {
                context: "reading runs.errors",
                source,
            })?;
        let mut failed = HashSet::new();
        for e in errors {
            match e.get("service").and_then(|s| s.as_str()) {
                Some(service) => {
                    failed.insert(service.to_string());
                }
                None => return Ok(Coverage::Nothing),
            }
        }
        Ok(Coverage::AllBut(failed))
    }

    fn covers(&self, service: &str) -> bool {
        match self {
            Coverage::Nothing => false,
            Coverage::AllBut(failed) => !failed.contains(service),
        }
    }
}

/// What replay needs of one run.
struct RunFacts {
    id: i64,
    coverage: Coverage,
    /// Fingerprint → service.
    seen: HashMap<String, String>,
}

/// Moves the open episodes past one run: seen ones are extended, absent ones the run covers are
/// resolved (and moved to `closed`), new fingerprints open episodes.
fn advance(open: &mut BTreeMap<String, Episode>, closed: &mut Vec<Episode>, run: &RunFacts) {
    let mut resolved = Vec::new();
    for (fingerprint, episode) in open.iter_mut() {
        if run.seen.contains_key(fingerprint) {
            episode.last_seen_run = run.id;
        } else if run.coverage.covers(&episode.service) {
            resolved.push(fingerprint.clone());
        }
    }
    for fingerprint in resolved {
        if let Some(mut episode) = open.remove(&fingerprint) {
            episode.resolved_run = Some(run.id);
            closed.push(episode);
        }
    }
    for (fingerprint, service) in &run.seen {
        open.entry(fingerprint.clone()).or_insert_with(|| Episode {
            fingerprint: fingerprint.clone(),
            service: service.clone(),
            opened_run: run.id,
            last_seen_run: run.id,
            resolved_run: None,
        });
    }
}

/// Brings the episodes up to date after run `run_id` was inserted (inside the run's transaction).
pub(super) fn update(tx: &Transaction<'_>, run_id: i64) -> Result<(), HistoryError> {
    let (kind, time): (String, String) = tx
        .query_row(
            "SELECT kind, time FROM runs WHERE id = ?1",
            [run_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(sql_err("reading the new run"))?;
    if !RunKind::parse(&kind)?.on_timeline() {
        return Ok(());
    }
    let key = (time.as_str(), run_id);

    // Episodes not settled before the new run: open ones, and those resolved after it.
    let mut open = BTreeMap::new();
    let mut stale = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT e.id, e.fingerprint, e.service, e.opened_run, ro.time, e.last_seen_run, rl.time
                 FROM episodes e
                 JOIN runs ro ON ro.id = e.opened_run
                 JOIN runs rl ON rl.id = e.last_seen_run
                 LEFT JOIN runs rr ON rr.id = e.resolved_run
                 WHERE e.resolved_run IS NULL OR (rr.time, rr.id) > (?1, ?2)",
            )
            .map_err(sql_err("reading unsettled episodes"))?;
        let rows = stmt
            .query_map(params![key.0, key.1], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    Episode {
                        fingerprint: row.get(1)?,
                        service: row.get(2)?,
                        opened_run: row.get(3)?,
                        last_seen_run: row.get(5)?,
                        resolved_run: None,
                    },
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(sql_err("reading unsettled episodes"))?;
        for row in rows {
            let (id, mut episode, opened_time, last_seen_time) =
                row.map_err(sql_err("reading unsettled episodes"))?;
            stale.push(id);
            if (opened_time.as_str(), episode.opened_run) > key {
                // Wholly after the new run: replay rebuilds it.
                continue;
            }
            if (last_seen_time.as_str(), episode.last_seen_run) > key {
                episode.last_seen_run =
                    last_seen_before(tx, &episode.fingerprint, key)?.unwrap_or(episode.opened_run);
            }
            open.insert(episode.fingerprint.clone(), episode);
        }
    }
    {
        let mut delete = tx
            .prepare_cached("DELETE FROM episodes WHERE id = ?1")
            .map_err(sql_err("deleting unsettled episodes"))?;
        for id in stale {
            delete
                .execute([id])
                .map_err(sql_err("deleting unsettled episodes"))?;
        }
    }

    let mut closed = Vec::new();
    for run in runs_from(tx, key)? {
        advance(&mut open, &mut closed, &run);
    }

    let mut insert = tx
        .prepare_cached(
            "INSERT INTO episodes (fingerprint, service, opened_run, last_seen_run, resolved_run)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(sql_err("writing episodes"))?;
    for e in closed.iter().chain(open.values()) {
        insert
            .execute(params![
                e.fingerprint,
                e.service,
                e.opened_run,
                e.last_seen_run,
                e.resolved_run
            ])
            .map_err(sql_err("writing episodes"))?;
    }
    Ok(())
}

/// The last timeline run before `key` whose observations hold `fingerprint`.
fn last_seen_before(
    tx: &Transaction<'_>,
    fingerprint: &str,
    key: (&str, i64),
) -> Result<Option<i64>, HistoryError> {
    tx.query_row(
        "SELECT r.id FROM observations o JOIN runs r ON r.id = o.run_id
         WHERE o.fingerprint = ?1 AND r.kind IN ('scan', 'backfill') AND (r.time, r.id) < (?2, ?3)
         ORDER BY r.time DESC, r.id DESC LIMIT 1",
        params![fingerprint, key.0, key.1],
        |row| row.get(0),
    )
    .optional()
    .map_err(sql_err("finding where an episode was last seen"))
}

/// The timeline runs from `key` on, in order, with their observations.
fn runs_from(tx: &Transaction<'_>, key: (&str, i64)) -> Result<Vec<RunFacts>, HistoryError> {
    let mut stmt = tx
        .prepare(
            "SELECT id, fetch_error, errors FROM runs
             WHERE kind IN ('scan', 'backfill') AND (time, id) >= (?1, ?2)
             ORDER BY time, id",
        )
        .map_err(sql_err("reading runs to replay"))?;
    let rows = stmt
        .query_map(params![key.0, key.1], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_err("reading runs to replay"))?;
    let mut seen_stmt = tx
        .prepare_cached("SELECT fingerprint, service FROM observations WHERE run_id = ?1")
        .map_err(sql_err("reading observations to replay"))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, fetch_error, errors) = row.map_err(sql_err("reading runs to replay"))?;
        let seen = seen_stmt
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect::<Result<HashMap<String, String>, _>>())
            .map_err(sql_err("reading observations to replay"))?;
        out.push(RunFacts {
            id,
            coverage: Coverage::of(fetch_error.as_deref(), &errors)?,
            seen,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, coverage: Coverage, seen: &[(&str, &str)]) -> RunFacts {
        RunFacts {
            id,
            coverage,
            seen: seen
                .iter()
                .map(|(f, s)| (f.to_string(), s.to_string()))
                .collect(),
        }
    }

    #[test]
    fn errors_for_a_service_keep_its_findings_open() {
        let mut open = BTreeMap::new();
        let mut closed = Vec::new();
        let all = || Coverage::AllBut(HashSet::new());
        advance(
            &mut open,
            &mut closed,
            &run(1, all(), &[("a", "x"), ("b", "y")]),
        );
        let x_failed = Coverage::AllBut(HashSet::from(["x".to_string()]));
        advance(&mut open, &mut closed, &run(2, x_failed, &[]));
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].fingerprint, "b");
        assert_eq!(closed[0].resolved_run, Some(2));
        assert_eq!(open["a"].last_seen_run, 1);
        advance(&mut open, &mut closed, &run(3, Coverage::Nothing, &[]));
        assert!(open.contains_key("a"));
        advance(&mut open, &mut closed, &run(4, all(), &[]));
        assert!(open.is_empty());
        assert_eq!(closed[1].resolved_run, Some(4));
    }

    #[test]
    fn coverage_from_errors() {
        assert!(matches!(
            Coverage::of(Some("timeout"), "[]"),
            Ok(Coverage::Nothing)
        ));
        assert!(matches!(
            Coverage::of(None, r#"[{"service":null,"env":"qa","message":"m"}]"#),
            Ok(Coverage::Nothing)
        ));
        let c = Coverage::of(None, r#"[{"service":"x","env":null,"message":"m"}]"#)
            .expect("valid json");
        assert!(!c.covers("x") && c.covers("y"));
    }
}
