//! Tests of the whole validator: the AWS-accepted conformance definitions, one focused test per
//! rejection (code and path), and hostile documents.

use serde_json::{Value, json};

use super::*;

/// The conformance cases, read in place (never copied into the repo).
fn conformance_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/asl-conformance/executions")
}

#[test]
fn every_definition_aws_accepted_is_accepted() {
    let dir = conformance_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "\n*** SKIPPED: the ASL conformance cases are absent ({}); the validator was NOT checked against them ***\n",
            dir.display()
        );
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no cases", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("case file is readable");
        let case: Value = serde_json::from_str(&text).expect("case file is JSON");
        let diagnostics = validate_definition(&case["definition"]);
        if !diagnostics.is_empty() {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lines: Vec<String> = diagnostics.iter().map(|d| format!("    {d}")).collect();
            failures.push(format!("{name}\n{}", lines.join("\n")));
        }
    }
    println!(
        "{} of {} AWS-accepted definitions validate cleanly",
        files.len() - failures.len(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} definitions rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("  {d}\n")).collect()
}

#[track_caller]
fn assert_valid(definition: &Value) {
    let diagnostics = validate_definition(definition);
    assert!(
        diagnostics.is_empty(),
        "expected no diagnostics, got:\n{}",
        render(&diagnostics)
    );
}

/// Asserts that `code` is reported at `path`, and returns all diagnostics for further checks.
#[track_caller]
fn assert_reports(definition: &Value, code: &str, path: &str) -> Vec<Diagnostic> {
    let diagnostics = validate_definition(definition);
    assert!(
        diagnostics.iter().any(|d| d.code == code && d.path == path),
        "expected {code} at {path}, got:\n{}",
        render(&diagnostics)
    );
    diagnostics
}

/// Asserts that exactly these (code, path) pairs are reported, in any order.
#[track_caller]
fn assert_exactly(definition: &Value, expected: &[(&str, &str)]) {
    let diagnostics = validate_definition(definition);
    let mut got: Vec<(&str, &str)> = diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.path.as_str()))
        .collect();
    let mut want = expected.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "all diagnostics:\n{}", render(&diagnostics));
}

/// A one-state machine around `state`, named `A`.
fn single(state: Value) -> Value {
    json!({"StartAt": "A", "States": {"A": state}})
}

// ---- transitions, reachability, terminal states ------------------------------------------

#[test]
fn a_next_to_a_missing_state_is_reported() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Succeed"}}});
    assert_reports(&def, codes::MISSING_TRANSITION_TARGET, "$.States.A.Next");
}

#[test]
fn choice_and_catch_targets_are_checked() {
    let def = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice",
                  "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "Gone"}],
                  "Default": "AlsoGone"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Missing"}]}
        }
    });
    let all = validate_definition(&def);
    for path in [
        "$.States.C.Choices[0].Next",
        "$.States.C.Default",
        "$.States.T.Catch[0].Next",
    ] {
        assert!(
            all.iter()
                .any(|d| d.code == codes::MISSING_TRANSITION_TARGET && d.path == path),
            "{path}:\n{}",
            render(&all)
        );
    }
}

#[test]
fn start_at_must_name_a_state() {
    assert_exactly(
        &json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}}),
        &[(codes::MISSING_START_STATE, "$.StartAt")],
    );
}

#[test]
fn unreachable_states_are_reported_by_name() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Succeed"},
        "Orphan": {"Type": "Pass", "Next": "A"},
        "Orphan 2": {"Type": "Pass", "End": true}
    }});
    assert_exactly(
        &def,
        &[
            (codes::UNREACHABLE_STATE, "$.States.Orphan"),
            (codes::UNREACHABLE_STATE, "$.States['Orphan 2']"),
        ],
    );
}

#[test]
fn a_machine_without_terminal_state_is_rejected() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
    assert_exactly(&def, &[(codes::MISSING_END_STATE, "$.States")]);
}

#[test]
fn cycles_with_an_exit_and_self_loops_are_legal() {
    let def = json!({"StartAt": "Loop", "States": {
        "Loop": {"Type": "Choice",
                 "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "Done"}],
                 "Default": "Again"},
        "Again": {"Type": "Pass", "Next": "Loop"},
        "Done": {"Type": "Succeed"}
    }});
    assert_valid(&def);
    let self_loop = json!({"StartAt": "A", "States": {
        "A": {"Type": "Wait", "Seconds": 1, "Next": "A"},
        "B": {"Type": "Succeed"}
    }});
    // Only the unreachable terminal is wrong; the self-loop itself is allowed.
    assert_exactly(&self_loop, &[(codes::UNREACHABLE_STATE, "$.States.B")]);
}

// ---- names -----------------------------------------------------------------------------

#[test]
fn state_names_are_at_most_80_characters() {
    let ok = "n".repeat(80);
    let too_long = "é".repeat(81);
    assert_valid(&json!({"StartAt": ok, "States": {ok.clone(): {"Type": "Succeed"}}}));
    let def = json!({"StartAt": too_long, "States": {too_long.clone(): {"Type": "Succeed"}}});
    assert_exactly(
        &def,
        &[(
            codes::INVALID_STATE_NAME,
            &format!("$.States['{too_long}']"),
        )],
    );
}

#[test]
fn state_names_are_unique_across_branches() {
    let branch = json!({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}});
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch, branch], "Next": "Work"},
        "Work": {"Type": "Succeed"}
    }});
    assert_exactly(
        &def,
        &[
            (
                codes::DUPLICATE_STATE_NAME,
                "$.States.P.Branches[1].States.Work",
            ),
            (codes::DUPLICATE_STATE_NAME, "$.States.Work"),
        ],
    );
}

// ---- Retry and Catch -------------------------------------------------------------------

#[test]
fn states_all_must_be_last_and_alone() {
    let def = single(json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["States.Timeout"]}],
        "Catch": [{"ErrorEquals": ["States.ALL", "Custom"], "Next": "A"}]
    }));
    assert_exactly(
        &def,
        &[
            (codes::STATES_ALL_NOT_LAST, "$.States.A.Retry[0]"),
            (
                codes::STATES_ALL_NOT_LAST,
                "$.States.A.Catch[0].ErrorEquals",
            ),
        ],
    );
}

#[test]
fn retrier_fields_are_typed_and_ranged() {
    let def = single(json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1, "BackoffRate": 0.5, "JitterStrategy": "SOME",
                   "IntervalSeconds": 0, "Bogus": 1}]
    }));
    let all = validate_definition(&def);
    let at_retrier = |suffix: &str| {
        let path = format!("$.States.A.Retry[0]{suffix}");
        all.iter()
            .any(|d| d.code == codes::SCHEMA_VALIDATION_FAILED && d.path == path)
    };
    for suffix in [
        "",
        ".MaxAttempts",
        ".BackoffRate",
        ".JitterStrategy",
        ".IntervalSeconds",
    ] {
        assert!(
            at_retrier(suffix),
            "expected a schema error at Retry[0]{suffix}:\n{}",
            render(&all)
        );
    }
}

// ---- query languages ---------------------------------------------------------------------

#[test]
fn jsonpath_fields_are_rejected_in_jsonata_states() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "InputPath": "$.x", "Parameters": {"a": 1}, "ResultSelector": {"b": 2}, "ResultPath": "$.r", "OutputPath": "$",
        "TimeoutSecondsPath": "$.t",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": "$.e"}]
    }}});
    let expected: Vec<(&str, String)> = [
        "InputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "TimeoutSecondsPath",
        "Catch[0].ResultPath",
    ]
    .iter()
    .map(|f| {
        (
            codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
            format!("$.States.A.{f}"),
        )
    })
    .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(c, p)| (*c, p.as_str())).collect();
    assert_exactly(&def, &expected);
}

#[test]
fn jsonata_fields_are_rejected_in_jsonpath_states() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"x": 1}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "M"}]},
        "M": {"Type": "Map", "Items": [1, 2], "End": true,
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}
    }});
    assert_exactly(
        &def,
        &[
            (
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                "$.States.A.Output",
            ),
            (
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                "$.States.C.Choices[0].Condition",
            ),
            // The choice module's verdict on a rule without a JSONPath operator.
            (codes::INVALID_CHOICE_RULE, "$.States.C.Choices[0]"),
            (
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                "$.States.M.Items",
            ),
        ],
    );
}

#[test]
fn jsonata_choice_rules_take_condition_only() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsPresent": true, "Next": "D"},
            {"Condition": "{% $states.input.ok %}", "Next": "D", "Output": 42, "Assign": {"list": [1, 2]}}
        ]},
        "D": {"Type": "Succeed"}
    }});
    assert_exactly(
        &def,
        &[
            (
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                "$.States.C.Choices[0].Variable",
            ),
            (
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                "$.States.C.Choices[0].IsPresent",
            ),
            (codes::MISSING_REQUIRED_FIELD, "$.States.C.Choices[0]"),
        ],
    );
}

#[test]
fn a_jsonata_definition_cannot_switch_states_back_to_jsonpath() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A",
                     "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}});
    assert_exactly(
        &def,
        &[(codes::INVALID_QUERY_LANGUAGE, "$.States.A.QueryLanguage")],
    );
    // The other way round is allowed.
    assert_valid(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": 1, "End": true}}}),
    );
}

#[test]
fn aws_accepts_literal_jsonata_outputs_and_array_assignments() {
    for output in [
        json!(42),
        json!("plain text"),
        json!([1, "{% 2 %}"]),
        json!(null),
        json!(true),
        json!({"k.$": "$"}),
    ] {
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
            "Type": "Pass", "Output": output, "Assign": {"list": [1, 2, 3], "empty": []}, "End": true
        }}});
        assert_valid(&def);
    }
}

#[test]
fn jsonata_expressions_are_syntax_checked() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "Output": {"empty": "{%   %}", "broken": "{%}", "literal": " {% not checked %} "}, "End": true
    }}});
    assert_exactly(
        &def,
        &[
            (codes::INVALID_JSONATA, "$.States.A.Output.empty"),
            (codes::INVALID_JSONATA, "$.States.A.Output.broken"),
        ],
    );
}

#[test]
fn jsonata_syntax_errors_come_from_the_engine() {
    // The verdict is the JSONata engine's; this checks the wiring: whatever the engine rejects,
    // the validator reports with its code and path, and nothing else.
    let bad = "$states.input.(";
    let engine_rejects = crate::jsonata::default_engine().check_syntax(bad).is_err();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "Assign": {"x": format!("{{%{bad}%}}")}, "End": true
    }}});
    let expected: &[(&str, &str)] = if engine_rejects {
        &[(codes::INVALID_JSONATA, "$.States.A.Assign.x")]
    } else {
        &[]
    };
    assert_exactly(&def, expected);
}

// ---- paths, templates, intrinsics, Choice rules -----------------------------------------

#[test]
fn paths_and_reference_paths_are_checked() {
    let def = single(json!({
        "Type": "Pass", "End": true,
        "InputPath": "no.dollar", "ResultPath": "$.items[*]", "OutputPath": "$.a[",
        "Parameters": {"ok.$": "$.x", "context.$": "$$.Execution.Id", "bad.$": "x", "typed.$": 5,
                       "nested": [{"deep.$": "$.."}]}
    }));
    assert_exactly(
        &def,
        &[
            (codes::INVALID_JSONPATH, "$.States.A.InputPath"),
            (codes::INVALID_REFERENCE_PATH, "$.States.A.ResultPath"),
            (codes::INVALID_JSONPATH, "$.States.A.OutputPath"),
            (codes::INVALID_JSONPATH, "$.States.A.Parameters['bad.$']"),
            (codes::INVALID_JSONPATH, "$.States.A.Parameters['typed.$']"),
            (
                codes::INVALID_JSONPATH,
                "$.States.A.Parameters.nested[0]['deep.$']",
            ),
        ],
    );
}

#[test]
fn intrinsic_functions_are_checked_where_they_may_appear() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "F",
              "Parameters": {"ok.$": "States.Format('{}', $.x)", "arity.$": "States.StringToJson()",
                             "unknown.$": "States.NoSuchThing(1)"}},
        "F": {"Type": "Fail", "ErrorPath": "States.Format('{}'", "CausePath": "$.cause"}
    }});
    let diagnostics = validate_definition(&def);
    let flagged: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == codes::INVALID_INTRINSIC_FUNCTION)
        .map(|d| d.path.as_str())
        .collect();
    // Each verdict is crate::intrinsics::check_syntax's; the paths are the validator's.
    let expect = |expr: &str, path: &'static str| {
        crate::intrinsics::check_syntax(expr)
            .is_err()
            .then_some(path)
    };
    let expected: Vec<&str> = [
        expect("States.Format('{}', $.x)", "$.States.A.Parameters['ok.$']"),
        expect("States.StringToJson()", "$.States.A.Parameters['arity.$']"),
        expect(
            "States.NoSuchThing(1)",
            "$.States.A.Parameters['unknown.$']",
        ),
        expect("States.Format('{}'", "$.States.F.ErrorPath"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(flagged, expected, "{}", render(&diagnostics));
    assert_eq!(diagnostics.len(), flagged.len(), "{}", render(&diagnostics));
}

#[test]
fn choice_rules_are_checked_by_the_choice_module() {
    let rule = json!({"Variable": "$.x", "Next": "B"});
    let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule.clone()], "Default": "B"},
                                                "B": {"Type": "Succeed"}}});
    let from_choice = crate::choice::check_rule(&rule);
    let diagnostics = validate_definition(&def);
    let reported: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.code == codes::INVALID_CHOICE_RULE)
        .collect();
    assert_eq!(
        reported.len(),
        from_choice.len(),
        "{}",
        render(&diagnostics)
    );
    assert!(
        reported
            .iter()
            .all(|d| d.path.starts_with("$.States.C.Choices[0]"))
    );
}

// ---- fields that exclude each other --------------------------------------------------------

#[test]
fn fail_takes_error_or_error_path_not_both() {
    let def = single(
        json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": "c", "CausePath": "$.c"}),
    );
    assert_exactly(
        &def,
        &[
            (codes::MUTUALLY_EXCLUSIVE_FIELDS, "$.States.A.ErrorPath"),
            (codes::MUTUALLY_EXCLUSIVE_FIELDS, "$.States.A.CausePath"),
        ],
    );
}

#[test]
fn wait_takes_exactly_one_way_of_waiting() {
    assert_exactly(
        &single(json!({"Type": "Wait", "Seconds": 5, "SecondsPath": "$.s", "End": true})),
        &[(codes::MUTUALLY_EXCLUSIVE_FIELDS, "$.States.A.SecondsPath")],
    );
    assert_exactly(
        &single(json!({"Type": "Wait", "End": true})),
        &[(codes::MISSING_REQUIRED_FIELD, "$.States.A")],
    );
}

#[test]
fn task_timeouts_and_resources_are_checked() {
    let def = single(
        json!({"Type": "Task", "Resource": "my-function", "End": true,
                            "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 10}),
    );
    assert_exactly(
        &def,
        &[
            (codes::INVALID_RESOURCE, "$.States.A.Resource"),
            (
                codes::MUTUALLY_EXCLUSIVE_FIELDS,
                "$.States.A.TimeoutSecondsPath",
            ),
            (codes::INVALID_FIELD_VALUE, "$.States.A.HeartbeatSeconds"),
        ],
    );
}

#[test]
fn wait_timestamps_are_rfc3339_in_jsonpath() {
    assert_valid(&single(
        json!({"Type": "Wait", "Timestamp": "2016-03-05T21:29:29.243167252Z", "End": true}),
    ));
    assert_exactly(
        &single(json!({"Type": "Wait", "Timestamp": "next tuesday", "End": true})),
        &[(codes::INVALID_FIELD_VALUE, "$.States.A.Timestamp")],
    );
    let jsonata = single(
        json!({"Type": "Wait", "QueryLanguage": "JSONata", "Timestamp": "{% $states.input.at %}", "End": true}),
    );
    assert_valid(&jsonata);
}

#[test]
fn jsonpath_states_take_numbers_not_expressions() {
    let def = single(json!({"Type": "Wait", "Seconds": "{% 5 %}", "End": true}));
    assert_exactly(&def, &[(codes::INVALID_FIELD_VALUE, "$.States.A.Seconds")]);
    let jsonata = single(
        json!({"Type": "Wait", "QueryLanguage": "JSONata", "Seconds": "{% 5 %}", "End": true}),
    );
    assert_valid(&jsonata);
}

#[test]
fn map_concurrency_and_processor_fields_exclude_each_other() {
    let processor = json!({"StartAt": "I", "States": {"I": {"Type": "Succeed"}}});
    let def = single(
        json!({"Type": "Map", "End": true, "ItemProcessor": processor, "Iterator": processor,
                            "MaxConcurrency": 1, "MaxConcurrencyPath": "$.m",
                            "ItemSelector": {}, "Parameters": {}}),
    );
    let diagnostics = assert_reports(
        &def,
        codes::MUTUALLY_EXCLUSIVE_FIELDS,
        "$.States.A.MaxConcurrencyPath",
    );
    assert!(
        diagnostics.iter().any(
            |d| d.code == codes::MUTUALLY_EXCLUSIVE_FIELDS && d.path == "$.States.A.Parameters"
        )
    );
    // ItemProcessor with Iterator is the schema's to report.
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code == codes::SCHEMA_VALIDATION_FAILED
                && d.path == "$.States.A"
                && d.message
                    .contains("exactly one of ItemProcessor or Iterator")),
        "{}",
        render(&diagnostics)
    );
}

// ---- nested machines ---------------------------------------------------------------------

#[test]
fn branches_are_machines_of_their_own() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "After", "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "After"}}},
            {"StartAt": "Missing", "States": {"B2": {"Type": "Pass", "End": true}}}
        ]},
        "After": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I1", "States": {
            "I1": {"Type": "Pass", "Next": "I2"}, "I2": {"Type": "Pass", "Next": "I1"}
        }}}
    }});
    assert_exactly(
        &def,
        &[
            (
                codes::MISSING_TRANSITION_TARGET,
                "$.States.P.Branches[0].States.B1.Next",
            ),
            (codes::MISSING_END_STATE, "$.States.P.Branches[0].States"),
            (codes::MISSING_START_STATE, "$.States.P.Branches[1].StartAt"),
            (
                codes::MISSING_END_STATE,
                "$.States.After.ItemProcessor.States",
            ),
        ],
    );
}

#[test]
fn nested_states_inherit_the_query_language() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "QueryLanguage": "JSONata", "Items": "{% [1, 2] %}", "End": true,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Parameters": {"a": 1}, "End": true}}}
    }}});
    assert_exactly(
        &def,
        &[(
            codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
            "$.States.M.ItemProcessor.States.I.Parameters",
        )],
    );
}

// ---- schema: wrong types everywhere ------------------------------------------------------

#[test]
fn non_object_definitions_are_schema_errors() {
    for def in [
        json!(null),
        json!(1),
        json!("text"),
        json!([]),
        json!(true),
        json!({}),
    ] {
        assert_reports(&def, codes::SCHEMA_VALIDATION_FAILED, "$");
    }
}

#[test]
fn wrong_types_are_reported_where_they_are() {
    let cases = [
        (
            json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}),
            "$.StartAt",
        ),
        (json!({"StartAt": "A", "States": []}), "$.States"),
        (json!({"StartAt": "A", "States": {}}), "$.States"),
        (
            json!({"StartAt": "A", "States": {"A": "Succeed"}}),
            "$.States.A",
        ),
        (single(json!({"Type": "Teleport"})), "$.States.A.Type"),
        (
            single(json!({"Type": "Pass", "Next": 3})),
            "$.States.A.Next",
        ),
        (
            single(json!({"Type": "Pass", "End": false})),
            "$.States.A.End",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Next": "B"}, "B": {"Type": "Succeed"}}}),
            "$.States.A",
        ),
        (
            single(json!({"Type": "Pass", "End": true, "Unknown": 1})),
            "$.States.A",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Extra": 1}),
            "$",
        ),
        (
            single(json!({"Type": "Choice", "Choices": []})),
            "$.States.A.Choices",
        ),
        (
            single(
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "A"}]}),
            ),
            "$.States.A.Choices[0].NumericEquals",
        ),
        (
            single(json!({"Type": "Parallel", "Branches": {}, "End": true})),
            "$.States.A.Branches",
        ),
        (single(json!({"Type": "Map", "End": true})), "$.States.A"),
        (single(json!({"Type": "Task", "End": true})), "$.States.A"),
        (
            single(json!({"Type": "Wait", "Seconds": -1, "End": true})),
            "$.States.A.Seconds",
        ),
        (
            single(json!({"Type": "Pass", "End": true, "Parameters": "not an object"})),
            "$.States.A.Parameters",
        ),
        (
            single(json!({"Type": "Fail", "Error": ["E"]})),
            "$.States.A.Error",
        ),
        (
            single(json!({"Type": "Map", "End": true, "Label": "x".repeat(41),
                       "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}},
                                         "ProcessorConfig": {"Mode": "SOMETIMES"}}})),
            "$.States.A.ItemProcessor.ProcessorConfig.Mode",
        ),
        (
            json!({"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
            "$.QueryLanguage",
        ),
    ];
    for (def, path) in cases {
        assert_reports(&def, codes::SCHEMA_VALIDATION_FAILED, path);
    }
}

// ---- hostile documents -------------------------------------------------------------------

/// `levels` Parallel states, each the only state of its parent's single branch. Built by moving
/// values (json!'s interpolation serializes recursively, which is itself a deep recursion).
fn nested_parallels(levels: usize) -> Value {
    let mut machine = json!({"StartAt": "Leaf", "States": {"Leaf": {"Type": "Succeed"}}});
    for level in 0..levels {
        let name = format!("P{level}");
        let mut parallel = json!({"Type": "Parallel", "End": true});
        parallel["Branches"] = Value::Array(vec![machine]);
        let mut states = Map::new();
        states.insert(name.clone(), parallel);
        let mut outer = Map::new();
        outer.insert("StartAt".to_owned(), Value::String(name));
        outer.insert("States".to_owned(), Value::Object(states));
        machine = Value::Object(outer);
    }
    machine
}

/// Drops a deeply nested value without recursion (serde_json's Drop recurses per level).
fn drop_iteratively(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => pending.extend(members.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn too_deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    let def = nested_parallels(10_000);
    let diagnostics = validate_definition(&def);
    assert_eq!(diagnostics.len(), 1, "{}", render(&diagnostics));
    assert_eq!(diagnostics[0].code, codes::TOO_DEEPLY_NESTED);
    assert!(
        diagnostics[0]
            .path
            .starts_with("$.States.P9999.Branches[0]"),
        "{}",
        diagnostics[0].path
    );
    assert!(substitute(&def, &Map::new()).is_err_and(|e| e[0].code == codes::TOO_DEEPLY_NESTED));
    drop_iteratively(def);
}

#[test]
fn nesting_just_under_the_bound_is_validated_in_full() {
    // Each Parallel level costs 4 JSON levels; 30 levels (about 120) stay under the bound and
    // exercise every recursive walk, the schema validator's included, on a test thread's stack.
    assert_valid(&nested_parallels(30));
    let mut rule = json!({"Variable": "$.x", "IsPresent": true});
    for _ in 0..(MAX_NESTING_DEPTH - 8) {
        rule = json!({"Not": rule});
    }
    let mut top = rule;
    top["Next"] = json!("A");
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [top], "Default": "B"},
                                                "B": {"Type": "Succeed"}}});
    let diagnostics = validate_definition(&def);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.code != codes::TOO_DEEPLY_NESTED),
        "{}",
        render(&diagnostics)
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| d.code == codes::INVALID_CHOICE_RULE),
        "only the choice module may object to a deep Not chain:\n{}",
        render(&diagnostics)
    );
}

#[test]
fn huge_documents_are_validated() {
    // 5,000 states in a chain and a 200,000-element Result: linear work, no recursion per state.
    let count = 5_000;
    let mut states = Map::new();
    for i in 0..count {
        let state = if i + 1 == count {
            json!({"Type": "Pass", "Result": (0..200_000).collect::<Vec<u32>>(), "End": true})
        } else {
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
        };
        states.insert(format!("S{i}"), state);
    }
    assert_valid(&json!({"StartAt": "S0", "States": states}));
}

#[test]
fn substituted_definitions_validate() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", "TimeoutSeconds": "${T}", "End": true}}});
    let subs: Map<String, Value> = [
        (
            "Fn".to_owned(),
            json!("arn:aws:lambda:eu-west-1:123456789012:function:purge"),
        ),
        ("T".to_owned(), json!(30)),
    ]
    .into_iter()
    .collect();
    let resolved = substitute(&def, &subs).expect("all names are known");
    assert_valid(&resolved);
    // Unsubstituted, the same definition is wrong twice over.
    assert_reports(&def, codes::INVALID_RESOURCE, "$.States.A.Resource");
    assert_reports(
        &def,
        codes::SCHEMA_VALIDATION_FAILED,
        "$.States.A.TimeoutSeconds",
    );
}

#[test]
fn diagnostics_display_code_path_and_message() {
    let diagnostics =
        validate_definition(&json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}}));
    assert_eq!(
        diagnostics.first().map(ToString::to_string).as_deref(),
        Some(
            "MISSING_START_STATE at $.StartAt: StartAt names 'Nope', which is not a state of this machine"
        )
    );
}

// ---- the fuzz property under plain `cargo test` ------------------------------------------

/// Random ASL-flavoured JSON: keys and strings come from ASL's vocabulary so that documents
/// reach deep into the validator instead of stopping at the first schema error.
struct RandomDocuments {
    rng: rand::rngs::StdRng,
}

const KEYS: &[&str] = &[
    "StartAt",
    "States",
    "Type",
    "Next",
    "End",
    "Default",
    "Choices",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "Parameters",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "Output",
    "Arguments",
    "Assign",
    "Items",
    "ItemsPath",
    "Retry",
    "Catch",
    "ErrorEquals",
    "Variable",
    "Condition",
    "And",
    "Or",
    "Not",
    "StringEquals",
    "IsPresent",
    "Seconds",
    "SecondsPath",
    "Error",
    "ErrorPath",
    "QueryLanguage",
    "Resource",
    "x.$",
    "A",
    "B",
    "",
];
const STRINGS: &[&str] = &[
    "A",
    "B",
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Succeed",
    "Fail",
    "Parallel",
    "Map",
    "JSONata",
    "JSONPath",
    "$",
    "$.a",
    "$$.Execution",
    "$var",
    "$..x",
    "$.a[",
    "States.ALL",
    "States.Format('{}', $.x)",
    "States.Array(",
    "{% $states.input %}",
    "{%}",
    "{% %}",
    "${Name}",
    "arn:aws:states:::lambda:invoke",
    "\u{0}",
    "é",
];

impl RandomDocuments {
    fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    fn value(&mut self, depth: usize) -> Value {
        use rand::Rng;
        let choice = if depth == 0 {
            self.rng.random_range(0..6)
        } else {
            self.rng.random_range(0..9)
        };
        match choice {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => json!(self.rng.random_range(-5i64..100)),
            3 => json!(self.rng.random::<f64>() * 1e3),
            4 | 5 => Value::String(STRINGS[self.rng.random_range(0..STRINGS.len())].to_owned()),
            6 => Value::Array(
                (0..self.rng.random_range(0..4))
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..self.rng.random_range(0..6))
                    .map(|_| {
                        (
                            KEYS[self.rng.random_range(0..KEYS.len())].to_owned(),
                            self.value(depth - 1),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Replaces one random node of `node` (itself or a descendant) with a random value.
    fn mutate(&mut self, node: &mut Value) {
        use rand::Rng;
        let children = match node {
            Value::Array(items) => items.len(),
            Value::Object(members) => members.len(),
            _ => 0,
        };
        if children == 0 || self.rng.random_range(0..4) == 0 {
            *node = self.value(4);
            return;
        }
        let pick = self.rng.random_range(0..children);
        let child = match node {
            Value::Array(items) => items.get_mut(pick),
            Value::Object(members) => members.values_mut().nth(pick),
            _ => None,
        };
        if let Some(child) = child {
            self.mutate(child);
        }
    }
}

#[track_caller]
fn assert_well_formed(doc: &Value) {
    for diagnostic in validate_definition(doc) {
        assert!(diagnostic.path.starts_with('$'), "{diagnostic}");
        assert!(
            !diagnostic.code.is_empty() && !diagnostic.message.is_empty(),
            "{diagnostic}"
        );
    }
    let substitutions = doc.as_object().cloned().unwrap_or_default();
    if let Err(errors) = substitute(doc, &substitutions) {
        assert!(
            errors
                .iter()
                .all(|e| e.code == codes::SUBSTITUTION_NOT_FOUND
                    || e.code == codes::TOO_DEEPLY_NESTED)
        );
    }
}

#[test]
fn random_documents_never_panic() {
    // A fixed seed, so that a failure reproduces.
    let mut random = RandomDocuments::new(0x05ee_da51);
    for _ in 0..1_500 {
        let doc = random.value(6);
        assert_well_formed(&doc);
    }
    let base = json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "P"}], "Default": "B"},
        "P": {"Type": "Parallel", "Next": "B", "Branches": [{"StartAt": "C", "States": {"C": {"Type": "Pass", "End": true}}}]},
        "B": {"Type": "Map", "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Succeed"}}}, "End": true,
              "Retry": [{"ErrorEquals": ["States.ALL"]}]}
    }});
    for _ in 0..1_500 {
        let mut doc = base.clone();
        random.mutate(&mut doc);
        random.mutate(&mut doc);
        assert_well_formed(&doc);
    }
}
