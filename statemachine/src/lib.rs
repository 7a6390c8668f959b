//! purgeflow-asl: an Amazon States Language engine that runs state machine definitions locally,
//! as AWS Step Functions would.
//!
//! The split follows serde_json_path's spec / parser / query layout: a typed model, a validator
//! that rejects everything invalid at load time, and an evaluator whose only failures are real
//! runtime errors carrying their `States.*` names.

pub mod choice;
pub mod context;
pub mod error;
pub mod execution;
pub mod intrinsics;
pub mod jsonata;
pub mod jsonpath;
pub mod validate;

pub use context::PathContext;
pub use error::StatesError;
pub use validate::Diagnostic;
