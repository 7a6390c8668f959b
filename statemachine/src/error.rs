//! Runtime errors, carried with AWS's `States.*` names and cause strings.

use serde::{Deserialize, Serialize};

/// A runtime error as Step Functions reports it: an error name and a cause.
///
/// The names are AWS's (`States.Runtime`, `States.QueryEvaluationError`, ...) or, for a task
/// failure, whatever the task threw. Cause strings follow AWS's wording, because users match on
/// them and the conformance cases compare them literally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StatesError {
    pub error: String,
    pub cause: String,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }
    pub fn query_evaluation(cause: impl Into<String>) -> Self {
        Self::new(names::QUERY_EVALUATION_ERROR, cause)
    }
}

/// AWS's predefined error names.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// Undocumented, but what AWS raises when ResultPath cannot be applied to the input.
    pub const REFERENCE_PATH_CONFLICT: &str = "States.ReferencePathConflict";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
}
