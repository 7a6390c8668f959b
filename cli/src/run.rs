//! `purgeflow run DEFINITION`: one execution on the local engine, with simulated time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use purgeflow_asl::conformance::status_name;
use purgeflow_asl::execution::{ExecutionOptions, ExecutionResult, ExecutionStatus, MachineType};
use purgeflow_asl::machine::StateMachine;
use purgeflow_asl::mock::MockConfig;
use purgeflow_asl::task::TaskInvoker;
use purgeflow_asl::validate::substitute;
use serde_json::{Value, json};

use crate::Verdict;
use crate::args::RunArgs;
use crate::files::{read_json, read_substitutions, stem_name};

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
        anyhow!(
            "{} is not a valid definition ({} {noun}; see `purgeflow validate`): {}",
            args.definition.display(),
            diagnostics.len(),
            join(&diagnostics)
        )
    })?;
    let input = match &args.input {
        Some(path) => read_json(path, "input file")?,
        None => json!({}),
    };
    let state_machine_name = args
        .state_machine_name
        .clone()
        .unwrap_or_else(|| stem_name(&args.definition));
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
    if let (Some(path), Some(test_case)) = (&args.mock_config, &args.test_case) {
        options.tasks = mocked_tasks(
            &read_json(path, "mock config")?,
            &state_machine_name,
            test_case,
        )
        .with_context(|| format!("mock config {}", path.display()))?;
    }

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

fn mocked_tasks(
    config: &Value,
    state_machine: &str,
    test_case: &str,
) -> anyhow::Result<Arc<dyn TaskInvoker>> {
    let config = MockConfig::from_value(config)?;
    let tasks = config.test_case(state_machine, test_case).with_context(|| {
        format!("pick the state machine with --state-machine-name (now {state_machine:?}) and an existing --test-case")
    })?;
    Ok(Arc::new(tasks))
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
