//! Storms small enough to work out by hand, and properties of every storm.

use super::scenario::{Layout, Policy, Scenario};
use super::simulate;
use super::storm::SECOND;

/// Everything at t = 0 on one shard in one stream batch, invalidations taking exactly
/// `median_s`, no call-rate throttle: the times are sums of the scenario's durations.
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
        create_rate: 0.0,
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
        assert_eq!(outcome.requests(), 1);
        assert_eq!(outcome.refused, 0);
        assert_eq!(outcome.executions, 1);
        assert_eq!(outcome.deferred_batches, 0, "nothing to defer");
        let expected = TAKEN_AT + 60 * SECOND;
        assert!(outcome.freshness.iter().all(|&(_, d)| d == expected));
    }
    let billed: Vec<u64> = outcomes.iter().map(|o| o.paths_billed).collect();
    // per-path, per-execution and purgeflow (10 photos in 10 directories: nothing to fold)
    // send 20 paths; `all` sends /photos/* and /thumbs/photos/*.
    assert_eq!(billed, vec![20, 2, 20, 20]);
    assert_eq!(outcomes[0].peak_files, 20);
    assert_eq!(outcomes[1].peak_wildcards, 2);
    // Only `all` invalidated live objects: every one of the 100 (10 per delete).
    let collateral: Vec<usize> = outcomes.iter().map(|o| o.collateral).collect();
    assert_eq!(collateral, vec![0, 100, 0, 0]);
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
fn a_refused_batch_is_deferred_and_the_dispatcher_sends_it_after_its_window() {
    let outcome = simulate(&by_hand(3001, 1, 1.0), &[Policy::Purgeflow])
        .expect("runs")
        .remove(0);
    assert_eq!(outcome.executions, 11);
    assert_eq!((outcome.refused, outcome.deferred_batches), (1, 1));
    assert_eq!((outcome.reported, outcome.lost), (0, 0));
    assert_eq!(
        (outcome.direct_requests, outcome.dispatched_requests),
        (10, 1)
    );
    assert_eq!(outcome.dispatched_paths_billed, 1);
    // Refused at 0.8 s; SendMessage 0.05 s: on the queue at 0.85 s. The batching window (20 s)
    // passes at 20.85 s; the dispatcher reads the capacity the first ten freed at 1.8 s, plans,
    // and calls CreateInvalidation 0.5 s later, at 21.35 s; 1 s in progress. (Its event is far
    // from full, so it receives nothing beyond it.)
    let late: Vec<u64> = outcome
        .freshness
        .iter()
        .map(|&(_, d)| d)
        .filter(|&d| d != TAKEN_AT + SECOND)
        .collect();
    assert_eq!(late, vec![22_350_000]);
}

#[test]
fn the_call_rate_throttle_reports_today_and_defers_with_the_queue() {
    // 4,000 photos at once in executions of 100 records: 40 executions call CloudFront in the
    // same second; a bucket of 10 at 0.5 a second takes 10, the SDK's and the state machine's
    // retries a few more.
    let scenario = Scenario {
        max_records_per_execution: 100,
        create_rate: 0.5,
        create_burst: 10.0,
        invalidation_median_s: 20.0,
        ..by_hand(4000, 1, 20.0)
    };
    let outcomes = simulate(&scenario, &[Policy::PerExecution, Policy::Purgeflow]).expect("runs");
    let (today, purgeflow) = (&outcomes[0], &outcomes[1]);
    assert!(
        today.throttled > 0 && today.reported > 0,
        "{}",
        today.reported
    );
    assert_eq!((purgeflow.reported, purgeflow.lost), (0, 0));
    assert!(purgeflow.deferred_batches > 0);
    assert!(
        purgeflow.requests() < today.requests() + today.throttled,
        "the dispatcher coalesces: {} calls taken",
        purgeflow.requests()
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
            (
                a.requests(),
                a.refused,
                a.throttled,
                a.reported,
                a.collateral
            ),
            (
                b.requests(),
                b.refused,
                b.throttled,
                b.reported,
                b.collateral
            )
        );
    }
}

#[test]
fn under_pressure_per_execution_folds_and_leaves_fewer_paths_unpurged_than_per_path() {
    // 20,000 photos in 10 s: per-path fills the 3,000 paths in progress at once.
    let scenario = Scenario {
        deletes: 20_000,
        duration_s: 10.0,
        create_rate: 0.0,
        ..Scenario::default()
    };
    let outcomes = simulate(&scenario, &[Policy::PerPath, Policy::PerExecution]).expect("runs");
    let (per_path, per_execution) = (&outcomes[0], &outcomes[1]);
    assert!(
        per_path.refused > 0 && per_path.reported > 0,
        "per-path can't keep up"
    );
    assert!(
        per_execution.peak_wildcards > 0,
        "per-execution folded under pressure"
    );
    assert!(
        per_execution.invalidated() > per_path.invalidated(),
        "per-execution {} vs per-path {}",
        per_execution.invalidated(),
        per_path.invalidated()
    );
    assert!(per_execution.paths_billed < per_path.paths_billed);
}

/// Every storm, every policy: CloudFront's limits are never passed, and every delete ends
/// invalidated, reported for replay or lost, never unaccounted for; no wildcard reaches beyond
/// every live object. purgeflow loses nothing and, with its queue, reports nothing CloudFront
/// refused (no message comes near the hour's max age in these storms), and the planner's
/// `covered` always matches the simulation's own check.
#[test]
fn no_limit_is_passed_and_no_path_is_left_unaccounted() {
    for seed in 1..=12u64 {
        let scenario = Scenario {
            seed,
            deletes: 500 + (seed as usize * 1777) % 4000,
            duration_s: (seed % 4) as f64 * 5.0,
            layout: if seed % 2 == 0 {
                Layout::Spread
            } else {
                Layout::Crowded
            },
            paths_per_object: 1 + (seed as usize % 3),
            live_per_delete: seed as usize % 3,
            shards: 1 + (seed as usize % 4),
            batch_size: [100, 1000, 10_000][seed as usize % 3],
            parallelization_factor: 1 + (seed as usize % 2),
            invalidation_median_s: [5.0, 60.0, 200.0][seed as usize % 3],
            lambda_concurrency: [2, 1000][seed as usize % 2],
            create_rate: [0.5, 0.0, 2.0][seed as usize % 3],
            defer_after_retries: (seed % 3) as u32,
            skip_direct_backlog: [0, 1, 40][seed as usize % 3],
            backlog_lag_s: [0.0, 60.0, 7.0, 20.0][seed as usize % 4],
            requeue_delay_s: [1.0, 5.0, 30.0][seed as usize % 3],
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
            assert!(outcome.collateral <= outcome.live_objects, "{what}");
            if outcome.policy == Policy::Purgeflow {
                assert_eq!(outcome.planner_disagreements, 0, "{what}");
                assert_eq!(outcome.lost, 0, "{what}");
                assert_eq!(outcome.messages_aged_out, 0, "{what}");
                // CloudFront's refusals are deferred, never reported; only Lambda running out
                // of concurrency (2 here) past its retries still ends in a report.
                if scenario.lambda_concurrency > 2 {
                    assert_eq!(outcome.reported, 0, "{what}");
                }
            }
        }
    }
}

/// 6,000 photos at t = 0 on one shard, one path each, 300 records per stream batch: twenty
/// executions of 300 paths, one every 0.25 s, each calling CloudFront 0.8 s after its stream
/// batch was polled (at 0.8, 1.05, ... 5.55 s). The first ten fill the 3,000 paths in progress
/// (100 s each); the eleventh is refused at 3.3 s and deferred at 3.35 s. The dispatcher's
/// window keeps the backlog until 23.35 s, long after the last execution.
fn gated(threshold: usize, lag_s: f64) -> super::Outcome {
    gated_after(threshold, lag_s, 0)
}

/// [`gated`], with `retries` TooManyInvalidationsInProgress retries before a batch is deferred.
fn gated_after(threshold: usize, lag_s: f64, retries: u32) -> super::Outcome {
    let scenario = Scenario {
        batch_size: 300,
        skip_direct_backlog: threshold,
        backlog_lag_s: lag_s,
        defer_after_retries: retries,
        ..by_hand(6000, 1, 100.0)
    };
    let outcome = simulate(&scenario, &[Policy::Purgeflow])
        .expect("runs")
        .remove(0);
    assert_eq!(outcome.executions, 20);
    assert_eq!(outcome.direct_requests, 10);
    assert_eq!((outcome.reported, outcome.lost), (0, 0));
    assert_eq!(outcome.invalidated(), 6000);
    assert_eq!(
        outcome.deferred_batches, 10,
        "every batch the first ten left"
    );
    outcome
}

#[test]
fn the_backlog_gate_defers_without_trying_from_its_threshold_on() {
    // Off: each of the last ten tries CloudFront and is refused.
    let off = gated(0, 0.0);
    assert_eq!((off.refused, off.skipped_direct), (10, 0));
    // At 1: only the first one over is refused; the backlog it leaves gates the nine after it.
    let one = gated(1, 0.0);
    assert_eq!((one.refused, one.skipped_direct), (1, 9));
    // At 3: the gate opens on the third deferred batch, not before.
    let three = gated(3, 0.0);
    assert_eq!((three.refused, three.skipped_direct), (3, 7));
}

#[test]
fn the_backlog_gate_sees_the_queue_as_it_was_its_lag_ago() {
    // Deferred at 3.35 s; with the count 1 s late, the gate sees it from 4.35 s: the executions
    // calling at 3.55, 3.8, 4.05 and 4.3 s still try (and are refused), the five from 4.55 s do
    // not.
    let late = gated(1, 1.0);
    assert_eq!((late.refused, late.skipped_direct), (5, 5));
    // A lag beyond the whole storm never sees the backlog.
    let blind = gated(1, 30.0);
    assert_eq!((blind.refused, blind.skipped_direct), (10, 0));
}

#[test]
fn the_backlog_gate_holds_back_first_attempts_only() {
    // With one retry before deferring, a batch refused on its first attempt is retried (pressure
    // 1, never gated) and refused again while the first ten hold CloudFront, then deferred: two
    // refusals. A batch held back on its first attempt has none. So the refusals are exactly
    // twice the batches not held back, whatever the backlog was when each retry came.
    let outcome = gated_after(1, 0.0, 1);
    assert!(
        outcome.skipped_direct > 0 && outcome.skipped_direct < 10,
        "some batches were held back, not all: {}",
        outcome.skipped_direct
    );
    assert_eq!(outcome.refused, 2 * (10 - outcome.skipped_direct));
}

#[test]
fn the_backlog_gate_cuts_a_storm_s_throttled_calls() {
    let storm = |threshold| Scenario {
        deletes: 12_000,
        duration_s: 12.0,
        skip_direct_backlog: threshold,
        backlog_lag_s: 0.0,
        ..Scenario::default()
    };
    let outcomes: Vec<_> = [0, 1]
        .into_iter()
        .map(|threshold| {
            simulate(&storm(threshold), &[Policy::Purgeflow])
                .expect("runs")
                .remove(0)
        })
        .collect();
    let (off, on) = (&outcomes[0], &outcomes[1]);
    assert_eq!(off.skipped_direct, 0);
    assert!(on.skipped_direct > 0);
    assert!(on.skipped_direct <= on.deferred_batches);
    assert!(
        on.throttled < off.throttled,
        "{} against {}",
        on.throttled,
        off.throttled
    );
    for outcome in &outcomes {
        assert_eq!((outcome.reported, outcome.lost), (0, 0));
    }
}

/// The simulation's event source mappings are the CDK app's defaults: its stream batch size and
/// window, and its deferral queue's batch size, window and MaximumConcurrency.
#[test]
fn the_simulated_mappings_are_the_deployed_ones() {
    let stack =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cdk/lib/purgeflow-stack.ts");
    let stack = std::fs::read_to_string(&stack).expect("the CDK stack is in the repository");
    let setting = |prefix: &str| -> f64 {
        let at = stack
            .find(prefix)
            .unwrap_or_else(|| panic!("the CDK stack no longer says {prefix:?}"));
        let rest = &stack[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        rest[..end].replace('_', "").parse().expect("a number")
    };
    let simulated = Scenario::default();
    assert_eq!(
        setting("maxBatchingWindow: dispatch.maxBatchingWindow ?? Duration.seconds("),
        simulated.dispatch_window_s
    );
    assert_eq!(
        setting("batchSize: dispatch.batchSize ?? "),
        simulated.dispatch_batch_size as f64
    );
    assert_eq!(
        setting("maxConcurrency: "),
        simulated.dispatch_concurrency as f64
    );
    assert_eq!(
        setting("maxBatchingWindow: stream.maxBatchingWindow ?? Duration.seconds("),
        simulated.batching_window_s
    );
    assert_eq!(
        setting("batchSize: stream.batchSize ?? "),
        simulated.batch_size as f64
    );
}

/// The simulation skips the planner when no wildcard slot is free and the oldest batch does not
/// fit the free paths (`model::no_room`): the planner must plan nothing then, whatever follows.
#[test]
fn the_planner_plans_nothing_without_room() {
    use purgeflow_tasks::contract::InvalidationBatch;
    use purgeflow_tasks::dispatch::{Capacity, PlanPolicy, plan};
    use purgeflow_tasks::paths::FoldPolicy;

    let batch = |n: usize, from: usize| InvalidationBatch {
        distribution_id: super::storm::DISTRIBUTION_ID.to_owned(),
        caller_reference: format!("r{from}"),
        paths: (from..from + n)
            .map(|i| format!("/photos/u{}/p{i}.jpg", i % 7))
            .collect(),
    };
    let policy = PlanPolicy {
        area: FoldPolicy::within(["/photos/"]),
        ..PlanPolicy::default()
    };
    let free = Capacity {
        paths: 100,
        wildcards: 0,
    };
    let pending = vec![batch(101, 0), batch(5, 1000), batch(1, 2000)];
    let planned = plan(super::storm::DISTRIBUTION_ID, &pending, free, &policy);
    assert_eq!(planned.invalidation, None);
    assert!(planned.covered.is_empty());
    // With room for the oldest batch, it is planned: the skip is only for no room.
    let roomy = Capacity {
        paths: 101,
        wildcards: 0,
    };
    let planned = plan(super::storm::DISTRIBUTION_ID, &pending, roomy, &policy);
    assert!(planned.covered.contains(&0));
}
