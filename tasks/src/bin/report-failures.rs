//! The `report-failures` Lambda: `ReportInput` → SNS failure report(s) → `ReportOutput` (see
//! `purgeflow_tasks::report`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::contract::ReportInput;
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
    run(service_fn(
        move |event: LambdaEvent<ReportInput>| async move {
            report_failures(sns, topic_arn, event.payload).await
        },
    ))
    .await
}
