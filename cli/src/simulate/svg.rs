//! The picture: CloudFront occupancy over time (top), freshness by the time of the delete
//! (middle) and the share of deletes invalidated rather than reported (bottom), one line per
//! policy. Plain SVG, no dependency.

use std::fmt::Write as _;

use purgeflow_tasks::paths::{CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS};

use super::outcome::Outcome;
use super::scenario::Policy;
use super::storm::{Micros, SECOND};

const WIDTH: f64 = 900.0;
const PANEL: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const GAP: f64 = 70.0;
const BUCKETS: usize = 300;

fn colour(policy: Policy) -> &'static str {
    match policy {
        Policy::PerPath => "#d62728",
        Policy::All => "#1f77b4",
        Policy::PerExecution => "#ff7f0e",
        Policy::Purgeflow => "#2ca02c",
    }
}

/// The fuller of the two in-progress limits, in percent.
fn occupancy(files: usize, wildcards: usize) -> f64 {
    let files = files as f64 / CLOUDFRONT_MAX_PATHS_PER_BATCH as f64;
    let wildcards = wildcards as f64 / CLOUDFRONT_MAX_WILDCARD_PATHS as f64;
    100.0 * files.max(wildcards)
}

/// Highest occupancy in each of `BUCKETS` time slices up to `end`.
fn occupancy_series(outcome: &Outcome, end: Micros) -> Vec<f64> {
    let mut series = vec![0.0f64; BUCKETS];
    let slice = (end / BUCKETS as u64).max(1);
    let mut current = 0.0;
    let mut index = 0;
    for (bucket, value) in series.iter_mut().enumerate() {
        let until = (bucket as u64 + 1) * slice;
        let mut high = current;
        while index < outcome.timeline.len() && outcome.timeline[index].0 < until {
            let (_, files, wildcards) = outcome.timeline[index];
            current = occupancy(files, wildcards);
            high = high.max(current);
            index += 1;
        }
        *value = high;
    }
    series
}

/// Worst freshness (seconds) of the deletes made in each time slice up to `end`.
fn freshness_series(outcome: &Outcome, end: Micros) -> Vec<Option<f64>> {
    let mut series = vec![None::<f64>; BUCKETS];
    let slice = (end / BUCKETS as u64).max(1);
    for &(at, delay) in &outcome.freshness {
        let bucket = ((at / slice) as usize).min(BUCKETS - 1);
        let seconds = delay as f64 / SECOND as f64;
        series[bucket] = Some(series[bucket].map_or(seconds, |s: f64| s.max(seconds)));
    }
    series
}

/// Share (%) of the deletes made in each time slice that were invalidated (the rest were
/// reported for replay, or lost).
fn invalidated_series(outcome: &Outcome, end: Micros) -> Vec<Option<f64>> {
    let slice = (end / BUCKETS as u64).max(1);
    let bucket = |at: Micros| ((at / slice) as usize).min(BUCKETS - 1);
    let mut invalidated = vec![0u64; BUCKETS];
    let mut all = vec![0u64; BUCKETS];
    for &(at, _) in &outcome.freshness {
        invalidated[bucket(at)] += 1;
        all[bucket(at)] += 1;
    }
    for &at in &outcome.not_invalidated_at {
        all[bucket(at)] += 1;
    }
    invalidated
        .iter()
        .zip(&all)
        .map(|(&i, &a)| (a > 0).then(|| 100.0 * i as f64 / a as f64))
        .collect()
}

fn polyline(out: &mut String, points: &[(f64, f64)], colour: &str) {
    if points.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points=""#
    );
    for (x, y) in points {
        let _ = write!(out, "{x:.1},{y:.1} ");
    }
    out.push_str("\"/>\n");
}

/// The SVG for `outcomes` of one storm, titled `title`.
pub fn render(title: &str, outcomes: &[Outcome]) -> String {
    let end = outcomes
        .iter()
        .map(|o| o.end)
        .max()
        .unwrap_or(SECOND)
        .max(SECOND);
    let plot = WIDTH - LEFT - RIGHT;
    let x = |bucket: usize| LEFT + plot * (bucket as f64 + 0.5) / BUCKETS as f64;
    let height = TOP + 3.0 * PANEL + 2.0 * GAP + 50.0;
    let worst = outcomes
        .iter()
        .filter_map(|o| o.freshness.iter().map(|&(_, d)| d).max())
        .max()
        .unwrap_or(SECOND) as f64
        / SECOND as f64;
    let worst = (worst / 60.0).ceil().max(1.0) * 60.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="20" font-size="14">{title}</text>"#
    );
    let panels = [
        (
            "CloudFront in progress, % of the fuller limit (3,000 paths / 15 wildcards)",
            100.0,
            TOP,
        ),
        (
            "freshness: delete → invalidation complete (s), worst per slice, by time of delete",
            worst,
            TOP + PANEL + GAP,
        ),
        (
            "deletes invalidated, % (the rest reported for replay), by time of delete",
            100.0,
            TOP + 2.0 * (PANEL + GAP),
        ),
    ];
    for (label, top_value, y0) in panels {
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{y0}" width="{plot}" height="{PANEL}" fill="none" stroke="#999"/>"##
        );
        let _ = writeln!(out, r#"<text x="{LEFT}" y="{}">{label}</text>"#, y0 - 6.0);
        for tick in 0..=4 {
            let value = top_value * f64::from(tick) / 4.0;
            let y = y0 + PANEL - PANEL * f64::from(tick) / 4.0;
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{value:.0}</text>"##,
                LEFT - 6.0,
                y + 4.0
            );
        }
    }
    for tick in 0..=5 {
        let seconds = end as f64 / SECOND as f64 * f64::from(tick) / 5.0;
        let x_tick = LEFT + plot * f64::from(tick) / 5.0;
        for y0 in [TOP, TOP + PANEL + GAP, TOP + 2.0 * (PANEL + GAP)] {
            let _ = writeln!(
                out,
                r##"<text x="{x_tick:.1}" y="{}" text-anchor="middle" fill="#555">{seconds:.0} s</text>"##,
                y0 + PANEL + 16.0
            );
        }
    }
    for (row, outcome) in outcomes.iter().enumerate() {
        let colour = colour(outcome.policy);
        let occupancy: Vec<(f64, f64)> = occupancy_series(outcome, end)
            .iter()
            .enumerate()
            .map(|(b, &v)| (x(b), TOP + PANEL - PANEL * v / 100.0))
            .collect();
        polyline(&mut out, &occupancy, colour);
        let y0 = TOP + PANEL + GAP;
        let freshness: Vec<(f64, f64)> = freshness_series(outcome, end)
            .iter()
            .enumerate()
            .filter_map(|(b, v)| v.map(|v| (x(b), y0 + PANEL - PANEL * v / worst)))
            .collect();
        polyline(&mut out, &freshness, colour);
        let y0 = TOP + 2.0 * (PANEL + GAP);
        let share: Vec<(f64, f64)> = invalidated_series(outcome, end)
            .iter()
            .enumerate()
            .filter_map(|(b, v)| v.map(|v| (x(b), y0 + PANEL - PANEL * v / 100.0)))
            .collect();
        polyline(&mut out, &share, colour);
        let legend_y = TOP + 20.0 * row as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            WIDTH - RIGHT + 10.0,
            WIDTH - RIGHT + 30.0,
            WIDTH - RIGHT + 36.0,
            legend_y + 4.0,
            outcome.policy.name()
        );
    }
    out.push_str("</svg>\n");
    out
}
