//! The public face of the evaluator: run a parsed state machine on an input.
//!
//! OWNER: evaluator (core) helper. The CLI and conformance runner code against these types:
//! extend them freely, but don't rename or remove fields.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Sleeper;
use crate::jsonata::JsonataEngine;
use crate::task::{TaskInvoker, TaskRegistry};

/// How to run one execution.
#[derive(Debug, Clone)]
pub struct ExecutionOptions {
    /// Execution name, default "local-execution".
    pub name: String,
    /// For `$$.StateMachine.Name` and the ARNs.
    pub state_machine_name: String,
    pub machine_type: MachineType,
    pub tasks: Arc<dyn TaskInvoker>,
    /// Seeds every random value of the run, so the same definition, input and seed give the
    /// same execution: Retry jitter (JitterStrategy FULL), and what expressions draw
    /// (`States.UUID()`, `States.MathRandom(a, b)` without its own seed, `$uuid()`, `$random()`
    /// without a seed), via [`crate::random::RandomSource`].
    pub seed: u64,
    /// The virtual clock's start.
    pub start_time: DateTime<Utc>,
    pub jsonata: Arc<dyn JsonataEngine>,
    /// Real-time pacing: when set, every delay the virtual clock applies (Retry backoffs, Wait
    /// states) is also awaited on it, e.g. for a run against a real AWS account. The virtual
    /// clock advances identically, so histories and durations are the same with or without.
    /// Parallel branches and Map iterations run one after another, so with a sleeper their
    /// delays add up instead of overlapping. A delay cut short by the execution's timeout or a
    /// failed sibling branch is not slept: the flow ends there anyway.
    pub sleeper: Option<Arc<dyn Sleeper>>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        Self {
            name: "local-execution".to_owned(),
            state_machine_name: "local-state-machine".to_owned(),
            machine_type: MachineType::Standard,
            // An empty registry: every Task fails with "no handler registered for <resource>".
            tasks: Arc::new(TaskRegistry::new()),
            seed: 0,
            // A fixed start keeps default runs reproducible; callers set the real time if they want it.
            start_time: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            jsonata: crate::jsonata::default_engine(),
            // Virtual time only: tests and local endpoints should not wait for real.
            sleeper: None,
        }
    }
}

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
    /// AWS spells it `TIMED_OUT`.
    #[serde(rename = "TIMED_OUT")]
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
