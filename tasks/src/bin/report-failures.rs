//! The `report-failures` Lambda: `ReportInput` → SNS failure report(s) → `ReportOutput` (see
//! `purgeflow_tasks::report`).
//!
//! The event is read as JSON and then through `contract::from_value`, so an input of the wrong
//! shape fails as `PurgeFlow.InvalidInput` naming the field's JSON path.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::contract::{ReportInput, Value, from_value};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};
use purgeflow_tasks::report::report_failures;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env_requiring(&[Var::TopicArn])?;
    let topic_arn = config.topic_arn()?.to_owned();
    let topic_arn = topic_arn.as_str();
    let sns = aws_sdk_sns::Client::new(&load_aws_config().await);
    let sns = &sns;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        report_failures(sns, topic_arn, from_value::<ReportInput>(event.payload)?).await
    }))
    .await
}
