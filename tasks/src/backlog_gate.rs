//! The backlog gate: while batches wait on the deferral queue, an execution's first attempt
//! skips CloudFront and defers its batch to them.
//!
//! Why: in a delete storm every execution used to try CreateInvalidation itself first. Those
//! calls hold nothing back: they eat CloudFront's call-rate budget (an unpublished throttle) and
//! its in-progress room, the dispatcher that drains the queue is throttled or refused with them,
//! and freshness suffers (`purgeflow simulate --skip-direct-backlog`, README "Under
//! pressure"). Once anything waits, a new batch goes to the queue at once: the dispatcher plans
//! it together with the others into the room there is.
//!
//! The rule ([`BacklogGate::admits`]): backlog >= `PURGE_SKIP_DIRECT_BACKLOG` →
//! [`TaskError::BacklogWaiting`] (`PurgeFlow.BacklogWaiting`), which the state machine's
//! CreateInvalidation catches into DeferBatch exactly as CloudFront's refusals. `0` turns the gate
//! off. The backlog is one `GetQueueAttributes` on the deferral queue: messages waiting
//! (`ApproximateNumberOfMessages`), held by a dispatcher or returned to come back soon
//! (`...NotVisible`) and delayed (`...Delayed`). SQS documents these counts as approximate and
//! eventually consistent (about a minute to settle): a gate that sees a stale zero only sends a
//! batch to CloudFront as before, and a stale count only defers a batch the dispatcher covers.
//!
//! Fail open: no queue URL, a failed or slow read (over [`READ_TIMEOUT`], retries included) or an
//! answer without the counts → a warning, and the batch goes to CloudFront as before (a refusal
//! still defers it). The gate never drops, deletes or reports anything by itself: it only
//! chooses between two ways to invalidate.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::TaskError;
use crate::aws_errors::classify;
use crate::config::Config;

/// The counts that make up the backlog.
const BACKLOG_ATTRIBUTES: [QueueAttributeName; 3] = [
    QueueAttributeName::ApproximateNumberOfMessages,
    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    QueueAttributeName::ApproximateNumberOfMessagesDelayed,
];

/// The longest the backlog read may take, retries included, before the gate fails open: SQS
/// answers GetQueueAttributes in milliseconds, and a gate that waited out the SDK's default
/// connect timeouts would slow every batch more than the gate could ever save.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The gate's settings: the deferral queue and `PURGE_SKIP_DIRECT_BACKLOG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogGate {
    /// The deferral queue (`PURGE_DEFERRAL_QUEUE_URL`); without it the gate stays open.
    pub queue_url: Option<String>,
    /// Skip the direct attempt when at least this many batches wait; `0`: never.
    pub threshold: u32,
}

impl BacklogGate {
    pub fn from_config(config: &Config) -> BacklogGate {
        BacklogGate {
            queue_url: config.deferral_queue_url.clone(),
            threshold: config.skip_direct_backlog,
        }
    }

    /// Whether a backlog of `backlog` batches lets a first attempt go to CloudFront.
    pub fn admits(&self, backlog: u64) -> bool {
        self.threshold == 0 || backlog < u64::from(self.threshold)
    }

    /// `Err(`[`TaskError::BacklogWaiting`]`)` when the deferral queue holds a backlog at or above
    /// the threshold; `Ok` otherwise, and whenever the backlog cannot be read (fail open, with
    /// a warning). Makes no call when the gate is off.
    pub async fn check(&self, sqs: &Client) -> Result<(), TaskError> {
        if self.threshold == 0 {
            return Ok(());
        }
        let Some(queue_url) = self.queue_url.as_deref() else {
            tracing::warn!(
                threshold = self.threshold,
                "PURGE_DEFERRAL_QUEUE_URL is not set: the backlog gate cannot see the deferral queue, so the batch goes to CloudFront directly"
            );
            return Ok(());
        };
        let read = tokio::time::timeout(READ_TIMEOUT, backlog(sqs, queue_url))
            .await
            .unwrap_or_else(|_| {
                Err(TaskError::Transient {
                    service: "sqs",
                    message: format!(
                        "GetQueueAttributes did not answer within {} s",
                        READ_TIMEOUT.as_secs()
                    ),
                })
            });
        match read {
            Ok(backlog) if self.admits(backlog) => Ok(()),
            Ok(backlog) => Err(TaskError::BacklogWaiting {
                backlog,
                threshold: self.threshold,
            }),
            Err(err) => {
                tracing::warn!(
                    queue_url,
                    error = %err,
                    "could not read the deferral queue's backlog: the batch goes to CloudFront directly (a refusal still defers it)"
                );
                Ok(())
            }
        }
    }
}

/// The deferral queue's backlog: messages waiting, in flight (held by a dispatcher or returned
/// to come back) and delayed. An answer without any of the three counts, or with one that is
/// not a number, is an error (the gate fails open). No timeout of its own: the gate bounds it
/// with [`READ_TIMEOUT`]; the local dispatcher's stop check waits for the answer.
pub async fn backlog(sqs: &Client, queue_url: &str) -> Result<u64, TaskError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .set_attribute_names(Some(BACKLOG_ATTRIBUTES.to_vec()))
        .send()
        .await
        .map_err(|err| classify("sqs", &err))?;
    let attributes = answer.attributes();
    let mut total: u64 = 0;
    let mut seen = 0;
    for name in BACKLOG_ATTRIBUTES {
        let Some(value) = attributes.and_then(|a| a.get(&name)) else {
            continue;
        };
        let count = value.trim().parse::<u64>().map_err(|_| TaskError::Aws {
            service: "sqs",
            code: "InvalidAttributeValue".to_owned(),
            message: format!("{} is {value:?}, not a count", name.as_str()),
        })?;
        total = total.saturating_add(count);
        seen += 1;
    }
    if seen == 0 {
        return Err(TaskError::Aws {
            service: "sqs",
            code: "MissingAttributes".to_owned(),
            message: format!("GetQueueAttributes on {queue_url} returned no message counts"),
        });
    }
    Ok(total)
}

/// The deferral queue mocked with aws-smithy-mocks, for this module's tests and the
/// invalidate-cache task's.
#[cfg(test)]
pub(crate) mod mocks {
    use super::*;
    use aws_sdk_sqs::config::retry::RetryConfig;
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    pub(crate) const QUEUE_URL: &str =
        "https://sqs.us-east-1.amazonaws.com/123456789012/purgeflow-deferred";

    pub(crate) fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_sqs, RuleMode::Sequential, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    pub(crate) fn gate(threshold: u32) -> BacklogGate {
        BacklogGate {
            queue_url: Some(QUEUE_URL.to_owned()),
            threshold,
        }
    }

    /// GetQueueAttributes on the deferral queue, asking for the three counts, answering them.
    pub(crate) fn counts(visible: u64, not_visible: u64, delayed: u64) -> Rule {
        mock!(Client::get_queue_attributes)
            .match_requests(|r| {
                r.queue_url() == Some(QUEUE_URL)
                    && r.attribute_names().len() == 3
                    && BACKLOG_ATTRIBUTES
                        .iter()
                        .all(|a| r.attribute_names().contains(a))
            })
            .then_output(move || {
                GetQueueAttributesOutput::builder()
                    .attributes(
                        QueueAttributeName::ApproximateNumberOfMessages,
                        visible.to_string(),
                    )
                    .attributes(
                        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                        not_visible.to_string(),
                    )
                    .attributes(
                        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                        delayed.to_string(),
                    )
                    .build()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::mocks::{QUEUE_URL, client, counts, gate};
    use super::*;
    use crate::error::names;
    use aws_sdk_sqs::operation::get_queue_attributes::{
        GetQueueAttributesError, GetQueueAttributesOutput,
    };
    use aws_smithy_mocks::mock;
    use aws_smithy_types::error::ErrorMetadata;

    #[tokio::test]
    async fn the_backlog_is_waiting_plus_in_flight_plus_delayed() {
        let rule = counts(3, 4, 5);
        assert_eq!(
            backlog(&client(&[&rule]), QUEUE_URL).await.expect("read"),
            12
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_backlog_at_or_above_the_threshold_skips_the_direct_attempt() {
        for (threshold, visible, not_visible) in [(1, 1, 0), (1, 0, 1), (5, 2, 3), (5, 40, 0)] {
            let rule = counts(visible, not_visible, 0);
            let err = gate(threshold)
                .check(&client(&[&rule]))
                .await
                .expect_err("a backlog waits");
            assert_eq!(err.error_type(), names::BACKLOG_WAITING);
            assert!(!err.is_retryable(), "deferred, not retried");
            let total = visible + not_visible;
            assert!(
                err.to_string().contains(&format!("{total} batches"))
                    && err
                        .to_string()
                        .contains(&format!("PURGE_SKIP_DIRECT_BACKLOG={threshold}")),
                "{err}"
            );
            assert_eq!(rule.num_calls(), 1);
        }
    }

    #[tokio::test]
    async fn a_backlog_below_the_threshold_lets_the_batch_through() {
        for (threshold, visible) in [(1, 0), (5, 4), (1000, 999)] {
            let rule = counts(visible, 0, 0);
            gate(threshold)
                .check(&client(&[&rule]))
                .await
                .expect("below the threshold");
            assert_eq!(rule.num_calls(), 1);
        }
    }

    #[tokio::test]
    async fn a_disabled_gate_makes_no_call() {
        let rule = counts(50, 0, 0);
        gate(0)
            .check(&client(&[&rule]))
            .await
            .expect("off: no deferral");
        assert_eq!(rule.num_calls(), 0);
        assert!(gate(0).admits(u64::MAX));
    }

    #[tokio::test]
    async fn without_a_queue_url_the_gate_stays_open() {
        let open = BacklogGate {
            queue_url: None,
            threshold: 1,
        };
        let rule = counts(50, 0, 0);
        open.check(&client(&[&rule])).await.expect("fails open");
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_failed_or_empty_answer_fails_open() {
        let denied = || {
            mock!(Client::get_queue_attributes).then_error(|| {
                GetQueueAttributesError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("not authorized to perform sqs:GetQueueAttributes")
                        .build(),
                )
            })
        };
        let empty = || {
            mock!(Client::get_queue_attributes)
                .then_output(|| GetQueueAttributesOutput::builder().build())
        };
        let garbled = || {
            mock!(Client::get_queue_attributes).then_output(|| {
                GetQueueAttributesOutput::builder()
                    .attributes(QueueAttributeName::ApproximateNumberOfMessages, "many")
                    .build()
            })
        };

        let err = backlog(&client(&[&denied()]), QUEUE_URL)
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), names::ACCESS_DENIED);
        let err = backlog(&client(&[&empty()]), QUEUE_URL)
            .await
            .expect_err("no counts");
        assert!(err.to_string().contains("no message counts"), "{err}");
        let err = backlog(&client(&[&garbled()]), QUEUE_URL)
            .await
            .expect_err("not a count");
        assert!(err.to_string().contains("not a count"), "{err}");

        for rule in [denied(), empty(), garbled()] {
            gate(1).check(&client(&[&rule])).await.expect("fails open");
            assert_eq!(rule.num_calls(), 1);
        }
    }

    /// An SQS that takes the connection and never answers: the gate gives up after
    /// [`READ_TIMEOUT`] (the SDK's defaults have no read timeout, so without it every batch
    /// would wait until the Lambda timed out, and be reported) and the batch goes to CloudFront.
    #[tokio::test]
    async fn a_backlog_read_that_hangs_fails_open_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("its address");
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::for_tests())
            .endpoint_url(format!("http://{address}"))
            .build();
        let sqs = Client::from_conf(config);
        let started = std::time::Instant::now();
        gate(1).check(&sqs).await.expect("fails open");
        let took = started.elapsed();
        assert!(
            took >= READ_TIMEOUT && took < READ_TIMEOUT + std::time::Duration::from_secs(2),
            "took {took:?}"
        );
        silent.abort();
    }
}
