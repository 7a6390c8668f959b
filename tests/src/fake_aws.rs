//! A small fake of the AWS the purge tasks call, behind aws-smithy-mocks clients: the real task
//! handlers send real SDK requests, and the rules here answer them from one shared [`World`]
//! and record them, so a test can assert exactly which DeleteObjects, CreateInvalidation and
//! Publish calls were made with which arguments, and which batches DeferBatch sent to the deferral
//! queue.
//!
//! CloudFront is modelled where idempotency matters: a CreateInvalidation with a
//! CallerReference already used for the same paths returns the existing invalidation (no new
//! charge); with other paths it is `InvalidationBatchAlreadyExists`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_cloudfront::operation::create_invalidation::{
    CreateInvalidationError, CreateInvalidationOutput,
};
use aws_sdk_cloudfront::types::error::TooManyInvalidationsInProgress;
use aws_sdk_cloudfront::types::{Invalidation, InvalidationBatch as CfBatch, Paths};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::types::error::KmsAccessDenied;
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use purgeflow_cli::in_process::Clients;
use serde_json::Value;

/// One CreateInvalidation request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InvalidationRequest {
    pub distribution_id: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
}

/// One SNS Publish request.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub topic_arn: String,
    pub subject: String,
    /// The message body, parsed (a failure report).
    pub body: Value,
}

/// The fake KMS's one HMAC key.
pub const FAKE_MAC_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-00000000beef";

/// The fake KMS's HMAC: SHA-256 over a fixed secret and the message (a keyed digest is all
/// these tests need: different content, different MAC; the secret never appears in inputs).
pub fn fake_hmac(message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest([b"fake-kms-secret".as_slice(), message].concat()).to_vec()
}

/// What the fake AWS holds and what it was asked.
#[derive(Debug, Default)]
pub struct World {
    /// Objects in S3: (bucket, key).
    pub objects: BTreeSet<(String, String)>,
    /// Keys S3 refuses to delete, per key (AccessDenied in the DeleteObjects answer).
    pub denied_keys: BTreeSet<String>,
    /// Each DeleteObjects request: bucket and keys, in request order.
    pub delete_requests: Vec<(String, Vec<String>)>,
    /// Objects a delete actually removed (they existed): a second delete of one is not listed.
    pub removed: Vec<(String, String)>,
    /// Answer this many coming CreateInvalidation calls with TooManyInvalidationsInProgress.
    pub too_many_invalidations: usize,
    /// Then answer this many with CloudFront's call-rate throttling (`Throttling`).
    pub throttled_invalidations: usize,
    pub invalidation_requests: Vec<InvalidationRequest>,
    /// CloudFront's invalidations by (distribution, CallerReference): id and paths. Each entry
    /// is one invalidation paid for.
    pub invalidations: BTreeMap<(String, String), (String, Vec<String>)>,
    pub published: Vec<Published>,
    /// Each SendMessage to the deferral queue: queue URL and message body, as sent.
    pub deferred: Vec<(String, String)>,
    /// Answer this many coming SendMessage calls with an SQS error (KMS access denied).
    pub send_message_failures: usize,
    /// Messages on the deferral queue besides those deferred here (other executions'). The
    /// backlog GetQueueAttributes answers is this plus [`World::deferred`] (nothing consumes
    /// them here).
    pub deferral_backlog: u64,
    /// GetQueueAttributes calls (invalidate-cache's backlog gate).
    pub backlog_reads: usize,
    /// Items in the table, for the supersede check's consistent reads.
    pub items: Vec<HashMap<String, AttributeValue>>,
    /// The keys of each read request (BatchGetItem, or GetItem with one key).
    pub read_requests: Vec<Vec<HashMap<String, AttributeValue>>>,
    /// GenerateMac and VerifyMac calls.
    pub kms_calls: usize,
}

impl World {
    /// The stored item `key` names.
    fn item(
        &self,
        key: &HashMap<String, AttributeValue>,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.items
            .iter()
            .find(|item| {
                key.iter()
                    .all(|(name, value)| item.get(name) == Some(value))
            })
            .cloned()
    }
}

/// The shared world and the SDK clients that talk to it.
#[derive(Debug, Clone)]
pub struct FakeAws {
    world: Arc<Mutex<World>>,
}

impl Default for FakeAws {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeAws {
    pub fn new() -> FakeAws {
        FakeAws {
            world: Arc::new(Mutex::new(World::default())),
        }
    }

    /// The world, to arrange it or to read what was asked. A panicking test poisons nothing
    /// another test relies on, so a poisoned lock is just taken over.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts objects in the bucket.
    pub fn with_objects<'a>(
        self,
        bucket: &str,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> FakeAws {
        self.world().objects.extend(
            keys.into_iter()
                .map(|key| (bucket.to_owned(), key.to_owned())),
        );
        self
    }

    /// Clients for the task handlers.
    pub fn clients(&self) -> Clients {
        Clients {
            s3: self.s3(),
            cloudfront: self.cloudfront(),
            sns: self.sns(),
            sqs: self.sqs(),
            dynamodb: Some(self.dynamodb()),
            kms: Some(self.kms()),
        }
    }

    /// KMS with one HMAC key, [`FAKE_MAC_KEY`]: GenerateMac and VerifyMac compute
    /// HMAC-SHA-256 over the message with a fixed secret ([`fake_hmac`]), so a signed input
    /// verifies and an edited one does not, as with KMS.
    fn kms(&self) -> aws_sdk_kms::Client {
        use aws_sdk_kms::operation::generate_mac::GenerateMacOutput;
        use aws_sdk_kms::operation::verify_mac::{VerifyMacError, VerifyMacOutput};
        use aws_sdk_kms::primitives::Blob;
        use aws_sdk_kms::types::error::KmsInvalidMacException;
        let world = Arc::clone(&self.world);
        let generate = mock!(aws_sdk_kms::Client::generate_mac).then_compute_output(move |req| {
            world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .kms_calls += 1;
            GenerateMacOutput::builder()
                .mac(Blob::new(fake_hmac(
                    req.message().map(|b| b.as_ref()).unwrap_or_default(),
                )))
                .key_id(FAKE_MAC_KEY)
                .build()
        });
        let world = Arc::clone(&self.world);
        let verify = mock!(aws_sdk_kms::Client::verify_mac).then_compute_response(move |req| {
            world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .kms_calls += 1;
            let expected = fake_hmac(req.message().map(|b| b.as_ref()).unwrap_or_default());
            if req.mac().map(|b| b.as_ref()) == Some(expected.as_slice()) {
                aws_smithy_mocks::MockResponse::Output(
                    VerifyMacOutput::builder()
                        .mac_valid(true)
                        .key_id(FAKE_MAC_KEY)
                        .build(),
                )
            } else {
                aws_smithy_mocks::MockResponse::Error(VerifyMacError::KmsInvalidMacException(
                    KmsInvalidMacException::builder()
                        .message("invalid MAC")
                        .build(),
                ))
            }
        });
        mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            [&generate, &verify],
            |conf| conf.retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        )
    }

    /// `input` signed as [`FakeAws`]'s KMS signs it: what the trigger would start.
    pub fn sign(&self, input: &Value) -> Value {
        let mut parsed: purgeflow_tasks::contract::ExecutionInput =
            serde_json::from_value(input.clone()).expect("an execution input");
        parsed.mac = Some(purgeflow_tasks::signing::Mac {
            version: purgeflow_tasks::signing::MAC_VERSION,
            key_id: FAKE_MAC_KEY.to_owned(),
            value: hex::encode(fake_hmac(&purgeflow_tasks::signing::message(&parsed))),
        });
        serde_json::to_value(parsed).expect("json")
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let world = Arc::clone(&self.world);
        let batch =
            mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(move |request| {
                let mut world = world
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut output = BatchGetItemOutput::builder();
                for (table, asked) in request.request_items().into_iter().flatten() {
                    let keys = asked.keys().to_vec();
                    let found = keys.iter().filter_map(|key| world.item(key)).collect();
                    world.read_requests.push(keys);
                    output = output.responses(table, found);
                }
                output.build()
            });
        let world = Arc::clone(&self.world);
        let get = mock!(aws_sdk_dynamodb::Client::get_item).then_compute_output(move |request| {
            let mut world = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = request.key().cloned().unwrap_or_default();
            let item = world.item(&key);
            world.read_requests.push(vec![key]);
            GetItemOutput::builder().set_item(item).build()
        });
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&batch, &get],
            |conf| conf.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        )
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let world = Arc::clone(&self.world);
        let delete =
            mock!(aws_sdk_s3::Client::delete_objects).then_compute_output(move |request| {
                let mut world = world
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let bucket = request.bucket().unwrap_or_default().to_owned();
                let keys: Vec<String> = request
                    .delete()
                    .map(|d| d.objects().iter().map(|o| o.key().to_owned()).collect())
                    .unwrap_or_default();
                world.delete_requests.push((bucket.clone(), keys.clone()));
                let mut output = DeleteObjectsOutput::builder();
                for key in keys {
                    if world.denied_keys.contains(&key) {
                        output = output.errors(
                            aws_sdk_s3::types::Error::builder()
                                .key(key)
                                .code("AccessDenied")
                                .message("Access Denied")
                                .build(),
                        );
                    } else if world.objects.remove(&(bucket.clone(), key.clone())) {
                        world.removed.push((bucket.clone(), key));
                    }
                    // A key that is already gone succeeds silently, as S3 does in Quiet mode.
                }
                output.build()
            });
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&delete], |conf| conf
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()))
    }

    fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        let world = Arc::clone(&self.world);
        let create = mock!(aws_sdk_cloudfront::Client::create_invalidation).then_compute_response(move |request| {
            let mut world = world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let batch = request.invalidation_batch();
            let call = InvalidationRequest {
                distribution_id: request.distribution_id().unwrap_or_default().to_owned(),
                caller_reference: batch.map(|b| b.caller_reference().to_owned()).unwrap_or_default(),
                paths: batch.and_then(CfBatch::paths).map(|p| p.items().to_vec()).unwrap_or_default(),
            };
            world.invalidation_requests.push(call.clone());
            if world.too_many_invalidations > 0 {
                world.too_many_invalidations -= 1;
                return MockResponse::Error(CreateInvalidationError::TooManyInvalidationsInProgress(
                    TooManyInvalidationsInProgress::builder()
                        .message("Processing your request will cause you to exceed the maximum number of in-progress invalidations.")
                        .build(),
                ));
            }
            if world.throttled_invalidations > 0 {
                world.throttled_invalidations -= 1;
                return MockResponse::Error(CreateInvalidationError::generic(
                    ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build(),
                ));
            }
            let key = (call.distribution_id.clone(), call.caller_reference.clone());
            let next_id = format!("I{:013}", world.invalidations.len() + 1);
            let (id, paths) = world.invalidations.entry(key).or_insert_with(|| (next_id, call.paths.clone())).clone();
            if paths != call.paths {
                return MockResponse::Error(CreateInvalidationError::generic(
                    ErrorMetadata::builder()
                        .code("InvalidationBatchAlreadyExists")
                        .message("The caller reference was already used for a different invalidation batch.")
                        .build(),
                ));
            }
            MockResponse::Output(created(&id, &call))
        });
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&create], |conf| {
            conf.retry_config(aws_sdk_cloudfront::config::retry::RetryConfig::disabled())
        })
    }

    fn sns(&self) -> aws_sdk_sns::Client {
        let world = Arc::clone(&self.world);
        let publish = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |request| {
            let mut world = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let body =
                serde_json::from_str(request.message().unwrap_or_default()).unwrap_or(Value::Null);
            world.published.push(Published {
                topic_arn: request.topic_arn().unwrap_or_default().to_owned(),
                subject: request.subject().unwrap_or_default().to_owned(),
                body,
            });
            PublishOutput::builder()
                .message_id(format!("message-{}", world.published.len()))
                .build()
        });
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish], |conf| conf
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()))
    }
}

impl FakeAws {
    fn sqs(&self) -> aws_sdk_sqs::Client {
        let world = Arc::clone(&self.world);
        let send = mock!(aws_sdk_sqs::Client::send_message).then_compute_response(move |request| {
            let mut world = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if world.send_message_failures > 0 {
                world.send_message_failures -= 1;
                return MockResponse::Error(SendMessageError::KmsAccessDenied(
                    KmsAccessDenied::builder()
                        .message("the deferral queue's KMS key refused GenerateDataKey")
                        .meta(
                            ErrorMetadata::builder()
                                .code("KMS.AccessDeniedException")
                                .build(),
                        )
                        .build(),
                ));
            }
            let body = request.message_body().unwrap_or_default().to_owned();
            world.deferred.push((
                request.queue_url().unwrap_or_default().to_owned(),
                body.clone(),
            ));
            MockResponse::Output(
                SendMessageOutput::builder()
                    .message_id(format!("deferred-{}", world.deferred.len()))
                    // MD5's shape (32 hex digits); nothing here checks it against the body.
                    .md5_of_message_body(format!("{:032x}", world.deferred.len()))
                    .build(),
            )
        });
        let world = Arc::clone(&self.world);
        let backlog =
            mock!(aws_sdk_sqs::Client::get_queue_attributes).then_compute_response(move |_| {
                let mut world = world
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                world.backlog_reads += 1;
                let waiting = world.deferral_backlog + world.deferred.len() as u64;
                MockResponse::Output(
                    GetQueueAttributesOutput::builder()
                        .attributes(
                            QueueAttributeName::ApproximateNumberOfMessages,
                            waiting.to_string(),
                        )
                        .attributes(
                            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                            "0",
                        )
                        .attributes(QueueAttributeName::ApproximateNumberOfMessagesDelayed, "0")
                        .build(),
                )
            });
        mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&send, &backlog], |conf| {
            conf.retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        })
    }
}

/// CloudFront's answer for an invalidation with `id`.
fn created(id: &str, call: &InvalidationRequest) -> CreateInvalidationOutput {
    let paths = Paths::builder()
        .quantity(i32::try_from(call.paths.len()).unwrap_or(i32::MAX))
        .set_items(Some(call.paths.clone()))
        .build()
        .ok();
    let batch = paths.and_then(|paths| {
        CfBatch::builder()
            .paths(paths)
            .caller_reference(&call.caller_reference)
            .build()
            .ok()
    });
    CreateInvalidationOutput::builder()
        .location(format!(
            "https://cloudfront.example/2020-05-31/distribution/{}/invalidation/{id}",
            call.distribution_id
        ))
        .set_invalidation(
            Invalidation::builder()
                .id(id)
                .status("InProgress")
                .create_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                .set_invalidation_batch(batch)
                .build()
                .ok(),
        )
        .build()
}

impl FakeAws {
    /// Runs `purge.asl.json` on `input` as execution `name`, with the real task handlers
    /// (registered by `purgeflow_cli::in_process`) calling this fake AWS.
    pub async fn run(
        &self,
        config: purgeflow_tasks::config::Config,
        input: Value,
        name: &str,
    ) -> (purgeflow_asl::ExecutionResult, Arc<crate::purge::Recording>) {
        let mut registry = purgeflow_asl::TaskRegistry::new();
        purgeflow_cli::in_process::register_handlers(&mut registry, self.clients(), config)
            .unwrap_or_else(|e| panic!("the test configuration is incomplete: {e}"));
        let recording = crate::purge::Recording::new(Arc::new(registry));
        let result = crate::purge::machine()
            .execute(input, &crate::purge::options(name, recording.clone()))
            .await;
        (result, recording)
    }
}
