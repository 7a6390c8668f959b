//! What `purgeflow local` prints: one line per finished execution, readable or JSON.

use std::fmt::Write as _;

use serde_json::json;

use crate::local::pipeline::ExecutionReport;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// One readable line per execution.
    Human,
    /// One JSON object per line (`"event"` says what it is), for scripts.
    Json,
    /// Nothing: the caller presents the results itself (the demo, tests).
    Quiet,
}

/// Prints events of a run in the chosen mode, to stdout.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub mode: OutputMode,
}

impl Printer {
    pub fn new(mode: OutputMode) -> Self {
        Printer { mode }
    }

    pub fn execution(&self, report: &ExecutionReport) {
        match self.mode {
            OutputMode::Human => println!("{}", human_line(report)),
            OutputMode::Json => println!(
                "{}",
                json_line(
                    "execution",
                    &serde_json::to_value(report).unwrap_or_default()
                )
            ),
            OutputMode::Quiet => {}
        }
    }

    /// Something about the stream itself (records dropped as malformed, a record too large).
    pub fn note(&self, message: &str) {
        match self.mode {
            OutputMode::Human => eprintln!("purgeflow: {message}"),
            OutputMode::Json => println!("{}", json!({ "event": "note", "message": message })),
            OutputMode::Quiet => {}
        }
    }

    /// One round of the local dispatcher on the deferral queue (`local/dispatcher.rs`).
    pub fn dispatch(&self, fields: &serde_json::Value) {
        match self.mode {
            OutputMode::Human => eprintln!("purgeflow: dispatcher: {fields}"),
            OutputMode::Json => println!("{}", json_line("dispatch", fields)),
            OutputMode::Quiet => {}
        }
    }

    /// The AWS requests a run sent, per `service:Operation`.
    pub fn calls(&self, calls: &std::collections::BTreeMap<String, u64>) {
        match self.mode {
            OutputMode::Human => {
                let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
                println!("AWS requests: {}", listed.join(", "));
            }
            OutputMode::Json => println!("{}", json!({ "event": "calls", "calls": calls })),
            OutputMode::Quiet => {}
        }
    }

    pub fn summary(&self, summary: &serde_json::Value, line: &str) {
        match self.mode {
            OutputMode::Human => println!("{line}"),
            OutputMode::Json => println!("{}", json_line("summary", summary)),
            OutputMode::Quiet => {}
        }
    }
}

/// One `--json` line: `{"event": <event>, ...fields}`.
pub fn json_line(event: &str, fields: &serde_json::Value) -> serde_json::Value {
    let mut line = serde_json::Map::new();
    line.insert("event".into(), json!(event));
    if let Some(fields) = fields.as_object() {
        line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    serde_json::Value::Object(line)
}

/// `✔ SUCCEEDED  <name>  3 records  41.2 ms  ValidateRecords 12.0 ms → DeleteObjects 9.1 ms → ...`
pub fn human_line(report: &ExecutionReport) -> String {
    let mark = if report.succeeded() { "✔" } else { "✘" };
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    // A replay carries targets (and maybe records); a stream batch only records.
    let carried = match (report.records, report.targets) {
        (records, 0) => plural(records, "record"),
        (0, targets) => plural(targets, "target"),
        (records, targets) => format!(
            "{}, {}",
            plural(records, "record"),
            plural(targets, "target")
        ),
    };
    let mut line = format!(
        "{mark} {:<9} {}  {carried}  {:.1} ms  ",
        report.status, report.execution, report.wall_ms
    );
    let states: Vec<String> = report
        .states
        .iter()
        .map(|state| {
            let mut text = state.name.clone();
            if state.visits > 1 {
                let _ = write!(text, "×{}", state.visits);
            }
            if let Some(ms) = state.wall_ms {
                let _ = write!(text, " {ms:.1} ms");
            }
            if let Some(failed) = state.failed_calls.filter(|f| *f > 0) {
                let _ = write!(
                    text,
                    " ({failed} failed call{})",
                    if failed == 1 { "" } else { "s" }
                );
            }
            text
        })
        .collect();
    line.push_str(&states.join(" → "));
    match (&report.error, &report.cause) {
        (Some(error), Some(cause)) => {
            let _ = write!(line, "\n    {error}: {cause}");
        }
        (Some(error), None) => {
            let _ = write!(line, "\n    {error}");
        }
        _ => {
            if let Some(output) = &report.output {
                let _ = write!(line, "\n    {output}");
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::pipeline::StateReport;

    fn report(status: &str, error: Option<&str>) -> ExecutionReport {
        ExecutionReport {
            execution: "0001-2-abcd".into(),
            records: 2,
            targets: 0,
            status: status.into(),
            error: error.map(str::to_owned),
            cause: error.map(|_| "1 rejected".to_owned()),
            states: vec![
                StateReport {
                    name: "ValidateRecords".into(),
                    state_type: "Task".into(),
                    visits: 1,
                    task_calls: Some(1),
                    failed_calls: Some(0),
                    wall_ms: Some(3.25),
                },
                StateReport {
                    name: "InvalidateCache".into(),
                    state_type: "Map".into(),
                    visits: 2,
                    task_calls: None,
                    failed_calls: None,
                    wall_ms: None,
                },
            ],
            wall_ms: 10.0,
            output: None,
        }
    }

    #[test]
    fn a_failed_execution_shows_its_error_and_cause() {
        let line = human_line(&report("FAILED", Some("PurgeIncomplete")));
        assert!(
            line.starts_with("✘ FAILED    0001-2-abcd  2 records  10.0 ms"),
            "{line}"
        );
        assert!(
            line.contains("ValidateRecords 3.2 ms → InvalidateCache×2"),
            "{line}"
        );
        assert!(line.ends_with("PurgeIncomplete: 1 rejected"), "{line}");
    }

    #[test]
    fn a_replay_counts_its_targets_as_targets() {
        let mut replay = report("SUCCEEDED", None);
        replay.records = 0;
        replay.targets = 3;
        assert!(
            human_line(&replay).starts_with("✔ SUCCEEDED 0001-2-abcd  3 targets  10.0 ms"),
            "{}",
            human_line(&replay)
        );
        replay.records = 1;
        replay.targets = 1;
        assert!(
            human_line(&replay).contains("  1 record, 1 target  "),
            "{}",
            human_line(&replay)
        );
    }

    #[test]
    fn json_lines_name_their_event_first() {
        let value = serde_json::to_value(report("SUCCEEDED", None)).expect("serialisable");
        let line = json_line("execution", &value);
        assert_eq!(
            line.as_object()
                .and_then(|o| o.keys().next())
                .map(String::as_str),
            Some("event")
        );
        assert_eq!(line["execution"], "0001-2-abcd");
        assert_eq!(line["states"][0]["wallMs"], 3.25);
        assert_eq!(line["states"][1]["type"], "Map");
        assert!(
            line.get("error").is_none(),
            "absent fields are left out: {line}"
        );
    }

    /// Only a success, or the definition's `PurgeIncomplete` (reached after ReportFailures
    /// published the report), accounts for an execution's records.
    #[test]
    fn an_execution_that_published_no_report_is_not_accounted_for() {
        assert!(report("SUCCEEDED", None).accounted_for());
        assert!(report("FAILED", Some("PurgeIncomplete")).accounted_for());
        assert!(!report("FAILED", Some("PurgeFlow.NotFound")).accounted_for());
        assert!(!report("TIMED_OUT", Some("States.Timeout")).accounted_for());
    }

    #[test]
    fn a_succeeded_execution_is_marked_so() {
        assert!(human_line(&report("SUCCEEDED", None)).starts_with("✔ SUCCEEDED"));
    }
}
