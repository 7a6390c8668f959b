//! Engine tests on small hand-written machines. To compare one recorded conformance case's
//! history with ours, run `purgeflow asl test CASE.json --verbose`; for throughput, the criterion
//! bench `cargo bench -p purgeflow-asl --bench engine`.

use serde_json::{Value, json};

use crate::execution::{ExecutionOptions, ExecutionResult};
use crate::machine::StateMachine;

fn execute(definition: Value, input: Value, options: &ExecutionOptions) -> ExecutionResult {
    let machine = StateMachine::from_value(&definition).expect("valid definition");
    futures::executor::block_on(machine.execute(input, options))
}

#[test]
fn a_next_cycle_stops_at_the_history_limit() {
    // Legal: the exit exists but is never taken.
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "BooleanEquals": true, "Next": "Done"}], "Default": "A"},
        "Done": {"Type": "Succeed"}
    }});
    let result = execute(
        definition,
        json!({"stop": false}),
        &ExecutionOptions::default(),
    );
    assert_eq!(result.status, crate::execution::ExecutionStatus::Failed);
    assert_eq!(result.error.as_deref(), Some("States.Runtime"));
    assert!(
        result
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("maximum number of history events")),
        "{:?}",
        result.cause
    );
    assert!(result.history.len() as u64 <= super::MAX_HISTORY_EVENTS + 2);
}

#[test]
fn express_executions_time_out_after_five_simulated_minutes() {
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 200, "Next": "W2"}, "W2": {"Type": "Wait", "Seconds": 200, "End": true}}});
    let express = ExecutionOptions {
        machine_type: crate::execution::MachineType::Express,
        ..Default::default()
    };
    let result = execute(definition.clone(), json!({}), &express);
    assert_eq!(result.status, crate::execution::ExecutionStatus::TimedOut);
    assert_eq!(result.error.as_deref(), Some("States.Timeout"));
    assert_eq!(result.duration, std::time::Duration::from_secs(300));
    assert_eq!(
        result.history.last().map(|e| e["type"].clone()),
        Some(json!("ExecutionTimedOut"))
    );

    let standard = execute(definition, json!({}), &ExecutionOptions::default());
    assert_eq!(
        standard.status,
        crate::execution::ExecutionStatus::Succeeded
    );
    assert_eq!(standard.duration, std::time::Duration::from_secs(400));
    let visits: Vec<_> = standard
        .states
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.entered_after.as_secs(),
                v.duration.as_secs(),
            )
        })
        .collect();
    assert_eq!(visits, [("W", 0, 200), ("W2", 200, 200)]);
}

fn mocked(responses: Value, states: Value) -> ExecutionOptions {
    let config = crate::mock::MockConfig::from_value(&json!({
        "StateMachines": {"M": {"TestCases": {"T": states}}},
        "MockedResponses": responses
    }))
    .expect("valid mock config");
    let tasks = config.test_case("M", "T").expect("test case");
    ExecutionOptions {
        tasks: std::sync::Arc::new(tasks),
        ..Default::default()
    }
}

fn event_types(result: &ExecutionResult) -> Vec<String> {
    result
        .history
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn retries_back_off_on_the_virtual_clock_then_succeed() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}],
        "End": true
    }}});
    let options = mocked(
        json!({"R": {"0-1": {"Throw": {"Error": "Flaky", "Cause": "try again"}}, "2": {"Return": {"ok": true}}}}),
        json!({"Call": "R"}),
    );
    let started = std::time::Instant::now();
    let result = execute(definition, json!({}), &options);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "nothing sleeps"
    );
    assert_eq!(
        result.status,
        crate::execution::ExecutionStatus::Succeeded,
        "{:?}",
        result.cause
    );
    assert_eq!(result.output, Some(json!({"ok": true})));
    assert_eq!(result.duration, std::time::Duration::from_secs(2 + 6));
    let types = event_types(&result);
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "LambdaFunctionFailed")
            .count(),
        2
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "LambdaFunctionScheduled")
            .count(),
        3
    );
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
}

#[test]
fn catch_routes_the_error_output_through_result_path() {
    let definition = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}], "End": true},
        "Report": {"Type": "Pass", "End": true}
    }});
    let options = mocked(
        json!({"R": {"0": {"Throw": {"Error": "Boom", "Cause": "bad"}}}}),
        json!({"Call": "R"}),
    );
    let result = execute(definition, json!({"id": 7}), &options);
    assert_eq!(
        result.output,
        Some(json!({"id": 7, "error": {"Error": "Boom", "Cause": "bad"}}))
    );
    let types = event_types(&result);
    assert!(
        types.contains(&"TaskFailed".to_owned()) && types.contains(&"TaskStateExited".to_owned()),
        "{types:?}"
    );
    let visited: Vec<_> = result.states.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(visited, ["Call", "Report"]);
}

#[test]
fn a_missing_handler_is_not_swallowed_by_states_all() {
    let definition = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Swallow"}], "End": true},
        "Swallow": {"Type": "Succeed"}
    }});
    let result = execute(definition, json!({}), &ExecutionOptions::default());
    assert_eq!(result.status, crate::execution::ExecutionStatus::Failed);
    assert_eq!(result.error.as_deref(), Some("States.Runtime"));
    assert!(
        result
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("no handler registered for")),
        "{:?}",
        result.cause
    );
}

#[test]
fn branches_run_side_by_side_in_simulated_time() {
    let wait = |s: u64| {
        let name = format!("W{s}");
        json!({"StartAt": name, "States": {name.clone(): {"Type": "Wait", "Seconds": s, "End": true}}})
    };
    let parallel = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [wait(10), wait(30)], "End": true}}});
    let result = execute(parallel, json!({}), &ExecutionOptions::default());
    assert_eq!(result.duration, std::time::Duration::from_secs(30));
    assert_eq!(result.output, Some(json!([{}, {}])));

    let map = |max: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": max,
            "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}, "End": true}}})
    };
    let items = json!([1, 2, 3, 4]);
    assert_eq!(
        execute(map(2), items.clone(), &ExecutionOptions::default()).duration,
        std::time::Duration::from_secs(20)
    );
    assert_eq!(
        execute(map(1), items.clone(), &ExecutionOptions::default()).duration,
        std::time::Duration::from_secs(40)
    );
    let unbounded = execute(map(0), items, &ExecutionOptions::default());
    assert_eq!(unbounded.duration, std::time::Duration::from_secs(10));
    assert_eq!(unbounded.output, Some(json!([1, 2, 3, 4])));
}

#[test]
fn variables_assigned_in_a_branch_stay_inside_it() {
    let definition = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Assign": {"y": 2}, "Parameters": {"x.$": "$x"}, "End": true}}}], "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"x.$": "$x", "branch.$": "$[0]"}, "End": true}
    }});
    let result = execute(definition, json!({}), &ExecutionOptions::default());
    assert_eq!(
        result.output,
        Some(json!({"x": 1, "branch": {"x": 1}})),
        "{:?}",
        result.cause
    );
    let reads_y = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Assign": {"y": 2}, "End": true}}}], "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"y.$": "$y"}, "End": true}
    }});
    assert_eq!(
        execute(reads_y, json!({}), &ExecutionOptions::default()).status,
        crate::execution::ExecutionStatus::Failed
    );
}

#[test]
fn deep_nesting_fails_cleanly() {
    let nest = |levels: usize| {
        let mut machine =
            json!({"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": true}}});
        for level in 0..levels {
            let name = format!("P{level}");
            machine = json!({"StartAt": name, "States": {name.clone(): {"Type": "Parallel", "Branches": [machine], "End": true}}});
        }
        machine
    };
    // As deep as the validator allows: runs on an ordinary test thread.
    let validated = execute(nest(30), json!({"k": 1}), &ExecutionOptions::default());
    assert_eq!(
        validated.status,
        crate::execution::ExecutionStatus::Succeeded,
        "{:?}",
        validated.cause
    );

    // Deeper than the engine's own bound (only reachable by skipping validation).
    let deep = nest(super::MAX_NESTING_DEPTH + 2);
    let result = std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(move || {
            let model =
                crate::model::Definition::from_value(&deep).expect("within the model's depth cap");
            futures::executor::block_on(super::run(&model, json!({}), &ExecutionOptions::default()))
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    assert_eq!(result.status, crate::execution::ExecutionStatus::Failed);
    assert!(
        result
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("nested more than")),
        "{:?}",
        result.cause
    );

    // Far deeper: the model refuses before serde recurses.
    let err = crate::model::Definition::from_value(&nest(400)).expect_err("too deep");
    assert_eq!(err.code, "TOO_DEEPLY_NESTED");
}

#[test]
fn huge_arrays_pass_through_and_oversized_outputs_fail_with_data_limit() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let big: Vec<u32> = (0..20_000).collect();
    let result = execute(definition.clone(), json!(big), &ExecutionOptions::default());
    assert_eq!(result.status, crate::execution::ExecutionStatus::Succeeded);

    let blob = "x".repeat(super::MAX_PAYLOAD_BYTES);
    let grow = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": blob, "ResultPath": "$.blob", "End": true}}});
    let result = execute(grow, json!({}), &ExecutionOptions::default());
    assert_eq!(result.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        result.cause.as_deref(),
        Some(
            "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
        )
    );

    let too_big_input = execute(
        definition,
        json!("y".repeat(super::MAX_PAYLOAD_BYTES + 1)),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        too_big_input.error.as_deref(),
        Some("States.DataLimitExceeded")
    );
}

#[test]
fn map_failure_tolerance() {
    let definition = |tolerated: Value| {
        let mut map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "Bad"}], "Default": "Ok"},
            "Bad": {"Type": "Fail", "Error": "TooBig", "Cause": "item over 2"},
            "Ok": {"Type": "Pass", "End": true}}}, "End": true});
        if let (Value::Object(m), Value::Object(t)) = (&mut map, tolerated) {
            m.extend(t);
        }
        json!({"StartAt": "M", "States": {"M": map}})
    };
    let items = json!([1, 2, 3, 4]);
    let strict = execute(
        definition(json!({})),
        items.clone(),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        (strict.error.as_deref(), strict.cause.as_deref()),
        (Some("TooBig"), Some("item over 2"))
    );
    let tolerant = execute(
        definition(json!({"ToleratedFailureCount": 2})),
        items.clone(),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        tolerant.status,
        crate::execution::ExecutionStatus::Succeeded,
        "{:?}",
        tolerant.cause
    );
    let exceeded = execute(
        definition(json!({"ToleratedFailurePercentage": 25})),
        items,
        &ExecutionOptions::default(),
    );
    assert_eq!(
        exceeded.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // Both set: exceeding either fails the Map (AWS developer guide, maprun-fail-threshold:
    // "If you specify both values, the workflow fails when it exceeds either value"). Two of
    // four items fail: within a count of 2, over 25 %.
    let either = execute(
        definition(json!({"ToleratedFailureCount": 2, "ToleratedFailurePercentage": 25})),
        json!([1, 2, 3, 4]),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        either.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let within_both = execute(
        definition(json!({"ToleratedFailureCount": 2, "ToleratedFailurePercentage": 50})),
        json!([1, 2, 3, 4]),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        within_both.status,
        crate::execution::ExecutionStatus::Succeeded
    );
}

/// ExecutionOptions.seed fixes every random value expressions draw: `States.UUID()`,
/// unseeded `States.MathRandom`, `$uuid()` and unseeded `$random()`.
#[test]
fn a_seed_makes_random_values_reproducible() {
    let definition = json!({"StartAt": "Path", "States": {
        "Path": {"Type": "Pass", "Parameters": {
            "uuid.$": "States.UUID()", "n.$": "States.MathRandom(0, 1000000)"}, "Next": "Ata"},
        "Ata": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {
            "path": "{% $states.input %}", "uuid": "{% $uuid() %}", "r": "{% $random() %}"},
            "End": true}}});
    let run = |seed: u64| {
        let options = ExecutionOptions {
            seed,
            ..Default::default()
        };
        let result = execute(definition.clone(), json!({}), &options);
        result.output.expect("succeeds")
    };
    let first = run(11);
    assert_eq!(first, run(11), "same seed, same values");
    assert_ne!(first, run(12), "another seed, other values");
    let uuid = first["uuid"].as_str().expect("a string");
    assert_eq!(
        uuid::Uuid::parse_str(uuid)
            .expect("a UUID")
            .get_version_num(),
        4
    );
    assert_ne!(first["uuid"], first["path"]["uuid"], "each call draws anew");
    let r = first["r"].as_f64().expect("a number");
    assert!((0.0..1.0).contains(&r));
}

#[test]
fn endless_retries_stop_at_the_history_limit() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 99999999}],
        "End": true
    }}});
    let options = mocked(
        json!({"R": {"0-99999999": {"Throw": {"Error": "Flaky", "Cause": "again"}}}}),
        json!({"Call": "R"}),
    );
    let result = execute(definition, json!({}), &options);
    assert_eq!(result.error.as_deref(), Some("States.Runtime"));
    assert!(
        result
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("maximum number of history events")),
        "{:?}",
        result.cause
    );
}

#[test]
fn no_choice_matched_without_default_is_catchable_by_name() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}
    }});
    let result = execute(definition, json!({"x": 2}), &ExecutionOptions::default());
    assert_eq!(result.error.as_deref(), Some("States.NoChoiceMatched"));
    assert!(
        result.cause.as_deref().is_some_and(|c| c.starts_with(
            "An error occurred while executing the state 'C' (entered at the event id #2)."
        )),
        "{:?}",
        result.cause
    );
}

#[test]
fn jsonata_catch_sees_error_output_and_fail_evaluates_templates() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                 "Catch": [{"ErrorEquals": ["Boom"], "Next": "Fail",
                            "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                            "Output": {"why": "{% $states.errorOutput.Cause %}", "was": "{% $states.input.id %}"}}],
                 "End": true},
        "Fail": {"Type": "Fail", "Error": "{% 'Wrapped.' & $caught %}", "Cause": "{% $states.input.why %}"}
    }});
    let options = mocked(
        json!({"R": {"0": {"Throw": {"Error": "Boom", "Cause": "bad"}}}}),
        json!({"Call": "R"}),
    );
    let result = execute(definition, json!({"id": 7}), &options);
    assert_eq!(
        (result.error.as_deref(), result.cause.as_deref()),
        (Some("Wrapped.Boom"), Some("bad"))
    );
    let exited = result
        .history
        .iter()
        .find(|e| e["type"] == "TaskStateExited")
        .expect("exited event");
    assert_eq!(
        exited["stateExitedEventDetails"]["output"],
        json!("{\"why\":\"bad\",\"was\":7}")
    );
    assert_eq!(
        exited["stateExitedEventDetails"]["assignedVariables"]["caught"],
        json!("\"Boom\"")
    );
}

#[test]
fn task_timeouts_are_recorded_in_the_scheduled_event() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "TimeoutSecondsPath": "$.limit", "End": true
    }}});
    let options = mocked(json!({"R": {"0": {"Return": 1}}}), json!({"Call": "R"}));
    let result = execute(definition, json!({"limit": 30}), &options);
    let scheduled = result
        .history
        .iter()
        .find(|e| e["type"] == "LambdaFunctionScheduled")
        .expect("scheduled");
    assert_eq!(
        scheduled["lambdaFunctionScheduledEventDetails"]["timeoutInSeconds"],
        json!(30)
    );
    assert_eq!(
        scheduled["lambdaFunctionScheduledEventDetails"]["input"],
        json!("{\"limit\":30}")
    );
}

/// A JSONata Condition that is not a boolean fails like any typed JSONata field, in the
/// wording recorded for Items (scenarios_..._test_map_state_items_eval_jsonata_fail_number:
/// "... specified for the field 'Items' returned an unexpected result type. Expected 'array',
/// but was 'number' for value: 1"), and records an EvaluationFailed event for the field.
#[test]
fn a_non_boolean_jsonata_condition_is_a_query_evaluation_error() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "S"}], "Default": "S"},
        "S": {"Type": "Succeed"}}});
    let result = execute(definition, json!({"n": 1}), &ExecutionOptions::default());
    assert_eq!(result.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        result.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'C' (entered at the event id #2). \
             The JSONata expression '$states.input.n' specified for the field 'Condition' returned an unexpected \
             result type. Expected 'boolean', but was 'number' for value: 1"
        )
    );
    let evaluation = result
        .history
        .iter()
        .find(|e| e["type"] == "EvaluationFailed")
        .expect("an EvaluationFailed event");
    assert_eq!(
        evaluation["evaluationFailedEventDetails"]["location"],
        "Condition"
    );
}

/// Wait paths that select nothing: recorded for SecondsPath
/// (logs_test_logs_..._test_base_wait_seconds_path), and worded the same for TimestampPath.
#[test]
fn wait_paths_that_select_nothing_name_the_field_and_the_path() {
    for field in ["SecondsPath", "TimestampPath"] {
        let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", field: "$.missing", "End": true}}});
        let result = execute(definition, json!({}), &ExecutionOptions::default());
        assert_eq!(result.error.as_deref(), Some("States.Runtime"));
        assert_eq!(
            result.cause,
            Some(format!(
                "An error occurred while executing the state 'W' (entered at the event id #2). \
                 The {field} parameter does not reference an input value: $.missing"
            ))
        );
    }
    // Fractional seconds down to nanoseconds are valid ISO-8601 extended offset date-times
    // (recorded: scenarios_..._test_wait_timestamp_NANOSECONDS, with a literal Timestamp).
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}});
    let start = ExecutionOptions::default().start_time;
    let at = (start + chrono::Duration::seconds(30))
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string();
    let result = execute(definition, json!({"t": at}), &ExecutionOptions::default());
    assert_eq!(result.status, crate::execution::ExecutionStatus::Succeeded);
    assert_eq!(result.duration, std::time::Duration::from_secs(30));
}

/// ResultPath into a value that cannot hold it: States.ReferencePathConflict, which a Catch on
/// States.ALL handles (see `jsonpath::reference_path_conflict` for the evidence).
#[test]
fn result_path_conflicts_fail_the_state_and_can_be_caught() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}}});
    let result = execute(
        definition,
        json!({"a": "text"}),
        &ExecutionOptions::default(),
    );
    assert_eq!(
        result.error.as_deref(),
        Some("States.ReferencePathConflict")
    );
    assert_eq!(
        result.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'P' (entered at the event id #2). \
             Unable to apply step \"b\" to input {\"a\":\"text\"}"
        )
    );
    let caught = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
              "ResultPath": "$.r", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let mut registry = crate::task::TaskRegistry::new();
    registry.register(
        "echo",
        std::sync::Arc::new(|payload: Value| async move { Ok(payload) }),
    );
    let options = ExecutionOptions {
        tasks: std::sync::Arc::new(registry),
        ..Default::default()
    };
    let result = execute(caught, json!("a string"), &options);
    assert_eq!(result.status, crate::execution::ExecutionStatus::Succeeded);
    assert_eq!(
        result.output.as_ref().and_then(|o| o.get("Error")),
        Some(&json!("States.ReferencePathConflict"))
    );
}

/// AWS starts every branch of a Parallel state and stops the others when one fails
/// (developer guide, "Parallel workflow state": "If any branch fails ... the entire Parallel
/// state fails and all its branches are stopped"): a branch after the failing one still
/// starts and runs what it reaches by the failure's instant; a Wait past it is cut short.
#[test]
fn a_failing_parallel_branch_stops_its_siblings() {
    let definition = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": "C"}}},
        {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": true}}},
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 5, "Next": "Never"},
                                       "Never": {"Type": "Pass", "End": true}}}]}}});
    let result = execute(definition, json!({}), &ExecutionOptions::default());
    assert_eq!(
        (result.error.as_deref(), result.cause.as_deref()),
        (Some("E"), Some("C"))
    );
    assert_eq!(
        event_types(&result),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "ParallelStateFailed",
            "ExecutionFailed",
        ]
    );
    let failed = &result.history[7];
    assert_eq!(
        failed["previousEventId"], 4,
        "the Failed event follows the failing branch"
    );
    assert_eq!(
        result.duration,
        std::time::Duration::ZERO,
        "the Wait was stopped, not waited out"
    );
    // The stop is not an error of the stopped branch: a Catch there does not see it.
    let caught_inside = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E"}}},
        {"StartAt": "Inner", "States": {"Inner": {"Type": "Parallel", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
            "Branches": [{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": true}}}]},
            "Handled": {"Type": "Pass", "End": true}}}]}}});
    let result = execute(caught_inside, json!({}), &ExecutionOptions::default());
    assert_eq!(result.error.as_deref(), Some("E"));
    let inner_failed = event_types(&result)
        .iter()
        .filter(|t| *t == "ParallelStateFailed")
        .count();
    assert_eq!(
        inner_failed, 1,
        "only the outer Parallel fails; the stopped one records nothing"
    );
    assert!(
        !result.states.iter().any(|v| v.name == "Handled"),
        "the stop is not caught"
    );
}

/// Shapes from LocalStack's AWS-recorded scenario suite (templates map_state_retry_multiple_
/// retriers and map_state_catch_empty_fail): `State.ALL` is an ordinary custom error name, not
/// `States.ALL`, so only the retrier naming the error fires; and a Fail state with neither
/// Error nor Cause fails with neither, which no catcher naming an error matches.
#[test]
fn custom_names_that_look_like_states_all_match_only_themselves() {
    let map = |handling: Value| {
        let mut map = json!({"Type": "Map", "InputPath": "$.arr", "MaxConcurrency": 1, "ResultPath": null,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "F",
                "States": {"F": {"Type": "Fail", "Error": "ItemError", "Cause": "item failed"}}},
            "Next": "Final"});
        if let (Value::Object(m), Value::Object(h)) = (&mut map, handling) {
            m.extend(h);
        }
        json!({"StartAt": "M", "States": {"M": map, "Final": {"Type": "Pass", "End": true}}})
    };
    let retried = execute(
        map(json!({"Retry": [
            {"ErrorEquals": ["NoSuchError"], "MaxAttempts": 1},
            {"ErrorEquals": ["State.ALL"], "MaxAttempts": 2},
            {"ErrorEquals": ["ItemError"], "MaxAttempts": 3}]})),
        json!({"arr": [1]}),
        &ExecutionOptions::default(),
    );
    assert_eq!(retried.error.as_deref(), Some("ItemError"));
    let starts = event_types(&retried)
        .iter()
        .filter(|t| *t == "MapStateStarted")
        .count();
    assert_eq!(
        starts, 4,
        "one attempt and three retries of the third retrier"
    );

    let definition = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail"}}},
              "Catch": [{"ErrorEquals": ["Internal Error"], "Next": "Caught"},
                        {"ErrorEquals": ["State.ALL"], "Next": "Caught"}],
              "Next": "Caught"},
        "Caught": {"Type": "Pass", "End": true}}});
    let empty = execute(definition, json!([1]), &ExecutionOptions::default());
    assert_eq!(empty.status, crate::execution::ExecutionStatus::Failed);
    assert_eq!(
        (empty.error.as_deref(), empty.cause.as_deref()),
        (None, None)
    );
    let last = empty.history.last().expect("events");
    assert_eq!(last["executionFailedEventDetails"], json!({}));
}

/// Records what the engine asks it to sleep and returns at once, so tests see the real-time
/// pacing without waiting for it.
#[derive(Debug, Default)]
struct RecordingSleeper {
    slept: std::sync::Mutex<Vec<std::time::Duration>>,
}

impl RecordingSleeper {
    fn slept(&self) -> Vec<std::time::Duration> {
        self.slept.lock().expect("sleeper lock").clone()
    }
}

impl crate::clock::Sleeper for RecordingSleeper {
    fn sleep(&self, duration: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        self.slept.lock().expect("sleeper lock").push(duration);
        Box::pin(futures::future::ready(()))
    }
}

/// Runs `definition` twice, without and with a recording sleeper, checks that pacing changed
/// nothing the execution reports, and returns the result and what was slept. `options` is
/// called once per run because mocked tasks count their invocations.
fn execute_paced(
    definition: Value,
    input: Value,
    options: impl Fn() -> ExecutionOptions,
) -> (ExecutionResult, Vec<std::time::Duration>) {
    let sleeper = std::sync::Arc::new(RecordingSleeper::default());
    let virtual_only = execute(definition.clone(), input.clone(), &options());
    let paced_options = ExecutionOptions {
        sleeper: Some(sleeper.clone()),
        ..options()
    };
    let paced = execute(definition, input, &paced_options);
    assert_eq!(paced, virtual_only, "pacing must not change the execution");
    (paced, sleeper.slept())
}

#[test]
fn a_sleeper_waits_out_each_retry_backoff_the_virtual_clock_applied() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}],
        "End": true
    }}});
    let options = || {
        mocked(
            json!({"R": {"0-3": {"Throw": {"Error": "Throttled", "Cause": "slow down"}}}}),
            json!({"Call": "R"}),
        )
    };
    let (result, slept) = execute_paced(definition, json!({}), options);
    assert_eq!(result.status, crate::execution::ExecutionStatus::Failed);
    assert_eq!(result.error.as_deref(), Some("Throttled"));
    let secs = std::time::Duration::from_secs;
    assert_eq!(slept, [secs(2), secs(6), secs(18)]);
    assert_eq!(result.duration, slept.iter().sum());
}

#[test]
fn a_sleeper_waits_out_jittered_backoffs_exactly_as_drawn() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 4, "BackoffRate": 2,
                   "MaxAttempts": 3, "JitterStrategy": "FULL"}],
        "End": true
    }}});
    let options = || ExecutionOptions {
        seed: 7,
        ..mocked(
            json!({"R": {"0-2": {"Throw": {"Error": "Throttled", "Cause": "slow down"}}, "3": {"Return": {"ok": true}}}}),
            json!({"Call": "R"}),
        )
    };
    let (result, slept) = execute_paced(definition, json!({}), options);
    assert_eq!(result.status, crate::execution::ExecutionStatus::Succeeded);
    assert_eq!(slept.len(), 3);
    // Jitter draws each delay below its cap (4 s, 8 s, 16 s); the sleeper gets the drawn ones.
    for (delay, cap) in slept.iter().zip([4, 8, 16]) {
        assert!(*delay <= std::time::Duration::from_secs(cap), "{slept:?}");
    }
    assert_eq!(result.duration, slept.iter().sum());
}

#[test]
fn a_sleeper_waits_out_a_wait_state() {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}});
    let (result, slept) = execute_paced(definition, json!({}), ExecutionOptions::default);
    assert_eq!(result.status, crate::execution::ExecutionStatus::Succeeded);
    assert_eq!(slept, [std::time::Duration::from_secs(5)]);
}

#[test]
fn a_sleeper_is_not_called_for_zero_waits_or_delays_cut_by_the_deadline() {
    let zero =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "End": true}}});
    let (_, slept) = execute_paced(zero, json!({}), ExecutionOptions::default);
    assert!(slept.is_empty(), "{slept:?}");

    // The Express limit ends the flow at 300 s; the 400 s wait is never waited out.
    let too_long =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 400, "End": true}}});
    let express = || ExecutionOptions {
        machine_type: crate::execution::MachineType::Express,
        ..Default::default()
    };
    let (result, slept) = execute_paced(too_long, json!({}), express);
    assert_eq!(result.status, crate::execution::ExecutionStatus::TimedOut);
    assert!(slept.is_empty(), "{slept:?}");
}

#[test]
fn a_sleeper_waits_out_each_branch_one_after_another() {
    let wait = |s: u64| {
        let name = format!("W{s}");
        json!({"StartAt": name, "States": {name.clone(): {"Type": "Wait", "Seconds": s, "End": true}}})
    };
    let parallel = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [wait(10), wait(30)], "End": true}}});
    let (result, slept) = execute_paced(parallel, json!({}), ExecutionOptions::default);
    // Simulated time overlaps the branches; real time runs them in order, so both are slept.
    assert_eq!(result.duration, std::time::Duration::from_secs(30));
    let secs = std::time::Duration::from_secs;
    assert_eq!(slept, [secs(10), secs(30)]);
}

#[test]
fn without_a_sleeper_an_hour_long_wait_takes_no_real_time() {
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let options = ExecutionOptions::default();
    assert!(options.sleeper.is_none(), "virtual time is the default");
    let started = std::time::Instant::now();
    let result = execute(definition, json!({}), &options);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(result.duration, std::time::Duration::from_secs(3600));
}

/// `sqs:sendMessage`: the TaskScheduled event records the Parameters as the state computed
/// them (a parameter SQS does not take, an object MessageBody as the object), as AWS's
/// history does, while SQS gets SendMessage's own parameters with the body as JSON text.
#[test]
fn send_message_history_records_the_computed_parameters_and_sqs_gets_its_own() {
    use std::sync::{Arc, Mutex};

    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut registry = crate::task::TaskRegistry::new();
    let seen = Arc::clone(&sent);
    registry.register(
        crate::sqs::SEND_MESSAGE,
        Arc::new(move |request: Value| {
            seen.lock().expect("not poisoned").push(request);
            async { Ok(json!({"MessageId": "m-1", "MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e"})) }
        }),
    );
    let definition = json!({"StartAt": "Defer", "States": {"Defer": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {
            "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/deferred",
            "MessageBody": {"paths.$": "$.paths"},
            "MessageSystemAttribute": {"AWSTraceHeader": "t"}
        },
        "End": true
    }}});
    let options = ExecutionOptions {
        tasks: Arc::new(registry),
        ..Default::default()
    };
    let result = execute(definition, json!({"paths": ["/a.jpg"]}), &options);
    assert_eq!(
        result.status,
        crate::execution::ExecutionStatus::Succeeded,
        "{:?}",
        result.cause
    );

    let scheduled = result
        .history
        .iter()
        .find(|e| e["type"] == "TaskScheduled")
        .expect("scheduled");
    let details = &scheduled["taskScheduledEventDetails"];
    assert_eq!(details["resourceType"], json!("sqs"));
    assert_eq!(details["resource"], json!("sendMessage"));
    let recorded: Value = serde_json::from_str(details["parameters"].as_str().expect("text"))
        .expect("parameters are JSON text");
    assert_eq!(
        recorded,
        json!({
            "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/deferred",
            "MessageBody": {"paths": ["/a.jpg"]},
            "MessageSystemAttribute": {"AWSTraceHeader": "t"}
        })
    );

    let sent = sent.lock().expect("not poisoned");
    assert_eq!(
        *sent,
        [json!({
            "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/deferred",
            "MessageBody": "{\"paths\":[\"/a.jpg\"]}"
        })]
    );
}
