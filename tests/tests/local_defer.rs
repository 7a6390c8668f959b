//! The deferral on real wire protocols: `purgeflow local --provision` creates the deferral
//! queue, and when CloudFront refuses a batch the engine's DeferBatch state sends it there with a
//! real SQS SendMessage to moto. moto never refuses an invalidation, so the refusal comes from
//! the invoker around the real handlers (CreateInvalidation answers
//! `PurgeFlow.TooManyInvalidationsInProgress` before any call); everything else is the real
//! handlers against moto.
//!
//! Then the backlog gate on the same wire: with that batch still on the queue (held by a
//! receiver: in flight), a second execution through the real handlers reads the queue's counts
//! with a real GetQueueAttributes and defers its batch without calling CloudFront.

use std::sync::Arc;

use futures::future::BoxFuture;
use purgeflow_asl::{ExecutionStatus, StatesError, TaskInvoker, TaskRegistry};
use purgeflow_cli::in_process::register_handlers;
use purgeflow_cli::local::pipeline::purge_machine_for;
use purgeflow_cli::local::{DEFAULT_DEFERRAL_QUEUE_NAME, ProvisionOptions, connect};
use purgeflow_tasks::contract::{DeferralCause, DeferredBatch};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};
use purgeflow_tests::{purge, schemas};
use serde_json::{Value, json};

const TABLE: &str = "defer-photos";
const BUCKET: &str = "defer-bucket";

/// The real handlers, with CloudFront refusing every CreateInvalidation as full.
#[derive(Debug)]
struct FullDistribution(TaskRegistry);

impl TaskInvoker for FullDistribution {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        if state_name == "CreateInvalidation" {
            return Box::pin(async {
                Err(StatesError::new(
                    "PurgeFlow.TooManyInvalidationsInProgress",
                    "too many CloudFront invalidations in progress; retry later",
                ))
            });
        }
        self.0.invoke(state_name, resource, payload)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_sent_to_the_provisioned_deferral_queue_and_the_next_one_joins_it() {
    let env = LocalEnv::start("local_defer").await;
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", TABLE),
        ("PURGE_BUCKET", BUCKET),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        ("PURGE_CHECK_SUPERSEDED", "false"),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "defer-failures".into(),
        object_lock: false,
    };
    let connected = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision");
    let queue_url = connected
        .config
        .deferral_queue_url
        .clone()
        .expect("--provision sets the deferral queue");
    assert!(
        queue_url.ends_with(&format!("/{DEFAULT_DEFERRAL_QUEUE_NAME}")),
        "{queue_url}"
    );
    // Without --provision, the same queue is found by name.
    let found = connect(&env.aws, connected.config.clone(), None)
        .await
        .expect("connect");
    assert_eq!(
        found.config.deferral_queue_url.as_deref(),
        Some(queue_url.as_str())
    );

    env.put_object(BUCKET, "images/a.jpg").await;
    let input = json!({"batchId": "defer-1", "records": [{
        "eventId": "e1", "sequenceNumber": "1", "deleteKind": "user",
        "keys": {"photo_id": {"S": "a"}},
        "oldImage": {"photo_id": {"S": "a"}, "image_key": {"S": "images/a.jpg"}}}]});
    // Signed as the trigger signs, with the key --provision made (moto's KMS).
    let key = purgeflow_tasks::signing::MacKey::new(
        env.aws.kms.clone(),
        connected
            .config
            .mac_key_id
            .clone()
            .expect("--provision makes the MAC key"),
    );
    let input = purgeflow_tasks::trigger::signed_input(&input.to_string(), &key)
        .await
        .expect("GenerateMac");
    let input: serde_json::Value = serde_json::from_str(&input).expect("JSON");
    let mut registry = TaskRegistry::new();
    register_handlers(
        &mut registry,
        env.aws.task_clients(false),
        connected.config.clone(),
    )
    .expect("handlers");
    let machine = purge_machine_for(&connected.config).expect("definition");
    let result = machine
        .execute(
            input,
            &purge::options("defer-1", Arc::new(FullDistribution(registry))),
        )
        .await;
    assert_succeeded_with_its_batch_deferred(&result);
    assert!(env.keys(BUCKET).await.is_empty(), "the object was deleted");

    let received = env
        .aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage");
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let body = messages[0].body().expect("a body");
    let value: Value = serde_json::from_str(body).expect("the body is JSON text");
    schemas::check("deferred-batch.schema.json", &value).unwrap_or_else(|r| panic!("{r}"));
    let deferred: DeferredBatch = serde_json::from_value(value).expect("a DeferredBatch");
    assert_eq!(
        deferred.error,
        DeferralCause::TooManyInvalidationsInProgress
    );
    assert_eq!(deferred.batch.paths, ["/images/a.jpg"]);
    assert_eq!(deferred.batch_id, "defer-1");
    assert_eq!(deferred.execution_name, "defer-1");
    assert_eq!(
        deferred.batch.distribution_id,
        connected
            .config
            .distribution_id
            .clone()
            .expect("provisioned")
    );

    // The first batch is in flight (received above, not deleted): the backlog is 1, so the next
    // execution's first attempt skips CloudFront (PURGE_SKIP_DIRECT_BACKLOG defaults to 1).
    assert_eq!(connected.config.skip_direct_backlog, 1);
    env.put_object(BUCKET, "images/b.jpg").await;
    let second = json!({"batchId": "defer-2", "records": [{
        "eventId": "e2", "sequenceNumber": "2", "deleteKind": "user",
        "keys": {"photo_id": {"S": "b"}},
        "oldImage": {"photo_id": {"S": "b"}, "image_key": {"S": "images/b.jpg"}}}]});
    let second = purgeflow_tasks::trigger::signed_input(&second.to_string(), &key)
        .await
        .expect("GenerateMac");
    let second: Value = serde_json::from_str(&second).expect("JSON");
    let mut registry = TaskRegistry::new();
    register_handlers(
        &mut registry,
        env.aws.task_clients(false),
        connected.config.clone(),
    )
    .expect("handlers");
    env.calls.reset();
    let result = machine
        .execute(second, &purge::options("defer-2", Arc::new(registry)))
        .await;
    assert_succeeded_with_its_batch_deferred(&result);
    let calls = env.calls.snapshot();
    assert_eq!(calls.get("SQS:GetQueueAttributes"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("CloudFront:CreateInvalidation"),
        None,
        "{calls:?}"
    );
    assert!(env.keys(BUCKET).await.is_empty(), "the object was deleted");
    let invalidations = env
        .aws
        .cloudfront
        .list_invalidations()
        .distribution_id(&deferred.batch.distribution_id)
        .send()
        .await
        .expect("ListInvalidations");
    assert_eq!(
        invalidations
            .invalidation_list()
            .map_or(0, |l| l.items().len()),
        0,
        "CloudFront was never asked"
    );

    let received = env
        .aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage");
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "the second batch: {messages:?}");
    let value: Value =
        serde_json::from_str(messages[0].body().expect("a body")).expect("JSON text");
    schemas::check("deferred-batch.schema.json", &value).unwrap_or_else(|r| panic!("{r}"));
    let gated: DeferredBatch = serde_json::from_value(value).expect("a DeferredBatch");
    assert_eq!(gated.error, DeferralCause::BacklogWaiting);
    assert_eq!(gated.batch.paths, ["/images/b.jpg"]);
    assert_eq!(gated.batch_id, "defer-2");
}

/// The execution succeeded, with no invalidation of its own and its one batch deferred.
fn assert_succeeded_with_its_batch_deferred(result: &purgeflow_asl::ExecutionResult) {
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        purge::describe(result)
    );
    let output = result.output.as_ref().expect("an output");
    assert_eq!(
        (output["invalidations"].clone(), output["deferred"].clone()),
        (json!(0), json!(1))
    );
}
