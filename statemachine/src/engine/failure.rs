//! How an error travels through the interpreter until a Catch handles it or the execution fails.

use serde_json::{Map, Value, json};

use super::Entered;
use crate::error::{StatesError, names};

/// An error on its way out of a state. Unlike [`StatesError`], the name and the cause may be
/// absent: a Fail state may give only one of them, and AWS reports exactly what it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The whole execution timed out: it ends as TIMED_OUT and nothing catches it.
    pub timed_out: bool,
    /// `States.ALL` does not catch it (States.Runtime, States.DataLimitExceeded).
    pub terminal: bool,
    /// The cause already names the state it happened in (or must never be reworded, like a
    /// Fail state's or a task's own cause).
    pub located: bool,
    /// Where a JSONata evaluation failed (`Output`, `Assign/x`, ...), for `EvaluationFailed`.
    pub location: Option<String>,
    /// The `EvaluationFailed` event was already recorded.
    pub evaluation_reported: bool,
    /// Not an error of this flow: a sibling Parallel branch failed and this branch was stopped
    /// (AWS stops the other branches). Nothing retries, catches or records it; the Parallel
    /// state reports its sibling's error instead.
    pub stopped: bool,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        let error = error.into();
        let terminal = error == names::RUNTIME || error == names::DATA_LIMIT_EXCEEDED;
        Self {
            error: Some(error),
            cause: Some(cause.into()),
            timed_out: false,
            terminal,
            located: false,
            location: None,
            evaluation_reported: false,
            stopped: false,
        }
    }

    /// A branch stopped because a sibling branch of its Parallel state failed.
    pub fn stopped() -> Self {
        Self {
            error: None,
            cause: None,
            timed_out: false,
            terminal: true,
            located: true,
            location: None,
            evaluation_reported: false,
            stopped: true,
        }
    }

    /// The whole execution ran past its TimeoutSeconds (or Express's five minutes).
    pub fn execution_timeout(deadline: std::time::Duration) -> Self {
        let mut failure = Failure::new(
            names::TIMEOUT,
            format!(
                "The execution timed out after {} seconds.",
                deadline.as_secs()
            ),
        );
        failure.timed_out = true;
        failure.located = true;
        failure
    }

    /// A failure whose error and cause are reported exactly as given (Fail states, tasks).
    pub fn verbatim(error: Option<String>, cause: Option<String>) -> Self {
        let terminal = matches!(
            error.as_deref(),
            Some(names::RUNTIME) | Some(names::DATA_LIMIT_EXCEEDED)
        );
        Self {
            error,
            cause,
            timed_out: false,
            terminal,
            located: true,
            location: None,
            evaluation_reported: false,
            stopped: false,
        }
    }

    pub fn at_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// The field a JSONata error happened in: as set, or as named in AWS's cause wording
    /// ("... specified for the field 'Output/result' ...").
    pub fn evaluation_location(&self) -> Option<String> {
        if self.location.is_some() {
            return self.location.clone();
        }
        let cause = self.cause.as_deref()?;
        let start = cause.find("specified for the field '")? + "specified for the field '".len();
        let end = cause[start..].find('\'')?;
        Some(cause[start..start + end].to_owned())
    }

    /// Not catchable by `States.ALL`, and not reworded.
    pub fn terminal(mut self) -> Self {
        self.terminal = true;
        self.located = true;
        self
    }

    /// Adds AWS's "An error occurred while executing the state ..." preamble to an evaluation
    /// error raised while `entered` ran, once.
    pub(crate) fn in_state(mut self, entered: &Entered<'_>) -> Self {
        if self.located || self.timed_out {
            return self;
        }
        self.located = true;
        let is_states_error = self
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("States."));
        if is_states_error {
            let cause = self.cause.take().unwrap_or_default();
            self.cause = Some(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
                entered.name, entered.id
            ));
        }
        self
    }

    /// `executionFailedEventDetails` and friends: only the parts that exist.
    pub fn details(&self) -> Value {
        let mut details = Map::new();
        if let Some(error) = &self.error {
            details.insert("error".into(), json!(error));
        }
        if let Some(cause) = &self.cause {
            details.insert("cause".into(), json!(cause));
        }
        Value::Object(details)
    }

    /// The error output a Catch hands on: `{"Error": ..., "Cause": ...}`.
    pub fn error_output(&self) -> Value {
        let mut output = Map::new();
        if let Some(error) = &self.error {
            output.insert("Error".into(), json!(error));
        }
        if let Some(cause) = &self.cause {
            output.insert("Cause".into(), json!(cause));
        }
        Value::Object(output)
    }

    /// The name Retry and Catch match on.
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
}

impl From<StatesError> for Failure {
    fn from(e: StatesError) -> Self {
        Failure::new(e.error, e.cause)
    }
}
