//! Retry and Catch: which retrier or catcher an error matches, and the backoff between attempts.

use std::time::Duration;

use rand::Rng;
use serde_json::Value;

use super::{Entered, Failure, Flow, Run, Step, exit_state};
use crate::clock;
use crate::error::names;
use crate::model::{Catcher, QueryLanguage, Retrier, State};

/// ASL's defaults: one second, three attempts, doubling.
const DEFAULT_INTERVAL_SECONDS: f64 = 1.0;
const DEFAULT_MAX_ATTEMPTS: f64 = 3.0;
const DEFAULT_BACKOFF_RATE: f64 = 2.0;

/// Whether an `ErrorEquals` list matches the failure.
///
/// `States.ALL` matches everything except the terminal errors (States.Runtime,
/// States.DataLimitExceeded); `States.TaskFailed` matches any error a task raised, that is any
/// name outside the `States.` namespace (and itself), but not `States.Timeout`.
pub fn matches(error_equals: &[String], failure: &Failure) -> bool {
    if failure.timed_out || failure.stopped {
        return false;
    }
    let name = failure.name();
    error_equals.iter().any(|wanted| {
        wanted == name
            || (wanted == names::ALL && !failure.terminal)
            || (wanted == names::TASK_FAILED
                && !failure.terminal
                && (!name.starts_with("States.") || name == names::PERMISSIONS))
    })
}

/// The delay before retry number `attempt` (0-based): IntervalSeconds × BackoffRate^attempt,
/// capped at MaxDelaySeconds; with JitterStrategy FULL, a uniform draw in [0, that delay].
pub fn backoff(retrier: &Retrier, attempt: u32, rng: &mut impl Rng) -> Duration {
    let interval = retrier.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
    let rate = retrier.backoff_rate.unwrap_or(DEFAULT_BACKOFF_RATE);
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut delay = interval * rate.powi(exponent);
    if let Some(max) = retrier.max_delay_seconds {
        delay = delay.min(max);
    }
    if retrier.jitter_strategy.as_deref() == Some("FULL") {
        delay *= rng.random::<f64>();
    }
    clock::seconds(delay)
}

/// Per-state retry bookkeeping: how often each retrier has fired.
#[derive(Debug, Clone)]
pub struct RetryCounter {
    counts: Vec<u32>,
}

impl RetryCounter {
    pub fn new(retriers: &[Retrier]) -> Self {
        Self {
            counts: vec![0; retriers.len()],
        }
    }

    /// Total retries so far (`$$.State.RetryCount`).
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// The delay before the next attempt, or `None` when the error is not retried: no retrier
    /// matches, or the first one that matches has used up its MaxAttempts.
    pub fn next_delay(
        &mut self,
        retriers: &[Retrier],
        failure: &Failure,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        let index = retriers
            .iter()
            .position(|r| matches(&r.error_equals, failure))?;
        let retrier = &retriers[index];
        let count = self.counts.get_mut(index)?;
        let max_attempts = retrier.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if f64::from(*count) >= max_attempts {
            return None;
        }
        let delay = backoff(retrier, *count, rng);
        *count += 1;
        Some(delay)
    }
}

/// The first catcher that matches.
pub fn find_catcher<'c>(catchers: &'c [Catcher], failure: &Failure) -> Option<&'c Catcher> {
    catchers.iter().find(|c| matches(&c.error_equals, failure))
}

/// Hands a failure to the matching catcher (its output goes to the catcher's Next), or passes
/// it on. The caller has already recorded the state's Failed event.
pub(super) fn catch(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    raw_input: &Value,
    failure: Failure,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let Some(catcher) = find_catcher(&state.common.catch, &failure) else {
        return Err(failure);
    };
    let error_output = failure.error_output();
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let assigned = eval.assign(catcher.assign.as_ref(), &error_output, &Value::Null)?;
            let output = eval.result_path(catcher.result_path.as_ref(), raw_input, error_output)?;
            (output, assigned)
        }
        QueryLanguage::Jsonata => {
            let states = eval.states(raw_input, None, Some(&error_output));
            let assigned = eval.assign(catcher.assign.as_ref(), &Value::Null, &states)?;
            let output = match &catcher.output {
                Some(template) => eval.jsonata(template, &states, "Output")?,
                None => error_output,
            };
            (output, assigned)
        }
    };
    exit_state(
        run,
        entered,
        state,
        output,
        assigned,
        Some(catcher.next.clone()),
        flow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn retrier(json: Value) -> Retrier {
        serde_json::from_value(json).expect("valid retrier")
    }

    #[test]
    fn defaults_are_one_second_doubling() {
        let r = retrier(serde_json::json!({"ErrorEquals": ["States.ALL"]}));
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<_> = (0..3).map(|n| backoff(&r, n, &mut rng)).collect();
        assert_eq!(
            delays,
            [
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4)
            ]
        );
    }

    #[test]
    fn max_delay_caps_the_growth() {
        let r = retrier(
            serde_json::json!({"ErrorEquals": ["E"], "IntervalSeconds": 3, "BackoffRate": 3, "MaxDelaySeconds": 20}),
        );
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<_> = (0..4).map(|n| backoff(&r, n, &mut rng)).collect();
        assert_eq!(
            delays,
            [
                Duration::from_secs(3),
                Duration::from_secs(9),
                Duration::from_secs(20),
                Duration::from_secs(20)
            ]
        );
    }

    #[test]
    fn full_jitter_is_seeded_and_bounded() {
        let r = retrier(
            serde_json::json!({"ErrorEquals": ["E"], "IntervalSeconds": 10, "JitterStrategy": "FULL"}),
        );
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5).map(|n| backoff(&r, n, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7), "same seed, same delays");
        assert_ne!(draw(7), draw(8), "another seed, other delays");
        for (n, d) in draw(7).into_iter().enumerate() {
            assert!(
                d <= Duration::from_secs(10 * 2u64.pow(n as u32)),
                "attempt {n}: {d:?} above the cap"
            );
        }
    }

    #[test]
    fn max_attempts_zero_never_retries_and_counts_per_retrier() {
        let retriers = vec![
            retrier(serde_json::json!({"ErrorEquals": ["A"], "MaxAttempts": 0})),
            retrier(serde_json::json!({"ErrorEquals": ["States.ALL"], "MaxAttempts": 2})),
        ];
        let mut rng = StdRng::seed_from_u64(0);
        let mut counter = RetryCounter::new(&retriers);
        assert_eq!(
            counter.next_delay(&retriers, &Failure::new("A", "x"), &mut rng),
            None
        );
        assert!(
            counter
                .next_delay(&retriers, &Failure::new("B", "x"), &mut rng)
                .is_some()
        );
        assert!(
            counter
                .next_delay(&retriers, &Failure::new("B", "x"), &mut rng)
                .is_some()
        );
        assert_eq!(
            counter.next_delay(&retriers, &Failure::new("B", "x"), &mut rng),
            None
        );
        assert_eq!(counter.total(), 2);
    }

    #[test]
    fn states_all_skips_terminal_errors_and_task_failed_skips_timeout() {
        let all = vec![names::ALL.to_owned()];
        assert!(matches(&all, &Failure::new("Custom", "c")));
        assert!(matches(
            &all,
            &Failure::new(names::QUERY_EVALUATION_ERROR, "c")
        ));
        assert!(!matches(&all, &Failure::new(names::RUNTIME, "c")));
        assert!(!matches(
            &all,
            &Failure::new(names::DATA_LIMIT_EXCEEDED, "c")
        ));
        let runtime = vec![names::RUNTIME.to_owned()];
        assert!(
            matches(&runtime, &Failure::new(names::RUNTIME, "c")),
            "named explicitly, it matches"
        );
        let task_failed = vec![names::TASK_FAILED.to_owned()];
        assert!(matches(&task_failed, &Failure::new("Lambda.Unknown", "c")));
        assert!(!matches(&task_failed, &Failure::new(names::TIMEOUT, "c")));
    }
}
