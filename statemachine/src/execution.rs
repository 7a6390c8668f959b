//! The public face of the evaluator: run a parsed state machine on an input.
//!
//! OWNER: evaluator (core) helper. The CLI and conformance runner code against these types:
//! extend them freely, but don't rename or remove fields.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// STANDARD or EXPRESS (Express adds the 5-minute limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// One state entered, in order, with its simulated duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateVisit {
    pub name: String,
    pub state_type: String,
    /// Simulated time from the execution's start until the state was entered.
    pub entered_after: Duration,
    /// Simulated time spent in the state (retries and waits included).
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionResult {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Events in AWS GetExecutionHistory's shape: `id`, `previousEventId`, `type`,
    /// `timestamp`, and the type's `...EventDetails` object. Detail fields that AWS returns as
    /// JSON strings (`input`, `output`, ...) are strings here too.
    pub history: Vec<Value>,
    /// The states entered, in order (top level and inside Map/Parallel branches).
    pub states: Vec<StateVisit>,
    /// Total simulated duration (the virtual clock's advance).
    pub duration: Duration,
}
