//! Reading beyond one event. Lambda caps an invocation's payload at 6 MB: in a storm that is
//! about 180 deferred batches of 1,000 paths, while thousands wait on the queue. Every plan takes
//! wildcard slots, and a plan over more batches folds them into the same few wildcards, so the
//! more of the queue one plan sees, the fewer slots each batch costs and the sooner the backlog
//! drains (`purgeflow simulate` at 1M deletes: see the README).
//!
//! So [`dispatch_with_queue`], when its event is full ([`super::messages::event_is_full`]: Lambda's
//! 6 MB cut it, so more is waiting), receives up to `PURGE_DISPATCH_EXTRA_MESSAGES` more
//! messages straight from the queue (ReceiveMessage, 10 a call, no long poll, until the
//! queue gives none), plans them with the event's ([`super::dispatch`]), deletes the extra ones
//! it covered or reported (DeleteMessageBatch), and gives every message it returns the short
//! visibility ([`super::requeue::come_back_after`]). The partial batch response names the
//! event's own messages only, as the event source mapping expects.
//!
//! Only a full event: when the whole backlog fits one event, reading more would only take
//! messages from the other instance (MaximumConcurrency 2), and a plan CloudFront refuses or
//! throttles would then return everything at once (`purgeflow simulate` at 100,000 deletes: p99
//! 406 s when every invocation read more, against 307 s without).
//!
//! An extra message is received with the queue's visibility timeout, so another instance does
//! not take it meanwhile; if the invocation fails it comes back after that timeout, like the
//! event's.

use std::collections::BTreeSet;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use chrono::{DateTime, Utc};

use super::handler::{Dispatcher, Outcome, dispatch};
use super::messages::{RECORD_ENVELOPE_BYTES, event_is_full};
use super::requeue::{come_back_after, receipt_handles};
use crate::TaskError;

/// SQS hands out at most 10 messages per ReceiveMessage and deletes at most 10 per call.
const PER_CALL: usize = 10;

/// The deferral queue as the dispatcher uses it beyond its event.
#[derive(Debug, Clone, Copy)]
pub struct Queue<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub url: &'a str,
    /// `PURGE_DISPATCH_RETRY_SECONDS`.
    pub retry_seconds: u32,
    /// `PURGE_DISPATCH_EXTRA_MESSAGES`.
    pub extra_messages: usize,
}

/// One invocation over `event` and up to `queue.extra_messages` more messages. See the module
/// docs. The outcome's lists name every message handled, extra ones included; its response
/// names the event's only.
pub async fn dispatch_with_queue(
    cloudfront: &aws_sdk_cloudfront::Client,
    sns: &aws_sdk_sns::Client,
    queue: Queue<'_>,
    dispatcher: &Dispatcher,
    mut event: SqsEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, TaskError> {
    let from_event: BTreeSet<String> = event
        .records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect();
    let event_bytes: usize = event
        .records
        .iter()
        .map(|r| r.body.as_ref().map_or(0, String::len) + RECORD_ENVELOPE_BYTES)
        .sum();
    if event_is_full(event_bytes) && queue.extra_messages > 0 {
        let extra = receive_more(queue, &from_event).await;
        event.records.extend(extra);
    }
    let handles = receipt_handles(&event);
    let mut outcome = dispatch(cloudfront, sns, dispatcher, event, now).await?;

    let returned: BTreeSet<String> = outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    // Every returned message (the event's and the extra ones) comes back after the retry delay.
    come_back_after(
        queue.sqs,
        queue.url,
        queue.retry_seconds,
        &handles,
        &outcome.response,
    )
    .await;
    let done: Vec<&(String, String)> = handles
        .iter()
        .filter(|(id, _)| !from_event.contains(id) && !returned.contains(id))
        .collect();
    delete(queue, &done).await;
    outcome
        .response
        .batch_item_failures
        .retain(|f| from_event.contains(&f.item_identifier));
    Ok(outcome)
}

/// Up to `queue.extra_messages` messages, fewer when the queue runs dry or a call fails (what
/// was received so far is planned; the rest waits for the next invocation).
async fn receive_more(queue: Queue<'_>, from_event: &BTreeSet<String>) -> Vec<SqsMessage> {
    let mut records: Vec<SqsMessage> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while records.len() < queue.extra_messages {
        let want = (queue.extra_messages - records.len()).min(PER_CALL);
        let received = queue
            .sqs
            .receive_message()
            .queue_url(queue.url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), received = records.len(), "cannot receive more deferrals; planning what is at hand");
                break;
            }
        };
        if messages.is_empty() {
            break;
        }
        for message in messages {
            // The event's own messages are invisible already, and SQS does not hand out a
            // received message again within its visibility; a duplicate would only be planned
            // twice.
            let Some(id) = message.message_id.clone() else {
                continue;
            };
            if from_event.contains(&id) || !seen.insert(id) {
                continue;
            }
            records.push(record(message));
        }
    }
    tracing::info!(extra = records.len(), "received beyond the event");
    records
}

/// An SQS message as a Lambda event record holds it.
pub fn record(message: aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    if let Some(count) = message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
    {
        record
            .attributes
            .insert("ApproximateReceiveCount".to_owned(), count.clone());
    }
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record
}

/// Deletes the extra messages a plan covered or a report took (the event source mapping only
/// deletes the event's). One that cannot be deleted comes back and is covered again: an
/// invalidation with the same content and CallerReference is not paid twice.
async fn delete(queue: Queue<'_>, done: &[&(String, String)]) {
    for chunk in done.chunks(PER_CALL) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
            })
            .collect();
        let sent = match entries {
            Ok(entries) => {
                queue
                    .sqs
                    .delete_message_batch()
                    .queue_url(queue.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot build a DeleteMessage entry");
                continue;
            }
        };
        match sent {
            Ok(output) if !output.failed.is_empty() => {
                tracing::warn!(
                    failed = output.failed.len(),
                    "some covered deferrals were not deleted; they come back and are covered again"
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), messages = chunk.len(), "cannot delete covered deferrals; they come back and are covered again");
            }
        }
    }
}
