//! The `invalidate-cache` Lambda: one `InvalidateInput` → `InvalidationResult` (see
//! `purgeflow_tasks::invalidate::invalidate_cache`). The state machine's Map calls it once per
//! batch.
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::backlog_gate::BacklogGate;
use purgeflow_tasks::config::Config;
use purgeflow_tasks::contract::{InvalidateInput, Value, from_value};
use purgeflow_tasks::invalidate::invalidate_cache;
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // The distribution comes with each batch (a replayed batch keeps its own). The PURGE_*
    // variables say how far a batch may be folded when CloudFront is full: within
    // PURGE_KEY_PREFIX (through PURGE_PATH_TEMPLATES), as PURGE_PRESSURE_* allow. The backlog
    // gate reads PURGE_DEFERRAL_QUEUE_URL and PURGE_SKIP_DIRECT_BACKLOG.
    let config = Config::from_env()?;
    let area = config.fold_policy();
    let gate = BacklogGate::from_config(&config);
    if gate.threshold > 0 && gate.queue_url.is_none() {
        tracing::warn!(
            "PURGE_DEFERRAL_QUEUE_URL is not set: every batch goes to CloudFront directly (the backlog gate is open)"
        );
    }
    let (area, pressure, gate) = (&area, &config.pressure, &gate);
    let aws = load_aws_config().await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (cloudfront, sqs) = (&cloudfront, &sqs);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        invalidate_cache(
            cloudfront,
            sqs,
            gate,
            from_value::<InvalidateInput>(event.payload)?,
            area,
            pressure,
        )
        .await
    }))
    .await
}
