//! Building a report's messages: the items of each kind, what each costs in bytes, and their
//! split over as many SNS messages (parts) as the 256 KiB limit needs, each with the replay
//! input for its own share.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::TaskError;
use crate::contract::{
    DeleteFailure, DroppedBatch, ExecutionInput, FailedInvalidation, FailureReport,
    InvalidationBatch, PurgeTarget, Rejection, RemovedRecord, ReportInput, UnreplayableInput,
    UnreplayableReason, Value, parse,
};

use super::text::{console_url, subject};
use super::{Kind, REPORT_VERSION, ReportMessage, attributes};

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
    /// The execution input of a caught error, when it is not an execution input.
    Unreplayable(&'a UnreplayableInput),
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
            Item::Rejection(_) | Item::DroppedBatch(_) | Item::Unreplayable(_) => None,
            Item::DeleteFailure(_) | Item::FailedInvalidation(_) if whole => None,
            Item::DeleteFailure(_) | Item::Target(_) => Some(ReplayKind::Targets),
            Item::FailedInvalidation(_) | Item::Batch(_) => Some(ReplayKind::Batches),
            Item::Record(_) => Some(ReplayKind::Records),
        }
    }
}

/// Builds the messages for one execution's failures, each at most `max_bytes` as SNS counts
/// them. Nothing failed → no message.
pub fn build_messages(
    input: &ReportInput,
    max_bytes: usize,
) -> Result<Vec<ReportMessage>, TaskError> {
    build_messages_refusing(input, max_bytes, None)
}

/// [`build_messages`], with the caught error's original input refused for `refusal` (its
/// reason and detail): it is carried as `unreplayableInput` instead of replayed. What
/// ReportFailures does with an input whose MAC is missing or wrong, so that a report is never a
/// way to turn an unverified input into a signed one.
pub fn build_messages_refusing(
    input: &ReportInput,
    max_bytes: usize,
    refusal: Option<(UnreplayableReason, String)>,
) -> Result<Vec<ReportMessage>, TaskError> {
    let console = input
        .execution_arn
        .as_deref()
        .and_then(|arn| console_url(arn, input.execution_start_time.as_deref()));
    // A caught error replays the execution's input whole, if it is an execution input at all:
    // the task may have failed because it is not one. Then the report carries it as it was
    // given and says why it can't be replayed; it is still reported, whatever its shape.
    let (whole_replay, unreplayable) = match (&input.caught, &input.original_input) {
        (Some(_), Some(original)) => match (original_execution_input(original), refusal) {
            (Ok(_), Some((reason, detail))) => (
                None,
                Some(UnreplayableInput {
                    reason,
                    detail,
                    input: original.clone(),
                    input_bytes: u64::try_from(original.to_string().len()).unwrap_or(u64::MAX),
                    truncated: false,
                }),
            ),
            (Ok(parsed), None) => (Some(parsed), None),
            (Err(unreplayable), _) => (None, Some(unreplayable)),
        },
        _ => (None, None),
    };
    let whole = whole_replay.is_some();
    let unreplayable = unreplayable
        .map(|u| fit_unreplayable(input, console.as_deref(), u, max_bytes))
        .transpose()?;
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
    if let Some(original) = &whole_replay {
        // The trigger's own rejections (records too large to hand over) are reported here:
        // the task that failed never passed them on, and a replay must not carry them again.
        items.extend(original.rejections.iter().map(Item::Rejection));
        items.extend(original.records.iter().map(Item::Record));
        items.extend(original.targets.iter().map(Item::Target));
        items.extend(original.batches.iter().map(Item::Batch));
    }
    items.extend(unreplayable.as_ref().map(Item::Unreplayable));
    if items.is_empty() && input.caught.is_none() {
        return Ok(Vec::new());
    }

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
        Item::Unreplayable(u) => json_len(u)? + comma,
    })
}

/// The original input as an execution input, or why it is not one, with the input as given.
fn original_execution_input(original: &Value) -> Result<ExecutionInput, UnreplayableInput> {
    parse::<ExecutionInput>(original.clone()).map_err(|detail| UnreplayableInput {
        reason: UnreplayableReason::InvalidExecutionInput,
        detail,
        input: original.clone(),
        input_bytes: u64::try_from(original.to_string().len()).unwrap_or(u64::MAX),
        truncated: false,
    })
}

/// `unreplayable`, cut so that a message holding it alone fits in `max_bytes`: an execution
/// input may be up to 256 KiB itself, and a report that can't be published is no report. The
/// input then becomes the start of its JSON text (the whole input stays in the execution's log).
fn fit_unreplayable(
    input: &ReportInput,
    console: Option<&str>,
    unreplayable: UnreplayableInput,
    max_bytes: usize,
) -> Result<UnreplayableInput, TaskError> {
    let size = |u: &UnreplayableInput| -> Result<usize, TaskError> {
        Ok(build_message(
            input,
            console,
            &[Item::Unreplayable(u)],
            false,
            (u32::MAX, u32::MAX),
            false,
        )?
        .size())
    };
    if size(&unreplayable)? <= max_bytes {
        return Ok(unreplayable);
    }
    // The longest start of the JSON text that fits: escaping inside a JSON string makes the
    // cut text's cost uneven, so search for it (a rare path: only inputs near 256 KiB).
    let text = unreplayable.input.to_string();
    let cut = |keep: usize| -> UnreplayableInput {
        let mut keep = keep;
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        UnreplayableInput {
            input: Value::String(text[..keep].to_owned()),
            truncated: true,
            ..unreplayable.clone()
        }
    };
    let (mut fits, mut too_long) = (0, text.len());
    if size(&cut(0))? > max_bytes {
        return Err(TaskError::InvalidInput(format!(
            "the report of execution {} is over the {max_bytes}-byte SNS limit without its input",
            input.execution_name
        )));
    }
    while too_long - fits > 1 {
        let middle = fits + (too_long - fits) / 2;
        if size(&cut(middle))? <= max_bytes {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    Ok(cut(fits))
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
    let mut unreplayable = None;
    let mut replay = ExecutionInput {
        batch_id: input.batch_id.clone(),
        records: vec![],
        targets: vec![],
        batches: vec![],
        rejections: vec![],
        mac: None,
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
            Item::Unreplayable(u) => unreplayable = Some(u.clone()),
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
            Kind::InputUnreplayable,
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
    if unreplayable.is_some() {
        kinds.insert(Kind::InputUnreplayable);
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
        unreplayable_input: unreplayable,
        unsigned_replay: None,
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
