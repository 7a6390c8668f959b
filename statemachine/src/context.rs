//! What an expression can see while a state runs.

use serde_json::{Map, Value};

/// The data a JSONPath expression, payload template, intrinsic function or Choice rule reads:
/// the state's (effective) input, the context object (`$$`), and the variables in scope
/// (`$name` in JSONPath mode).
#[derive(Debug, Clone, Copy)]
pub struct PathContext<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: &'a Map<String, Value>,
}
