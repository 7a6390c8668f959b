//! Partial-name prefix wildcards: folding at any character, not only at a `/`.
//!
//! CloudFront allows `*` as the last character of any invalidation path, so `/photos/u12*`
//! covers `/photos/u12/a.jpg`, `/photos/u120/b.jpg` and `/photos/u12x.jpg`. When deletes are
//! spread one per directory (a TTL sweep over many users), no directory is crowded and
//! [`crate::pressure::fit`] can only climb to the parent (`/photos/*`, the whole area); a prefix
//! inside the names (`/photos/u1*` ... `/photos/u9*`) covers what is pending with a fraction of
//! the collateral.
//!
//! [`fit_prefixes`] works on the sorted entries: the entries sharing a prefix of at least `L`
//! characters are runs of neighbours, and the tightest wildcard over a run is its longest
//! common prefix. It tries the cut lengths `L` from the longest to the shortest and keeps the
//! first that meets the budget (the deepest, narrowest wildcards that suffice), folding the most
//! crowded runs first at that length (each saves the most billed paths). A prefix never ends
//! inside a `%XX` escape (half an encoded character matches nothing CloudFront would compare
//! it with), never contains a `*`, never leaves the purge area, and a prefix at the root
//! (`/*`, or `/ph*` which is nearly as broad) is only used with `allow_root`.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::paths::{FoldPolicy, Folded, is_wildcard};
use crate::pressure::{Budget, Fit, most_crowded_first, tally};

/// Whether a wildcard `prefix*` is allowed: inside the area, and at the root (depth 0: `/*` or
/// a partial name of a top-level entry) only when `allow_root`, else at least `min_depth`
/// directories deep, as [`crate::pressure::fit`] rules for directory wildcards.
pub(crate) fn prefix_allowed(prefix: &str, area: &FoldPolicy, allow_root: bool) -> bool {
    let depth = prefix.matches('/').count().saturating_sub(1);
    let deep_enough = if depth == 0 {
        allow_root
    } else {
        depth >= area.min_depth
    };
    deep_enough && area.inside(prefix)
}

/// The longest prefix of `a` shared with `b` that can end a wildcard: no `*` in it, and not
/// cut inside a `%XX` escape or a UTF-8 character.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut len = a
        .bytes()
        .zip(b.bytes())
        .take_while(|(x, y)| x == y && *x != b'*')
        .count();
    while !a.is_char_boundary(len) {
        len -= 1;
    }
    if let Some(percent) = a[..len].rfind('%')
        && len - percent < 3
    {
        len = percent;
    }
    len
}

/// Entries that a wildcard among them already covers, removed (sending them would only cost
/// billed paths). `/a/b*` covers `/a/b/c.jpg` and `/a/b/*`; a wildcard covers not itself.
/// Keeps the order of `entries`.
pub(crate) fn drop_covered<'a>(entries: &[&'a str]) -> Vec<&'a str> {
    let mut prefixes: Vec<&str> = entries
        .iter()
        .filter(|e| is_wildcard(e))
        .map(|w| &w[..w.len() - 1])
        .collect();
    if prefixes.is_empty() {
        return entries.to_vec();
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    // Without the prefixes a shorter one contains, at most one prefix of an entry is left, and
    // it is the greatest one not after the entry (sorted, prefix-free).
    let mut roots: Vec<&str> = Vec::with_capacity(prefixes.len());
    for prefix in &prefixes {
        if roots.last().is_none_or(|root| !prefix.starts_with(root)) {
            roots.push(prefix);
        }
    }
    let covered = |entry: &str| {
        let own = entry.strip_suffix('*');
        let at = roots.partition_point(|root| *root <= entry);
        at > 0 && entry.starts_with(roots[at - 1]) && Some(roots[at - 1]) != own
    };
    entries.iter().copied().filter(|e| !covered(e)).collect()
}

/// One run of neighbours that share a prefix of at least the cut length.
struct Run<'a> {
    first: usize,
    last: usize,
    prefix: &'a str,
    paths: usize,
    wildcards: usize,
}

/// Folds `entries` (encoded paths and wildcards, no entry covered by another) with
/// partial-name prefix wildcards until they fit `budget`, as the module docs describe. When no
/// cut length meets the budget, `fits` is false and `folded` is the smallest fold found.
pub fn fit_prefixes(
    entries: &BTreeSet<String>,
    budget: Budget,
    area: &FoldPolicy,
    allow_root: bool,
) -> Fit {
    let list: Vec<&str> = entries.iter().map(String::as_str).collect();
    let (kept, fits) = fit_prefixes_sorted(&list, budget, area, allow_root);
    let (wildcards, paths) = kept
        .into_iter()
        .map(Cow::into_owned)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .partition(|e| is_wildcard(e));
    Fit {
        folded: Folded { wildcards, paths },
        fits,
    }
}

/// [`fit_prefixes`] over sorted, distinct entries, without copying them: the entries to send
/// (those kept borrowed, the new wildcards owned), in no particular order, and whether they meet
/// the budget. Each cut length is one pass over the entries; only the fold chosen is built.
pub(crate) fn fit_prefixes_sorted<'a>(
    list: &[&'a str],
    budget: Budget,
    area: &FoldPolicy,
    allow_root: bool,
) -> (Vec<Cow<'a, str>>, bool) {
    let total = tally(list);
    if budget.holds(total.0, total.1) {
        return (list.iter().map(|e| Cow::Borrowed(*e)).collect(), true);
    }
    let shared: Vec<usize> = list.windows(2).map(|w| common_prefix(w[0], w[1])).collect();
    let mut cuts: Vec<usize> = shared.iter().copied().filter(|&len| len > 0).collect();
    cuts.sort_unstable_by(|a, b| b.cmp(a));
    cuts.dedup();

    // The smallest fold when none fits: every run folded at the cut that leaves the fewest.
    let mut smallest: Option<(usize, usize)> = None;
    for cut in cuts {
        let runs = runs_at(list, &shared, cut, area, allow_root);
        let groups: Vec<(usize, usize)> = runs.iter().map(|r| (r.paths, r.wildcards)).collect();
        let (folded, fits) = most_crowded_first(&groups, total, budget);
        if fits {
            return (fold_runs(list, &runs, &folded), true);
        }
        let left =
            list.len() - runs.iter().map(|r| r.last + 1 - r.first).sum::<usize>() + runs.len();
        if smallest.is_none_or(|(_, least)| left < least) {
            smallest = Some((cut, left));
        }
    }
    let kept = match smallest {
        Some((cut, _)) => {
            let runs = runs_at(list, &shared, cut, area, allow_root);
            let all: Vec<usize> = (0..runs.len()).collect();
            fold_runs(list, &runs, &all)
        }
        None => list.iter().map(|e| Cow::Borrowed(*e)).collect(),
    };
    (kept, false)
}

/// The entries of `list` outside the `folded` runs, and a wildcard for each of those runs.
fn fold_runs<'a>(list: &[&'a str], runs: &[Run<'a>], folded: &[usize]) -> Vec<Cow<'a, str>> {
    let mut under = vec![false; list.len()];
    for &run in folded {
        under[runs[run].first..=runs[run].last].fill(true);
    }
    list.iter()
        .zip(&under)
        .filter(|(_, under)| !**under)
        .map(|(e, _)| Cow::Borrowed(*e))
        .chain(
            folded
                .iter()
                .map(|&run| Cow::Owned(format!("{}*", runs[run].prefix))),
        )
        .collect()
}

/// The runs of at least two neighbours whose shared prefixes are all at least `cut` long and
/// whose common prefix may be a wildcard.
fn runs_at<'a>(
    list: &[&'a str],
    shared: &[usize],
    cut: usize,
    area: &FoldPolicy,
    allow_root: bool,
) -> Vec<Run<'a>> {
    let mut runs = Vec::new();
    let mut first = 0;
    while first < list.len() {
        let mut last = first;
        let mut prefix_len = usize::MAX;
        while last < shared.len() && shared[last] >= cut {
            prefix_len = prefix_len.min(shared[last]);
            last += 1;
        }
        if last > first {
            let prefix = &list[first][..prefix_len];
            if prefix_allowed(prefix, area, allow_root) {
                let (paths, wildcards) = list[first..=last].iter().fold((0, 0), |(p, w), e| {
                    if is_wildcard(e) {
                        (p, w + 1)
                    } else {
                        (p + 1, w)
                    }
                });
                runs.push(Run {
                    first,
                    last,
                    prefix,
                    paths,
                    wildcards,
                });
            }
        }
        first = last + 1;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_never_ends_inside_an_escape_nor_holds_a_star() {
        assert_eq!(common_prefix("/caf%C3%A9.jpg", "/caf%C3%A8.jpg"), 7); // "/caf%C3"
        assert_eq!(common_prefix("/caf%C3.jpg", "/caf%C4.jpg"), 4); // "/caf"
        assert_eq!(common_prefix("/a/b%2", "/a/b%2"), 4);
        assert_eq!(common_prefix("/a/*", "/a/*"), 3);
        assert_eq!(common_prefix("/a/x", "/b/x"), 1);
    }

    #[test]
    fn wildcards_swallow_what_they_cover() {
        let entries = ["/a/b*", "/a/b/*", "/a/b/c.jpg", "/a/bc", "/a/c.jpg", "/x/*"];
        assert_eq!(drop_covered(&entries), ["/a/b*", "/a/c.jpg", "/x/*"]);
        // A broader wildcard covers a narrower one. Two never cover each other: `/a*` covers
        // `/a**`, not the other way round (the code before took both out).
        assert_eq!(
            drop_covered(&["/a*", "/a/*", "/ab*", "/b*"]),
            ["/a*", "/b*"]
        );
        assert_eq!(drop_covered(&["/a*", "/a**", "/a.jpg"]), ["/a*"]);
    }

    #[test]
    fn spread_names_fold_into_partial_name_prefixes_not_the_parent() {
        // 900 users with one photo each; 100 paths and 13 wildcards free.
        let entries: BTreeSet<String> =
            (100..1000).map(|i| format!("/photos/u{i}/p.jpg")).collect();
        let budget = Budget {
            paths: 100,
            wildcards: 13,
        };
        let fit = fit_prefixes(&entries, budget, &FoldPolicy::default(), false);
        assert!(fit.fits);
        assert!(fit.folded.wildcards.len() <= 13 && fit.folded.paths.len() <= 100);
        assert!(
            fit.folded
                .wildcards
                .iter()
                .all(|w| w.starts_with("/photos/u") && w.len() > "/photos/u*".len()),
            "{:?}",
            fit.folded.wildcards
        );
        // /photos/u1* .. /photos/u9* (100 users each): 8 of them leave 100 exact paths.
        assert_eq!(fit.folded.wildcards.len(), 8);
        assert_eq!(fit.folded.paths.len(), 100);
    }

    #[test]
    fn the_root_and_top_level_names_only_when_allowed() {
        let entries: BTreeSet<String> = (0..50)
            .map(|i| format!("/a{i}.jpg"))
            .chain((0..50).map(|i| format!("/b{i}.jpg")))
            .collect();
        let budget = Budget {
            paths: 0,
            wildcards: 2,
        };
        let refused = fit_prefixes(&entries, budget, &FoldPolicy::default(), false);
        assert!(!refused.fits);
        assert!(refused.folded.wildcards.is_empty());
        let allowed = fit_prefixes(&entries, budget, &FoldPolicy::default(), true);
        assert!(allowed.fits);
        assert_eq!(
            allowed.folded.wildcards,
            vec!["/a*".to_owned(), "/b*".to_owned()]
        );
    }

    #[test]
    fn never_outside_the_area() {
        // The area is /photos/u1- (PURGE_KEY_PREFIX photos/u1-): /photos/u1* would reach u10.
        let entries: BTreeSet<String> = (0..40)
            .map(|i| format!("/photos/u1-{i}.jpg"))
            .chain((0..40).map(|i| format!("/photos/u1-x{i}.jpg")))
            .collect();
        let area = FoldPolicy::within(["/photos/u1-"]);
        let budget = Budget {
            paths: 0,
            wildcards: 1,
        };
        let fit = fit_prefixes(&entries, budget, &area, true);
        assert!(fit.fits);
        assert_eq!(fit.folded.wildcards, vec!["/photos/u1-*".to_owned()]);

        // With u2- pending too, one wildcard would have to be /photos/u*: refused.
        let area = FoldPolicy::within(["/photos/u1-", "/photos/u2-"]);
        let mut both = entries.clone();
        both.extend((0..40).map(|i| format!("/photos/u2-{i}.jpg")));
        let fit = fit_prefixes(&both, budget, &area, true);
        assert!(!fit.fits);
        assert!(
            fit.folded
                .wildcards
                .iter()
                .all(|w| w.starts_with("/photos/u1-") || w.starts_with("/photos/u2-")),
            "{:?}",
            fit.folded.wildcards
        );
    }
}
