//! The dispatcher's handler against mocked CloudFront and SNS: an SQS batch in; the plan
//! accepted, refused, throttled; aged and malformed messages reported.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_cloudfront::config::retry::RetryConfig as CfRetry;
use aws_sdk_cloudfront::operation::create_invalidation::{
    CreateInvalidationError, CreateInvalidationOutput,
};
use aws_sdk_cloudfront::operation::get_invalidation::GetInvalidationOutput;
use aws_sdk_cloudfront::operation::list_invalidations::{
    ListInvalidationsError, ListInvalidationsOutput,
};
use aws_sdk_cloudfront::types::error::{AccessDenied, TooManyInvalidationsInProgress};
use aws_sdk_cloudfront::types::{
    Invalidation, InvalidationBatch as CfBatch, InvalidationList, InvalidationSummary, Paths,
};
use aws_sdk_sns::config::retry::RetryConfig as SnsRetry;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_sdk_sns::types::error::InternalErrorException;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime as SmithyTime;
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::handler::{DISPATCHER_NAME, Dispatcher, dispatch};
use super::plan::PlanPolicy;
use crate::contract::{DeferralCause, DeferredBatch, InvalidationBatch};
use crate::error::names;
use crate::paths::caller_reference;
use crate::schema_check::assert_valid;

const DIST: &str = "E2QWRUHEXAMPLE";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:purgeflow-failures";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T01:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn dispatcher() -> Dispatcher {
    Dispatcher {
        distribution_id: DIST.into(),
        topic_arn: TOPIC.into(),
        policy: PlanPolicy::default(),
        reserved_wildcards: 2,
        max_age: TimeDelta::hours(1),
        mac: crate::signing::MacPolicy::unsigned_allowed(),
    }
}

fn deferred(name: &str, paths: &[&str], minutes_ago: i64) -> DeferredBatch {
    let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    DeferredBatch {
        batch: InvalidationBatch {
            distribution_id: DIST.into(),
            caller_reference: caller_reference(name, DIST, &paths),
            paths,
        },
        batch_id: name.into(),
        execution_name: name.into(),
        execution_arn: format!("arn:aws:states:eu-west-1:123456789012:express:purge:{name}:1"),
        deferred_at: (now() - TimeDelta::minutes(minutes_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        error: DeferralCause::TooManyInvalidationsInProgress,
    }
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.into());
    message.body = Some(body);
    message
}

fn event(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

fn body(deferred: &DeferredBatch) -> String {
    let value = serde_json::to_value(deferred).expect("json");
    assert_valid("deferred-batch.schema.json", &value);
    value.to_string()
}

fn cloudfront(rules: &[&Rule]) -> aws_sdk_cloudfront::Client {
    mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, rules, |conf| conf
        .retry_config(CfRetry::disabled()))
}

fn sns(rules: &[&Rule]) -> aws_sdk_sns::Client {
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules, |conf| conf
        .retry_config(SnsRetry::disabled()))
}

/// ListInvalidations answering `items` (id, status, minutes ago), in one page.
fn listed(items: &'static [(&'static str, &'static str, i64)]) -> Rule {
    mock!(aws_sdk_cloudfront::Client::list_invalidations).then_output(move || {
        let summaries = items.iter().map(|(id, status, ago)| {
            InvalidationSummary::builder()
                .id(*id)
                .status(*status)
                .create_time(SmithyTime::from_secs(
                    (now() - TimeDelta::minutes(*ago)).timestamp(),
                ))
                .build()
                .expect("summary")
        });
        ListInvalidationsOutput::builder()
            .invalidation_list(
                InvalidationList::builder()
                    .marker("")
                    .max_items(100)
                    .is_truncated(false)
                    .quantity(i32::try_from(items.len()).expect("small"))
                    .set_items(Some(summaries.collect()))
                    .build()
                    .expect("list"),
            )
            .build()
    })
}

/// GetInvalidation of an invalidation in progress holding `files` file paths and `wildcards`
/// wildcards.
fn in_progress(id: &'static str, files: usize, wildcards: usize) -> Rule {
    mock!(aws_sdk_cloudfront::Client::get_invalidation)
        .match_requests(move |req| req.id() == Some(id))
        .then_output(move || {
            let items: Vec<String> = (0..files)
                .map(|i| format!("/busy/{i}.jpg"))
                .chain((0..wildcards).map(|i| format!("/busy/d{i}/*")))
                .collect();
            GetInvalidationOutput::builder()
                .invalidation(
                    Invalidation::builder()
                        .id(id)
                        .status("InProgress")
                        .create_time(SmithyTime::from_secs(now().timestamp()))
                        .invalidation_batch(
                            CfBatch::builder()
                                .caller_reference(format!("other-{id}"))
                                .paths(
                                    Paths::builder()
                                        .quantity(i32::try_from(items.len()).expect("small"))
                                        .set_items(Some(items))
                                        .build()
                                        .expect("paths"),
                                )
                                .build()
                                .expect("batch"),
                        )
                        .build()
                        .expect("invalidation"),
                )
                .build()
        })
}

fn created() -> Rule {
    mock!(aws_sdk_cloudfront::Client::create_invalidation).then_output(|| accepted("IDISPATCHED"))
}

/// CreateInvalidation's answer: invalidation `id`, in progress since now.
fn accepted(id: &str) -> CreateInvalidationOutput {
    CreateInvalidationOutput::builder()
        .invalidation(
            Invalidation::builder()
                .id(id)
                .status("InProgress")
                .create_time(SmithyTime::from_secs(now().timestamp()))
                .build()
                .expect("invalidation"),
        )
        .build()
}

fn published() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("sns-1").build())
}

/// The report bodies published, parsed.
fn reports(rule: &Rule) -> usize {
    rule.num_calls()
}

fn failures(outcome: &super::Outcome) -> Vec<String> {
    outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn an_accepted_plan_deletes_the_messages_it_covers_across_executions() {
    let list = listed(&[("IOLD", "Completed", 30)]);
    let create = mock!(aws_sdk_cloudfront::Client::create_invalidation)
        .match_requests(|req| {
            let batch = req.invalidation_batch().expect("batch");
            let paths = batch.paths().expect("paths").items();
            req.distribution_id() == Some(DIST)
                && paths == ["/a/1.jpg", "/a/2.jpg", "/b/1.jpg"]
                && batch.caller_reference().starts_with("purgeflow-")
        })
        .then_output(|| accepted("IDISPATCHED"));
    let cf = cloudfront(&[&list, &create]);
    let publish = published();
    let sns = sns(&[&publish]);
    let messages = vec![
        message(
            "m2",
            body(&deferred("exec-2", &["/a/2.jpg", "/b/1.jpg"], 1)),
        ),
        message(
            "m1",
            body(&deferred("exec-1", &["/a/1.jpg", "/a/2.jpg"], 2)),
        ),
    ];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert_eq!(create.num_calls(), 1, "one request for both executions");
    assert_eq!(outcome.covered, ["m1", "m2"], "oldest first");
    assert!(failures(&outcome).is_empty());
    assert_eq!(
        outcome
            .invalidation
            .as_ref()
            .map(|i| i.invalidation_id.as_str()),
        Some("IDISPATCHED")
    );
    assert_eq!(reports(&publish), 0);
}

#[tokio::test]
async fn the_plan_fits_the_room_cloudfront_says_is_free() {
    // 2,998 file paths and 12 wildcards in progress: 2 paths free and, with 2 slots kept for
    // people, 1 wildcard. Three pending paths in one directory fold into it.
    let list = listed(&[
        ("IBUSY1", "InProgress", 1),
        ("IBUSY2", "InProgress", 2),
        ("IDONE", "Completed", 3),
    ]);
    let busy1 = in_progress("IBUSY1", 2000, 12);
    let busy2 = in_progress("IBUSY2", 998, 0);
    let create = mock!(aws_sdk_cloudfront::Client::create_invalidation)
        .match_requests(|req| {
            req.invalidation_batch()
                .and_then(|b| b.paths())
                .is_some_and(|p| p.items() == ["/photos/u1/*"])
        })
        .then_output(|| accepted("IFOLDED"));
    let cf = cloudfront(&[&list, &busy1, &busy2, &create]);
    let sns = sns(&[]);
    let messages = vec![message(
        "m1",
        body(&deferred(
            "exec-1",
            &["/photos/u1/a.jpg", "/photos/u1/b.jpg", "/photos/u1/c.jpg"],
            1,
        )),
    )];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    let busy = outcome.in_progress.expect("counted");
    assert_eq!(
        (busy.invalidations, busy.paths, busy.wildcards),
        (2, 2998, 12)
    );
    assert_eq!(create.num_calls(), 1);
    assert_eq!(outcome.covered, ["m1"]);
}

#[tokio::test]
async fn a_refused_or_throttled_plan_sends_every_message_back() {
    let refusals = [
        (
            "TooManyInvalidationsInProgress",
            names::TOO_MANY_INVALIDATIONS,
        ),
        ("Throttling", names::THROTTLED),
    ];
    for (code, name) in refusals {
        let list = listed(&[]);
        let create = mock!(aws_sdk_cloudfront::Client::create_invalidation).then_error(move || {
            if code == "TooManyInvalidationsInProgress" {
                CreateInvalidationError::TooManyInvalidationsInProgress(
                    TooManyInvalidationsInProgress::builder()
                        .message("another dispatcher took the room")
                        .build(),
                )
            } else {
                CreateInvalidationError::generic(
                    ErrorMetadata::builder()
                        .code(code)
                        .message("Rate exceeded")
                        .build(),
                )
            }
        });
        let cf = cloudfront(&[&list, &create]);
        let sns = sns(&[]);
        let messages = vec![
            message("m1", body(&deferred("exec-1", &["/a/1.jpg"], 1))),
            message("m2", body(&deferred("exec-2", &["/b/1.jpg"], 2))),
        ];
        let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
            .await
            .expect("a refusal is not a failure of the dispatcher");
        assert_eq!(outcome.refused, Some(name), "{code}");
        assert!(outcome.covered.is_empty());
        assert_eq!(failures(&outcome), ["m2", "m1"], "{code}");
    }
}

#[tokio::test]
async fn any_other_cloudfront_error_fails_the_invocation() {
    let list = mock!(aws_sdk_cloudfront::Client::list_invalidations).then_error(|| {
        ListInvalidationsError::AccessDenied(AccessDenied::builder().message("denied").build())
    });
    let cf = cloudfront(&[&list]);
    let sns = sns(&[]);
    let messages = vec![message("m1", body(&deferred("exec-1", &["/a/1.jpg"], 1)))];
    let err = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect_err("the whole batch comes back");
    assert!(!err.is_retryable(), "{err}");
}

#[tokio::test]
async fn an_aged_message_not_covered_is_reported_for_replay_then_deleted() {
    // The distribution is full: nothing can be planned.
    let list = listed(&[("IFULL", "InProgress", 1)]);
    let full = in_progress("IFULL", 3000, 15);
    let cf = cloudfront(&[&list, &full]);
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|req| {
            let report: Value =
                serde_json::from_str(req.message().unwrap_or_default()).expect("json");
            assert_valid("failure-report.schema.json", &report);
            report["executionName"] == json!("exec-old")
                && report["failedInvalidations"][0]["error"] == json!(names::TOO_MANY_INVALIDATIONS)
                && report["replayInput"]["batchId"] == json!("exec-old")
                && report["replayInput"]["batches"][0]["paths"] == json!(["/old/1.jpg"])
        })
        .then_output(|| PublishOutput::builder().message_id("sns-1").build());
    let sns = sns(&[&publish]);
    let messages = vec![
        message(
            "young",
            body(&deferred("exec-young", &["/young/1.jpg"], 59)),
        ),
        message("old", body(&deferred("exec-old", &["/old/1.jpg"], 61))),
    ];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert_eq!(outcome.sent, None);
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(outcome.expired, ["old"]);
    assert_eq!(failures(&outcome), ["young"]);
}

/// A batch the backlog gate deferred (`PurgeFlow.BacklogWaiting`, no CloudFront refusal) is
/// planned with the others and deleted when covered; aged, it is reported under its own cause.
#[tokio::test]
async fn a_batch_the_backlog_gate_deferred_is_dispatched_like_a_refused_one() {
    let gated = |name: &str, paths: &[&str], minutes_ago: i64| DeferredBatch {
        error: DeferralCause::BacklogWaiting,
        ..deferred(name, paths, minutes_ago)
    };
    let gated_body = body(&gated("exec-gated", &["/g/1.jpg"], 1));
    assert!(gated_body.contains(r#""error":"PurgeFlow.BacklogWaiting""#));
    let list = listed(&[]);
    let create = mock!(aws_sdk_cloudfront::Client::create_invalidation)
        .match_requests(|req| {
            req.invalidation_batch()
                .and_then(|b| b.paths())
                .is_some_and(|p| p.items() == ["/g/1.jpg", "/r/1.jpg"])
        })
        .then_output(|| accepted("IBOTH"));
    let cf = cloudfront(&[&list, &create]);
    let sns_none = sns(&[]);
    let messages = vec![
        message("gated", gated_body),
        message("refused", body(&deferred("exec-refused", &["/r/1.jpg"], 2))),
    ];
    let outcome = dispatch(&cf, &sns_none, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert!(outcome.malformed.is_empty(), "{:?}", outcome.malformed);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(outcome.covered, ["refused", "gated"]);
    assert!(failures(&outcome).is_empty());

    // Aged and not covered (the distribution is full): reported for replay under its cause.
    let list = listed(&[("IFULL", "InProgress", 1)]);
    let full = in_progress("IFULL", 3000, 15);
    let cf = cloudfront(&[&list, &full]);
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|req| {
            let report: Value =
                serde_json::from_str(req.message().unwrap_or_default()).expect("json");
            assert_valid("failure-report.schema.json", &report);
            report["failedInvalidations"][0]["error"] == json!(names::BACKLOG_WAITING)
                && report["replayInput"]["batches"][0]["paths"] == json!(["/g/old.jpg"])
        })
        .then_output(|| PublishOutput::builder().message_id("sns-1").build());
    let sns = sns(&[&publish]);
    let messages = vec![message(
        "old",
        body(&gated("exec-old", &["/g/old.jpg"], 61)),
    )];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(outcome.expired, ["old"]);
}

#[tokio::test]
async fn an_aged_message_whose_report_fails_stays_on_the_queue() {
    let list = listed(&[("IFULL", "InProgress", 1)]);
    let full = in_progress("IFULL", 3000, 15);
    let cf = cloudfront(&[&list, &full]);
    let publish = mock!(aws_sdk_sns::Client::publish).then_error(|| {
        PublishError::InternalErrorException(
            InternalErrorException::builder().message("down").build(),
        )
    });
    let sns = sns(&[&publish]);
    let messages = vec![message(
        "old",
        body(&deferred("exec-old", &["/old/1.jpg"], 90)),
    )];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert!(outcome.expired.is_empty());
    assert_eq!(failures(&outcome), ["old"]);
}

#[tokio::test]
async fn malformed_messages_are_reported_by_id_and_kept_for_the_dead_letter_queue() {
    let list = listed(&[]);
    let create = created();
    let cf = cloudfront(&[&list, &create]);
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|req| {
            let report: Value =
                serde_json::from_str(req.message().unwrap_or_default()).expect("json");
            assert_valid("failure-report.schema.json", &report);
            report["executionName"] == json!(DISPATCHER_NAME)
                && report["caught"]["Error"] == json!(names::INVALID_INPUT)
                && report["replayInput"].is_null()
        })
        .then_output(|| PublishOutput::builder().message_id("sns-1").build());
    let sns = sns(&[&publish]);
    let mut other = deferred("exec-3", &["/c/1.jpg"], 1);
    other.batch.distribution_id = "EOTHERDIST".into();
    let mut outside = deferred("exec-4", &["/d/1.jpg"], 1);
    outside.batch.paths = vec!["/d/../etc/passwd".into()];
    let messages = vec![
        message("good", body(&deferred("exec-1", &["/a/1.jpg"], 1))),
        message("not-json", "{\"batch\": ".into()),
        message("other-dist", body(&other)),
        message("dot-dot", serde_json::to_string(&outside).expect("json")),
    ];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert_eq!(outcome.covered, ["good"]);
    assert_eq!(outcome.malformed, ["not-json", "other-dist", "dot-dot"]);
    assert_eq!(failures(&outcome), ["not-json", "other-dist", "dot-dot"]);
    assert_eq!(publish.num_calls(), 3, "each one reported, by id");
}

#[tokio::test]
async fn a_malformed_message_is_reported_at_its_first_receive_only() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("sns-1").build());
    let sns = sns(&[&publish]);
    let cf = cloudfront(&[]);
    let received = |id: &str, receives: Option<&str>| {
        let mut m = message(id, "{\"batch\": ".into());
        if let Some(n) = receives {
            m.attributes
                .insert("ApproximateReceiveCount".into(), n.into());
        }
        m
    };
    let messages = vec![
        received("first", Some("1")),
        received("again", Some("2")),
        received("much-later", Some("700")),
        received("unknown", None),
    ];
    let outcome = dispatch(&cf, &sns, &dispatcher(), event(messages), now())
        .await
        .expect("dispatched");
    assert_eq!(
        outcome.malformed,
        ["first", "again", "much-later", "unknown"]
    );
    assert_eq!(
        failures(&outcome),
        ["first", "again", "much-later", "unknown"],
        "all kept for the dead-letter queue"
    );
    assert_eq!(
        publish.num_calls(),
        2,
        "the first receive, and the one that does not say"
    );
}

#[tokio::test]
async fn the_reason_names_the_message_and_what_is_wrong() {
    let area = crate::paths::FoldPolicy::default();
    let bad =
        super::messages::read(&message("m-7", "nope".into()), DIST, &area).expect_err("malformed");
    assert_eq!(bad.message_id, "m-7");
    assert!(
        bad.reason.starts_with("the body is not a deferred batch"),
        "{}",
        bad.reason
    );
    let mut late = deferred("exec-1", &["/a/1.jpg"], 1);
    late.deferred_at = "yesterday".into();
    let late = serde_json::to_string(&late).expect("json");
    let bad = super::messages::read(&message("m-8", late), DIST, &area).expect_err("malformed");
    assert!(
        bad.reason.contains("deferredAt \"yesterday\""),
        "{}",
        bad.reason
    );
    let mut other = deferred("exec-1", &["/a/1.jpg"], 1);
    other.batch.distribution_id = "EOTHERDIST".into();
    let bad =
        super::messages::read(&message("m-9", body(&other)), DIST, &area).expect_err("malformed");
    assert!(
        bad.reason.contains("not PURGE_DISTRIBUTION_ID"),
        "{}",
        bad.reason
    );
}

/// `dispatch_with_queue`: the event and more of the queue, planned together.
#[cfg(feature = "sqs")]
mod beyond_the_event {
    use super::*;
    use crate::dispatch::extra::{Queue, dispatch_with_queue};
    use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationInput;
    use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
    use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
    use aws_sdk_sqs::types::Message;

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/purgeflow-deferred";

    fn queued(id: &str, body: String) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("handle-{id}"))
            .body(body)
            .build()
    }

    /// The queue gives `extra` (one ReceiveMessage), then nothing.
    fn receives(extra: Vec<Message>) -> (Rule, Rule) {
        let first = mock!(aws_sdk_sqs::Client::receive_message)
            .match_requests(|req| {
                req.queue_url() == Some(QUEUE) && req.wait_time_seconds() == Some(0)
            })
            .then_output(move || {
                ReceiveMessageOutput::builder()
                    .set_messages(Some(extra.clone()))
                    .build()
            });
        let dry = mock!(aws_sdk_sqs::Client::receive_message)
            .then_output(|| ReceiveMessageOutput::builder().build());
        (first, dry)
    }

    fn deleted() -> Rule {
        mock!(aws_sdk_sqs::Client::delete_message_batch).then_output(|| {
            DeleteMessageBatchOutput::builder()
                .set_successful(Some(Vec::new()))
                .set_failed(Some(Vec::new()))
                .build()
                .expect("output")
        })
    }

    /// A message of the event padded (an unknown field, which a deferred batch ignores) so the
    /// event is full: Lambda's 6 MB cut it.
    fn filling(id: &str, deferred: &DeferredBatch) -> SqsMessage {
        let mut value = serde_json::to_value(deferred).expect("json");
        value["padding"] = json!("x".repeat(6 * 1024 * 1024 - 200 * 1024));
        let mut m = message(id, value.to_string());
        m.receipt_handle = Some("event-handle".into());
        m
    }

    fn queue(sqs: &aws_sdk_sqs::Client) -> Queue<'_> {
        Queue {
            sqs,
            url: QUEUE,
            retry_seconds: 5,
            extra_messages: 100,
        }
    }

    #[tokio::test]
    async fn extra_messages_are_planned_with_the_event_and_deleted_when_covered() {
        let list = listed(&[]);
        let create = mock!(aws_sdk_cloudfront::Client::create_invalidation)
            .match_requests(|req: &CreateInvalidationInput| {
                let paths = req
                    .invalidation_batch()
                    .and_then(|b| b.paths())
                    .map(|p| p.items().to_vec())
                    .unwrap_or_default();
                paths == ["/a/1.jpg", "/b/2.jpg", "/c/3.jpg"]
            })
            .then_output(|| accepted("IDISPATCHED"));
        let cf = cloudfront(&[&list, &create]);
        let sns = sns(&[]);
        let (first, dry) = receives(vec![
            queued("extra-1", body(&deferred("exec-2", &["/b/2.jpg"], 1))),
            queued("extra-2", body(&deferred("exec-3", &["/c/3.jpg"], 1))),
        ]);
        let delete = deleted();
        // In order: the extra messages, a dry receive, then the delete (and no other call:
        // nothing is returned, so no visibility changes).
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&first, &dry, &delete]);
        let messages = vec![filling("event-1", &deferred("exec-1", &["/a/1.jpg"], 1))];
        let outcome = dispatch_with_queue(
            &cf,
            &sns,
            queue(&sqs),
            &dispatcher(),
            event(messages),
            now(),
        )
        .await
        .expect("dispatched");
        assert_eq!(
            create.num_calls(),
            1,
            "one plan for the event and the extra messages"
        );
        assert_eq!(outcome.covered.len(), 3);
        assert!(failures(&outcome).is_empty());
        assert_eq!(
            delete.num_calls(),
            1,
            "the two extra messages, deleted by the dispatcher"
        );
    }

    #[tokio::test]
    async fn what_is_not_covered_comes_back_soon_and_the_response_names_the_events_only() {
        let list = listed(&[]);
        let refused = mock!(aws_sdk_cloudfront::Client::create_invalidation).then_error(|| {
            CreateInvalidationError::TooManyInvalidationsInProgress(
                TooManyInvalidationsInProgress::builder()
                    .message("full")
                    .build(),
            )
        });
        let cf = cloudfront(&[&list, &refused]);
        let sns = sns(&[]);
        let (first, dry) = receives(vec![queued(
            "extra-1",
            body(&deferred("exec-2", &["/b/2.jpg"], 1)),
        )]);
        let shorten = mock!(aws_sdk_sqs::Client::change_message_visibility_batch)
            .match_requests(|req| {
                let mut handles: Vec<&str> =
                    req.entries().iter().map(|e| e.receipt_handle()).collect();
                handles.sort_unstable();
                handles == ["event-handle", "handle-extra-1"]
                    && req
                        .entries()
                        .iter()
                        .all(|e| e.visibility_timeout() == Some(5))
            })
            .then_output(|| {
                ChangeMessageVisibilityBatchOutput::builder()
                    .set_successful(Some(Vec::new()))
                    .set_failed(Some(Vec::new()))
                    .build()
                    .expect("output")
            });
        // In order: the extra message, a dry receive, then the short visibility (and no delete).
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&first, &dry, &shorten]);
        let from_event = filling("event-1", &deferred("exec-1", &["/a/1.jpg"], 1));
        let outcome = dispatch_with_queue(
            &cf,
            &sns,
            queue(&sqs),
            &dispatcher(),
            event(vec![from_event]),
            now(),
        )
        .await
        .expect("dispatched");
        assert_eq!(outcome.refused, Some(names::TOO_MANY_INVALIDATIONS));
        assert_eq!(outcome.waiting.len(), 2);
        assert_eq!(
            failures(&outcome),
            ["event-1"],
            "the extra message is not the mapping's to return"
        );
        assert_eq!(shorten.num_calls(), 1, "both get the short visibility");
    }

    #[tokio::test]
    async fn an_event_the_queue_did_not_fill_to_the_limit_reads_nothing_more() {
        let list = listed(&[]);
        let create = created();
        let cf = cloudfront(&[&list, &create]);
        let sns = sns(&[]);
        // No SQS rule at all: a ReceiveMessage would fail the test.
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::Sequential, []);
        let messages = vec![message(
            "event-1",
            body(&deferred("exec-1", &["/a/1.jpg"], 1)),
        )];
        let outcome = dispatch_with_queue(
            &cf,
            &sns,
            queue(&sqs),
            &dispatcher(),
            event(messages),
            now(),
        )
        .await
        .expect("dispatched");
        assert_eq!(outcome.covered, ["event-1"]);
        assert!(failures(&outcome).is_empty());
    }
}
