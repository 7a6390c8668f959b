//! The `delete-objects` Lambda: `DeleteInput` → `DeleteOutput` (see `purgeflow_tasks::delete`).
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::Config;
use purgeflow_tasks::contract::{DeleteInput, Value, from_value};
use purgeflow_tasks::delete::delete_objects;
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // An invalid PURGE_VERSIONS fails the cold start with a message naming it.
    let versions = Config::from_env_requiring(&[])?.versions;
    let s3 = aws_sdk_s3::Client::new(&load_aws_config().await);
    let s3 = &s3;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        delete_objects(s3, from_value::<DeleteInput>(event.payload)?, versions).await
    }))
    .await
}
