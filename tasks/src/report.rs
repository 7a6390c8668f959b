//! The ReportFailures task: turn what went wrong in one execution into SNS failure reports.
//!
//! Each report says what failed and why, names the execution (with a console link), and carries
//! a `replayInput`: a valid execution input holding only what is left to do.
//!
//! - failed deletes → their targets (`replayInput.targets`);
//! - failed invalidations → their batches, CallerReference included (`replayInput.batches`);
//! - a task that failed outright and was caught → the original input, whole (it covers any
//!   failures listed next to it);
//! - rejections alone → no replay input: a replay would reject them again;
//! - replayed batches BatchPaths refused (`droppedBatches`) → listed with the reason, never
//!   replayed: a replay would refuse them again, so they are for a person to look at.
//!
//! A replay input holds one kind of work only: records, targets or batches, never two. The
//! state machine's InvalidateCache Map runs one wave of at most two batches (MaxConcurrency 2),
//! and its retry budget is sized for that wave. An execution's failed deletes make at most two
//! new batches when replayed, and its failed batches are at most two, but a replay input with
//! both would make up to four and overrun the budget. So when both are left, they go into
//! separate parts (`part` of `parts`), each replaying its own kind; rejections ride along with
//! either. A caught error's original input is replayed as it was given, split the same way in
//! the (never written by purgeflow) case that it mixes kinds.
//!
//! SNS takes at most 256 KiB per message, counting the body and the message attributes. When
//! one report would be larger, its lists are split over several messages, each with the replay
//! input for its own share, so replaying every part replays everything once.

use std::collections::BTreeSet;

use chrono::DateTime;
use serde::Serialize;

use crate::TaskError;
use crate::contract::{
    DeleteFailure, DroppedBatch, ExecutionInput, FailedInvalidation, FailureReport,
    InvalidationBatch, PurgeTarget, Rejection, RemovedRecord, ReportInput, ReportOutput,
};

/// SNS's limit on one message: body plus attributes.
pub const SNS_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The failure report format; bump on an incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// SNS subjects are at most 100 characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// Message attribute names, for SNS subscription filter policies.
pub mod attributes {
    /// `String.Array` of [`super::Kind`] names present in the message.
    pub const KIND: &str = "purgeflow.kind";
    pub const BATCH_ID: &str = "purgeflow.batchId";
    pub const EXECUTION_NAME: &str = "purgeflow.executionName";
    /// `"true"` when the message has a `replayInput` (e.g. to route it to a replay queue).
    pub const REPLAYABLE: &str = "purgeflow.replayable";
}

/// What kind of failure a message holds (the `purgeflow.kind` attribute's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Rejected,
    DeleteFailed,
    InvalidationFailed,
    TaskFailed,
    /// A replayed batch BatchPaths refused to send.
    ReplayRefused,
}

/// One SNS message, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMessage {
    pub report: FailureReport,
    /// The report as JSON: the message body.
    pub body: String,
    pub subject: String,
    /// (name, SNS data type, value).
    pub attributes: Vec<(&'static str, &'static str, String)>,
}

impl ReportMessage {
    /// The size SNS counts against its limit: the body plus each attribute's name, data type and
    /// value. The subject is counted too, to be safe.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|(name, data_type, value)| name.len() + data_type.len() + value.len())
                .sum::<usize>()
    }
}

/// One entry of a report's lists, or, for a caught task error, one piece of the original input.
#[derive(Debug, Clone, Copy)]
enum Item<'a> {
    Rejection(&'a Rejection),
    DeleteFailure(&'a DeleteFailure),
    FailedInvalidation(&'a FailedInvalidation),
    DroppedBatch(&'a DroppedBatch),
    Record(&'a RemovedRecord),
    Target(&'a PurgeTarget),
    Batch(&'a InvalidationBatch),
}

/// What a replay input holds, for the one-kind-per-part rule (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayKind {
    Records,
    Targets,
    Batches,
}

impl Item<'_> {
    /// What this item puts into its part's replay input; `None` if nothing (a rejection, or a
    /// listed failure that the replayed original input already covers).
    fn replay_kind(self, whole: bool) -> Option<ReplayKind> {
        match self {
            Item::Rejection(_) | Item::DroppedBatch(_) => None,
            Item::DeleteFailure(_) | Item::FailedInvalidation(_) if whole => None,
            Item::DeleteFailure(_) | Item::Target(_) => Some(ReplayKind::Targets),
            Item::FailedInvalidation(_) | Item::Batch(_) => Some(ReplayKind::Batches),
            Item::Record(_) => Some(ReplayKind::Records),
        }
    }
}

/// The console link of an execution: the Express execution details page. Its `startDate` (epoch
/// milliseconds) tells the console where to look in the execution's logs. `None` when the ARN
/// is not a Step Functions ARN of a known partition.
pub fn console_url(execution_arn: &str, start_time: Option<&str>) -> Option<String> {
    let mut fields = execution_arn.split(':');
    let (Some("arn"), Some(partition), Some("states"), Some(region)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let host = match partition {
        "aws" => format!("{region}.console.aws.amazon.com"),
        "aws-cn" => format!("{region}.console.amazonaws.cn"),
        "aws-us-gov" => format!("{region}.console.amazonaws-us-gov.com"),
        _ => return None,
    };
    let start = start_time
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| format!("?startDate={}", t.timestamp_millis()))
        .unwrap_or_default();
    Some(format!(
        "https://{host}/states/home?region={region}#/express-executions/details/{execution_arn}{start}"
    ))
}

/// Builds the messages for one execution's failures, each at most `max_bytes` as SNS counts
/// them. Nothing failed → no message.
pub fn build_messages(
    input: &ReportInput,
    max_bytes: usize,
) -> Result<Vec<ReportMessage>, TaskError> {
    let whole_replay = match (&input.caught, &input.original_input) {
        (Some(_), Some(original)) => Some(original),
        _ => None,
    };
    let mut items: Vec<Item<'_>> = Vec::new();
    items.extend(input.rejections.iter().map(Item::Rejection));
    items.extend(input.delete_failures.iter().map(Item::DeleteFailure));
    items.extend(
        input
            .failed_invalidations
            .iter()
            .map(Item::FailedInvalidation),
    );
    items.extend(input.dropped_batches.iter().map(Item::DroppedBatch));
    if let Some(original) = whole_replay {
        items.extend(original.records.iter().map(Item::Record));
        items.extend(original.targets.iter().map(Item::Target));
        items.extend(original.batches.iter().map(Item::Batch));
    }
    if items.is_empty() && input.caught.is_none() {
        return Ok(Vec::new());
    }

    let console = input
        .execution_arn
        .as_deref()
        .and_then(|arn| console_url(arn, input.execution_start_time.as_deref()));
    let whole = whole_replay.is_some();

    // Pack greedily by an estimate (the envelope plus each item's own JSON), starting a new part
    // wherever the replay kind changes, then measure every message for real and halve any that
    // is still too big, so the limit holds whatever the estimate missed. Halving a part keeps
    // it to one replay kind.
    let envelope = build_message(
        input,
        console.as_deref(),
        &[],
        whole,
        (u32::MAX, u32::MAX),
        true,
    )?
    .size();
    let mut groups: Vec<Vec<Item<'_>>> = Vec::new();
    let mut current: Vec<Item<'_>> = Vec::new();
    let mut current_size = envelope;
    let mut current_kind: Option<ReplayKind> = None;
    for item in items {
        let cost = item_cost(item, whole)?;
        let kind = item.replay_kind(whole);
        let other_kind =
            matches!((current_kind, kind), (Some(current), Some(next)) if current != next);
        if (current_size + cost > max_bytes || other_kind) && !current.is_empty() {
            groups.push(std::mem::take(&mut current));
            current_size = envelope;
            current_kind = None;
        }
        current.push(item);
        current_size += cost;
        current_kind = current_kind.or(kind);
    }
    groups.push(current);

    let mut fitted: Vec<Vec<Item<'_>>> = Vec::new();
    let mut pending = groups;
    pending.reverse();
    while let Some(group) = pending.pop() {
        // Part numbers are not known yet: measure with the widest ones.
        let size = build_message(
            input,
            console.as_deref(),
            &group,
            whole,
            (u32::MAX, u32::MAX),
            false,
        )?
        .size();
        if size <= max_bytes {
            fitted.push(group);
        } else if group.len() > 1 {
            let mut first = group;
            let second = first.split_off(first.len() / 2);
            pending.push(second);
            pending.push(first);
        } else {
            return Err(TaskError::InvalidInput(format!(
                "one failure entry of execution {} makes a {size}-byte message, over the {max_bytes}-byte SNS limit",
                input.execution_name
            )));
        }
    }

    let parts = u32::try_from(fitted.len())
        .map_err(|_| TaskError::InvalidInput("too many report parts".to_owned()))?;
    fitted
        .iter()
        .zip(1..)
        .map(|(group, part)| {
            build_message(
                input,
                console.as_deref(),
                group,
                whole,
                (part, parts),
                false,
            )
        })
        .collect()
}

/// The JSON bytes an item adds to a message: itself in its list and, when it is replayable, its
/// target or batch again in the replay input.
fn item_cost(item: Item<'_>, whole: bool) -> Result<usize, TaskError> {
    let comma = 1;
    Ok(match item {
        Item::Rejection(r) => json_len(r)? + comma,
        Item::DroppedBatch(d) => json_len(d)? + comma,
        Item::DeleteFailure(f) => {
            json_len(f)?
                + comma
                + if whole {
                    0
                } else {
                    json_len(&f.target)? + comma
                }
        }
        Item::FailedInvalidation(f) => {
            json_len(f)?
                + comma
                + if whole {
                    0
                } else {
                    json_len(&f.batch)? + comma
                }
        }
        Item::Record(r) => json_len(r)? + comma,
        Item::Target(t) => json_len(t)? + comma,
        Item::Batch(b) => json_len(b)? + comma,
    })
}

fn json_len<T: Serialize>(value: &T) -> Result<usize, TaskError> {
    Ok(to_json(value)?.len())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, TaskError> {
    serde_json::to_string(value)
        .map_err(|e| TaskError::InvalidInput(format!("cannot serialise the failure report: {e}")))
}

/// One message holding `items`. `envelope_only` builds the largest possible empty message
/// (every kind, a replay input present), which is what every part carries besides its items.
fn build_message(
    input: &ReportInput,
    console_url: Option<&str>,
    items: &[Item<'_>],
    whole: bool,
    (part, parts): (u32, u32),
    envelope_only: bool,
) -> Result<ReportMessage, TaskError> {
    let mut rejections = Vec::new();
    let mut delete_failures = Vec::new();
    let mut failed_invalidations = Vec::new();
    let mut dropped_batches = Vec::new();
    let mut replay = ExecutionInput {
        batch_id: input.batch_id.clone(),
        records: vec![],
        targets: vec![],
        batches: vec![],
    };
    for item in items {
        match *item {
            Item::Rejection(r) => rejections.push(r.clone()),
            Item::DeleteFailure(f) => {
                delete_failures.push(f.clone());
                if !whole {
                    replay.targets.push(f.target.clone());
                }
            }
            Item::FailedInvalidation(f) => {
                failed_invalidations.push(f.clone());
                if !whole {
                    replay.batches.push(f.batch.clone());
                }
            }
            Item::DroppedBatch(d) => dropped_batches.push(d.clone()),
            Item::Record(r) => replay.records.push(r.clone()),
            Item::Target(t) => replay.targets.push(t.clone()),
            Item::Batch(b) => replay.batches.push(b.clone()),
        }
    }
    let replayable = envelope_only
        || !(replay.records.is_empty() && replay.targets.is_empty() && replay.batches.is_empty());

    let mut kinds = BTreeSet::new();
    if envelope_only {
        kinds.extend([
            Kind::Rejected,
            Kind::DeleteFailed,
            Kind::InvalidationFailed,
            Kind::ReplayRefused,
        ]);
    }
    if !rejections.is_empty() {
        kinds.insert(Kind::Rejected);
    }
    if !delete_failures.is_empty() {
        kinds.insert(Kind::DeleteFailed);
    }
    if !failed_invalidations.is_empty() {
        kinds.insert(Kind::InvalidationFailed);
    }
    if !dropped_batches.is_empty() {
        kinds.insert(Kind::ReplayRefused);
    }
    if input.caught.is_some() {
        kinds.insert(Kind::TaskFailed);
    }

    let report = FailureReport {
        report_version: REPORT_VERSION,
        execution_name: input.execution_name.clone(),
        execution_arn: input.execution_arn.clone(),
        console_url: console_url.map(str::to_owned),
        batch_id: input.batch_id.clone(),
        part,
        parts,
        rejections,
        delete_failures,
        failed_invalidations,
        dropped_batches,
        caught: input.caught.clone(),
        replay_input: replayable.then_some(replay),
    };
    let body = to_json(&report)?;
    let subject = subject(&input.execution_name, &kinds, part, parts);
    let attributes = [
        (attributes::KIND, "String.Array", to_json(&kinds)?),
        (attributes::BATCH_ID, "String", input.batch_id.clone()),
        (
            attributes::EXECUTION_NAME,
            "String",
            input.execution_name.clone(),
        ),
        (attributes::REPLAYABLE, "String", replayable.to_string()),
    ]
    .into_iter()
    // SNS refuses an attribute with an empty value; a missing one only narrows filtering.
    .filter(|(_, _, value)| !value.is_empty())
    .collect();
    Ok(ReportMessage {
        report,
        body,
        subject,
        attributes,
    })
}

/// `purgeflow: purge incomplete (delete_failed) 1/2: <execution>`, printable ASCII only and at
/// most 100 characters, as SNS requires.
fn subject(execution_name: &str, kinds: &BTreeSet<Kind>, part: u32, parts: u32) -> String {
    let kinds: Vec<&str> = kinds
        .iter()
        .map(|kind| match kind {
            Kind::Rejected => "rejected",
            Kind::DeleteFailed => "delete_failed",
            Kind::InvalidationFailed => "invalidation_failed",
            Kind::TaskFailed => "task_failed",
            Kind::ReplayRefused => "replay_refused",
        })
        .collect();
    let part = if parts > 1 {
        format!(" {part}/{parts}")
    } else {
        String::new()
    };
    let subject = format!(
        "purgeflow: purge incomplete ({}){part}: {execution_name}",
        kinds.join(", ")
    );
    subject
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

/// The one-line summary the state machine puts in its Fail state's cause.
pub fn summary(input: &ReportInput) -> String {
    let mut summary = format!(
        "{} rejected, {} delete(s) failed, {} invalidation batch(es) failed",
        input.rejections.len(),
        input.delete_failures.len(),
        input.failed_invalidations.len()
    );
    // Only when there are some, so the summary of every other execution reads as before.
    if !input.dropped_batches.is_empty() {
        summary.push_str(&format!(
            ", {} replayed batch(es) refused",
            input.dropped_batches.len()
        ));
    }
    if let Some(caught) = &input.caught {
        summary.push_str(&format!("; task failed with {}", caught.error));
    }
    summary
}

/// The task's output once `message_ids` are published.
pub fn output(input: &ReportInput, message_ids: Vec<String>) -> Result<ReportOutput, TaskError> {
    let count = |n: usize| {
        u32::try_from(n).map_err(|_| TaskError::InvalidInput(format!("{n} entries in one report")))
    };
    Ok(ReportOutput {
        message_ids,
        rejected: count(input.rejections.len())?,
        delete_failed: count(input.delete_failures.len())?,
        invalidations_failed: count(input.failed_invalidations.len())?,
        summary: summary(input),
    })
}

#[cfg(feature = "sns")]
pub use with_sns::report_failures;

#[cfg(feature = "sns")]
mod with_sns {
    use aws_sdk_sns::Client;
    use aws_sdk_sns::types::MessageAttributeValue;

    use super::{ReportMessage, SNS_MAX_MESSAGE_BYTES, build_messages, output};
    use crate::TaskError;
    use crate::aws_errors::classify;
    use crate::contract::{ReportInput, ReportOutput};

    /// Publishes the failure report(s) for one execution to `topic_arn`, in part order.
    ///
    /// If a later part fails to publish, the task fails and its retry publishes every part
    /// again: subscribers may see a part twice (SNS delivers at least once anyway), never miss
    /// one. Replaying a report twice is harmless, since every step is idempotent.
    pub async fn report_failures(
        client: &Client,
        topic_arn: &str,
        input: ReportInput,
    ) -> Result<ReportOutput, TaskError> {
        let messages = build_messages(&input, SNS_MAX_MESSAGE_BYTES)?;
        let mut message_ids = Vec::with_capacity(messages.len());
        for message in &messages {
            message_ids.push(publish(client, topic_arn, message).await?);
        }
        let output = output(&input, message_ids)?;
        tracing::warn!(execution = %input.execution_name, parts = messages.len(), summary = %output.summary, "reported failures");
        Ok(output)
    }

    async fn publish(
        client: &Client,
        topic_arn: &str,
        message: &ReportMessage,
    ) -> Result<String, TaskError> {
        let mut request = client
            .publish()
            .topic_arn(topic_arn)
            .subject(&message.subject)
            .message(&message.body);
        for (name, data_type, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type(*data_type)
                .string_value(value)
                .build()
                .map_err(|e| TaskError::InvalidInput(format!("message attribute {name}: {e}")))?;
            request = request.message_attributes(*name, attribute);
        }
        let published = request.send().await.map_err(|e| classify("sns", &e))?;
        Ok(published.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CaughtError, DeleteKind, RejectionReason};
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
        assert!(message.attributes.contains(&(
            attributes::REPLAYABLE,
            "String",
            "false".to_owned()
        )));
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
        };
        let mut input = report_input();
        input.caught = Some(CaughtError {
            error: "Lambda.ServiceException".into(),
            cause: "boom".into(),
        });
        input.original_input = Some(original.clone());
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
        };
        let mut input = report_input();
        input.caught = Some(CaughtError {
            error: "PurgeFlow.AccessDenied".into(),
            cause: "s3 denied access".into(),
        });
        input.original_input = Some(original.clone());
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
            reason:
                "targets distribution \"E2QWRUHEXAMPLE\", not PURGE_DISTRIBUTION_ID \"E3MOVED\""
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
        let older: ReportInput =
            serde_json::from_value(json!({"executionName": "b", "batchId": "b"}))
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
}

#[cfg(all(test, feature = "sns"))]
mod sns_tests {
    use super::*;
    use crate::error::names;
    use crate::schema_check::assert_valid;
    use aws_sdk_sns::Client;
    use aws_sdk_sns::config::retry::RetryConfig;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_sdk_sns::types::error::AuthorizationErrorException;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:purgeflow-failures";

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_sns, RuleMode::Sequential, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    fn input_with_failures(count: usize, key_len: usize) -> ReportInput {
        let long = "k".repeat(key_len);
        ReportInput {
            execution_name: "batch-9".into(),
            execution_arn: Some(
                "arn:aws:states:us-east-1:123456789012:express:purge:batch-9:1".into(),
            ),
            execution_start_time: None,
            batch_id: "batch-9".into(),
            rejections: vec![],
            delete_failures: (0..count)
                .map(|i| DeleteFailure {
                    target: PurgeTarget {
                        bucket: "photos-bucket".into(),
                        key: format!("{long}{i}"),
                        paths: vec![format!("/{long}{i}")],
                        event_id: format!("e{i}"),
                        table_keys: serde_json::from_value(json!({"id": {"S": format!("{i}")}}))
                            .expect("map"),
                    },
                    code: "AccessDenied".into(),
                    message: "Access Denied".into(),
                })
                .collect(),
            failed_invalidations: vec![],
            dropped_batches: vec![],
            caught: None,
            original_input: None,
        }
    }

    #[tokio::test]
    async fn publishes_with_subject_and_filterable_attributes() {
        let rule = mock!(Client::publish)
            .match_requests(|req| {
                let attrs = req.message_attributes().expect("attributes");
                let kind = attrs.get(attributes::KIND).expect("kind attribute");
                let body: serde_json::Value =
                    serde_json::from_str(req.message().unwrap_or_default()).expect("JSON body");
                req.topic_arn() == Some(TOPIC)
                    && req.subject().is_some_and(|s| {
                        s.starts_with("purgeflow: purge incomplete (delete_failed)")
                    })
                    && kind.data_type() == "String.Array"
                    && kind.string_value() == Some(r#"["delete_failed"]"#)
                    && attrs
                        .get(attributes::BATCH_ID)
                        .and_then(|a| a.string_value())
                        == Some("batch-9")
                    && attrs
                        .get(attributes::REPLAYABLE)
                        .and_then(|a| a.string_value())
                        == Some("true")
                    && body["replayInput"]["targets"].as_array().map(Vec::len) == Some(2)
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = client(&[&rule]);
        let input = input_with_failures(2, 8);
        assert_valid(
            "report-failures.input.schema.json",
            &serde_json::to_value(&input).expect("serialisable"),
        );
        let output = report_failures(&client, TOPIC, input)
            .await
            .expect("published");
        assert_valid(
            "report-failures.output.schema.json",
            &serde_json::to_value(&output).expect("serialisable"),
        );
        assert_eq!(output.message_ids, vec!["m-1"]);
        assert_eq!(
            (
                output.rejected,
                output.delete_failed,
                output.invalidations_failed
            ),
            (0, 2, 0)
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_report_over_256_kib_is_published_in_parts() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let rule = mock!(Client::publish).then_compute_output(move |req| {
            let body: serde_json::Value =
                serde_json::from_str(req.message().unwrap_or_default()).expect("JSON body");
            let attrs: usize = req
                .message_attributes()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            k.len() + v.data_type().len() + v.string_value().map_or(0, str::len)
                        })
                        .sum()
                })
                .unwrap_or(0);
            let mut seen = seen.lock().expect("lock");
            seen.push((
                body["part"].as_u64(),
                body["parts"].as_u64(),
                req.message().map_or(0, str::len) + attrs,
            ));
            PublishOutput::builder()
                .message_id(format!("m-{}", seen.len()))
                .build()
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |conf| conf
            .retry_config(RetryConfig::disabled()));
        // 600 failures of ~1 KiB, each listed and replayed: about 1.2 MiB in all.
        let output = report_failures(&client, TOPIC, input_with_failures(600, 1000))
            .await
            .expect("published");
        let sizes = sizes.lock().expect("lock").clone();
        assert!(sizes.len() >= 4, "{sizes:?}");
        assert_eq!(output.message_ids.len(), sizes.len());
        let parts = sizes.len() as u64;
        for (i, (part, total, size)) in sizes.iter().enumerate() {
            assert_eq!((*part, *total), (Some(i as u64 + 1), Some(parts)));
            assert!(
                *size <= SNS_MAX_MESSAGE_BYTES,
                "part {part:?}: {size} bytes"
            );
        }
    }

    #[tokio::test]
    async fn an_sns_failure_fails_the_task() {
        let denied = mock!(Client::publish).then_error(|| {
            let meta = ErrorMetadata::builder()
                .code("AuthorizationError")
                .message("not authorized to publish")
                .build();
            PublishError::AuthorizationErrorException(
                AuthorizationErrorException::builder()
                    .message("not authorized to publish")
                    .meta(meta)
                    .build(),
            )
        });
        let err = report_failures(&client(&[&denied]), TOPIC, input_with_failures(1, 4))
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), names::ACCESS_DENIED);

        let throttled = mock!(Client::publish).then_error(|| {
            PublishError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let err = report_failures(&client(&[&throttled]), TOPIC, input_with_failures(1, 4))
            .await
            .expect_err("throttled");
        assert_eq!(err.error_type(), names::THROTTLED);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn nothing_to_report_publishes_nothing() {
        let client = client(&[]);
        let output = report_failures(&client, TOPIC, input_with_failures(0, 4))
            .await
            .expect("nothing to do");
        assert!(output.message_ids.is_empty());
        assert_eq!(
            output.summary,
            "0 rejected, 0 delete(s) failed, 0 invalidation batch(es) failed"
        );
    }
}
