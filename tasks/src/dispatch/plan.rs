//! The dispatcher's planner: pending batches and the distribution's free room → at most one
//! invalidation, and which batches it covers. No AWS call: the dispatcher Lambda, `purgeflow
//! local` and `purgeflow simulate` all call [`plan`].
//!
//! - **Union.** The pending batches' paths are unioned (a path pending in ten executions is
//!   invalidated once, and a pending wildcard swallows the paths under it).
//! - **Exact paths while they fit** the free room ([`Capacity`]).
//! - **Else fold**, within the free room, never outside the purge area ([`FoldPolicy`]), `/*`
//!   (or any wildcard at the top level) only with `allow_root`. A folded invalidation keeps at
//!   most [`PlanPolicy::folded_paths`] file paths exact (`PURGE_DISPATCH_FOLDED_PATHS`, default
//!   0): every exact path is billed, a wildcard is billed as one path, so a storm folded to
//!   wildcards only bills at most 13 paths a round. Two folds are tried:
//!   - directory wildcards ([`crate::pressure::fit`]: the deepest directory level that fits);
//!   - partial-name prefix wildcards ([`super::fold::fit_prefixes`]: `/photos/u12*`, the
//!     longest prefixes that fit).
//!
//!   The one with the least collateral wins. Collateral is what a wildcard invalidates besides
//!   the deleted objects; the planner cannot see the cache, so it judges by breadth: the fold
//!   whose broadest wildcard has the longer prefix (the deeper, narrower one), then the one that
//!   puts fewer pending entries under wildcards, then the one that bills fewer paths; a tie goes
//!   to the directory fold.
//! - **Oldest first.** When even the coarsest fold allowed cannot fit everything, the plan takes
//!   the longest run of the oldest batches (in the order given) that fits. Batches after it
//!   that the plan happens to cover in full are covered too; the rest wait for the next round.
//! - **One request.** CloudFront takes at most 3,000 paths in one request, the same as in
//!   progress on a distribution, so one request can always hold all the free room; one call is
//!   also the least for CreateInvalidation's call-rate throttle.
//! - **CallerReference** from the content: the planned paths and the CallerReferences of the
//!   batches planned, so a dispatch retried with the same messages and the same room gets the
//!   same invalidation back instead of paying again.

use std::borrow::Cow;
use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::fold::{drop_covered, fit_prefixes_sorted};
use crate::contract::InvalidationBatch;
use crate::paths::{
    CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS, FoldPolicy, caller_reference,
    is_wildcard,
};
use crate::pressure::{self, Budget, tally};

/// Wildcard slots the dispatcher leaves free for people by default
/// (`PURGE_DISPATCH_RESERVED_WILDCARDS`), as docs.rs' invalidation queue does.
pub const DEFAULT_RESERVED_WILDCARDS: usize = 2;

/// `PURGE_DISPATCH_FOLDED_PATHS` when unset: a folded invalidation is wildcards only.
pub const DEFAULT_FOLDED_PATHS: usize = 0;

/// How the planner may fold. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPolicy {
    /// The area a wildcard may never leave (`PURGE_KEY_PREFIX` through `PURGE_PATH_TEMPLATES`).
    pub area: FoldPolicy,
    /// Whether a wildcard may cover the whole distribution (`PURGE_PRESSURE_ALLOW_ROOT`).
    pub allow_root: bool,
    /// The most file paths a folded invalidation keeps exact (`PURGE_DISPATCH_FOLDED_PATHS`).
    pub folded_paths: usize,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy {
            area: FoldPolicy::default(),
            allow_root: false,
            folded_paths: DEFAULT_FOLDED_PATHS,
        }
    }
}

/// Free room on the distribution now: file paths and wildcard paths that may still go in
/// progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    pub paths: usize,
    pub wildcards: usize,
}

impl Capacity {
    /// The room left by what is in progress under CloudFront's limits (3,000 file paths, 15
    /// wildcard paths), keeping `reserved_wildcards` wildcard slots free for people.
    pub fn free(
        in_progress_paths: usize,
        in_progress_wildcards: usize,
        reserved_wildcards: usize,
    ) -> Capacity {
        Capacity {
            paths: CLOUDFRONT_MAX_PATHS_PER_BATCH.saturating_sub(in_progress_paths),
            wildcards: CLOUDFRONT_MAX_WILDCARD_PATHS
                .saturating_sub(in_progress_wildcards)
                .saturating_sub(reserved_wildcards),
        }
    }

    /// Whether `paths` file paths and `wildcards` wildcards fit, in one request.
    pub fn holds(&self, paths: usize, wildcards: usize) -> bool {
        paths <= self.paths
            && wildcards <= self.wildcards
            && paths + wildcards <= CLOUDFRONT_MAX_PATHS_PER_BATCH
    }
}

/// How the planned invalidation was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// The pending paths as they are.
    Exact,
    /// Directory wildcards (`/photos/u12/*`).
    Directories,
    /// Partial-name prefix wildcards (`/photos/u12*`).
    Prefixes,
}

/// What [`plan`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The invalidation to create, or `None` when nothing fits (or nothing is pending).
    pub invalidation: Option<InvalidationBatch>,
    /// How it was made (`Exact` when there is none).
    pub fold: Fold,
    /// Indexes of the pending batches every path of which the invalidation covers.
    pub covered: Vec<usize>,
    /// The other indexes: they wait for another round. Batches for another distribution are
    /// always here.
    pub uncovered: Vec<usize>,
}

impl Plan {
    /// The planned wildcards (each billed as one path, each invalidating everything under it).
    pub fn wildcards(&self) -> impl Iterator<Item = &str> {
        self.invalidation
            .iter()
            .flat_map(|batch| batch.paths.iter())
            .map(String::as_str)
            .filter(|p| is_wildcard(p))
    }
}

/// Plans one invalidation of `distribution_id` covering as much of `pending` (oldest first) as
/// `free` allows, folding as `policy` allows. See the module docs.
pub fn plan(
    distribution_id: &str,
    pending: &[InvalidationBatch],
    free: Capacity,
    policy: &PlanPolicy,
) -> Plan {
    let ours: Vec<usize> = (0..pending.len())
        .filter(|&i| pending[i].distribution_id == distribution_id)
        .collect();
    // The union, built once: each distinct entry with the rank (in `ours`) of the oldest batch
    // that holds it, sorted by entry. The union of the first `n` batches is then the entries of
    // rank below `n`, already sorted and distinct. (A stable sort: equal entries keep their
    // ranks in order, so the dedup keeps the oldest; each batch is mostly sorted already.)
    let mut union: Vec<(&str, usize)> = ours
        .iter()
        .enumerate()
        .flat_map(|(rank, &i)| pending[i].paths.iter().map(move |p| (p.as_str(), rank)))
        .collect();
    union.sort_by(|a, b| a.0.cmp(b.0));
    union.dedup_by(|later, earlier| later.0 == earlier.0);
    let union_upto = |upto: usize| -> Vec<&str> {
        union
            .iter()
            .filter(|(_, rank)| *rank < upto)
            .map(|(entry, _)| *entry)
            .collect()
    };
    let mut chosen = fold_to(&union_upto(ours.len()), free, policy).map(|f| (ours.len(), f));
    if chosen.is_none() {
        // The longest run of the oldest batches that fits. The fold of fewer entries fits at
        // least as easily, bar the odd fold the greedy finds by luck, so a bisection suffices.
        let (mut fits, mut fails) = (0, ours.len());
        while fails - fits > 1 {
            let mid = fits + (fails - fits) / 2;
            match fold_to(&union_upto(mid), free, policy) {
                Some(folded) => {
                    fits = mid;
                    chosen = Some((mid, folded));
                }
                None => fails = mid,
            }
        }
    }

    let (invalidation, fold) = match chosen {
        Some((planned, (paths, fold))) => {
            let sources: BTreeSet<&str> = ours[..planned]
                .iter()
                .map(|&i| pending[i].caller_reference.as_str())
                .collect();
            let batch = InvalidationBatch {
                caller_reference: caller_reference(
                    &dispatch_seed(&sources),
                    distribution_id,
                    &paths,
                ),
                distribution_id: distribution_id.to_owned(),
                paths,
            };
            (Some(batch), fold)
        }
        None => (None, Fold::Exact),
    };

    let cover = Coverage::of(invalidation.as_ref());
    let (covered, uncovered) = (0..pending.len()).partition(|&i| {
        let batch = &pending[i];
        batch.distribution_id == distribution_id && batch.paths.iter().all(|p| cover.covers(p))
    });
    Plan {
        invalidation,
        fold,
        covered,
        uncovered,
    }
}

/// The seed of a dispatched invalidation's CallerReference: a digest of the CallerReferences
/// of the batches it was planned from (sorted, distinct), so it names the same work the same
/// way whichever order the messages arrived in.
fn dispatch_seed(sources: &BTreeSet<&str>) -> String {
    let mut hasher = Sha256::new();
    for source in sources {
        hasher.update((source.len() as u64).to_be_bytes());
        hasher.update(source.as_bytes());
    }
    format!("dispatch#{}", hex::encode(hasher.finalize()))
}

/// The entries to send for `entries` (sorted, distinct) within `free`, sorted, and how they
/// were made; `None` when there is nothing to send or no allowed fold fits.
fn fold_to(entries: &[&str], free: Capacity, policy: &PlanPolicy) -> Option<(Vec<String>, Fold)> {
    let entries = drop_covered(entries);
    if entries.is_empty() {
        return None;
    }
    let (paths, wildcards) = tally(&entries);
    let owned = |kept: Vec<Cow<'_, str>>| {
        let mut kept: Vec<String> = kept.into_iter().map(Cow::into_owned).collect();
        kept.sort_unstable();
        kept
    };
    if free.holds(paths, wildcards) {
        return Some((
            entries.iter().map(|e| (*e).to_owned()).collect(),
            Fold::Exact,
        ));
    }
    // Without a wildcard slot no fold can make the entries fewer: skip both folds (each is a
    // pass per directory level over every entry, and the bisection calls this again and again).
    if free.wildcards == 0 {
        return None;
    }
    let wildcards = free.wildcards.min(CLOUDFRONT_MAX_WILDCARD_PATHS);
    let budget = Budget {
        wildcards,
        paths: free
            .paths
            .min(policy.folded_paths)
            .min(CLOUDFRONT_MAX_PATHS_PER_BATCH - wildcards),
    };
    let (area, allow_root) = (&policy.area, policy.allow_root);
    let candidates = [
        (
            pressure::fit_sorted(&entries, budget, area, allow_root),
            Fold::Directories,
        ),
        (
            fit_prefixes_sorted(&entries, budget, area, allow_root),
            Fold::Prefixes,
        ),
    ];
    let (folded, fold) = candidates
        .into_iter()
        .filter(|((_, fits), _)| *fits)
        .map(|((folded, _), fold)| (folded, fold))
        .min_by_key(|(folded, fold)| collateral(&entries, folded, *fold))?;
    Some((owned(folded), fold))
}

/// Orders folds by collateral, least first (see the module docs): the broadest wildcard's
/// prefix length (longer first), the pending entries under wildcards, the paths billed, and
/// directories before prefixes. `entries` are sorted.
fn collateral(
    entries: &[&str],
    folded: &[Cow<'_, str>],
    fold: Fold,
) -> (std::cmp::Reverse<usize>, usize, usize, bool) {
    let broadest = folded
        .iter()
        .filter(|w| is_wildcard(w) && entries.binary_search(&w.as_ref()).is_err())
        .map(|w| w.len() - 1)
        .min()
        .unwrap_or(usize::MAX);
    let (kept_paths, _) = tally(folded);
    let swept = entries.len() - kept_paths;
    let billed = folded.len();
    (
        std::cmp::Reverse(broadest),
        swept,
        billed,
        fold != Fold::Directories,
    )
}

/// Whether a path is covered by an invalidation: sent as itself, or under one of its wildcards.
struct Coverage<'a> {
    exact: BTreeSet<&'a str>,
    prefixes: Vec<&'a str>,
}

impl<'a> Coverage<'a> {
    fn of(batch: Option<&'a InvalidationBatch>) -> Coverage<'a> {
        let entries = batch
            .iter()
            .flat_map(|b| b.paths.iter())
            .map(String::as_str);
        Coverage {
            exact: entries.clone().collect(),
            prefixes: entries
                .filter(|p| is_wildcard(p))
                .map(|w| &w[..w.len() - 1])
                .collect(),
        }
    }

    fn covers(&self, path: &str) -> bool {
        self.exact.contains(path) || self.prefixes.iter().any(|prefix| path.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests;
