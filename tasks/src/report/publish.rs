//! Publishing a report's messages to the SNS topic (feature `sns`).

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::sign::{ReplayTrust, replay_trust, sign_messages};
use super::{
    ReportMessage, SIGNATURE_RESERVE_BYTES, SNS_MAX_MESSAGE_BYTES, build_messages_refusing, output,
};
use crate::TaskError;
use crate::aws_errors::classify;
use crate::contract::{ReportInput, ReportOutput};
use crate::signing::MacPolicy;

/// Publishes the failure report(s) for one execution to `topic_arn`, in part order, each
/// `replayInput` signed with `mac`'s key when its content was verified (`sign.rs`).
///
/// If a later part fails to publish, the task fails and its retry publishes every part
/// again: subscribers may see a part twice (SNS delivers at least once anyway), never miss
/// one. Replaying a report twice is harmless, since every step is idempotent.
pub async fn report_failures(
    client: &Client,
    topic_arn: &str,
    mac: &MacPolicy,
    input: ReportInput,
) -> Result<ReportOutput, TaskError> {
    let trust = replay_trust(mac, &input).await;
    let refusal = match &trust {
        ReplayTrust::Refuse(reason, detail) => Some((*reason, detail.clone())),
        _ => None,
    };
    let mut messages = build_messages_refusing(
        &input,
        SNS_MAX_MESSAGE_BYTES - SIGNATURE_RESERVE_BYTES,
        refusal,
    )?;
    sign_messages(&mut messages, mac, &trust).await?;
    let mut message_ids = Vec::with_capacity(messages.len());
    for message in &messages {
        message_ids.push(publish(client, topic_arn, message).await?);
    }
    let output = output(&input, message_ids)?;
    tracing::warn!(execution = %input.execution_name, parts = messages.len(), summary = %output.summary, "reported failures");
    Ok(output)
}

async fn publish(
    client: &Client,
    topic_arn: &str,
    message: &ReportMessage,
) -> Result<String, TaskError> {
    let mut request = client
        .publish()
        .topic_arn(topic_arn)
        .subject(&message.subject)
        .message(&message.body);
    for (name, data_type, value) in &message.attributes {
        let attribute = MessageAttributeValue::builder()
            .data_type(*data_type)
            .string_value(value)
            .build()
            .map_err(|e| TaskError::InvalidInput(format!("message attribute {name}: {e}")))?;
        request = request.message_attributes(*name, attribute);
    }
    let published = request.send().await.map_err(|e| classify("sns", &e))?;
    Ok(published.message_id().unwrap_or_default().to_owned())
}
