//! The `validate-records` Lambda: `ExecutionInput` → `ValidationOutput` (see
//! `purgeflow_tasks::validate_records`).
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path. Its MAC is checked
//! first with the KMS key `PURGE_MAC_KEY_ID` (kms:VerifyMac), unless
//! `PURGE_ALLOW_UNSIGNED_INPUTS=true` admits inputs without one.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::contract::{ExecutionInput, Value, from_value};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};
use purgeflow_tasks::signing::MacPolicy;
use purgeflow_tasks::validate_records::validate_records;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env_requiring(&[Var::Bucket, Var::KeyTemplate])?;
    config.require_mac_key()?;
    let aws = load_aws_config().await;
    let mac = MacPolicy::from_config(&config, Some(aws_sdk_kms::Client::new(&aws)))?;
    // The supersede check needs the table; without the check no DynamoDB client is built.
    let dynamodb = if config.check_superseded {
        config.require(&[Var::TableName])?;
        Some(aws_sdk_dynamodb::Client::new(&aws))
    } else {
        None
    };
    let (config, mac, dynamodb) = (&config, &mac, dynamodb.as_ref());
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        validate_records(
            from_value::<ExecutionInput>(event.payload)?,
            config,
            mac,
            dynamodb,
        )
        .await
    }))
    .await
}
