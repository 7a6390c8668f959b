//! The `dispatch-invalidations` Lambda: a batch of the deferral queue's messages →
//! CreateInvalidation for what fits CloudFront's free room → the messages to keep (partial
//! batch response). See `purgeflow_tasks::dispatch`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::Config;
use purgeflow_tasks::dispatch::{Dispatcher, dispatch};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // PURGE_DISTRIBUTION_ID, PURGE_TOPIC_ARN, the area (PURGE_KEY_PREFIX through
    // PURGE_PATH_TEMPLATES), PURGE_PRESSURE_ALLOW_ROOT and the PURGE_DISPATCH_* settings.
    let dispatcher = Dispatcher::from_config(&Config::from_env()?)?;
    let dispatcher = &dispatcher;
    let aws = load_aws_config().await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    let (cloudfront, sns) = (&cloudfront, &sns);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let outcome = dispatch(
            cloudfront,
            sns,
            dispatcher,
            event.payload,
            chrono::Utc::now(),
        )
        .await?;
        Ok::<SqsBatchResponse, purgeflow_tasks::TaskError>(outcome.response)
    }))
    .await
}
