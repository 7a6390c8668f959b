//! The `purge-trigger` Lambda: DynamoDB stream batch → Express executions, answered with
//! batch item failures (see `purgeflow_tasks::trigger`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use purgeflow_tasks::config::{Config, Var};
use purgeflow_tasks::lambda::{init_tracing, load_aws_config};
use purgeflow_tasks::records::StreamEvent;
use purgeflow_tasks::signing::MacKey;
use purgeflow_tasks::trigger::handle_stream_event;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // A missing or invalid variable fails the cold start with a message naming it.
    let config = Config::from_env_requiring(&[Var::KeyTemplate, Var::StateMachineArn])?;
    // Every input is signed (kms:GenerateMac) with PURGE_MAC_KEY_ID; only
    // PURGE_ALLOW_UNSIGNED_INPUTS=true lets the trigger run without a key.
    config.require_mac_key()?;
    let aws = load_aws_config().await;
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let key = config
        .mac_key_id
        .as_ref()
        .map(|key_id| MacKey::new(aws_sdk_kms::Client::new(&aws), key_id.clone()));
    let (config, sfn, key) = (&config, &sfn, key.as_ref());
    run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            handle_stream_event(event.payload, config, sfn, key).await
        },
    ))
    .await
}
