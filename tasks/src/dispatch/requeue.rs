//! Uncovered deferrals come back soon. The dispatcher sets a short visibility
//! (ChangeMessageVisibilityBatch) on each message it returns in its partial batch response, so
//! the message is received again after `PURGE_DISPATCH_RETRY_SECONDS` (default
//! [`DEFAULT_RETRY_SECONDS`]) instead of after the queue's visibility timeout, which Lambda
//! requires to be at least the function's timeout (six times it is advised: 6 minutes in the
//! CDK stack). How soon a returned message comes back decides a storm's freshness
//! (`purgeflow simulate --requeue-delay`, which defaults to the same value).
//!
//! Best effort: a message whose visibility could not be changed comes back after the queue's
//! visibility timeout instead, later but not lost. The failure is logged and counted.
//!
//! Malformed messages, returned too, get the same visibility: reported at their first receive,
//! they reach the dead-letter queue after the queue's `maxReceiveCount` receives (within about
//! an hour in the CDK stack) instead of that many 6-minute timeouts.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;

/// `PURGE_DISPATCH_RETRY_SECONDS` when unset: a returned message is received again about 5 s
/// later (plus the event source mapping's batching window).
pub const DEFAULT_RETRY_SECONDS: u32 = 5;

/// SQS changes at most 10 messages per ChangeMessageVisibilityBatch call.
const ENTRIES_PER_CALL: usize = 10;

/// Each message id of `event` with its receipt handle (the handle names this receive of the
/// message; the id alone cannot change its visibility).
pub fn receipt_handles(event: &SqsEvent) -> Vec<(String, String)> {
    event
        .records
        .iter()
        .filter_map(|r| Some((r.message_id.clone()?, r.receipt_handle.clone()?)))
        .collect()
}

/// What [`come_back_after`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Messages whose visibility is now the short one.
    pub changed: usize,
    /// Messages left to the queue's visibility timeout (the call or their entry failed, or no
    /// receipt handle was known).
    pub failed: usize,
}

/// Sets the visibility of the messages the partial batch `response` returns to `seconds`,
/// `handles` giving each message id's receipt handle. See the module docs.
pub async fn come_back_after(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    seconds: u32,
    handles: &[(String, String)],
    response: &SqsBatchResponse,
) -> Requeued {
    let waiting: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let mut done = Requeued::default();
    let known: Vec<&(String, String)> = waiting
        .iter()
        .filter_map(|id| handles.iter().find(|(known, _)| known == id))
        .collect();
    done.failed += waiting.len() - known.len();
    let visibility = i32::try_from(seconds).unwrap_or(i32::MAX);
    for chunk in known.chunks(ENTRIES_PER_CALL) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, handle))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(visibility)
                    .build()
            })
            .collect();
        let sent = match entries {
            Ok(entries) => {
                sqs.change_message_visibility_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot build a ChangeMessageVisibility entry");
                done.failed += chunk.len();
                continue;
            }
        };
        match sent {
            Ok(output) => {
                for failure in &output.failed {
                    tracing::warn!(entry = %failure.id, code = %failure.code, message = ?failure.message, "a returned deferral keeps the queue's visibility timeout");
                }
                done.failed += output.failed.len();
                done.changed += chunk.len() - output.failed.len();
            }
            Err(err) => {
                tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), messages = chunk.len(), "cannot shorten the visibility of returned deferrals; they come back after the queue's visibility timeout");
                done.failed += chunk.len();
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;
    use aws_sdk_sqs::operation::change_message_visibility_batch::{
        ChangeMessageVisibilityBatchError, ChangeMessageVisibilityBatchOutput,
    };
    use aws_sdk_sqs::types::BatchResultErrorEntry;
    use aws_sdk_sqs::types::error::InvalidAddress;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/purgeflow-deferred";

    fn returned(ids: impl IntoIterator<Item = String>) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for id in ids {
            response.add_failure(id);
        }
        response
    }

    fn handles(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("m{i}"), format!("handle-{i}")))
            .collect()
    }

    #[test]
    fn the_receipt_handles_come_from_the_event() {
        let mut event = SqsEvent::default();
        for i in 0..2 {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.receipt_handle = Some(format!("handle-{i}"));
            event.records.push(record);
        }
        event.records.push(SqsMessage::default());
        assert_eq!(receipt_handles(&event), handles(2));
    }

    #[tokio::test]
    async fn each_waiting_message_gets_the_short_visibility_ten_per_call() {
        let ok = mock!(aws_sdk_sqs::Client::change_message_visibility_batch)
            .match_requests(|r| {
                r.queue_url() == Some(QUEUE)
                    && r.entries().iter().all(|e| {
                        e.visibility_timeout() == Some(5)
                            && e.receipt_handle().starts_with("handle-")
                    })
            })
            .then_output(|| {
                ChangeMessageVisibilityBatchOutput::builder()
                    .set_successful(Some(Vec::new()))
                    .set_failed(Some(Vec::new()))
                    .build()
                    .expect("output")
            });
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&ok]);
        let waiting = returned((0..23).map(|i| format!("m{i}")));
        let done = come_back_after(&sqs, QUEUE, 5, &handles(25), &waiting).await;
        assert_eq!(
            done,
            Requeued {
                changed: 23,
                failed: 0
            }
        );
        assert_eq!(ok.num_calls(), 3, "10 + 10 + 3");
    }

    #[tokio::test]
    async fn a_failed_change_leaves_the_message_to_the_queues_timeout_and_is_counted() {
        let partly =
            mock!(aws_sdk_sqs::Client::change_message_visibility_batch).then_output(|| {
                ChangeMessageVisibilityBatchOutput::builder()
                    .set_successful(Some(Vec::new()))
                    .failed(
                        BatchResultErrorEntry::builder()
                            .id("1")
                            .code("ReceiptHandleIsInvalid")
                            .sender_fault(true)
                            .build()
                            .expect("entry"),
                    )
                    .build()
                    .expect("output")
            });
        let refused =
            mock!(aws_sdk_sqs::Client::change_message_visibility_batch).then_error(|| {
                ChangeMessageVisibilityBatchError::InvalidAddress(
                    InvalidAddress::builder().message("no such queue").build(),
                )
            });
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&partly, &refused]);
        let waiting = returned(
            (0..12)
                .map(|i| format!("m{i}"))
                .chain(["not-in-the-event".to_owned()]),
        );
        let done = come_back_after(&sqs, QUEUE, 5, &handles(12), &waiting).await;
        assert_eq!(
            done,
            Requeued {
                changed: 9,
                failed: 4
            },
            "1 entry, 2 in the failed call, 1 unknown"
        );
    }
}
