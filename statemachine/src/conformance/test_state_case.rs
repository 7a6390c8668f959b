//! Recorded AWS TestState calls (`asl-conformance/test_state/*.json`: `state_definition`,
//! `input`, `test_state_params`, `expected`), run on the engine's TestState and judged: status,
//! output, error and cause, next state, and (at DEBUG and TRACE) the inspection data. Values
//! at the case's `placeholders` (JSON pointers into `expected`) are not compared. The
//! TestState conformance test and `purgeflow asl test` both use it.

use serde_json::Value;

use crate::ExecutionOptions;
use crate::engine::test_state::test_state;
use crate::test_state::{TestStateRequest, TestStateResult};

/// Whether a parsed case file is a TestState case rather than an execution case.
pub fn is_test_state_case(case: &Value) -> bool {
    case.get("state_definition").is_some() && case.get("test_state_params").is_some()
}

/// The first difference between a case's expectation and the engine's answer, if any.
fn judge(case: &Value, actual: &TestStateResult) -> Option<String> {
    let expected = &case["expected"];
    let placeholders: Vec<&str> = case["placeholders"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let status = expected["status"].as_str().unwrap_or("");
    if status != actual.status.api_name() {
        return Some(format!(
            "status: expected {status}, got {} ({:?}: {:?})",
            actual.status.api_name(),
            actual.error,
            actual.cause
        ));
    }
    if let Some(output) = expected.get("output") {
        let got = actual.output.clone().unwrap_or(Value::Null);
        if let Some(diff) = compare(output, &got, "/output", &placeholders) {
            return Some(diff);
        }
    }
    for (field, got) in [("error", &actual.error), ("cause", &actual.cause)] {
        let want = expected.get(field).and_then(Value::as_str);
        if want != got.as_deref() {
            return Some(format!("{field}: expected {want:?}, got {got:?}"));
        }
    }
    let want_next = expected.get("nextState").and_then(Value::as_str);
    if want_next != actual.next_state.as_deref() {
        return Some(format!(
            "nextState: expected {want_next:?}, got {:?}",
            actual.next_state
        ));
    }
    let got_inspection = Value::Object(actual.inspection_data.clone());
    match expected.get("inspectionData") {
        Some(want) => compare(want, &got_inspection, "/inspectionData", &placeholders),
        None if actual.inspection_data.is_empty() => None,
        None => Some(format!(
            "inspectionData: expected none, got {got_inspection}"
        )),
    }
}

/// Structural comparison. AWS returns inspection values as JSON text and the recording kept
/// some as text: an expected string that is JSON for a non-string actual value is compared
/// as that JSON.
fn compare(want: &Value, got: &Value, pointer: &str, placeholders: &[&str]) -> Option<String> {
    if placeholders.contains(&pointer) {
        return None;
    }
    match (want, got) {
        (Value::String(text), other) if !other.is_string() => {
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) if !parsed.is_string() => compare(&parsed, other, pointer, placeholders),
                _ => Some(format!("{pointer}: expected {want}, got {got}")),
            }
        }
        (Value::Object(w), Value::Object(g)) => {
            for key in w.keys().chain(g.keys()) {
                let child = format!("{pointer}/{key}");
                match (w.get(key), g.get(key)) {
                    (Some(wv), Some(gv)) => {
                        if let Some(diff) = compare(wv, gv, &child, placeholders) {
                            return Some(diff);
                        }
                    }
                    (Some(_), None) if placeholders.contains(&child.as_str()) => {}
                    (Some(wv), None) => {
                        return Some(format!("{child}: expected {wv}, got nothing"));
                    }
                    (None, Some(gv)) => return Some(format!("{child}: unexpected {gv}")),
                    (None, None) => {}
                }
            }
            None
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .find_map(|(i, (wv, gv))| compare(wv, gv, &format!("{pointer}/{i}"), placeholders)),
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => None,
        _ if want == got => None,
        _ => Some(format!("{pointer}: expected {want}, got {got}")),
    }
}

/// Runs one parsed case file: `Ok(None)` passed, `Ok(Some(reason))` failed, `Err` when the
/// file is not a usable TestState case.
pub fn run_test_state_case(case: &Value) -> Result<Option<String>, String> {
    let request = TestStateRequest::from_api_parameters(
        case["state_definition"].clone(),
        case["input"].clone(),
        &case["test_state_params"],
    )?;
    let result = futures::executor::block_on(test_state(&request, &ExecutionOptions::default()));
    Ok(match result {
        Ok(actual) => judge(case, &actual),
        Err(error) => Some(format!("not run: {error}")),
    })
}
