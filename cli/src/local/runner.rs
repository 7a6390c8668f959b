//! The polling loop: read a batch from each readable shard, deliver it as an event source
//! mapping would ([`crate::local::delivery`]: the trigger's code and the executions it starts,
//! retried, bisected around a record that keeps failing), keep any record given up on in the
//! on-failure store ([`crate::local::on_failure`]), then checkpoint the batch.
//!
//! A batch is checkpointed only once every record in it was handed over (its execution
//! finished, and succeeded or published its failure report) or kept in the on-failure store.
//! So stopping at any point loses nothing: at worst the unfinished batch runs again, which
//! every step tolerates, and the store does not keep a record twice.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use purgeflow_tasks::records::{Classified, RecordCounts};
use purgeflow_tasks::trigger::PackError;
use serde::Serialize;
use serde_json::{Value, json};

use crate::local::delivery::{Answer, Failure, Handler, RETRIES, deliver};
use crate::local::on_failure::{OnFailureStore, Stored, StoredRecord};
use crate::local::output::Printer;
use crate::local::pipeline::{ExecutionReport, Pipeline, TimeMode, millis};
use crate::local::stream::{ShardBatch, StreamPoller};

/// `--once` stops after this many rounds in a row found nothing new (a stream may answer
/// empty before the next record becomes visible).
const EMPTY_ROUNDS_TO_DRAIN: u32 = 2;

/// How to poll.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Drain what is in the stream, then return.
    pub once: bool,
    /// The pause after a round that found nothing.
    pub poll_interval: Duration,
    /// Stop after this many non-empty batches (a controlled stop mid-stream).
    pub stop_after_batches: Option<usize>,
    /// Whether the engine waits out Retry backoffs and Waits for real ([`TimeMode::decide`]).
    pub time_mode: TimeMode,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            once: true,
            poll_interval: Duration::from_millis(200),
            stop_after_batches: None,
            time_mode: TimeMode::Virtual,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Non-empty batches handled.
    pub batches: usize,
    pub stream_records: usize,
    /// REMOVE records handed to executions.
    pub removed: usize,
    /// Records dropped as structurally broken (no retry could fix them).
    pub malformed: usize,
    /// Records too large for any execution input, handed over as their rejection (reported by
    /// the execution that carried them).
    pub rejected_too_large: usize,
    /// Records not handed over even alone after their retries, kept in the on-failure store
    /// (or found already there, kept by a run that stopped before its checkpoint).
    pub on_failure: usize,
    /// The on-failure store's file.
    pub on_failure_file: PathBuf,
    pub executions: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Of `failed`, the executions that ended without publishing their failure report (each
    /// was retried, and its records bisected, until the one at fault was kept aside).
    pub unreported: usize,
    pub wall_ms: f64,
    /// Of `wall_ms`, the time spent reading the stream (DescribeStream, GetShardIterator,
    /// GetRecords): what the event source mapping does in AWS, outside the purge itself.
    pub stream_ms: f64,
    #[serde(skip)]
    pub reports: Vec<ExecutionReport>,
}

impl RunSummary {
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} stream record(s) in {} batch(es): {} removal(s) in {} execution(s), {} succeeded, {} reported failures{}; {:.0} ms ({:.0} ms reading the stream)",
            self.stream_records,
            self.batches,
            self.removed,
            self.executions,
            self.succeeded,
            self.failed - self.unreported,
            if self.unreported > 0 {
                format!(", {} failed without a report", self.unreported)
            } else {
                String::new()
            },
            self.wall_ms,
            self.stream_ms
        );
        if self.on_failure > 0 {
            line.push_str(&format!(
                "\n{} record(s) could not be handed over after {RETRIES} retries and bisection: kept in the on-failure store {} (exit code 3)",
                self.on_failure,
                self.on_failure_file.display()
            ));
        }
        line
    }

    /// The `--json` summary line's fields.
    pub fn fields(&self) -> Value {
        json!({
            "batches": self.batches,
            "streamRecords": self.stream_records,
            "removed": self.removed,
            "malformed": self.malformed,
            "rejectedTooLarge": self.rejected_too_large,
            "onFailure": self.on_failure,
            "onFailureFile": self.on_failure_file.display().to_string(),
            "executions": self.executions,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unreported": self.unreported,
            "wallMs": self.wall_ms,
            "streamMs": self.stream_ms,
        })
    }
}

/// What the trigger's code did with (part of) a batch in one attempt.
#[derive(Debug)]
struct Attempt {
    counts: RecordCounts,
    rejected_too_large: usize,
    reports: Vec<ExecutionReport>,
}

/// The trigger's role, locally: plan the records with the trigger's own code and run the
/// executions on the engine. A record is not handed over when packing stopped before it, or
/// when its execution ended without succeeding or publishing its failure report (ReportFailures
/// itself failed, or it timed out): nothing would tell of it otherwise.
struct LocalTrigger<'a> {
    pipeline: &'a Pipeline,
    printer: &'a Printer,
}

/// The longest error message a stored record keeps.
const MAX_MESSAGE_CHARS: usize = 1000;

impl Handler for LocalTrigger<'_> {
    type Handled = Attempt;

    fn handle<'a>(
        &'a self,
        records: &'a [Value],
    ) -> LocalBoxFuture<'a, anyhow::Result<Answer<Attempt>>> {
        Box::pin(async move {
            let plan = self.pipeline.plan(records)?;
            for record in &plan.records {
                if let Classified::Malformed { event_id, reason } = &record.outcome {
                    self.printer.note(&format!(
                        "stream record {} is malformed: handed over as a MalformedRecord rejection, which its execution reports ({reason})",
                        event_id.as_deref().unwrap_or("<no eventID>")
                    ));
                }
            }
            for (_, rejection) in &plan.rejected {
                self.printer.note(&format!(
                    "stream record {} is too large for any execution: handed over as its rejection, {:?}, which its execution reports",
                    rejection.event_id, rejection.reason
                ));
            }
            let reports = self
                .pipeline
                .run_plan(&plan, &|report: &ExecutionReport| {
                    self.printer.execution(report);
                })
                .await?;
            let mut failure = plan.stopped.as_ref().map(|(index, error)| Failure {
                index: *index,
                error: match error {
                    PackError::RecordTooLarge { .. } => "RecordTooLarge".to_owned(),
                },
                message: error.to_string(),
            });
            for report in reports.iter().filter(|r| !r.accounted_for()) {
                let Some(first) = plan
                    .executions
                    .iter()
                    .find(|e| e.name == report.execution)
                    .map(|e| e.first_record)
                else {
                    continue;
                };
                if failure.as_ref().is_none_or(|f| first < f.index) {
                    failure = Some(Failure {
                        index: first,
                        error: report
                            .error
                            .clone()
                            .unwrap_or_else(|| report.status.clone()),
                        message: report
                            .cause
                            .as_deref()
                            .unwrap_or("the execution ended without a failure report")
                            .chars()
                            .take(MAX_MESSAGE_CHARS)
                            .collect(),
                    });
                }
            }
            Ok(Answer {
                handled: Attempt {
                    counts: plan.counts,
                    rejected_too_large: plan.rejected.len(),
                    reports,
                },
                failure,
            })
        })
    }
}

/// Delivers one shard batch and keeps what was given up on; after it, every record of the batch
/// was handed over or is in the store, so the batch may be checkpointed.
async fn deliver_batch(
    batch: &ShardBatch,
    stream_arn: &str,
    pipeline: &Pipeline,
    store: &mut OnFailureStore,
    printer: &Printer,
    summary: &mut RunSummary,
) -> anyhow::Result<()> {
    let trigger = LocalTrigger { pipeline, printer };
    let delivery = deliver(&batch.records, &trigger, RETRIES, &|note| {
        printer.note(&note);
    })
    .await?;
    // The first answer is the whole batch's.
    if let Some(first) = delivery.answers.first() {
        summary.removed += first.counts.removed;
        summary.malformed += first.counts.malformed;
        summary.rejected_too_large += first.rejected_too_large;
    }
    for attempt in delivery.answers {
        summary.executions += attempt.reports.len();
        summary.succeeded += attempt.reports.iter().filter(|r| r.succeeded()).count();
        summary.failed += attempt.reports.iter().filter(|r| !r.succeeded()).count();
        summary.unreported += attempt
            .reports
            .iter()
            .filter(|r| !r.accounted_for())
            .count();
        summary.reports.extend(attempt.reports);
    }
    for given_up in delivery.given_up {
        let record = &batch.records[given_up.index];
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let stored = StoredRecord {
            stored_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            stream_arn: stream_arn.to_owned(),
            shard_id: batch.shard_id.clone(),
            sequence_number: text(&record["dynamodb"]["SequenceNumber"])
                .unwrap_or_else(|| "<none>".to_owned()),
            event_id: text(&record["eventID"]),
            error: given_up.failure.error,
            message: given_up.failure.message,
            attempts: given_up.attempts,
            record: record.clone(),
        };
        let what = format!(
            "stream record {} (shard {}, sequence number {}) not handed over after {} attempts ({}: {})",
            stored.event_id.as_deref().unwrap_or("<no eventID>"),
            stored.shard_id,
            stored.sequence_number,
            stored.attempts,
            stored.error,
            stored.message
        );
        match store.store(&stored)? {
            Stored::Written => printer.note(&format!(
                "{what}: kept in the on-failure store {}",
                store.path().display()
            )),
            Stored::AlreadyThere => printer.note(&format!(
                "{what}: already in the on-failure store {} (kept by an earlier run)",
                store.path().display()
            )),
        }
        summary.on_failure += 1;
    }
    Ok(())
}

/// Polls until drained (`once`), told to stop, or forever.
pub async fn run_stream(
    poller: &mut StreamPoller,
    pipeline: &Pipeline,
    store: &mut OnFailureStore,
    options: &RunOptions,
    printer: &Printer,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut summary = RunSummary {
        on_failure_file: store.path().to_owned(),
        ..RunSummary::default()
    };
    let mut empty_rounds = 0;
    let mut reading = Duration::ZERO;
    loop {
        let poll_started = Instant::now();
        let batches = poller.poll().await?;
        reading += poll_started.elapsed();
        let mut progressed = false;
        for batch in &batches {
            progressed |= batch.closed || !batch.records.is_empty();
            if !batch.records.is_empty() {
                summary.batches += 1;
                summary.stream_records += batch.records.len();
                let stream_arn = poller.stream_arn().to_owned();
                deliver_batch(batch, &stream_arn, pipeline, store, printer, &mut summary).await?;
            }
            poller.commit(batch)?;
            if options
                .stop_after_batches
                .is_some_and(|limit| summary.batches >= limit)
            {
                summary.wall_ms = millis(started.elapsed());
                summary.stream_ms = millis(reading);
                return Ok(summary);
            }
        }
        if progressed {
            empty_rounds = 0;
            continue;
        }
        empty_rounds += 1;
        if options.once && empty_rounds >= EMPTY_ROUNDS_TO_DRAIN {
            break;
        }
        tokio::time::sleep(options.poll_interval).await;
    }
    summary.wall_ms = millis(started.elapsed());
    summary.stream_ms = millis(reading);
    printer.summary(&summary.fields(), &summary.line());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_everything() {
        let summary = RunSummary {
            batches: 2,
            stream_records: 9,
            removed: 7,
            executions: 2,
            succeeded: 1,
            failed: 1,
            wall_ms: 12.4,
            stream_ms: 3.0,
            ..RunSummary::default()
        };
        assert_eq!(
            summary.line(),
            "9 stream record(s) in 2 batch(es): 7 removal(s) in 2 execution(s), 1 succeeded, 1 reported failures; 12 ms (3 ms reading the stream)"
        );
    }

    #[test]
    fn the_summary_names_the_on_failure_store_when_it_kept_anything() {
        let summary = RunSummary {
            executions: 4,
            succeeded: 1,
            failed: 3,
            unreported: 2,
            on_failure: 2,
            on_failure_file: PathBuf::from(".local/on-failure/records.jsonl"),
            ..RunSummary::default()
        };
        assert!(
            summary.line().contains(
                "4 execution(s), 1 succeeded, 1 reported failures, 2 failed without a report;"
            ),
            "{}",
            summary.line()
        );
        assert!(
            summary.line().ends_with(
                "\n2 record(s) could not be handed over after 2 retries and bisection: kept in the on-failure store .local/on-failure/records.jsonl (exit code 3)"
            ),
            "{}",
            summary.line()
        );
        assert_eq!(summary.fields()["onFailure"], 2);
        assert_eq!(
            summary.fields()["onFailureFile"],
            ".local/on-failure/records.jsonl"
        );
    }
}
