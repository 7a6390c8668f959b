//! One dispatcher invocation over a batch of the deferral queue's messages.
//!
//! 1. Each message is read ([`super::messages::read`]); a malformed one is reported on SNS by
//!    its message id, with the reason, at its first receive (`ApproximateReceiveCount` 1), and
//!    stays on the queue (a batch item failure), so the queue's dead-letter queue keeps it whole
//!    after `maxReceiveCount` receives.
//! 2. The free room comes from CloudFront ([`super::capacity::in_progress`]), less the wildcard
//!    slots kept for people.
//! 3. The pending batches, oldest first, are planned ([`super::plan::plan`]) and the plan is
//!    sent with CreateInvalidation ([`crate::invalidate::invalidate`], the same call the state
//!    machine makes).
//! 4. Covered messages are deleted (left out of the batch item failures). A refusal
//!    (`TooManyInvalidationsInProgress`: another instance took the room first), a throttle or
//!    a transient failure covers nothing: every message comes back after the queue's
//!    visibility timeout. Another CloudFront error fails the invocation (the whole batch comes
//!    back, and the queue's alarms and dead-letter queue take over if it persists).
//! 5. A message not covered that is older than the bound is reported on SNS in the failure
//!    report format, its batch in `replayInput.batches` signed with the MAC key (the deferral
//!    queue is inside the trust boundary: only the state machine's role can send to it, and
//!    every batch on it was checked by `messages::read`), then deleted. If that report cannot
//!    be published, the message stays.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, TimeDelta, Utc};

use super::capacity::{InProgress, in_progress};
use super::messages::{Malformed, Pending, read};
use super::plan::{Capacity, Plan, PlanPolicy, plan};
use crate::TaskError;
use crate::config::{Config, ConfigError, Var};
use crate::contract::{
    CaughtError, DeferralCause, FailedInvalidation, InvalidateInput, InvalidationBatch,
    InvalidationResult, ReportInput,
};
use crate::error::names;
use crate::invalidate::invalidate;
use crate::pressure::PressurePolicy;
use crate::report::report_failures;
use crate::signing::{InputSignature, MacPolicy};

/// The name reports give the dispatcher where an execution's name would be.
pub const DISPATCHER_NAME: &str = "dispatch-invalidations";

/// What the dispatcher needs besides its clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatcher {
    pub distribution_id: String,
    pub topic_arn: String,
    pub policy: PlanPolicy,
    pub reserved_wildcards: usize,
    pub max_age: TimeDelta,
    /// Signs the `replayInput` of an aged batch's report.
    pub mac: MacPolicy,
}

impl Dispatcher {
    /// From `PURGE_DISTRIBUTION_ID`, `PURGE_TOPIC_ARN`, the fold and dispatch settings, and
    /// `PURGE_MAC_KEY_ID` with `kms` to reach it.
    pub fn from_config(
        config: &Config,
        kms: Option<aws_sdk_kms::Client>,
    ) -> Result<Dispatcher, ConfigError> {
        config.require(&[Var::DistributionId, Var::TopicArn])?;
        Ok(Dispatcher {
            distribution_id: config.distribution_id()?.to_owned(),
            topic_arn: config.topic_arn()?.to_owned(),
            policy: config.plan_policy(),
            reserved_wildcards: config.dispatch.reserved_wildcards,
            max_age: TimeDelta::seconds(
                i64::try_from(config.dispatch.max_age_seconds).unwrap_or(i64::MAX),
            ),
            mac: MacPolicy::from_config(config, kms)?,
        })
    }
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The messages to keep on the queue; every other one is deleted.
    pub response: SqsBatchResponse,
    /// What was in progress before planning (`None` when nothing was pending).
    pub in_progress: Option<InProgress>,
    /// The invalidation created (or returned again for the same CallerReference).
    pub invalidation: Option<InvalidationResult>,
    /// The batch sent, when one was.
    pub sent: Option<InvalidationBatch>,
    /// CloudFront's error name when it refused or throttled the plan.
    pub refused: Option<&'static str>,
    /// Messages whose batch the invalidation covers.
    pub covered: Vec<String>,
    /// Messages left for another round.
    pub waiting: Vec<String>,
    /// Messages reported as too old, then deleted.
    pub expired: Vec<String>,
    /// Messages reported as malformed (kept for the dead-letter queue).
    pub malformed: Vec<String>,
}

/// Handles one batch of deferral messages at `now`. See the module docs.
pub async fn dispatch(
    cloudfront: &aws_sdk_cloudfront::Client,
    sns: &aws_sdk_sns::Client,
    dispatcher: &Dispatcher,
    event: SqsEvent,
    now: DateTime<Utc>,
) -> Result<Outcome, TaskError> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut malformed: Vec<Malformed> = Vec::new();
    for message in &event.records {
        match read(
            message,
            &dispatcher.distribution_id,
            &dispatcher.policy.area,
        ) {
            Ok(one) => pending.push(one),
            Err(bad) => malformed.push(bad),
        }
    }
    pending.sort_by(|a, b| (a.deferred_at, &a.message_id).cmp(&(b.deferred_at, &b.message_id)));

    let mut outcome = Outcome {
        response: SqsBatchResponse::default(),
        in_progress: None,
        invalidation: None,
        sent: None,
        refused: None,
        covered: Vec::new(),
        waiting: Vec::new(),
        expired: Vec::new(),
        malformed: Vec::new(),
    };

    let mut covered = vec![false; pending.len()];
    if !pending.is_empty() {
        let busy = in_progress(cloudfront, &dispatcher.distribution_id, now).await?;
        outcome.in_progress = Some(busy);
        let free = Capacity::free(busy.paths, busy.wildcards, dispatcher.reserved_wildcards);
        let batches: Vec<InvalidationBatch> =
            pending.iter().map(|p| p.deferred.batch.clone()).collect();
        let Plan {
            invalidation,
            covered: planned,
            fold,
            ..
        } = plan(
            &dispatcher.distribution_id,
            &batches,
            free,
            &dispatcher.policy,
        );
        if let Some(batch) = invalidation {
            // Pressure 0: the plan already fits the room; invalidate only sends it.
            let sent = invalidate(
                cloudfront,
                InvalidateInput::from(batch.clone()),
                &dispatcher.policy.area,
                &PressurePolicy {
                    max_level: 0,
                    allow_root: dispatcher.policy.allow_root,
                },
            )
            .await;
            match sent {
                Ok(result) => {
                    tracing::info!(
                        invalidation_id = %result.invalidation_id,
                        caller_reference = %result.caller_reference,
                        paths = batch.paths.len(),
                        ?fold,
                        covered = planned.len(),
                        pending = pending.len(),
                        free_paths = free.paths,
                        free_wildcards = free.wildcards,
                        "dispatched"
                    );
                    for i in planned {
                        covered[i] = true;
                    }
                    outcome.invalidation = Some(result);
                }
                Err(err) if err.is_retryable() => {
                    tracing::warn!(error = %err, pending = pending.len(), "CloudFront did not take the plan; every message comes back");
                    outcome.refused = Some(err.error_type());
                }
                Err(err) => return Err(err),
            }
            outcome.sent = Some(batch);
        }
    }

    for (one, covered) in pending.iter().zip(covered) {
        if covered {
            outcome.covered.push(one.message_id.clone());
        } else if now - one.deferred_at > dispatcher.max_age {
            match report_expired(sns, dispatcher, one).await {
                Ok(()) => outcome.expired.push(one.message_id.clone()),
                Err(err) => {
                    tracing::error!(message_id = %one.message_id, error = %err, "could not report an expired deferral; it stays on the queue");
                    outcome.waiting.push(one.message_id.clone());
                }
            }
        } else {
            outcome.waiting.push(one.message_id.clone());
        }
    }
    for bad in &malformed {
        if !bad.first_receive() {
            tracing::info!(message_id = %bad.message_id, receives = ?bad.receives, "malformed deferral, reported at its first receive");
        } else if let Err(err) = report_malformed(sns, dispatcher, bad).await {
            tracing::error!(message_id = %bad.message_id, error = %err, "could not report a malformed deferral");
        }
        outcome.malformed.push(bad.message_id.clone());
    }
    for id in outcome.waiting.iter().chain(&outcome.malformed) {
        outcome.response.add_failure(id.clone());
    }
    Ok(outcome)
}

/// A deferral that aged past the bound: its execution's failure report, with its batch to
/// replay.
async fn report_expired(
    sns: &aws_sdk_sns::Client,
    dispatcher: &Dispatcher,
    one: &Pending,
) -> Result<(), TaskError> {
    let deferred = &one.deferred;
    let input = ReportInput {
        execution_name: deferred.execution_name.clone(),
        execution_arn: Some(deferred.execution_arn.clone()),
        execution_start_time: None,
        batch_id: deferred.batch_id.clone(),
        rejections: Vec::new(),
        delete_failures: Vec::new(),
        failed_invalidations: vec![FailedInvalidation {
            batch: deferred.batch.clone(),
            error: cause_name(deferred.error).to_owned(),
            cause: format!(
                "deferred at {} and still not invalidated after {} s (PURGE_DISPATCH_MAX_AGE_SECONDS): CloudFront had no room for it; replay when it has",
                deferred.deferred_at,
                dispatcher.max_age.num_seconds()
            ),
        }],
        dropped_batches: Vec::new(),
        caught: None,
        original_input: None,
        input_signature: Some(InputSignature::Verified),
    };
    report_failures(sns, &dispatcher.topic_arn, &dispatcher.mac, input).await?;
    Ok(())
}

/// The error name the state machine deferred the batch under.
fn cause_name(cause: DeferralCause) -> &'static str {
    match cause {
        DeferralCause::TooManyInvalidationsInProgress => names::TOO_MANY_INVALIDATIONS,
        DeferralCause::Throttled => names::THROTTLED,
        DeferralCause::BacklogWaiting => names::BACKLOG_WAITING,
    }
}

/// A message that is not a deferred batch: reported by its message id, with the reason and
/// the start of its body. Nothing to replay.
async fn report_malformed(
    sns: &aws_sdk_sns::Client,
    dispatcher: &Dispatcher,
    bad: &Malformed,
) -> Result<(), TaskError> {
    let input = ReportInput {
        execution_name: DISPATCHER_NAME.to_owned(),
        execution_arn: None,
        execution_start_time: None,
        batch_id: bad.message_id.clone(),
        rejections: Vec::new(),
        delete_failures: Vec::new(),
        failed_invalidations: Vec::new(),
        dropped_batches: Vec::new(),
        caught: Some(CaughtError {
            error: names::INVALID_INPUT.to_owned(),
            cause: format!(
                "deferral queue message {} is malformed: {}; it stays on the queue for its dead-letter queue. Body: {}",
                bad.message_id, bad.reason, bad.quoted_body
            ),
        }),
        original_input: None,
        input_signature: None,
    };
    report_failures(sns, &dispatcher.topic_arn, &dispatcher.mac, input).await?;
    Ok(())
}
