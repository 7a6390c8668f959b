//! AWS's cause strings for `States.QueryEvaluationError`.
//!
//! Each wording is copied from a recorded AWS execution (see the tests). The state prefix
//! (`An error occurred while executing the state 'X' (entered at the event id #N). `) is not
//! part of these: only the evaluator knows the state and event id, so it adds the prefix.

use serde_json::Value;

use crate::error::StatesError;

/// The expression evaluated to `undefined` where the field needs a value.
pub(crate) fn returned_undefined(expr: &str, field: &str) -> StatesError {
    StatesError::query_evaluation(format!(
        "The JSONata expression '{expr}' specified for the field '{field}' returned nothing (undefined)."
    ))
}

/// The result nests deeper than purgeflow serialises (ours: AWS documents no such bound, but
/// refuses values past ~7 MB, which a result this deep would approach).
pub(crate) fn nested_too_deep(expr: &str, field: &str, limit: usize) -> StatesError {
    StatesError::query_evaluation(format!(
        "The JSONata expression '{expr}' specified for the field '{field}' returned a value nested deeper than \
         {limit} levels."
    ))
}

/// The JSONata library raised an error; `message` is its own, code first (`T1006: ...`).
pub(crate) fn threw(expr: &str, field: &str, message: &str) -> StatesError {
    let message = aws_message(message);
    StatesError::query_evaluation(format!(
        "The JSONata expression '{expr}' specified for the field '{field}' threw an error during evaluation. {message}"
    ))
}

/// The library's message as jsonata-js (and so AWS) words it. jsonata-core appends the
/// callee to T1006 (`...: $randomSeeded`); jsonata-js does not.
fn aws_message(message: &str) -> &str {
    const NOT_A_FUNCTION: &str = "T1006: Attempted to invoke a non-function";
    if message.starts_with(NOT_A_FUNCTION) {
        NOT_A_FUNCTION
    } else {
        message
    }
}

/// The expression produced a value of the wrong JSON type for the field (`Items` not an
/// array, `Condition` not a boolean, ...).
pub(crate) fn unexpected_type(
    expr: &str,
    field: &str,
    expected: &str,
    value: &Value,
) -> StatesError {
    StatesError::query_evaluation(format!(
        "The JSONata expression '{expr}' specified for the field '{field}' returned an unexpected result type. \
         Expected '{expected}', but was '{}' for value: {}",
        json_type_name(value),
        compact_json(value)
    ))
}

/// JSONata's name for a JSON value's type, as AWS prints it in causes.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compact JSON, as AWS embeds values in causes (`{"foo":"bar"}`).
fn compact_json(value: &Value) -> String {
    // Serialising a `Value` cannot fail (its keys are strings); keep a readable fallback anyway.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::names;
    use serde_json::json;

    // Each expected string is the recorded cause minus the evaluator's state prefix.

    #[test]
    fn undefined_wording_matches_recorded_case() {
        // assign_..._BASE_UNDEFINED_OUTPUT_MULTIPLE_STATES
        let err = returned_undefined("$doesNotExist", "Output/result");
        assert_eq!(err.error, names::QUERY_EVALUATION_ERROR);
        assert_eq!(
            err.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
    }

    #[test]
    fn threw_wording_matches_recorded_case() {
        // intrinsic_functions_test_math_operations_jsonata_..._test_math_random_seeded
        let err = threw(
            "$randomSeeded($states.input.FunctionInput.fst)",
            "Output/FunctionResult",
            "T1006: Attempted to invoke a non-function",
        );
        assert_eq!(
            err.cause,
            "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field \
             'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
        );
    }

    #[test]
    fn t1006_drops_the_callee_jsonata_core_appends() {
        let err = threw(
            "$f()",
            "Output",
            "T1006: Attempted to invoke a non-function: $f",
        );
        assert!(
            err.cause
                .ends_with("during evaluation. T1006: Attempted to invoke a non-function"),
            "{}",
            err.cause
        );
        let err = threw(
            "$f()",
            "Output",
            "D3060: The sqrt function cannot be applied to a negative number: -1",
        );
        assert!(err.cause.ends_with(
            "during evaluation. D3060: The sqrt function cannot be applied to a negative number: -1"
        ));
    }

    #[test]
    fn unexpected_type_wording_matches_recorded_cases() {
        // scenarios_..._test_map_state_items_eval_jsonata_fail_object
        let err = unexpected_type("{'foo': 'bar'}", "Items", "array", &json!({"foo": "bar"}));
        assert_eq!(
            err.cause,
            "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an unexpected result \
             type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
        );
        // ..._variable_sampling_string, _fail_boolean, _fail_null, _fail_number
        let cases = [
            (json!("string"), "'string' for value: \"string\""),
            (json!(true), "'boolean' for value: true"),
            (json!(null), "'null' for value: null"),
            (json!(1), "'number' for value: 1"),
        ];
        for (value, tail) in cases {
            let err = unexpected_type("$ItemsVar", "Items", "array", &value);
            assert_eq!(
                err.cause,
                format!(
                    "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected \
                     result type. Expected 'array', but was {tail}"
                )
            );
        }
    }
}
