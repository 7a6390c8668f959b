//! The dispatcher in `purgeflow local`: what the SQS event source mapping does in AWS, on the
//! local deferral queue.
//!
//! Each round receives up to [`MAX_MESSAGES_PER_ROUND`] messages, the round's "event" (SQS
//! hands out at most 10 per ReceiveMessage, so several calls; a short long-poll is the batching
//! window), with a visibility of [`VISIBILITY_TIMEOUT_SECONDS`] (longer than a round takes, as
//! the queue's visibility timeout outlasts the Lambda's). It hands them to the same
//! `dispatch_with_queue` the Lambda runs, which receives up to `PURGE_DISPATCH_EXTRA_MESSAGES`
//! more, deletes the extra ones it covered and makes what it returns visible again after
//! `PURGE_DISPATCH_RETRY_SECONDS`; then the round deletes the event's messages it did not
//! return, as the event source mapping does with a partial batch response.

use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use purgeflow_tasks::dispatch::extra::{Queue, dispatch_with_queue, record};
use purgeflow_tasks::dispatch::{Dispatcher, Outcome};
use serde_json::json;

use crate::local::aws::{AwsClients, Origin, made_by};
use crate::local::output::Printer;

/// The most messages one round hands to the dispatcher (the event source mapping's batch size
/// in the CDK stack is larger; locally a round every few seconds drains a storm as well).
pub const MAX_MESSAGES_PER_ROUND: usize = 1000;

/// How long a received message stays invisible while a round handles it (SQS's visibility on
/// receive). The ones the round returns get `retry_seconds` instead.
pub const VISIBILITY_TIMEOUT_SECONDS: i32 = 20;

/// The dispatcher on one queue.
#[derive(Debug, Clone)]
pub struct LocalDispatcher {
    pub aws: AwsClients,
    pub queue_url: String,
    pub dispatcher: Dispatcher,
    /// `PURGE_DISPATCH_RETRY_SECONDS`: the visibility of the messages a round returns.
    pub retry_seconds: u32,
    /// `PURGE_DISPATCH_EXTRA_MESSAGES`: messages received beyond the round's, planned with them.
    pub extra_messages: usize,
}

/// What the rounds did, for the run's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchTotals {
    pub rounds: usize,
    pub invalidations: usize,
    pub refused: usize,
    pub covered: usize,
    pub expired: usize,
    pub malformed: usize,
}

impl LocalDispatcher {
    /// One round: `None` when the queue gave nothing, or when `stop` was asked for while the
    /// round was still waiting for its first message.
    pub async fn round(
        &self,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Option<Outcome>> {
        let mut records = Vec::new();
        while records.len() < MAX_MESSAGES_PER_ROUND {
            let receive = self
                .aws
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(VISIBILITY_TIMEOUT_SECONDS)
                // As in a Lambda event: a malformed message is reported at its first receive.
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .wait_time_seconds(if records.is_empty() { 1 } else { 0 })
                .send();
            // A stop that arrives during the first, long poll ends it at once: otherwise every
            // `--once` run would wait out up to a second of an empty poll at its end. A message
            // received just as the poll is dropped stays invisible for the visibility timeout and
            // counts in `backlog`, so the drain waits for it: nothing is lost, at worst delayed.
            let received = if records.is_empty() && !*stop.borrow() {
                tokio::select! {
                    received = receive => received,
                    _ = stop.changed() => return Ok(None),
                }
            } else {
                receive.await
            }
            .with_context(|| format!("cannot receive from {}", self.queue_url))?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            records.extend(messages.into_iter().map(record));
        }
        if records.is_empty() {
            return Ok(None);
        }
        let handles: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r.message_id.clone().unwrap_or_default(),
                    r.receipt_handle.clone().unwrap_or_default(),
                )
            })
            .collect();
        let mut event = SqsEvent::default();
        event.records = records;
        let queue = Queue {
            sqs: &self.aws.sqs,
            url: &self.queue_url,
            retry_seconds: self.retry_seconds,
            extra_messages: self.extra_messages,
        };
        let outcome = dispatch_with_queue(
            &self.aws.cloudfront,
            &self.aws.sns,
            queue,
            &self.dispatcher,
            event,
            chrono::Utc::now(),
        )
        .await
        .context("the dispatcher failed; its messages come back after the visibility timeout")?;
        let kept: std::collections::BTreeSet<&str> = outcome
            .response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let done: Vec<&(String, String)> = handles
            .iter()
            .filter(|(id, _)| !kept.contains(id.as_str()))
            .collect();
        for chunk in done.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, handle))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .context("a delete entry")
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            self.aws
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .with_context(|| format!("cannot delete from {}", self.queue_url))?;
        }
        Ok(Some(outcome))
    }

    /// Messages on the queue, visible, in flight or delayed (SQS's approximate counts): the
    /// same backlog invalidate-cache's gate reads (`purgeflow_tasks::backlog_gate::backlog`).
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        purgeflow_tasks::backlog_gate::backlog(&self.aws.sqs, &self.queue_url)
            .await
            .with_context(|| format!("cannot read the attributes of {}", self.queue_url))
    }

    /// Rounds until `stop` says so and, if `drain`, the queue is empty; each round that did
    /// something is printed as a `dispatch` line.
    pub async fn run(
        &self,
        printer: &Printer,
        stop: tokio::sync::watch::Receiver<bool>,
        pause: Duration,
    ) -> anyhow::Result<DispatchTotals> {
        let mut stop = stop;
        let mut totals = DispatchTotals::default();
        loop {
            // Asked to stop: once nothing is left (not even a message waiting out its
            // visibility timeout), without a last long poll. Marked as the local runner's, so a
            // count of the run's calls does not take it for the backlog gate's read.
            if *stop.borrow() && made_by(Origin::LocalStopCheck, self.backlog()).await? == 0 {
                return Ok(totals);
            }
            match self.round(&mut stop).await {
                Ok(Some(outcome)) => {
                    totals.rounds += 1;
                    totals.invalidations += usize::from(outcome.invalidation.is_some());
                    totals.refused += usize::from(outcome.refused.is_some());
                    totals.covered += outcome.covered.len();
                    totals.expired += outcome.expired.len();
                    totals.malformed += outcome.malformed.len();
                    printer.dispatch(&json!({
                        "received": outcome.covered.len() + outcome.waiting.len() + outcome.expired.len() + outcome.malformed.len(),
                        "covered": outcome.covered.len(),
                        "waiting": outcome.waiting.len(),
                        "expired": outcome.expired.len(),
                        "malformed": outcome.malformed.len(),
                        "inProgress": outcome.in_progress.map(|p| json!({"invalidations": p.invalidations, "paths": p.paths, "wildcards": p.wildcards})),
                        "sent": outcome.sent.as_ref().map(|b| b.paths.len()),
                        "wildcards": outcome.sent.as_ref().map(|b| b.paths.iter().filter(|p| p.ends_with('*')).count()),
                        "invalidationId": outcome.invalidation.as_ref().map(|i| i.invalidation_id.clone()),
                        "refused": outcome.refused,
                    }));
                }
                // Once asked to stop, the next backlog check decides at once.
                Ok(None) if *stop.borrow() => {}
                Ok(None) => tokio::time::sleep(pause).await,
                Err(err) => {
                    printer.note(&format!("dispatcher: {err:#}"));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// The dispatcher running beside the stream's executions.
#[derive(Debug)]
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<DispatchTotals>>,
}

impl Running {
    /// Starts `dispatcher`'s rounds on a task of its own, printing to `printer`.
    pub fn start(dispatcher: LocalDispatcher, printer: Printer, pause: Duration) -> Running {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move { dispatcher.run(&printer, stopped, pause).await });
        Running { stop, task }
    }

    /// Lets the rounds go on until the deferral queue is empty, then ends them.
    pub async fn drain(self) -> anyhow::Result<DispatchTotals> {
        let _ = self.stop.send(true);
        self.task.await.context("the dispatcher task")?
    }
}
