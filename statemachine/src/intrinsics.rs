//! The 18 intrinsic functions (`States.Format`, `States.Array`, ... ), with ASL's escaping rules.
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator and validator.

use serde_json::Value;

use crate::context::PathContext;
use crate::error::StatesError;

/// True when a `.$` value is an intrinsic function call rather than a path.
pub fn is_intrinsic(expr: &str) -> bool {
    expr.trim_start().starts_with("States.")
}

/// Evaluates an intrinsic function call (nested calls and path arguments included).
pub fn evaluate(expr: &str, ctx: &PathContext<'_>) -> Result<Value, StatesError> {
    let _ = (expr, ctx);
    Err(StatesError::runtime("intrinsics::evaluate is not implemented yet"))
}

/// Load-time check of syntax, function names and arity. The `Err` is a plain message.
pub fn check_syntax(expr: &str) -> Result<(), String> {
    let _ = expr;
    Ok(())
}
