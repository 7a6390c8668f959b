//! The contract checks around `statemachine/purge.asl.json`: the definition is valid, its
//! Retry/Catch policy is what the design says, its worst-case retry budget fits Express's five
//! minutes, and every sample and fixture matches the JSON Schemas in `statemachine/schemas/`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use purgeflow_asl::validate::validate_definition;
use purgeflow_tasks::batch_paths::batch_paths;
use purgeflow_tasks::config::MAX_PATHS_PER_EXECUTION;
use purgeflow_tasks::contract::{BatchPathsInput, ExecutionInput};
use purgeflow_tasks::error::names::{
    BACKLOG_WAITING, RETRYABLE, THROTTLED, TOO_MANY_INVALIDATIONS, TRANSIENT,
};
use purgeflow_tasks::paths::{CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS};
use purgeflow_tests::purge::{self, task_states};
use purgeflow_tests::samples::LargestShape;
use purgeflow_tests::{repo, schemas};
use serde_json::Value;

const LAMBDA_TRANSIENT: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];
/// Express executions end after five minutes, whatever state they are in, without a report.
const EXPRESS_LIMIT_SECONDS: f64 = 300.0;
/// What the retries may take at most: the rest is left to the Lambdas' own run time.
const RETRY_BUDGET_LIMIT_SECONDS: f64 = 240.0;

#[test]
fn the_definition_is_valid_after_substitution_and_matches_the_asl_schema() {
    let definition = purge::definition();
    let diagnostics = validate_definition(&definition);
    assert!(diagnostics.is_empty(), "purge.asl.json: {diagnostics:#?}");
    // validate_definition runs the ASL schema too; checking it directly as well keeps this test
    // honest should that ever change.
    schemas::check("asl.schema.json", &definition).unwrap_or_else(|report| panic!("{report}"));
    purge::machine();
}

#[test]
fn the_local_substitutions_fill_exactly_the_definitions_placeholders() {
    let text =
        std::fs::read_to_string(repo::path(purge::DEFINITION)).expect("the definition is readable");
    let placeholders: BTreeSet<String> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect();
    let substitutions: BTreeSet<String> = purge::local_substitutions().keys().cloned().collect();
    assert_eq!(placeholders, substitutions);
    for (name, value) in purge::local_substitutions() {
        let value = value.as_str().unwrap_or_default();
        if name == "DeferralQueueUrl" {
            // `purgeflow local` replaces it with the queue it provisions (or
            // PURGE_DEFERRAL_QUEUE_URL); the default names the queue of the same name.
            assert!(
                value.starts_with("https://sqs.") && value.ends_with("/purgeflow-deferred"),
                "{name} must be an SQS queue URL: {value}"
            );
            continue;
        }
        assert!(
            name.ends_with("FunctionArn")
                && value.starts_with("arn:aws:lambda:us-east-1:000000000000:function:"),
            "{name} must be a plain local Lambda ARN (results are then not wrapped in Payload): {value}"
        );
    }
}

#[test]
fn every_task_retries_transient_errors_with_full_jitter_and_a_delay_cap() {
    let definition = purge::definition();
    let tasks = task_states(&definition);
    let functions: Vec<&str> = tasks.iter().map(|t| t.function.as_str()).collect();
    assert_eq!(
        functions,
        [
            "validate-records",
            "delete-objects",
            "batch-paths",
            "invalidate-cache",
            purgeflow_asl::sqs::SEND_MESSAGE,
            "report-failures"
        ],
        "one Task per task Lambda, and DeferBatch's SQS integration"
    );
    for task in &tasks {
        let retriers = task.definition["Retry"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let retried: BTreeSet<&str> = retriers
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let must_retry: Vec<&str> = match task.name.as_str() {
            // CloudFront's refusals and the backlog gate's are deferred at once (the Catch to
            // DeferBatch), not retried.
            "CreateInvalidation" => {
                for refusal in [TOO_MANY_INVALIDATIONS, THROTTLED, BACKLOG_WAITING] {
                    assert!(
                        !retried.contains(refusal),
                        "CreateInvalidation must defer {refusal}, not retry it"
                    );
                }
                LAMBDA_TRANSIENT
                    .iter()
                    .copied()
                    .chain([TRANSIENT])
                    .collect()
            }
            // The SQS integration's error names vary; every task failure gets a few retries.
            "DeferBatch" => vec!["States.TaskFailed"],
            _ => LAMBDA_TRANSIENT
                .iter()
                .chain(RETRYABLE.iter())
                .copied()
                .collect(),
        };
        for name in must_retry {
            assert!(
                retried.contains(name),
                "{} does not retry {name}",
                task.name
            );
        }
        assert!(
            !retried.contains("States.ALL"),
            "{} must not retry everything",
            task.name
        );
        for retrier in &retriers {
            assert_eq!(
                retrier["JitterStrategy"], "FULL",
                "{}: {retrier}",
                task.name
            );
            assert!(
                retrier["MaxDelaySeconds"].is_u64(),
                "{}: no MaxDelaySeconds in {retrier}",
                task.name
            );
        }
    }
}

#[test]
fn every_task_but_report_failures_catches_everything_and_report_failures_catches_nothing() {
    let definition = purge::definition();
    for task in task_states(&definition) {
        let catchers = task.definition["Catch"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match task.name.as_str() {
            // Reporting failing must fail the execution with its own error, not loop.
            "ReportFailures" => assert!(catchers.is_empty(), "ReportFailures must not catch"),
            // Inside the Map iteration: CloudFront's refusals and the backlog gate defer the
            // batch; anything else makes it a FailedInvalidation there.
            "CreateInvalidation" => {
                assert_eq!(catchers.len(), 2);
                assert_eq!(
                    catchers[0]["ErrorEquals"],
                    serde_json::json!([TOO_MANY_INVALIDATIONS, THROTTLED, BACKLOG_WAITING])
                );
                assert_eq!(catchers[0]["Next"], "DeferBatch");
                assert_eq!(
                    catchers[1]["ErrorEquals"],
                    serde_json::json!(["States.ALL"])
                );
                assert_eq!(catchers[1]["Next"], "BatchNotInvalidated");
            }
            // A batch that can be neither invalidated nor deferred is reported, never lost.
            "DeferBatch" => {
                assert_eq!(catchers.len(), 1);
                assert_eq!(
                    catchers[0]["ErrorEquals"],
                    serde_json::json!(["States.ALL"])
                );
                assert_eq!(catchers[0]["Next"], "BatchNotInvalidated");
            }
            name => {
                assert_eq!(catchers.len(), 1, "{name}");
                assert_eq!(
                    catchers[0]["ErrorEquals"],
                    serde_json::json!(["States.ALL"]),
                    "{name}"
                );
                assert_eq!(catchers[0]["Next"], "ReportFailures", "{name}");
            }
        }
    }
    // The Map itself catches too: a failure no iteration handled still gets reported.
    assert_eq!(
        definition["States"]["InvalidateCache"]["Catch"][0]["Next"],
        "ReportFailures"
    );
}

/// The longest a Task can spend waiting between attempts: for each retrier, every retry at its
/// full (capped) interval. FULL jitter waits a random time up to that, so this is the worst case.
fn task_retry_budget(task: &Value) -> f64 {
    let mut total = 0.0;
    for retrier in task["Retry"].as_array().into_iter().flatten() {
        let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
        let attempts = retrier["MaxAttempts"].as_u64().unwrap_or(3);
        let backoff = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
        let cap = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
        // Each retrier counts its own attempts, so an adversarial run can exhaust every one.
        for retry in 0..attempts {
            total += (interval * backoff.powi(i32::try_from(retry).unwrap_or(i32::MAX))).min(cap);
        }
    }
    total
}

/// The worst-case retry time along the longest path from `start` through `machine`'s states;
/// a Map costs its iteration's worst case once per wave of `MaxConcurrency` of `map_items`.
fn critical_path(
    machine: &Value,
    start: &str,
    map_items: usize,
    memo: &mut HashMap<String, f64>,
    seen: &mut Vec<String>,
) -> f64 {
    if let Some(cost) = memo.get(start) {
        return *cost;
    }
    assert!(
        !seen.contains(&start.to_owned()),
        "a cycle through {start}: the budget would be unbounded"
    );
    seen.push(start.to_owned());
    let state = &machine["States"][start];
    let own = match state["Type"].as_str() {
        Some("Task") => task_retry_budget(state),
        Some("Map") => {
            let processor = &state["ItemProcessor"];
            let iteration = critical_path(
                processor,
                processor["StartAt"].as_str().unwrap_or_default(),
                map_items,
                &mut HashMap::new(),
                &mut Vec::new(),
            );
            let concurrency = state["MaxConcurrency"]
                .as_u64()
                .filter(|c| *c > 0)
                .map_or(map_items, |c| c as usize);
            let waves = map_items.div_ceil(concurrency.max(1));
            iteration * waves as f64
        }
        _ => 0.0,
    };
    let mut next: Vec<&str> = Vec::new();
    next.extend(state["Next"].as_str());
    next.extend(state["Default"].as_str());
    for list in ["Choices", "Catch"] {
        next.extend(
            state[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["Next"].as_str()),
        );
    }
    let after = next
        .into_iter()
        .map(|n| critical_path(machine, n, map_items, memo, seen))
        .fold(0.0, f64::max);
    seen.pop();
    memo.insert(start.to_owned(), own + after);
    own + after
}

/// How many invalidation batches the largest inputs the trigger sends turn into, by the real
/// ValidateRecords and BatchPaths code.
async fn most_batches() -> usize {
    let mut most = 0;
    for shape in LargestShape::ALL {
        let config = shape.config();
        let input: ExecutionInput =
            serde_json::from_value(shape.input()).expect("the trigger writes ExecutionInputs");
        let validated = purgeflow_tasks::validate_records::validate_records(
            input,
            &config,
            &purgeflow_tasks::signing::MacPolicy::unsigned_allowed(),
            None,
        )
        .await
        .expect("validates");
        let policy = config.fold_policy();
        let batches = batch_paths(
            BatchPathsInput {
                batch_id: validated.batch_id,
                deleted: validated.targets,
                batches: validated.batches,
            },
            config.distribution_id().expect("set"),
            &policy,
        )
        .expect("batches");
        most = most.max(batches.batches.len());
    }
    most
}

/// The most invalidation batches one execution the trigger starts can make, derived from the
/// trigger's bound rather than from sample inputs: it packs at most
/// `floor(MAX_PATHS_PER_EXECUTION / path templates)` records (`Config::
/// max_records_per_execution_for_paths`), each with at most one path per template, so the plain
/// paths fill at most `ceil(2985 / 3000)` = 1 batch, and BatchPaths puts the (at most 15)
/// wildcards in one batch of their own (tasks/src/paths.rs). The tasks crate's property test
/// `an_executions_paths_make_at_most_two_batches_and_3000_paths` checks this on the real
/// batching code.
fn batch_bound() -> usize {
    MAX_PATHS_PER_EXECUTION.div_ceil(CLOUDFRONT_MAX_PATHS_PER_BATCH)
        + CLOUDFRONT_MAX_WILDCARD_PATHS.div_ceil(CLOUDFRONT_MAX_PATHS_PER_BATCH)
}

#[tokio::test]
async fn the_largest_inputs_make_no_more_batches_than_the_bound() {
    let bound = batch_bound();
    assert_eq!(bound, 2);
    let most = most_batches().await;
    assert!(
        (1..=bound).contains(&most),
        "the largest inputs make {most} invalidation batches; the bound is {bound}"
    );
}

#[tokio::test]
async fn the_worst_case_retry_budget_fits_in_expresss_five_minutes_with_margin() {
    let definition = purge::definition();
    let batches = batch_bound();
    let concurrency = definition["States"]["InvalidateCache"]["MaxConcurrency"]
        .as_u64()
        .and_then(|c| usize::try_from(c).ok())
        .expect("InvalidateCache has a MaxConcurrency");
    let waves = batches.div_ceil(concurrency);
    println!(
        "at most {batches} invalidation batches at MaxConcurrency {concurrency}: {waves} wave(s)"
    );
    assert_eq!(
        waves, 1,
        "every batch of an execution must be in flight at once, or the budget doubles"
    );
    let per_task: BTreeMap<String, f64> = task_states(&definition)
        .into_iter()
        .map(|t| (t.name, task_retry_budget(&t.definition)))
        .collect();
    let budget = critical_path(
        &definition,
        "ValidateRecords",
        batches,
        &mut HashMap::new(),
        &mut Vec::new(),
    );
    println!("retry budget per task (s): {per_task:?}");
    println!(
        "worst-case retry budget along the critical path: {budget} s for {batches} invalidation batch(es), of Express's {EXPRESS_LIMIT_SECONDS} s"
    );
    // The definition's Comment states the figure for readers of the ASL; keep it true.
    let stated = format!("{budget} s of Express's 300 s");
    assert!(
        definition["Comment"]
            .as_str()
            .is_some_and(|c| c.contains(&stated)),
        "update purge.asl.json's Comment to say \"{stated}\""
    );
    assert!(
        budget <= RETRY_BUDGET_LIMIT_SECONDS,
        "the retries alone may take {budget} s; keep them under {RETRY_BUDGET_LIMIT_SECONDS} s so the Lambdas' run time fits in {EXPRESS_LIMIT_SECONDS} s"
    );
}

#[test]
fn the_retry_budget_arithmetic_is_right() {
    let task = serde_json::json!({"Retry": [
        {"ErrorEquals": ["A"], "IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2, "MaxDelaySeconds": 30},
        {"ErrorEquals": ["B"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}
    ]});
    // 5 + 10 + 20 + 30 + 30, then 1 + 2 + 4.
    assert_eq!(task_retry_budget(&task), 102.0);
    let machine = serde_json::json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 10, "MaxAttempts": 1}], "Next": "M",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "R"}]},
        "M": {"Type": "Map", "MaxConcurrency": 2, "ItemProcessor": {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 7, "MaxAttempts": 1}], "End": true}}}, "Next": "R"},
        "R": {"Type": "Task", "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 3, "MaxAttempts": 1}], "End": true}
    }});
    // 10 + ceil(5 / 2) * 7 + 3
    assert_eq!(
        critical_path(&machine, "A", 5, &mut HashMap::new(), &mut Vec::new()),
        34.0
    );
}

#[test]
fn every_sample_execution_input_matches_the_execution_input_schema() {
    let files = repo::json_files("events/executions");
    assert!(
        !files.is_empty(),
        "no sample execution inputs in events/executions"
    );
    for file in files {
        schemas::check("execution-input.schema.json", &repo::read_json(&file))
            .unwrap_or_else(|report| panic!("{file}: {report}"));
    }
    for shape in LargestShape::ALL {
        schemas::check("execution-input.schema.json", &shape.input())
            .unwrap_or_else(|report| panic!("{shape:?}: {report}"));
    }
}

#[test]
fn every_mocked_return_matches_its_tasks_output_schema() {
    let config = repo::read_json("tests/fixtures/purge.mock-config.json");
    let functions: HashMap<String, String> = task_states(&purge::definition())
        .into_iter()
        .map(|t| (t.name, t.function))
        .collect();
    // Which Task states use each mocked response.
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (machine, body) in config["StateMachines"].as_object().into_iter().flatten() {
        assert_eq!(machine, purge::MOCK_CONFIG_MACHINE);
        for (case, states) in body["TestCases"].as_object().into_iter().flatten() {
            for (state, response) in states.as_object().into_iter().flatten() {
                assert!(
                    functions.contains_key(state),
                    "{case} mocks {state}, which is not a Task state of purge.asl.json"
                );
                users
                    .entry(response.as_str().unwrap_or_default().to_owned())
                    .or_default()
                    .insert(state.clone());
            }
        }
    }
    let mut checked = 0;
    for (name, response) in config["MockedResponses"].as_object().into_iter().flatten() {
        let states = users
            .get(name)
            .unwrap_or_else(|| panic!("mocked response {name} is used by no test case"));
        for (invocations, entry) in response.as_object().into_iter().flatten() {
            for state in states {
                if let Some(value) = entry.get("Return") {
                    let schema = purge::output_schema(&functions[state])
                        .expect("every task has an output schema");
                    schemas::check(schema, value).unwrap_or_else(|report| {
                        panic!("{name}[{invocations}] for {state}: {report}")
                    });
                    checked += 1;
                } else {
                    let error = entry["Throw"]["Error"].as_str().unwrap_or_default();
                    let plausible = if functions[state] == purgeflow_asl::sqs::SEND_MESSAGE {
                        error.starts_with("SQS.")
                    } else {
                        error.starts_with("Lambda.") || error.starts_with("PurgeFlow.")
                    };
                    assert!(
                        plausible,
                        "{name}[{invocations}] throws {error:?}, which {state} can't throw"
                    );
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} mocked returns were checked");
}
