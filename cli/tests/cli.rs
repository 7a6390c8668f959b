//! The `purgeflow` binary, run as a user would, on the definitions and cases in `fixtures/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn purgeflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_purgeflow"))
        .args(args)
        .output()
        .expect("the purgeflow binary runs")
}

fn path_arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

// ---- validate ----

#[test]
fn validate_prints_ok_for_valid_definitions() {
    let out = purgeflow(&[
        "validate",
        &path_arg("hello.asl.json"),
        &path_arg("tasks.asl.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("hello.asl.json: OK"), "{text}");
    assert!(text.contains("tasks.asl.json: OK"), "{text}");
}

/// purgeflow's own state machine passes `purgeflow validate` with its local substitutions.
#[test]
fn validate_accepts_purge_asl_json_with_its_substitutions() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let definition = repo.join("statemachine/purge.asl.json");
    let substitutions = repo.join("statemachine/local-substitutions.json");
    let out = purgeflow(&[
        "validate",
        &definition.to_string_lossy(),
        "--substitutions",
        &substitutions.to_string_lossy(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("purge.asl.json: OK"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_reports_path_and_code_and_exits_1() {
    let out = purgeflow(&[
        "validate",
        &path_arg("hello.asl.json"),
        &path_arg("invalid.asl.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("hello.asl.json: OK"),
        "valid files are still reported: {text}"
    );
    assert!(text.contains("invalid.asl.json: "), "{text}");
    let problem = text
        .lines()
        .find(|line| line.contains("MISSING_TRANSITION_TARGET"))
        .unwrap_or_else(|| panic!("no MISSING_TRANSITION_TARGET line in {text}"));
    assert!(problem.contains("$.States.Start.Next"), "{problem}");
}

#[test]
fn validate_reports_unreadable_files_and_goes_on() {
    let out = purgeflow(&[
        "validate",
        "/nonexistent/definition.json",
        &path_arg("hello.asl.json"),
    ]);
    // Exit 2: a file it could not read is not a verdict on a definition.
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/nonexistent/definition.json: cannot read: no such file"),
        "the file is said to be missing, not invalid JSON: {text}"
    );
    assert!(!text.contains("INVALID_JSON_DESCRIPTION"), "{text}");
    assert!(text.contains("hello.asl.json: OK"), "{text}");
    assert!(
        stderr(&out).contains("1 of 2 file(s) could not be read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_applies_substitutions() {
    let out = purgeflow(&[
        "validate",
        &path_arg("substituted.asl.json"),
        "--substitutions",
        &path_arg("substitutions.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("substituted.asl.json: OK"));
}

#[test]
fn validate_names_a_missing_substitution() {
    let out = purgeflow(&[
        "validate",
        &path_arg("substituted.asl.json"),
        "--substitutions",
        &path_arg("substitutions-without-bucket.json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("$.States.Greet.Result.bucket"), "{text}");
    assert!(text.contains("BucketName"), "{text}");
}

// ---- run ----

#[test]
fn run_applies_substitutions() {
    let out = purgeflow(&[
        "run",
        &path_arg("substituted.asl.json"),
        "--substitutions",
        &path_arg("substitutions.json"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let document: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(document["output"], json!({"bucket": "photos-bucket"}));
}

#[test]
fn run_prints_status_output_and_states_in_order() {
    let out = purgeflow(&[
        "run",
        &path_arg("hello.asl.json"),
        "--input",
        &path_arg("hello-input.json"),
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(text.starts_with("status: SUCCEEDED\n"), "{text}");
    assert!(text.contains("\"greeting\": \"Bonjour Ada\""), "{text}");
    let order: Vec<&str> = ["Prepare", "Pause", "PickLanguage", "Bonjour"]
        .into_iter()
        .filter_map(|state| text.find(&format!("  {state} ")).map(|_| state))
        .collect();
    assert_eq!(
        order,
        ["Prepare", "Pause", "PickLanguage", "Bonjour"],
        "{text}"
    );
    let positions: Vec<usize> = order
        .iter()
        .filter_map(|state| text.find(&format!("  {state} ")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "states are listed in visiting order: {text}"
    );
    assert!(
        !text.contains("  Hello "),
        "the Default branch was not taken: {text}"
    );
    assert!(
        text.contains("duration: 10.000s (simulated)"),
        "the Wait costs simulated time only: {text}"
    );
}

#[test]
fn run_json_holds_everything_including_history() {
    let out = purgeflow(&[
        "run",
        &path_arg("hello.asl.json"),
        "--input",
        &path_arg("hello-input.json"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let document: Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON document");
    assert_eq!(document["status"], "SUCCEEDED");
    assert_eq!(document["output"], json!({"greeting": "Bonjour Ada"}));
    let names: Vec<&str> = document["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Prepare", "Pause", "PickLanguage", "Bonjour"]);
    assert_eq!(document["states"][1]["durationSeconds"], 10.0);
    let history = document["history"].as_array().expect("history");
    assert_eq!(
        history.first().and_then(|e| e["type"].as_str()),
        Some("ExecutionStarted")
    );
    assert_eq!(
        history.last().and_then(|e| e["type"].as_str()),
        Some("ExecutionSucceeded")
    );
}

#[test]
fn run_with_mocked_task_results() {
    let out = purgeflow(&[
        "run",
        &path_arg("tasks.asl.json"),
        "--mock-config",
        &path_arg("mock-config.json"),
        "--test-case",
        "HappyPath",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let document: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(document["output"], json!({"size": 3}));
}

#[test]
fn run_reports_a_failed_execution_and_exits_1() {
    let out = purgeflow(&[
        "run",
        &path_arg("tasks.asl.json"),
        "--mock-config",
        &path_arg("mock-config.json"),
        "--test-case",
        "FetchKeepsFailing",
        "--express",
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(text.starts_with("status: FAILED\n"), "{text}");
    assert!(text.contains("error: FetchFailed\n"), "{text}");
    assert!(text.contains("cause: fetch kept failing\n"), "{text}");
    // Two retries, 2 s then 4 s of backoff, on the virtual clock.
    assert!(text.contains("duration: 6.000s (simulated)"), "{text}");
}

#[test]
fn run_names_an_unknown_test_case() {
    let out = purgeflow(&[
        "run",
        &path_arg("tasks.asl.json"),
        "--mock-config",
        &path_arg("mock-config.json"),
        "--test-case",
        "NoSuchCase",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("NoSuchCase"), "{}", stderr(&out));
}

#[test]
fn run_with_a_missing_input_file_is_an_error() {
    let out = purgeflow(&[
        "run",
        &path_arg("hello.asl.json"),
        "--input",
        "/nonexistent/input.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: cannot read input file /nonexistent/input.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_refuses_an_invalid_definition() {
    let out = purgeflow(&["run", &path_arg("invalid.asl.json")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a valid definition"),
        "{}",
        stderr(&out)
    );
}

// ---- asl test ----

#[test]
fn asl_test_passes_matching_cases() {
    // The folder holds executions/, as the shared conformance folder does.
    let out = purgeflow(&["asl", "test", &path_arg("cases/passing")]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(
        text.contains("state:Fail"),
        "per-tag rates are printed: {text}"
    );
    assert_eq!(last_line(&text), "2 passed, 0 failed");
}

#[test]
fn asl_test_lists_failures_with_a_reason_and_exits_1() {
    let out = purgeflow(&[
        "asl",
        "test",
        &path_arg("cases/failing"),
        &path_arg("cases/passing"),
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(
        text.contains(
            "FAIL deliberately_wrong_expectation: output: $.output.value: expected 2, got 1"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("state:Pass") && l.contains("1/2")),
        "{text}"
    );
    assert_eq!(last_line(&text), "2 passed, 1 failed");
}

#[test]
fn asl_test_filters_by_tag() {
    let out = purgeflow(&[
        "asl",
        "test",
        &path_arg("cases/passing"),
        "--tag",
        "state:Fail",
        "--verbose",
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(text.contains("ok   fail_state"), "{text}");
    assert_eq!(last_line(&text), "1 passed, 0 failed");

    let none = purgeflow(&[
        "asl",
        "test",
        &path_arg("cases/passing"),
        "--tag",
        "state:Nope",
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no case has the feature tag \"state:Nope\""),
        "{}",
        stderr(&none)
    );
}

#[test]
fn asl_test_counts_unjudgeable_files_as_skipped_and_says_why() {
    let out = purgeflow(&["asl", "test", &path_arg("cases/unreadable")]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a skip is not a failure: {text}"
    );
    assert!(text.contains("1 case could not be judged:"), "{text}");
    assert!(text.contains("not_a_case: unreadable case file"), "{text}");
    assert_eq!(last_line(&text), "1 passed, 0 failed, 1 skipped");
}

#[test]
fn asl_test_runs_a_single_case_file() {
    let out = purgeflow(&[
        "asl",
        "test",
        &path_arg("cases/failing/deliberately_wrong_expectation.json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert_eq!(last_line(&stdout(&out)), "0 passed, 1 failed");
}

#[test]
fn asl_test_on_a_missing_folder_is_an_error() {
    let out = purgeflow(&["asl", "test", "/nonexistent/cases"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read case folder /nonexistent/cases"),
        "{}",
        stderr(&out)
    );
}

// ---- graph ----

#[test]
fn graph_prints_a_mermaid_flowchart() {
    let out = purgeflow(&["graph", &path_arg("hello.asl.json")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("flowchart TD\n"), "{text}");
    assert!(text.contains("PickLanguage"), "{text}");
}
