//! The five state-machine task handlers, and the SQS SendMessage integration DeferBatch uses,
//! registered for purgeflow's own ASL engine: the
//! adapter between the task library (`purgeflow-tasks`, which knows no engine) and the engine
//! (`purgeflow-asl`), kept here beside its users (the local runner, demo and replay, and the
//! workspace's in-process tests), so no Lambda binary links engine code.
//!
//! The local runner and the in-process end-to-end tests run `statemachine/purge.asl.json` on the
//! engine with these handlers instead of Lambda: each Task state's Resource
//! (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`) resolves to the handler registered under
//! `NAME`, so the deployed definition runs unchanged. Each handler does what its Lambda binary in
//! `tasks/src/bin/` does: deserialise the event, call the same plain function with the same clients and
//! configuration, serialise the answer. A [`TaskError`] becomes a `StatesError` named by
//! [`TaskError::error_type`], exactly the `errorType` Lambda would report, so the definition's
//! Retry and Catch match the same names locally and in AWS.
//!
//! DeferBatch's `arn:aws:states:::sqs:sendMessage` is served by [`send_message`]: a real SQS
//! SendMessage to the configured endpoint. The engine (`purgeflow_asl::sqs`) shapes its request
//! (the object MessageBody as JSON text) and its result as Step Functions does; SQS's errors
//! come back under the integration's names, `SQS.AmazonSQSException` for an answer from SQS and
//! `SQS.SdkClientException` when none came, so DeferBatch's Retry and Catch see what they would
//! in AWS.
//!
//! `purge-trigger` is not registered: it starts executions, it is not a state of one.

use std::sync::Arc;

use purgeflow_asl::StatesError;
use purgeflow_asl::task::{TaskHandler, TaskRegistry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use purgeflow_tasks::TaskError;
use purgeflow_tasks::backlog_gate::BacklogGate;
use purgeflow_tasks::batch_paths::batch_paths;
use purgeflow_tasks::config::{CHECK_SUPERSEDED, Config, ConfigError, Var};
use purgeflow_tasks::contract::{
    BatchPathsInput, DeleteInput, ExecutionInput, InvalidateInput, ReportInput,
};
use purgeflow_tasks::signing::MacPolicy;

/// The function names the handlers are registered under: the Lambdas' names.
pub mod functions {
    pub const VALIDATE_RECORDS: &str = "validate-records";
    pub const DELETE_OBJECTS: &str = "delete-objects";
    pub const BATCH_PATHS: &str = "batch-paths";
    pub const INVALIDATE_CACHE: &str = "invalidate-cache";
    pub const REPORT_FAILURES: &str = "report-failures";

    /// All five, in the order the state machine runs them.
    pub const ALL: [&str; 5] = [
        VALIDATE_RECORDS,
        DELETE_OBJECTS,
        BATCH_PATHS,
        INVALIDATE_CACHE,
        REPORT_FAILURES,
    ];
}

/// The SDK clients the handlers call, built once by the caller (pointing at AWS, a local
/// endpoint, or aws-smithy-mocks).
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub sns: aws_sdk_sns::Client,
    /// For DeferBatch's SendMessage to the deferral queue.
    pub sqs: aws_sdk_sqs::Client,
    /// For ValidateRecords' supersede check: required when `PURGE_CHECK_SUPERSEDED` is on
    /// (the default), ignored when it is `false`.
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
    /// For the MAC (`PURGE_MAC_KEY_ID`): ValidateRecords verifies with it, ReportFailures signs.
    /// Required unless `PURGE_ALLOW_UNSIGNED_INPUTS=true`.
    pub kms: Option<aws_sdk_kms::Client>,
}

/// Registers the five task handlers in `registry` under their function names.
///
/// Fails, before anything runs, when `config` lacks a variable one of the handlers needs (the
/// same variables the Lambdas require at init), so a misconfigured local run stops with a
/// message naming the variable instead of failing in the middle of an execution.
pub fn register_handlers(
    registry: &mut TaskRegistry,
    clients: Clients,
    config: Config,
) -> Result<(), ConfigError> {
    // Every unset variable is named at once. As in validate-records' main, the supersede
    // check needs the table too.
    let mut required = vec![
        Var::Bucket,
        Var::KeyTemplate,
        Var::DistributionId,
        Var::TopicArn,
    ];
    if config.check_superseded && clients.dynamodb.is_some() {
        required.insert(0, Var::TableName);
    }
    config.require(&required)?;
    // Without a client while the check is on, refuse rather than silently delete objects of
    // re-created items.
    let dynamodb = match (config.check_superseded, clients.dynamodb) {
        (true, Some(client)) => Some(client),
        (true, None) => {
            return Err(ConfigError::Invalid {
                variable: CHECK_SUPERSEDED,
                value: "true".to_owned(),
                expected: "`false`, or a DynamoDB client for the supersede check".to_owned(),
            });
        }
        (false, _) => None,
    };
    // As in validate-records' and report-failures' mains: the key, unless unsigned inputs are
    // allowed.
    let mac = Arc::new(MacPolicy::from_config(&config, clients.kms.clone())?);
    let distribution_id: Arc<str> = Arc::from(config.distribution_id()?);
    let topic_arn: Arc<str> = Arc::from(config.topic_arn()?);
    // As in batch-paths' main: wildcards never reach beyond what PURGE_KEY_PREFIX lets purgeflow
    // purge; invalidate-cache folds under pressure within the same area.
    let policy = Arc::new(config.fold_policy());
    let pressure = Arc::new(config.pressure.clone());
    let versions = config.versions;
    let gate = Arc::new(BacklogGate::from_config(&config));
    let config = Arc::new(config);
    let report_mac = Arc::clone(&mac);

    registry.register(
        functions::VALIDATE_RECORDS,
        handler(move |input: ExecutionInput| {
            let (config, dynamodb, mac) = (
                Arc::clone(&config),
                dynamodb.clone(),
                Arc::clone(&report_mac),
            );
            async move {
                purgeflow_tasks::validate_records::validate_records(
                    input,
                    &config,
                    &mac,
                    dynamodb.as_ref(),
                )
                .await
            }
        }),
    );
    let s3 = clients.s3;
    registry.register(
        functions::DELETE_OBJECTS,
        handler(move |input: DeleteInput| {
            let s3 = s3.clone();
            async move { purgeflow_tasks::delete::delete_objects(&s3, input, versions).await }
        }),
    );
    let area = Arc::clone(&policy);
    registry.register(
        functions::BATCH_PATHS,
        handler(move |input: BatchPathsInput| {
            let (distribution_id, policy) = (Arc::clone(&distribution_id), Arc::clone(&policy));
            async move { batch_paths(input, &distribution_id, &policy) }
        }),
    );
    // As in invalidate-cache's main: the backlog gate reads the deferral queue
    // (PURGE_DEFERRAL_QUEUE_URL, which `purgeflow local` sets) through the same SQS client
    // DeferBatch sends with.
    let cloudfront = clients.cloudfront;
    let sqs = clients.sqs;
    let gate_sqs = sqs.clone();
    registry.register(
        functions::INVALIDATE_CACHE,
        handler(move |input: InvalidateInput| {
            let (cloudfront, sqs, gate, area, pressure) = (
                cloudfront.clone(),
                gate_sqs.clone(),
                Arc::clone(&gate),
                Arc::clone(&area),
                Arc::clone(&pressure),
            );
            async move {
                purgeflow_tasks::invalidate::invalidate_cache(
                    &cloudfront,
                    &sqs,
                    &gate,
                    input,
                    &area,
                    &pressure,
                )
                .await
            }
        }),
    );
    registry.register(
        purgeflow_asl::sqs::SEND_MESSAGE,
        Arc::new(move |request: Value| {
            let sqs = sqs.clone();
            async move { send_message(&sqs, &request).await }
        }),
    );
    let sns = clients.sns;
    registry.register(
        functions::REPORT_FAILURES,
        handler(move |input: ReportInput| {
            let (sns, topic_arn, mac) = (sns.clone(), Arc::clone(&topic_arn), Arc::clone(&mac));
            async move {
                purgeflow_tasks::report::report_failures(&sns, &topic_arn, &mac, input).await
            }
        }),
    );
    Ok(())
}

/// The SQS integration's error for an answer from SQS, and for none (a request that could not
/// be built or sent, or an answer that could not be read).
pub const SQS_SERVICE_ERROR: &str = "SQS.AmazonSQSException";
pub const SQS_CLIENT_ERROR: &str = "SQS.SdkClientException";

/// SendMessage for `arn:aws:states:::sqs:sendMessage`: `request` is what the engine passes on
/// (SendMessage's parameters, MessageBody already text); the answer is SQS's, with its request
/// id, for the engine to wrap as the integration's result.
pub async fn send_message(
    sqs: &aws_sdk_sqs::Client,
    request: &Value,
) -> Result<Value, StatesError> {
    use aws_sdk_sqs::operation::RequestId;
    use aws_sdk_sqs::types::MessageAttributeValue;
    use aws_smithy_types::error::display::DisplayErrorContext;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
    let client_error =
        |cause: String| StatesError::new(SQS_CLIENT_ERROR, format!("SendMessage: {cause}"));
    let delay_seconds = match request.get("DelaySeconds") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| client_error(format!("DelaySeconds {value} is not an integer")))?,
        ),
    };
    let mut send = sqs
        .send_message()
        .set_queue_url(text("QueueUrl"))
        .set_message_body(text("MessageBody"))
        .set_delay_seconds(delay_seconds)
        .set_message_group_id(text("MessageGroupId"))
        .set_message_deduplication_id(text("MessageDeduplicationId"));
    for (name, attribute) in request
        .get("MessageAttributes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        // String and Number attributes; binary ones would need base64 decoding nothing here uses.
        let Some(string_value) = attribute.get("StringValue").and_then(Value::as_str) else {
            return Err(client_error(format!(
                "message attribute {name} has no StringValue (binary attributes are not supported here)"
            )));
        };
        let value = MessageAttributeValue::builder()
            .set_data_type(
                attribute
                    .get("DataType")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
            .string_value(string_value)
            .build()
            .map_err(|e| client_error(format!("message attribute {name}: {e}")))?;
        send = send.message_attributes(name, value);
    }
    let answer = send.send().await.map_err(|error| {
        let status = error
            .raw_response()
            .map_or_else(|| "unknown".to_owned(), |r| r.status().as_u16().to_string());
        match error.as_service_error() {
            Some(service) => StatesError::new(
                SQS_SERVICE_ERROR,
                format!(
                    "{} (Service: AmazonSQS; Status Code: {status}; Error Code: {}; Request ID: {})",
                    service.message().unwrap_or("no message"),
                    service.code().unwrap_or("Unknown"),
                    service.request_id().unwrap_or("unknown"),
                ),
            ),
            None => client_error(DisplayErrorContext(&error).to_string()),
        }
    })?;
    let mut result = serde_json::Map::new();
    for (name, value) in [
        ("MessageId", answer.message_id()),
        ("MD5OfMessageBody", answer.md5_of_message_body()),
        ("MD5OfMessageAttributes", answer.md5_of_message_attributes()),
        ("SequenceNumber", answer.sequence_number()),
    ] {
        if let Some(value) = value {
            result.insert(name.to_owned(), Value::from(value));
        }
    }
    if let Some(request_id) = answer.request_id() {
        result.insert(
            "SdkResponseMetadata".to_owned(),
            serde_json::json!({"RequestId": request_id}),
        );
    }
    Ok(Value::Object(result))
}

/// Wraps a typed task function as an engine handler: JSON in, JSON out, errors by name.
fn handler<I, O, F, Fut>(run: F) -> Arc<dyn TaskHandler>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
{
    let run = Arc::new(run);
    Arc::new(move |payload: Value| {
        let run = Arc::clone(&run);
        async move {
            let input: I = parse(payload)?;
            let output = run(input).await.map_err(|e| states_error(&e))?;
            serialise(output)
        }
    })
}

fn parse<I: DeserializeOwned>(payload: Value) -> Result<I, StatesError> {
    // Read as each Lambda binary reads its event: a wrong type fails as
    // `PurgeFlow.InvalidInput`, naming the field's JSON path.
    purgeflow_tasks::contract::from_value(payload).map_err(|e| states_error(&e))
}

fn serialise<O: Serialize>(output: O) -> Result<Value, StatesError> {
    serde_json::to_value(output).map_err(|e| {
        states_error(&TaskError::InvalidInput(format!(
            "the task output does not serialise: {e}"
        )))
    })
}

/// The error a Lambda failing with `err` reports: its stable `errorType` and its message.
pub fn states_error(err: &TaskError) -> StatesError {
    StatesError {
        error: err.error_type().to_owned(),
        cause: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::{mock, mock_client};
    use purgeflow_asl::TaskInvoker;
    use serde_json::json;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config")
    }

    fn full_config() -> Config {
        config(&[
            ("PURGE_BUCKET", "photo-bucket"),
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_DISTRIBUTION_ID", "E2QWRUHEXAMPLE"),
            (
                "PURGE_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:purge-failures",
            ),
            ("PURGE_CHECK_SUPERSEDED", "false"),
            // The adapter's tests: the MAC has its own (tasks/src/signing.rs, validate_records).
            ("PURGE_ALLOW_UNSIGNED_INPUTS", "true"),
        ])
    }

    fn clients() -> Clients {
        // No rule is ever matched: these tests only call handlers that make no AWS call, or
        // fail before making one.
        let get = mock!(aws_sdk_s3::Client::get_object)
            .then_output(|| aws_sdk_s3::operation::get_object::GetObjectOutput::builder().build());
        let invalidation = mock!(aws_sdk_cloudfront::Client::get_invalidation).then_output(|| {
            aws_sdk_cloudfront::operation::get_invalidation::GetInvalidationOutput::builder()
                .build()
        });
        let publish = mock!(aws_sdk_sns::Client::publish)
            .then_output(|| aws_sdk_sns::operation::publish::PublishOutput::builder().build());
        Clients {
            s3: mock_client!(aws_sdk_s3, [&get]),
            cloudfront: mock_client!(aws_sdk_cloudfront, [&invalidation]),
            sns: mock_client!(aws_sdk_sns, [&publish]),
            sqs: sqs_client(),
            dynamodb: None,
            kms: None,
        }
    }

    const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/000000000000/purgeflow-deferred";

    /// SQS answering SendMessage to [`QUEUE_URL`] with a compact JSON body; any other request
    /// matches no rule and fails the test.
    fn sqs_client() -> aws_sdk_sqs::Client {
        use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
        let sent = mock!(aws_sdk_sqs::Client::send_message)
            .match_requests(|r| {
                r.queue_url() == Some(QUEUE_URL)
                    && r.message_body()
                        == Some(r#"{"batch":{"paths":["/a.jpg"]},"error":"PurgeFlow.Throttled"}"#)
            })
            .then_output(|| {
                SendMessageOutput::builder()
                    .message_id("5fea7756-0ea4-451a-a703-a558b933e274")
                    .md5_of_message_body("fafb00f5732ab283681e124bf8747ed1")
                    .build()
            });
        let missing = mock!(aws_sdk_sqs::Client::send_message)
            .match_requests(|r| r.queue_url().is_some_and(|u| u.ends_with("/gone")))
            .then_error(|| {
                SendMessageError::QueueDoesNotExist(
                    aws_sdk_sqs::types::error::QueueDoesNotExist::builder()
                        .message("The specified queue does not exist.")
                        .meta(
                            aws_smithy_types::error::ErrorMetadata::builder()
                                .code("AWS.SimpleQueueService.NonExistentQueue")
                                .message("The specified queue does not exist.")
                                .build(),
                        )
                        .build(),
                )
            });
        mock_client!(
            aws_sdk_sqs,
            aws_smithy_mocks::RuleMode::MatchAny,
            [&sent, &missing]
        )
    }

    #[tokio::test]
    async fn deferbatch_sends_the_message_body_as_json_text_and_gets_the_integrations_result() {
        let registry = registry();
        let out = registry
            .invoke(
                "DeferBatch",
                purgeflow_asl::sqs::SEND_MESSAGE,
                json!({"QueueUrl": QUEUE_URL,
                       "MessageBody": {"batch": {"paths": ["/a.jpg"]}, "error": "PurgeFlow.Throttled"}}),
            )
            .await
            .expect("SQS took it");
        assert_eq!(
            out["MessageId"],
            json!("5fea7756-0ea4-451a-a703-a558b933e274")
        );
        assert_eq!(
            out["MD5OfMessageBody"],
            json!("fafb00f5732ab283681e124bf8747ed1")
        );
        assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    }

    #[tokio::test]
    async fn sqs_errors_come_back_under_the_integrations_names() {
        let registry = registry();
        let err = registry
            .invoke(
                "DeferBatch",
                purgeflow_asl::sqs::SEND_MESSAGE,
                json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/000000000000/gone", "MessageBody": "x"}),
            )
            .await
            .expect_err("no such queue");
        assert_eq!(err.error, SQS_SERVICE_ERROR);
        assert!(
            err.cause
                .starts_with("The specified queue does not exist. (Service: AmazonSQS;")
                && err
                    .cause
                    .contains("Error Code: AWS.SimpleQueueService.NonExistentQueue"),
            "{}",
            err.cause
        );
        // A DelaySeconds that is no integer never reaches SQS: no answer came.
        let err = registry
            .invoke(
                "DeferBatch",
                purgeflow_asl::sqs::SEND_MESSAGE,
                json!({"QueueUrl": QUEUE_URL, "MessageBody": "x", "DelaySeconds": "soon"}),
            )
            .await
            .expect_err("a bad delay");
        assert_eq!(err.error, SQS_CLIENT_ERROR);
        assert!(err.cause.contains("DelaySeconds"), "{}", err.cause);
    }

    fn registry() -> TaskRegistry {
        let mut registry = TaskRegistry::new();
        register_handlers(&mut registry, clients(), full_config()).expect("complete config");
        registry
    }

    #[test]
    fn every_state_machine_function_is_registered_and_resolves_from_its_arn() {
        let debug = format!("{:?}", registry());
        for name in functions::ALL
            .into_iter()
            .chain([purgeflow_asl::sqs::SEND_MESSAGE])
        {
            assert!(debug.contains(name), "{name} missing from {debug}");
        }
        assert!(
            !debug.contains("purge-trigger"),
            "the trigger is not a state-machine task"
        );
    }

    #[tokio::test]
    async fn handlers_run_the_task_functions_through_their_arns() {
        let registry = registry();
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:batch-paths";
        let input = json!({
            "batchId": "b-1",
            "deleted": [{"bucket": "photo-bucket", "key": "a.jpg", "paths": ["/a.jpg"], "eventId": "e1",
                         "tableKeys": {"image_key": {"S": "a.jpg"}}}]
        });
        let out = registry
            .invoke("BatchPaths", arn, input)
            .await
            .expect("batch paths succeeds");
        assert_eq!(out["pathCount"], json!(1));
        assert_eq!(out["batches"][0]["paths"], json!(["/a.jpg"]));
        assert_eq!(out["batches"][0]["distributionId"], json!("E2QWRUHEXAMPLE"));

        let validated = registry
            .invoke(
                "ValidateRecords",
                "arn:aws:lambda:us-east-1:000000000000:function:validate-records",
                json!({"batchId": "b-1", "records": [{"eventId": "e1", "sequenceNumber": "1", "deleteKind": "user",
                       "keys": {"image_key": {"S": "a.jpg"}}, "oldImage": {"image_key": {"S": "a.jpg"}}}]}),
            )
            .await
            .expect("validation succeeds");
        assert_eq!(validated["targets"][0]["key"], json!("a.jpg"));
    }

    #[tokio::test]
    async fn task_errors_keep_their_lambda_error_type() {
        let registry = registry();
        let err = registry
            .invoke("BatchPaths", "batch-paths", json!({"batchId": 1}))
            .await
            .expect_err("a payload that does not parse");
        assert_eq!(err.error, purgeflow_tasks::error::names::INVALID_INPUT);
        assert_eq!(
            err.cause,
            "invalid task input: batchId: expected a string, found integer 1"
        );

        let err = registry
            .invoke(
                "ValidateRecords",
                "validate-records",
                json!({"batchId": " "}),
            )
            .await
            .expect_err("an empty batch id");
        assert_eq!(
            err,
            StatesError::new(
                purgeflow_tasks::error::names::INVALID_INPUT,
                "invalid task input: batchId is empty"
            )
        );
    }

    #[test]
    fn a_missing_variable_fails_registration_by_name() {
        let mut registry = TaskRegistry::new();
        let err = register_handlers(
            &mut registry,
            clients(),
            config(&[
                ("PURGE_BUCKET", "photo-bucket"),
                ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ]),
        )
        .expect_err("no distribution id");
        assert!(err.to_string().contains("PURGE_DISTRIBUTION_ID"), "{err}");
    }

    #[test]
    fn the_supersede_check_is_never_skipped_silently() {
        let mut registry = TaskRegistry::new();
        let mut checking = full_config();
        checking.check_superseded = true;
        let err =
            register_handlers(&mut registry, clients(), checking).expect_err("no DynamoDB client");
        assert!(err.to_string().contains("PURGE_CHECK_SUPERSEDED"), "{err}");
    }
}
