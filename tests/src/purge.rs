//! `statemachine/purge.asl.json` on the engine: loading it with the local substitutions, its
//! Task states, and running one execution.

use std::sync::Arc;

use futures::future::BoxFuture;

use purgeflow_asl::validate::substitute;
use purgeflow_asl::{ExecutionOptions, ExecutionResult, MachineType, StateMachine, TaskInvoker};
use serde_json::{Map, Value};

use crate::repo;

pub const DEFINITION: &str = "statemachine/purge.asl.json";
pub const LOCAL_SUBSTITUTIONS: &str = "statemachine/local-substitutions.json";
/// The state machine's name in `tests/fixtures/purge.mock-config.json`.
pub const MOCK_CONFIG_MACHINE: &str = "Purge";

/// The definition as checked in, `${...}` placeholders and all.
pub fn raw_definition() -> Value {
    repo::read_json(DEFINITION)
}

/// The local DefinitionSubstitutions.
pub fn local_substitutions() -> Map<String, Value> {
    match repo::read_json(LOCAL_SUBSTITUTIONS) {
        Value::Object(map) => map,
        other => panic!("{LOCAL_SUBSTITUTIONS} must be an object of names to ARNs, found {other}"),
    }
}

/// The definition with the local substitutions applied.
pub fn definition() -> Value {
    substitute(&raw_definition(), &local_substitutions())
        .unwrap_or_else(|diagnostics| panic!("{DEFINITION}: substitutions failed: {diagnostics:?}"))
}

/// The parsed, validated state machine.
pub fn machine() -> StateMachine {
    StateMachine::from_value(&definition()).unwrap_or_else(|diagnostics| {
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        panic!("{DEFINITION} is invalid:\n{}", lines.join("\n"))
    })
}

/// One Task state of the definition, wherever it is nested.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub name: String,
    /// The Lambda function's name, from the ARN the Resource resolves to; for a service
    /// integration (DeferBatch's SQS SendMessage), the Resource itself.
    pub function: String,
    pub definition: Value,
}

/// Every Task state, top level and inside Map and Parallel states, in document order.
pub fn task_states(definition: &Value) -> Vec<TaskState> {
    let mut found = Vec::new();
    collect_tasks(definition, &mut found);
    found
}

fn collect_tasks(machine: &Value, found: &mut Vec<TaskState>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => {
                let resource = state
                    .get("Resource")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let function = purgeflow_asl::task::function_name(resource)
                    .unwrap_or(resource)
                    .to_owned();
                found.push(TaskState {
                    name: name.clone(),
                    function,
                    definition: state.clone(),
                });
            }
            Some("Map") => {
                for key in ["ItemProcessor", "Iterator"] {
                    if let Some(processor) = state.get(key) {
                        collect_tasks(processor, found);
                    }
                }
            }
            Some("Parallel") => {
                for branch in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    collect_tasks(branch, found);
                }
            }
            _ => {}
        }
    }
}

/// The output schema of a task Lambda, by function name (or of DeferBatch's SQS integration, by
/// its resource).
pub fn output_schema(function: &str) -> Option<&'static str> {
    Some(match function {
        "validate-records" => "validate-records.output.schema.json",
        "delete-objects" => "delete-objects.output.schema.json",
        "batch-paths" => "batch-paths.output.schema.json",
        "invalidate-cache" => "invalidate-cache.output.schema.json",
        "report-failures" => "report-failures.output.schema.json",
        purgeflow_asl::sqs::SEND_MESSAGE => "defer-batch.output.schema.json",
        _ => return None,
    })
}

/// The input schema of a task Lambda, by function name (ValidateRecords takes the execution input).
pub fn input_schema(function: &str) -> Option<&'static str> {
    Some(match function {
        "validate-records" => "execution-input.schema.json",
        "delete-objects" => "delete-objects.input.schema.json",
        "batch-paths" => "batch-paths.input.schema.json",
        "invalidate-cache" => "invalidate-cache.input.schema.json",
        "report-failures" => "report-failures.input.schema.json",
        purgeflow_asl::sqs::SEND_MESSAGE => "defer-batch.input.schema.json",
        _ => return None,
    })
}

/// Options for one Express execution named `name`, with `tasks` doing the work.
pub fn options(name: &str, tasks: Arc<dyn TaskInvoker>) -> ExecutionOptions {
    ExecutionOptions {
        name: name.to_owned(),
        state_machine_name: "purgeflow-purge".to_owned(),
        machine_type: MachineType::Express,
        tasks,
        ..ExecutionOptions::default()
    }
}

/// The names of the states entered, in order.
pub fn states_entered(result: &ExecutionResult) -> Vec<&str> {
    result
        .states
        .iter()
        .map(|visit| visit.name.as_str())
        .collect()
}

/// A readable account of an execution, for assertion messages.
pub fn describe(result: &ExecutionResult) -> String {
    format!(
        "status {:?}, error {:?}, cause {:?}, states {:?}, output {}",
        result.status,
        result.error,
        result.cause,
        states_entered(result),
        result
            .output
            .as_ref()
            .map_or_else(|| "none".to_owned(), Value::to_string)
    )
}

/// One task invocation: the state, what it was given and what it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub state: String,
    pub input: Value,
    pub result: Result<Value, purgeflow_asl::StatesError>,
}

/// A [`TaskInvoker`] that records every invocation (state name, effective input, result) of
/// `inner`, so a test can assert what each task was given and answered.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn TaskInvoker>,
    calls: std::sync::Mutex<Vec<Call>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn TaskInvoker>) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            calls: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Every invocation so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .map(|calls| calls.clone())
            .unwrap_or_default()
    }

    /// The inputs `state` was invoked with, in order (retries included).
    pub fn inputs_of(&self, state: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|call| call.state == state)
            .map(|call| call.input)
            .collect()
    }
}

impl TaskInvoker for Recording {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, purgeflow_asl::StatesError>> {
        Box::pin(async move {
            let input = payload.clone();
            let result = self.inner.invoke(state_name, resource, payload).await;
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(Call {
                    state: state_name.to_owned(),
                    input,
                    result: result.clone(),
                });
            }
            result
        })
    }
}

/// The largest piece of state data in an execution's history, in bytes, and where it was:
/// every state's input and output, every task's parameters and result, and every variable
/// assigned (AWS limits each of these to 256 KiB).
pub fn largest_data(result: &ExecutionResult) -> (usize, String) {
    let mut largest = (0, String::from("nothing"));
    let mut state = String::from("the execution");
    for event in &result.history {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(details) = event.as_object().and_then(|e| {
            e.iter()
                .find(|(k, _)| k.ends_with("EventDetails"))
                .map(|(_, v)| v)
        }) else {
            continue;
        };
        if let Some(name) = details.get("name").and_then(Value::as_str) {
            state = name.to_owned();
        }
        let mut consider = |what: &str, text: &str| {
            if text.len() > largest.0 {
                largest = (text.len(), format!("{kind} {what} of {state}"));
            }
        };
        for field in ["input", "output", "parameters"] {
            if let Some(text) = details.get(field).and_then(Value::as_str) {
                consider(field, text);
            }
        }
        if let Some(Value::Object(assigned)) = details.get("assignedVariables") {
            let mut all_assigned = 0;
            for (variable, text) in assigned {
                let text = text.as_str().unwrap_or_default();
                all_assigned += text.len();
                consider(&format!("variable ${variable}"), text);
            }
            // AWS limits the variables of one Assign to 256 KiB together, too.
            if all_assigned > largest.0 {
                largest = (
                    all_assigned,
                    format!("{kind} Assign (all variables) of {state}"),
                );
            }
        }
    }
    largest
}

/// Every task input and result in `recording` that does not match its JSON Schema, described.
pub fn contract_violations(recording: &Recording) -> Vec<String> {
    let functions: std::collections::HashMap<String, String> = task_states(&definition())
        .into_iter()
        .map(|t| (t.name, t.function))
        .collect();
    let mut problems = Vec::new();
    for call in recording.calls() {
        let Some(function) = functions.get(&call.state) else {
            problems.push(format!(
                "{} is not a Task state of {DEFINITION}",
                call.state
            ));
            continue;
        };
        if let Some(schema) = input_schema(function)
            && let Err(report) = crate::schemas::check(schema, &call.input)
        {
            problems.push(format!("{}'s input: {report}", call.state));
        }
        if let (Ok(output), Some(schema)) = (&call.result, output_schema(function))
            && let Err(report) = crate::schemas::check(schema, output)
        {
            problems.push(format!("{}'s output: {report}", call.state));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The data-size tests are only as good as this scan: it must see inputs, outputs and
    /// assigned variables under the names the engine's history uses.
    #[test]
    fn largest_data_finds_outputs_and_variables_in_the_history() {
        let machine = StateMachine::from_value(&json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Big",
            "States": {
                "Big": {"Type": "Pass", "Assign": {"big": "{% $pad('', 5000, 'x') %}"}, "Output": "{% 'small' %}", "Next": "Bigger"},
                "Bigger": {"Type": "Pass", "Output": "{% $pad('', 7000, 'y') %}", "End": true}
            }
        }))
        .expect("valid");
        let result =
            futures::executor::block_on(machine.execute(json!({}), &ExecutionOptions::default()));
        let (bytes, place) = largest_data(&result);
        assert_eq!(bytes, 7002, "{place}");
        assert!(
            place.contains("Bigger") && place.contains("output"),
            "{place}"
        );

        let machine = StateMachine::from_value(&json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Big",
            "States": {"Big": {"Type": "Pass", "Assign": {"a": "{% $pad('', 3000, 'x') %}", "b": "{% $pad('', 4000, 'x') %}"}, "End": true}}
        }))
        .expect("valid");
        let result =
            futures::executor::block_on(machine.execute(json!({}), &ExecutionOptions::default()));
        let (bytes, place) = largest_data(&result);
        assert_eq!(
            bytes, 7004,
            "both variables of one Assign count together: {place}"
        );
        assert!(place.contains("Assign"), "{place}");
    }

    #[test]
    fn task_states_are_found_inside_map_and_parallel() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:one", "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "B", "States": {
                "B": {"Type": "Task", "Resource": "two", "End": true}}}, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "C", "States": {
                "C": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:three:live", "End": true}}}], "End": true}
        }});
        let found: Vec<(String, String)> = task_states(&definition)
            .into_iter()
            .map(|t| (t.name, t.function))
            .collect();
        let expected =
            [("A", "one"), ("B", "two"), ("C", "three")].map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(found, expected);
    }
}
