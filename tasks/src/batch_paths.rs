//! The BatchPaths task: the paths of everything deleted → CloudFront invalidation batches.
//!
//! No AWS call. Replayed batches (from a failure report's `replayInput`) pass through unchanged,
//! keeping their CallerReference, so a replay returns the existing invalidation if it was in fact
//! created.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::TaskError;
use crate::contract::{BatchPathsInput, BatchPathsOutput, InvalidationBatch};
use crate::key_template::Template;
use crate::paths::{
    BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, FoldPolicy, is_wildcard, plan_batches,
};

/// Runs BatchPaths for one execution. `distribution_id` is the CloudFront distribution the new
/// batches target (`PURGE_DISTRIBUTION_ID`); replayed batches keep their own.
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
    for replayed in &input.batches {
        check_replayed(replayed)?;
    }

    // Replayed wildcards count against CloudFront's 15-wildcard limit too.
    let wildcards_in_use = input
        .batches
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

    // A replayed batch first (it is older work), then the new ones; a new batch identical to a
    // replayed one (same CallerReference) is sent once.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let batches: Vec<InvalidationBatch> = input
        .batches
        .into_iter()
        .chain(new_batches)
        .filter(|batch| {
            seen.insert(format!(
                "{}\n{}",
                batch.distribution_id, batch.caller_reference
            ))
        })
        .collect();

    let path_count = u32::try_from(path_count).map_err(|_| {
        TaskError::InvalidInput(format!(
            "{path_count} paths in one execution is more than any input can hold"
        ))
    })?;
    tracing::info!(
        batches = batches.len(),
        path_count,
        "planned invalidation batches"
    );
    Ok(BatchPathsOutput {
        batches,
        path_count,
    })
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

/// A replayed batch comes from a report a person may have edited: reject one CloudFront would
/// refuse anyway, with a message that says which.
fn check_replayed(batch: &InvalidationBatch) -> Result<(), TaskError> {
    let problem = if batch.distribution_id.trim().is_empty() {
        Some("has no distribution id")
    } else if batch.caller_reference.trim().is_empty() {
        Some("has no caller reference")
    } else if batch.paths.is_empty() {
        Some("has no paths")
    } else if batch.paths.len() > CLOUDFRONT_MAX_PATHS_PER_BATCH {
        Some("has more than 3000 paths")
    } else if batch.paths.iter().any(|path| !path.starts_with('/')) {
        Some("has a path that does not start with `/`")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(TaskError::InvalidInput(format!(
            "replayed invalidation batch {:?} {problem}",
            batch.caller_reference
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PurgeTarget;
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

    #[test]
    fn replayed_batches_pass_through_unchanged_and_once() {
        let replayed = InvalidationBatch {
            distribution_id: "EOLDDIST".into(),
            caller_reference: "purgeflow-replayed".into(),
            paths: vec!["/old/*".into()],
        };
        let input = BatchPathsInput {
            batch_id: "replay-1".into(),
            deleted: vec![],
            batches: vec![replayed.clone(), replayed.clone()],
        };
        let output = batch_paths(input.clone(), "E2QWRUHEXAMPLE", &FoldPolicy::default())
            .expect("valid input");
        check_schemas(&input, &output);
        assert_eq!(output.batches, vec![replayed]);
        assert_eq!(output.path_count, 0);
    }

    #[test]
    fn replayed_wildcards_reduce_the_wildcard_budget() {
        let replayed = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "purgeflow-replayed".into(),
            paths: (0..15).map(|i| format!("/dir{i}/*")).collect(),
        };
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
    fn rejects_an_empty_distribution_and_broken_replayed_batches() {
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![],
            batches: vec![],
        };
        let err = batch_paths(input, " ", &FoldPolicy::default()).expect_err("empty distribution");
        assert_eq!(err.error_type(), crate::error::names::INVALID_INPUT);

        let broken = InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: "r".into(),
            paths: vec!["no-slash".into()],
        };
        let input = BatchPathsInput {
            batch_id: "b".into(),
            deleted: vec![],
            batches: vec![broken],
        };
        let err = batch_paths(input, "E1", &FoldPolicy::default()).expect_err("path without slash");
        assert!(err.to_string().contains("does not start with `/`"), "{err}");
    }
}
