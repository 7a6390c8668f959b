//! What one policy did in one storm, and the side-by-side table.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::scenario::Policy;
use super::storm::{Micros, SECOND};

/// CloudFront's price per invalidation path past the first 1,000 of the month.
pub const DOLLARS_PER_PATH: f64 = 0.005;
/// Paths free each month.
pub const FREE_PATHS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub policy: Policy,
    /// (deleted at, delete to invalidation complete) of every delete that was invalidated.
    pub freshness: Vec<(Micros, Micros)>,
    /// Deletes whose batch ran out of retries: in a report, for replay.
    pub reported: usize,
    /// When each delete that was reported or lost was made (for the picture).
    pub not_invalidated_at: Vec<Micros>,
    /// Deletes whose execution timed out before their batch was sent: nobody knows.
    pub lost: usize,
    /// Deletes in none of the above: always 0 unless the model is wrong.
    pub unaccounted: usize,
    /// Invalidations CloudFront took from executions (their own batch).
    pub direct_requests: u64,
    /// Invalidations CloudFront took from the dispatcher.
    pub dispatched_requests: u64,
    /// CreateInvalidation calls refused with TooManyInvalidationsInProgress.
    pub refused: u64,
    /// CreateInvalidation calls throttled (each SDK attempt counts).
    pub throttled: u64,
    pub lambda_throttles: u64,
    pub paths_billed: u64,
    /// Of which the dispatcher's.
    pub dispatched_paths_billed: u64,
    pub executions: usize,
    pub executions_reported: usize,
    pub executions_deferred: usize,
    pub executions_timed_out: usize,
    /// Batches sent to the deferral queue...
    pub deferred_batches: u64,
    /// ...of which without trying CloudFront first (a backlog was waiting).
    pub skipped_direct: u64,
    pub peak_queue: usize,
    pub dispatcher_invocations: u64,
    pub messages_dispatched: u64,
    pub messages_returned: u64,
    pub messages_aged_out: u64,
    pub max_receives: u32,
    /// Messages the planner said it covered and the simulation's own check did not, or the
    /// other way round, in plans CloudFront took: always 0 unless one of them is wrong.
    pub planner_disagreements: u64,
    /// Every invalidation's time in progress: CloudFront's own completion times.
    pub completion_times: Vec<Micros>,
    /// Every wildcard CloudFront took.
    pub wildcards: BTreeSet<String>,
    /// Live cached objects the wildcards invalidated, of `live_objects`.
    pub collateral: usize,
    pub live_objects: usize,
    pub peak_files: usize,
    pub peak_wildcards: usize,
    pub mean_files: f64,
    pub mean_wildcards: f64,
    /// When the last event happened.
    pub end: Micros,
    pub timeline: Vec<(Micros, usize, usize)>,
}

impl Outcome {
    pub fn new(policy: Policy) -> Outcome {
        Outcome {
            policy,
            freshness: Vec::new(),
            reported: 0,
            not_invalidated_at: Vec::new(),
            lost: 0,
            unaccounted: 0,
            direct_requests: 0,
            dispatched_requests: 0,
            refused: 0,
            throttled: 0,
            lambda_throttles: 0,
            paths_billed: 0,
            dispatched_paths_billed: 0,
            executions: 0,
            executions_reported: 0,
            executions_deferred: 0,
            executions_timed_out: 0,
            deferred_batches: 0,
            skipped_direct: 0,
            peak_queue: 0,
            dispatcher_invocations: 0,
            messages_dispatched: 0,
            messages_returned: 0,
            messages_aged_out: 0,
            max_receives: 0,
            planner_disagreements: 0,
            completion_times: Vec::new(),
            wildcards: BTreeSet::new(),
            collateral: 0,
            live_objects: 0,
            peak_files: 0,
            peak_wildcards: 0,
            mean_files: 0.0,
            mean_wildcards: 0.0,
            end: 0,
            timeline: Vec::new(),
        }
    }

    pub fn invalidated(&self) -> usize {
        self.freshness.len()
    }

    /// Invalidations CloudFront took.
    pub fn requests(&self) -> u64 {
        self.direct_requests + self.dispatched_requests
    }

    /// The freshness delay at quantile `q` (0..=1), nearest rank; `None` when nothing was
    /// invalidated.
    pub fn freshness_quantile(&self, q: f64) -> Option<Micros> {
        quantile(self.freshness.iter().map(|&(_, d)| d).collect(), q)
    }

    /// CloudFront's own completion time (an invalidation's time in progress) at quantile `q`.
    pub fn completion_quantile(&self, q: f64) -> Option<Micros> {
        quantile(self.completion_times.clone(), q)
    }

    pub fn cost_dollars(&self) -> f64 {
        self.paths_billed.saturating_sub(FREE_PATHS) as f64 * DOLLARS_PER_PATH
    }
}

/// Nearest rank.
fn quantile(mut values: Vec<Micros>, q: f64) -> Option<Micros> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

fn seconds(micros: Option<Micros>) -> String {
    micros.map_or_else(
        || "-".to_owned(),
        |m| format!("{:.1}", m as f64 / SECOND as f64),
    )
}

/// A table row: its label, and how to write one policy's cell.
type Row = (&'static str, Box<dyn Fn(&Outcome) -> String>);

/// The side-by-side table, one column per policy.
pub fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<Row> = vec![
        (
            "deletes invalidated",
            Box::new(|o| o.invalidated().to_string()),
        ),
        (
            "deletes reported for replay",
            Box::new(|o| o.reported.to_string()),
        ),
        (
            "deletes lost (execution timed out)",
            Box::new(|o| o.lost.to_string()),
        ),
        (
            "freshness p50 / p99 / max (s)",
            Box::new(|o| {
                format!(
                    "{} / {} / {}",
                    seconds(o.freshness_quantile(0.5)),
                    seconds(o.freshness_quantile(0.99)),
                    seconds(o.freshness_quantile(1.0))
                )
            }),
        ),
        (
            "CloudFront's own completion p50 / p99 (s)",
            Box::new(|o| {
                format!(
                    "{} / {}",
                    seconds(o.completion_quantile(0.5)),
                    seconds(o.completion_quantile(0.99))
                )
            }),
        ),
        (
            "paths billed (dispatcher's) / cost",
            Box::new(|o| {
                format!(
                    "{} ({}) / ${:.2}",
                    o.paths_billed,
                    o.dispatched_paths_billed,
                    o.cost_dollars()
                )
            }),
        ),
        (
            "collateral: live objects invalidated",
            Box::new(|o| {
                let share = if o.live_objects == 0 {
                    0.0
                } else {
                    100.0 * o.collateral as f64 / o.live_objects as f64
                };
                format!("{} ({share:.1}%)", o.collateral)
            }),
        ),
        (
            "distinct wildcards taken",
            Box::new(|o| o.wildcards.len().to_string()),
        ),
        (
            "peak in progress: paths / wildcards",
            Box::new(|o| format!("{} / {}", o.peak_files, o.peak_wildcards)),
        ),
        (
            "mean in progress: paths / wildcards",
            Box::new(|o| format!("{:.0} / {:.1}", o.mean_files, o.mean_wildcards)),
        ),
        (
            "invalidations taken: direct / dispatched",
            Box::new(|o| format!("{} / {}", o.direct_requests, o.dispatched_requests)),
        ),
        (
            "calls refused (TooMany) / throttled",
            Box::new(|o| format!("{} / {}", o.refused, o.throttled)),
        ),
        (
            "executions / reported / deferred / timed out",
            Box::new(|o| {
                format!(
                    "{} / {} / {} / {}",
                    o.executions,
                    o.executions_reported,
                    o.executions_deferred,
                    o.executions_timed_out
                )
            }),
        ),
        (
            "batches deferred (without trying)",
            Box::new(|o| format!("{} ({})", o.deferred_batches, o.skipped_direct)),
        ),
        (
            "queue: peak messages / max receives",
            Box::new(|o| format!("{} / {}", o.peak_queue, o.max_receives)),
        ),
        (
            "dispatcher: invocations / messages returned / aged out",
            Box::new(|o| {
                format!(
                    "{} / {} / {}",
                    o.dispatcher_invocations, o.messages_returned, o.messages_aged_out
                )
            }),
        ),
        (
            "Lambda throttles",
            Box::new(|o| o.lambda_throttles.to_string()),
        ),
        ("last event (s)", Box::new(|o| seconds(Some(o.end)))),
    ];
    let mut out = String::new();
    let _ = write!(out, "| |");
    for outcome in outcomes {
        let _ = write!(out, " {} |", outcome.policy.name());
    }
    let _ = write!(out, "\n|---|");
    for _ in outcomes {
        let _ = write!(out, "---:|");
    }
    for (label, cell) in &rows {
        let _ = write!(out, "\n| {label} |");
        for outcome in outcomes {
            let _ = write!(out, " {} |", cell(outcome));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_and_cost_skips_the_free_paths() {
        let mut o = Outcome::new(Policy::Purgeflow);
        o.freshness = (1..=100).map(|s| (0, s * SECOND)).collect();
        assert_eq!(o.freshness_quantile(0.5), Some(50 * SECOND));
        assert_eq!(o.freshness_quantile(0.99), Some(99 * SECOND));
        assert_eq!(o.freshness_quantile(1.0), Some(100 * SECOND));
        o.paths_billed = 1000;
        assert_eq!(o.cost_dollars(), 0.0);
        o.paths_billed = 1_001_000;
        assert!((o.cost_dollars() - 5000.0).abs() < 1e-9);
    }
}
