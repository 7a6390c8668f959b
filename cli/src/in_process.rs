//! The five state-machine task handlers, registered for purgeflow's own ASL engine: the
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
//! `purge-trigger` is not registered: it starts executions, it is not a state of one.

use std::sync::Arc;

use purgeflow_asl::StatesError;
use purgeflow_asl::task::{TaskHandler, TaskRegistry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use purgeflow_tasks::TaskError;
use purgeflow_tasks::batch_paths::batch_paths;
use purgeflow_tasks::config::{CHECK_SUPERSEDED, Config, ConfigError, Var};
use purgeflow_tasks::contract::{
    BatchPathsInput, DeleteInput, ExecutionInput, InvalidateInput, ReportInput,
};

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
    /// For ValidateRecords' supersede check: required when `PURGE_CHECK_SUPERSEDED` is on
    /// (the default), ignored when it is `false`.
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
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
    let distribution_id: Arc<str> = Arc::from(config.distribution_id()?);
    let topic_arn: Arc<str> = Arc::from(config.topic_arn()?);
    // As in batch-paths' main: wildcards never reach beyond what PURGE_KEY_PREFIX lets purgeflow
    // purge; invalidate-cache folds under pressure within the same area.
    let policy = Arc::new(config.fold_policy());
    let pressure = Arc::new(config.pressure.clone());
    let versions = config.versions;
    let config = Arc::new(config);

    registry.register(
        functions::VALIDATE_RECORDS,
        handler(move |input: ExecutionInput| {
            let (config, dynamodb) = (Arc::clone(&config), dynamodb.clone());
            async move {
                purgeflow_tasks::validate_records::validate_records(
                    input,
                    &config,
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
    let cloudfront = clients.cloudfront;
    registry.register(
        functions::INVALIDATE_CACHE,
        handler(move |input: InvalidateInput| {
            let (cloudfront, area, pressure) =
                (cloudfront.clone(), Arc::clone(&area), Arc::clone(&pressure));
            async move {
                purgeflow_tasks::invalidate::invalidate(&cloudfront, input, &area, &pressure).await
            }
        }),
    );
    let sns = clients.sns;
    registry.register(
        functions::REPORT_FAILURES,
        handler(move |input: ReportInput| {
            let (sns, topic_arn) = (sns.clone(), Arc::clone(&topic_arn));
            async move { purgeflow_tasks::report::report_failures(&sns, &topic_arn, input).await }
        }),
    );
    Ok(())
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
            dynamodb: None,
        }
    }

    fn registry() -> TaskRegistry {
        let mut registry = TaskRegistry::new();
        register_handlers(&mut registry, clients(), full_config()).expect("complete config");
        registry
    }

    #[test]
    fn every_state_machine_function_is_registered_and_resolves_from_its_arn() {
        let debug = format!("{:?}", registry());
        for name in functions::ALL {
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
