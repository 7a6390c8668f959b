//! The purge state machine under mocked tasks: every TestCase of
//! `tests/fixtures/purge.mock-config.json` (Step Functions Local's mock-config format) runs on
//! the engine's virtual clock and is checked against `tests/fixtures/purge.cases.json`: final
//! status, error and cause or output, the exact states entered, and what the tasks were given.
//!
//! As in Step Functions Local, a Task state a test case does not mock runs for real: here the
//! task handlers in-process (`purgeflow_cli::in_process`) against the fake AWS, so a case can
//! check what ReportFailures really published (`"report"`: fields of the first SNS message).

use std::sync::Arc;
use std::time::{Duration, Instant};

use purgeflow_asl::task::TaskRegistry;
use purgeflow_asl::{ExecutionStatus, MockConfig};
use purgeflow_cli::in_process::register_handlers;
use purgeflow_tests::fake_aws::FakeAws;
use purgeflow_tests::purge::{self, MOCK_CONFIG_MACHINE, Recording};
use purgeflow_tests::repo;
use purgeflow_tests::samples::{self, LargestShape};
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
        // An input written in the case itself, any JSON: the wrong-type cases.
        Value::Object(inline) if inline.contains_key("inline") => inline["inline"].clone(),
        Value::Object(generated)
            if generated.get("generated") == Some(&Value::from("largest-trigger-input")) =>
        {
            LargestShape::MostInputBytes.input()
        }
        other => {
            panic!("a case's input is a repository file or {{\"generated\": ...}}, found {other}")
        }
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

/// `expected` with `"<execution input>"` replaced by the execution's input, at any depth.
fn resolve(expected: &Value, input: &Value) -> Value {
    match expected {
        Value::String(s) if s == "<execution input>" => input.clone(),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v, input)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, input)).collect()),
        other => other.clone(),
    }
}

/// The real task handlers, against a fresh fake AWS: what a test case does not mock runs here.
fn real_tasks() -> (TaskRegistry, FakeAws) {
    let aws = FakeAws::new();
    let mut registry = TaskRegistry::new();
    register_handlers(
        &mut registry,
        aws.clients(),
        samples::config(samples::IMAGE_KEY_TEMPLATE, "images/", &[]),
    )
    .expect("the sample configuration is complete");
    (registry, aws)
}

/// What one case run tells: its problems (empty: it passed), its simulated duration, and its
/// largest piece of state data with where it was.
struct CaseRun {
    problems: Vec<String>,
    simulated: Duration,
    largest: (usize, String),
    /// Every task call, for the contract check after the timed run.
    recording: Arc<Recording>,
}

/// Runs one case and checks it against its expectations.
async fn run_case(config: &MockConfig, name: &str, case: &Value) -> CaseRun {
    let mocks = config
        .test_case(MOCK_CONFIG_MACHINE, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    // Only cases that check what was really published run unmocked states for real; the
    // others mock every state they enter, and skip building the handlers.
    let (mocks, aws) = if case.get("report").is_some() {
        let (real, aws) = real_tasks();
        (mocks.with_fallback(Arc::new(real)), Some(aws))
    } else {
        (mocks, None)
    };
    let recording = Recording::new(Arc::new(mocks));
    let input = input_of(case);
    let result = purge::machine()
        .execute(input.clone(), &purge::options(name, recording.clone()))
        .await;
    let mut problems = Vec::new();
    if let Some(expected) = case.get("report").and_then(Value::as_object) {
        let published = aws
            .as_ref()
            .map(|aws| aws.world().published.clone())
            .unwrap_or_default();
        match published.first() {
            None => problems.push("nothing was published on SNS".to_owned()),
            Some(report) => {
                for (field, expected) in expected {
                    let expected = resolve(expected, &input);
                    if report.body.get(field) != Some(&expected) {
                        problems.push(format!(
                            "the report's {field}:\n    expected {expected}\n    got      {:?}",
                            report.body.get(field)
                        ));
                    }
                }
                if let Err(report) =
                    purgeflow_tests::schemas::check("failure-report.schema.json", &report.body)
                {
                    problems.push(format!("the report breaks its schema: {report}"));
                }
            }
        }
    }
    let describe = purge::describe(&result);

    if case["status"].as_str() != Some(status_name(result.status)) {
        problems.push(format!(
            "status: expected {}, got {}",
            case["status"],
            status_name(result.status)
        ));
    }
    let states: Vec<Value> = purge::states_entered(&result)
        .into_iter()
        .map(Value::from)
        .collect();
    if case["states"].as_array() != Some(&states) {
        problems.push(format!(
            "states entered:\n    expected {}\n    got      {}",
            case["states"],
            Value::from(states)
        ));
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
        problems.push(format!(
            "output: expected {expected}, got {:?}",
            result.output
        ));
    }
    if result.status == ExecutionStatus::Succeeded && case.get("output").is_none() {
        problems.push("a succeeding case must state its output".to_owned());
    }
    if result.status != ExecutionStatus::Succeeded
        && (case.get("error").is_none() || case.get("cause").is_none())
    {
        problems.push("a failing case must state its error and cause".to_owned());
    }
    for (state, expected) in case
        .get("invocations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let got = recording.inputs_of(state).len();
        if expected.as_u64() != Some(got as u64) {
            problems.push(format!(
                "{state} invoked {got} time(s), expected {expected}"
            ));
        }
    }
    for (state, fields) in case
        .get("taskInputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(first) = recording.inputs_of(state).into_iter().next() else {
            problems.push(format!(
                "{state} was never invoked, but the case expects its input"
            ));
            continue;
        };
        for (field, expected) in fields.as_object().into_iter().flatten() {
            let expected = resolve(expected, &input);
            if first.get(field) != Some(&expected) {
                problems.push(format!(
                    "{state}'s input.{field}:\n    expected {expected}\n    got      {:?}",
                    first.get(field)
                ));
            }
        }
    }
    for (state, fields) in case
        .get("absentFromTaskInputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for input in recording.inputs_of(state) {
            for field in fields
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if input.get(field).is_some() {
                    problems.push(format!("{state}'s input has `{field}`, which it must not"));
                }
            }
        }
    }
    if let Some(limit) = case.get("maxDurationSeconds").and_then(Value::as_u64)
        && result.duration > Duration::from_secs(limit)
    {
        problems.push(format!(
            "simulated duration {:?} is over {limit} s",
            result.duration
        ));
    }
    let largest = purge::largest_data(&result);
    if largest.0 >= MAX_STATE_DATA_BYTES {
        problems.push(format!(
            "{} is {} bytes, at or over AWS's {MAX_STATE_DATA_BYTES}",
            largest.1, largest.0
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("execution: {describe}"));
    }
    CaseRun {
        problems,
        simulated: result.duration,
        largest,
        recording,
    }
}

#[tokio::test]
async fn every_fixture_case_behaves_as_expected_on_the_virtual_clock() {
    let config = MockConfig::from_value(&repo::read_json(MOCK_CONFIG))
        .unwrap_or_else(|e| panic!("{MOCK_CONFIG}: {e}"));
    let cases = cases();
    assert!(cases.len() >= 10, "{CASES} lost its cases");
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut simulated = Duration::ZERO;
    let mut largest = (0, String::new());
    let mut recordings = Vec::new();
    for (name, case) in &cases {
        let run = run_case(&config, name, case).await;
        simulated += run.simulated;
        if run.largest.0 > largest.0 {
            largest = (run.largest.0, format!("{name}: {}", run.largest.1));
        }
        if !run.problems.is_empty() {
            failures.push(format!("{name}:\n  {}", run.problems.join("\n  ")));
        }
        recordings.push((name, run.recording));
    }
    let elapsed = started.elapsed();
    // What DeferBatch was given and answered keeps to the contract's schemas: its message is a
    // DeferredBatch. (Other tasks' inputs are mocked, or deliberately off-contract in the
    // WrongType cases.) Checked outside the timed run: compiling the schemas in a debug build
    // is slower than the executions.
    for (name, recording) in recordings {
        let violations: Vec<String> = purge::contract_violations(&recording)
            .into_iter()
            .filter(|violation| violation.starts_with("DeferBatch"))
            .collect();
        if !violations.is_empty() {
            failures.push(format!("{name}:\n  {}", violations.join("\n  ")));
        }
    }
    println!(
        "{} purge fixture cases ran in {elapsed:?} of real time ({simulated:?} simulated, retries and backoff included); \
         largest state data {} bytes ({})",
        cases.len(),
        largest.0,
        largest.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The virtual clock makes backoff free: had the engine really waited, real time would be
    // at least the simulated time. Compared with the simulated time rather than a fixed bound,
    // so a slow, shared machine cannot fail it, while a real sleep still would.
    assert!(
        simulated >= Duration::from_secs(10),
        "the fixtures no longer exercise retries and backoff: {simulated:?} simulated"
    );
    assert!(
        elapsed < simulated,
        "the fixture suite took {elapsed:?} of real time for {simulated:?} simulated: the engine waited for real"
    );
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
    assert_eq!(
        mocked_sorted, expected_sorted,
        "{MOCK_CONFIG} test cases and {CASES} must name the same cases"
    );
}

/// The definition cuts every caught `Error` to 256 and `Cause` to 1000 characters before they
/// reach ReportFailures: the trigger's byte budget (tasks/src/trigger.rs) counts on it, since
/// a Lambda's error message has no limit of its own below Step Functions' 32,768 characters.
#[tokio::test]
async fn caught_errors_reach_the_report_cut_to_the_size_the_trigger_budgets_for() {
    let long_error = format!("PurgeFlow.{}", "E".repeat(400));
    let long_cause = "c".repeat(5_000);
    let mut config = repo::read_json(MOCK_CONFIG);
    config["MockedResponses"]["ThrowLongError"] =
        serde_json::json!({"0": {"Throw": {"Error": long_error, "Cause": long_cause}}});
    let cases = &mut config["StateMachines"][MOCK_CONFIG_MACHINE]["TestCases"];
    cases["LongErrorCaught"] = serde_json::json!({
        "ValidateRecords": "ThrowLongError",
        "ReportFailures": "ReportCaughtInvalidConfig"
    });
    cases["LongErrorInMap"] = serde_json::json!({
        "ValidateRecords": "ValidatePhoto",
        "DeleteObjects": "DeletePhoto",
        "BatchPaths": "BatchPhoto",
        "CreateInvalidation": "ThrowLongError",
        "ReportFailures": "ReportFailedInvalidation"
    });
    let config = MockConfig::from_value(&config).expect("the extended mock config is valid");
    let input = repo::read_json("events/executions/photo-remove.json");
    for (case, pointer) in [
        ("LongErrorCaught", "/caught"),
        ("LongErrorInMap", "/failedInvalidations/0"),
    ] {
        let mocks = config
            .test_case(MOCK_CONFIG_MACHINE, case)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let recording = Recording::new(Arc::new(mocks));
        let result = purge::machine()
            .execute(input.clone(), &purge::options(case, recording.clone()))
            .await;
        let report = recording
            .inputs_of("ReportFailures")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{case}: nothing reported; {}", purge::describe(&result)));
        let caught = report
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{case}: the report has no {pointer}: {report}"));
        let length = |field: &str| {
            caught
                .get(field)
                .and_then(Value::as_str)
                .map(|text| text.chars().count())
        };
        let (error, cause) = match pointer {
            "/caught" => ("Error", "Cause"),
            _ => ("error", "cause"),
        };
        assert_eq!(length(error), Some(256), "{case}: {caught}");
        assert_eq!(length(cause), Some(1000), "{case}: {caught}");
    }
}
