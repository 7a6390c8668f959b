//! Task errors and their stable Lambda `errorType` names.
//!
//! The name returned by [`TaskError::error_type`] is what the state machine's `Retry` and `Catch`
//! match in `ErrorEquals`, so it is part of the contract: never derived from a Rust type name,
//! never changed without changing `statemachine/purge.asl.json`.

use thiserror::Error;

/// Error names, as they appear in `ErrorEquals`.
pub mod names {
    pub const INVALID_CONFIG: &str = "PurgeFlow.InvalidConfig";
    pub const INVALID_INPUT: &str = "PurgeFlow.InvalidInput";
    /// Retryable: the service throttled us (SlowDown, ThrottlingException, Throttling, ...).
    pub const THROTTLED: &str = "PurgeFlow.Throttled";
    /// Retryable: CloudFront's in-progress invalidation limits are reached.
    pub const TOO_MANY_INVALIDATIONS: &str = "PurgeFlow.TooManyInvalidationsInProgress";
    /// Retryable: timeouts, connection errors, 5xx.
    pub const TRANSIENT: &str = "PurgeFlow.Transient";
    pub const ACCESS_DENIED: &str = "PurgeFlow.AccessDenied";
    /// The same CallerReference was used for a different batch.
    pub const INVALIDATION_CONFLICT: &str = "PurgeFlow.InvalidationConflict";
    /// The deferral queue holds a backlog, so invalidate-cache's first attempt skips CloudFront
    /// (`backlog_gate.rs`): not retried, caught into DeferBatch like CloudFront's refusals.
    pub const BACKLOG_WAITING: &str = "PurgeFlow.BacklogWaiting";
    /// Any other AWS error: not retried, caught and reported.
    pub const AWS: &str = "PurgeFlow.AwsError";
    /// An execution input without a MAC while unsigned inputs are not allowed: it deletes
    /// nothing and is reported (not retried: retrying can't sign it).
    pub const UNSIGNED_INPUT: &str = "PurgeFlow.UnsignedInput";
    /// An execution input whose MAC does not verify (edited, or another key): it deletes
    /// nothing and is reported.
    pub const BAD_SIGNATURE: &str = "PurgeFlow.BadSignature";

    /// The names the state machine retries.
    pub const RETRYABLE: [&str; 3] = [THROTTLED, TOO_MANY_INVALIDATIONS, TRANSIENT];
}

#[derive(Debug, Error)]
pub enum TaskError {
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::ConfigError),
    #[error("invalid task input: {0}")]
    InvalidInput(String),
    #[error("{service} throttled the request ({code}): {message}; retry with backoff")]
    Throttled {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error("too many CloudFront invalidations in progress on {distribution_id}; retry later")]
    TooManyInvalidations {
        distribution_id: String,
        message: String,
    },
    #[error(
        "the deferral queue holds {backlog} batches (PURGE_SKIP_DIRECT_BACKLOG={threshold}): \
         this batch joins them for the dispatcher instead of asking CloudFront itself"
    )]
    BacklogWaiting { backlog: u64, threshold: u32 },
    #[error("{service} request failed transiently: {message}; safe to retry")]
    Transient {
        service: &'static str,
        message: String,
    },
    #[error("{service} denied access ({code}): {message}; check the function's IAM policy")]
    AccessDenied {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "caller reference {caller_reference} was already used for a different batch on {distribution_id}"
    )]
    InvalidationConflict {
        distribution_id: String,
        caller_reference: String,
    },
    #[error(
        "execution input {batch_id} is not signed: purgeflow did not make it, so it deletes nothing; \
         to admit a hand-written input set PURGE_ALLOW_UNSIGNED_INPUTS=true"
    )]
    UnsignedInput { batch_id: String },
    #[error("execution input {batch_id} has a bad signature, so it deletes nothing: {detail}")]
    BadSignature { batch_id: String, detail: String },
    #[error("{service} returned {code}: {message}")]
    Aws {
        service: &'static str,
        code: String,
        message: String,
    },
}

impl TaskError {
    /// The stable Lambda `errorType`. One `match`, one place.
    pub fn error_type(&self) -> &'static str {
        match self {
            TaskError::InvalidConfig(_) => names::INVALID_CONFIG,
            TaskError::InvalidInput(_) => names::INVALID_INPUT,
            TaskError::Throttled { .. } => names::THROTTLED,
            TaskError::TooManyInvalidations { .. } => names::TOO_MANY_INVALIDATIONS,
            TaskError::BacklogWaiting { .. } => names::BACKLOG_WAITING,
            TaskError::Transient { .. } => names::TRANSIENT,
            TaskError::AccessDenied { .. } => names::ACCESS_DENIED,
            TaskError::InvalidationConflict { .. } => names::INVALIDATION_CONFLICT,
            TaskError::UnsignedInput { .. } => names::UNSIGNED_INPUT,
            TaskError::BadSignature { .. } => names::BAD_SIGNATURE,
            TaskError::Aws { .. } => names::AWS,
        }
    }

    pub fn is_retryable(&self) -> bool {
        names::RETRYABLE.contains(&self.error_type())
    }
}
