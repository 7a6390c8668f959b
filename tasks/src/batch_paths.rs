//! The BatchPaths task: the paths of everything deleted → CloudFront invalidation batches.
//!
//! No AWS call. Replayed batches (from a failure report's `replayInput`) keep their
//! CallerReference, so a replay returns the existing invalidation if it was in fact created.
//!
//! A replayed batch is not trusted: anyone who can start an execution or edit a report can write
//! one, and `{"paths": ["/*"]}` would invalidate the whole distribution. It is sent only when it
//! targets `PURGE_DISTRIBUTION_ID`, carries a CallerReference of the form
//! [`caller_reference`](crate::paths::caller_reference) produces, holds 1..=3000 paths, each
//! inside the fold policy's allowed area (the encoded prefixes `PURGE_KEY_PREFIX` maps to, with
//! no wildcard shallower than its `min_depth`), and keeps the replayed wildcards at CloudFront's
//! 15. A batch that breaks a rule is dropped alone, logged, and listed in
//! [`BatchPathsOutput::dropped_batches`]; the rest of the execution goes on.

use std::borrow::Cow;
use std::collections::BTreeSet;

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::TaskError;
use crate::contract::{BatchPathsInput, BatchPathsOutput, DroppedBatch, InvalidationBatch};
use crate::key_safety::{KeySafetyError, check_key};
use crate::key_template::Template;
use crate::paths::{
    BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS, FoldPolicy,
    encode_path, is_wildcard, plan_batches,
};

/// Runs BatchPaths for one execution. `distribution_id` is the CloudFront distribution
/// (`PURGE_DISTRIBUTION_ID`): new batches target it, and replayed batches must too.
pub fn batch_paths(
    input: BatchPathsInput,
    distribution_id: &str,
    policy: &FoldPolicy,
) -> Result<BatchPathsOutput, TaskError> {
    if distribution_id.trim().is_empty() {
        return Err(TaskError::InvalidInput(
            "the CloudFront distribution id is empty".to_owned(),
        ));
    }
    let mut screened = screen_replayed(input.batches, distribution_id, policy);

    // Replayed wildcards count against CloudFront's 15-wildcard limit too.
    let wildcards_in_use = screened
        .accepted
        .iter()
        .flat_map(|batch| &batch.paths)
        .filter(|path| is_wildcard(path))
        .count();
    let plan = BatchPlan {
        batch_id: &input.batch_id,
        distribution_id,
        policy,
        wildcards_in_use,
        max_paths_per_batch: CLOUDFRONT_MAX_PATHS_PER_BATCH,
    };
    let raw_paths = input
        .deleted
        .iter()
        .flat_map(|target| &target.paths)
        .map(String::as_str);
    let (new_batches, path_count) = plan_batches(raw_paths, &plan);

    // A replayed batch that takes the CallerReference of one of this execution's own batches
    // with other paths would make CloudFront return it in place of the real one: the real one
    // is sent, the replayed one refused.
    let (clashing, accepted): (Vec<_>, Vec<_>) = std::mem::take(&mut screened.accepted)
        .into_iter()
        .partition(|replayed| {
            new_batches.iter().any(|new| {
                new.caller_reference == replayed.caller_reference
                    && new.paths.iter().collect::<BTreeSet<_>>()
                        != replayed.paths.iter().collect::<BTreeSet<_>>()
            })
        });
    for batch in clashing {
        screened.drop(
            batch,
            "reuses the CallerReference of one of this execution's own batches with other paths"
                .to_owned(),
        );
    }
    let dropped = screened.dropped;
    // A replayed batch first (it is older work), then the new ones; a new batch identical to a
    // replayed one (same CallerReference) is sent once.
    let mut seen: BTreeSet<String> = accepted
        .iter()
        .map(|batch| batch.caller_reference.clone())
        .collect();
    let batches: Vec<InvalidationBatch> = accepted
        .into_iter()
        .chain(
            new_batches
                .into_iter()
                .filter(|batch| seen.insert(batch.caller_reference.clone())),
        )
        .collect();

    let path_count = u32::try_from(path_count).map_err(|_| {
        TaskError::InvalidInput(format!(
            "{path_count} paths in one execution is more than any input can hold"
        ))
    })?;
    tracing::info!(
        batches = batches.len(),
        dropped_batches = dropped.len(),
        path_count,
        "planned invalidation batches"
    );
    Ok(BatchPathsOutput {
        batches,
        path_count,
        dropped_batches: dropped,
    })
}

/// Replayed batches split into the ones to send and the ones refused.
struct Screened {
    accepted: Vec<InvalidationBatch>,
    dropped: Vec<DroppedBatch>,
}

/// Applies the replay rules to each replayed batch, in order (see [`screen_replayed_batches`]).
/// A refused batch is dropped with its first problem as the reason (a report carries it, so it
/// stays short even for 3,000 bad paths).
fn screen_replayed(
    replayed: Vec<InvalidationBatch>,
    distribution_id: &str,
    policy: &FoldPolicy,
) -> Screened {
    let verdicts = screen_replayed_batches(&replayed, distribution_id, policy);
    let mut screened = Screened {
        accepted: Vec::new(),
        dropped: Vec::new(),
    };
    for (batch, verdict) in replayed.into_iter().zip(verdicts) {
        match verdict {
            ReplayedBatchVerdict::Send => screened.accepted.push(batch),
            ReplayedBatchVerdict::Duplicate => {}
            ReplayedBatchVerdict::Refused(problems) => {
                let reason = problems.into_iter().next().unwrap_or_default();
                screened.drop(batch, reason);
            }
        }
    }
    screened
}

/// What BatchPaths does with one replayed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayedBatchVerdict {
    /// Sent (or found, by its CallerReference) as it is.
    Send,
    /// The same batch as an earlier one in the input (a report delivered twice): sent once.
    Duplicate,
    /// Dropped and reported, for every one of these reasons.
    Refused(Vec<String>),
}

/// The replay rules for each replayed batch, in input order: one verdict per batch. Duplicates
/// (same CallerReference and paths) collapse to the first; the same CallerReference with other
/// paths is refused; every rule of [`replayed_batch_problems`] applies; the wildcard budget is
/// spent in input order, so a batch that would take the replayed wildcards past 15 is refused
/// whole. BatchPaths drops what this refuses; `purgeflow replay --dry-run` shows it.
pub fn screen_replayed_batches(
    replayed: &[InvalidationBatch],
    distribution_id: &str,
    policy: &FoldPolicy,
) -> Vec<ReplayedBatchVerdict> {
    // The paths of each (distribution, CallerReference) seen so far, sorted.
    let mut seen: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let mut wildcards = 0usize;
    replayed
        .iter()
        .map(|batch| {
            let key = (
                batch.distribution_id.as_str(),
                batch.caller_reference.as_str(),
            );
            let paths: BTreeSet<&str> = batch.paths.iter().map(String::as_str).collect();
            // The same batch twice (a report delivered twice) is sent once. The same
            // CallerReference with other paths is not the same batch: CloudFront would refuse
            // it (InvalidationBatchAlreadyExists), or, sent first, it would stand in for the
            // real one.
            let mut problems = match seen.get(&key) {
                Some(earlier) if *earlier == paths => return ReplayedBatchVerdict::Duplicate,
                Some(_) => vec![
                    "reuses the CallerReference of an earlier replayed batch with other paths"
                        .to_owned(),
                ],
                None => {
                    seen.insert(key, paths);
                    Vec::new()
                }
            };
            problems.extend(replayed_batch_problems(batch, distribution_id, policy));
            if problems.is_empty() {
                let in_batch = batch.paths.iter().filter(|p| is_wildcard(p)).count();
                if wildcards + in_batch > CLOUDFRONT_MAX_WILDCARD_PATHS {
                    problems.push(format!(
                        "would take the replayed wildcard paths to {}, past CloudFront's {CLOUDFRONT_MAX_WILDCARD_PATHS}",
                        wildcards + in_batch
                    ));
                } else {
                    wildcards += in_batch;
                }
            }
            if problems.is_empty() {
                ReplayedBatchVerdict::Send
            } else {
                ReplayedBatchVerdict::Refused(problems)
            }
        })
        .collect()
}

impl Screened {
    /// Refuses `batch`: logged, and listed for the report.
    fn drop(&mut self, batch: InvalidationBatch, reason: String) {
        tracing::warn!(
            distribution_id = %batch.distribution_id,
            caller_reference = %batch.caller_reference,
            paths = batch.paths.len(),
            %reason,
            "replayed invalidation batch dropped: not sent"
        );
        self.dropped.push(DroppedBatch {
            path_count: u32::try_from(batch.paths.len()).unwrap_or(u32::MAX),
            distribution_id: batch.distribution_id,
            caller_reference: batch.caller_reference,
            reason,
        });
    }
}

/// The rules one replayed batch must meet on its own; the error says the first one it breaks.
pub(crate) fn check_replayed(
    batch: &InvalidationBatch,
    distribution_id: &str,
    policy: &FoldPolicy,
) -> Result<(), String> {
    match replayed_batch_problems(batch, distribution_id, policy)
        .into_iter()
        .next()
    {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Every rule one replayed batch breaks on its own, in order, each bad path named: its
/// distribution, its CallerReference, its size, and each path (`check_replayed_path`: the key
/// rules of `key_safety` on the decoded path, BatchPaths' encoding, the purge area, the
/// wildcard depth). Empty: the batch may be sent.
pub fn replayed_batch_problems(
    batch: &InvalidationBatch,
    distribution_id: &str,
    policy: &FoldPolicy,
) -> Vec<String> {
    let mut problems = Vec::new();
    if batch.distribution_id != distribution_id {
        problems.push(format!(
            "targets distribution {:?}, not PURGE_DISTRIBUTION_ID {distribution_id:?}",
            batch.distribution_id
        ));
    }
    if !is_caller_reference(&batch.caller_reference) {
        problems.push(
            "has a caller reference that purgeflow did not produce (expected `purgeflow-` and 64 lowercase hex digits)"
                .to_owned(),
        );
    }
    if batch.paths.is_empty() {
        problems.push("has no paths".to_owned());
    }
    if batch.paths.len() > CLOUDFRONT_MAX_PATHS_PER_BATCH {
        problems.push(format!(
            "has {} paths, more than CloudFront's {CLOUDFRONT_MAX_PATHS_PER_BATCH} per batch",
            batch.paths.len()
        ));
    }
    for path in &batch.paths {
        if let Err(problem) = check_replayed_path(path, policy) {
            problems.push(format!("path {path:?} {problem}"));
        }
    }
    problems
}

/// The shape [`crate::paths::caller_reference`] gives: `purgeflow-` and a hex SHA-256.
fn is_caller_reference(reference: &str) -> bool {
    reference.strip_prefix("purgeflow-").is_some_and(|digest| {
        digest.len() == 64
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One replayed path: something BatchPaths itself could have emitted for this configuration,
/// inside the policy's area. It is decoded the way BatchPaths encodes ([`encode_path`]), and
/// what it decodes to must pass the key rules (`key_safety`, every one of them: control and
/// invisible characters, `.`/`..`/empty segments split on `/` and `\`, their NFKC look-alikes
/// and every further level of percent-encoding) and encode back to exactly the replayed path.
/// So multi-level encoding (`%252e`), an encoded `/` or `\`, `;` parameters on a dot segment,
/// look-alikes and control characters are refused, by name, instead of reaching CloudFront
/// (which would refuse a control character with an error that was retried as `Transient` and
/// reported again forever).
fn check_replayed_path(path: &str, policy: &FoldPolicy) -> Result<(), Cow<'static, str>> {
    if !path.starts_with('/') {
        return Err(Cow::Borrowed("does not start with `/`"));
    }
    if path.chars().any(char::is_control) {
        return Err(Cow::Borrowed("contains a control character"));
    }
    // CloudFront only honours `*` as the last character; `?` would start a query string.
    let literal = path.strip_suffix('*').unwrap_or(path);
    if literal.contains(['*', '?']) {
        return Err(Cow::Borrowed("has a `*` before its end or a `?`"));
    }
    let Ok(raw) = percent_decode_str(literal).decode_utf8() else {
        return Err(Cow::Borrowed("is not UTF-8 once percent-decoded"));
    };
    // A wildcard's fixed part is the start of a key: give it an end so the rules see a key.
    let key = match &raw[1..] {
        "" => Cow::Borrowed("x"),
        start if is_wildcard(path) => Cow::Owned(format!("{start}x")),
        whole => Cow::Borrowed(whole),
    };
    if let Err(KeySafetyError::UnsafeKey { why, .. }) = check_key(&key, "") {
        return Err(Cow::Owned(why));
    }
    if encode_path(&raw) != literal {
        return Err(Cow::Borrowed(
            "is not encoded as BatchPaths encodes paths (an escape BatchPaths never writes: an \
             encoded `/`, lowercase hex, an escape of a plain character or a second level)",
        ));
    }
    if let Some(prefixes) = &policy.within
        && !prefixes
            .iter()
            .any(|prefix| literal.starts_with(prefix.as_str()))
    {
        return Err(Cow::Borrowed(
            "is outside the purge area (the paths PURGE_KEY_PREFIX maps to)",
        ));
    }
    if is_wildcard(path) {
        // The same floor folding uses: `/*` (depth 0) would invalidate the whole distribution.
        let depth = literal.matches('/').count().saturating_sub(1);
        if depth < policy.min_depth {
            return Err(Cow::Borrowed(
                "is a wildcard shallower than the fold policy allows",
            ));
        }
    }
    Ok(())
}

/// The raw path prefixes purgeflow may purge under: each path template rendered with
/// `PURGE_KEY_PREFIX` as the key, cut where the key ends (`/thumbs/{key}` with `images/u1-` →
/// `/thumbs/images/u1-`). A wildcard folded outside these would invalidate objects purgeflow
/// does not own. A template whose filters lose track of where the key ends yields nothing, so
/// its paths are never folded.
pub fn wildcard_prefixes(key_prefix: &str, path_templates: &[Template]) -> Vec<String> {
    // NUL cannot appear in a valid key, so it marks the end of the key in the rendered path.
    const END_OF_KEY: char = '\0';
    path_templates
        .iter()
        .filter_map(|template| {
            let rendered = template
                .render_with(|_| Ok(Cow::Owned(format!("{key_prefix}{END_OF_KEY}"))))
                .ok()?;
            let end = rendered.find(END_OF_KEY)?;
            Some(rendered[..end].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{DroppedBatch, PurgeTarget};
    use crate::paths::caller_reference;
    use crate::schema_check::assert_valid;

    fn target(key: &str, paths: &[&str]) -> PurgeTarget {
        PurgeTarget {
            bucket: "photos-bucket".into(),
            key: key.into(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            event_id: format!("event-{key}"),
            table_keys: serde_json::from_value(serde_json::json!({"photo_id": {"S": key}}))
                .expect("valid map"),
        }
    }

    fn check_schemas(input: &BatchPathsInput, output: &BatchPathsOutput) {
        assert_valid(
            "batch-paths.input.schema.json",
            &serde_json::to_value(input).expect("serialisable"),
        );
        assert_valid(
            "batch-paths.output.schema.json",
            &serde_json::to_value(output).expect("serialisable"),
        );
    }

    #[test]
    fn builds_one_batch_from_the_deleted_targets() {
        let input = BatchPathsInput {
            batch_id: "batch-1".into(),
            deleted: vec![
                target("banana.jpg", &["/banana.jpg", "/thumbs/banana.jpg"]),
                target("my pic.jpg", &["/my pic.jpg"]),
                target("banana.jpg", &["/banana.jpg"]),
            ],
            batches: vec![],
        };
        let output = batch_paths(input.clone(), "E2QWRUHEXAMPLE", &FoldPolicy::default())
            .expect("valid input");
        check_schemas(&input, &output);
        assert_eq!(output.path_count, 3);
        assert_eq!(output.batches.len(), 1);
        let batch = &output.batches[0];
        assert_eq!(
            batch.paths,
            vec!["/banana.jpg", "/my%20pic.jpg", "/thumbs/banana.jpg"]
        );
        assert_eq!(batch.distribution_id, "E2QWRUHEXAMPLE");
        assert_eq!(
            batch.caller_reference,
            caller_reference("batch-1", "E2QWRUHEXAMPLE", &batch.paths)
        );
    }

    /// A replayed batch as an earlier execution's BatchPaths would have made it.
    fn replayed_batch(distribution_id: &str, paths: Vec<String>) -> InvalidationBatch {
        InvalidationBatch {
            distribution_id: distribution_id.into(),
            caller_reference: caller_reference("earlier-batch", distribution_id, &paths),
            paths,
        }
    }

    fn replay_input(batches: Vec<InvalidationBatch>) -> BatchPathsInput {
        BatchPathsInput {
            batch_id: "replay-1".into(),
            deleted: vec![],
            batches,
        }
    }

    #[test]
    fn replayed_batches_pass_through_unchanged_and_once() {
        let replayed = replayed_batch("E2QWRUHEXAMPLE", vec!["/old/*".into()]);
        let input = replay_input(vec![replayed.clone(), replayed.clone()]);
        let output = batch_paths(input.clone(), "E2QWRUHEXAMPLE", &FoldPolicy::default())
            .expect("valid input");
        check_schemas(&input, &output);
        assert_eq!(output.batches, vec![replayed]);
        assert_eq!(output.path_count, 0);
        assert!(output.dropped_batches.is_empty());
    }

    #[test]
    fn replayed_wildcards_reduce_the_wildcard_budget() {
        let replayed = replayed_batch("E1", (0..15).map(|i| format!("/dir{i}/*")).collect());
        let deleted: Vec<PurgeTarget> = (0..10)
            .map(|i| target(&format!("{i}.jpg"), &[&format!("/crowded/{i}.jpg")]))
            .collect();
        let policy = FoldPolicy {
            min_paths: 2,
            ..FoldPolicy::default()
        };
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted,
            batches: vec![replayed],
        };
        let output = batch_paths(input.clone(), "E1", &policy).expect("valid input");
        check_schemas(&input, &output);
        assert_eq!(output.batches.len(), 2);
        assert!(
            output.batches[1].paths.iter().all(|p| !is_wildcard(p)),
            "budget spent: no new wildcard"
        );
        assert_eq!(output.batches[1].paths.len(), 10);
    }

    /// The policy the Lambda builds for `PURGE_KEY_PREFIX=images/u1-` and `/{key},/thumbs/{key}`.
    fn purge_area_policy() -> FoldPolicy {
        let templates: Vec<Template> = ["/{key}", "/thumbs/{key}"]
            .iter()
            .map(|t| Template::parse(t).expect("valid template"))
            .collect();
        let prefixes = wildcard_prefixes("images/u1-", &templates);
        FoldPolicy::within(prefixes.iter().map(String::as_str))
    }

    #[test]
    fn a_crafted_whole_distribution_replay_is_dropped_and_the_rest_goes_on() {
        let crafted = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "r".into(),
            paths: vec!["/*".into()],
        };
        let honest = replayed_batch("E1", vec!["/images/u1-a.jpg".into()]);
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![target("images/u1-b.jpg", &["/images/u1-b.jpg"])],
            batches: vec![crafted, honest.clone()],
        };
        let output = batch_paths(input.clone(), "E1", &purge_area_policy()).expect("goes on");
        check_schemas(&input, &output);
        assert_eq!(output.batches.len(), 2);
        assert_eq!(output.batches[0], honest);
        assert_eq!(output.batches[1].paths, ["/images/u1-b.jpg"]);
        assert_eq!(
            output.dropped_batches,
            [DroppedBatch {
                distribution_id: "E1".into(),
                caller_reference: "r".into(),
                path_count: 1,
                reason: "has a caller reference that purgeflow did not produce (expected \
                         `purgeflow-` and 64 lowercase hex digits)"
                    .into(),
            }]
        );
    }

    #[test]
    fn each_replay_rule_drops_only_the_batch_that_breaks_it() {
        let policy = purge_area_policy();
        let too_many: Vec<String> = (0..3001).map(|i| format!("/images/u1-{i}.jpg")).collect();
        for (batch, expected) in [
            (
                replayed_batch("EOTHER", vec!["/images/u1-a.jpg".into()]),
                "targets distribution \"EOTHER\", not PURGE_DISTRIBUTION_ID \"E1\"",
            ),
            (
                replayed_batch("E1", vec!["/*".into()]),
                "path \"/*\" is outside the purge area",
            ),
            (
                replayed_batch("E1", vec!["/images/*".into()]),
                "path \"/images/*\" is outside the purge area",
            ),
            (
                replayed_batch("E1", vec!["/images/u2-a.jpg".into()]),
                "path \"/images/u2-a.jpg\" is outside the purge area",
            ),
            (
                replayed_batch("E1", vec!["/images/u1-/../u2-a.jpg".into()]),
                "path \"/images/u1-/../u2-a.jpg\" has a `..` segment",
            ),
            (
                replayed_batch("E1", vec!["/images/u1-/%2E%2e/x".into()]),
                "path \"/images/u1-/%2E%2e/x\" has a `..` segment",
            ),
            (
                replayed_batch("E1", vec!["/images/u1-*/x".into()]),
                "path \"/images/u1-*/x\" has a `*` before its end",
            ),
            (
                replayed_batch("E1", vec!["images/u1-a.jpg".into()]),
                "path \"images/u1-a.jpg\" does not start with `/`",
            ),
            (replayed_batch("E1", vec![]), "has no paths"),
            (
                replayed_batch("E1", too_many),
                "has 3001 paths, more than CloudFront's 3000 per batch",
            ),
        ] {
            let output = batch_paths(replay_input(vec![batch.clone()]), "E1", &policy)
                .expect("a bad replayed batch is dropped, not fatal");
            assert!(output.batches.is_empty(), "{expected}: {output:?}");
            assert_eq!(output.dropped_batches.len(), 1, "{expected}");
            let dropped = &output.dropped_batches[0];
            assert!(
                dropped.reason.starts_with(expected),
                "{expected}: {}",
                dropped.reason
            );
            assert_eq!(dropped.caller_reference, batch.caller_reference);
            assert_eq!(dropped.path_count as usize, batch.paths.len());
        }
    }

    /// Each of these used to be sent to CloudFront: only a whole-segment `%2e` was decoded.
    /// Each is refused by name now, because BatchPaths could never have produced it.
    #[test]
    fn a_replayed_path_batch_paths_could_not_have_produced_is_refused_by_name() {
        let policy = purge_area_policy();
        for (path, why) in [
            // Multi-level percent-encoding of `..`.
            ("/images/u1-/%252e%252e/x", "percent-encoded"),
            ("/images/u1-/%25252e%25252e/x", "percent-encoded"),
            // An encoded `/` or `\` making a `..` segment.
            ("/images/u1-%2F..%2Fu2-a.jpg", "has a `..` segment"),
            ("/images/u1-%5C..%5Cu2-a.jpg", "has a `..` segment"),
            // NFKC look-alikes of `..` (U+FF0E), encoded as BatchPaths would encode them.
            ("/images/u1-/%EF%BC%8E%EF%BC%8E/x", "NFKC"),
            // A NUL or another control character, encoded or not.
            ("/images/u1-a%00.jpg", "control character"),
            ("/images/u1-a\u{0}.jpg", "control character"),
            ("/images/u1-a\u{7}.jpg", "control character"),
            ("/images/u1-a%0A.jpg", "control character"),
            // Escapes BatchPaths never writes: of a plain character, in lowercase hex, of `/`.
            ("/images/u1-%41.jpg", "not encoded as BatchPaths encodes"),
            (
                "/images/u1-%e6%97%a5.jpg",
                "not encoded as BatchPaths encodes",
            ),
            ("/images/u1-a%2Fb.jpg", "not encoded as BatchPaths encodes"),
            // Not UTF-8 once decoded (an overlong `.`).
            ("/images/u1-/%C0%AE%C0%AE/x", "not UTF-8"),
        ] {
            let batch = replayed_batch("E1", vec![path.to_owned()]);
            let output = batch_paths(replay_input(vec![batch]), "E1", &policy)
                .expect("a bad replayed batch is dropped, not fatal");
            assert!(output.batches.is_empty(), "{path:?} was sent");
            assert_eq!(output.dropped_batches.len(), 1, "{path:?}");
            let reason = &output.dropped_batches[0].reason;
            assert!(reason.contains(why), "{path:?}: {reason}");
        }
        // What BatchPaths itself produces still goes through, encoded or not.
        for path in [
            "/images/u1-a.jpg",
            "/thumbs/images/u1-%E6%97%A5%20x.jpg",
            "/images/u1-100%25.jpg",
            "/images/u1-dir/*",
        ] {
            let batch = replayed_batch("E1", vec![path.to_owned()]);
            let output =
                batch_paths(replay_input(vec![batch.clone()]), "E1", &policy).expect("passes");
            assert_eq!(output.batches, [batch], "{path:?}: {output:?}");
        }
        // A path BatchPaths made of a real key is one a replay accepts.
        let key = "images/u1-日本 #1.jpg";
        let made = batch_paths(
            BatchPathsInput {
                batch_id: "b".into(),
                deleted: vec![target(key, &[&format!("/{key}")])],
                batches: vec![],
            },
            "E1",
            &policy,
        )
        .expect("plans");
        let replayed =
            batch_paths(replay_input(made.batches.clone()), "E1", &policy).expect("replays");
        assert_eq!(replayed.batches, made.batches);
        assert!(replayed.dropped_batches.is_empty());
    }

    /// A replayed path is held to the key rules (`key_safety::check_key`) on its decoded form:
    /// a segment an origin, proxy or OS could normalise to `.` or `..` is refused even when it
    /// is encoded exactly as BatchPaths encodes (all of these were sent before).
    #[test]
    fn a_replayed_path_with_a_segment_that_normalises_to_dots_is_refused() {
        let policy = purge_area_policy();
        for (raw, why) in [
            ("/images/u1-/..;jsessionid=x/u2-a.jpg", "`;` path parameter"),
            ("/images/u1-/.. /u2-a.jpg", "whitespace"),
            ("/images/u1-/..\u{A0}/u2-a.jpg", "whitespace"),
            ("/images/u1-/. ./u2-a.jpg", "Windows"),
            ("/images/u1-/.\u{301}./u2-a.jpg", "combining marks"),
            ("/images/u1-/..\u{3164}/u2-a.jpg", "default-ignorable"),
            ("/images/u1-/%u002e%u002e/u2-a.jpg", "percent-encoded"),
            ("/images/u1-/%c0%ae%c0%ae/u2-a.jpg", "percent-encoded"),
        ] {
            let path = encode_path(raw);
            let batch = replayed_batch("E1", vec![path.clone()]);
            let output = batch_paths(replay_input(vec![batch]), "E1", &policy)
                .expect("a bad replayed batch is dropped, not fatal");
            assert!(output.batches.is_empty(), "{path:?} was sent");
            let reason = &output.dropped_batches[0].reason;
            assert!(reason.contains(why), "{path:?}: {reason}");
        }
    }

    #[test]
    fn one_caller_reference_with_other_paths_is_refused_and_reported() {
        let policy = purge_area_policy();
        let first = replayed_batch("E1", vec!["/images/u1-a.jpg".into()]);
        let mut other = first.clone();
        other.paths = vec!["/images/u1-b.jpg".into()];
        let output = batch_paths(
            replay_input(vec![first.clone(), first.clone(), other]),
            "E1",
            &policy,
        )
        .expect("goes on");
        assert_eq!(
            output.batches,
            std::slice::from_ref(&first),
            "the same batch twice is sent once"
        );
        assert_eq!(output.dropped_batches.len(), 1, "{output:?}");
        assert_eq!(
            output.dropped_batches[0].caller_reference,
            first.caller_reference
        );
        assert!(
            output.dropped_batches[0]
                .reason
                .contains("reuses the CallerReference of an earlier replayed batch"),
            "{}",
            output.dropped_batches[0].reason
        );

        // A replayed batch with the CallerReference this execution gives its own batch, but
        // other paths, would have stood in for it: the execution's own batch is sent.
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![target("images/u1-c.jpg", &["/images/u1-c.jpg"])],
            batches: vec![],
        };
        let own = batch_paths(input.clone(), "E1", &policy)
            .expect("plans")
            .batches;
        let mut impostor = own[0].clone();
        impostor.paths = vec!["/images/u1-d.jpg".into()];
        let output = batch_paths(
            BatchPathsInput {
                batches: vec![impostor],
                ..input
            },
            "E1",
            &policy,
        )
        .expect("goes on");
        assert_eq!(output.batches, own);
        assert_eq!(output.dropped_batches.len(), 1, "{output:?}");
        assert!(
            output.dropped_batches[0]
                .reason
                .contains("this execution's own batches"),
            "{}",
            output.dropped_batches[0].reason
        );
    }

    #[test]
    fn replayed_wildcards_are_capped_at_fifteen_across_batches() {
        let wildcards = |from: usize, n: usize| -> Vec<String> {
            (from..from + n)
                .map(|i| format!("/images/u1-{i}/*"))
                .collect()
        };
        let first = replayed_batch("E1", wildcards(0, 10));
        let second = replayed_batch("E1", wildcards(10, 6));
        let third = replayed_batch("E1", wildcards(20, 5));
        let input = replay_input(vec![first.clone(), second.clone(), third.clone()]);
        let output = batch_paths(input.clone(), "E1", &purge_area_policy()).expect("goes on");
        check_schemas(&input, &output);
        assert_eq!(output.batches, [first, third]);
        assert_eq!(output.dropped_batches.len(), 1);
        assert_eq!(
            output.dropped_batches[0].caller_reference,
            second.caller_reference
        );
        assert!(
            output.dropped_batches[0]
                .reason
                .contains("16, past CloudFront's 15"),
            "{}",
            output.dropped_batches[0].reason
        );
    }

    #[test]
    fn without_an_area_a_replayed_wildcard_still_needs_the_minimum_depth() {
        let root = replayed_batch("E1", vec!["/*".into()]);
        let dir = replayed_batch("E1", vec!["/dir/*".into()]);
        let output = batch_paths(
            replay_input(vec![root, dir.clone()]),
            "E1",
            &FoldPolicy::default(),
        )
        .expect("goes on");
        assert_eq!(output.batches, [dir]);
        assert_eq!(
            output.dropped_batches[0].reason,
            "path \"/*\" is a wildcard shallower than the fold policy allows"
        );
    }

    #[test]
    fn wildcard_prefixes_follow_the_key_prefix_through_each_template() {
        let templates: Vec<Template> = ["/{key}", "/thumbs/{key}", "/{key}/original"]
            .iter()
            .map(|t| Template::parse(t).expect("valid template"))
            .collect();
        assert_eq!(
            wildcard_prefixes("images/u1-", &templates),
            ["/images/u1-", "/thumbs/images/u1-", "/images/u1-"]
        );
        assert_eq!(wildcard_prefixes("", &templates[..2]), ["/", "/thumbs/"]);

        // Folding then stays inside: `/images/*` would reach other users' objects.
        let policy = FoldPolicy {
            min_paths: 2,
            ..FoldPolicy::within(
                wildcard_prefixes("images/u1-", &templates[..1])
                    .iter()
                    .map(String::as_str),
            )
        };
        let deleted = vec![
            target("images/u1-a.jpg", &["/images/u1-a.jpg"]),
            target("images/u1-b.jpg", &["/images/u1-b.jpg"]),
        ];
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted,
            batches: vec![],
        };
        let output = batch_paths(input, "E1", &policy).expect("valid input");
        assert!(
            output
                .batches
                .iter()
                .flat_map(|b| &b.paths)
                .all(|p| !is_wildcard(p)),
            "{output:?}"
        );
    }

    #[test]
    fn the_output_schema_rejects_what_cloudfront_would() {
        let batch = |paths: Vec<String>| serde_json::json!({"distributionId": "E1", "callerReference": "r", "paths": paths});
        let too_many: Vec<String> = (0..3001).map(|i| format!("/{i}")).collect();
        for bad in [
            batch(too_many),
            batch(vec![]),
            batch(vec!["no-slash".into()]),
        ] {
            crate::schema_check::assert_invalid(
                "batch-paths.output.schema.json",
                &serde_json::json!({"batches": [bad], "pathCount": 1}),
            );
        }
    }

    #[test]
    fn nothing_deleted_means_no_batches() {
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![target("a", &[])],
            batches: vec![],
        };
        let output = batch_paths(input.clone(), "E1", &FoldPolicy::default()).expect("valid input");
        check_schemas(&input, &output);
        assert!(output.batches.is_empty());
    }

    #[test]
    fn rejects_an_empty_distribution() {
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![],
            batches: vec![],
        };
        let err = batch_paths(input, " ", &FoldPolicy::default()).expect_err("empty distribution");
        assert_eq!(err.error_type(), crate::error::names::INVALID_INPUT);
    }
}
