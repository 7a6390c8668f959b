//! CreateInvalidation's retriers, read from the deployed definition so the simulation retries
//! exactly as the state machine does.

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

/// The two retriers the simulation exercises.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `PurgeFlow.TooManyInvalidationsInProgress`.
    pub too_many: Retrier,
    /// `Lambda.TooManyRequestsException` (no concurrency left).
    pub lambda: Retrier,
}

impl Schedule {
    /// The CreateInvalidation state's retriers in `definition` (purge.asl.json).
    pub fn from_definition(definition: &str) -> anyhow::Result<Schedule> {
        let definition: Value = serde_json::from_str(definition)?;
        let retriers = definition["States"]["InvalidateCache"]["ItemProcessor"]["States"]
            ["CreateInvalidation"]["Retry"]
            .as_array()
            .context("purge.asl.json has no CreateInvalidation Retry")?;
        let find = |error: &str| {
            retriers
                .iter()
                .find(|r| {
                    r["ErrorEquals"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|e| e == error))
                })
                .with_context(|| format!("CreateInvalidation does not retry {error}"))
                .and_then(Retrier::from_json)
        };
        Ok(Schedule {
            too_many: find("PurgeFlow.TooManyInvalidationsInProgress")?,
            lambda: find("Lambda.TooManyRequestsException")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_deployed_schedule_is_read_from_the_definition() {
        let schedule =
            Schedule::from_definition(crate::local::pipeline::PURGE_DEFINITION).expect("reads");
        assert_eq!(
            schedule.too_many,
            Retrier {
                interval_s: 5.0,
                max_attempts: 5,
                backoff_rate: 2.0,
                max_delay_s: Some(30.0),
                full_jitter: true
            }
        );
        let no_jitter = Retrier {
            full_jitter: false,
            ..schedule.too_many
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let waits: Vec<Option<Micros>> = (0..6).map(|n| no_jitter.delay(n, &mut rng)).collect();
        let s = |x: u64| Some(x * SECOND);
        assert_eq!(waits, vec![s(5), s(10), s(20), s(30), s(30), None]);
    }
}
