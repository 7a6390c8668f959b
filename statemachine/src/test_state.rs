//! Run one state in isolation, as AWS's TestState API does: the request and the answer. The
//! run itself is [`crate::engine::test_state::test_state`], which uses these types (this module
//! uses nothing of the engine).
//!
//! A request names a state (a single state definition, or a whole machine and the state's
//! name), its input, and optionally a mocked task result or error, variables, a context
//! object and the "state configuration" TestState accepts (retry count so far, Map iteration
//! failures, which inner state raised a mocked error). The answer is TestState's: a status
//! (`SUCCEEDED`, `FAILED`, `CAUGHT_ERROR`, `RETRIABLE`), the output or the error and cause, the
//! next state, and, at inspection level DEBUG or TRACE, the data after each processing step
//! (`afterInputPath`, `afterParameters`, `result`, `afterResultSelector`, `afterResultPath`,
//! `afterArguments`, `afterItemsPath`, `maxConcurrency`, `toleratedFailureCount`, ...).
//!
//! Semantics follow AWS's TestState documentation and the recorded TestState cases in
//! `../shared/asl-conformance/test_state`: a Map or Parallel state does not run its
//! iterations or branches; its mocked result stands for them, and
//! `mapIterationFailureCount` says how many iterations failed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::Diagnostic;

/// How much of the intermediate data the answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InspectionLevel {
    /// Status, output or error, next state.
    #[default]
    Info,
    /// Also the data after each processing step.
    Debug,
    /// As DEBUG (the HTTP request and response of HTTP tasks are not modelled).
    Trace,
}

/// A mocked task (or Map/Parallel) outcome: a result, or an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestStateMock {
    pub result: Option<Value>,
    pub error: Option<MockedError>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockedError {
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// TestState's `stateConfiguration`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateConfiguration {
    /// Retries already made (`$$.State.RetryCount`): decides whether a Retrier still applies.
    pub retrier_retry_count: u32,
    /// How many Map iterations failed (their results are the mocked result's elements).
    pub map_iteration_failure_count: u64,
    /// The state inside a Map or Parallel that raised the mocked error.
    pub error_caused_by_state: Option<String>,
    /// The items an ItemReader would have read.
    pub map_item_reader_data: Option<Value>,
}

/// One TestState call.
#[derive(Debug, Clone, Default)]
pub struct TestStateRequest {
    /// A single state's definition, or a whole machine (then [`Self::state_name`] picks one).
    pub definition: Value,
    pub state_name: Option<String>,
    pub input: Value,
    pub inspection_level: InspectionLevel,
    pub mock: Option<TestStateMock>,
    pub variables: Map<String, Value>,
    /// The context object (`$$`, `$states.context`); a default one when absent.
    pub context: Option<Value>,
    pub state_configuration: StateConfiguration,
}

impl TestStateRequest {
    /// Reads the request from TestState's parameters as the API takes them (`inspectionLevel`,
    /// `mock {result, errorOutput {error, cause}}`, `stateConfiguration`, `variables`,
    /// `context`, `stateName`); `mock.result`, `variables`, `context` and
    /// `mapItemReaderData` are JSON text there, as in the API.
    pub fn from_api_parameters(
        definition: Value,
        input: Value,
        params: &Value,
    ) -> Result<Self, String> {
        let text_json = |value: Option<&Value>, field: &str| -> Result<Option<Value>, String> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => serde_json::from_str(text)
                    .map(Some)
                    .map_err(|e| format!("{field} is not valid JSON: {e}")),
                Some(other) => Ok(Some(other.clone())),
            }
        };
        let inspection_level = match params.get("inspectionLevel").and_then(Value::as_str) {
            None | Some("INFO") => InspectionLevel::Info,
            Some("DEBUG") => InspectionLevel::Debug,
            Some("TRACE") => InspectionLevel::Trace,
            Some(other) => return Err(format!("unknown inspectionLevel '{other}'")),
        };
        let mock = match params.get("mock") {
            None | Some(Value::Null) => None,
            Some(mock) => Some(TestStateMock {
                result: text_json(mock.get("result"), "mock.result")?,
                error: mock.get("errorOutput").map(|e| MockedError {
                    error: e.get("error").and_then(Value::as_str).map(str::to_owned),
                    cause: e.get("cause").and_then(Value::as_str).map(str::to_owned),
                }),
            }),
        };
        let configuration = params.get("stateConfiguration");
        let number = |key: &str| {
            configuration
                .and_then(|c| c.get(key))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let state_configuration = StateConfiguration {
            retrier_retry_count: u32::try_from(number("retrierRetryCount")).unwrap_or(u32::MAX),
            map_iteration_failure_count: number("mapIterationFailureCount"),
            error_caused_by_state: configuration
                .and_then(|c| c.get("errorCausedByState"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            map_item_reader_data: text_json(
                configuration.and_then(|c| c.get("mapItemReaderData")),
                "stateConfiguration.mapItemReaderData",
            )?,
        };
        let variables = match text_json(params.get("variables"), "variables")? {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err("variables must be a JSON object".to_owned()),
        };
        Ok(Self {
            definition,
            state_name: params
                .get("stateName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input,
            inspection_level,
            mock,
            variables,
            context: text_json(params.get("context"), "context")?,
            state_configuration,
        })
    }
}

/// TestState's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStateStatus {
    Succeeded,
    Failed,
    /// A Catcher handled the error: `next_state` is its Next, `output` its output.
    CaughtError,
    /// A Retrier would retry the state.
    Retriable,
}

impl TestStateStatus {
    /// The API's spelling (`CAUGHT_ERROR`, ...).
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::CaughtError => "CAUGHT_ERROR",
            Self::Retriable => "RETRIABLE",
        }
    }
}

/// TestState's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateResult {
    pub status: TestStateStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub next_state: Option<String>,
    /// Empty at inspection level INFO.
    pub inspection_data: Map<String, Value>,
}

/// Why a request could not be run at all (as opposed to a state that failed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestStateError {
    #[error("the definition is invalid: {}", .0.iter().map(|d| format!("{} at {}: {}", d.code, d.path, d.message)).collect::<Vec<_>>().join("; "))]
    InvalidDefinition(Vec<Diagnostic>),
    #[error("the machine has no state named '{0}'")]
    NoSuchState(String),
    #[error("a machine definition needs a stateName to test")]
    StateNameRequired,
}
