//! TestState: one state, run once, outside any execution (see [`crate::test_state`]).
//!
//! The state's input and output processing reuse the interpreter's `Eval`; what differs
//! from an execution is around it: no history, no clock, a mocked result standing in for a
//! task's work (and for a Map's iterations or a Parallel's branches), and Retry/Catch that
//! answer "would retry" (`RETRIABLE`) or "caught, next is X" (`CAUGHT_ERROR`) instead of
//! looping or jumping.
//!
//! Which inspection fields each state type reports is what the recorded TestState cases show
//! (`../shared/asl-conformance/test_state`): e.g. a Pass with `Result` reports `input`,
//! `result`, `afterResultSelector` and `afterResultPath`; one without reports `afterInputPath`
//! and `afterParameters` instead of `result`; a Parallel reports no `afterInputPath`.

use serde_json::{Map, Value, json};

use super::Failure;
use super::branches::{Tolerance, exceeds_tolerance, float, integer, number_field};
use super::io::Eval;
use super::retry;
use super::simple::fail_field;
use crate::context::PathContext;
use crate::error::names;
use crate::execution::ExecutionOptions;
use crate::machine::StateMachine;
use crate::model::{Definition, QueryLanguage, State, StateKind};
use crate::random::RandomSource;
use crate::test_state::{
    InspectionLevel, TestStateError, TestStateRequest, TestStateResult, TestStateStatus,
};

/// The name a lone state gets when the request gives none: what AWS's TestState puts in
/// `$$.State.Name` then (recorded: test_state_task_catch_error, whose Catch outputs
/// `$states` with `"State": {"Name": "StateName", ...}`).
const DEFAULT_STATE_NAME: &str = "StateName";

/// Runs the request's state once. Tasks without a mock go to `options.tasks`.
pub async fn test_state(
    request: &TestStateRequest,
    options: &ExecutionOptions,
) -> Result<TestStateResult, TestStateError> {
    run(request, options).await
}

async fn run(
    request: &TestStateRequest,
    options: &ExecutionOptions,
) -> Result<TestStateResult, TestStateError> {
    let (state, name, language) = resolve(request)?;
    let context = request
        .context
        .clone()
        .unwrap_or_else(|| default_context(&name, request, options));
    let random = RandomSource::seeded(options.seed);
    let eval = Eval {
        context: &context,
        variables: &request.variables,
        engine: &*options.jsonata,
        random: &random,
        language,
    };
    let mut tester = Tester {
        eval,
        request,
        options,
        inspection: Map::new(),
    };
    let outcome = tester.state(&state, &name).await;
    let inspection_data = match request.inspection_level {
        InspectionLevel::Info => Map::new(),
        InspectionLevel::Debug | InspectionLevel::Trace => tester.inspection,
    };
    let result = match outcome {
        Outcome::Done { output, next } => TestStateResult {
            status: TestStateStatus::Succeeded,
            output: Some(output),
            error: None,
            cause: None,
            next_state: next,
            inspection_data,
        },
        Outcome::Stopped {
            status,
            failure,
            output,
            next,
        } => TestStateResult {
            status,
            output,
            error: failure.error,
            cause: failure.cause,
            next_state: next,
            inspection_data,
        },
    };
    Ok(result)
}

/// The state to test, its name and query language.
fn resolve(request: &TestStateRequest) -> Result<(State, String, QueryLanguage), TestStateError> {
    let definition = &request.definition;
    if definition.get("States").is_some() && definition.get("StartAt").is_some() {
        let name = request
            .state_name
            .clone()
            .ok_or(TestStateError::StateNameRequired)?;
        let machine =
            StateMachine::from_value(definition).map_err(TestStateError::InvalidDefinition)?;
        let (state, language) = find_state(machine.model(), &name, None)
            .ok_or_else(|| TestStateError::NoSuchState(name.clone()))?;
        return Ok((state.clone(), name, language.unwrap_or_default()));
    }
    let name = request
        .state_name
        .clone()
        .unwrap_or_else(|| DEFAULT_STATE_NAME.to_owned());
    // The wrapper's key must not clash with a state inside the lone state (a Map's processor
    // may well hold one called "StateName").
    let text = definition.to_string();
    let mut key = name.clone();
    while text.contains(&format!("\"{key}\"")) {
        key.push('_');
    }
    let machine = StateMachine::from_value(&wrap_lone_state(&key, definition))
        .map_err(TestStateError::InvalidDefinition)?;
    let state = machine
        .model()
        .state(&key)
        .cloned()
        .ok_or_else(|| TestStateError::NoSuchState(name.clone()))?;
    let language = state.common.query_language.unwrap_or_default();
    Ok((state, name, language))
}

/// A state by name anywhere in the machine (branches and item processors included), with
/// the query language it inherits.
fn find_state<'d>(
    definition: &'d Definition,
    name: &str,
    inherited: Option<QueryLanguage>,
) -> Option<(&'d State, Option<QueryLanguage>)> {
    let language = definition.query_language.or(inherited);
    if let Some(state) = definition.state(name) {
        return Some((state, state.common.query_language.or(language)));
    }
    definition.states.values().find_map(|state| {
        let language = state.common.query_language.or(language);
        match &state.kind {
            StateKind::Map(map) => find_state(&map.item_processor, name, language),
            StateKind::Parallel(parallel) => parallel
                .branches
                .iter()
                .find_map(|branch| find_state(branch, name, language)),
            _ => None,
        }
    })
}

/// A machine holding only `state`, plus a Succeed state for every target it names, so the
/// validator checks the state as it would inside a machine.
fn wrap_lone_state(name: &str, state: &Value) -> Value {
    let mut targets = Vec::new();
    let mut push = |target: Option<&Value>| {
        if let Some(Value::String(t)) = target
            && t != name
            && !targets.contains(t)
        {
            targets.push(t.clone());
        }
    };
    push(state.get("Next"));
    push(state.get("Default"));
    for list in ["Choices", "Catch"] {
        for item in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push(item.get("Next"));
        }
    }
    let mut states = Map::new();
    states.insert(name.to_owned(), state.clone());
    for target in targets {
        states.insert(target, json!({"Type": "Succeed"}));
    }
    json!({"StartAt": name, "States": states})
}

/// The context object TestState makes up when the request brings none.
fn default_context(name: &str, request: &TestStateRequest, options: &ExecutionOptions) -> Value {
    let machine = &options.state_machine_name;
    let account = "123456789012";
    let started = options
        .start_time
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    json!({
        "Execution": {
            "Id": format!("arn:aws:states:us-east-1:{account}:express:{machine}:{}", options.name),
            "Input": request.input,
            "Name": options.name,
            "RoleArn": format!("arn:aws:iam::{account}:role/StepFunctions-{machine}-role"),
            "StartTime": started,
        },
        "StateMachine": {
            "Id": format!("arn:aws:states:us-east-1:{account}:stateMachine:{machine}"),
            "Name": machine,
        },
        "State": {
            "Name": name,
            "EnteredTime": started,
            "RetryCount": request.state_configuration.retrier_retry_count,
        },
    })
}

/// How the state ended.
enum Outcome {
    Done {
        output: Value,
        next: Option<String>,
    },
    /// Failed, caught or to be retried.
    Stopped {
        status: TestStateStatus,
        failure: Failure,
        output: Option<Value>,
        next: Option<String>,
    },
}

struct Tester<'a> {
    eval: Eval<'a>,
    request: &'a TestStateRequest,
    options: &'a ExecutionOptions,
    inspection: Map<String, Value>,
}

impl Tester<'_> {
    fn inspect(&mut self, key: &str, value: &Value) {
        self.inspection.insert(key.to_owned(), value.clone());
    }

    async fn state(&mut self, state: &State, name: &str) -> Outcome {
        let input = self.request.input.clone();
        self.inspect("input", &input);
        let attempt = match &state.kind {
            StateKind::Pass(pass) => self.pass(state, pass.result.as_ref(), &input),
            StateKind::Succeed | StateKind::Wait(_) => self.pass_through(state, &input),
            StateKind::Choice(_) => self.choice(state, &input),
            StateKind::Fail(fail) => self.fail(fail, &input),
            StateKind::Task(task) => self.task(state, name, &task.resource, &input).await,
            StateKind::Parallel(_) => self.parallel(state, &input),
            StateKind::Map(map) => self.map(state, map, &input),
        };
        match attempt {
            Ok((output, next)) => Outcome::Done { output, next },
            Err(failure) => self.retry_or_catch(state, &input, failure),
        }
    }

    fn next_of(state: &State) -> Option<String> {
        if state.common.end {
            None
        } else {
            state.common.next.clone()
        }
    }

    fn pass(
        &mut self,
        state: &State,
        result: Option<&Value>,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        if self.eval.language == QueryLanguage::Jsonata {
            let output = self.jsonata_output(state, input, None)?;
            return Ok((output, Self::next_of(state)));
        }
        let result = match result {
            Some(result) => {
                self.inspect("result", result);
                result.clone()
            }
            None => {
                let effective = self.eval.input_path(&state.common, input)?;
                self.inspect("afterInputPath", &effective);
                let parameters = match &state.common.parameters {
                    Some(p) => self.eval.template(p, &effective, "Parameters")?,
                    None => effective,
                };
                self.inspect("afterParameters", &parameters);
                parameters
            }
        };
        let output = self.jsonpath_result(state, input, result)?;
        Ok((output, Self::next_of(state)))
    }

    /// Succeed and Wait (TestState does not wait): InputPath, then OutputPath.
    fn pass_through(
        &mut self,
        state: &State,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        let output = match self.eval.language {
            QueryLanguage::JsonPath => {
                let effective = self.eval.input_path(&state.common, input)?;
                self.inspect("afterInputPath", &effective);
                self.eval.output_path(&state.common, effective)?
            }
            QueryLanguage::Jsonata => self.jsonata_output(state, input, None)?,
        };
        let next = match state.kind {
            StateKind::Succeed => None,
            _ => Self::next_of(state),
        };
        Ok((output, next))
    }

    fn choice(&mut self, state: &State, input: &Value) -> Result<(Value, Option<String>), Failure> {
        let StateKind::Choice(choice) = &state.kind else {
            return Err(Failure::new(names::RUNTIME, "not a Choice state"));
        };
        let (matched, output) = match self.eval.language {
            QueryLanguage::JsonPath => {
                let effective = self.eval.input_path(&state.common, input)?;
                self.inspect("afterInputPath", &effective);
                let ctx = PathContext::new(&effective, self.eval.context, self.eval.variables)
                    .with_random(self.eval.random);
                let mut matched = None;
                for rule in &choice.choices {
                    if crate::choice::evaluate_rule(&rule.rule, &ctx).map_err(Failure::from)? {
                        matched = Some(rule);
                        break;
                    }
                }
                (matched, self.eval.output_path(&state.common, effective)?)
            }
            QueryLanguage::Jsonata => {
                let states = self.eval.states(input, None, None);
                let mut matched = None;
                for rule in &choice.choices {
                    let Some(condition) = &rule.condition else {
                        continue;
                    };
                    let verdict = self.eval.jsonata_typed(
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
                let template = matched
                    .and_then(|r| r.output.as_ref())
                    .or(state.common.output.as_ref());
                let output = match template {
                    Some(template) => self.eval.jsonata(template, &states, "Output")?,
                    None => input.clone(),
                };
                (matched, output)
            }
        };
        let next = match (matched, &choice.default) {
            (Some(rule), _) => rule.next.clone(),
            (None, Some(default)) => default.clone(),
            (None, None) => {
                return Err(Failure::new(
                    names::NO_CHOICE_MATCHED,
                    "No Choice rule matched and the Choice state has no Default.",
                ));
            }
        };
        Ok((output, Some(next)))
    }

    fn fail(
        &mut self,
        fail: &crate::model::FailState,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        let (error, cause) = match self.eval.language {
            QueryLanguage::JsonPath => {
                // InputPath does not apply to a Fail state; AWS reports the input as is.
                self.inspect("afterInputPath", input);
                (
                    fail_field(
                        &self.eval,
                        fail.error.as_ref(),
                        fail.error_path.as_deref(),
                        input,
                        "ErrorPath",
                    )?,
                    fail_field(
                        &self.eval,
                        fail.cause.as_ref(),
                        fail.cause_path.as_deref(),
                        input,
                        "CausePath",
                    )?,
                )
            }
            QueryLanguage::Jsonata => {
                let states = self.eval.states(input, None, None);
                let field =
                    |value: Option<&String>, name: &str| -> Result<Option<String>, Failure> {
                        value
                            .map(|v| {
                                self.eval
                                    .jsonata(&Value::String(v.clone()), &states, name)
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

    async fn task(
        &mut self,
        state: &State,
        name: &str,
        resource: &str,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        let payload = match self.eval.language {
            QueryLanguage::JsonPath => {
                let effective = self.eval.input_path(&state.common, input)?;
                self.inspect("afterInputPath", &effective);
                let payload = match &state.common.parameters {
                    Some(p) => self.eval.template(p, &effective, "Parameters")?,
                    None => effective,
                };
                self.inspect("afterParameters", &payload);
                payload
            }
            QueryLanguage::Jsonata => {
                let payload = match &state.common.arguments {
                    Some(arguments) => {
                        let states = self.eval.states(input, None, None);
                        self.eval.jsonata(arguments, &states, "Arguments")?
                    }
                    None => input.clone(),
                };
                self.inspect("afterArguments", &payload);
                payload
            }
        };
        let result = match &self.request.mock {
            Some(mock) => mocked(mock)?,
            None => self
                .options
                .tasks
                .invoke(name, resource, payload)
                .await
                .map_err(|e| Failure::verbatim(Some(e.error), Some(e.cause)))?,
        };
        self.inspect("result", &result);
        let output = match self.eval.language {
            QueryLanguage::JsonPath => self.jsonpath_result(state, input, result)?,
            QueryLanguage::Jsonata => self.jsonata_output(state, input, Some(&result))?,
        };
        Ok((output, Self::next_of(state)))
    }

    fn parallel(
        &mut self,
        state: &State,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        if self.eval.language == QueryLanguage::JsonPath {
            // Evaluated for its errors; the recorded cases show no afterInputPath for Parallel.
            let effective = self.eval.input_path(&state.common, input)?;
            if let Some(parameters) = &state.common.parameters {
                self.eval.template(parameters, &effective, "Parameters")?;
            }
        }
        let result = self.mocked_children("Parallel")?;
        let output = match self.eval.language {
            QueryLanguage::JsonPath => self.jsonpath_result(state, input, result)?,
            QueryLanguage::Jsonata => self.jsonata_output(state, input, Some(&result))?,
        };
        Ok((output, Self::next_of(state)))
    }

    fn map(
        &mut self,
        state: &State,
        map: &crate::model::MapState,
        input: &Value,
    ) -> Result<(Value, Option<String>), Failure> {
        let reader_items = self
            .request
            .state_configuration
            .map_item_reader_data
            .clone();
        let (effective, items) = match self.eval.language {
            QueryLanguage::JsonPath => {
                let effective = self.eval.input_path(&state.common, input)?;
                self.inspect("afterInputPath", &effective);
                let items = match (&reader_items, &map.items_path) {
                    (Some(items), _) => items.clone(),
                    (None, Some(path)) => {
                        let items = self.eval.query(path, &effective, "ItemsPath")?;
                        if !items.is_array() {
                            return Err(not_an_array(path));
                        }
                        items
                    }
                    (None, None) => effective.clone(),
                };
                if map.items_path.is_some() {
                    self.inspect("afterItemsPath", &items);
                }
                (effective, items)
            }
            QueryLanguage::Jsonata => {
                let items = match (&reader_items, &map.items) {
                    (Some(items), _) => items.clone(),
                    (None, Some(template)) => {
                        let states = self.eval.states(input, None, None);
                        self.eval.jsonata_typed(
                            template,
                            &states,
                            "Items",
                            crate::jsonata::ExpectedType::Array,
                        )?
                    }
                    (None, None) => input.clone(),
                };
                (input.clone(), items)
            }
        };
        let Value::Array(items) = items else {
            return Err(not_an_array("$"));
        };
        let max_concurrency = number_field(
            &self.eval,
            input,
            &effective,
            map.max_concurrency.as_ref(),
            map.max_concurrency_path.as_deref(),
            "MaxConcurrency",
            "integer",
            integer,
        )?
        .unwrap_or(0);
        self.inspect("maxConcurrency", &json!(max_concurrency));
        let tolerance = Tolerance {
            count: number_field(
                &self.eval,
                input,
                &effective,
                map.tolerated_failure_count.as_ref(),
                map.tolerated_failure_count_path.as_deref(),
                "ToleratedFailureCount",
                "integer",
                integer,
            )?,
            percentage: number_field(
                &self.eval,
                input,
                &effective,
                map.tolerated_failure_percentage.as_ref(),
                map.tolerated_failure_percentage_path.as_deref(),
                "ToleratedFailurePercentage",
                "float",
                float,
            )?,
        };
        if let Some(count) = tolerance.count {
            self.inspect("toleratedFailureCount", &json!(count));
        }
        if let Some(percentage) = tolerance.percentage {
            self.inspect("toleratedFailurePercentage", &json!(percentage));
        }
        let result = self.mocked_children("Map")?;
        // Without a tolerance the recorded cases succeed whatever mapIterationFailureCount
        // says: the count only matters against a threshold.
        let failures = self.request.state_configuration.map_iteration_failure_count;
        let has_tolerance = tolerance.count.is_some() || tolerance.percentage.is_some();
        if has_tolerance && exceeds_tolerance(failures, items.len(), tolerance) {
            return Err(Failure::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            ));
        }
        let output = match self.eval.language {
            QueryLanguage::JsonPath => self.jsonpath_result(state, input, result)?,
            QueryLanguage::Jsonata => self.jsonata_output(state, input, Some(&result))?,
        };
        Ok((output, Self::next_of(state)))
    }

    /// What a Map's iterations or a Parallel's branches produced: the mocked result, or the
    /// mocked error raised by the inner state `errorCausedByState` names.
    fn mocked_children(&self, kind: &str) -> Result<Value, Failure> {
        match &self.request.mock {
            Some(mock) => mocked(mock),
            None => Err(Failure::new(
                names::RUNTIME,
                format!(
                    "TestState of a {kind} state needs a mocked result here: this engine does not run its {} in isolation.",
                    if kind == "Map" {
                        "iterations"
                    } else {
                        "branches"
                    }
                ),
            )),
        }
    }

    /// ResultSelector, ResultPath and OutputPath on a JSONPath state's result, inspected.
    fn jsonpath_result(
        &mut self,
        state: &State,
        raw_input: &Value,
        result: Value,
    ) -> Result<Value, Failure> {
        let selected = match &state.common.result_selector {
            Some(selector) => self.eval.template(selector, &result, "ResultSelector")?,
            None => result,
        };
        self.inspect("afterResultSelector", &selected);
        let placed =
            self.eval
                .result_path(state.common.result_path.as_ref(), raw_input, selected)?;
        self.inspect("afterResultPath", &placed);
        self.eval.output_path(&state.common, placed)
    }

    /// A JSONata state's Output (default: the result, else the input); Assign is evaluated
    /// for its errors.
    fn jsonata_output(
        &self,
        state: &State,
        input: &Value,
        result: Option<&Value>,
    ) -> Result<Value, Failure> {
        let states = self.eval.states(input, result, None);
        self.eval
            .assign(state.common.assign.as_ref(), &Value::Null, &states)?;
        match &state.common.output {
            Some(template) => self.eval.jsonata(template, &states, "Output"),
            None => Ok(result.unwrap_or(input).clone()),
        }
    }

    /// Retry says RETRIABLE while the matching retrier has attempts left (after
    /// `retrierRetryCount` retries); else Catch says CAUGHT_ERROR with its Next; else FAILED.
    fn retry_or_catch(&mut self, state: &State, input: &Value, failure: Failure) -> Outcome {
        let mut details = Map::new();
        let retriers = &state.common.retry;
        if let Some(index) = retriers
            .iter()
            .position(|r| retry::matches(&r.error_equals, &failure))
        {
            let retrier = &retriers[index];
            let done = self.request.state_configuration.retrier_retry_count;
            let max_attempts = retrier.max_attempts.unwrap_or(3.0);
            if f64::from(done) < max_attempts {
                let delay = retry_interval_seconds(retrier, done);
                details.insert("retryBackoffIntervalSeconds".into(), delay);
                details.insert("retryIndex".into(), json!(index));
                self.inspect("errorDetails", &Value::Object(details));
                return Outcome::Stopped {
                    status: TestStateStatus::Retriable,
                    failure,
                    output: None,
                    next: None,
                };
            }
            details.insert("retryIndex".into(), json!(index));
        }
        let catchers = &state.common.catch;
        let Some(index) = catchers
            .iter()
            .position(|c| retry::matches(&c.error_equals, &failure))
        else {
            if !details.is_empty() {
                self.inspect("errorDetails", &Value::Object(details));
            }
            return Outcome::Stopped {
                status: TestStateStatus::Failed,
                failure,
                output: None,
                next: None,
            };
        };
        let catcher = &catchers[index];
        details.insert("catchIndex".into(), json!(index));
        self.inspect("errorDetails", &Value::Object(details));
        let error_output = failure.error_output();
        let output = match self.eval.language {
            QueryLanguage::JsonPath => {
                self.eval
                    .result_path(catcher.result_path.as_ref(), input, error_output)
            }
            QueryLanguage::Jsonata => {
                let states = self.eval.states(input, None, Some(&error_output));
                match &catcher.output {
                    Some(template) => self.eval.jsonata(template, &states, "Output"),
                    None => Ok(error_output),
                }
            }
        };
        match output {
            Ok(output) => Outcome::Stopped {
                status: TestStateStatus::CaughtError,
                failure,
                output: Some(output),
                next: Some(catcher.next.clone()),
            },
            // The catcher's own processing failed: that error is the state's.
            Err(error) => Outcome::Stopped {
                status: TestStateStatus::Failed,
                failure: error,
                output: None,
                next: None,
            },
        }
    }
}

/// The mocked result, or the mocked error.
fn mocked(mock: &crate::test_state::TestStateMock) -> Result<Value, Failure> {
    if let Some(error) = &mock.error {
        return Err(Failure::verbatim(error.error.clone(), error.cause.clone()));
    }
    Ok(mock.result.clone().unwrap_or(Value::Null))
}

/// The delay before the next retry: IntervalSeconds × BackoffRate^retries, capped at
/// MaxDelaySeconds (jitter left out: TestState reports the interval, not a draw). Whole
/// seconds are reported as an integer, as AWS does.
fn retry_interval_seconds(retrier: &crate::model::Retrier, retries_done: u32) -> Value {
    let interval = retrier.interval_seconds.unwrap_or(1.0);
    let rate = retrier.backoff_rate.unwrap_or(2.0);
    let exponent = i32::try_from(retries_done).unwrap_or(i32::MAX);
    let mut delay = interval * rate.powi(exponent);
    if let Some(max) = retrier.max_delay_seconds {
        delay = delay.min(max);
    }
    #[allow(clippy::cast_possible_truncation)]
    let whole = delay as i64;
    #[allow(clippy::cast_precision_loss)]
    if delay.is_finite() && (whole as f64 - delay).abs() < f64::EPSILON {
        json!(whole)
    } else {
        json!(delay)
    }
}

/// TestState's cause for items that are not an array. Recorded: ItemsPath `$$` gives
/// `Reference path "$" must point to array.`, `$$.Execution.Input` gives
/// `Reference path "$.Execution.Input" ...`: the path as it applies to its document.
fn not_an_array(path: &str) -> Failure {
    let shown = path
        .strip_prefix('$')
        .filter(|p| p.starts_with('$'))
        .unwrap_or(path);
    Failure::new(
        names::RUNTIME,
        format!("Reference path \"{shown}\" must point to array."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(definition: Value, input: Value, params: Value) -> TestStateRequest {
        TestStateRequest::from_api_parameters(definition, input, &params).expect("valid params")
    }

    fn run_one(request: &TestStateRequest) -> TestStateResult {
        futures::executor::block_on(test_state(request, &ExecutionOptions::default()))
            .expect("runs")
    }

    #[test]
    fn a_pass_state_reports_each_processing_step() {
        let r = run_one(&request(
            json!({"Type": "Pass", "InputPath": "$.a", "Parameters": {"x.$": "$.b"}, "ResultPath": "$.r", "Next": "N"}),
            json!({"a": {"b": 1}}),
            json!({"inspectionLevel": "DEBUG"}),
        ));
        assert_eq!(r.status, TestStateStatus::Succeeded);
        assert_eq!(r.output, Some(json!({"a": {"b": 1}, "r": {"x": 1}})));
        assert_eq!(r.next_state.as_deref(), Some("N"));
        assert_eq!(r.inspection_data["afterInputPath"], json!({"b": 1}));
        assert_eq!(r.inspection_data["afterParameters"], json!({"x": 1}));
        assert_eq!(
            r.inspection_data["afterResultPath"],
            json!({"a": {"b": 1}, "r": {"x": 1}})
        );
    }

    #[test]
    fn info_level_reports_no_inspection_data() {
        let r = run_one(&request(
            json!({"Type": "Pass", "End": true}),
            json!({}),
            json!({"inspectionLevel": "INFO"}),
        ));
        assert!(r.inspection_data.is_empty());
    }

    #[test]
    fn a_mocked_error_is_retriable_until_the_retrier_is_spent_then_caught() {
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 3}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handle"}],
            "End": true});
        let params = |retries: u32| {
            json!({"inspectionLevel": "DEBUG", "mock": {"errorOutput": {"error": "Boom", "cause": "c"}},
                   "stateConfiguration": {"retrierRetryCount": retries}})
        };
        let retriable = run_one(&request(task.clone(), json!({}), params(1)));
        assert_eq!(retriable.status, TestStateStatus::Retriable);
        assert_eq!(
            retriable.inspection_data["errorDetails"],
            json!({"retryBackoffIntervalSeconds": 6, "retryIndex": 0})
        );
        let caught = run_one(&request(task, json!({}), params(2)));
        assert_eq!(caught.status, TestStateStatus::CaughtError);
        assert_eq!(caught.next_state.as_deref(), Some("Handle"));
        assert_eq!(
            caught.output,
            Some(json!({"err": {"Error": "Boom", "Cause": "c"}}))
        );
        assert_eq!(
            caught.inspection_data["errorDetails"],
            json!({"retryIndex": 0, "catchIndex": 0})
        );
    }

    #[test]
    fn a_map_fails_past_its_tolerance_and_not_without_one() {
        let map = |tolerance: Value| {
            let mut state = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true});
            if let (Value::Object(s), Value::Object(t)) = (&mut state, tolerance) {
                s.extend(t);
            }
            state
        };
        let params = json!({"mock": {"result": "[0, 0, 1]"}, "stateConfiguration": {"mapIterationFailureCount": 2}});
        let over = run_one(&request(
            map(json!({"ToleratedFailureCount": 1})),
            json!([1, 2, 3]),
            params.clone(),
        ));
        assert_eq!(
            over.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        let untolerant = run_one(&request(map(json!({})), json!([1, 2, 3]), params));
        assert_eq!(untolerant.status, TestStateStatus::Succeeded);
        assert_eq!(untolerant.output, Some(json!([0, 0, 1])));
    }

    #[test]
    fn a_choice_names_the_next_state_and_a_machine_needs_a_state_name() {
        let r = run_one(&request(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"}),
            json!({"n": 2}),
            json!({}),
        ));
        assert_eq!(r.next_state.as_deref(), Some("Big"));
        let machine = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
        let missing = futures::executor::block_on(test_state(
            &request(machine, json!({}), json!({})),
            &ExecutionOptions::default(),
        ));
        assert_eq!(missing, Err(TestStateError::StateNameRequired));
        let invalid = futures::executor::block_on(test_state(
            &request(json!({"Type": "Pass"}), json!({}), json!({})),
            &ExecutionOptions::default(),
        ));
        assert!(
            matches!(invalid, Err(TestStateError::InvalidDefinition(_))),
            "{invalid:?}"
        );
    }
}
