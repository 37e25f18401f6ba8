//! When a job fires: a cron expression evaluated in an IANA time zone, on wall-clock time.
//!
//! tokio-cron-scheduler's cron jobs fix the zone's UTC offset when the job is created, so a job made in
//! summer time would fire an hour off after the change to winter time. The daemon therefore computes each
//! tick here — croner over the `chrono_tz` zone, which knows every offset change (a time in the
//! spring-forward gap runs at the first valid time after it, a time in the fall-back overlap runs once) —
//! and hands the scheduler one one-shot job per tick.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::config::parse_cron as parse;

/// A validated cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// `expr` (see [`parse`]) in `tz`.
    pub fn new(expr: &str, tz: Tz) -> Result<Schedule, String> {
        let (_, cron) = parse(expr)?;
        Ok(Schedule {
            expr: expr.trim().to_string(),
            cron,
            tz,
        })
    }

    /// The expression as configured.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `after`; `None` when the expression never matches again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // croner carries the start's fraction of a second into the result: ticks are whole seconds.
        self.cron
            .find_next_occurrence(&whole_second(after).with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last tick at or before `at`: the tick whose period `at` lies in.
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&whole_second(at).with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn monday_eight_oclock_stays_at_eight_local_across_both_dst_changes() {
        let s = Schedule::new("0 8 * * 1", chrono_tz::Europe::Berlin).expect("valid");
        // Autumn: summer time (UTC+2) ends on Sunday 2026-10-25.
        let before = s.next_after(utc(2026, 10, 15, 12, 0)).expect("tick");
        assert_eq!(before, utc(2026, 10, 19, 6, 0), "08:00 CEST");
        let after = s.next_after(before).expect("tick");
        assert_eq!(after, utc(2026, 10, 26, 7, 0), "08:00 CET, not 09:00");
        // Spring: summer time starts on Sunday 2027-03-28.
        let before = s.next_after(utc(2027, 3, 20, 12, 0)).expect("tick");
        assert_eq!(before, utc(2027, 3, 22, 7, 0), "08:00 CET");
        let after = s.next_after(before).expect("tick");
        assert_eq!(after, utc(2027, 3, 29, 6, 0), "08:00 CEST, not 07:00");
        assert_eq!(
            s.last_at_or_before(utc(2026, 10, 25, 23, 0)),
            Some(before_autumn())
        );
    }

    fn before_autumn() -> DateTime<Utc> {
        utc(2026, 10, 19, 6, 0)
    }

    #[test]
    fn a_time_skipped_by_spring_forward_runs_once_right_after_the_gap_and_the_repeated_hour_once() {
        // 02:30 does not exist in Berlin on 2027-03-28 (02:00 jumps to 03:00).
        let s = Schedule::new("30 2 * * *", chrono_tz::Europe::Berlin).expect("valid");
        let tick = s.next_after(utc(2027, 3, 27, 12, 0)).expect("tick");
        assert_eq!(
            tick,
            utc(2027, 3, 28, 1, 0),
            "03:00 CEST, the first time after the gap"
        );
        assert_eq!(s.next_after(tick), Some(utc(2027, 3, 29, 0, 30)));
        // 02:30 happens twice on 2026-10-25 (03:00 CEST falls back to 02:00 CET): one run.
        let tick = s.next_after(utc(2026, 10, 24, 12, 0)).expect("tick");
        assert_eq!(tick, utc(2026, 10, 25, 0, 30), "the first 02:30 (CEST)");
        assert_eq!(s.next_after(tick), Some(utc(2026, 10, 26, 1, 30)));
    }

    #[test]
    fn ticks_fall_on_whole_seconds_whatever_the_clock_reads() {
        let s = Schedule::new("*/15 * * * *", chrono_tz::UTC).expect("valid");
        let now = utc(2026, 11, 25, 10, 14) + chrono::Duration::milliseconds(59_678);
        assert_eq!(s.next_after(now), Some(utc(2026, 11, 25, 10, 15)));
        let just_after = utc(2026, 11, 25, 10, 15) + chrono::Duration::milliseconds(300);
        assert_eq!(s.next_after(just_after), Some(utc(2026, 11, 25, 10, 30)));
        assert_eq!(
            s.last_at_or_before(just_after),
            Some(utc(2026, 11, 25, 10, 15))
        );
    }

    #[test]
    fn five_fields_get_seconds_and_bad_expressions_say_why() {
        assert_eq!(parse("*/15 * * * *").expect("ok").0, "0 */15 * * * *");
        assert_eq!(parse("*/2 * * * * *").expect("ok").0, "*/2 * * * * *");
        assert!(parse("1 2 3").expect_err("fields").contains("3 field(s)"));
        assert!(
            parse("61 * * * *")
                .expect_err("range")
                .contains("not a valid")
        );
        let s = Schedule::new("*/15 * * * *", chrono_tz::UTC).expect("valid");
        assert_eq!(
            s.last_at_or_before(utc(2026, 11, 25, 10, 14)),
            Some(utc(2026, 11, 25, 10, 0))
        );
        assert_eq!(
            s.last_at_or_before(utc(2026, 11, 25, 10, 15)),
            Some(utc(2026, 11, 25, 10, 15)),
            "a tick is in its own period"
        );
    }
}
