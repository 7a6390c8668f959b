//! The InvalidateCache task: one CloudFront `CreateInvalidation` for one batch.
//!
//! [`invalidate_cache`] is the task (the invalidate-cache Lambda and `purgeflow local` call it):
//! on the first attempt (`pressure` 0) it asks the backlog gate first
//! ([`crate::backlog_gate`]), and while batches wait on the deferral queue it fails with
//! [`TaskError::BacklogWaiting`] without calling CloudFront, so the state machine defers the batch
//! to them. A retried batch (`pressure` > 0) was let through once and goes straight on.
//! [`invalidate`] is the CloudFront call itself, which the dispatcher makes too (never gated: its
//! own messages are the backlog).
//!
//! A retry after `TooManyInvalidationsInProgress` arrives with a pressure level (the state's
//! retry count) and sends the batch folded harder first ([`crate::pressure`]), so a full
//! distribution gets a smaller request instead of the same one again.
//!
//! Outcomes:
//! - created, or the same CallerReference and paths sent again (a retry or a replay):
//!   CloudFront returns the existing invalidation instead of charging again → `Ok`;
//! - `TooManyInvalidationsInProgress` → [`TaskError::TooManyInvalidations`] (retried with backoff
//!   by the state machine; when that budget runs out the batch is reported for replay);
//! - throttling → [`TaskError::Throttled`], 5xx / no response → [`TaskError::Transient`];
//! - `InvalidationBatchAlreadyExists`: the CallerReference was used before for *different* paths
//!   (a retry with the same paths would have been answered with the existing invalidation). A
//!   retry cannot fix that, so → [`TaskError::InvalidationConflict`], reported, not retried;
//! - anything else (AccessDenied, NoSuchDistribution, InvalidArgument, BatchTooLarge, ...) →
//!   [`TaskError::AccessDenied`] / [`TaskError::Aws`] via [`crate::aws_errors::classify`].

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationError;
use aws_sdk_cloudfront::types::{InvalidationBatch as CfInvalidationBatch, Paths};

use crate::TaskError;
use crate::aws_errors::classify;
use crate::contract::{InvalidateInput, InvalidationBatch, InvalidationResult};
use crate::paths::{CLOUDFRONT_MAX_PATHS_PER_BATCH, FoldPolicy};
use crate::pressure::{PressurePolicy, batch_at_level};

/// The error code CloudFront returns when a CallerReference is reused with another batch.
const BATCH_ALREADY_EXISTS: &str = "InvalidationBatchAlreadyExists";

/// The invalidate-cache task: the backlog gate on the first attempt, then [`invalidate`]. An
/// invalid batch is refused by name before the gate is asked (it is not deferred). See the
/// module docs.
#[cfg(feature = "sqs")]
pub async fn invalidate_cache(
    cloudfront: &Client,
    sqs: &aws_sdk_sqs::Client,
    gate: &crate::backlog_gate::BacklogGate,
    input: InvalidateInput,
    area: &FoldPolicy,
    policy: &PressurePolicy,
) -> Result<InvalidationResult, TaskError> {
    check_batch(&input.batch)?;
    if input.pressure == 0 {
        gate.check(sqs).await.inspect_err(|err| {
            tracing::info!(
                distribution_id = %input.batch.distribution_id,
                caller_reference = %input.batch.caller_reference,
                paths = input.batch.paths.len(),
                reason = %err,
                "deferring the batch without asking CloudFront"
            );
        })?;
    }
    invalidate(cloudfront, input, area, policy).await
}

/// Creates the invalidation for the input's batch (or gets the existing one back), folded at
/// the input's pressure level within `area` and `policy` (see [`crate::pressure`]).
pub async fn invalidate(
    client: &Client,
    input: InvalidateInput,
    area: &FoldPolicy,
    policy: &PressurePolicy,
) -> Result<InvalidationResult, TaskError> {
    check_batch(&input.batch)?;
    let (batch, level, fits) = batch_at_level(&input.batch, input.pressure, area, policy);
    if level > 0 {
        tracing::warn!(
            distribution_id = %batch.distribution_id,
            caller_reference = %input.batch.caller_reference,
            folded_caller_reference = %batch.caller_reference,
            level,
            paths_planned = input.batch.paths.len(),
            paths_sent = batch.paths.len(),
            within_budget = fits,
            "CloudFront was full: sending the batch folded harder"
        );
    }
    let pressure_level = (batch != input.batch).then_some(level);
    let path_count = check_batch(&batch)?;
    let request_batch = CfInvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(i32::try_from(path_count).map_err(|_| too_many_paths(&batch))?)
                .set_items(Some(batch.paths.clone()))
                .build()
                .map_err(|e| TaskError::InvalidInput(format!("invalidation paths: {e}")))?,
        )
        .caller_reference(&batch.caller_reference)
        .build()
        .map_err(|e| TaskError::InvalidInput(format!("invalidation batch: {e}")))?;

    let output = client
        .create_invalidation()
        .distribution_id(&batch.distribution_id)
        .invalidation_batch(request_batch)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(CreateInvalidationError::TooManyInvalidationsInProgress(e)) => {
                TaskError::TooManyInvalidations {
                    distribution_id: batch.distribution_id.clone(),
                    message: e
                        .message()
                        .unwrap_or("too many invalidations in progress")
                        .to_owned(),
                }
            }
            Some(e) if e.code() == Some(BATCH_ALREADY_EXISTS) => TaskError::InvalidationConflict {
                distribution_id: batch.distribution_id.clone(),
                caller_reference: batch.caller_reference.clone(),
            },
            _ => classify("cloudfront", &err),
        })?;

    let invalidation = output.invalidation().ok_or_else(|| TaskError::Aws {
        service: "cloudfront",
        code: "MissingInvalidation".to_owned(),
        message: format!(
            "CreateInvalidation for {} returned no invalidation",
            batch.caller_reference
        ),
    })?;
    tracing::info!(
        distribution_id = %batch.distribution_id,
        caller_reference = %batch.caller_reference,
        invalidation_id = invalidation.id(),
        status = invalidation.status(),
        path_count,
        "invalidation created"
    );
    Ok(InvalidationResult {
        invalidation_id: invalidation.id().to_owned(),
        status: invalidation.status().to_owned(),
        path_count: u32::try_from(path_count).map_err(|_| too_many_paths(&batch))?,
        distribution_id: batch.distribution_id,
        caller_reference: batch.caller_reference,
        pressure_level,
    })
}

/// Rejects a batch CloudFront would refuse, before paying for a request. Returns its size.
fn check_batch(batch: &InvalidationBatch) -> Result<usize, TaskError> {
    if batch.distribution_id.trim().is_empty() {
        return Err(TaskError::InvalidInput(
            "invalidation batch has no distribution id".to_owned(),
        ));
    }
    if batch.caller_reference.trim().is_empty() {
        return Err(TaskError::InvalidInput(
            "invalidation batch has no caller reference".to_owned(),
        ));
    }
    if batch.paths.is_empty() {
        return Err(TaskError::InvalidInput(format!(
            "invalidation batch {} has no paths",
            batch.caller_reference
        )));
    }
    if batch.paths.len() > CLOUDFRONT_MAX_PATHS_PER_BATCH {
        return Err(too_many_paths(batch));
    }
    Ok(batch.paths.len())
}

fn too_many_paths(batch: &InvalidationBatch) -> TaskError {
    TaskError::InvalidInput(format!(
        "invalidation batch {} has {} paths; CloudFront takes at most {CLOUDFRONT_MAX_PATHS_PER_BATCH}",
        batch.caller_reference,
        batch.paths.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::names;
    use crate::schema_check::assert_valid;
    use aws_sdk_cloudfront::config::retry::RetryConfig;
    use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationOutput;
    use aws_sdk_cloudfront::types::Invalidation;
    use aws_sdk_cloudfront::types::error::{
        AccessDenied, NoSuchDistribution, TooManyInvalidationsInProgress,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_cloudfront, RuleMode::Sequential, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    /// The batch at pressure 0, as the first attempt sends it.
    async fn send(
        client: &Client,
        batch: InvalidationBatch,
    ) -> Result<InvalidationResult, TaskError> {
        invalidate(
            client,
            batch.into(),
            &FoldPolicy::default(),
            &PressurePolicy::default(),
        )
        .await
    }

    fn batch() -> InvalidationBatch {
        InvalidationBatch {
            distribution_id: "E2QWRUHEXAMPLE".into(),
            caller_reference: "purgeflow-abc".into(),
            paths: vec!["/images/banana.jpg".into(), "/thumbs/*".into()],
        }
    }

    fn created() -> CreateInvalidationOutput {
        CreateInvalidationOutput::builder()
            .invalidation(
                Invalidation::builder()
                    .id("I2J0I21PCUYOIK")
                    .status("InProgress")
                    .create_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                    .build()
                    .expect("all required fields"),
            )
            .build()
    }

    #[tokio::test]
    async fn creates_the_invalidation_with_the_batch_content() {
        let rule = mock!(Client::create_invalidation)
            .match_requests(|req| {
                let sent = req.invalidation_batch().expect("batch");
                req.distribution_id() == Some("E2QWRUHEXAMPLE")
                    && sent.caller_reference() == "purgeflow-abc"
                    && sent.paths().map(|p| (p.quantity(), p.items().to_vec()))
                        == Some((
                            2,
                            vec!["/images/banana.jpg".to_owned(), "/thumbs/*".to_owned()],
                        ))
            })
            .then_output(created);
        let client = client(&[&rule]);
        let input = batch();
        let result = send(&client, input.clone()).await.expect("created");
        assert_valid(
            "invalidate-cache.input.schema.json",
            &serde_json::to_value(&input).expect("serialisable"),
        );
        assert_valid(
            "invalidate-cache.output.schema.json",
            &serde_json::to_value(&result).expect("serialisable"),
        );
        assert_eq!(result.invalidation_id, "I2J0I21PCUYOIK");
        assert_eq!(result.status, "InProgress");
        assert_eq!(result.path_count, 2);
        assert_eq!(result.caller_reference, "purgeflow-abc");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn too_many_invalidations_in_progress_is_retryable() {
        let rule = mock!(Client::create_invalidation).then_error(|| {
            CreateInvalidationError::TooManyInvalidationsInProgress(
                TooManyInvalidationsInProgress::builder().message("Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.").build(),
            )
        });
        let err = send(&client(&[&rule]), batch())
            .await
            .expect_err("limit reached");
        assert_eq!(err.error_type(), names::TOO_MANY_INVALIDATIONS);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("E2QWRUHEXAMPLE"), "{err}");
    }

    #[tokio::test]
    async fn throttling_is_retryable() {
        let rule = mock!(Client::create_invalidation).then_error(|| {
            CreateInvalidationError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let err = send(&client(&[&rule]), batch())
            .await
            .expect_err("throttled");
        assert_eq!(err.error_type(), names::THROTTLED);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_reused_caller_reference_is_a_conflict_not_a_retry() {
        let rule = mock!(Client::create_invalidation).then_error(|| {
            CreateInvalidationError::generic(
                ErrorMetadata::builder()
                    .code("InvalidationBatchAlreadyExists")
                    .message("The caller reference was already used.")
                    .build(),
            )
        });
        let err = send(&client(&[&rule]), batch())
            .await
            .expect_err("conflict");
        assert_eq!(err.error_type(), names::INVALIDATION_CONFLICT);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("purgeflow-abc"), "{err}");
    }

    #[tokio::test]
    async fn access_denied_and_missing_distribution_are_not_retried() {
        let denied = mock!(Client::create_invalidation).then_error(|| {
            // As the SDK parses it: the modelled error carries its code in the metadata.
            let meta = ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User is not authorized")
                .build();
            CreateInvalidationError::AccessDenied(
                AccessDenied::builder()
                    .message("User is not authorized")
                    .meta(meta)
                    .build(),
            )
        });
        let err = send(&client(&[&denied]), batch())
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), names::ACCESS_DENIED);

        let missing = mock!(Client::create_invalidation).then_error(|| {
            let meta = ErrorMetadata::builder()
                .code("NoSuchDistribution")
                .message("The specified distribution does not exist.")
                .build();
            CreateInvalidationError::NoSuchDistribution(
                NoSuchDistribution::builder()
                    .message("The specified distribution does not exist.")
                    .meta(meta)
                    .build(),
            )
        });
        let err = send(&client(&[&missing]), batch())
            .await
            .expect_err("no distribution");
        assert_eq!(err.error_type(), names::AWS);
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[tokio::test]
    async fn invalid_batches_are_refused_before_any_request() {
        let client = client(&[]);
        let mut empty = batch();
        empty.paths.clear();
        let err = send(&client, empty).await.expect_err("no paths");
        assert_eq!(err.error_type(), names::INVALID_INPUT);

        let mut huge = batch();
        huge.paths = (0..3001).map(|i| format!("/{i}")).collect();
        let err = send(&client, huge).await.expect_err("too many paths");
        assert!(err.to_string().contains("at most 3000"), "{err}");
    }

    fn spread_batch(users: usize) -> InvalidationBatch {
        InvalidationBatch {
            distribution_id: "E2QWRUHEXAMPLE".into(),
            caller_reference: "purgeflow-abc".into(),
            paths: (0..users).map(|i| format!("/photos/u{i}/p.jpg")).collect(),
        }
    }

    #[tokio::test]
    async fn a_retry_under_pressure_sends_the_batch_folded_with_its_own_reference() {
        let planned = spread_batch(1000);
        let (folded, _, _) = batch_at_level(
            &planned,
            1,
            &FoldPolicy::default(),
            &PressurePolicy::default(),
        );
        let expected_reference = folded.caller_reference.clone();
        let rule = mock!(Client::create_invalidation)
            .match_requests(move |req| {
                let sent = req.invalidation_batch().expect("batch");
                sent.caller_reference() == expected_reference
                    && sent.paths().map(|p| (p.quantity(), p.items().to_vec()))
                        == Some((1, vec!["/photos/*".to_owned()]))
            })
            .then_output(created);
        let input = InvalidateInput {
            batch: planned.clone(),
            pressure: 1,
        };
        assert_valid(
            "invalidate-cache.input.schema.json",
            &serde_json::to_value(&input).expect("serialisable"),
        );
        let result = invalidate(
            &client(&[&rule]),
            input,
            &FoldPolicy::default(),
            &PressurePolicy::default(),
        )
        .await
        .expect("created");
        assert_eq!(rule.num_calls(), 1, "the folded batch was the one sent");
        assert_eq!(result.pressure_level, Some(1));
        assert_eq!(result.path_count, 1);
        assert_eq!(result.caller_reference, folded.caller_reference);
        assert_ne!(result.caller_reference, planned.caller_reference);
        assert_valid(
            "invalidate-cache.output.schema.json",
            &serde_json::to_value(&result).expect("serialisable"),
        );
    }

    #[tokio::test]
    async fn with_pressure_folding_off_a_retry_resends_the_batch_as_planned() {
        let planned = spread_batch(1000);
        let expected = planned.paths.clone();
        let rule = mock!(Client::create_invalidation)
            .match_requests(move |req| {
                let sent = req.invalidation_batch().expect("batch");
                sent.caller_reference() == "purgeflow-abc"
                    && sent.paths().map(|p| p.items().to_vec()) == Some(expected.clone())
            })
            .then_output(created);
        let off = PressurePolicy {
            max_level: 0,
            allow_root: false,
        };
        let result = invalidate(
            &client(&[&rule]),
            InvalidateInput {
                batch: planned,
                pressure: 4,
            },
            &FoldPolicy::default(),
            &off,
        )
        .await
        .expect("created");
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(result.pressure_level, None);
        assert_eq!(result.path_count, 1000);
    }

    #[tokio::test]
    async fn folding_under_pressure_stays_inside_the_purge_area() {
        // purgeflow may purge /photos/u1- only: /photos/ can't be folded, so the batch goes
        // out as planned even at the highest level.
        let mut planned = spread_batch(0);
        planned.paths = (0..1000).map(|i| format!("/photos/u1-{i}.jpg")).collect();
        let expected = planned.paths.clone();
        let rule = mock!(Client::create_invalidation)
            .match_requests(move |req| {
                req.invalidation_batch()
                    .and_then(|b| b.paths())
                    .map(|p| p.items().to_vec())
                    == Some(expected.clone())
            })
            .then_output(created);
        let everything = PressurePolicy {
            max_level: 6,
            allow_root: false,
        };
        let result = invalidate(
            &client(&[&rule]),
            InvalidateInput {
                batch: planned,
                pressure: 6,
            },
            &FoldPolicy::within(["/photos/u1-"]),
            &everything,
        )
        .await
        .expect("created");
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(result.pressure_level, None);
    }

    /// The invalidate-cache task with the backlog gate: each case asks SQS for the deferral
    /// queue's counts before CloudFront (or not), and checks which of the two was called.
    #[cfg(feature = "sqs")]
    mod gated {
        use super::*;
        use crate::backlog_gate::BacklogGate;
        use crate::backlog_gate::mocks::{client as sqs, counts, gate};
        use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;

        /// The deferral queue's counts: `visible` waiting, `not_visible` in flight, none delayed.
        fn waiting(visible: u64, not_visible: u64) -> Rule {
            counts(visible, not_visible, 0)
        }

        async fn run(
            cloudfront: &Client,
            sqs: &aws_sdk_sqs::Client,
            gate: &BacklogGate,
            pressure: u32,
        ) -> Result<InvalidationResult, TaskError> {
            invalidate_cache(
                cloudfront,
                sqs,
                gate,
                InvalidateInput {
                    batch: batch(),
                    pressure,
                },
                &FoldPolicy::default(),
                &PressurePolicy::default(),
            )
            .await
        }

        #[tokio::test]
        async fn a_backlog_at_or_above_the_threshold_defers_without_calling_cloudfront() {
            for (threshold, visible, not_visible) in [(1, 1, 0), (1, 0, 7), (3, 2, 1)] {
                let create = mock!(Client::create_invalidation).then_output(created);
                let counts = waiting(visible, not_visible);
                let err = run(&client(&[&create]), &sqs(&[&counts]), &gate(threshold), 0)
                    .await
                    .expect_err("a backlog waits");
                assert_eq!(err.error_type(), names::BACKLOG_WAITING);
                assert_eq!(counts.num_calls(), 1);
                assert_eq!(create.num_calls(), 0, "CloudFront was not asked");
            }
        }

        #[tokio::test]
        async fn a_backlog_below_the_threshold_goes_to_cloudfront() {
            for (threshold, visible) in [(1, 0), (5, 4)] {
                let create = mock!(Client::create_invalidation).then_output(created);
                let counts = waiting(visible, 0);
                let result = run(&client(&[&create]), &sqs(&[&counts]), &gate(threshold), 0)
                    .await
                    .expect("invalidated");
                assert_eq!(result.invalidation_id, "I2J0I21PCUYOIK");
                assert_eq!((counts.num_calls(), create.num_calls()), (1, 1));
            }
        }

        #[tokio::test]
        async fn a_disabled_gate_asks_only_cloudfront() {
            let create = mock!(Client::create_invalidation).then_output(created);
            let counts = waiting(100, 0);
            run(&client(&[&create]), &sqs(&[&counts]), &gate(0), 0)
                .await
                .expect("invalidated");
            assert_eq!((counts.num_calls(), create.num_calls()), (0, 1));
        }

        #[tokio::test]
        async fn a_failed_backlog_read_fails_open_to_cloudfront() {
            let create = mock!(Client::create_invalidation).then_output(created);
            let failing = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_error(|| {
                GetQueueAttributesError::generic(
                    ErrorMetadata::builder()
                        .code("InternalError")
                        .message("We encountered an internal error.")
                        .build(),
                )
            });
            let result = run(&client(&[&create]), &sqs(&[&failing]), &gate(1), 0)
                .await
                .expect("CloudFront took it");
            assert_eq!(result.invalidation_id, "I2J0I21PCUYOIK");
            assert_eq!((failing.num_calls(), create.num_calls()), (1, 1));

            // And CloudFront's refusal still comes back as before, so the batch is deferred.
            let refuse = mock!(Client::create_invalidation).then_error(|| {
                CreateInvalidationError::TooManyInvalidationsInProgress(
                    TooManyInvalidationsInProgress::builder().build(),
                )
            });
            let failing = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_error(|| {
                GetQueueAttributesError::generic(
                    ErrorMetadata::builder().code("AccessDenied").build(),
                )
            });
            let err = run(&client(&[&refuse]), &sqs(&[&failing]), &gate(1), 0)
                .await
                .expect_err("refused");
            assert_eq!(err.error_type(), names::TOO_MANY_INVALIDATIONS);
        }

        #[tokio::test]
        async fn a_retried_batch_is_never_gated() {
            // pressure > 0: the batch was let through once (Transient or Lambda retries count).
            for pressure in [1, 3] {
                let create = mock!(Client::create_invalidation).then_output(created);
                let counts = waiting(500, 0);
                run(&client(&[&create]), &sqs(&[&counts]), &gate(1), pressure)
                    .await
                    .expect("invalidated");
                assert_eq!((counts.num_calls(), create.num_calls()), (0, 1));
            }
        }

        #[tokio::test]
        async fn an_invalid_batch_is_refused_by_name_not_deferred() {
            let counts = waiting(500, 0);
            let err = invalidate_cache(
                &client(&[]),
                &sqs(&[&counts]),
                &gate(1),
                InvalidateInput {
                    batch: InvalidationBatch {
                        paths: Vec::new(),
                        ..batch()
                    },
                    pressure: 0,
                },
                &FoldPolicy::default(),
                &PressurePolicy::default(),
            )
            .await
            .expect_err("no paths");
            assert_eq!(err.error_type(), names::INVALID_INPUT);
            assert_eq!(counts.num_calls(), 0);
        }
    }
}
