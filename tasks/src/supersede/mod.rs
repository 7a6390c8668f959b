//! The supersede check: was the removed item re-created since, still referencing the same object?
//!
//! A stream record can be processed seconds (or, on a replay, days) after the delete. If the
//! application has written the item again in the meantime (same primary key), its object may be
//! in use again. A consistent read of the record's keys tells:
//! - no item: purge;
//! - an item whose key template renders to the same object key: *superseded*, nothing is deleted;
//! - an item that renders to another key, or can no longer be rendered (attribute gone or
//!   retyped): it references a different object, so the old one is still purged.
//!
//! The reads are batched: [`check_all`] asks `BatchGetItem` (consistent, at most 100 keys a
//! request, projected to the key attributes and the template's attributes) for every distinct key
//! of an execution, so 1,000 deletes cost 10 requests instead of 1,000 GetItem. The same item
//! deleted twice in one batch is asked for once.
//!
//! Keys DynamoDB leaves in `UnprocessedKeys` (it does so under throttling or past 16 MB) are
//! asked for again with exponential backoff and full jitter (`backoff`), within
//! [`UNPROCESSED_RETRY`]: at most 6 retries and 5 s. A key still unprocessed after that was not
//! checked, so its target is [`SupersedeOutcome::Unchecked`]: it is reported by name and deletes
//! nothing (when in doubt, keep the object).
//!
//! A `ValidationException` means DynamoDB refused the request: some key does not match the
//! table's key schema (a wrong attribute name or type, typically in an edited replay). BatchGetItem
//! does not say which, so that request's keys are asked again one by one with GetItem
//! (`single`), which finds the culprit: [`SupersedeOutcome::KeysRejected`] for it alone, an
//! answer for every other key. Every other error is classified by
//! [`crate::aws_errors::classify`]: throttling and 5xx are retryable (the state machine's Retry
//! matches their names), AccessDenied is not, and none of them lets a target through unchecked.

mod backoff;
mod batch;
mod keys;
mod single;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

pub use backoff::Backoff;
use batch::{BatchAnswer, MAX_KEYS_PER_REQUEST, Reply};
use keys::{ItemKey, SdkItem};

use crate::contract::{AttributeMap, PurgeTarget};
use crate::error::TaskError;
use crate::key_template::Template;

/// What the check found for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupersedeOutcome {
    /// The item exists again and references the same object: delete nothing.
    Superseded,
    /// Absent, or re-created pointing elsewhere: purge the old object.
    Purge,
    /// DynamoDB refused these keys (`ValidationException`); `detail` says why. The target can't
    /// be checked, so it must not be deleted either: the caller rejects it.
    KeysRejected { detail: String },
    /// The key stayed in `UnprocessedKeys` past the retry budget: not checked, so not deleted.
    Unchecked { detail: String },
}

/// The retry budget for unprocessed keys in the Lambdas: 50 ms doubling to a 1 s cap, full
/// jitter, at most 6 retries (worst case 2.6 s of sleep) and none after 5 s, well inside the
/// task's timeout so the execution still has time to delete and invalidate the rest.
pub const UNPROCESSED_RETRY: Backoff = Backoff {
    base: Duration::from_millis(50),
    max_delay: Duration::from_secs(1),
    max_retries: 6,
    max_elapsed: Duration::from_secs(5),
};

/// BatchGetItem requests in flight at once for one execution: 1,000 deletes are 10 requests, so
/// 4 at a time reads them in about three round trips without a burst on the table.
const REQUESTS_IN_FLIGHT: usize = 4;

/// GetItem requests in flight when a refused batch is asked again key by key.
const SINGLE_READS_IN_FLIGHT: usize = 16;

/// The DynamoDB error code for a request that does not fit the table (key schema mismatch,
/// malformed attribute), as opposed to a failure of the service.
const VALIDATION_EXCEPTION: &str = "ValidationException";

/// One distinct item to read: its identity (to dedupe and to match answers) and its SDK key.
#[derive(Debug)]
struct Lookup {
    id: ItemKey,
    sdk: SdkItem,
}

/// What DynamoDB said about one item.
#[derive(Debug, Clone)]
enum Answer {
    /// The item, projected, as DynamoDB JSON.
    Found(AttributeMap),
    Absent,
    /// A `ValidationException` for this key alone; the detail says why.
    Refused(String),
    /// Still unprocessed when the retry budget ran out.
    Unchecked(String),
}

/// The attributes a read returns: `#p0, #p1, ...` with their names, so names that are reserved
/// words or hold odd characters still work.
#[derive(Debug)]
struct Projection {
    names: Vec<String>,
}

impl Projection {
    /// The distinct `names`, sorted.
    fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Projection {
        let mut names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        names.sort_unstable();
        names.dedup();
        Projection { names }
    }

    /// `None` when there is nothing to project (read the whole item).
    fn expression(&self) -> Option<String> {
        (!self.names.is_empty()).then(|| {
            (0..self.names.len())
                .map(|i| format!("#p{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    fn names(&self) -> HashMap<String, String> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("#p{i}"), name.clone()))
            .collect()
    }
}

/// Checks every target, in order: one outcome per target.
///
/// `retry` bounds the retries of unprocessed keys ([`UNPROCESSED_RETRY`] in the Lambdas).
pub async fn check_all(
    client: &Client,
    table: &str,
    template: &Template,
    targets: &[PurgeTarget],
    retry: &Backoff,
) -> Result<Vec<SupersedeOutcome>, TaskError> {
    // Distinct items, and for each target the item it names (or why its keys are unusable).
    let mut lookups: Vec<Lookup> = Vec::new();
    let mut position: HashMap<ItemKey, usize> = HashMap::new();
    let mut named: Vec<Result<usize, String>> = Vec::with_capacity(targets.len());
    for target in targets {
        // Unreachable after `check_table_keys`, but a bad key still only concerns its target.
        let lookup = keys::sdk_key(&target.table_keys).and_then(|sdk| {
            let id = ItemKey::of_key(&sdk).ok_or_else(|| {
                TaskError::InvalidInput("a key attribute is not an S, N or B value".into())
            })?;
            Ok(Lookup { id, sdk })
        });
        named.push(match lookup {
            Err(err) => Err(err.to_string()),
            Ok(lookup) => Ok(*position.entry(lookup.id.clone()).or_insert_with(|| {
                lookups.push(lookup);
                lookups.len() - 1
            })),
        });
    }

    let fields = template.fields();
    let answers = read_all(client, table, &fields, &lookups, retry).await?;
    Ok(named
        .into_iter()
        .zip(targets)
        .map(|(named, target)| match named {
            Err(detail) => SupersedeOutcome::KeysRejected { detail },
            Ok(at) => match &answers[at] {
                Answer::Absent => SupersedeOutcome::Purge,
                Answer::Found(image) => match template.render_item(image) {
                    Ok(current) if current == target.key => SupersedeOutcome::Superseded,
                    _ => SupersedeOutcome::Purge,
                },
                Answer::Refused(detail) => SupersedeOutcome::KeysRejected {
                    detail: detail.clone(),
                },
                Answer::Unchecked(detail) => SupersedeOutcome::Unchecked {
                    detail: detail.clone(),
                },
            },
        })
        .collect())
}

/// One answer per lookup, in order: requests of up to 100 keys, a few in flight.
async fn read_all(
    client: &Client,
    table: &str,
    fields: &[&str],
    lookups: &[Lookup],
    retry: &Backoff,
) -> Result<Vec<Answer>, TaskError> {
    let all: Vec<usize> = (0..lookups.len()).collect();
    // The reads are built eagerly and only then streamed: a stream that maps with a closure over
    // borrowed data makes the whole future impossible for rustc to prove `Send`
    // (rust-lang/rust#64552), and the engine's handlers and the Lambda runtime need `Send`.
    let requests: Vec<_> = all
        .chunks(MAX_KEYS_PER_REQUEST)
        .map(|chunk| read_chunk(client, table, fields, lookups, chunk.to_vec(), retry))
        .collect();
    let answered: Vec<Vec<(usize, Answer)>> = futures::stream::iter(requests)
        .buffer_unordered(REQUESTS_IN_FLIGHT)
        .try_collect()
        .await?;
    // Every lookup is answered by construction; should one ever not be, it reads as unchecked,
    // which keeps its object.
    let mut answers =
        vec![Answer::Unchecked("the supersede read went unanswered".into()); lookups.len()];
    for (at, answer) in answered.into_iter().flatten() {
        answers[at] = answer;
    }
    Ok(answers)
}

/// Reads the lookups in `chunk` with one BatchGetItem, then again for the keys it left
/// unprocessed, with backoff, until all are answered or `retry` runs out.
async fn read_chunk(
    client: &Client,
    table: &str,
    fields: &[&str],
    lookups: &[Lookup],
    chunk: Vec<usize>,
    retry: &Backoff,
) -> Result<Vec<(usize, Answer)>, TaskError> {
    let started = Instant::now();
    let mut answered = Vec::with_capacity(chunk.len());
    let mut pending = chunk;
    let mut retries = 0;
    loop {
        let mut one_by_one = Vec::new();
        let mut unprocessed = Vec::new();
        match batch::get(client, table, fields, lookups, &pending).await? {
            BatchAnswer::Refused { detail } => {
                tracing::warn!(%detail, keys = pending.len(), "BatchGetItem refused; reading its keys one by one");
                one_by_one = pending;
            }
            BatchAnswer::Replies(replies) => {
                for (at, reply) in pending.into_iter().zip(replies) {
                    match reply {
                        Reply::Answered(answer) => answered.push((at, answer)),
                        Reply::Unprocessed => unprocessed.push(at),
                        Reply::Unsure => one_by_one.push(at),
                    }
                }
            }
        }
        answered.extend(read_one_by_one(client, table, fields, lookups, one_by_one).await?);

        pending = unprocessed;
        if pending.is_empty() {
            return Ok(answered);
        }
        if retries >= retry.max_retries || started.elapsed() >= retry.max_elapsed {
            let detail = format!(
                "BatchGetItem on table {table:?} left the key unprocessed after {retries} retries \
                 in {} ms (the table is throttling reads); the supersede check could not run, \
                 so the object is kept: replay the record",
                started.elapsed().as_millis()
            );
            tracing::warn!(keys = pending.len(), %detail, "supersede check gave up on keys");
            answered.extend(
                pending
                    .into_iter()
                    .map(|at| (at, Answer::Unchecked(detail.clone()))),
            );
            return Ok(answered);
        }
        tokio::time::sleep(retry.delay(retries, backoff::jitter_unit())).await;
        retries += 1;
    }
}

/// GetItem for each lookup in `asked`, a few in flight.
async fn read_one_by_one(
    client: &Client,
    table: &str,
    fields: &[&str],
    lookups: &[Lookup],
    asked: Vec<usize>,
) -> Result<Vec<(usize, Answer)>, TaskError> {
    let reads: Vec<_> = asked
        .into_iter()
        .map(|at| {
            let lookup = &lookups[at];
            let projection = Projection::of(lookup.id.names().chain(fields.iter().copied()));
            async move {
                single::get(client, table, &projection, lookup.sdk.clone())
                    .await
                    .map(|answer| (at, answer))
            }
        })
        .collect();
    futures::stream::iter(reads)
        .buffer_unordered(SINGLE_READS_IN_FLIGHT)
        .try_collect()
        .await
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemError, BatchGetItemOutput};
    use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
    use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::json;

    /// SDK retries off: retrying is the state machine's job, and each attempt consumes a rule.
    pub(crate) fn client_with_mode(mode: RuleMode, rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_dynamodb, mode, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    /// No sleeping in tests, but the same number of retries as the Lambdas.
    pub(crate) const NO_WAIT: Backoff = Backoff {
        base: Duration::ZERO,
        max_delay: Duration::ZERO,
        ..UNPROCESSED_RETRY
    };

    fn target(id: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: "photo-bucket".into(),
            key: format!("{id}.jpeg"),
            paths: vec![format!("/{id}.jpeg")],
            event_id: format!("evt-{id}"),
            table_keys: json!({"photo_id": {"S": id}, "n": {"N": "7"}})
                .as_object()
                .expect("object")
                .clone(),
        }
    }

    fn targets(count: usize) -> Vec<PurgeTarget> {
        (0..count).map(|i| target(&format!("p{i}"))).collect()
    }

    fn template() -> Template {
        Template::parse("{photo_id}.{type|subtype}").expect("template")
    }

    /// An item as the table holds it (`n` spelled the way DynamoDB normalises numbers).
    fn item(id: &str, type_: &str) -> SdkItem {
        HashMap::from([
            ("photo_id".to_owned(), AttributeValue::S(id.into())),
            ("n".to_owned(), AttributeValue::N("7".into())),
            ("type".to_owned(), AttributeValue::S(type_.into())),
        ])
    }

    /// A table behind BatchGetItem: answers every request from `items`, leaving the last
    /// `unprocessed(call)` keys of call number `call` (0-based) unprocessed, and records the
    /// keys of each request.
    pub(crate) struct FakeTable {
        items: Vec<SdkItem>,
        unprocessed: fn(usize) -> usize,
        requests: Mutex<Vec<Vec<SdkItem>>>,
    }

    impl FakeTable {
        pub(crate) fn new(items: Vec<SdkItem>, unprocessed: fn(usize) -> usize) -> Arc<FakeTable> {
            Arc::new(FakeTable {
                items,
                unprocessed,
                requests: Mutex::new(Vec::new()),
            })
        }

        /// Answers every consistent BatchGetItem on `photos` of at most 100 keys.
        pub(crate) fn rule(self: &Arc<FakeTable>) -> Rule {
            let table = Arc::clone(self);
            mock!(Client::batch_get_item)
                .match_requests(|req| {
                    req.request_items()
                        .and_then(|items| items.get("photos"))
                        .is_some_and(|keys| {
                            keys.consistent_read() == Some(true)
                                && keys.keys().len() <= MAX_KEYS_PER_REQUEST
                        })
                })
                .then_compute_output(move |req| table.answer(req))
        }

        fn answer(
            &self,
            req: &aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput,
        ) -> BatchGetItemOutput {
            let keys = req.request_items().expect("items")["photos"]
                .keys()
                .to_vec();
            let mut requests = self.requests.lock().expect("lock");
            let call = requests.len();
            requests.push(keys.clone());
            let left = (self.unprocessed)(call).min(keys.len());
            let (served, unprocessed) = keys.split_at(keys.len() - left);
            let found: Vec<SdkItem> = served
                .iter()
                .filter_map(|key| {
                    self.items
                        .iter()
                        .find(|item| {
                            key.iter()
                                .all(|(name, value)| item.get(name) == Some(value))
                        })
                        .cloned()
                })
                // Answers come in no particular order.
                .rev()
                .collect();
            let mut output = BatchGetItemOutput::builder().responses("photos", found);
            if !unprocessed.is_empty() {
                output = output.unprocessed_keys(
                    "photos",
                    KeysAndAttributes::builder()
                        .set_keys(Some(unprocessed.to_vec()))
                        .consistent_read(true)
                        .build()
                        .expect("keys"),
                );
            }
            output.build()
        }

        pub(crate) fn request_sizes(&self) -> Vec<usize> {
            self.requests
                .lock()
                .expect("lock")
                .iter()
                .map(Vec::len)
                .collect()
        }
    }

    async fn check(client: &Client, targets: &[PurgeTarget]) -> Vec<SupersedeOutcome> {
        check_all(client, "photos", &template(), targets, &NO_WAIT)
            .await
            .expect("checked")
    }

    pub(crate) fn never(_: usize) -> usize {
        0
    }

    #[tokio::test]
    async fn one_key_one_request() {
        let table = FakeTable::new(vec![item("p0", "image/jpeg")], never);
        let rule = table.rule();
        let outcomes = check(&client_with_mode(RuleMode::MatchAny, &[&rule]), &targets(1)).await;
        assert_eq!(outcomes, [SupersedeOutcome::Superseded]);
        assert_eq!(table.request_sizes(), [1]);
    }

    #[tokio::test]
    async fn reads_are_consistent_and_projected_to_the_key_and_template_attributes() {
        let rule = mock!(Client::batch_get_item)
            .match_requests(|req| {
                let keys = &req.request_items().expect("items")["photos"];
                let names = keys.expression_attribute_names().expect("names");
                keys.consistent_read() == Some(true)
                    && keys.projection_expression() == Some("#p0, #p1, #p2")
                    && names.len() == 3
                    && names["#p0"] == "n"
                    && names["#p1"] == "photo_id"
                    && names["#p2"] == "type"
            })
            .then_output(|| BatchGetItemOutput::builder().build());
        let outcomes = check(
            &client_with_mode(RuleMode::Sequential, &[&rule]),
            &targets(1),
        )
        .await;
        assert_eq!(outcomes, [SupersedeOutcome::Purge]);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn requests_hold_at_most_100_keys() {
        for (count, sizes) in [(100, vec![100]), (101, vec![100, 1]), (1000, vec![100; 10])] {
            // Every third item exists again with the same object, every fifth with another.
            let items = (0..count)
                .filter_map(|i| match (i % 3, i % 5) {
                    (0, _) => Some(item(&format!("p{i}"), "image/jpeg")),
                    (_, 0) => Some(item(&format!("p{i}"), "image/png")),
                    _ => None,
                })
                .collect();
            let table = FakeTable::new(items, never);
            let rule = table.rule();
            let outcomes = check(
                &client_with_mode(RuleMode::MatchAny, &[&rule]),
                &targets(count),
            )
            .await;
            let mut request_sizes = table.request_sizes();
            request_sizes.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(request_sizes, sizes, "{count} keys");
            for (i, outcome) in outcomes.iter().enumerate() {
                let expected = if i % 3 == 0 {
                    SupersedeOutcome::Superseded
                } else {
                    SupersedeOutcome::Purge
                };
                assert_eq!(outcome, &expected, "target {i} of {count}");
            }
        }
    }

    #[tokio::test]
    async fn a_mixed_answer_supersedes_only_the_items_that_kept_their_object() {
        let items = vec![item("p0", "image/jpeg"), item("p1", "image/png"), {
            let mut retyped = item("p2", "x");
            retyped.insert("type".into(), AttributeValue::Bool(true));
            retyped
        }];
        let table = FakeTable::new(items, never);
        let rule = table.rule();
        let outcomes = check(&client_with_mode(RuleMode::MatchAny, &[&rule]), &targets(4)).await;
        assert_eq!(
            outcomes,
            [
                SupersedeOutcome::Superseded,
                SupersedeOutcome::Purge, // re-created, pointing at another object
                SupersedeOutcome::Purge, // re-created, template no longer renders
                SupersedeOutcome::Purge, // absent
            ]
        );
    }

    #[tokio::test]
    async fn the_same_item_twice_is_asked_for_once() {
        let table = FakeTable::new(vec![item("p0", "image/jpeg")], never);
        let rule = table.rule();
        let mut twice = targets(2);
        twice.push(target("p0"));
        // The same number spelled differently is the same item to DynamoDB.
        let mut respelled = target("p1");
        respelled.table_keys.insert("n".into(), json!({"N": "7.0"}));
        twice.push(respelled);
        let outcomes = check(&client_with_mode(RuleMode::MatchAny, &[&rule]), &twice).await;
        assert_eq!(
            outcomes,
            [
                SupersedeOutcome::Superseded,
                SupersedeOutcome::Purge,
                SupersedeOutcome::Superseded,
                SupersedeOutcome::Purge,
            ]
        );
        assert_eq!(table.request_sizes(), [2]);
    }

    #[tokio::test]
    async fn a_renumbered_key_still_finds_its_recreated_item() {
        // Asked as `7.0`, answered as `7`: matched by value, so the object is kept.
        let found = mock!(Client::batch_get_item)
            .match_requests(|req| {
                req.request_items().expect("items")["photos"].keys()[0].get("n")
                    == Some(&AttributeValue::N("7.0".into()))
            })
            .then_output(|| {
                BatchGetItemOutput::builder()
                    .responses("photos", vec![item("p0", "image/jpeg")])
                    .build()
            });
        let mut respelled = target("p0");
        respelled.table_keys.insert("n".into(), json!({"N": "7.0"}));
        let outcomes = check(
            &client_with_mode(RuleMode::Sequential, &[&found]),
            &[respelled],
        )
        .await;
        assert_eq!(outcomes, [SupersedeOutcome::Superseded]);
        assert_eq!(found.num_calls(), 1);
    }

    #[tokio::test]
    async fn unprocessed_keys_are_asked_again_until_answered() {
        // The first answer leaves 40 of 100 keys unprocessed, the second 10, the third none.
        fn shrinking(call: usize) -> usize {
            [40, 10, 0][call.min(2)]
        }
        let items = (0..100)
            .step_by(2)
            .map(|i| item(&format!("p{i}"), "image/jpeg"))
            .collect();
        let table = FakeTable::new(items, shrinking);
        let rule = table.rule();
        let outcomes = check(
            &client_with_mode(RuleMode::MatchAny, &[&rule]),
            &targets(100),
        )
        .await;
        assert_eq!(table.request_sizes(), [100, 40, 10]);
        for (i, outcome) in outcomes.iter().enumerate() {
            let expected = if i % 2 == 0 {
                SupersedeOutcome::Superseded
            } else {
                SupersedeOutcome::Purge
            };
            assert_eq!(outcome, &expected, "target {i}");
        }
    }

    #[tokio::test]
    async fn keys_still_unprocessed_after_the_budget_delete_nothing_and_are_named() {
        fn three_stuck(_: usize) -> usize {
            3
        }
        let table = FakeTable::new(Vec::new(), three_stuck);
        let rule = table.rule();
        let outcomes = check(
            &client_with_mode(RuleMode::MatchAny, &[&rule]),
            &targets(10),
        )
        .await;
        // The first request and one per retry, each leaving the last three keys.
        let retries = NO_WAIT.max_retries as usize;
        assert_eq!(
            table.request_sizes(),
            std::iter::once(10)
                .chain(std::iter::repeat_n(3, retries))
                .collect::<Vec<_>>()
        );
        assert_eq!(outcomes[..7], vec![SupersedeOutcome::Purge; 7]);
        for outcome in &outcomes[7..] {
            let SupersedeOutcome::Unchecked { detail } = outcome else {
                panic!("expected Unchecked, got {outcome:?}")
            };
            assert!(detail.contains("unprocessed after 6 retries"), "{detail}");
            assert!(detail.contains("the object is kept"), "{detail}");
        }
    }

    #[tokio::test]
    async fn the_retry_budget_also_ends_on_time() {
        fn always(_: usize) -> usize {
            usize::MAX
        }
        let table = FakeTable::new(Vec::new(), always);
        let rule = table.rule();
        let budget = Backoff {
            max_retries: u32::MAX,
            max_elapsed: Duration::ZERO,
            ..NO_WAIT
        };
        let outcomes = check_all(
            &client_with_mode(RuleMode::MatchAny, &[&rule]),
            "photos",
            &template(),
            &targets(2),
            &budget,
        )
        .await
        .expect("checked");
        assert_eq!(table.request_sizes(), [2], "no retry once the time is up");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, SupersedeOutcome::Unchecked { .. })),
            "{outcomes:?}"
        );
    }

    fn batch_error(code: &'static str, message: &'static str) -> Rule {
        mock!(Client::batch_get_item).then_error(move || {
            BatchGetItemError::generic(ErrorMetadata::builder().code(code).message(message).build())
        })
    }

    #[tokio::test]
    async fn a_throttled_request_is_a_retryable_error() {
        let rule = batch_error(
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        );
        let client = client_with_mode(RuleMode::Sequential, &[&rule]);
        let err = check_all(&client, "photos", &template(), &targets(3), &NO_WAIT)
            .await
            .expect_err("throttled");
        assert_eq!(err.error_type(), crate::error::names::THROTTLED);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn access_denied_is_named_and_not_retried() {
        let rule = batch_error(
            "AccessDeniedException",
            "not authorized to perform: dynamodb:BatchGetItem",
        );
        let client = client_with_mode(RuleMode::Sequential, &[&rule]);
        let err = check_all(&client, "photos", &template(), &targets(1), &NO_WAIT)
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), crate::error::names::ACCESS_DENIED);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("dynamodb:BatchGetItem"), "{err}");
    }

    #[tokio::test]
    async fn transient_errors_stay_task_errors() {
        let rule = batch_error("InternalServerError", "try again");
        let client = client_with_mode(RuleMode::Sequential, &[&rule]);
        let err = check_all(&client, "photos", &template(), &targets(1), &NO_WAIT)
            .await
            .expect_err("transient");
        assert!(err.is_retryable(), "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_batch_is_asked_key_by_key_and_only_the_culprit_is_rejected() {
        let refused = batch_error(
            "ValidationException",
            "The provided key element does not match the schema",
        );
        let culprit = mock!(Client::get_item)
            .match_requests(|req| {
                req.consistent_read() == Some(true)
                    && req.key().and_then(|k| k.get("photo_id"))
                        == Some(&AttributeValue::S("p1".into()))
            })
            .then_error(|| {
                GetItemError::generic(
                    ErrorMetadata::builder()
                        .code("ValidationException")
                        .message("The provided key element does not match the schema")
                        .build(),
                )
            });
        let recreated = mock!(Client::get_item)
            .match_requests(|req| {
                req.key().and_then(|k| k.get("photo_id")) == Some(&AttributeValue::S("p0".into()))
                    && req.projection_expression() == Some("#p0, #p1, #p2")
            })
            .then_output(|| {
                GetItemOutput::builder()
                    .set_item(Some(item("p0", "image/jpeg")))
                    .build()
            });
        let absent = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
        let client = client_with_mode(
            RuleMode::MatchAny,
            &[&refused, &culprit, &recreated, &absent],
        );
        let outcomes = check(&client, &targets(3)).await;
        assert_eq!(outcomes[0], SupersedeOutcome::Superseded);
        assert_eq!(
            outcomes[1],
            SupersedeOutcome::KeysRejected {
                detail: "GetItem on table \"photos\" refused the record's keys: \
                         ValidationException: The provided key element does not match the schema"
                    .into()
            }
        );
        assert_eq!(outcomes[2], SupersedeOutcome::Purge);
        assert_eq!(refused.num_calls(), 1);
        assert_eq!(
            culprit.num_calls() + recreated.num_calls() + absent.num_calls(),
            3
        );
    }

    #[tokio::test]
    async fn unusable_keys_reject_their_target_without_a_read() {
        let table = FakeTable::new(Vec::new(), never);
        let rule = table.rule();
        let mut bad = target("p0");
        bad.table_keys.insert("n".into(), json!({"BOOL": true}));
        let outcomes = check(
            &client_with_mode(RuleMode::MatchAny, &[&rule]),
            &[bad, target("p1")],
        )
        .await;
        assert!(
            matches!(&outcomes[0], SupersedeOutcome::KeysRejected { detail } if detail.contains("`n`")),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[1], SupersedeOutcome::Purge);
        assert_eq!(table.request_sizes(), [1]);
    }

    #[tokio::test]
    async fn no_targets_no_request() {
        let table = FakeTable::new(Vec::new(), never);
        let rule = table.rule();
        assert!(
            check(&client_with_mode(RuleMode::MatchAny, &[&rule]), &[])
                .await
                .is_empty()
        );
        assert!(table.request_sizes().is_empty());
    }
}
