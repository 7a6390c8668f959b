//! The states that do their work in place: Pass, Choice, Wait, Succeed and Fail.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::io::Eval;
use super::{Entered, Failure, Flow, Run, Step, exit_state};
use crate::error::names;
use crate::model::{ChoiceState, FailState, PassState, QueryLanguage, State, WaitState};
use crate::{choice, context::PathContext, intrinsics};

/// The longest delay AWS accepts in a Wait: 2^31 - 1 seconds (a timestamp 24,856 days ahead is
/// rejected as "too long", one 24,855 days ahead is not).
const MAX_WAIT: Duration = Duration::from_secs(i32::MAX as u64);

pub(super) fn pass(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    pass: &PassState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let effective = eval.input_path(&state.common, &input)?;
            let result = match (&state.common.parameters, &pass.result) {
                (Some(parameters), _) => eval.template(parameters, &effective, "Parameters")?,
                (None, Some(result)) => result.clone(),
                (None, None) => effective,
            };
            let assigned = eval.assign(state.common.assign.as_ref(), &result, &Value::Null)?;
            (
                eval.jsonpath_output(&state.common, &input, result)?,
                assigned,
            )
        }
        QueryLanguage::Jsonata => jsonata_output(&eval, state, &input, None)?,
    };
    exit_state(run, entered, state, output, assigned, None, flow)
}

/// JSONata Assign and Output (Output defaults to the input, or to the result when there is one).
pub(super) fn jsonata_output(
    eval: &Eval<'_>,
    state: &State,
    input: &Value,
    result: Option<&Value>,
) -> Result<(Value, Option<Map<String, Value>>), Failure> {
    let states = eval.states(input, result, None);
    let assigned = eval.assign(state.common.assign.as_ref(), &Value::Null, &states)?;
    let output = match &state.common.output {
        Some(template) => eval.jsonata(template, &states, "Output")?,
        None => result.unwrap_or(input).clone(),
    };
    Ok((output, assigned))
}

pub(super) fn succeed(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let effective = eval.input_path(&state.common, &input)?;
            (eval.output_path(&state.common, effective)?, None)
        }
        QueryLanguage::Jsonata => jsonata_output(&eval, state, &input, None)?,
    };
    let mut step = exit_state(run, entered, state, output, assigned, None, flow)?;
    step.next = None;
    Ok(step)
}

pub(super) fn fail(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    fail: &FailState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (error, cause) = match entered.language {
        QueryLanguage::JsonPath => (
            fail_field(
                &eval,
                fail.error.as_ref(),
                fail.error_path.as_deref(),
                &input,
                "ErrorPath",
            )?,
            fail_field(
                &eval,
                fail.cause.as_ref(),
                fail.cause_path.as_deref(),
                &input,
                "CausePath",
            )?,
        ),
        QueryLanguage::Jsonata => {
            let states = eval.states(&input, None, None);
            let field = |value: Option<&String>, name: &str| -> Result<Option<String>, Failure> {
                value
                    .map(|v| {
                        eval.jsonata(&Value::String(v.clone()), &states, name)
                            .map(|r| super::io::raw_text(&r))
                    })
                    .transpose()
            };
            (
                field(fail.error.as_ref(), "Error")?,
                field(fail.cause.as_ref(), "Cause")?,
            )
        }
    };
    Err(Failure::verbatim(error, cause))
}

/// Error/Cause of a JSONPath Fail state: the literal, or the string at ErrorPath/CausePath.
pub(super) fn fail_field(
    eval: &Eval<'_>,
    literal: Option<&String>,
    path: Option<&str>,
    input: &Value,
    field: &str,
) -> Result<Option<String>, Failure> {
    let Some(path) = path else {
        return Ok(literal.cloned());
    };
    let value = if intrinsics::is_intrinsic(path) {
        let ctx = PathContext {
            input,
            context: eval.context,
            variables: eval.variables,
            random: Some(eval.random),
        };
        intrinsics::evaluate(path, &ctx).map_err(Failure::from)?
    } else {
        eval.query(path, input, field)?
    };
    match value {
        Value::String(s) => Ok(Some(s)),
        other => Err(Failure::new(
            names::RUNTIME,
            format!(
                "The JSONPath '{path}' specified for the field '{field}' must reference a string, but was: {other}"
            ),
        )),
    }
}

pub(super) fn choice(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    choice_state: &ChoiceState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (output, assigned, next) = match entered.language {
        QueryLanguage::JsonPath => {
            let effective = eval.input_path(&state.common, &input)?;
            let ctx = PathContext {
                input: &effective,
                context: &context,
                variables: &flow.variables,
                random: Some(&run.random),
            };
            let mut matched = None;
            for rule in &choice_state.choices {
                if choice::evaluate_rule(&rule.rule, &ctx).map_err(Failure::from)? {
                    matched = Some(rule);
                    break;
                }
            }
            let (assign, next) = choose(
                matched.map(|r| (r.assign.as_ref(), &r.next)),
                state,
                choice_state,
            )?;
            let assigned = eval.assign(assign, &effective, &Value::Null)?;
            (eval.output_path(&state.common, effective)?, assigned, next)
        }
        QueryLanguage::Jsonata => {
            let states = eval.states(&input, None, None);
            let mut matched = None;
            for rule in &choice_state.choices {
                let Some(condition) = &rule.condition else {
                    continue;
                };
                // A non-boolean result is worded as for any typed JSONata field, as recorded
                // for Items (scenarios_..._test_map_state_items_eval_jsonata_fail_*): AWS checks
                // the result type of every such field the same way.
                let verdict = eval.jsonata_typed(
                    condition,
                    &states,
                    "Condition",
                    crate::jsonata::ExpectedType::Boolean,
                )?;
                if verdict == Value::Bool(true) {
                    matched = Some(rule);
                    break;
                }
            }
            let (assign, next) = choose(
                matched.map(|r| (r.assign.as_ref(), &r.next)),
                state,
                choice_state,
            )?;
            let assigned = eval.assign(assign, &Value::Null, &states)?;
            let output_template = matched
                .and_then(|r| r.output.as_ref())
                .or(state.common.output.as_ref());
            let output = match output_template {
                Some(template) => eval.jsonata(template, &states, "Output")?,
                None => input.clone(),
            };
            (output, assigned, next)
        }
    };
    exit_state(run, entered, state, output, assigned, Some(next), flow)
}

/// The matched rule's Assign and Next, else the state's Assign and Default.
fn choose<'s>(
    matched: Option<(Option<&'s Value>, &'s String)>,
    state: &'s State,
    choice_state: &'s ChoiceState,
) -> Result<(Option<&'s Value>, String), Failure> {
    match (matched, &choice_state.default) {
        (Some((assign, next)), _) => Ok((assign, next.clone())),
        (None, Some(default)) => Ok((state.common.assign.as_ref(), default.clone())),
        // No recorded case shows AWS's wording for this cause; this one says what happened.
        (None, None) => Err(Failure::new(
            names::NO_CHOICE_MATCHED,
            "No Choice rule matched and the Choice state has no Default.",
        )),
    }
}

pub(super) async fn wait(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    wait: &WaitState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let context = run.context(entered, None);
    let eval = run.eval(entered.language, &context, &flow.variables);
    let (delay, output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let effective = eval.input_path(&state.common, &input)?;
            let delay = jsonpath_delay(run, &eval, wait, &effective, flow.now)?;
            let assigned = eval.assign(state.common.assign.as_ref(), &effective, &Value::Null)?;
            (delay, eval.output_path(&state.common, effective)?, assigned)
        }
        QueryLanguage::Jsonata => {
            let states = eval.states(&input, None, None);
            let delay = jsonata_delay(run, &eval, wait, &states, flow.now)?;
            let (output, assigned) = jsonata_output(&eval, state, &input, None)?;
            (delay, output, assigned)
        }
    };
    if delay > MAX_WAIT {
        return Err(Failure::new(
            names::RUNTIME,
            "Wait state delay is too long.",
        ));
    }
    pause(run, flow, delay).await?;
    exit_state(run, entered, state, output, assigned, None, flow)
}

/// Advances the flow's clock by `delay` (see [`advance`]) and, when the run is paced in real
/// time ([`ExecutionOptions::sleeper`](crate::execution::ExecutionOptions::sleeper)), waits the
/// same delay for real. A delay cut short by the deadline or a stopped flow is not slept: the
/// flow ends there, and sleeping would only hold up the result.
pub(super) async fn pause(run: &Run<'_>, flow: &mut Flow, delay: Duration) -> Result<(), Failure> {
    advance(run, flow, delay)?;
    if delay.is_zero() {
        return Ok(());
    }
    // Take the sleeper's future before awaiting, so no borrow of the run lives across the await.
    let sleeping = run
        .options
        .sleeper
        .as_ref()
        .map(|sleeper| sleeper.sleep(delay));
    if let Some(sleeping) = sleeping {
        sleeping.await;
    }
    Ok(())
}

/// Moves the flow's clock on, stopping at the execution's deadline, or at the instant a
/// sibling Parallel branch failed (whichever comes first).
fn advance(run: &Run<'_>, flow: &mut Flow, delay: Duration) -> Result<(), Failure> {
    let until = flow.now.saturating_add(delay);
    let deadline = run.deadline.filter(|d| until > *d);
    let stop = flow.stop_at.filter(|s| until > *s);
    match (deadline, stop) {
        (Some(deadline), stop) if stop.is_none_or(|s| deadline <= s) => {
            flow.now = deadline;
            Err(Failure::execution_timeout(deadline))
        }
        (_, Some(stop)) => {
            flow.now = stop.max(flow.now);
            Err(Failure::stopped())
        }
        _ => {
            flow.now = until;
            Ok(())
        }
    }
}

fn jsonpath_delay(
    run: &Run<'_>,
    eval: &Eval<'_>,
    wait: &WaitState,
    input: &Value,
    now: Duration,
) -> Result<Duration, Failure> {
    if let Some(seconds) = &wait.seconds {
        return seconds_value(seconds).ok_or_else(|| {
            Failure::new(
                names::RUNTIME,
                format!("The Seconds field must be a non-negative integer, but was: {seconds}"),
            )
        });
    }
    if let Some(Value::String(ts)) = &wait.timestamp {
        let at = parse_timestamp(ts).ok_or_else(|| {
            Failure::new(
                names::RUNTIME,
                format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}"),
            )
        })?;
        return Ok(run.clock.until(now, at));
    }
    if let Some(path) = &wait.seconds_path {
        let value = eval.query(path, input, "SecondsPath").map_err(|_| {
            Failure::new(
                names::RUNTIME,
                format!("The SecondsPath parameter does not reference an input value: {path}"),
            )
        })?;
        return seconds_value(&value).ok_or_else(|| {
            Failure::new(
                names::RUNTIME,
                format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {path} == {value}"
                ),
            )
        });
    }
    if let Some(path) = &wait.timestamp_path {
        let invalid = |shown: String| {
            Failure::new(
                names::RUNTIME,
                format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {shown}"
                ),
            )
        };
        // A path that selects nothing is worded as for SecondsPath (recorded in
        // logs_test_logs_..._test_base_wait_seconds_path: "The SecondsPath parameter does not
        // reference an input value: $.input.waitSeconds"); serverless-offline-step-functions,
        // which copies AWS's messages, words TimestampPath the same way.
        let value = eval.query(path, input, "TimestampPath").map_err(|_| {
            Failure::new(
                names::RUNTIME,
                format!("The TimestampPath parameter does not reference an input value: {path}"),
            )
        })?;
        let at = value
            .as_str()
            .and_then(parse_timestamp)
            .ok_or_else(|| invalid(super::io::raw_text(&value)))?;
        return Ok(run.clock.until(now, at));
    }
    Ok(Duration::ZERO)
}

fn jsonata_delay(
    run: &Run<'_>,
    eval: &Eval<'_>,
    wait: &WaitState,
    states: &Value,
    now: Duration,
) -> Result<Duration, Failure> {
    if let Some(seconds) = &wait.seconds {
        let value = eval.jsonata(seconds, states, "Seconds")?;
        return seconds_value(&value).ok_or_else(|| {
            Failure::new(
                names::QUERY_EVALUATION_ERROR,
                format!(
                    "The Seconds field cannot be parsed as a non-negative integer: {}",
                    super::io::raw_text(&value)
                ),
            )
        });
    }
    if let Some(timestamp) = &wait.timestamp {
        let value = eval.jsonata(timestamp, states, "Timestamp")?;
        let at = value.as_str().and_then(parse_timestamp).ok_or_else(|| {
            Failure::new(
                names::QUERY_EVALUATION_ERROR,
                format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                    super::io::raw_text(&value)
                ),
            )
            .at_location("Timestamp")
        })?;
        return Ok(run.clock.until(now, at));
    }
    Ok(Duration::ZERO)
}

/// A whole, non-negative number of seconds.
fn seconds_value(value: &Value) -> Option<Duration> {
    value.as_u64().map(Duration::from_secs)
}

/// ISO-8601 extended format with an offset, as AWS requires: `2016-03-14T01:59:00Z`.
pub(super) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    // chrono's RFC 3339 parser also takes a space or a lowercase `t` between date and time;
    // AWS does not.
    if s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_need_the_extended_format_with_an_offset() {
        assert!(parse_timestamp("2016-12-05T21:29:29Z").is_some());
        assert!(parse_timestamp("2016-12-05T21:29:29.123+02:00").is_some());
        for bad in [
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "05-12-2016T21:29:29Z",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad} should be rejected");
        }
    }

    #[test]
    fn seconds_must_be_whole_and_non_negative() {
        assert_eq!(seconds_value(&json!(3)), Some(Duration::from_secs(3)));
        assert_eq!(seconds_value(&json!(1.5)), None);
        assert_eq!(seconds_value(&json!(-1)), None);
        assert_eq!(seconds_value(&json!("3")), None);
    }
}
