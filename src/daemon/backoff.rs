//! Exponential backoff with jitter after a job fails.
//!
//! After *n* consecutive failures a job waits `min(first · 2ⁿ⁻¹, max)`, shortened by up to 20 % at random
//! so that daemons restarted together (or a scan and a digest failing on the same outage) do not retry in
//! lockstep. Ticks inside the wait are skipped; when the wait ends before the next tick, the job is retried
//! then. The streak comes from the history, so a restarted daemon keeps backing off.

use chrono::{DateTime, Duration, Utc};

/// How long to wait after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure; doubled after each further one.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// The largest share of a wait that jitter takes off.
pub const JITTER: f64 = 0.2;

impl Backoff {
    /// `first` and `max` in seconds (clamped to what a `Duration` holds).
    pub fn from_seconds(first: u64, max: u64) -> Backoff {
        let secs = |s: u64| {
            Duration::seconds(
                i64::try_from(s)
                    .unwrap_or(i64::MAX / 1000)
                    .min(i64::MAX / 1000),
            )
        };
        Backoff {
            first: secs(first),
            max: secs(max),
        }
    }

    /// The wait after `failures` consecutive failures, before jitter (none after zero).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::zero();
        }
        let factor = 1i32 << (failures - 1).min(20);
        self.first
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// When the job may run again after `failures` failures, the last at `last`; `random` in [0, 1) picks
    /// the jitter.
    pub fn until(&self, failures: u32, last: DateTime<Utc>, random: f64) -> DateTime<Utc> {
        let delay = self.delay(failures);
        let ms = delay.num_milliseconds() as f64 * (1.0 - JITTER * random.clamp(0.0, 1.0));
        last + Duration::milliseconds(ms as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_and_jitter_only_shortens() {
        let b = Backoff::from_seconds(60, 600);
        assert_eq!(b.delay(0), Duration::zero());
        assert_eq!(b.delay(1), Duration::seconds(60));
        assert_eq!(b.delay(2), Duration::seconds(120));
        assert_eq!(b.delay(4), Duration::seconds(480));
        assert_eq!(b.delay(5), Duration::seconds(600));
        assert_eq!(b.delay(u32::MAX), Duration::seconds(600));
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(b.until(2, t0, 0.0), t0 + Duration::seconds(120));
        assert_eq!(b.until(2, t0, 0.5), t0 + Duration::seconds(108));
        assert_eq!(
            b.until(9, t0, 0.999_999),
            t0 + Duration::milliseconds(480_000)
        );
    }
}
