//! purgeflow-asl: an Amazon States Language engine that runs state machine definitions locally,
//! as AWS Step Functions would.
//!
//! The split follows serde_json_path's spec / parser / query layout: a typed model, a validator
//! that rejects everything invalid at load time, and an evaluator whose only failures are real
//! runtime errors carrying their `States.*` names.

pub mod choice;
pub mod clock;
pub mod conformance;
pub mod context;
pub mod engine;
pub mod error;
pub mod execution;
pub mod graph;
pub mod history;
pub mod intrinsics;
pub mod jsonata;
pub mod jsonpath;
pub mod machine;
pub mod mock;
pub mod model;
pub mod random;
pub mod sqs;
pub mod task;
pub mod test_state;
pub mod validate;

pub use context::PathContext;
pub use error::StatesError;
pub use execution::{ExecutionOptions, ExecutionResult, ExecutionStatus, MachineType, StateVisit};
pub use machine::StateMachine;
pub use mock::{MockConfig, MockConfigError, MockedTasks};
pub use task::{TaskHandler, TaskInvoker, TaskRegistry};
pub use validate::Diagnostic;
