//! The human-readable parts of a report: the console link, the SNS subject, the one-line
//! summary.

use std::collections::BTreeSet;

use chrono::DateTime;

use crate::contract::{ExecutionInput, ReportInput, parse};

use super::{Kind, MAX_SUBJECT_CHARS};

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

/// `purgeflow: purge incomplete (delete_failed) 1/2: <execution>`, printable ASCII only and at
/// most 100 characters, as SNS requires.
pub(super) fn subject(
    execution_name: &str,
    kinds: &BTreeSet<Kind>,
    part: u32,
    parts: u32,
) -> String {
    let kinds: Vec<&str> = kinds
        .iter()
        .map(|kind| match kind {
            Kind::Rejected => "rejected",
            Kind::DeleteFailed => "delete_failed",
            Kind::InvalidationFailed => "invalidation_failed",
            Kind::TaskFailed => "task_failed",
            Kind::ReplayRefused => "replay_refused",
            Kind::InputUnreplayable => "input_unreplayable",
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
        if let Some(Err(detail)) = input
            .original_input
            .as_ref()
            .map(|original| parse::<ExecutionInput>(original.clone()))
        {
            summary.push_str(&format!("; its input can't be replayed: {detail}"));
        }
    }
    summary
}
