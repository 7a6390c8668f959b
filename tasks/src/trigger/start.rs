//! Handing the plan over: `StartExecution` for each input, in order (feature `sfn`).

use aws_lambda_events::event::streams::DynamoDbEventResponse;

use super::{PackLimits, Plan, failures_from, plan, signed_input};
use crate::config::Config;
use crate::error::TaskError;
use crate::records::{Classified, Projection, StreamEvent};
use crate::signing::MacKey;

/// Signs and starts each planned execution in order, stopping at the first failure, and
/// answers with the batch item failures from the first record not handed over. `key: None`
/// starts them unsigned (only with `PURGE_ALLOW_UNSIGNED_INPUTS=true` and no key).
pub async fn start_executions(
    plan: &Plan,
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    key: Option<&MacKey>,
) -> DynamoDbEventResponse {
    let mut not_handed_over = plan.stopped.as_ref().map(|(index, _)| *index);
    for (index, rejection) in &plan.rejected {
        tracing::error!(
            record_index = index,
            event_id = %rejection.event_id,
            reason = ?rejection.reason,
            detail = %rejection.detail,
            "record too large for any execution; handed over as its rejection, to be reported"
        );
    }
    if let Some((index, error)) = &plan.stopped {
        tracing::error!(record_index = index, %error, "packing stopped");
    }
    for execution in &plan.executions {
        let input = match key {
            Some(key) => match signed_input(&execution.input, key).await {
                Ok(signed) => signed,
                Err(error) => {
                    tracing::error!(
                        execution = %execution.name,
                        error_type = error.error_type(),
                        %error,
                        "signing the input failed; the stream will retry from this execution's first record"
                    );
                    not_handed_over = Some(execution.first_record);
                    break;
                }
            },
            None => execution.input.clone(),
        };
        let result = sfn
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(&execution.name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(output) => tracing::info!(
                execution = %execution.name,
                execution_arn = output.execution_arn(),
                records = execution.record_count,
                "execution started"
            ),
            // The same batch was handed over before (a redelivery): it is already running.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                tracing::info!(execution = %execution.name, "execution already exists; batch was handed over before");
            }
            Err(err) => {
                let error = crate::aws_errors::classify("sfn", &err);
                tracing::error!(
                    execution = %execution.name,
                    error_type = error.error_type(),
                    %error,
                    "StartExecution failed; the stream will retry from this execution's first record"
                );
                not_handed_over = Some(execution.first_record);
                break;
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(from) = not_handed_over {
        response.batch_item_failures = failures_from(&plan.records, from);
    }
    response
}

/// The whole trigger: plan, log the counts, sign and start the executions.
///
/// Fails only on configuration (`PURGE_KEY_TEMPLATE`, `PURGE_STATE_MACHINE_ARN`); any AWS
/// failure is answered with batch item failures instead.
pub async fn handle_stream_event(
    event: StreamEvent,
    config: &Config,
    sfn: &aws_sdk_sfn::Client,
    key: Option<&MacKey>,
) -> Result<DynamoDbEventResponse, TaskError> {
    let projection = Projection::for_template(config.key_template()?);
    let state_machine_arn = config.state_machine_arn()?;
    let plan = plan(&event, &projection, PackLimits::from_config(config));
    let counts = plan.counts;
    tracing::info!(
        records = plan.records.len(),
        removed = counts.removed,
        ttl = counts.ttl,
        other = counts.other,
        malformed = counts.malformed,
        executions = plan.executions.len(),
        "stream batch"
    );
    for (index, record) in plan.records.iter().enumerate() {
        match &record.outcome {
            Classified::Other { event_name } => {
                tracing::debug!(record_index = index, event_name = %event_name, "not a REMOVE record; skipped");
            }
            Classified::Malformed { event_id, reason } => tracing::error!(
                record_index = index,
                event_id = event_id.as_deref().unwrap_or("<none>"),
                sequence_number = record.sequence_number.as_deref().unwrap_or("<none>"),
                %reason,
                "malformed stream record: handed over as a MalformedRecord rejection, which its execution reports (no retry could fix it)"
            ),
            Classified::Removed(_) => {}
        }
    }
    Ok(start_executions(&plan, sfn, state_machine_arn, key).await)
}
