//! Tasks behind a trait: the evaluator hands every Task state's effective input to a
//! [`TaskInvoker`]. [`TaskRegistry`] resolves Lambda resources to in-process handlers; the
//! mock-config invoker lives in [`crate::mock`].

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::error::{StatesError, names};
use crate::sqs;

/// Runs a Task state's work.
pub trait TaskInvoker: Send + Sync + std::fmt::Debug {
    /// state_name: the Task state's name; resource: its Resource (after substitutions);
    /// payload: the effective input (Parameters/Arguments applied).
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>>;
}

/// One in-process function, e.g. a task Lambda's plain handler function.
pub trait TaskHandler: Send + Sync {
    fn call(&self, payload: Value) -> BoxFuture<'_, Result<Value, StatesError>>;
}

/// Any `Fn(Value) -> Future<Output = Result<Value, StatesError>>` is a handler.
impl<F, Fut> TaskHandler for F
where
    F: Fn(Value) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<Value, StatesError>> + Send + 'static,
{
    fn call(&self, payload: Value) -> BoxFuture<'_, Result<Value, StatesError>> {
        Box::pin(self(payload))
    }
}

/// The optimised Lambda integration.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// In-process handlers registered by function name or ARN.
///
/// Resolves plain Lambda ARNs (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`), bare
/// function names, `arn:aws:states:::lambda:invoke` with the function in the payload's
/// `FunctionName`, and `arn:aws:states:::sqs:sendMessage` (registered under that resource; the
/// registry shapes its request and result as AWS does, see [`crate::sqs`]). An unregistered resource is a `States.Runtime` error (which `States.ALL` does
/// not catch), never a silent pass-through.
#[derive(Default, Clone)]
pub struct TaskRegistry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
}

impl std::fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.handlers.keys().collect();
        names.sort();
        f.debug_struct("TaskRegistry")
            .field("handlers", &names)
            .finish()
    }
}

impl TaskRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` under a function name, a Lambda ARN (with or without qualifier), or
    /// any other resource string (matched exactly).
    pub fn register(
        &mut self,
        name_or_arn: impl Into<String>,
        handler: Arc<dyn TaskHandler>,
    ) -> &mut Self {
        self.handlers.insert(name_or_arn.into(), handler);
        self
    }

    /// The handler for a function identifier: exact key first, then the bare function name
    /// (so a handler registered as `purge-validate` serves its ARN and its aliases).
    fn resolve(&self, identifier: &str) -> Option<&Arc<dyn TaskHandler>> {
        if let Some(handler) = self.handlers.get(identifier) {
            return Some(handler);
        }
        let name = function_name(identifier)?;
        self.handlers.get(name).or_else(|| {
            self.handlers
                .iter()
                .find(|(key, _)| function_name(key) == Some(name))
                .map(|(_, handler)| handler)
        })
    }

    fn unregistered(state_name: &str, what: &str) -> StatesError {
        StatesError::new(
            names::RUNTIME,
            format!(
                "no handler registered for {what} (Task state '{state_name}'); register one with TaskRegistry::register"
            ),
        )
    }
}

/// The function name inside a Lambda identifier: `NAME`, `NAME:QUALIFIER`,
/// `ACCOUNT:function:NAME[:QUALIFIER]` or `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
pub fn function_name(identifier: &str) -> Option<&str> {
    let parts: Vec<&str> = identifier.split(':').collect();
    let name = match parts.iter().position(|p| *p == "function") {
        Some(i) => *parts.get(i + 1)?,
        None if identifier.starts_with("arn:") => return None,
        None => parts.first().copied()?,
    };
    (!name.is_empty()).then_some(name)
}

/// The response shape of `arn:aws:states:::lambda:invoke`.
pub fn lambda_invoke_response(payload: Value) -> Value {
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"Content-Type": ["application/json"], "X-Amz-Executed-Version": ["$LATEST"]},
            "HttpHeaders": {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"},
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": "00000000-0000-0000-0000-000000000000"},
        "StatusCode": 200
    })
}

impl TaskInvoker for TaskRegistry {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            if resource == LAMBDA_INVOKE || resource.starts_with(&format!("{LAMBDA_INVOKE}.")) {
                let Some(function) = payload.get("FunctionName").and_then(Value::as_str) else {
                    return Err(StatesError::new(
                        names::RUNTIME,
                        format!(
                            "Task state '{state_name}' calls {resource} without a string FunctionName in its Parameters/Arguments"
                        ),
                    ));
                };
                let handler = self.resolve(function).ok_or_else(|| {
                    Self::unregistered(state_name, &format!("function {function}"))
                })?;
                let inner = payload.get("Payload").cloned().unwrap_or_else(|| json!({}));
                return handler.call(inner).await.map(lambda_invoke_response);
            }
            if sqs::is_send_message(resource) {
                // The handler makes the SendMessage call; what AWS does around it (which
                // parameters reach SQS, the body as JSON text, the result's shape) happens here.
                let handler = self
                    .handlers
                    .get(resource)
                    .ok_or_else(|| Self::unregistered(state_name, resource))?;
                let request = sqs::send_message_request(state_name, payload)?;
                return handler.call(request).await.map(sqs::send_message_result);
            }
            if sqs::is_unsupported_send_message_pattern(resource) {
                return Err(StatesError::new(
                    names::RUNTIME,
                    format!(
                        "Task state '{state_name}' uses {resource}: only the request/response pattern ({}) runs on this engine",
                        sqs::SEND_MESSAGE
                    ),
                ));
            }
            let handler =
                if resource.starts_with("arn:aws:lambda:") || !resource.starts_with("arn:") {
                    self.resolve(resource)
                } else {
                    self.handlers.get(resource)
                };
            let handler = handler.ok_or_else(|| Self::unregistered(state_name, resource))?;
            handler.call(payload).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn echo_registry(key: &str) -> TaskRegistry {
        let mut registry = TaskRegistry::new();
        registry.register(
            key,
            Arc::new(|payload: Value| async move { Ok(json!({"echo": payload})) }),
        );
        registry
    }

    #[test]
    fn function_names_come_out_of_every_lambda_form() {
        assert_eq!(function_name("purge"), Some("purge"));
        assert_eq!(function_name("purge:live"), Some("purge"));
        assert_eq!(function_name("123456789012:function:purge"), Some("purge"));
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-1:123456789012:function:purge"),
            Some("purge")
        );
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-1:123456789012:function:purge:3"),
            Some("purge")
        );
        assert_eq!(function_name("arn:aws:states:::sns:publish"), None);
        assert_eq!(function_name(""), None);
    }

    #[test]
    fn a_bare_name_serves_plain_arns_and_aliases() {
        let registry = echo_registry("purge");
        for resource in [
            "purge",
            "arn:aws:lambda:us-east-1:123456789012:function:purge",
            "arn:aws:lambda:us-east-1:123456789012:function:purge:prod",
        ] {
            let out =
                block_on(registry.invoke("S", resource, json!({"a": 1}))).expect("registered");
            assert_eq!(out, json!({"echo": {"a": 1}}), "{resource}");
        }
    }

    #[test]
    fn a_registered_arn_serves_its_bare_name() {
        let registry = echo_registry("arn:aws:lambda:us-east-1:123456789012:function:purge");
        let out = block_on(registry.invoke("S", "purge", json!(1))).expect("registered");
        assert_eq!(out, json!({"echo": 1}));
    }

    #[test]
    fn lambda_invoke_unwraps_payload_and_wraps_the_result_in_aws_shape() {
        let registry = echo_registry("purge");
        let payload = json!({"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:purge:$LATEST", "Payload": {"k": "v"}});
        let out = block_on(registry.invoke("S", LAMBDA_INVOKE, payload)).expect("registered");
        assert_eq!(out["Payload"], json!({"echo": {"k": "v"}}));
        assert_eq!(out["StatusCode"], json!(200));
        assert_eq!(out["ExecutedVersion"], json!("$LATEST"));
        assert!(out["SdkHttpMetadata"].is_object() && out["SdkResponseMetadata"].is_object());
    }

    #[test]
    fn unregistered_resources_fail_clearly() {
        let registry = echo_registry("purge");
        let err = block_on(registry.invoke(
            "Delete",
            "arn:aws:lambda:us-east-1:1:function:other",
            json!({}),
        ))
        .expect_err("unregistered");
        assert_eq!(err.error, names::RUNTIME);
        assert!(
            err.cause
                .contains("no handler registered for arn:aws:lambda:us-east-1:1:function:other"),
            "{}",
            err.cause
        );
        let err = block_on(registry.invoke("Publish", "arn:aws:states:::sns:publish", json!({})))
            .expect_err("no pass-through");
        assert!(
            err.cause
                .contains("no handler registered for arn:aws:states:::sns:publish")
        );
        let err = block_on(registry.invoke("Invoke", LAMBDA_INVOKE, json!({"Payload": {}})))
            .expect_err("no FunctionName");
        assert!(err.cause.contains("FunctionName"));
        let err =
            block_on(registry.invoke("Invoke", LAMBDA_INVOKE, json!({"FunctionName": "nope"})))
                .expect_err("unregistered");
        assert!(
            err.cause
                .contains("no handler registered for function nope")
        );
    }

    #[test]
    fn send_message_gets_the_request_and_result_aws_shapes() {
        let registry = echo_registry(sqs::SEND_MESSAGE);
        let out = block_on(registry.invoke(
            "Defer",
            sqs::SEND_MESSAGE,
            json!({"QueueUrl": "q", "MessageBody": {"a": 1}, "Unknown": true}),
        ))
        .expect("registered");
        // The handler saw the request SQS gets: the body as JSON text, unknown fields dropped.
        assert_eq!(
            out["echo"],
            json!({"QueueUrl": "q", "MessageBody": "{\"a\":1}"})
        );
        assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], json!(200));

        let err = block_on(registry.invoke(
            "Defer",
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            json!({}),
        ))
        .expect_err("no callbacks here");
        assert_eq!(err.error, names::RUNTIME);
        assert!(err.cause.contains("request/response"), "{}", err.cause);

        let err = block_on(TaskRegistry::new().invoke("Defer", sqs::SEND_MESSAGE, json!({})))
            .expect_err("unregistered");
        assert!(
            err.cause
                .contains("no handler registered for arn:aws:states:::sqs:sendMessage"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn handler_errors_pass_through_unchanged() {
        let mut registry = TaskRegistry::new();
        registry.register(
            "boom",
            Arc::new(|_: Value| async { Err(StatesError::new("Custom.Error", "it broke")) }),
        );
        let err = block_on(registry.invoke("S", "boom", json!({}))).expect_err("handler fails");
        assert_eq!(err, StatesError::new("Custom.Error", "it broke"));
    }
}
