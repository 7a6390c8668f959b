//! Storms small enough to work out by hand, and properties of every storm.

use super::scenario::{Layout, Policy, Scenario};
use super::simulate;
use super::storm::SECOND;

/// Everything at t = 0 on one shard in one stream batch, invalidations taking exactly
/// `median_s`: the times are sums of the scenario's durations.
fn by_hand(deletes: usize, paths_per_object: usize, median_s: f64) -> Scenario {
    Scenario {
        deletes,
        duration_s: 0.0,
        layout: Layout::Spread,
        paths_per_object,
        shards: 1,
        batch_size: deletes,
        // Small enough that the record limit, not the byte budget, cuts the executions.
        max_records_per_execution: 300,
        invalidation_median_s: median_s,
        invalidation_sigma: 0.0,
        ..Scenario::default()
    }
}

/// Trigger 0.05 s, tasks 0.6 s, invalidate-cache 0.15 s: CloudFront takes the request at 0.8 s.
const TAKEN_AT: u64 = 800_000;

#[test]
fn one_batch_is_invalidated_once_at_the_sum_of_the_steps() {
    let scenario = by_hand(10, 2, 60.0);
    let outcomes = simulate(&scenario, &Policy::ALL).expect("runs");
    for outcome in &outcomes {
        assert_eq!(outcome.invalidated(), 10, "{:?}", outcome.policy);
        assert_eq!((outcome.reported, outcome.lost), (0, 0));
        assert_eq!(outcome.requests, 1);
        assert_eq!(outcome.refused, 0);
        assert_eq!(outcome.executions, 1);
        let expected = TAKEN_AT + 60 * SECOND;
        assert!(outcome.freshness.iter().all(|&(_, d)| d == expected));
    }
    let billed: Vec<u64> = outcomes.iter().map(|o| o.paths_billed).collect();
    // per-path and purgeflow (10 photos in 10 directories: nothing to fold) send 20 paths;
    // `all` sends /photos/* and /thumbs/photos/*.
    assert_eq!(billed, vec![20, 2, 20]);
    assert_eq!(outcomes[0].peak_files, 20);
    assert_eq!(outcomes[1].peak_wildcards, 2);
}

#[test]
fn exactly_the_limit_is_taken_at_once() {
    // 3000 photos, one path each: ten executions of 300, 3000 file paths at once.
    let outcome = simulate(&by_hand(3000, 1, 1.0), &[Policy::PerPath])
        .expect("runs")
        .remove(0);
    assert_eq!(outcome.executions, 10);
    assert_eq!(outcome.refused, 0);
    assert_eq!(outcome.peak_files, 3000);
    assert_eq!(outcome.invalidated(), 3000);
    assert!(
        outcome
            .freshness
            .iter()
            .all(|&(_, d)| d == TAKEN_AT + SECOND)
    );
}

#[test]
fn one_path_over_the_limit_waits_for_a_completion() {
    let outcome = simulate(&by_hand(3001, 1, 1.0), &[Policy::PerPath])
        .expect("runs")
        .remove(0);
    assert_eq!(outcome.executions, 11);
    assert!(
        outcome.refused >= 1,
        "the eleventh request finds 3000 in progress"
    );
    assert_eq!(outcome.invalidated(), 3001);
    assert_eq!(outcome.reported, 0);
    assert_eq!(outcome.peak_files, 3000);
    let late: Vec<u64> = outcome
        .freshness
        .iter()
        .map(|&(_, d)| d)
        .filter(|&d| d != TAKEN_AT + SECOND)
        .collect();
    assert_eq!(late.len(), 1, "only the one over waits");
    assert!(
        late[0] > TAKEN_AT + 2 * SECOND,
        "taken only after the first ten completed at 1.8 s, then 1 s in progress: {}",
        late[0]
    );
}

#[test]
fn the_same_seed_gives_the_same_storm() {
    let scenario = Scenario {
        deletes: 5000,
        duration_s: 10.0,
        ..Scenario::default()
    };
    let a = simulate(&scenario, &Policy::ALL).expect("runs");
    let b = simulate(&scenario, &Policy::ALL).expect("runs");
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a.freshness, b.freshness);
        assert_eq!(
            (a.requests, a.refused, a.reported),
            (b.requests, b.refused, b.reported)
        );
    }
}

#[test]
fn under_pressure_purgeflow_folds_and_leaves_fewer_paths_unpurged_than_per_path() {
    // 20,000 photos in 10 s: per-path fills the 3,000 paths in progress at once.
    let scenario = Scenario {
        deletes: 20_000,
        duration_s: 10.0,
        ..Scenario::default()
    };
    let outcomes = simulate(&scenario, &[Policy::PerPath, Policy::Purgeflow]).expect("runs");
    let (per_path, purgeflow) = (&outcomes[0], &outcomes[1]);
    assert!(
        per_path.refused > 0 && per_path.reported > 0,
        "per-path can't keep up"
    );
    assert!(
        purgeflow.peak_wildcards > 0,
        "purgeflow folded under pressure"
    );
    assert!(
        purgeflow.invalidated() > per_path.invalidated(),
        "purgeflow {} vs per-path {}",
        purgeflow.invalidated(),
        per_path.invalidated()
    );
    assert!(purgeflow.paths_billed < per_path.paths_billed);
}

/// Every storm, every policy: CloudFront's limits are never passed, and every delete ends
/// invalidated, reported for replay or lost, never unaccounted for; purgeflow's retry budget
/// fits in Express's five minutes, so it loses nothing.
#[test]
fn no_limit_is_passed_and_no_path_is_left_unaccounted() {
    for seed in 1..=12u64 {
        let scenario = Scenario {
            seed,
            deletes: 500 + (seed as usize * 1777) % 9000,
            duration_s: (seed % 4) as f64 * 5.0,
            layout: if seed % 2 == 0 {
                Layout::Spread
            } else {
                Layout::Crowded
            },
            paths_per_object: 1 + (seed as usize % 3),
            shards: 1 + (seed as usize % 4),
            batch_size: [100, 1000, 10_000][seed as usize % 3],
            parallelization_factor: 1 + (seed as usize % 2),
            invalidation_median_s: [5.0, 60.0, 200.0][seed as usize % 3],
            lambda_concurrency: [2, 1000][seed as usize % 2],
            ..Scenario::default()
        };
        for outcome in simulate(&scenario, &Policy::ALL).expect("runs") {
            let what = format!("seed {seed} {:?}", outcome.policy);
            assert!(outcome.peak_files <= 3000, "{what}");
            assert!(outcome.peak_wildcards <= 15, "{what}");
            assert_eq!(outcome.unaccounted, 0, "{what}");
            assert_eq!(
                outcome.invalidated() + outcome.reported + outcome.lost,
                scenario.deletes,
                "{what}"
            );
            if outcome.policy == Policy::Purgeflow {
                assert_eq!(outcome.lost, 0, "{what}");
            }
        }
    }
}
