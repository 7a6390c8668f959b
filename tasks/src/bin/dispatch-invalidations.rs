//! The `dispatch-invalidations` Lambda: a batch of the deferral queue's messages →
//! CreateInvalidation for what fits CloudFront's free room → the messages to keep (partial
//! batch response). It plans up to `PURGE_DISPATCH_EXTRA_MESSAGES` more of the queue with the
//! event, and the messages it returns are received again after `PURGE_DISPATCH_RETRY_SECONDS`.
//! See `purgeflow_tasks::dispatch`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::dispatch::Dispatcher;
use purgeflow_tasks::dispatch::extra::{Queue, dispatch_with_queue};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // PURGE_DISTRIBUTION_ID, PURGE_TOPIC_ARN, the area (PURGE_KEY_PREFIX through
    // PURGE_PATH_TEMPLATES), PURGE_PRESSURE_ALLOW_ROOT and the PURGE_DISPATCH_* settings;
    // PURGE_DEFERRAL_QUEUE_URL for the calls beyond the event. PURGE_MAC_KEY_ID signs the
    // replayInput of aged batches' reports (kms:GenerateMac).
    let config = Config::from_env()?;
    config.require(&[Var::DeferralQueueUrl])?;
    let aws = load_aws_config().await;
    let dispatcher = Dispatcher::from_config(&config, Some(aws_sdk_kms::Client::new(&aws)))?;
    let dispatcher = &dispatcher;
    let queue_url = config.deferral_queue_url.clone().unwrap_or_default();
    let queue_url = queue_url.as_str();
    let (retry_seconds, extra_messages) = (
        config.dispatch.retry_seconds,
        config.dispatch.extra_messages,
    );
    let cloudfront = aws_sdk_cloudfront::Client::new(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (cloudfront, sns, sqs) = (&cloudfront, &sns, &sqs);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let queue = Queue {
            sqs,
            url: queue_url,
            retry_seconds,
            extra_messages,
        };
        let outcome = dispatch_with_queue(
            cloudfront,
            sns,
            queue,
            dispatcher,
            event.payload,
            chrono::Utc::now(),
        )
        .await?;
        Ok::<SqsBatchResponse, purgeflow_tasks::TaskError>(outcome.response)
    }))
    .await
}
