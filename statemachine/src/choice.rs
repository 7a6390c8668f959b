//! JSONPath-mode Choice rules: every comparison operator and its `...Path` variant, `And`, `Or`,
//! `Not`, and the type tests (`IsPresent`, `IsNull`, `IsNumeric`, ...).
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator and validator.

use serde_json::Value;

use crate::context::PathContext;
use crate::error::StatesError;

/// Evaluates one Choice rule (the whole rule object as written in the definition; `Next`,
/// `Assign`, `Output` and `Comment` are ignored here).
pub fn evaluate_rule(rule: &Value, ctx: &PathContext<'_>) -> Result<bool, StatesError> {
    let _ = (rule, ctx);
    Err(StatesError::runtime("choice::evaluate_rule is not implemented yet"))
}

/// Load-time check of a rule's shape (exactly one operator, valid paths, nested rules valid).
/// Returns (relative JSON path, message) pairs.
pub fn check_rule(rule: &Value) -> Vec<(String, String)> {
    let _ = rule;
    Vec::new()
}
