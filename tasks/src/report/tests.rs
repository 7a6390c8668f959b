use super::build::*;
use super::text::*;
use super::*;
use std::collections::BTreeSet;

use crate::contract::{CaughtError, DeleteKind, RejectionReason};
use crate::contract::{
    DeleteFailure, DroppedBatch, ExecutionInput, FailedInvalidation, FailureReport,
    InvalidationBatch, PurgeTarget, Rejection, RemovedRecord, ReportInput,
};
use crate::schema_check::assert_valid;
use serde_json::json;

const ARN: &str = "arn:aws:states:eu-west-1:123456789012:express:purge:batch-1:4c2a9a0e-1b7d-4f4e-9d55-0b1f2c3d4e5f";

fn attribute_map(value: serde_json::Value) -> crate::contract::AttributeMap {
    serde_json::from_value(value).expect("valid attribute map")
}

fn target(key: &str) -> PurgeTarget {
    PurgeTarget {
        bucket: "photos-bucket".into(),
        key: key.into(),
        paths: vec![format!("/{key}")],
        event_id: format!("event-{key}"),
        table_keys: attribute_map(json!({"photo_id": {"S": key}})),
    }
}

fn rejection(i: usize) -> Rejection {
    Rejection {
        event_id: format!("event-{i}"),
        keys: attribute_map(json!({"photo_id": {"S": format!("p{i}")}})),
        reason: RejectionReason::MissingAttribute,
        detail: "attribute `type` is missing".into(),
    }
}

fn delete_failure(key: &str) -> DeleteFailure {
    DeleteFailure {
        target: target(key),
        code: "AccessDenied".into(),
        message: "Access Denied".into(),
    }
}

fn failed_invalidation(i: usize) -> FailedInvalidation {
    FailedInvalidation {
        batch: InvalidationBatch {
            distribution_id: "E2QWRUHEXAMPLE".into(),
            caller_reference: format!("purgeflow-{i}"),
            paths: vec![format!("/img/{i}.jpg")],
        },
        error: "PurgeFlow.TooManyInvalidationsInProgress".into(),
        cause: "too many CloudFront invalidations in progress".into(),
    }
}

fn report_input() -> ReportInput {
    ReportInput {
        execution_name: "batch-1".into(),
        execution_arn: Some(ARN.into()),
        execution_start_time: Some("2026-11-21T05:00:00.123Z".into()),
        batch_id: "batch-1".into(),
        rejections: vec![],
        delete_failures: vec![],
        failed_invalidations: vec![],
        dropped_batches: vec![],
        caught: None,
        original_input: None,
        input_signature: None,
    }
}

fn check(message: &ReportMessage) {
    let body: serde_json::Value = serde_json::from_str(&message.body).expect("body is JSON");
    assert_valid("failure-report.schema.json", &body);
    if let Some(replay) = body.get("replayInput").filter(|r| !r.is_null()) {
        assert_valid("execution-input.schema.json", replay);
    }
    if let Some(replay) = &message.report.replay_input {
        let kinds = [
            !replay.records.is_empty(),
            !replay.targets.is_empty(),
            !replay.batches.is_empty(),
        ];
        assert!(
            kinds.iter().filter(|&&held| held).count() <= 1,
            "a replay input of one kind: {replay:?}"
        );
    }
    assert!(message.subject.len() <= 100 && message.subject.is_ascii());
}

#[test]
fn console_url_follows_the_express_details_format() {
    assert_eq!(
        console_url(ARN, Some("2026-11-21T05:00:00.123Z")).as_deref(),
        Some(format!("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/express-executions/details/{ARN}?startDate=1795237200123").as_str())
    );
    let cn = "arn:aws-cn:states:cn-north-1:123456789012:express:purge:b:1";
    assert!(
        console_url(cn, None)
            .is_some_and(|u| u.starts_with("https://cn-north-1.console.amazonaws.cn/"))
    );
    assert_eq!(console_url("not-an-arn", None), None);
    assert_eq!(
        console_url("arn:aws:lambda:eu-west-1:1:function:x", None),
        None
    );
    assert_eq!(console_url("arn:aws:states:eu west/1:1:x", None), None);
}

#[test]
fn only_rejections_give_no_replay_input() {
    let mut input = report_input();
    input.rejections = vec![rejection(1), rejection(2)];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    check(message);
    assert_eq!(message.report.replay_input, None);
    assert_eq!(message.report.rejections.len(), 2);
    assert_eq!((message.report.part, message.report.parts), (1, 1));
    assert!(message.attributes.contains(&(
        attributes::KIND,
        "String.Array",
        r#"["rejected"]"#.to_owned()
    )));
    assert!(
        message
            .attributes
            .contains(&(attributes::REPLAYABLE, "String", "false".to_owned()))
    );
    assert!(
        message
            .report
            .console_url
            .as_deref()
            .is_some_and(|u| u.contains("#/express-executions/details/"))
    );
}

#[test]
fn failed_deletes_and_invalidations_are_replayed_in_separate_parts_and_nothing_else() {
    let mut input = report_input();
    input.rejections = vec![rejection(1)];
    input.delete_failures = vec![delete_failure("a.jpg"), delete_failure("b.jpg")];
    input.failed_invalidations = vec![failed_invalidation(7), failed_invalidation(8)];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(
        messages.len(),
        2,
        "one part per replay kind, though both would fit one message"
    );
    for message in &messages {
        check(message);
        assert_eq!(message.report.parts, 2);
    }
    let (deletes, invalidations) = (&messages[0], &messages[1]);

    let replay = deletes.report.replay_input.as_ref().expect("replayable");
    assert_eq!(replay.batch_id, "batch-1");
    assert!(replay.records.is_empty() && replay.batches.is_empty());
    assert_eq!(replay.targets, vec![target("a.jpg"), target("b.jpg")]);
    assert_eq!(
        deletes.report.rejections,
        vec![rejection(1)],
        "rejections ride along, listed once"
    );
    assert!(deletes.report.failed_invalidations.is_empty());
    assert!(deletes.attributes.contains(&(
        attributes::KIND,
        "String.Array",
        r#"["rejected","delete_failed"]"#.to_owned()
    )));
    assert!(
        deletes
            .subject
            .starts_with("purgeflow: purge incomplete (rejected, delete_failed) 1/2: "),
        "{}",
        deletes.subject
    );

    let replay = invalidations
        .report
        .replay_input
        .as_ref()
        .expect("replayable");
    assert_eq!(replay.batch_id, "batch-1");
    assert!(replay.records.is_empty() && replay.targets.is_empty());
    assert_eq!(
        replay.batches,
        vec![failed_invalidation(7).batch, failed_invalidation(8).batch]
    );
    assert!(
        invalidations.report.rejections.is_empty()
            && invalidations.report.delete_failures.is_empty()
    );
    assert!(invalidations.attributes.contains(&(
        attributes::KIND,
        "String.Array",
        r#"["invalidation_failed"]"#.to_owned()
    )));
    assert!(invalidations.attributes.contains(&(
        attributes::REPLAYABLE,
        "String",
        "true".to_owned()
    )));
}

#[test]
fn a_report_with_both_kinds_in_one_part_breaks_the_schema() {
    let mut input = report_input();
    input.delete_failures = vec![delete_failure("a.jpg")];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    let mut body: serde_json::Value = serde_json::from_str(&messages[0].body).expect("JSON");
    body["replayInput"]["batches"] =
        serde_json::to_value([failed_invalidation(7).batch]).expect("serialisable");
    crate::schema_check::assert_invalid("failure-report.schema.json", &body);
}

#[test]
fn a_caught_error_replays_a_mixed_original_input_one_kind_per_part() {
    let original = ExecutionInput {
        batch_id: "batch-1".into(),
        records: vec![],
        targets: vec![target("a.jpg")],
        batches: vec![failed_invalidation(7).batch],
        rejections: vec![],
        mac: None,
    };
    let mut input = report_input();
    input.caught = Some(CaughtError {
        error: "Lambda.ServiceException".into(),
        cause: "boom".into(),
    });
    input.original_input = Some(serde_json::to_value(&original).expect("serialises"));
    input.delete_failures = vec![delete_failure("a.jpg")];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 2);
    messages.iter().for_each(check);
    let replays: Vec<&ExecutionInput> = messages
        .iter()
        .map(|m| m.report.replay_input.as_ref().expect("replayable"))
        .collect();
    assert_eq!(
        (replays[0].targets.as_slice(), replays[0].batches.len()),
        (original.targets.as_slice(), 0)
    );
    assert_eq!(
        (replays[1].targets.len(), replays[1].batches.as_slice()),
        (0, original.batches.as_slice())
    );
    assert_eq!(
        messages[0].report.delete_failures.len(),
        1,
        "the listed failure is not replayed again"
    );
    assert!(messages.iter().all(|m| m.report.caught.is_some()));
}

#[test]
fn a_caught_task_error_replays_the_original_input() {
    let original = ExecutionInput {
        batch_id: "batch-1".into(),
        records: vec![RemovedRecord {
            event_id: "e1".into(),
            sequence_number: "100".into(),
            delete_kind: DeleteKind::User,
            keys: attribute_map(json!({"photo_id": {"S": "p1"}})),
            old_image: Some(attribute_map(
                json!({"photo_id": {"S": "p1"}, "type": {"S": "image/jpeg"}}),
            )),
        }],
        targets: vec![],
        batches: vec![],
        rejections: vec![],
        mac: None,
    };
    let mut input = report_input();
    input.caught = Some(CaughtError {
        error: "PurgeFlow.AccessDenied".into(),
        cause: "s3 denied access".into(),
    });
    input.original_input = Some(serde_json::to_value(&original).expect("serialises"));
    input.delete_failures = vec![delete_failure("a.jpg")];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1);
    check(&messages[0]);
    // The original input covers the failed delete: it is listed but not replayed twice.
    assert_eq!(messages[0].report.replay_input.as_ref(), Some(&original));
    assert_eq!(messages[0].report.delete_failures.len(), 1);
    assert!(
        messages[0]
            .attributes
            .iter()
            .any(|(n, _, v)| *n == attributes::KIND && v.contains("task_failed"))
    );
    assert!(
        summary(&input).ends_with("task failed with PurgeFlow.AccessDenied"),
        "{}",
        summary(&input)
    );
}

/// A task failed before the trigger's rejections (records too large to hand over) reached the
/// report's lists: they are reported from the original input, and not carried into the replay,
/// which would report them again.
#[test]
fn a_caught_task_error_reports_the_triggers_rejections_without_replaying_them() {
    let rejection = Rejection {
        event_id: "e2".into(),
        keys: attribute_map(json!({"photo_id": {"S": "p2"}})),
        reason: RejectionReason::UnsafeKey,
        detail: "longer than 1024 bytes".into(),
    };
    let record = RemovedRecord {
        event_id: "e1".into(),
        sequence_number: "100".into(),
        delete_kind: DeleteKind::User,
        keys: attribute_map(json!({"photo_id": {"S": "p1"}})),
        old_image: None,
    };
    let original = ExecutionInput {
        batch_id: "batch-1".into(),
        records: vec![record.clone()],
        targets: vec![],
        batches: vec![],
        rejections: vec![rejection.clone()],
        mac: None,
    };
    let mut input = report_input();
    input.caught = Some(CaughtError {
        error: "PurgeFlow.Throttled".into(),
        cause: "slow down".into(),
    });
    input.original_input = Some(serde_json::to_value(&original).expect("serialises"));
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1);
    check(&messages[0]);
    assert_eq!(messages[0].report.rejections, vec![rejection]);
    let replay = messages[0]
        .report
        .replay_input
        .as_ref()
        .expect("replayable");
    assert_eq!(replay.records, vec![record]);
    assert!(replay.rejections.is_empty(), "{replay:?}");
}

#[test]
fn a_caught_error_without_input_still_reports() {
    let mut input = report_input();
    input.caught = Some(CaughtError {
        error: "States.Timeout".into(),
        cause: String::new(),
    });
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1);
    check(&messages[0]);
    assert_eq!(messages[0].report.replay_input, None);
}

#[test]
fn a_report_round_trips_and_its_replay_input_is_an_execution_input() {
    let mut input = report_input();
    input.delete_failures = vec![delete_failure("a.jpg")];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    let parsed: FailureReport =
        serde_json::from_str(&messages[0].body).expect("a report parses back");
    assert_eq!(parsed, messages[0].report);
    let replay_json = serde_json::to_string(&parsed.replay_input).expect("serialisable");
    let replay: ExecutionInput =
        serde_json::from_str(&replay_json).expect("pastes back as an execution input");
    assert_eq!(replay.targets, vec![target("a.jpg")]);
    let mut missing_replay: serde_json::Value =
        serde_json::from_str(&messages[0].body).expect("JSON");
    missing_replay
        .as_object_mut()
        .expect("object")
        .remove("replayInput");
    crate::schema_check::assert_invalid("failure-report.schema.json", &missing_replay);
}

fn dropped_batch(i: usize) -> DroppedBatch {
    DroppedBatch {
        distribution_id: "E2QWRUHEXAMPLE".into(),
        caller_reference: format!("purgeflow-{i:064x}"),
        path_count: 3,
        reason: "targets distribution \"E2QWRUHEXAMPLE\", not PURGE_DISTRIBUTION_ID \"E3MOVED\""
            .into(),
    }
}

#[test]
fn refused_replay_batches_are_reported_with_their_reason_and_never_replayed() {
    let mut input = report_input();
    input.failed_invalidations = vec![failed_invalidation(1)];
    input.dropped_batches = vec![dropped_batch(7)];
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    check(message);
    assert_eq!(message.report.dropped_batches, [dropped_batch(7)]);
    let body: serde_json::Value = serde_json::from_str(&message.body).expect("JSON body");
    assert_eq!(
        body["droppedBatches"][0]["reason"],
        json!(dropped_batch(7).reason)
    );
    // Only the batch that failed to invalidate is replayed: the refused one would be
    // refused again.
    let replay = message
        .report
        .replay_input
        .as_ref()
        .expect("a replay input");
    assert_eq!(replay.batches, [failed_invalidation(1).batch]);
    assert!(message.attributes.contains(&(
        attributes::KIND,
        "String.Array",
        r#"["invalidation_failed","replay_refused"]"#.to_owned()
    )));
    assert!(
        message.subject.contains("replay_refused"),
        "{}",
        message.subject
    );
    assert_eq!(
        summary(&input),
        "0 rejected, 0 delete(s) failed, 1 invalidation batch(es) failed, 1 replayed batch(es) refused"
    );
}

#[test]
fn refused_replay_batches_alone_give_a_report_without_replay_input() {
    let input: ReportInput = serde_json::from_value(json!({
        "executionName": "batch-1",
        "batchId": "batch-1",
        "rejections": [],
        "deleteFailures": [],
        "failedInvalidations": [],
        "droppedBatches": [serde_json::to_value(dropped_batch(1)).expect("serialisable")]
    }))
    .expect("ReportFailures' input with droppedBatches parses");
    assert_valid(
        "report-failures.input.schema.json",
        &serde_json::to_value(&input).expect("serialisable"),
    );
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert_eq!(messages.len(), 1, "a refused batch alone is still reported");
    check(&messages[0]);
    assert_eq!(messages[0].report.replay_input, None);
    assert!(messages[0].attributes.contains(&(
        attributes::REPLAYABLE,
        "String",
        "false".to_owned()
    )));
    assert!(messages[0].attributes.contains(&(
        attributes::KIND,
        "String.Array",
        r#"["replay_refused"]"#.to_owned()
    )));

    // Without the field (a definition or a caller that predates it), nothing is refused.
    let older: ReportInput = serde_json::from_value(json!({"executionName": "b", "batchId": "b"}))
        .expect("parses without droppedBatches");
    assert!(older.dropped_batches.is_empty());
    assert!(
        build_messages(&older, SNS_MAX_MESSAGE_BYTES)
            .expect("builds")
            .is_empty()
    );
}

#[test]
fn refused_replay_batches_count_towards_the_size_limit_and_each_is_reported_once() {
    let mut input = report_input();
    input.delete_failures = vec![delete_failure("a.jpg")];
    input.dropped_batches = (0..40).map(dropped_batch).collect();
    let limit = 4 * 1024;
    let messages = build_messages(&input, limit).expect("builds");
    assert!(messages.len() > 1, "40 refusals do not fit in 4 KiB");
    let mut reported = Vec::new();
    for message in &messages {
        check(message);
        assert!(message.size() <= limit, "{} > {limit}", message.size());
        reported.extend(message.report.dropped_batches.iter().cloned());
        if let Some(replay) = &message.report.replay_input {
            assert!(
                replay.batches.is_empty(),
                "a refused batch is never replayed"
            );
        }
    }
    assert_eq!(reported, input.dropped_batches);
}

#[test]
fn nothing_failed_means_no_message() {
    assert!(
        build_messages(&report_input(), SNS_MAX_MESSAGE_BYTES)
            .expect("builds")
            .is_empty()
    );
}

#[test]
fn splits_over_256_kib_and_every_part_fits_and_replays_its_share() {
    let mut input = report_input();
    // ~1 KiB per delete failure (counted twice: the failure and its replayed target).
    let long = "x".repeat(900);
    input.delete_failures = (0..400)
        .map(|i| delete_failure(&format!("{long}-{i:04}.jpg")))
        .collect();
    input.rejections = (0..300).map(rejection).collect();
    input.failed_invalidations = (0..50).map(failed_invalidation).collect();
    let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
    assert!(messages.len() >= 3, "{} parts", messages.len());
    let parts = u32::try_from(messages.len()).expect("few parts");
    let mut replayed_targets = Vec::new();
    let mut replayed_batches = Vec::new();
    let mut rejections = 0;
    for (message, part) in messages.iter().zip(1..) {
        check(message);
        assert!(
            message.size() <= SNS_MAX_MESSAGE_BYTES,
            "part {part} is {} bytes",
            message.size()
        );
        assert_eq!((message.report.part, message.report.parts), (part, parts));
        rejections += message.report.rejections.len();
        if let Some(replay) = &message.report.replay_input {
            let listed: Vec<&PurgeTarget> = message
                .report
                .delete_failures
                .iter()
                .map(|f| &f.target)
                .collect();
            assert_eq!(
                replay.targets.iter().collect::<Vec<_>>(),
                listed,
                "a part replays exactly its own failures"
            );
            let listed: Vec<&InvalidationBatch> = message
                .report
                .failed_invalidations
                .iter()
                .map(|f| &f.batch)
                .collect();
            assert_eq!(
                replay.batches.iter().collect::<Vec<_>>(),
                listed,
                "a part replays exactly its own failures"
            );
            replayed_targets.extend(replay.targets.iter().cloned());
            replayed_batches.extend(replay.batches.iter().cloned());
        }
    }
    assert_eq!(rejections, 300);
    assert_eq!(
        replayed_targets,
        input
            .delete_failures
            .iter()
            .map(|f| f.target.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        replayed_batches,
        input
            .failed_invalidations
            .iter()
            .map(|f| f.batch.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_small_limit_still_yields_fitting_parts() {
    let mut input = report_input();
    input.delete_failures = (0..30)
        .map(|i| delete_failure(&format!("k{i}.jpg")))
        .collect();
    let limit = 4096;
    let messages = build_messages(&input, limit).expect("builds");
    assert!(messages.len() > 1);
    assert!(messages.iter().all(|m| m.size() <= limit));
    let total: usize = messages
        .iter()
        .map(|m| m.report.delete_failures.len())
        .sum();
    assert_eq!(total, 30);
}

#[test]
fn one_entry_over_the_limit_is_a_named_error_not_a_panic() {
    let mut input = report_input();
    input.delete_failures = vec![delete_failure(&"y".repeat(5000))];
    let err = build_messages(&input, 4096).expect_err("cannot fit");
    assert_eq!(err.error_type(), crate::error::names::INVALID_INPUT);
    assert!(err.to_string().contains("SNS limit"), "{err}");
}

#[test]
fn subject_is_ascii_and_at_most_100_characters() {
    let kinds = BTreeSet::from([
        Kind::Rejected,
        Kind::DeleteFailed,
        Kind::InvalidationFailed,
        Kind::TaskFailed,
    ]);
    let subject = subject(&"é\n".repeat(80), &kinds, 3, 12);
    assert!(
        subject.len() <= 100 && subject.chars().all(|c| c.is_ascii_graphic() || c == ' '),
        "{subject:?}"
    );
    assert!(subject.contains(" 3/12: "));
}

/// A caught error on an input of the wrong shape: the report is still built (it used to fail
/// to parse, so the execution ended with nothing on SNS), says by name why it can't be replayed,
/// names the JSON path, and carries the input as given.
#[test]
fn a_caught_error_on_an_input_of_any_shape_is_reported_with_the_input_as_given() {
    let caught = CaughtError {
        error: "PurgeFlow.InvalidInput".into(),
        cause: "invalid task input: targets[1].key: expected a string, found integer 5".into(),
    };
    let target = json!({"bucket": "b", "key": "a.jpg", "paths": ["/a.jpg"], "eventId": "e",
                        "tableKeys": {}});
    let mut wrong_key = target.clone();
    wrong_key["key"] = json!(5);
    let inputs = [
        (
            json!({"batchId": "b-1", "targets": [target.clone(), wrong_key]}),
            "targets[1].key: expected a string, found integer 5",
        ),
        (
            json!({"batchId": "b-1", "targets": "all of them"}),
            "targets: expected a list, found string \"all of them\"",
        ),
        (
            json!({"targets": [target]}),
            "batchId: required field is missing",
        ),
        (
            json!("purge everything"),
            "the input: expected an object, found string \"purge everything\"",
        ),
        (json!(null), "the input: expected an object, found null"),
        (
            json!({"batchId": "b-1", "records": [{"eventId": "e", "sequenceNumber": "1",
                   "deleteKind": "everyone", "keys": {}}]}),
            "records[0].deleteKind: unknown variant `everyone`, expected `user` or `ttl`",
        ),
    ];
    for (original, detail) in inputs {
        let mut input = report_input();
        input.batch_id = String::new();
        input.caught = Some(caught.clone());
        input.original_input = Some(original.clone());
        let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES).expect("builds");
        assert_eq!(messages.len(), 1, "{original}");
        check(&messages[0]);
        let report = &messages[0].report;
        assert_eq!(report.replay_input, None, "{original}");
        let unreplayable = report
            .unreplayable_input
            .as_ref()
            .unwrap_or_else(|| panic!("{original}: no unreplayableInput"));
        assert_eq!(
            unreplayable.reason,
            crate::contract::UnreplayableReason::InvalidExecutionInput
        );
        assert_eq!(unreplayable.detail, detail);
        assert_eq!(unreplayable.input, original);
        assert!(!unreplayable.truncated);
        assert!(
            messages[0]
                .attributes
                .iter()
                .any(|(n, _, v)| *n == attributes::KIND
                    && v.contains("input_unreplayable")
                    && v.contains("task_failed")),
            "{:?}",
            messages[0].attributes
        );
        assert!(messages[0].subject.contains("input_unreplayable"));
        assert!(
            summary(&input).ends_with(&format!("; its input can't be replayed: {detail}")),
            "{}",
            summary(&input)
        );
    }
}

/// An unreplayable input as large as Step Functions allows still makes a report under SNS's
/// limit: the input is cut and says so.
#[test]
fn an_unreplayable_input_too_large_for_one_message_is_cut_and_says_so() {
    let original = json!({"batchId": "b-1", "targets": "\"x\"".repeat(250 * 1024 / 3)});
    let mut input = report_input();
    input.caught = Some(CaughtError {
        error: "PurgeFlow.InvalidInput".into(),
        cause: "targets".into(),
    });
    input.original_input = Some(original.clone());
    let limit = 64 * 1024;
    let messages = build_messages(&input, limit).expect("builds");
    assert_eq!(messages.len(), 1);
    assert!(messages[0].size() <= limit, "{}", messages[0].size());
    check(&messages[0]);
    let unreplayable = messages[0]
        .report
        .unreplayable_input
        .as_ref()
        .expect("carried");
    assert!(unreplayable.truncated);
    assert_eq!(unreplayable.input_bytes, original.to_string().len() as u64);
    let text = unreplayable
        .input
        .as_str()
        .expect("the start of the JSON text");
    assert!(original.to_string().starts_with(text));
    assert!(
        text.len() > limit / 2,
        "cut no more than needed: {}",
        text.len()
    );
}
