//! Collateral: the live cached objects a storm's wildcards invalidate along with the deleted
//! ones. Each deleted photo has `live_per_delete` live neighbours in its directory, their
//! numbers interleaved with the deleted ones (`storm::block`), and every object is cached under
//! every path template. The live objects are never materialised as strings (10 million of them
//! for the 1M storm): each directory keeps its live photo numbers, sorted, and a wildcard's
//! share of them is counted by number ranges.

use std::collections::{BTreeSet, HashMap};

use super::scenario::Scenario;
use super::storm;

pub struct LiveObjects {
    /// Directories (`photos/u12/`), sorted.
    dirs: Vec<String>,
    /// `numbers[offsets[d]..offsets[d + 1]]`: directory `d`'s live photo numbers, sorted.
    offsets: Vec<usize>,
    numbers: Vec<u64>,
    /// The literal prefixes of the path templates (`/`, `/thumbs/`, ...).
    template_prefixes: Vec<String>,
}

impl LiveObjects {
    pub fn new(scenario: &Scenario, template_prefixes: Vec<String>) -> LiveObjects {
        let n = scenario.deletes as u64;
        let live = scenario.live_per_delete;
        let (dirs, delete_dir) = sorted_dirs((0..n).map(|i| storm::dir(scenario.layout, i, n)));
        let mut counts = vec![0usize; dirs.len() + 1];
        for &d in &delete_dir {
            counts[d + 1] += live;
        }
        let mut offsets = counts;
        for d in 1..offsets.len() {
            offsets[d] += offsets[d - 1];
        }
        let mut fill = offsets.clone();
        let mut numbers = vec![0u64; offsets[dirs.len()]];
        for (i, &d) in delete_dir.iter().enumerate() {
            let (deleted, block) = storm::block(i as u64, live);
            for number in block.filter(|&m| m != deleted) {
                numbers[fill[d]] = number;
                fill[d] += 1;
            }
        }
        for d in 0..dirs.len() {
            numbers[offsets[d]..offsets[d + 1]].sort_unstable();
        }
        LiveObjects {
            dirs,
            offsets,
            numbers,
            template_prefixes,
        }
    }

    pub fn total(&self) -> usize {
        self.numbers.len()
    }

    /// Distinct live objects invalidated by any of `wildcards` (encoded paths ending in `*`),
    /// under any of their paths.
    pub fn invalidated_by(&self, wildcards: &BTreeSet<String>) -> usize {
        // The key prefixes the wildcards reach, made prefix-free so their objects are disjoint.
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for wildcard in wildcards {
            let Some(prefix) = wildcard.strip_suffix('*') else {
                continue;
            };
            for template in &self.template_prefixes {
                if let Some(key) = prefix.strip_prefix(template.as_str()) {
                    keys.insert(key.to_owned());
                } else if template.starts_with(prefix) {
                    keys.insert(String::new());
                }
            }
        }
        let mut kept: Vec<&String> = Vec::new();
        for key in &keys {
            if kept
                .last()
                .is_none_or(|last| !key.starts_with(last.as_str()))
            {
                kept.push(key);
            }
        }
        kept.iter().map(|key| self.count(key)).sum()
    }

    /// Live objects whose key starts with `key`.
    fn count(&self, key: &str) -> usize {
        let from = self.dirs.partition_point(|d| d.as_str() < key);
        let to = from + self.dirs[from..].partition_point(|d| d.starts_with(key));
        if to > from {
            return self.offsets[to] - self.offsets[from];
        }
        // No directory under the prefix: a name prefix inside one directory, or nothing.
        let Some(cut) = key.rfind('/') else {
            return 0;
        };
        let (dir, name) = key.split_at(cut + 1);
        let Ok(d) = self.dirs.binary_search_by(|x| x.as_str().cmp(dir)) else {
            return 0;
        };
        let numbers = &self.numbers[self.offsets[d]..self.offsets[d + 1]];
        count_names(numbers, name)
    }
}

/// The distinct directories of `dir_of` (one per delete), sorted, and each delete's index among
/// them. Each directory is named once through a hash map and only the distinct ones are sorted:
/// a binary search of every delete's directory among the sorted ones cost more than a policy's
/// whole storm at 1M deletes.
fn sorted_dirs(dir_of: impl Iterator<Item = String>) -> (Vec<String>, Vec<usize>) {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let first_seen: Vec<usize> = dir_of
        .map(|dir| {
            let next = ids.len();
            *ids.entry(dir).or_insert(next)
        })
        .collect();
    let mut dirs: Vec<(String, usize)> = ids.into_iter().collect();
    dirs.sort_unstable();
    let mut rank = vec![0; dirs.len()];
    for (sorted, (_, id)) in dirs.iter().enumerate() {
        rank[*id] = sorted;
    }
    let delete_dir = first_seen.into_iter().map(|id| rank[id]).collect();
    (dirs.into_iter().map(|(dir, _)| dir).collect(), delete_dir)
}

/// Photos `p<number>.jpg` among `numbers` (sorted) whose name starts with `prefix`.
fn count_names(numbers: &[u64], prefix: &str) -> usize {
    let Some(rest) = prefix.strip_prefix('p') else {
        return if prefix.is_empty() { numbers.len() } else { 0 };
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(digits_end);
    if digits.is_empty() {
        return if tail.is_empty() { numbers.len() } else { 0 };
    }
    let in_range = |lo: u64, hi: u64| {
        numbers.partition_point(|&m| m < hi) - numbers.partition_point(|&m| m < lo)
    };
    let Ok(value) = digits.parse::<u64>() else {
        return 0;
    };
    // Names are written without leading zeros: "p0..." is p0 alone.
    if digits.len() > 1 && digits.starts_with('0') {
        return 0;
    }
    if !tail.is_empty() || digits == "0" {
        let exact = ".jpg".starts_with(tail) && numbers.binary_search(&value).is_ok();
        return usize::from(exact);
    }
    let max = numbers.last().copied().unwrap_or(0);
    let mut total = 0;
    let (mut lo, mut hi) = (value, value + 1);
    while lo <= max {
        total += in_range(lo, hi);
        match (lo.checked_mul(10), hi.checked_mul(10)) {
            (Some(l), Some(h)) => (lo, hi) = (l, h),
            _ => break,
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::scenario::Layout;

    fn brute(numbers: &[u64], prefix: &str) -> usize {
        numbers
            .iter()
            .filter(|m| format!("p{m}.jpg").starts_with(prefix))
            .count()
    }

    #[test]
    fn sorted_dirs_names_each_directory_once_in_order() {
        let dir_of = ["b/", "a/", "b/", "c/", "a/"].map(str::to_owned);
        let (dirs, delete_dir) = sorted_dirs(dir_of.clone().into_iter());
        assert_eq!(dirs, ["a/", "b/", "c/"]);
        let named: Vec<&str> = delete_dir.iter().map(|&d| dirs[d].as_str()).collect();
        assert_eq!(named, dir_of);
    }

    #[test]
    fn name_prefixes_count_as_the_names_would_match() {
        let numbers: Vec<u64> = (0..2500).chain([12_345, 99_999, 100_000]).collect();
        for prefix in [
            "",
            "p",
            "p1",
            "p12",
            "p123",
            "p1234",
            "p0",
            "p00",
            "p9",
            "p99999",
            "p2499.",
            "p2499.jp",
            "p2499.jpg",
            "p2499.png",
            "q",
            "p100000",
            "p1000000",
        ] {
            assert_eq!(
                count_names(&numbers, prefix),
                brute(&numbers, prefix),
                "{prefix}"
            );
        }
    }

    fn world(layout: Layout) -> LiveObjects {
        let scenario = Scenario {
            deletes: 400,
            layout,
            live_per_delete: 3,
            ..Scenario::default()
        };
        LiveObjects::new(&scenario, vec!["/".to_owned(), "/thumbs/".to_owned()])
    }

    fn set(wildcards: &[&str]) -> BTreeSet<String> {
        wildcards.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn every_live_object_is_counted_once_however_many_wildcards_reach_it() {
        for layout in [Layout::Spread, Layout::Crowded] {
            let live = world(layout);
            assert_eq!(live.total(), 1200);
            assert_eq!(live.invalidated_by(&set(&["/photos/*"])), 1200);
            assert_eq!(
                live.invalidated_by(&set(&["/photos/*", "/thumbs/photos/*", "/photos/u1*"])),
                1200
            );
            assert_eq!(live.invalidated_by(&set(&["/*"])), 1200);
            assert_eq!(live.invalidated_by(&set(&["/other/*", "/photos/x*"])), 0);
            assert_eq!(
                live.invalidated_by(&set(&["/photos/a.jpg"])),
                0,
                "not a wildcard"
            );
        }
    }

    #[test]
    fn a_wildcard_reaches_the_live_objects_under_it_and_no_others() {
        let live = world(Layout::Crowded);
        // Four albums of 300 live photos each.
        assert_eq!(live.invalidated_by(&set(&["/photos/album1/*"])), 300);
        assert_eq!(
            live.invalidated_by(&set(&["/photos/album1/*", "/thumbs/photos/album2/*"])),
            600
        );
        // Album 1's live photos are the numbers of blocks 1, 5, 9, ... less the deleted ones.
        let album1: Vec<u64> = (0..400u64)
            .filter(|i| i % 4 == 1)
            .flat_map(|i| {
                let (deleted, block) = storm::block(i, 3);
                block.filter(move |&m| m != deleted)
            })
            .collect();
        for prefix in ["p1", "p15", "p150", "p1599"] {
            let wildcard = format!("/thumbs/photos/album1/{prefix}*");
            assert_eq!(
                live.invalidated_by(&set(&[&wildcard])),
                brute(&album1, prefix),
                "{wildcard}"
            );
        }
        // User directories and partial-name prefixes over them: three live photos per delete
        // in every directory under the prefix.
        let spread = world(Layout::Spread);
        for prefix in [
            "photos/u",
            "photos/u1",
            "photos/u12",
            &storm::dir(Layout::Spread, 1, 400),
        ] {
            let expected = 3
                * (0..400)
                    .filter(|&i| storm::dir(Layout::Spread, i, 400).starts_with(prefix))
                    .count();
            let wildcard = format!("/thumbs/{prefix}*");
            assert_eq!(
                spread.invalidated_by(&set(&[&wildcard])),
                expected,
                "{wildcard}"
            );
        }
    }
}
