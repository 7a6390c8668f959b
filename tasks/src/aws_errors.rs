//! The one place where an AWS SDK error becomes a [`TaskError`].
//!
//! Every SDK call in this crate goes through [`classify`], so S3, DynamoDB, CloudFront, SNS and
//! Step Functions errors get the same treatment and the state machine's `Retry` can rely on the
//! `errorType` names:
//!
//! 1. a throttling error code (`SlowDown`, `ThrottlingException`, ...) → [`TaskError::Throttled`];
//! 2. an `AccessDenied*` code → [`TaskError::AccessDenied`];
//! 3. no response at all (dispatch failure, timeout) or an HTTP 5xx / transient code →
//!    [`TaskError::Transient`];
//! 4. anything else → [`TaskError::Aws`], which is not retried but caught and reported.
//!
//! Operation-specific codes (CloudFront's `TooManyInvalidationsInProgress`, ...) are matched by
//! the caller before it falls back to this function.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::TaskError;

/// Error codes that mean "slow down". The same list the SDK's own retry classifier uses
/// (aws-runtime `THROTTLING_ERRORS`), plus the KMS variant SNS can surface.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "KMSThrottlingException",
    // SNS's ThrottledException.
    "Throttled",
];

/// Codes that mean "not allowed" but do not start with `AccessDenied`.
const ACCESS_DENIED_CODES: &[&str] = &[
    // SNS's AuthorizationErrorException.
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDenied",
    "KMSAccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Error codes that are transient whatever the HTTP status says (the SDK's `TRANSIENT_ERRORS`
/// plus the 5xx-style codes services put in a body).
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// How an error code (or its absence) should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Throttled,
    AccessDenied,
    Transient,
    Other,
}

/// Classifies a service error code on its own: also used for per-key errors inside a successful
/// response (DeleteObjects' `Errors`), which never reach [`classify`].
pub fn classify_code(code: &str) -> ErrorClass {
    if THROTTLING_CODES.contains(&code) {
        ErrorClass::Throttled
    } else if code.starts_with("AccessDenied") || ACCESS_DENIED_CODES.contains(&code) {
        // AccessDenied (S3, CloudFront), AccessDeniedException (DynamoDB, Step Functions),
        // AuthorizationError (SNS), and credentials that are not accepted at all.
        ErrorClass::AccessDenied
    } else if TRANSIENT_CODES.contains(&code) {
        ErrorClass::Transient
    } else {
        ErrorClass::Other
    }
}

/// Turns any SDK error into a [`TaskError`]. `service` names the service in messages
/// ("s3", "cloudfront", ...).
pub fn classify<E>(service: &'static str, err: &SdkError<E, HttpResponse>) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // `DisplayErrorContext` walks the source chain: the top-level Display of an SdkError is
    // only "service error" / "dispatch failure", which tells an operator nothing.
    let full_message = DisplayErrorContext(err).to_string();
    match err {
        // Never got a response: the request may or may not have reached AWS, and every
        // operation purgeflow makes is idempotent, so a retry is safe.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return TaskError::Transient {
                service,
                message: full_message,
            };
        }
        // A response that could not be parsed: usually a connection cut mid-body.
        SdkError::ResponseError(_) => {
            return TaskError::Transient {
                service,
                message: full_message,
            };
        }
        _ => {}
    }

    let code = err.code().unwrap_or_default().to_owned();
    let message = err.message().map(str::to_owned).unwrap_or(full_message);
    let status = err.raw_response().map(|raw| raw.status().as_u16());

    match classify_code(&code) {
        ErrorClass::Throttled => TaskError::Throttled {
            service,
            code,
            message,
        },
        ErrorClass::AccessDenied => TaskError::AccessDenied {
            service,
            code,
            message,
        },
        ErrorClass::Transient => TaskError::Transient {
            service,
            message: with_code(&code, message),
        },
        ErrorClass::Other => match status {
            // 429 without a recognised code is still throttling.
            Some(429) => TaskError::Throttled {
                service,
                code: code_or_status(code, 429),
                message,
            },
            Some(status) if (500..=599).contains(&status) => TaskError::Transient {
                service,
                message: with_code(&code_or_status(code, status), message),
            },
            Some(403) if code.is_empty() => TaskError::AccessDenied {
                service,
                code: code_or_status(code, 403),
                message,
            },
            _ => TaskError::Aws {
                service,
                code: code_or_status_opt(code, status),
                message,
            },
        },
    }
}

fn with_code(code: &str, message: String) -> String {
    if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    }
}

fn code_or_status(code: String, status: u16) -> String {
    if code.is_empty() {
        format!("HTTP {status}")
    } else {
        code
    }
}

fn code_or_status_opt(code: String, status: Option<u16>) -> String {
    match status {
        Some(status) => code_or_status(code, status),
        None if code.is_empty() => "Unknown".to_owned(),
        None => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    /// A minimal modelled error, standing in for e.g. `DeleteObjectsError`.
    #[derive(Debug)]
    struct FakeError(ErrorMetadata);

    impl std::fmt::Display for FakeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fake error {:?}", self.0.code())
        }
    }
    impl std::error::Error for FakeError {}
    impl ProvideErrorMetadata for FakeError {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn service_error(code: Option<&str>, status: u16) -> SdkError<FakeError, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("it went wrong");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("valid status"),
            SdkBody::empty(),
        );
        SdkError::service_error(FakeError(meta.build()), raw)
    }

    #[test]
    fn throttling_codes_are_throttled_whatever_the_status() {
        for (code, status) in [
            ("SlowDown", 503),
            ("ThrottlingException", 400),
            ("Throttling", 400),
            ("TooManyRequestsException", 429),
            ("RequestLimitExceeded", 400),
        ] {
            let err = classify("s3", &service_error(Some(code), status));
            assert!(
                matches!(&err, TaskError::Throttled { code: c, .. } if c == code),
                "{code}: {err:?}"
            );
            assert!(err.is_retryable());
        }
    }

    #[test]
    fn access_denied_codes_are_access_denied() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "AuthorizationError",
            "ExpiredToken",
        ] {
            let err = classify("sns", &service_error(Some(code), 403));
            assert!(
                matches!(&err, TaskError::AccessDenied { code: c, service: "sns", .. } if c == code),
                "{err:?}"
            );
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn server_errors_without_a_known_code_are_transient() {
        let err = classify("cloudfront", &service_error(Some("SomethingNew"), 502));
        assert!(
            matches!(&err, TaskError::Transient { message, .. } if message.contains("SomethingNew")),
            "{err:?}"
        );
        let err = classify("s3", &service_error(None, 500));
        assert!(
            matches!(&err, TaskError::Transient { message, .. } if message.contains("HTTP 500")),
            "{err:?}"
        );
        let err = classify("s3", &service_error(Some("InternalError"), 200));
        assert!(matches!(err, TaskError::Transient { .. }));
    }

    #[test]
    fn bare_429_is_throttled_and_bare_403_is_access_denied() {
        assert!(matches!(
            classify("s3", &service_error(None, 429)),
            TaskError::Throttled { .. }
        ));
        assert!(matches!(
            classify("s3", &service_error(None, 403)),
            TaskError::AccessDenied { .. }
        ));
    }

    #[test]
    fn other_client_errors_are_plain_aws_errors() {
        let err = classify("s3", &service_error(Some("NoSuchBucket"), 404));
        assert!(
            matches!(&err, TaskError::Aws { code, message, .. } if code == "NoSuchBucket" && message == "it went wrong"),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn dispatch_and_timeout_failures_are_transient() {
        let timeout: SdkError<FakeError, HttpResponse> = SdkError::timeout_error("read timed out");
        let err = classify("sfn", &timeout);
        assert!(
            matches!(&err, TaskError::Transient { message, .. } if message.contains("read timed out")),
            "{err:?}"
        );

        let cut: SdkError<FakeError, HttpResponse> = SdkError::response_error(
            "connection closed mid-body",
            HttpResponse::new(
                StatusCode::try_from(200).expect("valid status"),
                SdkBody::empty(),
            ),
        );
        assert!(matches!(classify("s3", &cut), TaskError::Transient { .. }));
    }

    #[test]
    fn construction_failures_are_not_retried() {
        let err: SdkError<FakeError, HttpResponse> =
            SdkError::construction_failure("bucket is required");
        assert!(matches!(classify("s3", &err), TaskError::Aws { .. }));
    }
}
