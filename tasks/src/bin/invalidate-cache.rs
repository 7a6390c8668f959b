//! The `invalidate-cache` Lambda: one `InvalidationBatch` → `InvalidationResult` (see
//! `purgeflow_tasks::invalidate`). The state machine's Map calls it once per batch.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::contract::InvalidationBatch;
use purgeflow_tasks::invalidate::invalidate;
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // The distribution comes with each batch (a replayed batch keeps its own), so this Lambda
    // needs no PURGE_* variable.
    let cloudfront = aws_sdk_cloudfront::Client::new(&load_aws_config().await);
    let cloudfront = &cloudfront;
    run(service_fn(
        move |event: LambdaEvent<InvalidationBatch>| async move {
            invalidate(cloudfront, event.payload).await
        },
    ))
    .await
}
