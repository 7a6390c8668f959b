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

// ---- issue 21: commands as a new user meets them ----

/// The binary with stdout on a pipe whose reading end is already closed: every write fails
/// with EPIPE, as under `purgeflow ... | head -1` once head has exited.
fn purgeflow_into_a_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let child = Command::new(env!("CARGO_BIN_EXE_purgeflow"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the purgeflow binary runs");
    child.wait_with_output().expect("purgeflow ends")
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    for args in [
        vec!["asl", "test", &path_arg("cases/passing")],
        vec!["simulate", "--deletes", "200", "--duration", "5"],
        vec!["graph", &path_arg("hello.asl.json")],
    ] {
        let out = purgeflow_into_a_closed_pipe(&args);
        assert_eq!(
            out.status.code(),
            Some(141),
            "{args:?}: 141 as for SIGPIPE, not a panic's 101; stderr: {}",
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?} says nothing");
    }
}

#[test]
fn a_closed_stdout_in_a_shell_pipeline_is_quiet_too() {
    let binary = env!("CARGO_BIN_EXE_purgeflow");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{binary}\" simulate --deletes 2000 --duration 10 2>stderr.txt | head -1; cat stderr.txt"
        ))
        .current_dir(std::env::temp_dir())
        .output()
        .expect("sh runs");
    let text = stdout(&out);
    assert!(text.starts_with("2000 deletes over 10 s"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(
        text.lines().count(),
        1,
        "head's one line, no message: {text}"
    );
}

#[test]
fn validate_without_substitutions_names_the_flag() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = purgeflow(&[
        "validate",
        &repo.join("statemachine/purge.asl.json").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("INVALID_RESOURCE"), "{text}");
    assert!(
        text.contains("hint: ${...} placeholders need values: pass --substitutions FILE")
            && text.contains("statemachine/local-substitutions.json"),
        "{text}"
    );
}

#[test]
fn graph_refuses_an_invalid_definition() {
    let out = purgeflow(&["graph", &path_arg("invalid.asl.json")]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", stdout(&out));
    assert_eq!(stdout(&out), "", "no partial graph");
    assert!(
        stderr(&out).contains("is not a valid definition, so it is not drawn")
            && stderr(&out).contains("MISSING_TRANSITION_TARGET"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn graph_draws_purge_asl_json_without_substitutions() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = purgeflow(&[
        "graph",
        &repo.join("statemachine/purge.asl.json").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn run_lists_the_test_cases_and_state_machines_the_mock_config_has() {
    let out = purgeflow(&[
        "run",
        &path_arg("tasks.asl.json"),
        "--mock-config",
        &path_arg("mock-config.json"),
        "--test-case",
        "NoSuchCase",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "has no test case named \"NoSuchCase\"; its test cases: \"FetchKeepsFailing\", \"HappyPath\""
        ),
        "{}",
        stderr(&out)
    );
    let out = purgeflow(&[
        "run",
        &path_arg("tasks.asl.json"),
        "--mock-config",
        &path_arg("mock-config.json"),
        "--test-case",
        "HappyPath",
        "--state-machine-name",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no state machine named \"Nope\"; it has \"tasks\""),
        "{}",
        stderr(&out)
    );
}

/// The README's run example: purge.asl.json with the repo's own fixtures, and no
/// --state-machine-name (the mock config's only machine is `Purge`, the file `purge`).
#[test]
fn run_takes_the_mock_configs_only_state_machine() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = |p: &str| repo.join(p).to_string_lossy().into_owned();
    let out = purgeflow(&[
        "run",
        &file("statemachine/purge.asl.json"),
        "--substitutions",
        &file("statemachine/local-substitutions.json"),
        "--input",
        &file("events/executions/photo-remove.json"),
        "--mock-config",
        &file("tests/fixtures/purge.mock-config.json"),
        "--test-case",
        "HappyPathOnePhoto",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("status: SUCCEEDED\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn run_without_mocks_says_which_flags_give_task_results() {
    let out = purgeflow(&["run", &path_arg("tasks.asl.json")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("give task results with --mock-config FILE --test-case NAME"),
        "{text}"
    );
    assert!(!text.contains("TaskRegistry"), "no developer API: {text}");
}

#[test]
fn simulate_refuses_out_of_range_flags_with_the_range() {
    for (flag, value, range) in [
        ("--paths-per-object", "0", "allowed 1 to 6"),
        ("--paths-per-object", "3000", "allowed 1 to 6"),
        ("--shards", "0", "allowed 1 to 65535"),
        ("--batch-size", "0", "allowed 1 to 10000"),
        ("--parallelization-factor", "11", "allowed 1 to 10"),
        ("--max-records-per-execution", "0", "allowed 1 to 10000"),
        ("--duration", "0", "allowed 0.001 to"),
    ] {
        let out = purgeflow(&["simulate", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(
            stderr(&out).contains(&format!("{value} is out of range: {range}"))
                || stderr(&out).contains(&format!("\"{value}\" is out of range: {range}")),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{flag} {value}: nothing simulated");
    }
}

#[test]
fn asl_test_runs_test_state_cases() {
    let out = purgeflow(&["asl", "test", &path_arg("cases/test_state"), "--verbose"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one case is wrong on purpose: {text}"
    );
    assert!(text.contains("ok   pass_with_result"), "{text}");
    assert!(
        text.contains("FAIL succeed_wrong_expectation: /output/v: expected 2, got 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("test_state") && l.contains("1/2")),
        "{text}"
    );
    assert_eq!(last_line(&text), "1 passed, 1 failed");
}

// ---- replay, from files (a dry run calls no AWS) ----

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("purgeflow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(name);
    std::fs::write(&file, contents).expect("write");
    file
}

fn replay_dry_run(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_purgeflow"))
        .args(["replay", "--dry-run"])
        .arg(file)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the purgeflow binary runs")
}

fn report(replay_input: Value) -> Value {
    json!({
        "reportVersion": 1,
        "executionName": "e",
        "batchId": "b-1",
        "part": 1,
        "parts": 1,
        "rejections": [],
        "deleteFailures": [],
        "failedInvalidations": [],
        "replayInput": replay_input
    })
}

fn replay_input() -> Value {
    json!({"batchId": "b-1", "records": [], "targets": [{"bucket": "b", "key": "images/k.jpg", "paths": ["/images/k.jpg"], "eventId": "e", "tableKeys": {}}]})
}

#[test]
fn replay_refuses_a_file_that_holds_no_report() {
    for (name, contents) in [
        ("not-a-report.json", json!({"hello": 1})),
        ("empty-array.json", json!([])),
        ("a-string.json", json!("report")),
    ] {
        let out = replay_dry_run(&temp_file(name, contents.to_string().as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
        assert!(
            stderr(&out).contains(name) && stderr(&out).contains("nothing was started")
                || stderr(&out).contains("no failure report"),
            "{name}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn replay_says_a_replay_input_that_is_not_an_object() {
    let out = replay_dry_run(&temp_file(
        "string-input.json",
        report(json!("batch b-1")).to_string().as_bytes(),
    ));
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("its replayInput is a string, not an execution input"),
        "{message}"
    );
    assert!(!message.contains("rejected record(s) only"), "{message}");
}

#[test]
fn replay_names_a_wrong_type_by_its_path() {
    let mut input = replay_input();
    input["targets"][0]["key"] = json!(5);
    let out = replay_dry_run(&temp_file(
        "wrong-type.json",
        report(input).to_string().as_bytes(),
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("replayInput.targets[0].key: expected a string, found integer 5"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn replay_names_the_bad_line_of_json_lines() {
    let text = format!("{}\n{{\"reportVersion\": 1,\n", report(replay_input()));
    let out = replay_dry_run(&temp_file("reports.jsonl", text.as_bytes()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 2 is not JSON: EOF while parsing a value at column 20"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("trailing characters"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn replay_accepts_a_byte_order_mark() {
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(report(replay_input()).to_string().as_bytes());
    let out = replay_dry_run(&temp_file("bom.json", &bytes));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("dry run: 1 execution(s) would start"),
        "{}",
        stdout(&out)
    );
}

/// A dry run judges every target and batch with the tasks' own checks, under the
/// configuration the replay would run with, and prints each with every reason it would be
/// refused for.
#[test]
fn replay_dry_run_shows_every_target_and_batch_and_why_it_would_be_refused() {
    let target = |key: &str, event: &str| json!({"bucket": "photo-bucket", "key": key, "paths": [format!("/{key}")], "eventId": event, "tableKeys": {"id": {"S": event}}});
    let bad_paths = vec!["/images/%2e%2e/private/x.jpg".to_owned()];
    let input = json!({
        "batchId": "b-1",
        "records": [],
        "targets": [
            target("images/a.jpg", "e1"),
            target("images/..;/private/x.jpg", "e2"),
            target("private/b.jpg", "e3"),
            target("images/a.jpg", "e4"),
        ],
        "batches": [{
            "distributionId": "E1",
            "callerReference": purgeflow_tasks::paths::caller_reference("b-0", "E1", &bad_paths),
            "paths": bad_paths,
        }],
    });
    let file = temp_file("judged.json", report(input).to_string().as_bytes());
    let state_dir =
        std::env::temp_dir().join(format!("purgeflow-cli-judged-{}", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_purgeflow"));
    command
        .args(["replay", "--dry-run", "--state-dir"])
        .arg(&state_dir)
        .arg(&file)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, _) in std::env::vars() {
        if name.starts_with("PURGE_") {
            command.env_remove(name);
        }
    }
    let out = command
        .env("PURGE_BUCKET", "photo-bucket")
        .env("PURGE_KEY_TEMPLATE", "{image_key}")
        .env("PURGE_KEY_PREFIX", "images/")
        .env("PURGE_DISTRIBUTION_ID", "E1")
        .output()
        .expect("the purgeflow binary runs");
    let text = stdout(&out);
    // Something would be refused: the replay would not complete.
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    let after = |start: &str| -> Vec<&str> {
        let at = lines
            .iter()
            .position(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starts with {start:?}:\n{text}"));
        lines[at..].to_vec()
    };
    assert_eq!(
        after("  target 1:")[0],
        r#"  target 1: bucket photo-bucket, key "images/a.jpg", paths ["/images/a.jpg"]: would be deleted"#
    );
    assert_eq!(
        after("  target 2:")[..2],
        [
            r#"  target 2: bucket photo-bucket, key "images/..;/private/x.jpg", paths ["/images/..;/private/x.jpg"]: REFUSED"#,
            r#"      UnsafeKey: unsafe key "images/..;/private/x.jpg": has a segment "..;" that is `..` once its `;` path parameter is dropped (Tomcat, Jetty and other servlet containers drop `;...` from each segment)"#,
        ]
    );
    assert_eq!(
        after("  target 3:")[..2],
        [
            r#"  target 3: bucket photo-bucket, key "private/b.jpg", paths ["/private/b.jpg"]: REFUSED"#,
            r#"      KeyOutsidePrefix: key "private/b.jpg" is outside the allowed prefix "images/""#,
        ]
    );
    assert_eq!(
        after("  target 4:")[0],
        r#"  target 4: bucket photo-bucket, key "images/a.jpg", paths ["/images/a.jpg"]: would be deleted"#
    );
    let batch = after("  batch 1:");
    assert_eq!(
        batch[0],
        r#"  batch 1: distribution E1, 1 path(s) ["/images/%2e%2e/private/x.jpg"]: REFUSED"#
    );
    assert!(
        batch[1].starts_with(r#"      DroppedBatch: path "/images/%2e%2e/private/x.jpg" "#)
            && batch[1].contains("has a `..` segment"),
        "{text}"
    );
    // Targets, not records; the two targets naming images/a.jpg delete one object.
    assert_eq!(
        last_line(&text),
        "dry run: 1 execution(s) would start; 4 target(s), 2 refused; 1 distinct object(s) would be deleted; 1 replayed batch(es), 1 refused; nothing was started"
    );
}

#[test]
fn validate_accepts_a_byte_order_mark() {
    let definition = std::fs::read(fixture("hello.asl.json")).expect("fixture");
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(definition);
    let file = temp_file("bom.asl.json", &bytes);
    let out = purgeflow(&["validate", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// ---- local ----

#[test]
fn local_names_every_missing_variable_at_once() {
    let state_dir =
        std::env::temp_dir().join(format!("purgeflow-cli-local-{}", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_purgeflow"));
    command
        .args(["local", "--once", "--state-dir"])
        .arg(&state_dir)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Nothing listens there: the configuration must be judged before any call.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    for (name, _) in std::env::vars() {
        if name.starts_with("PURGE_") {
            command.env_remove(name);
        }
    }
    let out = command.output().expect("the purgeflow binary runs");
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("6 variables are not set"), "{message}");
    for variable in [
        "PURGE_TABLE_NAME",
        "PURGE_BUCKET",
        "PURGE_KEY_TEMPLATE",
        "PURGE_DISTRIBUTION_ID",
        "PURGE_TOPIC_ARN",
        "PURGE_MAC_KEY_ID",
    ] {
        assert!(message.contains(variable), "{variable}: {message}");
    }
    assert!(
        message.contains("--provision creates the distribution and topic"),
        "{message}"
    );
    assert!(
        !message.contains("127.0.0.1:1"),
        "no call was made: {message}"
    );
}
