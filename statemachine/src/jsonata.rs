//! JSONata, behind a trait of our own, over a pinned JSONata crate; plus ASL's `{% %}`
//! templates, `$states`, number normalisation and the AWS-specific functions.
//!
//! OWNER: jsonata helper. Signatures are a contract with the evaluator and validator.

use serde_json::{Map, Value};

use crate::error::StatesError;

/// What an expression sees: `$states` (`{input, context, result?, errorOutput?}`) and the
/// variables in scope (`$name`).
#[derive(Debug, Clone, Copy)]
pub struct JsonataBindings<'a> {
    pub states: &'a Value,
    pub variables: &'a Map<String, Value>,
}

/// A JSONata implementation. The engine depends on this trait, never on the crate directly.
pub trait JsonataEngine: Send + Sync + std::fmt::Debug {
    /// Evaluates one expression (without the `{% %}`) for `field` (e.g. "Output"), mapping
    /// failures to `States.QueryEvaluationError` with AWS's cause wording.
    fn evaluate(&self, expr: &str, bindings: &JsonataBindings<'_>, field: &str) -> Result<Value, StatesError>;
    /// Load-time syntax check. The `Err` is a plain message.
    fn check_syntax(&self, expr: &str) -> Result<(), String>;
}

/// True when `s` is a JSONata expression string (`{% ... %}`).
pub fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{%") && t.ends_with("%}")
}

/// Resolves a JSONata-mode field value (Arguments, Output, Assign, Items, ...): strings of the
/// form `{% expr %}` are evaluated, objects and arrays recurse, other values are copied.
pub fn evaluate_template(
    engine: &dyn JsonataEngine,
    template: &Value,
    bindings: &JsonataBindings<'_>,
    field: &str,
) -> Result<Value, StatesError> {
    let _ = (engine, template, bindings, field);
    Err(StatesError::query_evaluation("jsonata::evaluate_template is not implemented yet"))
}

/// The default engine.
pub fn default_engine() -> std::sync::Arc<dyn JsonataEngine> {
    std::sync::Arc::new(Unimplemented)
}

#[derive(Debug)]
struct Unimplemented;

impl JsonataEngine for Unimplemented {
    fn evaluate(&self, _: &str, _: &JsonataBindings<'_>, _: &str) -> Result<Value, StatesError> {
        Err(StatesError::query_evaluation("jsonata engine is not implemented yet"))
    }
    fn check_syntax(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}
