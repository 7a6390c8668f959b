//! CreateInvalidation's retriers: the schedule before the deferral queue (the `per-path`, `all`
//! and `per-execution` policies), and the deployed one (`purgeflow`: Lambda's retrier read from
//! `purge.asl.json`, CloudFront's refusals deferred after `--defer-after-retries` retries).

use anyhow::Context;
use rand::Rng;
use serde_json::Value;

use super::storm::{Micros, SECOND};

/// One Retry entry: interval, attempts, backoff, cap; FULL jitter when the definition says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub interval_s: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_s: Option<f64>,
    pub full_jitter: bool,
}

impl Retrier {
    /// The wait before retry number `retries + 1`, or `None` when the attempts are spent.
    pub fn delay(&self, retries: u32, rng: &mut impl Rng) -> Option<Micros> {
        if retries >= self.max_attempts {
            return None;
        }
        let exponent = i32::try_from(retries).unwrap_or(i32::MAX);
        let mut delay = self.interval_s * self.backoff_rate.powi(exponent);
        if let Some(cap) = self.max_delay_s {
            delay = delay.min(cap);
        }
        if self.full_jitter {
            delay *= rng.random::<f64>();
        }
        Some((delay * SECOND as f64).round() as Micros)
    }

    fn from_json(retrier: &Value) -> anyhow::Result<Retrier> {
        let number = |field: &str, default: f64| retrier[field].as_f64().unwrap_or(default);
        Ok(Retrier {
            interval_s: number("IntervalSeconds", 1.0),
            max_attempts: u32::try_from(retrier["MaxAttempts"].as_u64().unwrap_or(3))?,
            backoff_rate: number("BackoffRate", 2.0),
            max_delay_s: retrier["MaxDelaySeconds"].as_f64(),
            full_jitter: retrier["JitterStrategy"] == "FULL",
        })
    }
}

/// The retriers the simulation exercises.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `PurgeFlow.TooManyInvalidationsInProgress`.
    pub too_many: Retrier,
    /// `PurgeFlow.Throttled`.
    pub throttled: Retrier,
    /// `Lambda.TooManyRequestsException` (no concurrency left).
    pub lambda: Retrier,
}

impl Schedule {
    /// CreateInvalidation's retriers before the deferral queue (purge.asl.json up to issue 19):
    /// the `per-path`, `all` and `per-execution` policies run on it. 5+10+20+30+30 = 95 s of
    /// TooManyInvalidationsInProgress retries at most, then the batch is reported.
    pub fn before_deferral() -> Schedule {
        let short = Retrier {
            interval_s: 1.0,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_s: Some(4.0),
            full_jitter: true,
        };
        Schedule {
            too_many: Retrier {
                interval_s: 5.0,
                max_attempts: 5,
                backoff_rate: 2.0,
                max_delay_s: Some(30.0),
                full_jitter: true,
            },
            throttled: short.clone(),
            lambda: short,
        }
    }

    /// The deployed definition's (purge.asl.json) retriers for the `purgeflow` policy: Lambda's
    /// as written; a refusal is deferred after `defer_after` retries on the earlier
    /// TooManyInvalidationsInProgress shape (5 s, doubling, at most 30 s, full jitter), so the
    /// question "defer at once or after a short retry" is a flag.
    pub fn deferring(definition: &str, defer_after: u32) -> anyhow::Result<Schedule> {
        let definition: Value = serde_json::from_str(definition)?;
        let retriers = definition["States"]["InvalidateCache"]["ItemProcessor"]["States"]
            ["CreateInvalidation"]["Retry"]
            .as_array()
            .context("purge.asl.json has no CreateInvalidation Retry")?;
        let lambda = retriers
            .iter()
            .find(|r| {
                r["ErrorEquals"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e == "Lambda.TooManyRequestsException"))
            })
            .context("CreateInvalidation does not retry Lambda.TooManyRequestsException")
            .and_then(Retrier::from_json)?;
        let before = Schedule::before_deferral();
        let retry_then_defer = Retrier {
            max_attempts: defer_after,
            ..before.too_many
        };
        Ok(Schedule {
            too_many: retry_then_defer.clone(),
            throttled: retry_then_defer,
            lambda,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_lambda_retrier_is_read_from_the_definition_and_refusals_defer_after_n() {
        let schedule =
            Schedule::deferring(crate::local::pipeline::PURGE_DEFINITION, 0).expect("reads");
        assert_eq!(schedule.lambda, Schedule::before_deferral().lambda);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(schedule.too_many.delay(0, &mut rng), None, "defer at once");
        let two = Schedule::deferring(crate::local::pipeline::PURGE_DEFINITION, 2).expect("reads");
        assert!(two.too_many.delay(1, &mut rng).is_some());
        assert_eq!(two.too_many.delay(2, &mut rng), None);
    }

    #[test]
    fn the_schedule_before_deferral_waits_95_s_at_most() {
        let no_jitter = Retrier {
            full_jitter: false,
            ..Schedule::before_deferral().too_many
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let waits: Vec<Option<Micros>> = (0..6).map(|n| no_jitter.delay(n, &mut rng)).collect();
        let s = |x: u64| Some(x * SECOND);
        assert_eq!(waits, vec![s(5), s(10), s(20), s(30), s(30), None]);
    }
}
