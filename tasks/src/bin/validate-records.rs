//! The `validate-records` Lambda: `ExecutionInput` → `ValidationOutput` (see
//! `purgeflow_tasks::validate_records`).
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::contract::{ExecutionInput, Value, from_value};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};
use purgeflow_tasks::validate_records::validate_records;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env_requiring(&[Var::Bucket, Var::KeyTemplate])?;
    // The supersede check needs the table; without the check no DynamoDB client is built.
    let dynamodb = if config.check_superseded {
        config.require(&[Var::TableName])?;
        Some(aws_sdk_dynamodb::Client::new(&load_aws_config().await))
    } else {
        None
    };
    let (config, dynamodb) = (&config, dynamodb.as_ref());
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        validate_records(
            from_value::<ExecutionInput>(event.payload)?,
            config,
            dynamodb,
        )
        .await
    }))
    .await
}
