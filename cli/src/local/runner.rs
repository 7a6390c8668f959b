//! The polling loop: read a batch from each readable shard, run it through the pipeline, wait
//! for its executions, then checkpoint it. A batch is checkpointed only once all its executions
//! finished (whatever their outcome: failures are reported on the topic), so stopping at any
//! point loses nothing; at worst the unfinished batch runs again, which every step tolerates.

use std::time::{Duration, Instant};

use purgeflow_tasks::records::Classified;
use serde::Serialize;
use serde_json::json;

use crate::local::output::Printer;
use crate::local::pipeline::{ExecutionReport, Pipeline, TimeMode, millis};
use crate::local::stream::StreamPoller;

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
    /// Records too large for any execution input.
    pub too_large: usize,
    pub executions: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub wall_ms: f64,
    /// Of `wall_ms`, the time spent reading the stream (DescribeStream, GetShardIterator,
    /// GetRecords): what the event source mapping does in AWS, outside the purge itself.
    pub stream_ms: f64,
    #[serde(skip)]
    pub reports: Vec<ExecutionReport>,
}

impl RunSummary {
    pub fn line(&self) -> String {
        format!(
            "{} stream record(s) in {} batch(es): {} removal(s) in {} execution(s), {} succeeded, {} reported failures; {:.0} ms ({:.0} ms reading the stream)",
            self.stream_records,
            self.batches,
            self.removed,
            self.executions,
            self.succeeded,
            self.failed,
            self.wall_ms,
            self.stream_ms
        )
    }
}

/// Polls until drained (`once`), told to stop, or forever.
pub async fn run_stream(
    poller: &mut StreamPoller,
    pipeline: &Pipeline,
    options: &RunOptions,
    printer: &Printer,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut summary = RunSummary::default();
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
                let plan = pipeline.plan(&batch.records)?;
                summary.batches += 1;
                summary.stream_records += batch.records.len();
                summary.removed += plan.counts.removed;
                summary.malformed += plan.counts.malformed;
                for record in &plan.records {
                    if let Classified::Malformed { event_id, reason } = &record.outcome {
                        printer.note(&format!(
                            "stream record {} dropped as malformed: {reason}",
                            event_id.as_deref().unwrap_or("<no eventID>")
                        ));
                    }
                }
                if let Some((index, error)) = &plan.stopped {
                    // In AWS these go to the event source mapping's on-failure queue after its
                    // retries; no local retry can shrink a record, so they are named and skipped.
                    let skipped = plan.records.len() - index;
                    summary.too_large += skipped;
                    printer.note(&format!(
                        "{error}; {skipped} record(s) from there on were not run"
                    ));
                }
                let reports = pipeline
                    .run_plan(&plan, &|report| printer.execution(report))
                    .await?;
                summary.executions += reports.len();
                summary.succeeded += reports.iter().filter(|r| r.succeeded()).count();
                summary.failed += reports.iter().filter(|r| !r.succeeded()).count();
                summary.reports.extend(reports);
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
    printer.summary(
        &json!({
            "batches": summary.batches,
            "streamRecords": summary.stream_records,
            "removed": summary.removed,
            "malformed": summary.malformed,
            "tooLarge": summary.too_large,
            "executions": summary.executions,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "wallMs": summary.wall_ms,
            "streamMs": summary.stream_ms,
        }),
        &summary.line(),
    );
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
}
