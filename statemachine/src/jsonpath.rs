//! ASL's JSONPath rules over an RFC 9535 engine (serde_json_path): paths, reference paths,
//! `$$` (context object), `$var` (variables), ResultPath, and payload templates (`"key.$"`).
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator; add, don't change.

use serde_json::Value;

use crate::context::PathContext;
use crate::error::StatesError;

/// Evaluates `path` (`$...` on the input, `$$...` on the context object, `$name...` on a
/// variable) for `field` (the ASL field name, used in AWS's cause strings, e.g. "InputPath").
/// A definite path yields its value; an indefinite one yields an array of matches.
pub fn query(path: &str, ctx: &PathContext<'_>, field: &str) -> Result<Value, StatesError> {
    let _ = (path, ctx, field);
    Err(StatesError::runtime("jsonpath::query is not implemented yet"))
}

/// Applies ResultPath: `None` means the field is absent (`$`, the result replaces the input);
/// `Some(Value::Null)` means `"ResultPath": null` (discard the result, keep the input);
/// `Some(Value::String(path))` places the result at that reference path inside the input.
pub fn apply_result_path(input: &Value, result: Value, result_path: Option<&Value>) -> Result<Value, StatesError> {
    let _ = (input, result, result_path);
    Err(StatesError::runtime("jsonpath::apply_result_path is not implemented yet"))
}

/// Resolves a payload template (Parameters, ResultSelector, ItemSelector, JSONPath-mode Assign):
/// keys ending in `.$` take the value of a path, a `$$` context path, a `$var` variable path,
/// or an intrinsic function call; other values are copied; objects and arrays recurse.
pub fn resolve_payload_template(template: &Value, ctx: &PathContext<'_>, field: &str) -> Result<Value, StatesError> {
    let _ = (template, ctx, field);
    Err(StatesError::runtime("jsonpath::resolve_payload_template is not implemented yet"))
}
