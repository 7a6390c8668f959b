use super::*;

const DIST: &str = "E2QWRUHEXAMPLE";

fn batch(reference: &str, paths: impl IntoIterator<Item = String>) -> InvalidationBatch {
    let mut paths: Vec<String> = paths.into_iter().collect();
    paths.sort();
    paths.dedup();
    InvalidationBatch {
        distribution_id: DIST.into(),
        caller_reference: reference.into(),
        paths,
    }
}

/// Room on an idle distribution, two wildcard slots kept for people.
fn idle() -> Capacity {
    Capacity::free(0, 0, DEFAULT_RESERVED_WILDCARDS)
}

/// The defaults: folded invalidations are wildcards only.
fn policy() -> PlanPolicy {
    PlanPolicy::default()
}

/// Folded invalidations may keep `n` file paths exact.
fn keeping(n: usize) -> PlanPolicy {
    PlanPolicy {
        folded_paths: n,
        ..PlanPolicy::default()
    }
}

fn sent(plan: &Plan) -> &[String] {
    plan.invalidation
        .as_ref()
        .map_or(&[], |b| b.paths.as_slice())
}

#[test]
fn free_room_is_what_is_left_less_the_slots_kept_for_people() {
    assert_eq!(
        Capacity::free(0, 0, 2),
        Capacity {
            paths: 3000,
            wildcards: 13
        }
    );
    assert_eq!(
        Capacity::free(2990, 14, 2),
        Capacity {
            paths: 10,
            wildcards: 0
        }
    );
    assert_eq!(Capacity::free(5000, 20, 2), Capacity::default());
}

#[test]
fn exact_paths_while_they_fit_unioned_across_executions() {
    let pending = [
        batch("r1", ["/a/1.jpg".into(), "/a/2.jpg".into()]),
        batch("r2", ["/a/2.jpg".into(), "/b/3.jpg".into()]),
    ];
    let plan = plan(DIST, &pending, idle(), &policy());
    assert_eq!(plan.fold, Fold::Exact);
    assert_eq!(sent(&plan), ["/a/1.jpg", "/a/2.jpg", "/b/3.jpg"]);
    assert_eq!(plan.covered, vec![0, 1]);
    assert!(plan.uncovered.is_empty());
}

#[test]
fn nothing_is_planned_when_the_distribution_is_full() {
    let pending = [batch("r1", ["/a/1.jpg".into()])];
    let plan = plan(
        DIST,
        &pending,
        Capacity::default(),
        &PlanPolicy {
            allow_root: true,
            ..policy()
        },
    );
    assert_eq!(plan.invalidation, None);
    assert_eq!(plan.uncovered, vec![0]);
}

#[test]
fn a_crowded_album_folds_inside_its_directory() {
    // One user deleting an album of 500, plus 20 photos spread over other users: more than
    // the 100 paths free. Whatever folds, only the album's own directory is swept.
    let album = batch("album", (0..500).map(|i| format!("/photos/u12/p{i}.jpg")));
    let spread = batch(
        "spread",
        (0..20).map(|i| format!("/photos/u{}/p.jpg", 1000 + i * 7)),
    );
    let free = Capacity {
        paths: 100,
        wildcards: 13,
    };
    let folded = plan(DIST, &[album.clone(), spread.clone()], free, &keeping(100));
    let wildcards: Vec<&str> = folded.wildcards().collect();
    assert!(!wildcards.is_empty());
    assert!(
        wildcards.iter().all(|w| w.starts_with("/photos/u12/")),
        "{wildcards:?}"
    );
    assert!(
        spread.paths.iter().all(|p| sent(&folded).contains(p)),
        "the spread ones stay exact"
    );
    assert_eq!(folded.covered, vec![0, 1]);

    // One wildcard: the tightest prefix over the album.
    let free = Capacity {
        paths: 100,
        wildcards: 1,
    };
    let one = plan(DIST, &[album, spread.clone()], free, &keeping(100));
    assert_eq!(one.wildcards().collect::<Vec<_>>(), ["/photos/u12/p*"]);
    assert_eq!(sent(&one).len(), 21);
    // When that prefix is the directory, the directory fold says so.
    let album = batch("album", (0..500).map(|i| format!("/photos/u12/{i}.jpg")));
    let one = plan(DIST, &[album, spread], free, &keeping(100));
    assert_eq!(one.fold, Fold::Directories);
    assert_eq!(one.wildcards().collect::<Vec<_>>(), ["/photos/u12/*"]);
}

#[test]
fn folded_invalidations_are_wildcards_only_by_default() {
    let album = batch("album", (0..500).map(|i| format!("/photos/u12/p{i}.jpg")));
    let spread = batch(
        "spread",
        (0..20).map(|i| format!("/photos/u{}/p.jpg", 1000 + i * 7)),
    );
    let free = Capacity {
        paths: 100,
        wildcards: 13,
    };
    let plan = plan(DIST, &[album, spread], free, &policy());
    let wildcards: Vec<&str> = plan.wildcards().collect();
    assert_eq!(sent(&plan).len(), wildcards.len(), "{:?}", sent(&plan));
    assert!(wildcards.len() <= 13);
    assert!(!wildcards.contains(&"/photos/*"), "{wildcards:?}");
    assert_eq!(plan.covered, vec![0, 1]);
}

#[test]
fn spread_deletes_fold_into_partial_name_prefixes_not_the_whole_directory() {
    // A TTL sweep: 6,000 users with one photo each. The only directory fold that fits is
    // /photos/*; prefixes of the user names sweep less.
    let pending: Vec<InvalidationBatch> = (0..6)
        .map(|b| {
            batch(
                &format!("r{b}"),
                (0..1000).map(|i| format!("/photos/u{}/p.jpg", 1000 + b * 1000 + i)),
            )
        })
        .collect();
    let plan_wildcards_only = plan(DIST, &pending, idle(), &policy());
    assert_eq!(plan_wildcards_only.fold, Fold::Prefixes);
    assert_eq!(
        plan_wildcards_only.wildcards().collect::<Vec<_>>(),
        [
            "/photos/u1*",
            "/photos/u2*",
            "/photos/u3*",
            "/photos/u4*",
            "/photos/u5*",
            "/photos/u6*"
        ]
    );
    assert_eq!(plan_wildcards_only.covered, (0..6).collect::<Vec<_>>());

    // Keeping up to 3,000 exact, half of them stay exact and the rest is swept by prefixes.
    let plan = plan(DIST, &pending, idle(), &keeping(3000));
    assert_eq!(plan.fold, Fold::Prefixes);
    let wildcards: Vec<&str> = plan.wildcards().collect();
    assert!(wildcards.len() <= 13, "{wildcards:?}");
    assert!(
        wildcards
            .iter()
            .all(|w| w.starts_with("/photos/u") && w.len() > "/photos/u*".len())
    );
    assert!(sent(&plan).len() - wildcards.len() <= 3000 - wildcards.len());
    assert!(sent(&plan).len() > 2000);
    assert_eq!(plan.covered, (0..6).collect::<Vec<_>>());
}

#[test]
fn the_oldest_batches_go_first_when_not_everything_fits() {
    // No wildcard slot free and nothing to fold into anyway: 10 paths of room, 4 per batch.
    let pending: Vec<InvalidationBatch> = (0..5)
        .map(|b| batch(&format!("r{b}"), (0..4).map(|i| format!("/x{b}/{i}.jpg"))))
        .collect();
    let free = Capacity {
        paths: 10,
        wildcards: 0,
    };
    let plan = plan(DIST, &pending, free, &policy());
    assert_eq!(plan.covered, vec![0, 1]);
    assert_eq!(plan.uncovered, vec![2, 3, 4]);
    assert_eq!(sent(&plan).len(), 8);
}

#[test]
fn a_later_batch_the_plan_happens_to_cover_is_covered_too() {
    let pending = [
        batch("r1", ["/a/1.jpg".into(), "/a/2.jpg".into()]),
        batch("r2", (0..10).map(|i| format!("/b/{i}.jpg"))),
        batch("r3", ["/a/2.jpg".into()]),
    ];
    let free = Capacity {
        paths: 2,
        wildcards: 0,
    };
    let plan = plan(DIST, &pending, free, &policy());
    assert_eq!(plan.covered, vec![0, 2]);
    assert_eq!(plan.uncovered, vec![1]);
}

#[test]
fn another_distributions_batches_are_never_planned() {
    let mut other = batch("r2", ["/b/1.jpg".into()]);
    other.distribution_id = "EOTHER".into();
    let pending = [batch("r1", ["/a/1.jpg".into()]), other];
    let plan = plan(DIST, &pending, idle(), &policy());
    assert_eq!(sent(&plan), ["/a/1.jpg"]);
    assert_eq!(plan.covered, vec![0]);
    assert_eq!(plan.uncovered, vec![1]);
}

#[test]
fn the_root_only_when_allowed() {
    // Two top-level directories, one wildcard free and no path: only /* would cover both.
    let pending = [batch(
        "r1",
        (0..50)
            .map(|i| format!("/photos/u{i}/p.jpg"))
            .chain((0..50).map(|i| format!("/thumbs/u{i}/p.jpg"))),
    )];
    let free = Capacity {
        paths: 0,
        wildcards: 1,
    };
    let refused = plan(DIST, &pending, free, &policy());
    assert_eq!(refused.invalidation, None);
    let allowed = plan(
        DIST,
        &pending,
        free,
        &PlanPolicy {
            allow_root: true,
            ..policy()
        },
    );
    assert_eq!(sent(&allowed), ["/*"]);
    assert_eq!(allowed.covered, vec![0]);
}

#[test]
fn the_caller_reference_names_the_content_not_the_order() {
    let a = batch("r1", ["/a/1.jpg".into()]);
    let b = batch("r2", ["/b/1.jpg".into()]);
    let area = policy();
    let one = plan(DIST, &[a.clone(), b.clone()], idle(), &area);
    let again = plan(DIST, &[b.clone(), a.clone()], idle(), &area);
    assert_eq!(
        one.invalidation, again.invalidation,
        "same work, same request"
    );
    let reference = |p: &Plan| p.invalidation.as_ref().unwrap().caller_reference.clone();
    // The same paths from other executions are another delete: invalidated again.
    let c = batch("r3", ["/b/1.jpg".into()]);
    assert_ne!(
        reference(&one),
        reference(&plan(DIST, &[a.clone(), c], idle(), &area))
    );
    // Other paths from the same executions: another request.
    let fewer = plan(
        DIST,
        &[a.clone(), b.clone()],
        Capacity {
            paths: 1,
            wildcards: 0,
        },
        &area,
    );
    assert_ne!(reference(&one), reference(&fewer));
    assert!(reference(&one).starts_with("purgeflow-"));
}

mod properties {
    use super::*;
    use crate::pressure::count;
    use proptest::prelude::*;

    /// A pending batch: paths under a few top-level directories, some with wildcards (as
    /// BatchPaths folds them), sometimes for another distribution.
    fn pending_batch() -> impl Strategy<Value = InvalidationBatch> {
        let entry = (
            prop::sample::select(vec!["photos", "thumbs", "other"]),
            prop::sample::select(vec!["u1", "u12", "u2", "u123", "v9", "u1-a"]),
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c%C3%A9"]), 0..2),
            0u32..300,
            prop::bool::weighted(0.03),
        )
            .prop_map(|(top, user, dirs, file, wildcard)| {
                let dirs: String = dirs.iter().map(|d| format!("{d}/")).collect();
                if wildcard {
                    format!("/{top}/{user}/{dirs}*")
                } else {
                    format!("/{top}/{user}/{dirs}p{file}.jpg")
                }
            });
        (
            prop::collection::vec(entry, 1..200),
            0u32..1000,
            prop::bool::weighted(0.05),
        )
            .prop_map(|(paths, reference, foreign)| {
                let mut b = batch(&format!("r{reference}"), paths);
                if foreign {
                    b.distribution_id = "EOTHER".into();
                }
                b
            })
    }

    fn covers(sent: &[String], path: &str) -> bool {
        sent.iter()
            .any(|s| s == path || (is_wildcard(s) && path.starts_with(&s[..s.len() - 1])))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_covered_path_is_sent_within_budget_and_the_area(
            pending in prop::collection::vec(pending_batch(), 0..40),
            paths in prop::sample::select(vec![0usize, 5, 100, 1000, 3000]),
            folded_paths in prop::sample::select(vec![0usize, 10, 3000]),
            wildcards in 0usize..=15,
            allow_root in any::<bool>(),
            fenced in any::<bool>(),
        ) {
            let area = if fenced {
                FoldPolicy::within(["/photos/u1", "/thumbs/"])
            } else {
                FoldPolicy::default()
            };
            let free = Capacity { paths, wildcards };
            let policy = PlanPolicy { area: area.clone(), allow_root, folded_paths };
            let plan = plan(DIST, &pending, free, &policy);
            let sent = sent(&plan).to_vec();

            // Every batch is either covered in full or left for later, never both.
            let mut all: Vec<usize> = plan.covered.iter().chain(&plan.uncovered).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..pending.len()).collect::<Vec<_>>());
            for &i in &plan.covered {
                prop_assert_eq!(&pending[i].distribution_id, DIST);
                for path in &pending[i].paths {
                    prop_assert!(covers(&sent, path), "{} of covered batch {} not sent", path, i);
                }
            }
            // Within the free room, in one request.
            let (file_paths, wildcard_paths) = count(&sent);
            prop_assert!(free.holds(file_paths, wildcard_paths), "{} paths, {} wildcards", file_paths, wildcard_paths);
            // Nothing sent that no pending batch asked for, except wildcards within the area.
            let asked: BTreeSet<&str> = pending
                .iter()
                .filter(|b| b.distribution_id == DIST)
                .flat_map(|b| b.paths.iter().map(String::as_str))
                .collect();
            for entry in &sent {
                if asked.contains(entry.as_str()) {
                    continue;
                }
                prop_assert!(is_wildcard(entry), "{} was never pending", entry);
                let prefix = &entry[..entry.len() - 1];
                prop_assert!(prefix != "/" || (allow_root && !fenced), "{}", entry);
                prop_assert!(super::super::super::fold::prefix_allowed(prefix, &area, allow_root), "{} is outside the area", entry);
                prop_assert!(!prefix.contains('*') && !prefix.ends_with('%'), "{}", entry);
                // Every sent wildcard covers something pending.
                prop_assert!(asked.iter().any(|p| p.starts_with(prefix)), "{} covers nothing", entry);
            }
            // Deterministic.
            prop_assert_eq!(&plan, &super::plan(DIST, &pending, free, &policy));
        }

        #[test]
        fn with_room_for_everything_exactly_all_is_covered_as_it_is(
            pending in prop::collection::vec(pending_batch(), 1..10),
        ) {
            let ours: BTreeSet<String> = pending
                .iter()
                .filter(|b| b.distribution_id == DIST)
                .flat_map(|b| b.paths.iter().cloned())
                .collect();
            let (paths, wildcards) = count(&ours);
            prop_assume!(paths + wildcards <= 3000 && wildcards <= 13);
            let plan = plan(DIST, &pending, idle(), &policy());
            prop_assert_eq!(plan.fold, Fold::Exact);
            let expected: Vec<usize> = (0..pending.len()).filter(|&i| pending[i].distribution_id == DIST).collect();
            prop_assert_eq!(&plan.covered, &expected);
            // Exactly the union, less what a pending wildcard already covers.
            let sent: BTreeSet<String> = sent(&plan).iter().cloned().collect();
            prop_assert!(sent.is_subset(&ours));
        }
    }
}
