//! The conformance runner end to end through the public API: cases built here, run on the
//! engine, judged; plus the guards that keep one bad case from stopping a suite.

use std::path::Path;
use std::time::Duration;

use purgeflow_asl::conformance::{Case, RunSettings, Summary, Verdict, run_case, run_cases};
use serde_json::{Value, json};

fn case(name: &str, definition: Value, input: Value, expected: Value) -> Case {
    let file = json!({
        "name": name,
        "definition": definition,
        "input": input,
        "state_machine_type": "STANDARD",
        "expected": expected,
        "features": ["state:Pass"],
    });
    Case::parse(&file.to_string(), Path::new("built-in-test.json"))
        .expect("the test builds valid cases")
}

fn pass_machine() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.r", "End": true}}})
}

#[test]
fn a_matching_case_passes_and_a_wrong_recording_fails_with_its_reason() {
    let settings = RunSettings::default();
    let good = case(
        "good",
        pass_machine(),
        json!({"a": true}),
        json!({"status": "SUCCEEDED", "output": {"a": true, "r": {"n": 1}}}),
    );
    assert_eq!(run_case(&good, &settings).verdict, Verdict::Passed);

    let wrong = case(
        "wrong",
        pass_machine(),
        json!({"a": true}),
        json!({"status": "SUCCEEDED", "output": {"a": true, "r": {"n": 2}}}),
    );
    assert_eq!(
        run_case(&wrong, &settings).verdict,
        Verdict::Failed("output: $.output.r.n: expected 2, got 1".to_owned())
    );
}

#[test]
fn a_rejected_definition_is_a_failure_that_names_the_problem() {
    let broken = json!({"StartAt": "Missing", "States": {"P": {"Type": "Pass", "End": true}}});
    let c = case(
        "broken",
        broken,
        json!({}),
        json!({"status": "SUCCEEDED", "output": {}}),
    );
    let Verdict::Failed(reason) = run_case(&c, &RunSettings::default()).verdict else {
        panic!("an invalid definition cannot pass");
    };
    assert!(reason.starts_with("definition rejected"), "{reason}");
}

#[test]
fn a_runaway_loop_ends_as_a_failure_within_the_timeout() {
    // Legal but endless: AWS stops it at its history limit; the engine must too, and the
    // runner reports the mismatch instead of hanging.
    let endless = json!({
        "StartAt": "Again",
        "States": {
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Again"},
            "Done": {"Type": "Succeed"}
        }
    });
    let c = case(
        "endless",
        endless,
        json!({}),
        json!({"status": "SUCCEEDED", "output": {}}),
    );
    let settings = RunSettings {
        timeout: Duration::from_secs(60),
        ..RunSettings::default()
    };
    let Verdict::Failed(reason) = run_case(&c, &settings).verdict else {
        panic!("an endless loop cannot succeed");
    };
    assert!(
        reason.starts_with("status: expected SUCCEEDED, got FAILED"),
        "{reason}"
    );
}

#[test]
fn an_unknown_recorded_status_is_skipped_without_running() {
    let c = case(
        "pending",
        pass_machine(),
        json!({}),
        json!({"status": "PENDING_REDRIVE"}),
    );
    let outcomes = run_cases(std::slice::from_ref(&c), &RunSettings::default(), |_| {});
    assert!(
        matches!(&outcomes[0].verdict, Verdict::Skipped(reason) if reason.contains("PENDING_REDRIVE"))
    );
    assert_eq!(
        Summary::of(&outcomes).line(),
        "0 passed, 0 failed, 1 skipped"
    );
}
