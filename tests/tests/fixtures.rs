//! The purge state machine under mocked tasks: every TestCase of
//! `tests/fixtures/purge.mock-config.json` (Step Functions Local's mock-config format) runs on
//! the engine's virtual clock and is checked against `tests/fixtures/purge.cases.json`: final
//! status, error and cause or output, the exact states entered, and what the tasks were given.

use std::sync::Arc;
use std::time::{Duration, Instant};

use purgeflow_asl::{ExecutionStatus, MockConfig};
use purgeflow_tests::purge::{self, MOCK_CONFIG_MACHINE, Recording};
use purgeflow_tests::repo;
use purgeflow_tests::samples::LargestShape;
use serde_json::{Map, Value};

const MOCK_CONFIG: &str = "tests/fixtures/purge.mock-config.json";
const CASES: &str = "tests/fixtures/purge.cases.json";
/// AWS's limit on any state's data (input, output, task parameters and result, each variable).
const MAX_STATE_DATA_BYTES: usize = 256 * 1024;

fn cases() -> Map<String, Value> {
    match repo::read_json(CASES).get("cases") {
        Some(Value::Object(cases)) => cases.clone(),
        _ => panic!("{CASES} must hold an object `cases`"),
    }
}

fn input_of(case: &Value) -> Value {
    match &case["input"] {
        Value::String(file) => repo::read_json(file),
        Value::Object(generated) if generated.get("generated") == Some(&Value::from("largest-trigger-input")) => {
            LargestShape::MostBytes.input()
        }
        other => panic!("a case's input is a repository file or {{\"generated\": ...}}, found {other}"),
    }
}

fn status_name(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        ExecutionStatus::Aborted => "ABORTED",
    }
}

/// `expected` with `"<execution input>"` replaced by the execution's input.
fn resolve(expected: &Value, input: &Value) -> Value {
    match expected {
        Value::String(s) if s == "<execution input>" => input.clone(),
        other => other.clone(),
    }
}

/// Runs one case; returns its problems (empty: it passed) and the simulated duration.
async fn run_case(config: &MockConfig, name: &str, case: &Value) -> (Vec<String>, Duration) {
    let mocks = config.test_case(MOCK_CONFIG_MACHINE, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let recording = Recording::new(Arc::new(mocks));
    let input = input_of(case);
    let result = purge::machine().execute(input.clone(), &purge::options(name, recording.clone())).await;
    let mut problems = Vec::new();
    let describe = purge::describe(&result);

    if case["status"].as_str() != Some(status_name(result.status)) {
        problems.push(format!("status: expected {}, got {}", case["status"], status_name(result.status)));
    }
    let states: Vec<Value> = purge::states_entered(&result).into_iter().map(Value::from).collect();
    if case["states"].as_array() != Some(&states) {
        problems.push(format!("states entered:\n    expected {}\n    got      {}", case["states"], Value::from(states)));
    }
    for (field, actual) in [("error", &result.error), ("cause", &result.cause)] {
        if let Some(expected) = case.get(field)
            && expected.as_str() != actual.as_deref()
        {
            problems.push(format!("{field}: expected {expected}, got {actual:?}"));
        }
    }
    if let Some(expected) = case.get("output")
        && Some(expected) != result.output.as_ref()
    {
        problems.push(format!("output: expected {expected}, got {:?}", result.output));
    }
    if result.status == ExecutionStatus::Succeeded && case.get("output").is_none() {
        problems.push("a succeeding case must state its output".to_owned());
    }
    if result.status != ExecutionStatus::Succeeded && (case.get("error").is_none() || case.get("cause").is_none()) {
        problems.push("a failing case must state its error and cause".to_owned());
    }
    for (state, expected) in case.get("invocations").and_then(Value::as_object).into_iter().flatten() {
        let got = recording.inputs_of(state).len();
        if expected.as_u64() != Some(got as u64) {
            problems.push(format!("{state} invoked {got} time(s), expected {expected}"));
        }
    }
    for (state, fields) in case.get("taskInputs").and_then(Value::as_object).into_iter().flatten() {
        let Some(first) = recording.inputs_of(state).into_iter().next() else {
            problems.push(format!("{state} was never invoked, but the case expects its input"));
            continue;
        };
        for (field, expected) in fields.as_object().into_iter().flatten() {
            let expected = resolve(expected, &input);
            if first.get(field) != Some(&expected) {
                problems.push(format!("{state}'s input.{field}:\n    expected {expected}\n    got      {:?}", first.get(field)));
            }
        }
    }
    for (state, fields) in case.get("absentFromTaskInputs").and_then(Value::as_object).into_iter().flatten() {
        for input in recording.inputs_of(state) {
            for field in fields.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if input.get(field).is_some() {
                    problems.push(format!("{state}'s input has `{field}`, which it must not"));
                }
            }
        }
    }
    if let Some(limit) = case.get("maxDurationSeconds").and_then(Value::as_u64)
        && result.duration > Duration::from_secs(limit)
    {
        problems.push(format!("simulated duration {:?} is over {limit} s", result.duration));
    }
    let (largest, where_) = purge::largest_data(&result);
    if largest >= MAX_STATE_DATA_BYTES {
        problems.push(format!("{where_} is {largest} bytes, at or over AWS's {MAX_STATE_DATA_BYTES}"));
    }
    if !problems.is_empty() {
        problems.push(format!("execution: {describe}"));
    }
    (problems, result.duration)
}

#[tokio::test]
async fn every_fixture_case_behaves_as_expected_in_well_under_two_seconds() {
    let config = MockConfig::from_value(&repo::read_json(MOCK_CONFIG)).unwrap_or_else(|e| panic!("{MOCK_CONFIG}: {e}"));
    let cases = cases();
    assert!(cases.len() >= 10, "{CASES} lost its cases");
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut simulated = Duration::ZERO;
    for (name, case) in &cases {
        let (problems, duration) = run_case(&config, name, case).await;
        simulated += duration;
        if !problems.is_empty() {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{} purge fixture cases ran in {elapsed:?} of real time ({simulated:?} simulated, retries and backoff included)",
        cases.len()
    );
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // Real time: the virtual clock makes backoff free. Debug builds on a shared 2-core machine
    // are slow, so the bound is generous next to the ~100 ms this usually takes.
    assert!(elapsed < Duration::from_secs(2), "the fixture suite took {elapsed:?}");
}

#[test]
fn every_test_case_has_expectations_and_every_expectation_a_test_case() {
    let config = repo::read_json(MOCK_CONFIG);
    let mocked: Vec<&String> = config["StateMachines"][MOCK_CONFIG_MACHINE]["TestCases"]
        .as_object()
        .map(|cases| cases.keys().collect())
        .unwrap_or_default();
    let expected = cases();
    let expected: Vec<&String> = expected.keys().collect();
    let mut mocked_sorted = mocked.clone();
    mocked_sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(mocked_sorted, expected_sorted, "{MOCK_CONFIG} test cases and {CASES} must name the same cases");
}
