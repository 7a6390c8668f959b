//! CDN paths → CloudFront invalidation batches. No AWS call: plain, deterministic functions.
//!
//! The steps, in order:
//! 1. **Encode** each path as CloudFront expects ([`encode_path`]).
//! 2. **Dedupe**, comparing the encoded form (the form CloudFront matches against its cache).
//! 3. **Fold** crowded directories into one wildcard ([`FoldPolicy`]).
//! 4. **Chunk** into batches within CloudFront's limits ([`CLOUDFRONT_MAX_PATHS_PER_BATCH`],
//!    [`CLOUDFRONT_MAX_WILDCARD_PATHS`]).
//! 5. Give each batch a **CallerReference** derived from its content ([`caller_reference`]).

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::contract::InvalidationBatch;

/// CloudFront allows at most 3,000 file paths in progress per distribution, so no single batch
/// may carry more.
pub const CLOUDFRONT_MAX_PATHS_PER_BATCH: usize = 3000;

/// CloudFront allows at most 15 wildcard invalidation requests in progress per distribution.
/// purgeflow puts every wildcard of an execution into one batch and never emits more than 15
/// wildcard paths, so an execution holds at most one wildcard invalidation and stays far below
/// the limit even when several executions overlap.
pub const CLOUDFRONT_MAX_WILDCARD_PATHS: usize = 15;

/// When many paths share one directory, one wildcard path is cheaper than all of them.
///
/// CloudFront bills a wildcard as a single path, so folding `n` paths saves `n - 1` paths. The
/// cost is over-invalidation: every other cached object in that directory is refetched from the
/// origin once. The policy therefore folds only crowded directories:
///
/// - a directory is folded when at least [`min_paths`](Self::min_paths) distinct paths of this
///   execution sit directly in it (its immediate parent, never a grandparent);
/// - the wildcard must be at least [`min_depth`](Self::min_depth) directories deep, so the
///   root (`/*`, the whole distribution) is never folded by default;
/// - the wildcard must stay inside the area purgeflow may purge: when
///   [`within`](Self::within) is set, the folded directory must start with one of those encoded
///   path prefixes (the paths `PURGE_KEY_PREFIX` maps to), so `images/user1-` never becomes
///   `/images/*`;
/// - at most [`max_wildcards`](Self::max_wildcards) wildcards are emitted (capped at
///   CloudFront's 15); when more directories qualify, the most crowded ones win (ties broken by
///   name, so the result is deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPolicy {
    pub min_paths: usize,
    pub min_depth: usize,
    pub max_wildcards: usize,
    /// Encoded path prefixes a wildcard must stay inside; `None`: no constraint beyond
    /// `min_depth`; `Some(empty)`: never fold.
    pub within: Option<Vec<String>>,
}

impl FoldPolicy {
    /// Never fold: every path is invalidated individually.
    pub const NEVER: FoldPolicy = FoldPolicy {
        min_paths: usize::MAX,
        min_depth: 1,
        max_wildcards: 0,
        within: None,
    };

    /// The default thresholds, with wildcards kept inside `path_prefixes` (raw, unencoded).
    pub fn within<'a>(path_prefixes: impl IntoIterator<Item = &'a str>) -> FoldPolicy {
        let within = path_prefixes.into_iter().map(encode_path).collect();
        FoldPolicy {
            within: Some(within),
            ..FoldPolicy::default()
        }
    }

    fn allows(&self, dir: &str, depth: usize) -> bool {
        depth >= self.min_depth && self.inside(dir)
    }

    /// Whether a wildcard over `dir` stays inside [`within`](Self::within).
    pub(crate) fn inside(&self, dir: &str) -> bool {
        self.within.as_ref().is_none_or(|prefixes| {
            prefixes
                .iter()
                .any(|prefix| dir.starts_with(prefix.as_str()))
        })
    }
}

impl Default for FoldPolicy {
    /// 100 paths in one directory: past that, the saving (99 billed paths) outweighs one refetch
    /// of the directory's other cached objects for typical photo/asset directories.
    fn default() -> Self {
        FoldPolicy {
            min_paths: 100,
            min_depth: 1,
            max_wildcards: CLOUDFRONT_MAX_WILDCARD_PATHS,
            within: None,
        }
    }
}

/// Characters CloudFront wants percent-encoded in an invalidation path: the "unsafe" set of
/// RFC 1738 (space `<` `>` `"` `#` `%` `{` `}` `|` `\` `^` `~` `[` `]` `` ` ``), control
/// characters, and — defensively — `*` and `?`, which would otherwise turn a literal key into a
/// wildcard or a query string. Everything else ASCII (letters, digits, `/`, `-`, `.`, `_`, `+`,
/// `@`, ...) is left alone: CloudFront's guide says not to encode other characters, or the
/// invalidation will not match the cached object. Note `~` is encoded because the guide follows
/// RFC 1738, where it is unsafe, even though RFC 3986 lists it as unreserved.
fn must_encode(byte: u8) -> bool {
    matches!(
        byte,
        0x00..=0x20 | 0x7F..=0xFF
            | b'<' | b'>' | b'"' | b'#' | b'%' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'~'
            | b'[' | b']' | b'`' | b'*' | b'?'
    )
}

/// Encodes one raw path (a literal object path, as a key template produced it) for a
/// CloudFront invalidation. Non-ASCII characters are encoded as their UTF-8 bytes. A missing
/// leading `/` is added: CloudFront requires it.
pub fn encode_path(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(raw.len() + 1);
    if !raw.starts_with('/') {
        encoded.push('/');
    }
    for &byte in raw.as_bytes() {
        if must_encode(byte) {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0F)]));
        } else {
            encoded.push(char::from(byte));
        }
    }
    encoded
}

/// `encode_path(raw).len()`, without building the path: the trigger sizes every record's paths.
pub fn encoded_path_len(raw: &str) -> usize {
    usize::from(!raw.starts_with('/')) + percent_encoded_len(raw)
}

/// The bytes `raw` takes percent-encoded as [`encode_path`] encodes it, without the leading `/`
/// that it adds to a path lacking one (so the length adds up over concatenation).
pub fn percent_encoded_len(raw: &str) -> usize {
    let escapes = raw.bytes().filter(|&byte| must_encode(byte)).count();
    raw.len() + 2 * escapes
}

/// True for a path that ends in CloudFront's wildcard. [`encode_path`] never produces one from a
/// literal path, so a `*` can only come from folding (or a replayed batch).
pub fn is_wildcard(path: &str) -> bool {
    path.ends_with('*')
}

/// The CallerReference of a batch: a SHA-256 over the execution's batch id, the distribution and
/// the sorted, deduplicated paths. Reordering the paths does not change it; a retry or a replay
/// of the same batch gets the same reference (so CloudFront returns the existing invalidation
/// instead of charging again); a later delete of the same path has another batch id and so
/// invalidates again.
pub fn caller_reference(batch_id: &str, distribution_id: &str, paths: &[String]) -> String {
    let sorted: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
    let mut hasher = Sha256::new();
    // Length-prefix every field, so no two different inputs hash the same bytes.
    for field in [batch_id, distribution_id].into_iter().chain(sorted) {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    format!("purgeflow-{}", hex::encode(hasher.finalize()))
}

/// The directory a path sits directly in, with its trailing `/` (`/a/b/c.jpg` → `/a/b/`), and
/// how many directories deep that is (`/` → 0, `/a/b/` → 2).
fn parent_dir(path: &str) -> Option<(&str, usize)> {
    let cut = path.rfind('/')?;
    let dir = &path[..=cut];
    Some((dir, dir.matches('/').count() - 1))
}

/// The result of folding: wildcards and the paths they did not absorb.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    pub wildcards: Vec<String>,
    pub paths: Vec<String>,
}

/// Folds crowded directories into wildcards, following `policy`, with at most
/// `wildcard_budget` wildcards. `paths` must be encoded and deduplicated.
pub fn fold(paths: &BTreeSet<String>, policy: &FoldPolicy, wildcard_budget: usize) -> Folded {
    let budget = policy
        .max_wildcards
        .min(wildcard_budget)
        .min(CLOUDFRONT_MAX_WILDCARD_PATHS);
    let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for path in paths {
        if let Some((dir, depth)) = parent_dir(path)
            && policy.allows(dir, depth)
        {
            *per_dir.entry(dir).or_default() += 1;
        }
    }
    let mut crowded: Vec<(&str, usize)> = per_dir
        .into_iter()
        .filter(|&(_, count)| count >= policy.min_paths.max(2))
        .collect();
    // Most crowded first; BTreeMap order already sorted by name, and the sort is stable.
    crowded.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    crowded.truncate(budget);
    let folded_dirs: BTreeSet<&str> = crowded.iter().map(|&(dir, _)| dir).collect();

    let paths = paths
        .iter()
        .filter(|path| !parent_dir(path).is_some_and(|(dir, _)| folded_dirs.contains(dir)))
        .cloned()
        .collect();
    let wildcards = folded_dirs
        .into_iter()
        .map(|dir| format!("{dir}*"))
        .collect();
    Folded { wildcards, paths }
}

/// Everything [`plan_batches`] needs besides the paths.
#[derive(Debug, Clone)]
pub struct BatchPlan<'a> {
    pub batch_id: &'a str,
    pub distribution_id: &'a str,
    pub policy: &'a FoldPolicy,
    /// Wildcard paths already spent (e.g. by replayed batches in the same execution).
    pub wildcards_in_use: usize,
    /// At most [`CLOUDFRONT_MAX_PATHS_PER_BATCH`]; smaller values are for tests.
    pub max_paths_per_batch: usize,
}

/// The batches for a set of raw paths, and how many distinct encoded paths there were before
/// folding.
///
/// Wildcards go together into one batch of their own (so an execution adds at most one
/// wildcard invalidation in progress); the remaining paths, sorted, are chunked into batches of
/// at most `max_paths_per_batch`.
pub fn plan_batches<'p>(
    raw_paths: impl IntoIterator<Item = &'p str>,
    plan: &BatchPlan<'_>,
) -> (Vec<InvalidationBatch>, usize) {
    let encoded: BTreeSet<String> = raw_paths.into_iter().map(encode_path).collect();
    let distinct = encoded.len();
    let wildcard_budget = CLOUDFRONT_MAX_WILDCARD_PATHS.saturating_sub(plan.wildcards_in_use);
    let Folded { wildcards, paths } = fold(&encoded, plan.policy, wildcard_budget);

    let per_batch = plan
        .max_paths_per_batch
        .clamp(1, CLOUDFRONT_MAX_PATHS_PER_BATCH);
    // Wildcards first, in a batch of their own (there are at most 15, so one batch unless a test
    // asks for tiny batches).
    let groups = wildcards
        .chunks(per_batch)
        .chain(paths.chunks(per_batch))
        .map(<[String]>::to_vec);
    let batches = groups
        .map(|paths| InvalidationBatch {
            distribution_id: plan.distribution_id.to_owned(),
            caller_reference: caller_reference(plan.batch_id, plan.distribution_id, &paths),
            paths,
        })
        .collect();
    (batches, distinct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_space_percent_and_unsafe_characters() {
        assert_eq!(
            encode_path("/images/my photo.jpg"),
            "/images/my%20photo.jpg"
        );
        assert_eq!(encode_path("/100%.jpg"), "/100%25.jpg");
        assert_eq!(encode_path("/~user/a.jpg"), "/%7Euser/a.jpg");
        assert_eq!(
            encode_path("/a#b[1]{2}|^`\\<>\".jpg"),
            "/a%23b%5B1%5D%7B2%7D%7C%5E%60%5C%3C%3E%22.jpg"
        );
    }

    #[test]
    fn encodes_unicode_as_utf8_bytes() {
        assert_eq!(encode_path("/photos/café.jpg"), "/photos/caf%C3%A9.jpg");
        assert_eq!(
            encode_path("/写真/猫.png"),
            "/%E5%86%99%E7%9C%9F/%E7%8C%AB.png"
        );
        assert_eq!(encode_path("/🍌.jpg"), "/%F0%9F%8D%8C.jpg");
    }

    #[test]
    fn leaves_slash_plus_and_unreserved_characters_alone() {
        assert_eq!(
            encode_path("/a+b/c-d_e.f/G9@x=1,2;3:4!()'&$"),
            "/a+b/c-d_e.f/G9@x=1,2;3:4!()'&$"
        );
    }

    #[test]
    fn never_produces_a_wildcard_or_query_from_a_literal_key() {
        assert_eq!(encode_path("/a*"), "/a%2A");
        assert_eq!(encode_path("/a?b=1"), "/a%3Fb=1");
        assert!(!is_wildcard(&encode_path("/dir/*")));
    }

    #[test]
    fn encodes_control_characters_and_adds_the_leading_slash() {
        assert_eq!(encode_path("a/b\n\t\u{7f}"), "/a/b%0A%09%7F");
        assert_eq!(encode_path(""), "/");
    }

    #[test]
    fn caller_reference_ignores_order_and_duplicates_but_not_batch_or_distribution() {
        let paths = vec!["/a.jpg".to_owned(), "/b.jpg".to_owned()];
        let reversed: Vec<String> = paths.iter().rev().cloned().collect();
        let reference = caller_reference("batch-1", "E123", &paths);
        assert_eq!(reference, caller_reference("batch-1", "E123", &reversed));
        assert_ne!(reference, caller_reference("batch-2", "E123", &paths));
        assert_ne!(reference, caller_reference("batch-1", "E999", &paths));
        assert_ne!(reference, caller_reference("batch-1", "E123", &paths[..1]));
        // Field boundaries matter: moving characters between fields changes the hash.
        assert_ne!(
            caller_reference("ab", "c", &[]),
            caller_reference("a", "bc", &[])
        );
    }

    fn plan<'a>(policy: &'a FoldPolicy, max: usize) -> BatchPlan<'a> {
        BatchPlan {
            batch_id: "b1",
            distribution_id: "E123",
            policy,
            wildcards_in_use: 0,
            max_paths_per_batch: max,
        }
    }

    #[test]
    fn dedupes_after_encoding_and_sorts() {
        let policy = FoldPolicy::NEVER;
        let (batches, distinct) = plan_batches(
            ["/b.jpg", "/a b.jpg", "/b.jpg", "b.jpg"],
            &plan(&policy, 3000),
        );
        assert_eq!(distinct, 2);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].paths, vec!["/a%20b.jpg", "/b.jpg"]);
        assert_eq!(batches[0].distribution_id, "E123");
        assert_eq!(
            batches[0].caller_reference,
            caller_reference("b1", "E123", &batches[0].paths)
        );
    }

    #[test]
    fn folds_a_crowded_directory_into_its_own_wildcard_batch() {
        let policy = FoldPolicy {
            min_paths: 3,
            min_depth: 1,
            max_wildcards: 15,
            within: None,
        };
        let raw = [
            "/img/1.jpg",
            "/img/2.jpg",
            "/img/3.jpg",
            "/img/sub/4.jpg",
            "/other/5.jpg",
        ];
        let (batches, distinct) = plan_batches(raw, &plan(&policy, 3000));
        assert_eq!(distinct, 5);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].paths, vec!["/img/*"]);
        assert_eq!(batches[1].paths, vec!["/img/sub/4.jpg", "/other/5.jpg"]);
    }

    #[test]
    fn never_folds_the_root_by_default() {
        let policy = FoldPolicy {
            min_paths: 2,
            ..FoldPolicy::default()
        };
        let (batches, _) = plan_batches(["/a.jpg", "/b.jpg", "/c.jpg"], &plan(&policy, 3000));
        assert_eq!(batches.len(), 1);
        assert!(batches[0].paths.iter().all(|p| !is_wildcard(p)));
    }

    #[test]
    fn wildcards_stay_inside_the_allowed_prefixes() {
        let policy = FoldPolicy {
            min_paths: 2,
            ..FoldPolicy::within(["/images/user1-", "/thumbs/"])
        };
        let raw = [
            "/images/user1-a.jpg",
            "/images/user1-b.jpg",
            "/thumbs/x/1.jpg",
            "/thumbs/x/2.jpg",
            "/other/1",
            "/other/2",
        ];
        let (batches, _) = plan_batches(raw, &plan(&policy, 3000));
        // `/images/*` would reach other users' objects and `/other/*` is outside: only
        // `/thumbs/x/*` folds.
        assert_eq!(batches[0].paths, vec!["/thumbs/x/*"]);
        assert_eq!(
            batches[1].paths,
            vec![
                "/images/user1-a.jpg",
                "/images/user1-b.jpg",
                "/other/1",
                "/other/2"
            ]
        );

        let never = FoldPolicy {
            min_paths: 2,
            within: Some(vec![]),
            ..FoldPolicy::default()
        };
        let (batches, _) = plan_batches(raw, &plan(&never, 3000));
        assert!(
            batches
                .iter()
                .flat_map(|b| &b.paths)
                .all(|p| !is_wildcard(p))
        );
    }

    #[test]
    fn keeps_the_most_crowded_directories_within_the_wildcard_budget() {
        let policy = FoldPolicy {
            min_paths: 2,
            min_depth: 1,
            max_wildcards: 15,
            within: None,
        };
        let raw = ["/a/1", "/a/2", "/b/1", "/b/2", "/b/3", "/c/1", "/c/2"];
        let mut limited = plan(&policy, 3000);
        limited.wildcards_in_use = 14; // one wildcard left
        let (batches, _) = plan_batches(raw, &limited);
        assert_eq!(batches[0].paths, vec!["/b/*"]);
        assert_eq!(batches[1].paths, vec!["/a/1", "/a/2", "/c/1", "/c/2"]);
    }

    #[test]
    fn chunks_into_batches_of_at_most_the_limit() {
        let raw: Vec<String> = (0..7001)
            .map(|i| format!("/d{}/{i}.jpg", i % 2000))
            .collect();
        let policy = FoldPolicy::default();
        let (batches, distinct) =
            plan_batches(raw.iter().map(String::as_str), &plan(&policy, 3000));
        assert_eq!(distinct, 7001);
        assert_eq!(
            batches.iter().map(|b| b.paths.len()).collect::<Vec<_>>(),
            vec![3000, 3000, 1001]
        );
    }

    #[test]
    fn no_paths_means_no_batches() {
        let policy = FoldPolicy::default();
        let (batches, distinct) = plan_batches(std::iter::empty(), &plan(&policy, 3000));
        assert!(batches.is_empty());
        assert_eq!(distinct, 0);
    }

    fn covered(path: &str, batches: &[InvalidationBatch]) -> bool {
        let encoded = encode_path(path);
        batches
            .iter()
            .flat_map(|b| &b.paths)
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => encoded.starts_with(prefix),
                None => *p == encoded,
            })
    }

    fn raw_path() -> impl Strategy<Value = String> {
        // Few directories and file names, so folding and duplicates actually happen.
        (0..6u8, 0..3u8, "[a-c ~%+é]{0,3}[0-9]{0,2}").prop_map(|(dir, depth, name)| {
            let mut path = String::new();
            for level in 0..depth {
                path.push_str(&format!("/d{dir}{level}"));
            }
            format!("{path}/{name}.jpg")
        })
    }

    proptest! {
        /// The length is the encoded path's, whatever the key.
        #[test]
        fn encoded_path_len_is_the_encoded_length(raw in "\\PC{0,24}|[/ %~*?a\\x00\\x7f]{0,12}") {
            prop_assert_eq!(encoded_path_len(&raw), encode_path(&raw).len());
            prop_assert_eq!(percent_encoded_len(&raw), encode_path(&format!("/{raw}")).len() - 1);
        }

        #[test]
        fn batching_covers_every_path_within_the_limits(
            paths in proptest::collection::vec(raw_path(), 0..400),
            min_paths in 2usize..20,
            max_wildcards in 0usize..20,
            in_use in 0usize..20,
            per_batch in 1usize..50,
        ) {
            let policy = FoldPolicy { min_paths, min_depth: 1, max_wildcards, within: None };
            let plan = BatchPlan { batch_id: "b", distribution_id: "E1", policy: &policy, wildcards_in_use: in_use, max_paths_per_batch: per_batch };
            let (batches, distinct) = plan_batches(paths.iter().map(String::as_str), &plan);

            for path in &paths {
                prop_assert!(covered(path, &batches), "{path:?} not covered by {batches:?}");
            }
            let wildcard_count = batches.iter().flat_map(|b| &b.paths).filter(|p| is_wildcard(p)).count();
            prop_assert!(wildcard_count + in_use.min(CLOUDFRONT_MAX_WILDCARD_PATHS) <= CLOUDFRONT_MAX_WILDCARD_PATHS);
            prop_assert!(wildcard_count <= max_wildcards);
            let wildcard_batches: Vec<_> = batches.iter().filter(|b| b.paths.iter().any(|p| is_wildcard(p))).collect();
            prop_assert!(wildcard_batches.iter().all(|b| b.paths.iter().all(|p| is_wildcard(p))), "wildcards are batched apart");
            prop_assert!(wildcard_batches.len() <= wildcard_count.div_ceil(per_batch));
            let total: usize = batches.iter().map(|b| b.paths.len()).sum();
            prop_assert!(total <= distinct);
            for batch in &batches {
                prop_assert!(!batch.paths.is_empty());
                prop_assert!(batch.paths.len() <= per_batch);
                prop_assert!(batch.paths.iter().all(|p| p.starts_with('/') && p != "/*"));
                prop_assert_eq!(&batch.caller_reference, &caller_reference("b", "E1", &batch.paths));
            }
            let references: BTreeSet<&str> = batches.iter().map(|b| b.caller_reference.as_str()).collect();
            prop_assert_eq!(references.len(), batches.len());
        }

        #[test]
        fn caller_references_do_not_depend_on_input_order(
            paths in proptest::collection::vec(raw_path(), 1..200),
            seed in any::<u64>(),
        ) {
            let policy = FoldPolicy { min_paths: 5, ..FoldPolicy::default() };
            let plan = BatchPlan { batch_id: "b", distribution_id: "E1", policy: &policy, wildcards_in_use: 0, max_paths_per_batch: 30 };
            let mut shuffled = paths.clone();
            // A deterministic shuffle driven by the generated seed.
            let len = shuffled.len();
            for i in (1..len).rev() {
                let j = (seed.wrapping_mul(i as u64 + 1).rotate_left(17) % (i as u64 + 1)) as usize;
                shuffled.swap(i, j);
            }
            let (original, _) = plan_batches(paths.iter().map(String::as_str), &plan);
            let (reordered, _) = plan_batches(shuffled.iter().map(String::as_str), &plan);
            prop_assert_eq!(original, reordered);
        }
    }
}
