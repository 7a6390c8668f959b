//! Judging one execution against its recording: status, error and cause, output, and the
//! event sequence when one was recorded.

use serde_json::Value;

use super::case::Case;
use super::compare::{Comparer, Difference, Location, StringJson, render, truncate};
use crate::execution::{ExecutionResult, ExecutionStatus};

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The first difference, on one line.
    Failed(String),
    /// The case cannot be judged; the reason says why.
    Skipped(String),
}

impl Verdict {
    pub fn is_passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }
}

/// Statuses a recording can hold that a local run can reproduce.
const JUDGEABLE_STATUSES: &[&str] = &["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

/// Why a case cannot be judged at all, before running it.
pub fn unjudgeable(case: &Case) -> Option<String> {
    if !JUDGEABLE_STATUSES.contains(&case.expected.status.as_str()) {
        return Some(format!(
            "recorded status {:?} is not an execution status",
            case.expected.status
        ));
    }
    None
}

/// AWS's spelling of an execution status.
pub fn status_name(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        ExecutionStatus::Aborted => "ABORTED",
    }
}

/// Compares `result` with the recording in `case`; the verdict names the first difference.
pub fn judge(case: &Case, result: &ExecutionResult) -> Verdict {
    if let Some(reason) = unjudgeable(case) {
        return Verdict::Skipped(reason);
    }
    match first_difference(case, result) {
        None => Verdict::Passed,
        Some(reason) => Verdict::Failed(reason),
    }
}

fn first_difference(case: &Case, result: &ExecutionResult) -> Option<String> {
    let expected = &case.expected;
    let actual_status = status_name(result.status);
    if expected.status != actual_status {
        let detail = match (&result.error, &result.cause) {
            (Some(error), Some(cause)) => format!(" ({error}: {})", truncate(cause, 100)),
            (Some(error), None) => format!(" ({error})"),
            _ => String::new(),
        };
        return Some(format!(
            "status: expected {}, got {actual_status}{detail}",
            expected.status
        ));
    }

    let literal = Comparer {
        strings: StringJson::Literal,
        placeholder_pointers: &case.placeholders,
    };
    // Causes: literal when strings, structural when both hold JSON (AWS's JSON formatting is
    // not behaviour); the same rule as history details.
    let decoding = Comparer {
        strings: StringJson::Decode,
        placeholder_pointers: &case.placeholders,
    };

    if let Some(error) = &expected.error {
        let actual = result.error.clone().map(Value::String);
        if let Err(d) = literal.compare(
            &Value::String(error.clone()),
            actual.as_ref(),
            &Location::new("$.error", "/error"),
        ) {
            return Some(format!("error: {}", one_line(&d)));
        }
    }
    if let Some(cause) = &expected.cause {
        let actual = result.cause.clone().map(Value::String);
        if let Err(d) =
            decoding.compare(cause, actual.as_ref(), &Location::new("$.cause", "/cause"))
        {
            return Some(format!("cause: {}", one_line(&d)));
        }
    }
    if let Some(output) = &expected.output
        && let Err(d) = literal.compare(
            output,
            result.output.as_ref(),
            &Location::new("$.output", "/output"),
        )
    {
        return Some(format!("output: {}", one_line(&d)));
    }
    if let Some(events) = &expected.events
        && let Some(reason) = history_difference(&decoding, events, &result.history)
    {
        return Some(format!("history: {reason}"));
    }
    None
}

/// Compares the history event by event, ignoring `timestamp`, and names the event type where
/// they part.
///
/// Events from concurrent Parallel branches have no fixed order on AWS, so the recordings
/// replaced their ids by a non-number (`[0]`, with `previousEventId` 0). Such a run of
/// recorded events is matched as a set against our events between its numbered neighbours,
/// ids ignored. The numbered events after it still fix the total count; an event of ours in
/// that span that matches nothing recorded (the recordings dropped `ParallelStateSucceeded`
/// there) is accepted unjudged, as the recording holds nothing to compare it with.
fn history_difference(
    comparer: &Comparer<'_>,
    expected: &[Value],
    actual: &[Value],
) -> Option<String> {
    let root = Location::new("$.events", "/events");
    // Index in `actual` of the next event not yet accounted for. After a concurrent-branch
    // block it jumps to the next numbered event's id, skipping events the recording dropped.
    let mut cursor = 0;
    let mut i = 0;
    while i < expected.len() {
        let recorded = &expected[i];
        let Some(id) = event_id(recorded) else {
            let block_end = expected[i..]
                .iter()
                .position(|e| event_id(e).is_some())
                .map_or(expected.len(), |p| i + p);
            let span_end = match expected.get(block_end).and_then(event_id) {
                Some(next_id) => usize::try_from(next_id.saturating_sub(1))
                    .unwrap_or(usize::MAX)
                    .min(actual.len()),
                None => actual.len(),
            };
            let span = actual.get(cursor..span_end).unwrap_or_default();
            if let Some(reason) =
                unordered_difference(comparer, &expected[i..block_end], span, cursor)
            {
                return Some(reason);
            }
            cursor = span_end.max(cursor);
            i = block_end;
            continue;
        };
        let index = cursor;
        let at = root.index(index);
        let Some(ours) = actual.get(index) else {
            return Some(format!(
                "{}: expected event {} (id {id}), got the end of the history ({} events)",
                at.path(),
                event_type(recorded),
                actual.len()
            ));
        };
        // A different event type explains every other difference in the event: name it first.
        if let Err(d) = comparer.compare(&recorded["type"], Some(&ours["type"]), &at.key("type")) {
            return Some(format!("{} event: {}", event_type(recorded), one_line(&d)));
        }
        if let Err(d) = comparer.compare(
            &without_timestamp(recorded),
            Some(&without_timestamp(ours)),
            &at,
        ) {
            return Some(format!("{} event: {}", event_type(recorded), one_line(&d)));
        }
        cursor = index + 1;
        i += 1;
    }
    actual.get(cursor).map(|extra| {
        format!(
            "{}: expected the end of the history, got event {}",
            root.index(cursor).path(),
            event_type(extra)
        )
    })
}

/// Matches recorded concurrent-branch events one to one with events of `span` (which starts at
/// `offset` in our history), ignoring ids.
fn unordered_difference(
    comparer: &Comparer<'_>,
    recorded: &[Value],
    span: &[Value],
    offset: usize,
) -> Option<String> {
    let mut used = vec![false; span.len()];
    for event in recorded {
        let wanted = without_ids(event);
        let found = (0..span.len()).find(|&j| {
            !used[j]
                && comparer
                    .compare(
                        &wanted,
                        Some(&without_ids(&span[j])),
                        &Location::new("$", ""),
                    )
                    .is_ok()
        });
        match found {
            Some(j) => used[j] = true,
            None => {
                return Some(format!(
                    "$.events[{offset}..{}]: no event matches the recorded concurrent-branch event {}",
                    offset + span.len(),
                    render(Some(&wanted))
                ));
            }
        }
    }
    None
}

/// A recorded event's numeric id; None for the recordings' "order not fixed" marker.
fn event_id(event: &Value) -> Option<u64> {
    event.get("id").and_then(Value::as_u64)
}

fn without_ids(event: &Value) -> Value {
    let mut event = without_timestamp(event);
    if let Value::Object(fields) = &mut event {
        fields.remove("id");
        fields.remove("previousEventId");
    }
    event
}

fn event_type(event: &Value) -> String {
    match event.get("type") {
        Some(Value::String(t)) => t.clone(),
        other => render(other),
    }
}

/// Recorded timestamps were replaced by a marker; ours are real. Neither is comparable.
fn without_timestamp(event: &Value) -> Value {
    let mut event = event.clone();
    if let Value::Object(fields) = &mut event {
        fields.remove("timestamp");
    }
    event
}

fn one_line(difference: &Difference) -> String {
    difference.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn case(expected: Value, placeholders: &[&str]) -> Case {
        let file = json!({
            "name": "c",
            "definition": {},
            "state_machine_type": "STANDARD",
            "expected": expected,
            "placeholders": placeholders,
        });
        Case::parse(&file.to_string(), Path::new("c.json")).expect("valid case")
    }

    fn result(
        status: ExecutionStatus,
        output: Option<Value>,
        history: Vec<Value>,
    ) -> ExecutionResult {
        ExecutionResult {
            status,
            output,
            error: None,
            cause: None,
            history,
            states: Vec::new(),
            duration: Duration::ZERO,
        }
    }

    fn failed(error: &str, cause: &str) -> ExecutionResult {
        ExecutionResult {
            error: Some(error.to_owned()),
            cause: Some(cause.to_owned()),
            ..result(ExecutionStatus::Failed, None, Vec::new())
        }
    }

    fn started(id: u64, input: &str, timestamp: &str) -> Value {
        json!({
            "id": id, "previousEventId": 0, "timestamp": timestamp, "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": input, "inputDetails": {"truncated": false}, "roleArn": "arn:aws:iam::123456789012:role/r"}
        })
    }

    #[test]
    fn matching_output_passes() {
        let c = case(json!({"status": "SUCCEEDED", "output": {"a": 1.0}}), &[]);
        assert_eq!(
            judge(
                &c,
                &result(ExecutionStatus::Succeeded, Some(json!({"a": 1})), vec![])
            ),
            Verdict::Passed
        );
    }

    #[test]
    fn wrong_status_names_our_error() {
        let c = case(json!({"status": "SUCCEEDED", "output": {}}), &[]);
        let Verdict::Failed(reason) = judge(&c, &failed("States.Runtime", "boom")) else {
            panic!("status differs, so the case fails");
        };
        assert_eq!(
            reason,
            "status: expected SUCCEEDED, got FAILED (States.Runtime: boom)"
        );
    }

    #[test]
    fn error_and_cause_are_compared() {
        let c = case(
            json!({"status": "FAILED", "error": "E", "cause": "{\"a\": [1, 2]}"}),
            &[],
        );
        assert_eq!(
            judge(&c, &failed("E", "{\"a\":[1,2]}")),
            Verdict::Passed,
            "JSON causes compare structurally"
        );
        assert!(
            matches!(judge(&c, &failed("F", "{\"a\":[1,2]}")), Verdict::Failed(r) if r.starts_with("error: $.error"))
        );
        assert!(
            matches!(judge(&c, &failed("E", "{\"a\":[2]}")), Verdict::Failed(r) if r.starts_with("cause: $.cause.a[0]"))
        );
        let literal = case(
            json!({"status": "FAILED", "error": "E", "cause": "text"}),
            &[],
        );
        assert!(
            matches!(judge(&literal, &failed("E", "text ")), Verdict::Failed(r) if r.starts_with("cause:"))
        );
    }

    #[test]
    fn placeholder_cause_matches_anything() {
        let c = case(
            json!({"status": "FAILED", "error": "E", "cause": "recorded"}),
            &["/cause"],
        );
        assert_eq!(judge(&c, &failed("E", "anything")), Verdict::Passed);
    }

    #[test]
    fn history_ignores_timestamps_and_decodes_json_text() {
        let recorded = json!({
            "id": 1, "previousEventId": 0, "timestamp": "timestamp", "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": {"a": 1}, "inputDetails": {"truncated": false}, "roleArn": "snf_role_arn"}
        });
        let c = case(
            json!({"status": "SUCCEEDED", "output": 1, "events": [recorded]}),
            &[],
        );
        let ours = result(
            ExecutionStatus::Succeeded,
            Some(json!(1)),
            vec![started(1, "{\"a\":1}", "2024-01-01T00:00:00Z")],
        );
        assert_eq!(judge(&c, &ours), Verdict::Passed);

        let wrong_input = result(
            ExecutionStatus::Succeeded,
            Some(json!(1)),
            vec![started(1, "{\"a\":2}", "t")],
        );
        let Verdict::Failed(reason) = judge(&c, &wrong_input) else {
            panic!("input differs")
        };
        assert_eq!(
            reason,
            "history: ExecutionStarted event: $.events[0].executionStartedEventDetails.input.a: expected 1, got 2"
        );

        let longer = result(
            ExecutionStatus::Succeeded,
            Some(json!(1)),
            vec![started(1, "{\"a\":1}", "t"), started(2, "{}", "t")],
        );
        let Verdict::Failed(reason) = judge(&c, &longer) else {
            panic!("extra event")
        };
        assert_eq!(
            reason,
            "history: $.events[1]: expected the end of the history, got event ExecutionStarted"
        );

        let shorter = result(ExecutionStatus::Succeeded, Some(json!(1)), vec![]);
        let Verdict::Failed(reason) = judge(&c, &shorter) else {
            panic!("missing event")
        };
        assert!(
            reason.contains(
                "expected event ExecutionStarted (id 1), got the end of the history (0 events)"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_recorded_event_we_do_not_emit_is_a_difference() {
        let recorded = json!([
            started(1, "{}", "timestamp"),
            entered(2, 1, "A"),
            entered(3, 2, "B")
        ]);
        let c = case(
            json!({"status": "SUCCEEDED", "output": 1, "events": recorded}),
            &[],
        );
        let ours = vec![started(1, "{}", "t"), entered(2, 1, "B")];
        let Verdict::Failed(reason) = judge(
            &c,
            &result(ExecutionStatus::Succeeded, Some(json!(1)), ours),
        ) else {
            panic!("A is missing from our history");
        };
        assert_eq!(
            reason,
            "history: PassStateEntered event: $.events[1].stateEnteredEventDetails.name: expected \"A\", got \"B\""
        );

        // Our extra event in the middle shows up as an id mismatch.
        let recorded = json!([started(1, "{}", "timestamp"), entered(3, 2, "B")]);
        let c = case(
            json!({"status": "SUCCEEDED", "output": 1, "events": recorded}),
            &[],
        );
        let ours = vec![
            started(1, "{}", "t"),
            entered(2, 1, "A"),
            entered(3, 2, "B"),
        ];
        let Verdict::Failed(reason) = judge(
            &c,
            &result(ExecutionStatus::Succeeded, Some(json!(1)), ours),
        ) else {
            panic!("our history has an extra event");
        };
        assert!(
            reason.starts_with("history: PassStateEntered event: $.events[1]"),
            "{reason}"
        );
    }

    fn entered(id: u64, previous: u64, name: &str) -> Value {
        json!({"id": id, "previousEventId": previous, "timestamp": "t", "type": "PassStateEntered",
               "stateEnteredEventDetails": {"name": name, "input": "{}", "inputDetails": {"truncated": false}}})
    }

    fn recorded_unordered(name: &str) -> Value {
        json!({"id": [0], "previousEventId": 0, "timestamp": "timestamp", "type": "PassStateEntered",
               "stateEnteredEventDetails": {"name": name, "input": {}, "inputDetails": {"truncated": false}}})
    }

    #[test]
    fn concurrent_branch_events_match_in_any_order() {
        let recorded = json!([
            started(1, "{}", "timestamp"),
            recorded_unordered("A"),
            recorded_unordered("B"),
            entered(5, 4, "After"),
        ]);
        let c = case(
            json!({"status": "SUCCEEDED", "output": 1, "events": recorded}),
            &[],
        );
        let run = |history| result(ExecutionStatus::Succeeded, Some(json!(1)), history);
        // B before A, and one unrecorded event (id 4) inside the span.
        let ours = vec![
            started(1, "{}", "t"),
            entered(2, 1, "B"),
            entered(3, 1, "A"),
            entered(4, 3, "X"),
            entered(5, 4, "After"),
        ];
        assert_eq!(judge(&c, &run(ours)), Verdict::Passed);

        let missing_b = vec![
            started(1, "{}", "t"),
            entered(2, 1, "A"),
            entered(3, 1, "C"),
            entered(4, 3, "X"),
            entered(5, 4, "After"),
        ];
        let Verdict::Failed(reason) = judge(&c, &run(missing_b)) else {
            panic!("B never entered")
        };
        assert!(
            reason.starts_with(
                "history: $.events[1..4]: no event matches the recorded concurrent-branch event"
            ),
            "{reason}"
        );
        assert!(reason.contains("\"B\""), "{reason}");
    }

    #[test]
    fn unknown_recorded_status_is_skipped() {
        let c = case(json!({"status": "PENDING_REDRIVE"}), &[]);
        assert!(matches!(
            judge(&c, &result(ExecutionStatus::Succeeded, None, vec![])),
            Verdict::Skipped(_)
        ));
    }
}
