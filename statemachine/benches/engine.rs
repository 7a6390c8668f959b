//! Engine throughput: executions per second on one core.
//!
//! Run: `cargo bench -p purgeflow-asl --bench engine -- --warm-up-time 1 --measurement-time 5`.
//! Criterion reports `thrpt` in elements/s; one element is one whole execution (parse once,
//! execute many times; the history is built every time, as in every run).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use purgeflow_asl::execution::{ExecutionOptions, ExecutionStatus};
use purgeflow_asl::machine::StateMachine;
use purgeflow_asl::mock::MockConfig;
use serde_json::{Value, json};

/// Pass → Choice → Map over 5 items → Succeed: the machine moto's interpreter runs at ~53/s.
fn pass_choice_map_definition() -> Value {
    json!({
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"items.$": "$.items", "mode": "fan-out"}, "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.mode", "StringEquals": "fan-out", "Next": "EachItem"}],
                "Default": "Done"
            },
            "EachItem": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Tag",
                    "States": {"Tag": {"Type": "Pass", "Parameters": {"id.$": "$.id", "seen": true}, "End": true}}
                },
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    })
}

/// Three Lambda tasks in a row, each with a Retry and a ResultSelector, answered by mocks.
fn tasks_definition() -> Value {
    let task = |function: &str, next: Value| {
        let mut state = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload.$": "$"},
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": format!("$.{function}"),
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 3}]
        });
        if let (Value::Object(fields), Value::Object(next)) = (&mut state, next) {
            fields.extend(next);
        }
        state
    };
    json!({
        "StartAt": "Validate",
        "States": {
            "Validate": task("validate", json!({"Next": "Delete"})),
            "Delete": task("delete", json!({"Next": "Invalidate"})),
            "Invalidate": task("invalidate", json!({"End": true}))
        }
    })
}

fn mock_config() -> Value {
    json!({
        "StateMachines": {"bench": {"TestCases": {"AllSucceed": {
            "Validate": "Validated", "Delete": "Deleted", "Invalidate": "Invalidated"
        }}}},
        "MockedResponses": {
            "Validated": {"0": {"Return": {"StatusCode": 200, "Payload": {"targets": 5, "rejected": 0}}}},
            "Deleted": {"0": {"Return": {"StatusCode": 200, "Payload": {"deleted": 5, "errors": []}}}},
            "Invalidated": {"0": {"Return": {"StatusCode": 200, "Payload": {"invalidationId": "I1", "paths": 5}}}}
        }
    })
}

fn machine(definition: &Value) -> StateMachine {
    StateMachine::from_value(definition)
        .unwrap_or_else(|diagnostics| panic!("benchmark definition is invalid: {diagnostics:?}"))
}

fn pass_choice_map(c: &mut Criterion) {
    let machine = machine(&pass_choice_map_definition());
    let input = json!({"items": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}]});
    let options = ExecutionOptions::default();
    let check = block_on(machine.execute(input.clone(), &options));
    assert_eq!(
        check.status,
        ExecutionStatus::Succeeded,
        "benchmark machine must succeed: {check:?}"
    );

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("pass_choice_map5_succeed", |b| {
        b.iter(|| {
            black_box(block_on(
                machine.execute(black_box(input.clone()), &options),
            ))
        })
    });
    group.finish();
}

fn mocked_tasks(c: &mut Criterion) {
    let machine = machine(&tasks_definition());
    let config = MockConfig::from_value(&mock_config()).expect("benchmark mock config is valid");
    let input = json!({"records": [{"photo_id": "p1", "type": "jpg"}]});
    // Mocks count invocations per state, so every execution gets fresh ones (built untimed).
    let fresh_options = || ExecutionOptions {
        state_machine_name: "bench".to_owned(),
        tasks: Arc::new(
            config
                .test_case("bench", "AllSucceed")
                .expect("benchmark test case exists"),
        ),
        ..ExecutionOptions::default()
    };
    let check = block_on(machine.execute(input.clone(), &fresh_options()));
    assert_eq!(
        check.status,
        ExecutionStatus::Succeeded,
        "benchmark machine must succeed: {check:?}"
    );

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("three_mocked_tasks", |b| {
        b.iter_batched(
            || (fresh_options(), input.clone()),
            |(options, input)| black_box(block_on(machine.execute(input, &options))),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pass_choice_map, mocked_tasks);
criterion_main!(benches);
