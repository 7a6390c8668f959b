//! What an event source mapping does with a stream batch, for the local runner (locally there
//! is none): partial batch responses, a bounded retry, BisectBatchOnFunctionError, and an
//! on-failure destination.
//!
//! A batch is handed to the handler (the trigger's code and the executions it starts). Its
//! answer says from which record on nothing was handed over, if anything was not. Then:
//! 1. the records before that one are done; the rest is tried again, up to [`RETRIES`] more
//!    times while it fails at the same record (a failure further on is progress, and starts the
//!    count again);
//! 2. still failing, the rest is split in two halves, each delivered the same way, the first
//!    half first;
//! 3. a single record that still fails is given up on: [`deliver`] returns it, and the caller
//!    keeps it in the on-failure store ([`crate::local::on_failure`]) before the checkpoint moves;
//! 4. the rest goes on.
//!
//! So the caller can checkpoint the whole batch once [`deliver`] returns: every record in it was
//! handed over or given up on. An error from the handler itself (the endpoint is unreachable)
//! ends the delivery, and nothing is checkpointed.

use futures::future::LocalBoxFuture;
use serde_json::Value;

/// Retries of a (sub)batch that keeps failing at the same record, before it is bisected, or a
/// single record is given up on. The CDK stack's mapping retries a batch 3 times
/// (`streamRetryAttempts`), with minutes between tries; locally the retries come at once, so a
/// fault that needs time to pass won't, and 2 keep a poison record's cost down: it is tried
/// 3 times at each of log2(batch) levels of bisection.
pub const RETRIES: u32 = 2;

/// Why the records from `index` on were not handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Within the records the handler was given.
    pub index: usize,
    /// The error by name (`RecordTooLarge`, `PurgeFlow.NotFound`, ...).
    pub error: String,
    pub message: String,
}

/// One call of the handler: what it did (`handled`), and where it stopped, if it did.
#[derive(Debug)]
pub struct Answer<T> {
    pub handled: T,
    pub failure: Option<Failure>,
}

/// Hands records over: the trigger's role.
pub trait Handler {
    type Handled;
    /// Hands over `records`, in order; an error means nothing can be done now (the caller stops).
    fn handle<'a>(
        &'a self,
        records: &'a [Value],
    ) -> LocalBoxFuture<'a, anyhow::Result<Answer<Self::Handled>>>;
}

/// A record given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenUp {
    /// Its index in the batch.
    pub index: usize,
    /// The last failure (its `index` is relative to that attempt).
    pub failure: Failure,
    /// Attempts at the record alone.
    pub attempts: u32,
}

/// A whole batch delivered.
#[derive(Debug)]
pub struct Delivery<T> {
    /// Every answer, in the order the handler gave them; the first is for the whole batch.
    pub answers: Vec<T>,
    /// Records given up on, in batch order.
    pub given_up: Vec<GivenUp>,
}

/// Delivers `records` as an event source mapping with bisection would; `note` hears of every
/// retry and split.
pub async fn deliver<H: Handler>(
    records: &[Value],
    handler: &H,
    retries: u32,
    note: &(dyn Fn(String) + Sync),
) -> anyhow::Result<Delivery<H::Handled>> {
    let mut answers = Vec::new();
    let mut given_up = Vec::new();
    // Ranges still to deliver; the last one is next.
    let mut pending = vec![(0, records.len())];
    while let Some((start, end)) = pending.pop() {
        let mut from = start;
        let mut failed = 0;
        let last_failure = loop {
            if from >= end {
                break None;
            }
            let answer = handler.handle(&records[from..end]).await?;
            answers.push(answer.handled);
            let Some(failure) = answer.failure else {
                break None;
            };
            let at = (from + failure.index).min(end - 1);
            if at > from {
                // What came before was handed over: this is a new record failing.
                from = at;
                failed = 1;
            } else {
                failed += 1;
            }
            if failed > retries {
                break Some(failure);
            }
            note(format!(
                "records {from}..{end} of the batch not handed over ({}: {}); retry {failed} of {retries}",
                failure.error, failure.message
            ));
        };
        let Some(failure) = last_failure else {
            continue;
        };
        if end - from == 1 {
            given_up.push(GivenUp {
                index: from,
                failure,
                attempts: failed,
            });
            continue;
        }
        let middle = from + (end - from) / 2;
        note(format!(
            "records {from}..{end} of the batch still not handed over ({}); bisecting at {middle}",
            failure.error
        ));
        pending.push((middle, end));
        pending.push((from, middle));
    }
    Ok(Delivery { answers, given_up })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// Hands over records in order, stopping at the first poison one (each record is its
    /// number); a flaky record fails its first `flaky_failures` attempts only. `handled` lists
    /// every record handed over, in order, once per time.
    struct Fake {
        poison: HashSet<u64>,
        flaky: Mutex<Vec<(u64, u32)>>,
        calls: Mutex<Vec<Vec<u64>>>,
    }

    impl Fake {
        fn new(poison: &[u64], flaky: &[(u64, u32)]) -> Self {
            Fake {
                poison: poison.iter().copied().collect(),
                flaky: Mutex::new(flaky.to_vec()),
                calls: Mutex::new(Vec::new()),
            }
        }
    }

    impl Handler for Fake {
        type Handled = Vec<u64>;
        fn handle<'a>(
            &'a self,
            records: &'a [Value],
        ) -> LocalBoxFuture<'a, anyhow::Result<Answer<Vec<u64>>>> {
            Box::pin(async move {
                let numbers: Vec<u64> = records.iter().filter_map(Value::as_u64).collect();
                self.calls.lock().expect("lock").push(numbers.clone());
                let mut handled = Vec::new();
                for (index, number) in numbers.iter().enumerate() {
                    let mut flaky = self.flaky.lock().expect("lock");
                    let flaking = flaky
                        .iter_mut()
                        .find(|(n, left)| n == number && *left > 0)
                        .map(|(_, left)| *left -= 1)
                        .is_some();
                    if self.poison.contains(number) || flaking {
                        return Ok(Answer {
                            handled,
                            failure: Some(Failure {
                                index,
                                error: "Poison".into(),
                                message: format!("record {number}"),
                            }),
                        });
                    }
                    handled.push(*number);
                }
                Ok(Answer {
                    handled,
                    failure: None,
                })
            })
        }
    }

    fn records(n: u64) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    fn handed_over(delivery: &Delivery<Vec<u64>>) -> Vec<u64> {
        let mut all: Vec<u64> = delivery.answers.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    #[tokio::test]
    async fn a_poison_record_is_bisected_out_and_everything_else_is_handed_over() {
        let fake = Fake::new(&[13], &[]);
        let notes = Mutex::new(Vec::new());
        let delivery = deliver(&records(40), &fake, RETRIES, &|n| {
            notes.lock().expect("lock").push(n);
        })
        .await
        .expect("delivered");
        assert_eq!(
            delivery.given_up,
            [GivenUp {
                index: 13,
                failure: Failure {
                    index: 0,
                    error: "Poison".into(),
                    message: "record 13".into()
                },
                attempts: RETRIES + 1,
            }]
        );
        let expected: Vec<u64> = (0..40).filter(|i| *i != 13).collect();
        assert_eq!(handed_over(&delivery), expected);
        let notes = notes.lock().expect("lock");
        assert!(notes.iter().any(|n| n.contains("bisecting")), "{notes:?}");
        // Bounded: the whole batch once, then 3 tries at each level of bisection of 13..40 and
        // one for each clean half.
        let calls = fake.calls.lock().expect("lock").len();
        assert!(calls <= 1 + 3 * 6 + 6, "{calls} calls");
    }

    #[tokio::test]
    async fn two_poison_records_are_both_given_up_on_in_batch_order() {
        let fake = Fake::new(&[0, 99], &[]);
        let delivery = deliver(&records(100), &fake, RETRIES, &|_| {})
            .await
            .expect("delivered");
        let indices: Vec<usize> = delivery.given_up.iter().map(|g| g.index).collect();
        assert_eq!(indices, [0, 99]);
        assert_eq!(handed_over(&delivery), (1..99).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn a_fault_that_passes_within_the_retries_gives_up_nothing() {
        let fake = Fake::new(&[], &[(5, RETRIES)]);
        let delivery = deliver(&records(10), &fake, RETRIES, &|_| {})
            .await
            .expect("delivered");
        assert!(delivery.given_up.is_empty(), "{:?}", delivery.given_up);
        assert_eq!(handed_over(&delivery), (0..10).collect::<Vec<u64>>());
        // No bisection: the whole batch, then the rest from 5 twice.
        assert_eq!(
            *fake.calls.lock().expect("lock"),
            [
                (0..10).collect::<Vec<u64>>(),
                (5..10).collect(),
                (5..10).collect()
            ]
        );
    }

    #[tokio::test]
    async fn a_single_record_batch_is_given_up_on_after_its_retries() {
        let fake = Fake::new(&[0], &[]);
        let delivery = deliver(&records(1), &fake, RETRIES, &|_| {})
            .await
            .expect("delivered");
        assert_eq!(delivery.given_up.len(), 1);
        assert_eq!(fake.calls.lock().expect("lock").len(), 3);
    }

    #[tokio::test]
    async fn a_handler_error_ends_the_delivery() {
        struct Broken;
        impl Handler for Broken {
            type Handled = ();
            fn handle<'a>(
                &'a self,
                _: &'a [Value],
            ) -> LocalBoxFuture<'a, anyhow::Result<Answer<()>>> {
                Box::pin(async { anyhow::bail!("the endpoint is down") })
            }
        }
        let error = deliver(&records(3), &Broken, RETRIES, &|_| {})
            .await
            .expect_err("nothing can be delivered");
        assert!(error.to_string().contains("endpoint is down"));
    }
}
