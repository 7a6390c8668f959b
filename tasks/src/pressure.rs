//! Folding a batch harder when CloudFront is full. No AWS call: plain, deterministic functions.
//!
//! CloudFront takes at most 3,000 file paths and 15 wildcard paths in progress per distribution,
//! and an invalidation stays in progress for minutes. In a delete storm many executions
//! invalidate at once, so a batch can find the distribution full: CloudFront answers
//! `TooManyInvalidationsInProgress`. Only CloudFront knows what is in progress (purgeflow would
//! need a `GetInvalidation` per invalidation to count it), so that answer is the signal, and
//! each retry after it sends the batch at a higher **pressure level**:
//!
//! - level 0 is the batch as BatchPaths planned it;
//! - level `k` must fit [`Budget::at_level`]`(k)`: at most `3000 / 4^k` file paths and
//!   `max(1, 15 / 2^k)` wildcards (750 and 7, then 187 and 3, then 46 and 1, ...), so a smaller
//!   batch fits into whatever capacity the invalidations that finish free;
//! - [`fit`] meets a budget at the least cost: it folds at the deepest directory level that
//!   suffices (the least over-invalidation: only that directory's other cached objects are
//!   fetched again), the most crowded directories first (each wildcard saves the most billed
//!   paths);
//! - it never folds outside the area purgeflow may purge ([`FoldPolicy::within`], from
//!   `PURGE_KEY_PREFIX`), never shallower than the fold policy's `min_depth`, and never to `/*`
//!   unless [`PressurePolicy::allow_root`] (`PURGE_PRESSURE_ALLOW_ROOT=true`) says so;
//! - [`PressurePolicy::max_level`] (`PURGE_PRESSURE_MAX_LEVEL`) caps the level: `0` turns
//!   folding under pressure off.
//!
//! The level is the state's retry count (`$states.context.State.RetryCount`), which counts every
//! retry, so a retry after a throttle or a Lambda fault folds harder too. That never leaves a
//! path uninvalidated, and a fold names its CallerReference by its content, so a fold sent again
//! (at another level that folds the same way) is not paid twice.
//!
//! The freshness bound is the state machine's retry schedule on `TooManyInvalidationsInProgress`
//! (`purge.asl.json`, CreateInvalidation): level `k` is tried after the `k`-th retry, at most
//! 5, 15, 35, 65 and 95 s after the first answer, and past the last retry the batch is
//! reported for replay. So no path waits longer than that for CloudFront's capacity before it
//! is either invalidated (perhaps by a coarser wildcard) or reported.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::contract::InvalidationBatch;
use crate::paths::{
    CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS, FoldPolicy, Folded,
    caller_reference, is_wildcard,
};

/// `PURGE_PRESSURE_MAX_LEVEL` when unset: level 3 holds at most 46 file paths and one wildcard,
/// small enough to fit as soon as any invalidation finishes.
pub const DEFAULT_MAX_LEVEL: u32 = 3;

/// The highest level there is: at level 6 the file budget is 0 (`3000 >> 12`), so every path
/// must be under a wildcard; higher levels could not ask for less.
pub const MAX_LEVEL: u32 = 6;

/// How hard a batch may be folded under pressure. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PressurePolicy {
    /// The highest pressure level used; retries past it resend that level's batch.
    pub max_level: u32,
    /// Whether a wildcard may cover the whole distribution (`/*`). Off by default: a storm
    /// must not end in `/*` unless it is configured to.
    pub allow_root: bool,
}

impl Default for PressurePolicy {
    fn default() -> Self {
        PressurePolicy {
            max_level: DEFAULT_MAX_LEVEL,
            allow_root: false,
        }
    }
}

/// What one batch may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// File (non-wildcard) paths.
    pub paths: usize,
    /// Wildcard paths.
    pub wildcards: usize,
}

impl Budget {
    /// The budget at pressure `level`: CloudFront's own limits at 0, then a quarter of the file
    /// paths and half the wildcards (at least one) per level.
    pub fn at_level(level: u32) -> Budget {
        let level = level.min(MAX_LEVEL);
        Budget {
            paths: CLOUDFRONT_MAX_PATHS_PER_BATCH >> (2 * level),
            wildcards: (CLOUDFRONT_MAX_WILDCARD_PATHS >> level).max(1),
        }
    }

    pub(crate) fn holds(&self, paths: usize, wildcards: usize) -> bool {
        paths <= self.paths && wildcards <= self.wildcards
    }
}

/// The result of [`fit`]: the folded entries, and whether they are within the budget. When no
/// fold the policy allows meets the budget, `fits` is false and `folded` is the smallest one it
/// allows (the batch is still sent: CloudFront may have room by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub folded: Folded,
    pub fits: bool,
}

/// The directory an entry sits in, with its trailing `/`, split into its first `depth`
/// components: `ancestor("/a/b/c.jpg", 1)` is `/a/`, `ancestor("/a/b/*", 2)` is `/a/b/`.
/// `None` when the entry's own directory is shallower than `depth`.
fn ancestor(entry: &str, depth: usize) -> Option<&str> {
    let dir_end = entry.rfind('/')?;
    let mut seen = 0;
    for (at, byte) in entry.bytes().enumerate().take(dir_end + 1) {
        if byte == b'/' {
            if seen == depth {
                return Some(&entry[..=at]);
            }
            seen += 1;
        }
    }
    None
}

/// File paths and wildcards among `entries`.
pub fn count<'a>(entries: impl IntoIterator<Item = &'a String>) -> (usize, usize) {
    let (mut paths, mut wildcards) = (0, 0);
    for entry in entries {
        if is_wildcard(entry) {
            wildcards += 1;
        } else {
            paths += 1;
        }
    }
    (paths, wildcards)
}

/// How many directories deep an entry's own directory is (`/x.jpg` → 0, `/a/b/*` → 2).
fn dir_depth(entry: &str) -> usize {
    entry.matches('/').count().saturating_sub(1)
}

/// Folds `entries` (encoded paths and wildcards, as a batch holds them) until they fit
/// `budget`, at the least cost the module docs describe, never outside what `area` allows.
pub fn fit(entries: &BTreeSet<String>, budget: Budget, area: &FoldPolicy, allow_root: bool) -> Fit {
    let sorted: Vec<&str> = entries.iter().map(String::as_str).collect();
    let (folded, fits) = fit_sorted(&sorted, budget, area, allow_root);
    Fit {
        folded: split(folded.into_iter().map(Cow::into_owned).collect()),
        fits,
    }
}

/// [`fit`] over sorted, distinct entries, without copying them (the dispatcher's planner calls
/// it on ~180,000 entries, several times per plan): the entries to send, those kept borrowed and
/// the new wildcards owned, in no particular order, and whether they meet the budget. Linear
/// in the entries per directory level.
pub(crate) fn fit_sorted<'a>(
    entries: &[&'a str],
    budget: Budget,
    area: &FoldPolicy,
    allow_root: bool,
) -> (Vec<Cow<'a, str>>, bool) {
    let (paths, wildcards) = tally(entries);
    if budget.holds(paths, wildcards) {
        return (borrowed(entries), true);
    }
    let deepest = entries.iter().map(|e| dir_depth(e)).max().unwrap_or(0);
    // Depth 0 is the root, `/*`: only when allowed, whatever the fold policy's min_depth.
    let depth_allowed = |depth: usize| {
        if depth == 0 {
            allow_root
        } else {
            depth >= area.min_depth
        }
    };
    let mut smallest: Option<Vec<Cow<'a, str>>> = None;
    for depth in (0..=deepest).rev().filter(|&d| depth_allowed(d)) {
        let folded = fold_at_depth(entries, depth, budget, area);
        // The new wildcards cover nothing left (their entries are gone, and directories of one
        // depth are disjoint): only a wildcard the batch came with can cover something.
        let folded = if wildcards > 0 {
            drop_covered(folded)
        } else {
            folded
        };
        let (paths, wildcards) = tally(&folded);
        if budget.holds(paths, wildcards) {
            return (folded, true);
        }
        if folded.len() < smallest.as_ref().map_or(entries.len(), Vec::len) {
            smallest = Some(folded);
        }
    }
    (smallest.unwrap_or_else(|| borrowed(entries)), false)
}

fn borrowed<'a>(entries: &[&'a str]) -> Vec<Cow<'a, str>> {
    entries.iter().map(|e| Cow::Borrowed(*e)).collect()
}

/// File paths and wildcards among `entries`.
pub(crate) fn tally<S: AsRef<str>>(entries: &[S]) -> (usize, usize) {
    let wildcards = entries.iter().filter(|e| is_wildcard(e.as_ref())).count();
    (entries.len() - wildcards, wildcards)
}

/// The greedy both folds share (directories here, name prefixes in the dispatcher's
/// `fold.rs`): `groups` (each one's file paths and wildcards, in name order) are folded into one
/// wildcard each, the most crowded first (ties in name order), until `budget` holds for what is
/// left of `total`. Returns the indexes of the groups folded and whether the budget holds; when
/// it never does, every group is folded (the smallest fold there is).
///
/// Each fold leaves a wildcard behind, so after `k` folds at least `k` wildcards are left: a fit
/// folds at most `budget.wildcards` groups, and only that many of the most crowded are ever
/// ordered (linear in the groups, however many there are).
pub(crate) fn most_crowded_first(
    groups: &[(usize, usize)],
    total: (usize, usize),
    budget: Budget,
) -> (Vec<usize>, bool) {
    let (mut paths, mut wildcards) = total;
    if budget.holds(paths, wildcards) {
        return (Vec::new(), true);
    }
    let key = |&i: &usize| (std::cmp::Reverse(groups[i].0 + groups[i].1), i);
    let mut order: Vec<usize> = (0..groups.len()).collect();
    let top = budget.wildcards.min(order.len());
    if top < order.len() {
        order.select_nth_unstable_by_key(top, key);
    }
    order[..top].sort_unstable_by_key(key);
    for (k, &group) in order[..top].iter().enumerate() {
        let (group_paths, group_wildcards) = groups[group];
        paths -= group_paths;
        wildcards = wildcards - group_wildcards + 1;
        if budget.holds(paths, wildcards) {
            order.truncate(k + 1);
            return (order, true);
        }
    }
    ((0..groups.len()).collect(), false)
}

/// One pass of [`fit`]: the directories `depth` deep that hold more than one entry (or one
/// deeper wildcard, which a shallower one would merge with nothing) become wildcards, the most
/// crowded first, until the budget holds or none is left.
///
/// `entries` are sorted, so the entries under one directory are neighbours: a directory's
/// entries are exactly those that start with it.
fn fold_at_depth<'a>(
    entries: &[&'a str],
    depth: usize,
    budget: Budget,
    area: &FoldPolicy,
) -> Vec<Cow<'a, str>> {
    // (directory, first entry, one past its last entry)
    let mut dirs: Vec<(&str, usize, usize)> = Vec::new();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while at < entries.len() {
        let Some(dir) = ancestor(entries[at], depth).filter(|dir| area.inside(dir)) else {
            at += 1;
            continue;
        };
        let end = at
            + entries[at..]
                .iter()
                .take_while(|e| e.starts_with(dir))
                .count();
        // A group worth folding shrinks the batch: two entries or more become one wildcard.
        if end - at >= 2 {
            dirs.push((dir, at, end));
            groups.push(tally(&entries[at..end]));
        }
        at = end;
    }
    let (folded, _) = most_crowded_first(&groups, tally(entries), budget);
    let mut under = vec![false; entries.len()];
    for &group in &folded {
        let (_, first, end) = dirs[group];
        under[first..end].fill(true);
    }
    entries
        .iter()
        .zip(&under)
        .filter(|(_, under)| !**under)
        .map(|(entry, _)| Cow::Borrowed(*entry))
        .chain(
            folded
                .iter()
                .map(|&g| Cow::Owned(format!("{}*", dirs[g].0))),
        )
        .collect()
}

/// Without the entries a directory wildcard of the set already covers (a replayed `/a/*` with a
/// new `/a/b/*`, say): sending them would only cost billed paths.
fn drop_covered(entries: Vec<Cow<'_, str>>) -> Vec<Cow<'_, str>> {
    let keep: Vec<bool> = {
        let dirs: BTreeSet<&str> = entries
            .iter()
            .filter_map(|e| e.strip_suffix('*'))
            .filter(|dir| dir.ends_with('/'))
            .collect();
        if dirs.is_empty() {
            return entries;
        }
        entries
            .iter()
            .map(|entry| {
                // A wildcard is covered by a shallower directory's, a file by its own too.
                let own = dir_depth(entry);
                let depths = if is_wildcard(entry) { own } else { own + 1 };
                !(0..depths)
                    .any(|depth| ancestor(entry, depth).is_some_and(|dir| dirs.contains(dir)))
            })
            .collect()
    };
    entries
        .into_iter()
        .zip(keep)
        .filter_map(|(entry, keep)| keep.then_some(entry))
        .collect()
}

fn split(entries: BTreeSet<String>) -> Folded {
    let (wildcards, paths) = entries.into_iter().partition(|e| is_wildcard(e));
    Folded { wildcards, paths }
}

/// The batch to send at pressure `level` (capped at the policy's `max_level`): the batch itself
/// when it already fits, else the folded batch, with a CallerReference derived from the
/// original one and the folded paths, so sending the same fold again gets the same
/// invalidation back.
/// Also returns the level used and whether the budget was met.
pub fn batch_at_level(
    batch: &InvalidationBatch,
    level: u32,
    area: &FoldPolicy,
    policy: &PressurePolicy,
) -> (InvalidationBatch, u32, bool) {
    let level = level.min(policy.max_level).min(MAX_LEVEL);
    if level == 0 {
        return (batch.clone(), 0, true);
    }
    let entries: BTreeSet<String> = batch.paths.iter().cloned().collect();
    let Fit { folded, fits } = fit(&entries, Budget::at_level(level), area, policy.allow_root);
    let paths: Vec<String> = folded.wildcards.into_iter().chain(folded.paths).collect();
    if paths.len() == batch.paths.len() && paths.iter().all(|p| entries.contains(p)) {
        return (batch.clone(), level, fits);
    }
    // Seeded by the original reference and named by the folded content, not by the level: two
    // levels that fold to the same paths send the same request, so a retry that follows a
    // created invalidation whose answer was lost (the retry count counts every retry, not only
    // CloudFront's refusals) gets it back instead of paying again.
    let seed = format!("{}#folded", batch.caller_reference);
    let folded = InvalidationBatch {
        caller_reference: caller_reference(&seed, &batch.distribution_id, &paths),
        distribution_id: batch.distribution_id.clone(),
        paths,
    };
    (folded, level, fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(entries: &[&str]) -> BTreeSet<String> {
        entries.iter().map(|e| (*e).to_owned()).collect()
    }

    /// `n` photos spread one per user directory under `/photos/`.
    fn spread(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("/photos/u{i}/p.jpg")).collect()
    }

    fn all(folded: &Folded) -> BTreeSet<String> {
        folded
            .wildcards
            .iter()
            .chain(&folded.paths)
            .cloned()
            .collect()
    }

    /// Every entry of `before` is either kept or under a wildcard of `after`.
    fn covered(before: &BTreeSet<String>, after: &Folded) -> bool {
        let after = all(after);
        before.iter().all(|entry| {
            after.contains(entry)
                || after
                    .iter()
                    .any(|w| is_wildcard(w) && entry.starts_with(&w[..w.len() - 1]) && entry != w)
        })
    }

    #[test]
    fn the_budgets_shrink_per_level_and_never_below_one_wildcard() {
        assert_eq!(
            Budget::at_level(0),
            Budget {
                paths: 3000,
                wildcards: 15
            }
        );
        assert_eq!(
            Budget::at_level(1),
            Budget {
                paths: 750,
                wildcards: 7
            }
        );
        assert_eq!(
            Budget::at_level(2),
            Budget {
                paths: 187,
                wildcards: 3
            }
        );
        assert_eq!(
            Budget::at_level(3),
            Budget {
                paths: 46,
                wildcards: 1
            }
        );
        assert_eq!(
            Budget::at_level(6),
            Budget {
                paths: 0,
                wildcards: 1
            }
        );
        assert_eq!(Budget::at_level(60), Budget::at_level(6));
    }

    #[test]
    fn a_batch_within_budget_is_left_alone() {
        let entries = set(&["/a/1.jpg", "/a/2.jpg", "/b/*"]);
        let fit = fit(&entries, Budget::at_level(1), &FoldPolicy::default(), false);
        assert!(fit.fits);
        assert_eq!(all(&fit.folded), entries);
    }

    #[test]
    fn the_deepest_level_that_suffices_wins_and_the_most_crowded_directory_first() {
        // 60 paths: 50 in /img/a/x/, 10 in /img/b/. Level 3 allows 46 paths: folding /img/a/x/
        // alone (depth 3) is enough; /img/b/ keeps its files.
        let mut entries: BTreeSet<String> = (0..50).map(|i| format!("/img/a/x/{i}.jpg")).collect();
        entries.extend((0..10).map(|i| format!("/img/b/{i}.jpg")));
        let fit = fit(&entries, Budget::at_level(3), &FoldPolicy::default(), false);
        assert!(fit.fits);
        assert_eq!(fit.folded.wildcards, vec!["/img/a/x/*".to_owned()]);
        assert_eq!(fit.folded.paths.len(), 10);
        assert!(covered(&entries, &fit.folded));
    }

    #[test]
    fn spread_paths_climb_until_they_fit() {
        // 2,985 users with one photo each: no user directory is crowded, so the fold climbs to
        // /photos/, one wildcard.
        let entries = spread(2985);
        let fit = fit(&entries, Budget::at_level(1), &FoldPolicy::default(), false);
        assert!(fit.fits);
        assert_eq!(fit.folded.wildcards, vec!["/photos/*".to_owned()]);
        assert!(fit.folded.paths.is_empty());
    }

    #[test]
    fn wildcards_merge_into_fewer_when_the_wildcard_budget_shrinks() {
        let entries: BTreeSet<String> = (0..15)
            .map(|i| format!("/img/{}/d{i}/*", if i < 8 { "a" } else { "b" }))
            .collect();
        let fit = fit(&entries, Budget::at_level(2), &FoldPolicy::default(), false);
        assert!(fit.fits);
        assert_eq!(
            fit.folded.wildcards,
            vec!["/img/a/*".to_owned(), "/img/b/*".to_owned()]
        );
        assert!(covered(&entries, &fit.folded));
    }

    #[test]
    fn the_root_is_never_folded_unless_allowed() {
        // Two top-level directories and the budget asks for one wildcard: only `/*` would fit.
        let mut entries = spread(100);
        entries.extend((0..100).map(|i| format!("/thumbs/u{i}/p.jpg")));
        let refused = fit(&entries, Budget::at_level(3), &FoldPolicy::default(), false);
        assert!(!refused.fits);
        assert_eq!(
            refused.folded.wildcards,
            vec!["/photos/*".to_owned(), "/thumbs/*".to_owned()],
            "the smallest fold it may make"
        );
        assert!(!all(&refused.folded).contains("/*"));

        let allowed = fit(&entries, Budget::at_level(3), &FoldPolicy::default(), true);
        assert!(allowed.fits);
        assert_eq!(allowed.folded.wildcards, vec!["/*".to_owned()]);
    }

    #[test]
    fn no_wildcard_reaches_outside_the_purge_area() {
        // purgeflow may purge under /photos/u1- only: /photos/ is out of bounds, and the files
        // sit directly in it, so nothing can be folded.
        let entries: BTreeSet<String> = (0..100).map(|i| format!("/photos/u1-{i}.jpg")).collect();
        let area = FoldPolicy::within(["/photos/u1-"]);
        let fit = fit(&entries, Budget::at_level(3), &area, true);
        assert!(!fit.fits);
        assert!(fit.folded.wildcards.is_empty());
        assert_eq!(all(&fit.folded), entries);
    }

    #[test]
    fn folding_respects_the_policys_min_depth() {
        let entries = spread(100);
        let area = FoldPolicy {
            min_depth: 2,
            ..FoldPolicy::default()
        };
        let fit = fit(&entries, Budget::at_level(3), &area, false);
        assert!(!fit.fits, "/photos/ is depth 1, shallower than allowed");
        assert!(fit.folded.wildcards.is_empty());
    }

    #[test]
    fn a_folded_batch_gets_its_own_stable_caller_reference() {
        let batch = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "purgeflow-original".into(),
            paths: spread(500).into_iter().collect(),
        };
        let area = FoldPolicy::default();
        let policy = PressurePolicy::default();
        let (same, level, fits) = batch_at_level(&batch, 0, &area, &policy);
        assert_eq!((same, level, fits), (batch.clone(), 0, true));

        let (folded, level, fits) = batch_at_level(&batch, 2, &area, &policy);
        assert_eq!((level, fits), (2, true));
        assert_eq!(folded.paths, vec!["/photos/*".to_owned()]);
        assert_ne!(folded.caller_reference, batch.caller_reference);
        assert_eq!(
            batch_at_level(&batch, 2, &area, &policy).0,
            folded,
            "deterministic"
        );
        assert_eq!(
            batch_at_level(&batch, 3, &area, &policy).0,
            folded,
            "the same fold at another level is the same request"
        );
        let mut other = batch.clone();
        other.paths.push("/thumbs/1.jpg".into());
        assert_ne!(
            batch_at_level(&other, 2, &area, &policy).0.caller_reference,
            folded.caller_reference,
            "another fold, another reference"
        );
    }

    #[test]
    fn the_level_is_capped_by_the_policy_and_zero_turns_folding_off() {
        let batch = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "purgeflow-original".into(),
            paths: spread(1000).into_iter().collect(),
        };
        let off = PressurePolicy {
            max_level: 0,
            allow_root: false,
        };
        assert_eq!(
            batch_at_level(&batch, 5, &FoldPolicy::default(), &off).0,
            batch
        );
        let (_, level, _) = batch_at_level(
            &batch,
            5,
            &FoldPolicy::default(),
            &PressurePolicy::default(),
        );
        assert_eq!(level, DEFAULT_MAX_LEVEL);
    }

    #[test]
    fn a_small_batch_is_sent_unchanged_under_pressure() {
        let batch = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "purgeflow-original".into(),
            paths: vec!["/a/1.jpg".into(), "/b/2.jpg".into()],
        };
        let (sent, level, fits) = batch_at_level(
            &batch,
            3,
            &FoldPolicy::default(),
            &PressurePolicy::default(),
        );
        assert_eq!((sent, level, fits), (batch, 3, true));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Entries under a few top-level directories, some of them wildcards, up to 4 deep.
        fn entries() -> impl Strategy<Value = BTreeSet<String>> {
            let segment = prop::sample::select(vec!["a", "b", "c", "d"]);
            let entry = (
                prop::sample::select(vec!["photos", "thumbs", "other"]),
                prop::collection::vec(segment, 0..3),
                0u32..40,
                prop::bool::weighted(0.1),
            )
                .prop_map(|(top, dirs, file, wildcard)| {
                    let dirs: String = dirs.iter().map(|d| format!("{d}/")).collect();
                    if wildcard {
                        format!("/{top}/{dirs}*")
                    } else {
                        format!("/{top}/{dirs}{file}.jpg")
                    }
                });
            prop::collection::btree_set(entry, 0..400)
        }

        proptest! {
            #[test]
            fn every_entry_stays_covered_and_a_fit_holds_its_budget(
                entries in entries(),
                level in 0u32..=MAX_LEVEL,
                allow_root in any::<bool>(),
                fenced in any::<bool>(),
            ) {
                let area = if fenced {
                    FoldPolicy::within(["/photos/", "/thumbs/a/"])
                } else {
                    FoldPolicy::default()
                };
                let budget = Budget::at_level(level);
                let fit = fit(&entries, budget, &area, allow_root);
                prop_assert!(covered(&entries, &fit.folded));
                if fit.fits {
                    prop_assert!(fit.folded.paths.len() <= budget.paths);
                    prop_assert!(fit.folded.wildcards.len() <= budget.wildcards);
                }
                for wildcard in &fit.folded.wildcards {
                    if entries.contains(wildcard) {
                        continue;
                    }
                    // `/*` only when allowed, and never past a purge area that excludes it.
                    prop_assert!(wildcard != "/*" || (allow_root && !fenced), "{wildcard}");
                    prop_assert!(
                        wildcard == "/*" || area.inside(&wildcard[..wildcard.len() - 1]),
                        "{wildcard} is outside the area"
                    );
                }
                // Folding never grows a batch.
                prop_assert!(all(&fit.folded).len() <= entries.len());
            }
        }
    }
}
