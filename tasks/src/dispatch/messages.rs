//! The deferral queue's messages: a [`DeferredBatch`] each, checked before anything is planned.

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};

use crate::batch_paths::check_replayed;
use crate::contract::DeferredBatch;
use crate::paths::FoldPolicy;

/// Lambda's invocation payload limit, which caps an SQS event whatever its batch size.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// SQS's largest message.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A record's share of an SQS event besides its body: messageId, receiptHandle, attributes,
/// md5, the source ARN (about).
pub const RECORD_ENVELOPE_BYTES: usize = 800;

/// Whether an event of about `bytes` was cut by Lambda's payload limit (within one largest
/// message of it) rather than by the queue running dry: only then is more of the queue waiting
/// that one plan could cover (`dispatch::extra`; `purgeflow simulate` asks the same).
pub fn event_is_full(bytes: usize) -> bool {
    bytes + MAX_MESSAGE_BYTES >= MAX_EVENT_BYTES
}

/// How much of a malformed message's body a report quotes. The message itself stays on the
/// queue until its dead-letter queue takes it, whole.
pub const QUOTED_BODY_BYTES: usize = 4096;

/// A message that holds a batch to invalidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub message_id: String,
    pub deferred: DeferredBatch,
    pub deferred_at: DateTime<Utc>,
}

/// A message that does not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub message_id: String,
    pub reason: String,
    /// The start of the body, for the report.
    pub quoted_body: String,
    /// SQS's `ApproximateReceiveCount` (1 at the first receive), when the event gives it.
    pub receives: Option<u32>,
}

impl Malformed {
    /// Whether this is the message's first receive (or the event does not say): a malformed
    /// message is reported once, not at each of the receives it takes to reach the dead-letter
    /// queue.
    pub fn first_receive(&self) -> bool {
        self.receives.is_none_or(|n| n <= 1)
    }
}

/// SQS's `ApproximateReceiveCount` attribute of a message, when present and a number.
pub fn receive_count(message: &SqsMessage) -> Option<u32> {
    message
        .attributes
        .get("ApproximateReceiveCount")?
        .parse()
        .ok()
}

/// Reads one message: a deferred batch for `distribution_id` that BatchPaths could have made
/// (the same rules as a replayed batch: purgeflow's CallerReference, at most 3,000 paths,
/// each encoded and inside the purge area), with a readable `deferredAt`.
pub fn read(
    message: &SqsMessage,
    distribution_id: &str,
    area: &FoldPolicy,
) -> Result<Pending, Malformed> {
    let message_id = message.message_id.clone().unwrap_or_default();
    let body = message.body.as_deref().unwrap_or_default();
    let malformed = |reason: String| Malformed {
        message_id: message_id.clone(),
        reason,
        quoted_body: quote(body),
        receives: receive_count(message),
    };
    if message_id.is_empty() {
        return Err(malformed("the message has no id".to_owned()));
    }
    let deferred: DeferredBatch = serde_json::from_str(body)
        .map_err(|e| malformed(format!("the body is not a deferred batch: {e}")))?;
    check_replayed(&deferred.batch, distribution_id, area)
        .map_err(|problem| malformed(format!("the deferred batch {problem}")))?;
    let deferred_at = DateTime::parse_from_rfc3339(&deferred.deferred_at)
        .map_err(|e| {
            malformed(format!(
                "deferredAt {:?} is not an ISO-8601 time: {e}",
                deferred.deferred_at
            ))
        })?
        .with_timezone(&Utc);
    Ok(Pending {
        message_id,
        deferred,
        deferred_at,
    })
}

fn quote(body: &str) -> String {
    if body.len() <= QUOTED_BODY_BYTES {
        return body.to_owned();
    }
    let mut end = QUOTED_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &body[..end], body.len())
}
