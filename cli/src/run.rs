//! `purgeflow run DEFINITION`: one execution on the local engine, with simulated time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::future::BoxFuture;
use purgeflow_asl::StatesError;
use purgeflow_asl::conformance::status_name;
use purgeflow_asl::execution::{ExecutionOptions, ExecutionResult, ExecutionStatus, MachineType};
use purgeflow_asl::machine::StateMachine;
use purgeflow_asl::mock::MockConfig;
use purgeflow_asl::task::TaskInvoker;
use purgeflow_asl::validate::substitute;
use serde_json::{Value, json};

use crate::Verdict;
use crate::args::RunArgs;
use crate::validate::{has_placeholder_problems, placeholder_hint};
use purgeflow_cli::files::{read_json, read_substitutions, stem_name};

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Verdict> {
    let mut definition = read_json(&args.definition, "definition")?;
    if let Some(path) = &args.substitutions {
        definition = substitute(&definition, &read_substitutions(path)?)
            .map_err(|diagnostics| anyhow!("substitutions failed: {}", join(&diagnostics)))?;
    }
    let machine = StateMachine::from_value(&definition).map_err(|diagnostics| {
        let noun = if diagnostics.len() == 1 {
            "problem"
        } else {
            "problems"
        };
        let hint = if args.substitutions.is_none() && has_placeholder_problems(&diagnostics) {
            format!("\n{}", placeholder_hint(&args.definition))
        } else {
            String::new()
        };
        anyhow!(
            "{} is not a valid definition ({} {noun}; see `purgeflow validate`): {}{hint}",
            args.definition.display(),
            diagnostics.len(),
            join(&diagnostics)
        )
    })?;
    let input = match &args.input {
        Some(path) => read_json(path, "input file")?,
        None => json!({}),
    };
    let mock_config = match &args.mock_config {
        Some(path) => Some((
            path,
            MockConfig::from_value(&read_json(path, "mock config")?)
                .with_context(|| format!("mock config {}", path.display()))?,
        )),
        None => None,
    };
    let state_machine_name = match (&args.state_machine_name, &mock_config) {
        (Some(name), _) => name.clone(),
        (None, Some((_, config))) => default_state_machine(config, &args.definition),
        (None, None) => stem_name(&args.definition),
    };
    let mut options = ExecutionOptions {
        state_machine_name: state_machine_name.clone(),
        machine_type: if args.express {
            MachineType::Express
        } else {
            MachineType::Standard
        },
        start_time: chrono::Utc::now(),
        ..ExecutionOptions::default()
    };
    options.tasks = match (&mock_config, &args.test_case) {
        (Some((path, config)), Some(test_case)) => {
            mocked_tasks(config, &state_machine_name, test_case)
                .with_context(|| format!("mock config {}", path.display()))?
        }
        _ => Arc::new(NoTaskResults),
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(machine.execute(input, &options));

    if args.json {
        let document = serde_json::to_string_pretty(&to_json(&result))
            .context("cannot print the result as JSON")?;
        println!("{document}");
    } else {
        print_text(&result);
    }
    Ok(if result.status == ExecutionStatus::Succeeded {
        Verdict::Ok
    } else {
        Verdict::NotOk
    })
}

/// The definition file's stem when the mock config knows it, else the config's only state
/// machine (the common case: one machine per mock config, named as in the cloud, e.g.
/// `Purge` for `purge.asl.json`). An ambiguous name is left to the lookup's error, which lists
/// the choices.
fn default_state_machine(config: &MockConfig, definition: &std::path::Path) -> String {
    let stem = stem_name(definition);
    match config.state_machine_names().as_slice() {
        [only] if *only != stem => (*only).to_owned(),
        _ => stem,
    }
}

fn mocked_tasks(
    config: &MockConfig,
    state_machine: &str,
    test_case: &str,
) -> anyhow::Result<Arc<dyn TaskInvoker>> {
    let Some(cases) = config.test_case_names(state_machine) else {
        bail!(
            "no state machine named {state_machine:?}; it has {} (choose with --state-machine-name)",
            quoted(&config.state_machine_names())
        );
    };
    if !cases.contains(&test_case) {
        bail!(
            "state machine {state_machine:?} has no test case named {test_case:?}; its test cases: {}",
            quoted(&cases)
        );
    }
    Ok(Arc::new(config.test_case(state_machine, test_case)?))
}

fn quoted(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Without a mock config, `run` calls no function: a Task state fails with a message that
/// says which flags give it a result.
#[derive(Debug)]
struct NoTaskResults;

impl TaskInvoker for NoTaskResults {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        _payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            Err(StatesError::new(
                purgeflow_asl::error::names::RUNTIME,
                format!(
                    "Task state '{state_name}' ({resource}) has no result: `purgeflow run` calls no functions; give task results with --mock-config FILE --test-case NAME"
                ),
            ))
        })
    }
}

fn join(diagnostics: &[purgeflow_asl::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_text(result: &ExecutionResult) {
    println!("status: {}", status_name(result.status));
    if let Some(output) = &result.output {
        println!(
            "output: {}",
            serde_json::to_string_pretty(output).unwrap_or_else(|_| output.to_string())
        );
    }
    if let Some(error) = &result.error {
        println!("error: {error}");
    }
    if let Some(cause) = &result.cause {
        println!("cause: {cause}");
    }
    println!(
        "states ({} entered; times are simulated):",
        result.states.len()
    );
    let name_width = result
        .states
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    let type_width = result
        .states
        .iter()
        .map(|s| s.state_type.len())
        .max()
        .unwrap_or(0);
    for visit in &result.states {
        println!(
            "  {:>11}  {:<type_width$}  {:<name_width$}  {}",
            format!("+{}", seconds(visit.entered_after)),
            visit.state_type,
            visit.name,
            seconds(visit.duration)
        );
    }
    println!("duration: {} (simulated)", seconds(result.duration));
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}s", duration.as_secs_f64())
}

/// Everything about the execution as one JSON document.
fn to_json(result: &ExecutionResult) -> Value {
    let states: Vec<Value> = result
        .states
        .iter()
        .map(|visit| {
            json!({
                "name": visit.name,
                "type": visit.state_type,
                "enteredAfterSeconds": visit.entered_after.as_secs_f64(),
                "durationSeconds": visit.duration.as_secs_f64(),
            })
        })
        .collect();
    json!({
        "status": status_name(result.status),
        "output": result.output,
        "error": result.error,
        "cause": result.cause,
        "durationSeconds": result.duration.as_secs_f64(),
        "states": states,
        "history": result.history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use purgeflow_asl::execution::StateVisit;

    #[test]
    fn json_document_holds_everything() {
        let result = ExecutionResult {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("E".into()),
            cause: Some("C".into()),
            history: vec![json!({"id": 1, "type": "ExecutionStarted"})],
            states: vec![StateVisit {
                name: "W".into(),
                state_type: "Wait".into(),
                entered_after: Duration::from_millis(1500),
                duration: Duration::from_secs(10),
            }],
            duration: Duration::from_millis(11_500),
        };
        let document = to_json(&result);
        assert_eq!(document["status"], "FAILED");
        assert_eq!(document["error"], "E");
        assert_eq!(document["cause"], "C");
        assert_eq!(document["output"], Value::Null);
        assert_eq!(document["states"][0]["enteredAfterSeconds"], 1.5);
        assert_eq!(document["states"][0]["durationSeconds"], 10.0);
        assert_eq!(document["durationSeconds"], 11.5);
        assert_eq!(document["history"][0]["type"], "ExecutionStarted");
    }

    #[test]
    fn seconds_have_millisecond_precision() {
        assert_eq!(seconds(Duration::from_millis(2_345)), "2.345s");
    }
}
