//! What one policy did in one storm, and the side-by-side table.

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
    pub requests: u64,
    pub refused: u64,
    pub lambda_throttles: u64,
    pub paths_billed: u64,
    pub executions: usize,
    pub executions_reported: usize,
    pub executions_timed_out: usize,
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
            requests: 0,
            refused: 0,
            lambda_throttles: 0,
            paths_billed: 0,
            executions: 0,
            executions_reported: 0,
            executions_timed_out: 0,
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

    /// The freshness delay at quantile `q` (0..=1), nearest rank; `None` when nothing was
    /// invalidated.
    pub fn freshness_quantile(&self, q: f64) -> Option<Micros> {
        let mut delays: Vec<Micros> = self.freshness.iter().map(|&(_, d)| d).collect();
        if delays.is_empty() {
            return None;
        }
        delays.sort_unstable();
        let rank = ((q * delays.len() as f64).ceil() as usize).clamp(1, delays.len());
        Some(delays[rank - 1])
    }

    pub fn cost_dollars(&self) -> f64 {
        self.paths_billed.saturating_sub(FREE_PATHS) as f64 * DOLLARS_PER_PATH
    }
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
            "freshness p50 (s)",
            Box::new(|o| seconds(o.freshness_quantile(0.5))),
        ),
        (
            "freshness p99 (s)",
            Box::new(|o| seconds(o.freshness_quantile(0.99))),
        ),
        (
            "freshness max (s)",
            Box::new(|o| seconds(o.freshness_quantile(1.0))),
        ),
        (
            "peak file paths in progress (of 3000)",
            Box::new(|o| o.peak_files.to_string()),
        ),
        (
            "peak wildcards in progress (of 15)",
            Box::new(|o| o.peak_wildcards.to_string()),
        ),
        (
            "mean file paths in progress",
            Box::new(|o| format!("{:.0}", o.mean_files)),
        ),
        (
            "mean wildcards in progress",
            Box::new(|o| format!("{:.1}", o.mean_wildcards)),
        ),
        (
            "invalidation requests taken",
            Box::new(|o| o.requests.to_string()),
        ),
        (
            "requests refused (TooMany)",
            Box::new(|o| o.refused.to_string()),
        ),
        ("paths billed", Box::new(|o| o.paths_billed.to_string())),
        (
            "cost ($0.005/path after 1,000)",
            Box::new(|o| format!("${:.2}", o.cost_dollars())),
        ),
        ("executions", Box::new(|o| o.executions.to_string())),
        (
            "executions reported",
            Box::new(|o| o.executions_reported.to_string()),
        ),
        (
            "executions timed out",
            Box::new(|o| o.executions_timed_out.to_string()),
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
