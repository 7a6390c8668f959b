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
use purgeflow_tasks::signing::MacPolicy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env_requiring(&[Var::TopicArn])?;
    let topic_arn = config.topic_arn()?.to_owned();
    let topic_arn = topic_arn.as_str();
    let aws = load_aws_config().await;
    let sns = aws_sdk_sns::Client::new(&aws);
    // Signs each replayInput of verified content (kms:GenerateMac), and checks the original
    // input of a caught error (kms:VerifyMac) before replaying it (report/sign.rs).
    let mac = MacPolicy::from_config(&config, Some(aws_sdk_kms::Client::new(&aws)))?;
    let (sns, mac) = (&sns, &mac);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        report_failures(
            sns,
            topic_arn,
            mac,
            from_value::<ReportInput>(event.payload)?,
        )
        .await
    }))
    .await
}
