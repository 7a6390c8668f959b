//! Glue shared by the six Lambda binaries: tracing set-up, SDK configuration and the mapping of
//! [`TaskError`] to the Lambda error the state machine sees.

use lambda_runtime::Diagnostic;
use tracing_subscriber::EnvFilter;

use crate::TaskError;

/// The `errorType` Step Functions matches in `ErrorEquals` is the stable name from
/// [`TaskError::error_type`], never the Rust type name the runtime would use by default.
impl From<TaskError> for Diagnostic {
    fn from(err: TaskError) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Initialises JSON logs for CloudWatch. The level comes from `RUST_LOG`, else from Lambda's
/// own `AWS_LAMBDA_LOG_LEVEL` (set by the function's logging config), else `info`.
///
/// Safe to call more than once: a second call keeps the first subscriber.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // CloudWatch shows the request id; the span list only repeats it on every line.
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed; keeping it");
    }
}

/// Loads the SDK configuration once per cold start: region and credentials from the Lambda
/// environment, and the standard `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) so every
/// client can point at a local endpoint.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_the_stable_error_type_and_the_message() {
        let err = TaskError::Throttled {
            service: "s3",
            code: "SlowDown".into(),
            message: "reduce your request rate".into(),
        };
        let expected_message = err.to_string();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, crate::error::names::THROTTLED);
        assert_eq!(diagnostic.error_message, expected_message);
        assert!(
            diagnostic
                .error_message
                .contains("reduce your request rate")
        );
    }

    #[test]
    fn every_variant_maps_to_a_purgeflow_name() {
        let errors = [
            TaskError::InvalidInput("x".into()),
            TaskError::Transient {
                service: "s3",
                message: "x".into(),
            },
            TaskError::AccessDenied {
                service: "s3",
                code: "AccessDenied".into(),
                message: "x".into(),
            },
            TaskError::Aws {
                service: "s3",
                code: "X".into(),
                message: "x".into(),
            },
        ];
        for err in errors {
            let diagnostic = Diagnostic::from(err);
            assert!(
                diagnostic.error_type.starts_with("PurgeFlow."),
                "{}",
                diagnostic.error_type
            );
        }
    }

    #[test]
    fn init_tracing_twice_does_not_panic() {
        init_tracing();
        init_tracing();
    }
}
