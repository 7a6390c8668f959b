//! The dispatcher's planner on what one 6 MB SQS event holds in a 1M-delete storm: 180 deferred
//! batches of 1,000 paths (500 deletes, 2 path templates each), keys spread over 500,000 user
//! directories, as `purgeflow simulate` makes them.
//!
//! - `plan_180k_spread_room`: 9 wildcard slots free; the union folds (both folds are tried).
//! - `plan_180k_spread_one_slot`: one wildcard slot free; no fold of both templates fits, so
//!   the planner looks for the longest run of the oldest batches that does (the bisection).
//! - `plan_180k_crowded_two_slots`: the same number of paths in 4 album directories per template
//!   (a quarter of the storm each, one after another, album1 first), inside an area of one album
//!   per template, 2 wildcard slots free: the oldest 45 batches (album1) fold into two
//!   wildcards (`/photos/album1/p*`, `/thumbs/photos/album1/p*`), the rest (outside the area)
//!   cannot, so the run that fits is found part-way.
//!
//! Each case's plan is printed before it is timed, and checked to be the one described.
//!
//!     cargo bench -p purgeflow-tasks --bench planner

use criterion::{Criterion, criterion_group, criterion_main};
use purgeflow_tasks::contract::InvalidationBatch;
use purgeflow_tasks::dispatch::{Capacity, Fold, PlanPolicy, plan};
use purgeflow_tasks::paths::FoldPolicy;

const DIST: &str = "E2QWRUHEXAMPLE";
const BATCHES: usize = 180;
const DELETES_PER_BATCH: u64 = 500;

fn pending(dir: impl Fn(u64) -> String) -> Vec<InvalidationBatch> {
    (0..BATCHES as u64)
        .map(|b| {
            let mut paths: Vec<String> = (0..DELETES_PER_BATCH)
                .flat_map(|d| {
                    let i = b * DELETES_PER_BATCH + d;
                    let key = format!("{}p{}.jpg", dir(i), i * 11 + 3);
                    [format!("/{key}"), format!("/thumbs/{key}")]
                })
                .collect();
            paths.sort();
            InvalidationBatch {
                distribution_id: DIST.to_owned(),
                caller_reference: format!("purgeflow-batch-{b}"),
                paths,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let spread = pending(|i| {
        let user = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 500_000;
        format!("photos/u{user}/")
    });
    let quarter = BATCHES as u64 * DELETES_PER_BATCH / 4;
    let crowded = pending(|i| format!("photos/album{}/", (1 + i / quarter) % 4));
    let policy = PlanPolicy::default();
    let albums = PlanPolicy {
        area: FoldPolicy::within(["/photos/album1/", "/thumbs/photos/album1/"]),
        ..PlanPolicy::default()
    };
    let cases = [
        (
            "plan_180k_spread_room",
            &spread,
            Capacity::free(0, 4, 2),
            &policy,
        ),
        (
            "plan_180k_spread_one_slot",
            &spread,
            Capacity {
                paths: 3000,
                wildcards: 1,
            },
            &policy,
        ),
        (
            "plan_180k_crowded_two_slots",
            &crowded,
            Capacity {
                paths: 3000,
                wildcards: 2,
            },
            &albums,
        ),
    ];
    // What each case decides, printed once and checked against the description above, so a
    // case never times a different plan than it says (the crowded case once held all 4 albums
    // in every batch: no batch could fold, and it planned exact paths like the one-slot case).
    let expected = [
        ("plan_180k_spread_room", true, BATCHES),
        ("plan_180k_spread_one_slot", false, 3),
        ("plan_180k_crowded_two_slots", true, BATCHES / 4),
    ];
    for ((name, pending, free, policy), (_, folds, covers)) in cases.iter().zip(expected) {
        let planned = plan(DIST, pending, *free, policy);
        let paths = planned
            .invalidation
            .as_ref()
            .map_or(0, |batch| batch.paths.len());
        println!(
            "{name}: {:?}, {paths} paths ({} wildcards), covers {} of {} batches",
            planned.fold,
            planned.wildcards().count(),
            planned.covered.len(),
            pending.len()
        );
        assert_eq!(
            (planned.fold != Fold::Exact, planned.covered.len()),
            (folds, covers),
            "{name}: not the plan its description says (folded, batches covered)"
        );
    }
    let mut group = c.benchmark_group("planner");
    group.sample_size(10);
    for (name, pending, free, policy) in cases {
        group.bench_function(name, |b| b.iter(|| plan(DIST, pending, free, policy)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
