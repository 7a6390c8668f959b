//! The virtual clock: Wait states and Retry backoffs advance simulated time, nothing sleeps.
//!
//! Each thread of control (the top level, a Parallel branch, a Map iteration) keeps its own
//! elapsed time since the execution started; branches that run side by side start at the
//! same instant and the parent resumes at the latest end.
//!
//! A [`Sleeper`] optionally paces a run in real time: against a real AWS account a Retry
//! backoff must actually pass before the next attempt, or throttled calls are retried in
//! milliseconds. The virtual clock advances the same either way, so histories and durations
//! do not depend on whether anything slept.

use std::fmt::Debug;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;

/// Waits in real time for a delay the virtual clock has just applied (a Retry backoff, a Wait
/// state). The engine has no async runtime of its own, so the caller supplies the timer
/// (e.g. `tokio::time::sleep`).
pub trait Sleeper: Send + Sync + Debug {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Maps simulated elapsed time to wall-clock instants.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    start: DateTime<Utc>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { start }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The instant `elapsed` after the start (saturating far in the future).
    pub fn at(&self, elapsed: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|d| self.start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The instant in AWS's context-object format (`2024-01-01T00:00:00.000Z`).
    pub fn format(&self, elapsed: Duration) -> String {
        self.at(elapsed)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Simulated time still to wait, at `elapsed`, until `until` (zero if it is in the past).
    pub fn until(&self, elapsed: Duration, until: DateTime<Utc>) -> Duration {
        (until - self.at(elapsed))
            .to_std()
            .unwrap_or(Duration::ZERO)
    }
}

/// Converts whole or fractional seconds to a Duration without panicking on hostile values.
/// NaN and negative values are zero; values too large (or infinite) saturate.
pub fn seconds(secs: f64) -> Duration {
    if secs > 0.0 {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let clock = VirtualClock::new(DateTime::<Utc>::from_timestamp(0, 0).expect("epoch"));
        assert_eq!(
            clock.format(Duration::from_millis(1500)),
            "1970-01-01T00:00:01.500Z"
        );
    }

    #[test]
    fn until_past_is_zero_and_future_is_the_gap() {
        let clock = VirtualClock::new(DateTime::<Utc>::from_timestamp(100, 0).expect("ts"));
        let past = DateTime::<Utc>::from_timestamp(50, 0).expect("ts");
        let future = DateTime::<Utc>::from_timestamp(160, 0).expect("ts");
        assert_eq!(clock.until(Duration::ZERO, past), Duration::ZERO);
        assert_eq!(
            clock.until(Duration::from_secs(10), future),
            Duration::from_secs(50)
        );
    }

    #[test]
    fn hostile_seconds_do_not_panic() {
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
        assert_eq!(seconds(-3.0), Duration::ZERO);
        assert_eq!(seconds(1e300), Duration::MAX);
        assert_eq!(seconds(f64::INFINITY), Duration::MAX);
        assert_eq!(clock_far_future(), DateTime::<Utc>::MAX_UTC);
    }

    fn clock_far_future() -> DateTime<Utc> {
        VirtualClock::new(Utc::now()).at(Duration::MAX)
    }
}
