//! The `batch-paths` Lambda: `BatchPathsInput` → `BatchPathsOutput` (see
//! `purgeflow_tasks::batch_paths`). No AWS call, so no SDK client.
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::batch_paths::batch_paths;
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::contract::{BatchPathsInput, Value, from_value};
use purgeflow_tasks::lambda::init_tracing;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env_requiring(&[Var::DistributionId])?;
    let distribution_id = config.distribution_id()?.to_owned();
    let distribution_id = distribution_id.as_str();
    // Wildcards never reach beyond what PURGE_KEY_PREFIX lets purgeflow purge.
    let policy = config.fold_policy();
    let policy = &policy;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        batch_paths(
            from_value::<BatchPathsInput>(event.payload)?,
            distribution_id,
            policy,
        )
    }))
    .await
}
